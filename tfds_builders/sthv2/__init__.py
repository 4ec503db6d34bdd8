"""``sthv2``: Something-Something V2: 174 classes of hand-object interactions, 220,847 webm videos."""

from tfds_builders.common.builder import results_from_record
from tfds_builders.common.storage import UNDECODED
from tfds_builders.sthv2.sthv2_dataset_builder import Sthv2
