"""``hvu``: Holistic Video Understanding: tags in 6 categories per video (multi-task)."""

from tfds_builders.common.builder import results_from_record
from tfds_builders.common.storage import UNDECODED
from tfds_builders.hvu.hvu_dataset_builder import Hvu
