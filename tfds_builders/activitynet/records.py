"""The record layout of the localization builders (``activitynet``,
``vjax_synthetic_localization``) and what TFDSDataset reads from them.

A record is one untrimmed video: ``video_name`` (``v_<id>``), ``info`` (the video's entry of
MMAction2's ``anet_anno_*.json`` as JSON text, so seconds keep their float64 values:
``duration_second``, ``duration_frame``, ``feature_frame``, ``annotations`` [{'segment':
[start, end], 'label': name}], ``fps``, ...) and ``feature``, its ``(temporal_dim,
feat_dim)`` float32 feature sequence. ``results_from_record`` turns it into what
``ActivityNetDataset`` gives plus ``raw_feature`` ``(C, T)``, so one pipeline serves both
(``LoadLocalizationFeature`` keeps the record's feature).

Records are written in the order they are generated (no TFDS shuffling), and the builder stores
every split's infos, in that order, in the dataset's metadata: ``video_infos(builder, split)``
hands them to the localization evaluators without reading a feature.
"""

from __future__ import annotations

import inspect
import json
import os.path as osp
from typing import Iterable, Iterator

import numpy as np
import tensorflow_datasets as tfds

from tfds_builders.common import encode as enc
from tfds_builders.common import shards
from tfds_builders.common.builder import LocalBuilder

INFOS_KEY = "video_infos"
CLASS_NAMES_KEY = "class_names"
# Nothing is handed over encoded: features are small float arrays.
UNDECODED: tuple[str, ...] = ()


def features(temporal_dim: int, feat_dim: int) -> tfds.features.FeaturesDict:
  return tfds.features.FeaturesDict({
      "video_name": tfds.features.Text(),
      "info": tfds.features.Text(),
      "feature": tfds.features.Tensor(shape=(temporal_dim, feat_dim), dtype=np.float32,
                                      encoding=tfds.features.Encoding.BYTES),
  })


def info_of(video_info: dict) -> dict:
  """A video's info without ``video_name`` and ``data_prefix`` (what ``info`` stores)."""
  return {k: v for k, v in video_info.items() if k not in ("video_name", "data_prefix")}


def results_from_record(record: dict, index: int) -> dict:
  """A record as ActivityNetDataset's sample (its info with ``video_name``) plus
  ``raw_feature``, float32 ``(C, T)`` as ``LoadLocalizationFeature`` makes it."""
  del index
  name, info = record["video_name"], record["info"]
  results = json.loads(info.decode() if isinstance(info, bytes) else info)
  results["video_name"] = name.decode() if isinstance(name, bytes) else str(name)
  results["raw_feature"] = np.ascontiguousarray(np.asarray(record["feature"], np.float32).T)
  return results


def video_infos(builder, split: str) -> list[dict]:
  """Every video's info of ``split`` in record order (``video_name`` + its info), from the
  metadata the build stored."""
  metadata = builder.info.metadata or {}
  if INFOS_KEY not in metadata:
    raise KeyError(f"{builder.name}/{builder.builder_config.name} in {builder.data_dir} has no "
                   f"'{INFOS_KEY}' metadata; rebuild it with this version of vjax")
  infos = metadata[INFOS_KEY]
  if split not in infos:
    raise KeyError(f"{builder.name} has video infos for splits {sorted(infos)}, not {split!r}")
  return [dict(info) for info in infos[split]]


class LocalizationBuilder(LocalBuilder, skip_registration=True):
  """Base of the localization builders: a subclass's ``_split_videos(dl_manager)`` gives each
  split's ``(video_name, info, feature)`` in record order, where ``feature`` is an array or a
  ``Skip`` (missing / corrupt file: counted, listed in ``build_summary.json``, not fatal)."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release."}
  HOMEPAGE = ""


  def feature_shape(self) -> tuple[int, int]:
    cfg = self.builder_config
    return cfg.temporal_dim, cfg.feat_dim

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        description=inspect.getdoc(type(self)), features=features(*self.feature_shape()),
        metadata=tfds.core.MetadataDict(), disable_shuffling=True,
        homepage=self.HOMEPAGE or None)

  def _split_videos(self, dl_manager) -> dict[str, Iterable[tuple[str, dict, object]]]:
    raise NotImplementedError(f"{type(self).__name__} must define _split_videos()")

  def class_names(self) -> list[str]:
    return []

  def _split_generators(self, dl_manager):
    return {split: self._generate_examples(split, videos)
            for split, videos in self._split_videos(dl_manager).items()}

  def _generate_examples(self, split: str, videos) -> Iterator[tuple[str, dict]]:
    written, skipped = self._written.setdefault(split, []), self._skipped.setdefault(split, [])
    shape = self.feature_shape()
    for video_name, info, feature in videos:
      if isinstance(feature, enc.Skip):
        skipped.append(dict(video_id=video_name, reason=feature.reason, detail=feature.detail))
        continue
      feature = np.asarray(feature, np.float32)
      if feature.shape != shape:
        skipped.append(dict(video_id=video_name, reason="corrupt",
                            detail=f"feature shape {feature.shape}, expected {shape}"))
        continue
      info = info_of(info)
      written.append(dict(info, video_name=video_name))
      yield video_name, {"video_name": video_name, "info": json.dumps(info), "feature": feature}

  def _download_and_prepare(self, dl_manager, download_config) -> None:
    self._written, self._skipped = {}, {}
    super()._download_and_prepare(dl_manager, download_config)
    self.info.metadata[INFOS_KEY] = self._written
    self.info.metadata[CLASS_NAMES_KEY] = list(self.class_names())
    summary = {}
    for split, infos in self._written.items():
      by_reason: dict[str, list] = {}
      for s in self._skipped.get(split, ()):
        by_reason.setdefault(s["reason"], []).append(
            {k: s[k] for k in ("video_id", "detail")})
      summary[split] = dict(examples=len(infos), skipped={
          k: dict(count=len(v), samples=v) for k, v in by_reason.items()})
    with open(osp.join(str(self.data_dir), shards.SUMMARY), "w") as f:
      json.dump(summary, f, indent=1)
    if any(s["skipped"] for s in summary.values()):
      final = osp.join(str(self.data_dir_root), self.name, self.builder_config.name,
                       str(self.version))
      print(shards.describe(summary, final))
