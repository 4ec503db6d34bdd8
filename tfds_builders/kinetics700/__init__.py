"""``kinetics700``: Kinetics-700: 700 human action classes, 10 s YouTube clips (DeepMind)."""

from tfds_builders.common.builder import results_from_record
from tfds_builders.common.storage import UNDECODED
from tfds_builders.kinetics700.kinetics700_dataset_builder import Kinetics700
