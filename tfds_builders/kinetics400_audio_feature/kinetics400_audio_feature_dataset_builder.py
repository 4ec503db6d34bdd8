"""The ``kinetics400_audio_feature`` TFDS builder (the class says what it holds)."""

from __future__ import annotations

from tfds_builders.common import builder as base
from tfds_builders.common import storage as st


class Kinetics400AudioFeature(base.OfficialRecognitionBuilder):
  """Kinetics-400 audio: each clip's log-mel spectrogram, a (time, 80) float32 array at 62.5
  rows per second, as MMAction2's tools/data/build_audio_features.py writes it (the input of
  its audioonly / tsn_r18 ``kinetics400_audio_feature`` configs)."""

  DATASET = "kinetics400"
  HOMEPAGE = "https://www.deepmind.com/open-source/kinetics"
  BUILDER_CONFIGS = st.AUDIO_CONFIGS
  MEDIA = {"train": ("audio_feature_train",), "val": ("audio_feature_val",),
           "test": ("audio_feature_test",)}
  INDEX_OPTIONS = {"exts": (".npy",)}
  MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Put in manual_dir:
  annotations/kinetics_train.csv, kinetics_val.csv (and optionally kinetics_test.csv): the
    official Kinetics-400 csv files, as for the kinetics400 builder (train.csv / validate.csv /
    test.csv are read too).
  audio_feature_train/, audio_feature_val/ (and audio_feature_test/): one
    `<youtube_id>_<start:06d>_<end:06d>.npy` per clip, flat (or in class folders), as
    `python -m vjax.tools.build_audio_features` (MMAction2's build_audio_features.py) writes
    them from the clips' extracted audio; the folder names of MMAction2's kinetics400
    audio_feature configs. A split without its folder is left out; a clip without its .npy
    is listed as missing.
"""
