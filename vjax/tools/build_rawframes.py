"""Extracts the RGB frames and/or optical flow of a folder of videos as JPEGs (MMAction2's
tools/data/build_rawframes.py), on CPU with PyAV and OpenCV instead of denseflow on GPU.

    python -m vjax.tools.build_rawframes SRC_FOLDER OUT_FOLDER [--task rgb|flow|both]
        [--level 1|2] [--num-worker 8] [--flow-type farn|tvl1] [--ext avi|mp4|webm]
        [--mixed-ext] [--new-width W --new-height H | --new-short S] [--resume]
        [--use-opencv] [--input-frames] [--report-file build_report.txt]

Video ``SRC/[CLASS/]NAME.EXT`` becomes ``OUT/[CLASS/]NAME/`` holding ``img_00001.jpg`` ...
(one per frame) and ``flow_x_00001.jpg`` / ``flow_y_00001.jpg`` ... (flow from frame k to
k + 1, one fewer than frames), numbered from 1 as MMAction2's rawframe lists expect
(``start_index=1``; recent denseflow builds number from 0). Flow is quantised as denseflow
does (``media.quantize_flow``, bound 20). Each finished video's path is appended to
``--report-file``; ``--resume`` skips the videos listed there.

Sizes follow denseflow (``media.resized_size``: ``--new-short`` only shrinks, rounding
the long side); with ``--task rgb --use-opencv`` they follow MMAction2's OpenCV route
instead (the short side always set, the long one floored; ``--new-width/--new-height``
only when both are given). Frames are always decoded with PyAV.

Not available (an error says so): ``--out-format h5|png`` (MMAction2 never passed it on
either: its frames were always JPEGs), ``--num-gpu`` and the CUDA-only flow types
``warp_tvl1`` and ``brox``. ``--flow-type`` is required for flow (MMAction2's default,
None, made denseflow reject every video); 'tvl1' needs opencv-contrib.
"""

from __future__ import annotations

import argparse
import functools
import os
import os.path as osp

import cv2

from vjax.data import media
from vjax.tools import _batch


def parse_args(argv=None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(description="Extract RGB frames and optical flow of videos")
  parser.add_argument("src_dir", help="source video directory")
  parser.add_argument("out_dir", help="output rawframe directory")
  parser.add_argument("--task", default="flow", choices=["rgb", "flow", "both"],
                      help="which type of frames to extract")
  parser.add_argument("--level", type=int, default=2, choices=[1, 2],
                      help="directory level of data")
  parser.add_argument("--num-worker", type=int, default=8, help="number of worker processes")
  parser.add_argument("--flow-type", default=None,
                      choices=[None, "tvl1", "warp_tvl1", "farn", "brox"],
                      help="flow algorithm (vjax: farn, or tvl1 with opencv-contrib)")
  parser.add_argument("--out-format", default="jpg", choices=["jpg", "h5", "png"],
                      help="output format (vjax: jpg only)")
  parser.add_argument("--ext", default="avi", choices=["avi", "mp4", "webm"],
                      help="video file extension")
  parser.add_argument("--mixed-ext", action="store_true",
                      help="process every file of the folders, whatever its extension")
  parser.add_argument("--new-width", type=int, default=0, help="resize image width")
  parser.add_argument("--new-height", type=int, default=0, help="resize image height")
  parser.add_argument("--new-short", type=int, default=0,
                      help="resize the short side to this length keeping the aspect ratio")
  parser.add_argument("--num-gpu", type=int, default=None,
                      help="not supported: vjax extracts on CPU (use --num-worker)")
  parser.add_argument("--resume", action="store_true",
                      help="skip the videos --report-file lists as finished")
  parser.add_argument("--use-opencv", action="store_true",
                      help="--task rgb: size frames as MMAction2's OpenCV route does")
  parser.add_argument("--input-frames", action="store_true",
                      help="compute flow from folders of extracted RGB frames (--task flow)")
  parser.add_argument("--report-file", default="build_report.txt",
                      help="file listing the videos processed successfully")
  args = parser.parse_args(argv)
  if args.out_format != "jpg":
    parser.error(f"--out-format {args.out_format}: vjax writes JPEG frames only (MMAction2 "
                 "never passed this option to denseflow either)")
  if args.num_gpu is not None:
    parser.error("--num-gpu: vjax extracts frames and flow on CPU; use --num-worker")
  flow = args.task in ("flow", "both")
  if flow and args.flow_type is None:
    parser.error(f"--task {args.task} needs --flow-type: 'farn', or 'tvl1' (opencv-contrib)")
  if flow and args.flow_type not in media.FLOW_METHODS:
    parser.error(f"--flow-type {args.flow_type} is CUDA-only in denseflow; vjax computes "
                 f"flow on CPU: use one of {list(media.FLOW_METHODS)}")
  if flow and args.flow_type == "tvl1" and not hasattr(cv2, "optflow"):
    parser.error("--flow-type tvl1 needs OpenCV's contrib modules: pip install "
                 f"opencv-contrib-python-headless=={cv2.__version__} (it replaces "
                 "opencv-python-headless), or use --flow-type farn")
  if args.input_frames and args.task != "flow":
    parser.error("--input-frames computes flow from extracted frames: use it with --task flow")
  if min(args.new_width, args.new_height, args.new_short) < 0:
    parser.error("--new-width, --new-height and --new-short must not be negative")
  return args


def opencv_route_size(height: int, width: int, args) -> tuple[int, int]:
  """(h, w) of MMAction2's ``--use-opencv`` route: ``--new-short`` S sets the short side to
  S (also enlarging) and the long one to ``int(S / short * long)``; otherwise
  ``--new-width x --new-height`` when both are set, else unchanged."""
  s = args.new_short
  if s:
    if width <= height:
      return int((s / width) * height), s
    return s, int((s / height) * width)
  if args.new_width and args.new_height:
    return args.new_height, args.new_width
  return height, width


def target_size(height: int, width: int, args) -> tuple[int, int]:
  if args.use_opencv and args.task == "rgb":
    return opencv_route_size(height, width, args)
  if args.new_short:  # MMAction2 passes only -ns then
    return media.resized_size(height, width, short_side=args.new_short)
  return media.resized_size(height, width, size=(args.new_width, args.new_height))


def frame_files(folder: str) -> list[str]:
  """The JPEG frames of a folder, in name order, as denseflow's ``--if`` reads them (any
  ``*.jpg``, but not flow images an earlier run left there)."""
  names = sorted(n for n in os.listdir(folder) if n.endswith(".jpg")
                 and not n.startswith(("flow_x_", "flow_y_")))
  if not names:
    raise ValueError(f"{folder} holds no .jpg frames")
  return [osp.join(folder, n) for n in names]


def output_dir(out_root: str, path: str, level: int) -> str:
  """``OUT/[CLASS/]NAME`` for ``SRC/[CLASS/]NAME.EXT`` (or the frame folder NAME)."""
  rel = _batch.relative(path, level)
  return osp.join(out_root, osp.dirname(rel), osp.splitext(osp.basename(rel))[0])


def _write(path: str, data: bytes) -> None:
  with open(path, "wb") as f:
    f.write(data)


def extract(args, path: str) -> str:
  """Writes the frames and/or flow of one video (or frame folder); returns 'done'."""
  out = output_dir(args.out_dir, path, args.level)
  os.makedirs(out, exist_ok=True)
  frames = (map(_batch.read_rgb, frame_files(path)) if args.input_frames
            else media.iter_frames(path))
  rgb, flow = args.task in ("rgb", "both"), args.task in ("flow", "both")
  hw, prev, n = None, None, 0
  for n, frame in enumerate(frames, 1):
    if hw is None:
      hw = target_size(frame.shape[0], frame.shape[1], args)
    if rgb:
      _write(osp.join(out, f"img_{n:05d}.jpg"), media.encode_jpeg(media.resize(frame, hw)))
    if flow:  # denseflow converts to gray, then resizes
      gray = media.resize(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), hw)
      if prev is not None:
        fx, fy = media.flow_to_jpegs(media.optical_flow(prev, gray, args.flow_type))
        _write(osp.join(out, f"flow_x_{n - 1:05d}.jpg"), fx)
        _write(osp.join(out, f"flow_y_{n - 1:05d}.jpg"), fy)
      prev = gray
  if n == 0:
    raise ValueError(f"{path} gave no frames")
  return "done"


def find_inputs(args) -> list[str]:
  if args.input_frames:
    return [p for p in _batch.find(args.src_dir, args.level) if osp.isdir(p)]
  return _batch.find(args.src_dir, args.level, None if args.mixed_ext else args.ext)


def main(argv=None) -> int:
  args = parse_args(argv)
  items = find_inputs(args)
  what = "frame folders" if args.input_frames else "videos"
  print(f"Found {len(items)} {what} in {args.src_dir}")
  if args.resume:
    done = _batch.read_done(args.report_file)
    items = [p for p in items if p not in done]
    print(f"Resuming: {len(items)} left after those listed in {args.report_file}")

  def record(item: str, status: str) -> None:
    with open(args.report_file, "a") as f:
      f.write(item + "\n")

  os.makedirs(args.out_dir, exist_ok=True)
  failures = _batch.run(functools.partial(extract, args), items, args.num_worker,
                        f"build_rawframes ({args.task})", on_done=record)
  return 1 if failures else 0


if __name__ == "__main__":
  _batch.run_tool("vjax.tools.build_rawframes")
