"""Extracts the audio track of a folder of videos to WAV files (MMAction2's
tools/data/extract_audio.py), with PyAV instead of the ffmpeg command line.

    python -m vjax.tools.extract_audio ROOT DST_ROOT [--level 2] [--ext avi|mp4|webm]
        [--num-workers 8]

``ROOT/[CLASS/]NAME.EXT`` becomes ``DST_ROOT/[CLASS/]NAME.wav``: the first audio stream as
16-bit PCM at its own sample rate and channels (``ffmpeg -i VIDEO -map 0:a NAME.wav``;
``media.extract_wav``). A WAV that exists already is kept, as in MMAction2. Videos without
an audio stream are reported as failed (MMAction2's ffmpeg call failed on them silently)
and, as in MMAction2, appended to ``extract_wav_err_file.txt`` in the current folder;
``LoadAudioFeature`` / ``AudioDecodeInit`` stand in for their missing audio.
"""

from __future__ import annotations

import argparse
import functools
import os.path as osp

from vjax.data import media
from vjax.tools import _batch

ERROR_FILE = "extract_wav_err_file.txt"


def parse_args(argv=None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(description="Extract audios")
  parser.add_argument("root", help="source video directory")
  parser.add_argument("dst_root", help="output audio directory")
  parser.add_argument("--level", type=int, default=2, help="directory level of data")
  parser.add_argument("--ext", default="mp4", choices=["avi", "mp4", "webm"],
                      help="video file extension")
  parser.add_argument("--num-workers", type=int, default=8, help="number of worker processes")
  return parser.parse_args(argv)


def output_path(args, path: str) -> str:
  rel_dir = osp.relpath(osp.dirname(path), args.root)
  return osp.join(args.dst_root, rel_dir, osp.splitext(osp.basename(path))[0] + ".wav")


def extract_one(args, path: str) -> str:
  out = output_path(args, path)
  if osp.exists(out):
    return "skipped"
  media.extract_wav(path, out)
  return "done"


def main(argv=None) -> int:
  args = parse_args(argv)
  items = _batch.find(args.root, args.level, args.ext)
  print(f"Found {len(items)} videos (.{args.ext}) in {args.root}")
  failures = _batch.run(functools.partial(extract_one, args), items, args.num_workers,
                        "extract_audio")
  if failures:
    with open(ERROR_FILE, "a+") as f:
      f.writelines(f"{item}\n" for item, _ in failures)
  return 1 if failures else 0


if __name__ == "__main__":
  _batch.run_tool("vjax.tools.extract_audio")
