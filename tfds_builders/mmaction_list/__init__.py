"""``mmaction_list``: any MMAction2 annotation list (``VideoDataset``/``RawframeDataset`` files)
as a TFDS dataset."""

from tfds_builders.common.builder import results_from_record
from tfds_builders.common.storage import UNDECODED
from tfds_builders.mmaction_list.mmaction_list_dataset_builder import MmactionList
