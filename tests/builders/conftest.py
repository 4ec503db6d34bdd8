"""Dummy downloads for the dataset-builder tests: tiny videos whose frames have known colours."""

from __future__ import annotations

import os
import os.path as osp

import numpy as np
import pytest

from tests.media_fixtures import flat, write_video
from vjax.tools import build_dataset


def colour(i: int, seed: int = 0) -> tuple[int, int, int]:
  """The flat RGB colour of frame ``i`` of video ``seed``: far apart, so JPEG and codec noise
  cannot make one frame look like another."""
  return ((40 * i + 60 * seed) % 200 + 30, (90 + 35 * seed) % 200 + 30, (150 + 25 * i) % 200 + 30)


def make_video(path: str, num_frames: int = 8, seed: int = 0, size=(24, 32), fps: int = 10,
               codec: str = "mpeg4") -> str:
  """Writes a video of flat-coloured frames (``colour(i, seed)``)."""
  write_video(path, [flat(colour(i, seed), *size) for i in range(num_frames)], fps=fps,
              codec=codec)
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


# train: 3 good videos, one corrupt, one listed but absent; val: one video, one frame folder.
TRAIN = {"jump_rope/a.mp4": (0, 8, 0), "jump_rope/b.mp4": (0, 6, 1), "run/c.mp4": (1, 10, 2)}
VAL = {"run/d.mp4": (1, 7, 3)}
VAL_FRAMES = {"frames/e": (0, 6, 4)}


@pytest.fixture(scope="session")
def manual_dir(tmp_path_factory) -> str:
  root = str(tmp_path_factory.mktemp("download"))
  data = osp.join(root, "data")
  for rel, (_, n, seed) in {**TRAIN, **VAL}.items():
    make_video(osp.join(data, rel), num_frames=n, seed=seed)
  for rel, (_, n, seed) in VAL_FRAMES.items():
    make_frames(osp.join(data, rel), num_frames=n, seed=seed)
  corrupt_video(osp.join(data, "run/bad.mp4"))
  with open(osp.join(root, "train_list_videos.txt"), "w") as f:
    for rel, (label, _, _) in TRAIN.items():
      f.write(f"{rel} {label}\n")
    f.write("run/bad.mp4 1\nrun/missing.mp4 1\n")
  with open(osp.join(root, "val_list_videos.txt"), "w") as f:
    f.write("run/d.mp4 1\n")
  with open(osp.join(root, "classes.txt"), "w") as f:
    f.write("jump rope\nrun\n")
  return root


@pytest.fixture(scope="session")
def built(manual_dir, tmp_path_factory) -> dict[str, str]:
  """frames_340x256 in both formats (one process each), built once per session."""
  out = {}
  for fmt in ("array_record", "tfrecord"):
    data_dir = str(tmp_path_factory.mktemp(fmt))
    build_dataset.build("mmaction_list", manual_dir, data_dir, "frames_340x256", fmt,
                        num_workers=1, samples_per_shard=2)
    out[fmt] = data_dir
  return out


