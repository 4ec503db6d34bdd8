"""The ``mmit`` TFDS builder (the class says what it holds)."""

from __future__ import annotations

from tfds_builders.common import builder as base
from tfds_builders.common import storage as st


class Mmit(base.OfficialRecognitionBuilder):
  """Multi-Moments in Time: 313 classes, several per 3 s video (multi-label)."""

  DATASET = "mmit"
  HOMEPAGE = "http://moments.csail.mit.edu/"
  BUILDER_CONFIGS = st.RECOGNITION_CONFIGS
  LABEL_KIND = st.MULTI
  MEDIA = {'train': ('videos/training', 'training', 'videos'), 'val': ('videos/validation', 'validation', 'videos')}
  MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Put in manual_dir:
  annotations/: moments_categories.txt, trainingSet.txt, validationSet.txt (lines
    `<path>,<label>,<label>...`).
  videos/training/ and videos/validation/ (or training/, validation/, or videos/):
    `<class>/<file>.mp4`.
"""
