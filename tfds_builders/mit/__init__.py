"""``mit``: Moments in Time: 339 classes of 3 s events."""

from tfds_builders.common.builder import results_from_record
from tfds_builders.common.storage import UNDECODED
from tfds_builders.mit.mit_dataset_builder import Mit
