"""The ``gym99`` TFDS builder (the class says what it holds)."""

from __future__ import annotations

from tfds_builders.common import builder as base
from tfds_builders.common import storage as st


class Gym99(base.OfficialRecognitionBuilder):
  """FineGYM Gym99: 99 gymnastics element classes; subactions cut from event clips at build time."""

  DATASET = "gym99"
  HOMEPAGE = "https://sdolivia.github.io/FineGym/"
  BUILDER_CONFIGS = st.RECOGNITION_CONFIGS
  MEDIA = {'train': ('events', 'subactions', 'videos'), 'val': ('events', 'subactions', 'videos')}
  MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Put in manual_dir:
  annotations/: the FineGYM annotation json (annotation.json or
    finegym_annotation_info_v1.0/v1.1.json) and the element lists gym99_train_element_v1.0.txt,
    gym99_val_element.txt (or MMAction2's gym99_train.txt / gym99_val.txt), and optionally
    gym99_categories.txt (FineGYM's class names; without it the classes are named 0..98).
  events/: the event clips `<youtube_id>_E_<start>_<end>.mp4` (MMAction2's trim_event.py output);
    subactions are cut from them at build time. Trimmed subactions in subactions/, or whole
    videos in videos/, are used when events/ is absent.
"""
