"""``gym99``: FineGYM Gym99: 99 gymnastics element classes; subactions cut from event clips at build time."""

from tfds_builders.common.builder import results_from_record
from tfds_builders.common.storage import UNDECODED
from tfds_builders.gym99.gym99_dataset_builder import Gym99
