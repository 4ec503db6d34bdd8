"""The ``diving48`` TFDS builder (the class says what it holds)."""

from __future__ import annotations

from tfds_builders.common import builder as base
from tfds_builders.common import storage as st


class Diving48(base.OfficialRecognitionBuilder):
  """Diving48 (V2 annotations): 48 dive classes, 18k clips."""

  DATASET = "diving48"
  HOMEPAGE = "http://www.svcl.ucsd.edu/projects/resound/dataset.html"
  BUILDER_CONFIGS = st.RECOGNITION_CONFIGS
  MEDIA = {'train': ('videos', 'rgb'), 'val': ('videos', 'rgb')}
  MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Put in manual_dir:
  annotations/: Diving48_vocab.json, Diving48_V2_train.json, Diving48_V2_test.json.
  videos/ (or rgb/): `<vid_name>.mp4`, as Diving48_rgb.tar.gz unpacks.
"""
