"""Re-encodes a folder of videos with a shorter side of ``--scale`` pixels (MMAction2's
tools/data/resize_videos.py), with PyAV instead of the ffmpeg command line.

    python -m vjax.tools.resize_videos SRC_DIR OUT_DIR [--dense] [--level 1|2]
        [--remove-dup] [--ext avi|mp4|webm|mkv] [--to-mp4] [--scale 256] [--num-worker 8]

``SRC/[CLASS/]NAME.EXT`` becomes ``OUT/[CLASS/]NAME.EXT`` (``.mp4`` with ``--to-mp4``):
H.264 (MPEG-4 part 2 where this PyAV build has no H.264 encoder) without audio, the short
side scaled to ``--scale`` (the other rounded to an even number, as ffmpeg's ``-2`` does;
smaller videos are enlarged too), every frame kept. ``--dense`` puts a keyframe at least
every 16 frames (ffmpeg's ``-g 16``) for fast random access; ``--remove-dup`` drops
near-duplicate frames (mpdecimate) keeping the others' timestamps. See
``media.reencode_video``. Existing outputs are overwritten, as ffmpeg's ``-y`` does.

WebM cannot hold H.264, so ``--ext webm`` needs ``--to-mp4`` (MMAction2's ffmpeg call
failed on every such video).
"""

from __future__ import annotations

import argparse
import functools
import os.path as osp

from vjax.data import media
from vjax.tools import _batch

# Output extension -> PyAV container format.
CONTAINERS = {"mp4": "mp4", "avi": "avi", "mkv": "matroska"}


def parse_args(argv=None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(description="Generate the resized cache of original videos")
  parser.add_argument("src_dir", help="source video directory")
  parser.add_argument("out_dir", help="output video directory")
  parser.add_argument("--dense", action="store_true",
                      help="a keyframe every 16 frames: faster random access")
  parser.add_argument("--level", type=int, default=2, choices=[1, 2],
                      help="directory level of data")
  parser.add_argument("--remove-dup", action="store_true",
                      help="remove duplicated frames")
  parser.add_argument("--ext", default="mp4", choices=["avi", "mp4", "webm", "mkv"],
                      help="video file extension")
  parser.add_argument("--to-mp4", action="store_true", help="write mp4 files")
  parser.add_argument("--scale", type=int, default=256,
                      help="short side length of the resized videos (keeping the ratio)")
  parser.add_argument("--num-worker", type=int, default=8, help="number of worker processes")
  args = parser.parse_args(argv)
  if args.ext == "webm" and not args.to_mp4:
    parser.error("--ext webm: a WebM file cannot hold H.264; add --to-mp4")
  if args.scale <= 0:
    parser.error(f"--scale must be positive, got {args.scale}")
  return args


def output_path(args, path: str) -> str:
  rel = _batch.relative(path, args.level)
  if args.to_mp4:
    rel = osp.splitext(rel)[0] + ".mp4"
  return osp.join(args.out_dir, rel)


def resize_one(args, path: str) -> str:
  out = output_path(args, path)
  data = media.reencode_video(path, short_side=args.scale, dense=args.dense,
                              remove_dup=args.remove_dup,
                              container=CONTAINERS[osp.splitext(out)[1][1:]])
  _batch.write_bytes(out, data)
  return "done"


def main(argv=None) -> int:
  args = parse_args(argv)
  items = _batch.find(args.src_dir, args.level, args.ext)
  print(f"Found {len(items)} videos (.{args.ext}) in {args.src_dir}")
  failures = _batch.run(functools.partial(resize_one, args), items, args.num_worker,
                        "resize_videos")
  return 1 if failures else 0


if __name__ == "__main__":
  _batch.run_tool("vjax.tools.resize_videos")
