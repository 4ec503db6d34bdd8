"""``gym288``: FineGYM Gym288: 288 gymnastics element classes; subactions cut from event clips at build time."""

from tfds_builders.common.builder import results_from_record
from tfds_builders.common.storage import UNDECODED
from tfds_builders.gym288.gym288_dataset_builder import Gym288
