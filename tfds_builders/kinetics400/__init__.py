"""``kinetics400``: Kinetics-400: 400 human action classes, 10 s YouTube clips (DeepMind)."""

from tfds_builders.common.builder import results_from_record
from tfds_builders.common.storage import UNDECODED
from tfds_builders.kinetics400.kinetics400_dataset_builder import Kinetics400
