"""The ``jester`` TFDS builder (the class says what it holds)."""

from __future__ import annotations

from tfds_builders.common import builder as base
from tfds_builders.common import storage as st


class Jester(base.OfficialRecognitionBuilder):
  """Jester: 27 hand-gesture classes, released as JPEG frames (12 fps)."""

  DATASET = "jester"
  HOMEPAGE = "https://developer.qualcomm.com/software/ai-datasets/jester"
  BUILDER_CONFIGS = st.FRAME_FOLDER_CONFIGS
  MEDIA_KIND = "rawframes"
  DEFAULT_FPS = 12.0
  MEDIA = {'train': ('rawframes', '20bn-jester-v1'), 'val': ('rawframes', '20bn-jester-v1'), 'test': ('rawframes', '20bn-jester-v1')}
  MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Put in manual_dir:
  annotations/: jester-v1-labels.csv, jester-v1-train.csv, jester-v1-validation.csv,
    jester-v1-test.csv.
  rawframes/ (or 20bn-jester-v1/): `<id>/00001.jpg ...`.
"""
