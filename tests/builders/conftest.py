"""Dummy downloads for the dataset-builder tests: tiny videos whose frames have known colours."""

from __future__ import annotations

import os

import numpy as np
import pytest


def colour(i: int, seed: int = 0) -> tuple[int, int, int]:
  """The flat RGB colour of frame ``i`` of video ``seed``: far apart, so JPEG and codec noise
  cannot make one frame look like another."""
  return ((40 * i + 60 * seed) % 200 + 30, (90 + 35 * seed) % 200 + 30, (150 + 25 * i) % 200 + 30)


def make_video(path: str, num_frames: int = 8, seed: int = 0, size=(24, 32), fps: int = 10,
               ext_codec: str = "mpeg4") -> str:
  """Writes a video of flat-coloured frames (``colour(i, seed)``) with PyAV."""
  import av  # pylint: disable=g-import-not-at-top
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with av.open(path, "w") as out:
    stream = out.add_stream(ext_codec, rate=fps)
    stream.height, stream.width = size
    stream.pix_fmt = "yuv420p"
    for i in range(num_frames):
      frame = np.empty(size + (3,), np.uint8)
      frame[:] = colour(i, seed)
      for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
        out.mux(packet)
    for packet in stream.encode():
      out.mux(packet)
  return path


def make_frames(folder: str, num_frames: int = 6, seed: int = 0, size=(24, 32),
                tmpl: str = "img_{:05d}.jpg") -> str:
  import cv2  # pylint: disable=g-import-not-at-top
  os.makedirs(folder, exist_ok=True)
  for i in range(num_frames):
    frame = np.empty(size + (3,), np.uint8)
    frame[:] = colour(i, seed)
    cv2.imwrite(os.path.join(folder, tmpl.format(i + 1)), frame[..., ::-1])
  return folder


def corrupt_video(path: str) -> str:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "wb") as f:
    f.write(b"\x00\x00\x00\x18ftypmp42 this is not a video" * 4)
  return path


@pytest.fixture
def video_factory():
  return make_video
