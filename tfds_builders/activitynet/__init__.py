"""``activitynet``: ActivityNet v1.3's untrimmed videos as feature sequences with their action
segments (MMAction2's localization data: BMN, BSN)."""

from tfds_builders.activitynet.activitynet_dataset_builder import Activitynet
from tfds_builders.activitynet.records import (UNDECODED, LocalizationBuilder,
                                               results_from_record, video_infos)
