"""``kinetics600``: Kinetics-600: 600 human action classes, 10 s YouTube clips (DeepMind)."""

from tfds_builders.common.builder import results_from_record
from tfds_builders.common.storage import UNDECODED
from tfds_builders.kinetics600.kinetics600_dataset_builder import Kinetics600
