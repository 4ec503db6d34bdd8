"""``diving48``: Diving48 (V2 annotations): 48 dive classes, 18k clips."""

from tfds_builders.common.builder import results_from_record
from tfds_builders.common.storage import UNDECODED
from tfds_builders.diving48.diving48_dataset_builder import Diving48
