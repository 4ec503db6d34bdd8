"""Random-access data sources, by job: ``tfds_records`` (built TFDS datasets),
``annotation_lists`` (MMAction2's list files), ``activitynet`` (localization annotations),
``pose`` (skeleton annotation pickles), ``wrappers`` (Repeat/Concat); ``base`` holds the
``DATASETS`` registry and ``build_split``. Importing this package registers them all.
"""

from __future__ import annotations

import os.path as osp

from vjax.data.sources.activitynet import ActivityNetDataset
from vjax.data.sources.annotation_lists import (AudioFeatureDataset, ImageDataset,
                                                RawframeDataset, RawVideoDataset, VideoDataset,
                                                class_probabilities)
from vjax.data.sources.base import DATASETS, build_child, build_split, sample_from
from vjax.data.sources.hvu import HVUDataset
from vjax.data.sources.pose import PoseDataset
from vjax.data.sources.ssn import SSNDataset
from vjax.data.sources.tfds_records import TFDSDataset
from vjax.data.sources.wrappers import ConcatDataset, RepeatDataset

SYNTHETIC_NAME = "vjax_synthetic"
SYNTHETIC_AUDIO_NAME = "vjax_synthetic_audio"


def prepare_synthetic(data_dir: str | None = None, preset: str | None = None, **options):
  """Builds the ``vjax_synthetic`` TFDS dataset (a no-op if already built); returns its builder.

  ``options`` are ``VjaxSyntheticConfig`` fields (num_directions, num_speeds,
  num_train, num_val, num_frames, height, width, seed); ``preset`` is 'tiny' or 'small'.
  """
  from tfds_builders.vjax_synthetic import builder  # pylint: disable=g-import-not-at-top
  return builder.prepare_synthetic(data_dir, preset, **options)


def prepare_synthetic_audio(data_dir: str | None = None, **options) -> str:
  """Writes (once) the ``vjax_synthetic_audio`` features and lists; returns their folder
  (``tfds_builders.vjax_synthetic_audio.prepare_synthetic_audio``)."""
  from tfds_builders.vjax_synthetic_audio import generate  # pylint: disable=g-import-not-at-top
  return generate.prepare_synthetic_audio(data_dir, **options)


@DATASETS.register(name=SYNTHETIC_AUDIO_NAME)
def synthetic_audio_dataset(split: str, data_dir: str | None = None, test_mode: bool = False,
                            **options) -> AudioFeatureDataset:
  """``vjax_synthetic_audio`` split 'train' or 'val', generated on first use by
  ``prepare_synthetic_audio(data_dir, **options)`` and read by AudioFeatureDataset."""
  if split not in ("train", "val"):
    raise KeyError(f"{SYNTHETIC_AUDIO_NAME} has splits 'train' and 'val', not {split!r}")
  root = prepare_synthetic_audio(data_dir, **options)
  return AudioFeatureDataset(osp.join(root, f"{split}_list_audio_feature.txt"),
                             data_prefix=osp.join(root, split), test_mode=test_mode)
