"""The ``diving48_v1`` TFDS builder (the class says what it holds)."""

from __future__ import annotations

from tfds_builders.diving48.diving48_dataset_builder import Diving48


class Diving48V1(Diving48):
  """Diving48 with its original (V1) annotations."""

  DATASET = "diving48"
  PARSE_OPTIONS = {'version': 'v1'}
  MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Put in manual_dir:
  annotations/: Diving48_vocab.json, Diving48_train.json, Diving48_test.json (the V1
    annotation files).
  videos/ (or rgb/): `<vid_name>.mp4`.
"""
