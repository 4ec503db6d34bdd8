"""The ``kinetics400`` TFDS builder (the class says what it holds)."""

from __future__ import annotations

from tfds_builders.common import builder as base
from tfds_builders.common import storage as st


class Kinetics400(base.OfficialRecognitionBuilder):
  """Kinetics-400: 400 human action classes, 10 s YouTube clips (DeepMind)."""

  DATASET = "kinetics400"
  HOMEPAGE = "https://www.deepmind.com/open-source/kinetics"
  BUILDER_CONFIGS = st.RECOGNITION_CONFIGS
  MEDIA = {'train': ('videos_train', 'train'), 'val': ('videos_val', 'val'), 'test': ('videos_test', 'test')}
  MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Put in manual_dir:
  annotations/kinetics_train.csv, kinetics_val.csv, kinetics_test.csv (the official
    csv files: label,youtube_id,time_start,time_end,split; DeepMind's k400 annotations, or
    MMAction2's tools/data/kinetics/download_annotations.sh kinetics400); train.csv/val.csv/
    test.csv (the CVDF release's names) are read too.
  videos_train/, videos_val/, videos_test/ (or train/, val/, test/): the clips, either in class
    folders (`<class>/<youtube_id>_<start:06d>_<end:06d>.mp4`, class names with spaces or with
    underscores as MMAction2's rename_classnames.sh leaves them) or flat; untrimmed downloads
    named `<youtube_id>.mp4` are cut to the annotated seconds. A split without its folder is
    left out.
"""
