"""Computes MMAction2's offline spectrogram features of a folder of audio files (its
tools/data/build_audio_features.py), one ``.npy`` each, without librosa or lws.

    python -m vjax.tools.build_audio_features AUDIO_HOME_PATH SPECTROGRAM_SAVE_PATH
        [--level 1] [--ext m4a] [--num-workers 4] [--part 1/1]

Every ``AUDIO_HOME_PATH/*[/*].EXT`` (sorted; ``--part i/n`` takes the i-th of n equal
slices, the last one taking the remainder) becomes ``SPECTROGRAM_SAVE_PATH/NAME.npy``: a
float32 (frames, 80) array in [0, 1], 62.5 frames per second (``media.audio_features``),
what ``AudioFeatureDataset`` / ``LoadAudioFeature`` read. As in MMAction2 the output folder
is flat (class folders are not kept) and a ``.npy`` that exists already is kept.
"""

from __future__ import annotations

import argparse
import functools
import os
import os.path as osp

import numpy as np

from vjax.data import media
from vjax.tools import _batch


def parse_part(part: str) -> tuple[int, int]:
  try:
    this, total = (int(v) for v in part.split("/"))
  except ValueError:
    raise ValueError(f"--part must be i/n, got {part!r}") from None
  if not 1 <= this <= total:
    raise ValueError(f"--part {part}: need 1 <= i <= n")
  return this, total


def select_part(files: list[str], part: str) -> list[str]:
  """MMAction2's slicing: ``len // n`` files per part, the last part takes the rest."""
  this, total = parse_part(part)
  size = len(files) // total
  return files[size * (this - 1):size * this if this != total else len(files)]


def parse_args(argv=None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(description="Build audio spectrogram features")
  parser.add_argument("audio_home_path", help="source audio directory")
  parser.add_argument("spectrogram_save_path", help="output .npy directory")
  parser.add_argument("--level", type=int, default=1, help="directory level of data")
  parser.add_argument("--ext", default="m4a", help="audio file extension")
  parser.add_argument("--num-workers", type=int, default=4, help="number of worker processes")
  parser.add_argument("--part", default="1/1", help="which part of the files to process: i/n")
  args = parser.parse_args(argv)
  try:
    parse_part(args.part)
  except ValueError as e:
    parser.error(str(e))
  return args


def feature_one(args, path: str) -> str:
  out = osp.join(args.spectrogram_save_path, osp.splitext(osp.basename(path))[0] + ".npy")
  if osp.exists(out):
    return "skipped"
  features = media.audio_features(path)
  with media.atomic_output(out) as tmp:
    with open(tmp, "wb") as f:
      np.save(f, features, allow_pickle=False)
  return "done"


def main(argv=None) -> int:
  args = parse_args(argv)
  os.makedirs(args.spectrogram_save_path, exist_ok=True)
  files = _batch.find(args.audio_home_path, args.level, args.ext)
  print(f"Found {len(files)} files (.{args.ext}) in {args.audio_home_path}")
  files = select_part(files, args.part)
  failures = _batch.run(functools.partial(feature_one, args), files, args.num_workers,
                        f"build_audio_features (part {args.part})")
  return 1 if failures else 0


if __name__ == "__main__":
  _batch.run_tool("vjax.tools.build_audio_features")
