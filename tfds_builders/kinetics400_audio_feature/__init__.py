"""``kinetics400_audio_feature``: MMAction2's offline audio features of Kinetics-400."""

from tfds_builders.common.builder import results_from_record
from tfds_builders.common.storage import UNDECODED
from tfds_builders.kinetics400_audio_feature.kinetics400_audio_feature_dataset_builder import (
    Kinetics400AudioFeature)
