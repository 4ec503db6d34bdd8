"""Kinetics-400 skeletons: an annotation entry names a separate keypoint file (kpfile) holding
every detected person of every frame, one row per detection; ``decompress`` lays them out per
person and frame as MMAction2 0.24.1's ``LoadKineticsPose`` does (source 'mmpose').

Two releases: MMAction2 0.24.1's entries carry ``filename`` (a per-video pickle of the
(N, 17, 3) array of x, y, score), PYSKL's / MMAction2 1.x's ``k400_2d.pkl`` entries carry
``raw_file`` (a pickle shared by many videos: ``{frame_dir: {'keypoint': (N, 17, 3)}}``). Both
give ``frame_inds`` (the frame of each row) and ``box_score``.
"""

from __future__ import annotations

import os.path as osp
from collections import OrderedDict

import numpy as np

from tfds_builders.common import encode as enc

# LoadKineticsPose's defaults: persons ranked by a weighted sum of their keypoint scores.
MAX_PERSON = 100
KEYPOINT_WEIGHT = dict(face=1, torso=2, limb=3)
MMPOSE_SUBSETS = dict(face=[0, 1, 2, 3, 4], torso=[5, 6, 11, 12],
                      limb=[7, 8, 9, 10, 13, 14, 15, 16])


def decompress(kps: np.ndarray, frame_inds: np.ndarray, total_frames: int,
               max_person: int = MAX_PERSON,
               squeeze: bool = True) -> tuple[np.ndarray, np.ndarray, int]:
  """Rows (N, V, 3) of x, y, score at ``frame_inds`` (N,) -> (keypoint (M, T, V, 2),
  keypoint_score (M, T, V), T), float16 as LoadKineticsPose gives them. ``squeeze`` drops
  frames without a detection (T becomes the number of distinct frames); the i-th detection of a
  frame is person i; beyond ``max_person`` persons a frame keeps its ``max_person`` best."""
  frame_inds = np.asarray(frame_inds).reshape(-1)
  if squeeze:
    frame_inds = np.unique(frame_inds, return_inverse=True)[1].reshape(-1)
    total_frames = int(frame_inds.max()) + 1
  num_kp = kps.shape[1]
  num_person = int(np.bincount(frame_inds).max())
  keypoint = np.zeros((num_person, total_frames, num_kp, 2), np.float16)
  score = np.zeros((num_person, total_frames, num_kp), np.float16)
  persons = np.zeros(total_frames, np.int64)
  for t, kp in zip(frame_inds, kps):
    keypoint[persons[t], t] = kp[:, :2]
    score[persons[t], t] = kp[:, 2]
    persons[t] += 1
  if num_person > max_person:
    for t in range(total_frames):
      n = persons[t]
      val = sum(score[:n, t][:, MMPOSE_SUBSETS[g]].sum(1) * KEYPOINT_WEIGHT[g]
                for g in ("face", "torso", "limb"))
      order = np.argsort(-val, kind="stable")
      score[:n, t], keypoint[:n, t] = score[order, t], keypoint[order, t]
  return keypoint[:max_person], score[:max_person], total_frames


class KpfileReader:
  """Finds and reads the kpfiles of a download, keeping the last few shared ones in memory."""

  def __init__(self, load, roots: list[str], cached: int = 2):
    self._load, self._roots, self._cached = load, roots, cached
    self._cache: OrderedDict[str, object] = OrderedDict()

  def find(self, name: str) -> str | None:
    candidates = [name] if osp.isabs(name) else []
    for root in self._roots:
      candidates += [osp.join(root, name), osp.join(root, "kpfiles", osp.basename(name)),
                     osp.join(root, osp.basename(name))]
    return next((c for c in candidates if osp.isfile(c)), None)

  def _read(self, path: str):
    if path not in self._cache:
      self._cache[path] = self._load(path)
      while len(self._cache) > self._cached:
        self._cache.popitem(last=False)
    return self._cache[path]

  def rows(self, annotation: dict) -> np.ndarray:
    """The (N, V, 3) detections of an entry, or ``Skip`` ('missing' / 'corrupt')."""
    shared = "raw_file" in annotation
    name = str(annotation["raw_file"] if shared else annotation["filename"])
    path = self.find(name)
    if path is None:
      raise enc.Skip("missing", f"kpfile {name} not found under {', '.join(self._roots)}")
    try:
      data = self._read(path)
      if shared and isinstance(data, dict):
        data = data[annotation["frame_dir"]]
      if isinstance(data, dict):
        data = data["keypoint"]
      rows = np.asarray(data)  # its own dtype: LoadKineticsPose casts it to float16 directly
    except Exception as e:  # pylint: disable=broad-except  # unpickling raises many types
      raise enc.Skip("corrupt", f"{path}: {type(e).__name__}: {e}") from None
    if rows.ndim != 3 or rows.shape[2] != 3 or not np.issubdtype(rows.dtype, np.number):
      raise enc.Skip("corrupt", f"{path}: keypoints of shape {rows.shape}, expected "
                                "(detections, keypoints, 3)")
    return rows


def dense_annotation(annotation: dict, reader: KpfileReader) -> dict:
  """A Kinetics entry with its kpfile read and decompressed: ``keypoint``, ``keypoint_score``
  and the squeezed ``total_frames`` in place of the per-detection fields."""
  rows = reader.rows(annotation)
  frame_inds = np.asarray(annotation.get("frame_inds", ()), np.int64).reshape(-1)
  if len(frame_inds) == 0 or len(frame_inds) != len(rows):
    raise enc.Skip("corrupt", f"{len(frame_inds)} frame_inds for {len(rows)} detections")
  keypoint, score, total = decompress(rows, frame_inds, int(annotation["total_frames"]))
  out = {k: v for k, v in annotation.items()
         if k not in ("filename", "raw_file", "frame_inds", "box_score", "anno_inds")}
  out.update(keypoint=keypoint, keypoint_score=score, total_frames=total)
  return out
