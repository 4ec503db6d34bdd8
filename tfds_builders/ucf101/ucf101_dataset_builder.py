"""The ``ucf101`` TFDS builder (the class says what it holds)."""

from __future__ import annotations

from tfds_builders.common import builder as base
from tfds_builders.common import storage as st


class Ucf101(base.OfficialRecognitionBuilder):
  """UCF101: 101 action classes, 13,320 YouTube videos, three official train/test splits."""

  DATASET = "ucf101"
  HOMEPAGE = "https://www.crcv.ucf.edu/data/UCF101.php"
  BUILDER_CONFIGS = st.with_official_splits(st.RECOGNITION_CONFIGS, 3)
  MEDIA = {'train': ('videos', 'UCF-101'), 'val': ('videos', 'UCF-101')}
  MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Put in manual_dir:
  annotations/: classInd.txt, trainlist01-03.txt, testlist01-03.txt (from
    UCF101TrainTestSplits-RecognitionTask.zip).
  videos/ (or UCF-101/): `<Class>/v_<Class>_gXX_cYY.avi`, as UCF101.rar unpacks.
Configs `<storage>` build split 1, `<storage>_split2` and `<storage>_split3` the others.
"""
