"""One video through a config's pipeline, with MMAction2's inference-API conventions.

A video is a file, a rawframe folder, a (T, H, W, C) array or a ready results dict; the
config's test (or val) pipeline decodes it with the decoder MMAction2's API swaps in (OpenCV
for files, ``RawFrameDecode`` for folders, ``ArrayDecode`` for arrays). ``vjax.inference``
uses it for real videos, the tasks for the stand-in inputs that shape model initialisation.
"""

from __future__ import annotations

import copy
import os
import re
import string

import numpy as np

from vjax.data.pipeline import Compose


def _plain(v):
  """ConfigDicts and dicts -> fresh dicts, lists stay lists (pipelines are edited in place)."""
  if hasattr(v, "to_dict"):
    v = v.to_dict()
  if isinstance(v, dict):
    return {k: _plain(x) for k, x in v.items()}
  if isinstance(v, (list, tuple)):
    return [_plain(x) for x in v]
  return copy.deepcopy(v)


def split_config(config, names=("test",)) -> dict:
  """The first of ``data.<name>`` the config has, as a plain dict (pipelines are edited)."""
  for name in names:
    if name in config.data and config.data[name]:
      return _plain(config.data[name])
  raise KeyError(f"the config has no data.{' or data.'.join(names)} with a pipeline")


def _frame_pattern(tmpl: str, modality: str) -> re.Pattern:
  """Regex for the frame files of ``filename_tmpl`` (Flow counts the ``x`` frames)."""
  out, fields = "", 0
  for literal, field, _, _ in string.Formatter().parse(tmpl):
    out += re.escape(literal)
    if field is not None:
      fields += 1
      out += "x" if modality == "Flow" and fields == 1 else r"\d+"
  return re.compile(f"^{out}$")


def _is(op, kind: str) -> bool:
  return kind in op["type"]


def pipeline_inputs(config, video, split: dict | None = None):
  """(results dict, pipeline op list) for ``video``, MMAction2's inference API conventions."""
  split = split_config(config) if split is None else split
  ops = split.get("pipeline") or []
  if isinstance(video, dict):
    return dict(video), ops
  if isinstance(video, np.ndarray):
    if video.ndim != 4 or video.shape[-1] not in (2, 3):
      raise ValueError(f"a video array must be (T, H, W, 3) RGB or (T, H, W, 2) Flow, got "
                       f"{video.shape}")
    data = dict(total_frames=len(video), label=-1, start_index=0, array=video,
                modality="Flow" if video.shape[-1] == 2 else "RGB")
    ops = [dict(type="ArrayDecode") if _is(op, "Decode") else op for op in ops
           if not _is(op, "Init")]
    return data, ops
  path = os.fspath(video)
  if os.path.isdir(path):
    tmpl = split.get("filename_tmpl", "img_{:05}.jpg")
    modality = split.get("modality", "RGB")
    pattern = _frame_pattern(tmpl, modality)
    data = dict(frame_dir=path, total_frames=sum(bool(pattern.match(f)) for f in os.listdir(path)),
                label=-1, start_index=split.get("start_index", 1), filename_tmpl=tmpl,
                modality=modality)
    if ops and _is(ops[0], "Init"):
      ops = ops[1:]
    return data, [dict(type="RawFrameDecode") if _is(op, "Decode") else op for op in ops]
  if os.path.isfile(path) or path.startswith(("http://", "https://")):
    data = dict(filename=path, label=-1, start_index=0, modality="RGB")
    ops = [dict(type="OpenCVInit")] + (ops[1:] if ops and _is(ops[0], "Init") else ops)
    return data, [dict(type="OpenCVDecode") if _is(op, "Decode") else op for op in ops]
  raise FileNotFoundError(f"video {path!r} is neither a file nor a frame directory")


def pipeline_results(config, video, split: dict | None = None) -> dict:
  """What the pipeline's ``Collect`` keeps for one video (views first, channels-last)."""
  data, ops = pipeline_inputs(config, video, split)
  return Compose(ops)(data, np.random.default_rng(0))


def stand_in_video(modality: str = "RGB", shape=(300, 256, 340)) -> np.ndarray:
  """A zero video that costs nothing however long it claims to be (pipelines read only the
  sampled frames): (T, H, W, 3) for RGB, (T, H, W, 2) for Flow."""
  channels = 2 if modality == "Flow" else 3
  return np.broadcast_to(np.zeros((1,) + tuple(shape[1:]) + (channels,), np.uint8),
                         tuple(shape) + (channels,))


# Keypoints per person of MMAction2's skeleton layouts (vjax.models' Graph names them alike).
LAYOUT_KEYPOINTS = {"openpose-18": 18, "openpose-25": 25, "ntu-rgb+d": 25, "ntu_edge": 24,
                    "coco": 17}
# Pipeline ops that read a pose annotation rather than a video.
POSE_LOADERS = ("UniformSampleFrames", "PoseDecode", "PaddingWithLoop", "LoadKineticsPose")


def is_pose_pipeline(ops) -> bool:
  return bool(ops) and ops[0]["type"] in POSE_LOADERS


def stand_in_pose(num_keypoints: int = 17, channels: int = 2, with_score: bool = True,
                  total_frames: int = 300, img_shape=(480, 640), num_person: int = 2) -> dict:
  """A PoseDataset sample of ``num_person`` people standing still, keypoints spread over the
  frame (so PoseCompact finds a box), for the shapes a pose pipeline gives; no data read."""
  rng = np.random.default_rng(0)
  h, w = img_shape
  scale = np.array([w, h, 1.0][:channels], np.float32) if channels <= 3 else np.ones(channels)
  person = (0.25 + 0.5 * rng.random((num_keypoints, channels))).astype(np.float32) * scale
  keypoint = np.broadcast_to(person, (num_person, total_frames, num_keypoints, channels)).copy()
  sample = dict(keypoint=keypoint, total_frames=total_frames, img_shape=tuple(img_shape),
                original_shape=tuple(img_shape), label=-1, start_index=0, modality="Pose",
                frame_dir="stand_in")
  if with_score:
    sample["keypoint_score"] = np.ones((num_person, total_frames, num_keypoints), np.float32)
  return sample
