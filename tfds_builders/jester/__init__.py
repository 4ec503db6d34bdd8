"""``jester``: Jester: 27 hand-gesture classes, released as JPEG frames (12 fps)."""

from tfds_builders.common.builder import results_from_record
from tfds_builders.common.storage import UNDECODED
from tfds_builders.jester.jester_dataset_builder import Jester
