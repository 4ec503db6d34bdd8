"""The ``gym288`` TFDS builder (the class says what it holds)."""

from __future__ import annotations

from tfds_builders.gym99.gym99_dataset_builder import Gym99


class Gym288(Gym99):
  """FineGYM Gym288: 288 gymnastics element classes; subactions cut from event clips at build time."""

  DATASET = "gym288"
  MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Put in manual_dir:
  annotations/: the FineGYM annotation json and gym288_train_element_v1.0.txt,
    gym288_val_element.txt (or gym288_train.txt / gym288_val.txt), and optionally
    gym288_categories.txt (class names; without it 0..287).
  events/: the event clips `<youtube_id>_E_<start>_<end>.mp4`; or subactions/, or videos/.
"""
