"""``sthv1``: Something-Something V1: 174 classes of hand-object interactions, released as JPEG frames (12 fps)."""

from tfds_builders.common.builder import results_from_record
from tfds_builders.common.storage import UNDECODED
from tfds_builders.sthv1.sthv1_dataset_builder import Sthv1
