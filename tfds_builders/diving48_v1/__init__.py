"""``diving48_v1``: Diving48 with its original (V1) annotations."""

from tfds_builders.common.builder import results_from_record
from tfds_builders.common.storage import UNDECODED
from tfds_builders.diving48_v1.diving48_v1_dataset_builder import Diving48V1
