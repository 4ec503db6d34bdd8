"""``ucf101``: UCF101: 101 action classes, 13,320 YouTube videos, three official train/test splits."""

from tfds_builders.common.builder import results_from_record
from tfds_builders.common.storage import UNDECODED
from tfds_builders.ucf101.ucf101_dataset_builder import Ucf101
