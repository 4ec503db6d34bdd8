"""The ``sthv1`` TFDS builder (the class says what it holds)."""

from __future__ import annotations

from tfds_builders.common import builder as base
from tfds_builders.common import storage as st


class Sthv1(base.OfficialRecognitionBuilder):
  """Something-Something V1: 174 classes of hand-object interactions, released as JPEG frames (12 fps)."""

  DATASET = "sthv1"
  HOMEPAGE = "https://developer.qualcomm.com/software/ai-datasets/something-something"
  BUILDER_CONFIGS = st.FRAME_FOLDER_CONFIGS
  MEDIA_KIND = "rawframes"
  DEFAULT_FPS = 12.0
  MEDIA = {'train': ('rawframes', '20bn-something-something-v1'), 'val': ('rawframes', '20bn-something-something-v1'), 'test': ('rawframes', '20bn-something-something-v1')}
  MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Put in manual_dir:
  annotations/: something-something-v1-labels.csv, -train.csv, -validation.csv,
    -test.csv.
  rawframes/ (or 20bn-something-something-v1/): `<id>/00001.jpg ...`, as
    `cat 20bn-something-something-v1-?? | tar zx` leaves them.
"""
