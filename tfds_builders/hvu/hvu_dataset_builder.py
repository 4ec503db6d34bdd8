"""The ``hvu`` TFDS builder (the class says what it holds)."""

from __future__ import annotations

from tfds_builders.common import builder as base
from tfds_builders.common import storage as st

# MMAction2's HVU categories (tools/data/hvu, configs/recognition/tsn/hvu): fixed, so that the
# features are known before the download is read; their tag names come from it.
CATEGORIES = ("action", "attribute", "concept", "event", "object", "scene")


class Hvu(base.OfficialRecognitionBuilder):
  """HVU: YouTube clips tagged in 6 categories (action, attribute, concept, event, object,
  scene); each record holds, per category, the indices of its tags within that category
  (a category without tags is not annotated for the video), as MMAction2's HVUDataset."""

  DATASET = "hvu"
  HOMEPAGE = "https://github.com/holistic-video-understanding/HVU-Dataset"
  BUILDER_CONFIGS = st.RECOGNITION_CONFIGS
  LABEL_KIND = st.TAGS
  MEDIA = {"train": ("videos_train", "train"), "val": ("videos_val", "val"),
           "test": ("videos_test", "test")}
  MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Put in manual_dir:
  annotations/hvu_categories.csv, hvu_train.csv, hvu_val.csv (MMAction2's
    tools/data/hvu/download_annotations.sh names; the HVU-Dataset repository's
    HVU_Tags_Categories_V1.0.csv, HVU_Train_V1.0.csv, HVU_Val_V1.0.csv are read too) and
    optionally hvu_test.csv / HVU_Test_V1.0.csv (no tags: an unlabelled test split).
  videos_train/, videos_val/ (and videos_test/): the clips as MMAction2's download.py names
    them, `<youtube_id>_<start*10:06d>_<end*10:06d>.mp4`; untrimmed downloads named
    `<youtube_id>.mp4` are cut to the annotated seconds. A split without its folder is left
    out.
"""

  def categories(self):
    official = getattr(self, "_official", None)
    if official is None:  # names come with the download
      return {c: None for c in CATEGORIES}
    found = official.categories or {}
    unknown = sorted(set(found) - set(CATEGORIES))
    if unknown:
      raise ValueError(f"hvu: categories {unknown} are not HVU's {list(CATEGORIES)}")
    return {c: list(found.get(c, ())) for c in CATEGORIES}

  def label_of(self, entry):
    if entry.label is None:
      return None
    return {c: list(entry.extra[c]) for c in CATEGORIES if c in entry.extra}
