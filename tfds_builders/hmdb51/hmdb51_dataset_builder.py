"""The ``hmdb51`` TFDS builder (the class says what it holds)."""

from __future__ import annotations

from tfds_builders.common import builder as base
from tfds_builders.common import storage as st


class Hmdb51(base.OfficialRecognitionBuilder):
  """HMDB51: 51 action classes, 6,766 clips from movies and web videos, three official splits."""

  DATASET = "hmdb51"
  HOMEPAGE = "https://serre-lab.clps.brown.edu/resource/hmdb-a-large-human-motion-database/"
  BUILDER_CONFIGS = st.with_official_splits(st.RECOGNITION_CONFIGS, 3)
  MEDIA = {'train': ('videos',), 'val': ('videos',)}
  MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Put in manual_dir:
  annotations/: the `<class>_test_split<1-3>.txt` files of test_train_splits.rar.
  videos/: `<class>/<video>.avi`, each class's rar unpacked into its folder.
Configs `<storage>` build split 1, `<storage>_split2` and `<storage>_split3` the others.
"""
