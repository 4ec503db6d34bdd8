"""``mmit``: Multi-Moments in Time: 313 classes, several per 3 s video (multi-label)."""

from tfds_builders.common.builder import results_from_record
from tfds_builders.common.storage import UNDECODED
from tfds_builders.mmit.mmit_dataset_builder import Mmit
