"""One sample of a user's download -> one TFDS example, in the builder config's storage.

A sample that cannot be stored raises ``Skip`` with the reason ('missing', 'corrupt',
'too_short'); the build counts and lists those instead of stopping.
"""

from __future__ import annotations

import dataclasses
import os
import os.path as osp
import re
from typing import Any

import numpy as np

from tfds_builders.common import storage as st
from vjax.data import media
from vjax.data.ops_decode import VideoDecodeError

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")
_INDEX = re.compile(r"(\d+)\.(?:jpg|jpeg|png)$", re.IGNORECASE)


class Skip(Exception):
  """A sample left out of the build; ``reason`` is 'missing', 'corrupt' or 'too_short'."""

  def __init__(self, reason: str, detail: str = ""):
    super().__init__(f"{reason}: {detail}" if detail else reason)
    self.reason, self.detail = reason, detail


@dataclasses.dataclass(frozen=True)
class Sample:
  """What the build stores for one annotation entry: where its media is (a video or image file,
  or a frame folder), its label(s), and an optional clip [start, end) in seconds."""

  video_id: str
  path: str | None
  label: Any = None
  start: float | None = None
  end: float | None = None
  fps: float | None = None  # frame folders carry no rate: the dataset's nominal one


def _size(h: int, w: int, cfg: st.StorageConfig) -> tuple[int, int]:
  return media.resized_size(h, w, short_side=cfg.short_side, size=cfg.size)


def _jpegs(frames, cfg: st.StorageConfig) -> list[bytes]:
  """Frames of one video (all the same size) resized as the config says, JPEG-encoded."""
  out, hw = [], None
  for frame in frames:
    hw = hw or _size(frame.shape[0], frame.shape[1], cfg)
    out.append(media.encode_jpeg(frame if hw == frame.shape[:2] else media.resize(frame, hw),
                                 cfg.jpeg_quality))
  return out


def folder_frames(folder: str, prefix: str = "") -> list[str]:
  """The frame files of an extracted folder whose names start with ``prefix`` (``img_``,
  ``flow_x_``; '' for SthV1/Jester's ``00001.jpg``), in frame-number order."""
  names = [n for n in os.listdir(folder) if n.startswith(prefix) and _INDEX.search(n)
           and (prefix or n[0].isdigit())]
  return [osp.join(folder, n) for n in sorted(names, key=lambda n: int(_INDEX.search(n)[1]))]


def _read_folder(files: list[str], cfg: st.StorageConfig, gray: bool = False) -> list[bytes]:
  """Stored bytes of a frame folder: kept as they are unless the config resizes them."""
  import cv2  # pylint: disable=g-import-not-at-top
  out = []
  for path in files:
    with open(path, "rb") as f:
      data = f.read()
    img = cv2.imdecode(np.frombuffer(data, np.uint8),
                       cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR)
    if img is None:
      raise Skip("corrupt", f"cannot decode frame {path}")
    hw = _size(img.shape[0], img.shape[1], cfg)
    if hw != img.shape[:2] or not path.lower().endswith((".jpg", ".jpeg")):
      img = img if gray else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
      img = media.resize(img, hw) if hw != img.shape[:2] else img
      if gray:
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, cfg.jpeg_quality])
        data = buf.tobytes()
      else:
        data = media.encode_jpeg(img, cfg.jpeg_quality)
    out.append(data)
  return out


def _video_frames(sample: Sample, cfg: st.StorageConfig) -> tuple[list[bytes], float]:
  try:
    meta = media.probe(sample.path)
    jpegs = _jpegs(media.iter_frames(sample.path, start=sample.start, end=sample.end), cfg)
  except VideoDecodeError as e:
    raise Skip("corrupt", str(e)) from None
  return jpegs, meta.fps


def encode(sample: Sample, cfg: st.StorageConfig, min_frames: int = 1) -> dict:
  """The example dict for ``sample`` (labels added by the caller's label kind)."""
  path = sample.path
  if not path or not osp.exists(path):
    raise Skip("missing", path or f"no media found for {sample.video_id}")
  fps = sample.fps or 30.0
  ex: dict = {"video_id": sample.video_id}
  if cfg.storage == st.AUDIO_FEATURE:
    try:
      feature = np.load(path).astype(np.float32)
    except Exception as e:  # pylint: disable=broad-except  # np.load raises several types
      raise Skip("corrupt", f"{path}: {e}") from None
    if feature.ndim != 2:
      raise Skip("corrupt", f"{path}: shape {feature.shape}, expected (time, bins)")
    ex.update(audio_feature=feature, fps=np.float32(fps), total_frames=feature.shape[0])
    n = feature.shape[0]
  elif cfg.storage == st.FLOW:
    if not osp.isdir(path):
      raise Skip("missing", f"{path} is not a frame folder with flow_x_/flow_y_ frames")
    xs, ys = folder_frames(path, "flow_x_"), folder_frames(path, "flow_y_")
    if len(xs) != len(ys):
      raise Skip("corrupt", f"{path}: {len(xs)} flow_x frames but {len(ys)} flow_y frames")
    ex.update(flow_x=_read_folder(xs, cfg, gray=True), flow_y=_read_folder(ys, cfg, gray=True),
              fps=np.float32(fps))
    n = len(xs)
  elif osp.isdir(path):  # extracted frames (SthV1, Jester, MMAction2 rawframes)
    files = folder_frames(path, "img_") or folder_frames(path)
    if cfg.storage == st.VIDEO:
      raise Skip("missing", f"{path} is a frame folder; the 'video' configs need video files")
    ex.update(video=_read_folder(files, cfg), fps=np.float32(fps))
    n = len(files)
  elif path.lower().endswith(IMAGE_EXTS):  # a web image (OmniSource) is a one-frame video
    if cfg.storage == st.VIDEO:
      raise Skip("missing", f"{path} is an image; the 'video' configs need video files")
    ex.update(video=_read_folder([path], cfg), fps=np.float32(fps))
    n = 1
  elif cfg.storage == st.VIDEO:
    ex.update(_video_bytes(sample, cfg))
    n = int(ex["total_frames"])
  else:
    ex["video"], rate = _video_frames(sample, cfg)
    ex["fps"] = np.float32(rate)
    n = len(ex["video"])
  if n < min_frames:
    raise Skip("too_short", f"{path}: {n} frames, fewer than {min_frames}")
  ex["total_frames"] = np.int32(n)
  return ex


def _video_bytes(sample: Sample, cfg: st.StorageConfig) -> dict:
  try:
    clip = sample.start is not None or sample.end is not None
    if cfg.dense or cfg.short_side or cfg.size or clip:
      data = media.reencode_video(sample.path, short_side=cfg.short_side, size=cfg.size,
                                  dense=cfg.dense, start=sample.start, end=sample.end)
    else:
      with open(sample.path, "rb") as f:
        data = f.read()
    meta = media.probe(data)
  except VideoDecodeError as e:
    raise Skip("corrupt", str(e)) from None
  return {"video_bytes": data, "fps": np.float32(meta.fps), "total_frames": meta.num_frames}
