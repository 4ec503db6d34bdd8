"""Encodes folders of frames back into videos (MMAction2's tools/data/build_videos.py), with
PyAV instead of the ffmpeg command line.

    python -m vjax.tools.build_videos SRC_DIR OUT_DIR [--fps 30] [--level 1|2]
        [--num-worker 8] [--in-format jpg|png] [--start-idx 0]
        [--filename-tmpl img_%05d] [--vcodec mpeg4] [--ext mp4|avi] [--resume]

Folder ``SRC/[CLASS/]NAME`` becomes ``OUT/[CLASS/]NAME.EXT`` at ``--fps``. Its frames are
read as ffmpeg's image-sequence input reads ``-start_number`` (``frame_sequence``): the
first ``FILENAME_TMPL % i + '.IN_FORMAT'`` that exists for i in ``--start-idx`` ..
``--start-idx + 4``, then every following index up to the first gap, so the default
start 0 also finds frames numbered from 1. ``--resume`` skips folders whose video exists
(MMAction2 looked for them in SRC_DIR, so never skipped any). ``--num-gpu`` (unused in
MMAction2) is not accepted.
"""

from __future__ import annotations

import argparse
import functools
import os.path as osp

from vjax.data import media
from vjax.tools import _batch

# ffmpeg's image2 demuxer looks this many indices past -start_number for the first image.
START_NUMBER_RANGE = 5


def parse_args(argv=None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(description="synthesize videos")
  parser.add_argument("src_dir", help="source rawframe directory")
  parser.add_argument("out_dir", help="output video directory")
  parser.add_argument("--fps", type=int, default=30, help="fps of the videos")
  parser.add_argument("--level", type=int, default=2, choices=[1, 2],
                      help="directory level of data")
  parser.add_argument("--num-worker", type=int, default=8, help="number of worker processes")
  parser.add_argument("--in-format", default="jpg", choices=["jpg", "png"],
                      help="input frame format")
  parser.add_argument("--start-idx", type=int, default=0, help="starting index of rawframes")
  parser.add_argument("--filename-tmpl", default="img_%05d",
                      help="filename template of rawframes (printf style)")
  parser.add_argument("--vcodec", default="mpeg4", help="video codec")
  parser.add_argument("--ext", default="mp4", choices=["mp4", "avi"],
                      help="video file extension")
  parser.add_argument("--num-gpu", type=int, default=None, help="not supported (unused)")
  parser.add_argument("--resume", action="store_true",
                      help="skip frame folders whose video exists")
  args = parser.parse_args(argv)
  if args.num_gpu is not None:
    parser.error("--num-gpu: vjax encodes on CPU (MMAction2 never used it); use --num-worker")
  if args.fps <= 0:
    parser.error(f"--fps must be positive, got {args.fps}")
  try:
    args.filename_tmpl % 0
  except (TypeError, ValueError):
    parser.error(f"--filename-tmpl {args.filename_tmpl!r} needs one printf integer field "
                 "such as %05d")
  return args


def frame_sequence(folder: str, tmpl: str, ext: str, start_idx: int) -> list[str]:
  """The frame paths ffmpeg's image2 input reads with ``-start_number start_idx``."""
  def path(i):
    return osp.join(folder, f"{tmpl % i}.{ext}")
  first = next((i for i in range(start_idx, start_idx + START_NUMBER_RANGE)
                if osp.isfile(path(i))), None)
  if first is None:
    raise ValueError(f"no frame {tmpl}.{ext} in {folder} with an index in {start_idx}.."
                     f"{start_idx + START_NUMBER_RANGE - 1}")
  paths, i = [], first
  while osp.isfile(path(i)):
    paths.append(path(i))
    i += 1
  return paths


def output_path(args, folder: str) -> str:
  return osp.join(args.out_dir, f"{_batch.relative(folder, args.level)}.{args.ext}")


def encode_one(args, folder: str) -> str:
  out = output_path(args, folder)
  if args.resume and osp.exists(out):
    return "skipped"
  paths = frame_sequence(folder, args.filename_tmpl, args.in_format, args.start_idx)
  media.frames_to_video(map(_batch.read_rgb, paths), out, args.fps, codec=args.vcodec)
  return "done"


def main(argv=None) -> int:
  args = parse_args(argv)
  folders = [p for p in _batch.find(args.src_dir, args.level) if osp.isdir(p)]
  print(f"Found {len(folders)} frame folders in {args.src_dir}")
  failures = _batch.run(functools.partial(encode_one, args), folders, args.num_worker,
                        "build_videos")
  return 1 if failures else 0


if __name__ == "__main__":
  _batch.run_tool("vjax.tools.build_videos")
