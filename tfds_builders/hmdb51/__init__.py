"""``hmdb51``: HMDB51: 51 action classes, 6,766 clips from movies and web videos, three official splits."""

from tfds_builders.common.builder import results_from_record
from tfds_builders.common.storage import UNDECODED
from tfds_builders.hmdb51.hmdb51_dataset_builder import Hmdb51
