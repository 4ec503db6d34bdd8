"""``omnisource``: OmniSource's Mini-Kinetics-200 sources (trimmed Kinetics clips, web images,
Instagram videos, raw Kinetics videos), one source per builder config."""

from tfds_builders.common.builder import results_from_record
from tfds_builders.common.storage import UNDECODED
from tfds_builders.omnisource.omnisource_dataset_builder import (SOURCES, Omnisource,
                                                                 OmnisourceConfig)
