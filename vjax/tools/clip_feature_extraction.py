"""Clip-level features of untrimmed videos (MMAction2's tools/misc/clip_feature_extraction.py
in its long-video mode), on one machine without a launcher.

    python -m vjax.tools.clip_feature_extraction CONFIG CHECKPOINT OUTPUT [VIDEO ...]
        [--video-list LIST] [--video-root ROOT] [--clip-len N] [--frame-interval N]
        [--clip-interval 16] [--batch-size 16] [--output-format pkl|npy]

CONFIG is a vjax config (``path.py[:arg]``) or an MMAction2 config file; CHECKPOINT an
MMAction2 ``.pth`` or a vjax checkpoint directory, or ``none`` for random weights. Videos are
the list's entries (first word of each line, below ``--video-root``) and the VIDEO paths.

Each video's clips (one centred every ``--clip-interval`` frames, ``--clip-len`` frames
``--frame-interval`` apart; unset ones from the test pipeline's sampler) go through the
config's test pipeline with multi-crop testing reduced to the centre crop, and through the
backbone (no head): a float32 ``(num_clips, C)`` array per video
(``vjax.localization.features.video_features``). ``--output-format pkl`` writes OUTPUT as one
pickle, a list of ``{'video_name', 'feature'}`` dicts in list order; ``npy`` writes
``OUTPUT/<entry without extension>.npy`` per video and keeps those already there. A missing
or corrupt video is reported and left out; the run goes on and ends with a summary (exit
status 1 if any failed).
"""

from __future__ import annotations

import argparse
import functools
import io
import os.path as osp
import pickle

import numpy as np

from vjax.data.media import atomic_output
from vjax.inference import Recognizer, init_recognizer
from vjax.localization.features import video_features
from vjax.tools import _batch

_RANDOM_WEIGHTS = ("", "-", "none", "None")


@functools.lru_cache(maxsize=2)
def load_recognizer(config: str, checkpoint: str | None) -> Recognizer:
  """The recognizer of a config file and checkpoint (random weights for None), built once per
  process: a second run in the same process (tests, notebooks) reuses its compilations."""
  return init_recognizer(config, checkpoint)


def checkpoint_arg(value: str | None) -> str | None:
  return None if value is None or value in _RANDOM_WEIGHTS else value


def read_video_list(path: str) -> list[str]:
  """The first word of each non-empty line (MMAction2's VideoDataset reads ``path label``)."""
  with open(path) as f:
    return [line.split()[0] for line in f if line.strip()]


def parse_args(argv=None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(description="Clip-level feature extraction")
  parser.add_argument("config", help="vjax config path.py[:arg] or MMAction2 config file")
  parser.add_argument("checkpoint",
                      help="MMAction2 .pth or vjax checkpoint directory; 'none': random weights")
  parser.add_argument("output", help="the .pkl file (pkl) or folder (npy) to write")
  parser.add_argument("videos", nargs="*", help="video files or frame folders")
  parser.add_argument("--video-list", help="video file list (first word of each line)")
  parser.add_argument("--video-root", default="", help="folder the list's entries are in")
  parser.add_argument("--clip-len", type=int, default=None,
                      help="frames per clip (default: the test sampler's clip_len)")
  parser.add_argument("--frame-interval", type=int, default=None,
                      help="frames between a clip's frames (default: the test sampler's)")
  parser.add_argument("--clip-interval", type=int, default=None,
                      help="frames between clip centres (default: 16, or an UntrimmedSampleFrames' "
                      "frame_interval)")
  parser.add_argument("--batch-size", type=int, default=16, help="clips per forward")
  parser.add_argument("--output-format", choices=("pkl", "npy"), default="pkl")
  args = parser.parse_args(argv)
  if not args.video_list and not args.videos:
    parser.error("give --video-list or VIDEO paths")
  return args


def video_items(args) -> dict[str, str]:
  """{path to read: name in the output} in order: list entries, then VIDEO paths."""
  items = {}
  if args.video_list:
    for entry in read_video_list(args.video_list):
      items[osp.join(args.video_root, entry)] = entry
  for path in args.videos:
    items[path] = osp.basename(osp.normpath(path))
  return items


def npy_path(output: str, name: str) -> str:
  return osp.join(output, osp.splitext(name)[0] + ".npy")


def main(argv=None) -> int:
  args = parse_args(argv)
  items = video_items(args)
  recognizer = load_recognizer(args.config, checkpoint_arg(args.checkpoint))
  extract = functools.partial(video_features, recognizer, clip_len=args.clip_len,
                              frame_interval=args.frame_interval,
                              clip_interval=args.clip_interval, batch_size=args.batch_size)
  found: dict[str, np.ndarray] = {}

  def one(path: str) -> str:
    if args.output_format == "npy":
      out = npy_path(args.output, items[path])
      if osp.exists(out):
        return "skipped"
      buf = io.BytesIO()
      np.save(buf, extract(path), allow_pickle=False)
      _batch.write_bytes(out, buf.getvalue())
    else:
      found[path] = extract(path)
    return "done"

  failures = _batch.run(one, list(items), 1, "clip_feature_extraction")
  if args.output_format == "pkl":
    results = [dict(video_name=items[p], feature=found[p]) for p in items if p in found]
    with atomic_output(args.output) as tmp:
      with open(tmp, "wb") as f:
        pickle.dump(results, f)
    print(f"Wrote the features of {len(results)} videos to {args.output}")
  return 1 if failures else 0


if __name__ == "__main__":
  _batch.run_tool("vjax.tools.clip_feature_extraction")
