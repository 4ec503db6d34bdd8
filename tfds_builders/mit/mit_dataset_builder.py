"""The ``mit`` TFDS builder (the class says what it holds)."""

from __future__ import annotations

from tfds_builders.common import builder as base
from tfds_builders.common import storage as st


class Mit(base.OfficialRecognitionBuilder):
  """Moments in Time: 339 classes of 3 s events."""

  DATASET = "mit"
  HOMEPAGE = "http://moments.csail.mit.edu/"
  BUILDER_CONFIGS = st.RECOGNITION_CONFIGS
  MEDIA = {'train': ('videos/training', 'training'), 'val': ('videos/validation', 'validation')}
  MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Put in manual_dir:
  annotations/: moments_categories.txt, trainingSet.csv, validationSet.csv.
  videos/training/ and videos/validation/ (or training/, validation/): `<class>/<file>.mp4`,
    as Moments_in_Time_Raw.zip unpacks.
"""
