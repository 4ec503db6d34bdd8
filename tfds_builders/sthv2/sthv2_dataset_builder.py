"""The ``sthv2`` TFDS builder (the class says what it holds)."""

from __future__ import annotations

from tfds_builders.common import builder as base
from tfds_builders.common import storage as st


class Sthv2(base.OfficialRecognitionBuilder):
  """Something-Something V2: 174 classes of hand-object interactions, 220,847 webm videos."""

  DATASET = "sthv2"
  HOMEPAGE = "https://developer.qualcomm.com/software/ai-datasets/something-something"
  BUILDER_CONFIGS = st.RECOGNITION_CONFIGS
  MEDIA = {'train': ('videos', '20bn-something-something-v2'), 'val': ('videos', '20bn-something-something-v2'), 'test': ('videos', '20bn-something-something-v2')}
  MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Put in manual_dir:
  annotations/: something-something-v2-labels.json, -train.json, -validation.json,
    -test.json (from the label package; labels/*.json are read too).
  videos/ (or 20bn-something-something-v2/): `<id>.webm`.
"""
