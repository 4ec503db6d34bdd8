"""The record layout of the skeleton builders (``posec3d``, ``vjax_synthetic_skeleton``) and
what TFDSDataset reads from them.

A record is one video's entry of an MMAction2 pose annotation file (``PoseDataset``'s
``ann_file``): ``frame_dir``, ``label``, ``total_frames``, ``img_shape`` and ``original_shape``
((0, 0) when the file has none, as 3D releases), ``keypoint`` (M persons, T frames, V joints, C
coordinates) float32 and, for 2D layouts, ``keypoint_score`` (M, T, V). ``results_from_record``
turns it back into the dict PoseDataset hands its pipeline, so configs switch between a
synthetic and a released dataset by the dataset entry only.

Records keep the annotation file's order (no TFDS shuffling). An entry that does not fit the
config's layout (missing key, wrong shape, label out of range, non-finite values), or a split
member without an entry, is counted and listed in ``build_summary.json``; the build goes on.
"""

from __future__ import annotations

import inspect
import json
import os.path as osp
from typing import Any, Iterable, Iterator, NamedTuple

import numpy as np
import tensorflow_datasets as tfds

from tfds_builders.common import encode as enc
from tfds_builders.common import shards
from tfds_builders.common.builder import LocalBuilder
from vjax.data import safe_pickle

CLASS_NAMES_KEY = "class_names"
CLASS_COUNTS_KEY = "class_counts"
# Nothing is handed over encoded: keypoints are small float arrays.
UNDECODED: tuple[str, ...] = ()


class Layout(NamedTuple):
  """A keypoint layout: joints per person, coordinates per joint, whether scores come along."""
  name: str
  num_keypoints: int
  dims: int
  with_score: bool
  description: str


COCO2D = Layout("coco2d", 17, 2, True,
                "17 COCO keypoints (x, y in pixels) with scores, as HRNet gives them")
NTU3D = Layout("ntu3d", 25, 3, False, "25 Kinect joints of NTU RGB+D (x, y, z in metres)")
LAYOUTS = {l.name: l for l in (COCO2D, NTU3D)}


def layout_of(name: str) -> Layout:
  if name not in LAYOUTS:
    raise KeyError(f"Unknown keypoint layout {name!r}; layouts: {sorted(LAYOUTS)}")
  return LAYOUTS[name]


def load_pickle(path: str):
  """One pickle file of the user's download (an annotation list or dict, a kpfile), through
  vjax's restricted unpickler: a downloaded file cannot run code."""
  return safe_pickle.load(path)


def skip(reason: str, detail: str, video_id) -> enc.Skip:
  """A ``Skip`` for an item of ``SkeletonBuilder._split_annotations`` naming its video."""
  out = enc.Skip(reason, detail)
  out.video_id = str(video_id)
  return out


def features(layout: Layout, class_names: list[str] | None = None) -> tfds.features.FeaturesDict:
  """The features of one video; class names may come later (``set_class_names``)."""
  v, c = layout.num_keypoints, layout.dims
  # TFDS stores a tensor with several unknown dimensions only encoded (persons, frames vary).
  feats = {
      "frame_dir": tfds.features.Text(),
      "label": tfds.features.ClassLabel(names=class_names),
      "total_frames": tfds.features.Scalar(np.int32),
      "img_shape": tfds.features.Tensor(shape=(2,), dtype=np.int32),
      "original_shape": tfds.features.Tensor(shape=(2,), dtype=np.int32),
      "keypoint": tfds.features.Tensor(shape=(None, None, v, c), dtype=np.float32,
                                       encoding="zlib"),
  }
  if layout.with_score:
    feats["keypoint_score"] = tfds.features.Tensor(shape=(None, None, v), dtype=np.float32,
                                                   encoding="zlib")
  return tfds.features.FeaturesDict(feats)


def _shape(value, where: str) -> tuple[int, int]:
  if value is None:
    return (0, 0)
  shape = tuple(int(x) for x in np.asarray(value).reshape(-1))
  if len(shape) != 2 or min(shape) < 0:
    raise enc.Skip("corrupt", f"{where} {value!r} is not (height, width)")
  return shape


def make_record(annotation: Any, layout: Layout, num_classes: int) -> dict:
  """An annotation entry as a record of ``layout``, or ``Skip('corrupt', why)``."""
  if not isinstance(annotation, dict):
    raise enc.Skip("corrupt", f"an entry is a {type(annotation).__name__}, not a dict")
  missing = [k for k in ("frame_dir", "label", "total_frames", "keypoint") if k not in annotation]
  if layout.with_score and "keypoint_score" not in annotation:
    missing.append("keypoint_score")
  if missing:
    raise enc.Skip("corrupt", f"no {', '.join(missing)}")
  try:
    label, total = int(annotation["label"]), int(annotation["total_frames"])
    keypoint = np.asarray(annotation["keypoint"], np.float32)
    score = (np.asarray(annotation["keypoint_score"], np.float32) if layout.with_score
             else None)
  except (TypeError, ValueError) as e:
    raise enc.Skip("corrupt", f"{type(e).__name__}: {e}") from None
  if not 0 <= label < num_classes:
    raise enc.Skip("corrupt", f"label {label} outside [0, {num_classes})")
  want = f"(persons, {total}, {layout.num_keypoints}, {layout.dims})"
  if (keypoint.ndim != 4 or keypoint.shape[1] != total or
      keypoint.shape[2:] != (layout.num_keypoints, layout.dims)):
    raise enc.Skip("corrupt", f"keypoint shape {keypoint.shape}, expected {want} "
                              f"({layout.description})")
  if score is not None and score.shape != keypoint.shape[:3]:
    raise enc.Skip("corrupt", f"keypoint_score shape {score.shape}, expected "
                              f"{keypoint.shape[:3]}")
  for name, value in (("keypoint", keypoint), ("keypoint_score", score)):
    if value is not None and not np.isfinite(value).all():
      raise enc.Skip("corrupt", f"{name} has non-finite values")
  img_shape = _shape(annotation.get("img_shape"), "img_shape")
  original = annotation.get("original_shape")
  record = {"frame_dir": str(annotation["frame_dir"]), "label": label, "total_frames": total,
            "img_shape": np.asarray(img_shape, np.int32),
            "original_shape": np.asarray(img_shape if original is None else
                                         _shape(original, "original_shape"), np.int32),
            "keypoint": keypoint}
  if score is not None:
    record["keypoint_score"] = score
  return record


def results_from_record(record: dict, index: int) -> dict:
  """A record as PoseDataset's sample: ``keypoint`` float32 (M, T, V, C), ``keypoint_score``
  (M, T, V) for 2D layouts, ``total_frames``, ``img_shape`` / ``original_shape`` (tuples; left
  out when the annotation had none), ``label``, ``frame_dir``, ``start_index`` 0, ``modality``
  'Pose'."""
  del index
  name = record["frame_dir"]
  out = {"frame_dir": name.decode() if isinstance(name, bytes) else str(name),
         "label": int(record["label"]), "total_frames": int(record["total_frames"]),
         "start_index": 0, "modality": "Pose",
         "keypoint": np.asarray(record["keypoint"], np.float32)}
  if "keypoint_score" in record:
    out["keypoint_score"] = np.asarray(record["keypoint_score"], np.float32)
  for key in ("img_shape", "original_shape"):
    shape = tuple(int(x) for x in np.asarray(record[key]).reshape(-1))
    if any(shape):
      out[key] = shape
  return out


class SkeletonBuilder(LocalBuilder, skip_registration=True):
  """Base of the skeleton builders: a subclass's ``_split_annotations(dl_manager)`` gives each
  split's ``(key, annotation)`` in record order, where ``annotation`` is an entry of
  MMAction2's pose annotation format or a ``Skip`` (listed in ``build_summary.json``).
  Its config has ``layout`` (a name of ``LAYOUTS``) and ``num_classes``."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release."}
  HOMEPAGE = ""


  @property
  def layout(self) -> Layout:
    return layout_of(self.builder_config.layout)

  def class_names(self) -> list[str] | None:
    """Names known before the build (None: set when the build reads them)."""
    return None

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        description=inspect.getdoc(type(self)),
        features=features(self.layout, self.class_names()),
        metadata=tfds.core.MetadataDict(), disable_shuffling=True,
        homepage=self.HOMEPAGE or None)

  def _split_annotations(self, dl_manager) -> dict[str, Iterable[tuple[str, Any]]]:
    raise NotImplementedError(f"{type(self).__name__} must define _split_annotations()")

  def _split_generators(self, dl_manager):
    return {split: self._generate_examples(split, items)
            for split, items in self._split_annotations(dl_manager).items()}

  def _generate_examples(self, split: str, items) -> Iterator[tuple[str, dict]]:
    counts = self._counts.setdefault(split, [0] * self.builder_config.num_classes)
    skipped = self._skipped.setdefault(split, [])
    for key, annotation in items:
      try:
        if isinstance(annotation, enc.Skip):
          raise annotation
        record = make_record(annotation, self.layout, self.builder_config.num_classes)
      except enc.Skip as e:
        name = (annotation.get("frame_dir", key) if isinstance(annotation, dict) else
                getattr(annotation, "video_id", key))
        skipped.append(dict(video_id=str(name), reason=e.reason, detail=e.detail))
        continue
      counts[record["label"]] += 1
      yield key, record

  def _download_and_prepare(self, dl_manager, download_config) -> None:
    self._counts, self._skipped = {}, {}
    super()._download_and_prepare(dl_manager, download_config)
    self.info.metadata[CLASS_NAMES_KEY] = list(self.info.features["label"].names)
    self.info.metadata[CLASS_COUNTS_KEY] = self._counts
    summary = {}
    for split, counts in self._counts.items():
      by_reason: dict[str, list] = {}
      for s in self._skipped.get(split, ()):
        by_reason.setdefault(s["reason"], []).append({k: s[k] for k in ("video_id", "detail")})
      summary[split] = dict(examples=sum(counts), skipped={
          k: dict(count=len(v), samples=v) for k, v in by_reason.items()})
    with open(osp.join(str(self.data_dir), shards.SUMMARY), "w") as f:
      json.dump(summary, f, indent=1)
    if any(s["skipped"] for s in summary.values()):
      final = osp.join(str(self.data_dir_root), self.name, self.builder_config.name,
                       str(self.version))
      print(shards.describe(summary, final))


def class_counts(builder, split: str) -> list[int]:
  """Videos per class in ``split`` of a built skeleton dataset (from its metadata)."""
  counts = (builder.info.metadata or {}).get(CLASS_COUNTS_KEY)
  if counts is None or split not in counts:
    raise KeyError(f"{builder.name}/{builder.builder_config.name} has no class counts for "
                   f"split {split!r}")
  return [int(c) for c in counts[split]]
