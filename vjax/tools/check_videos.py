"""Lists the missing or undecodable videos of a config's split (MMAction2's check_videos.py).

    python -m vjax.tools.check_videos --config=configs/my_videos.py[:arg] [--split train|val|test]
        [--decoder pyav|decord|opencv] [--num-processes N] [--output-file invalid-video.txt]
        [--remove-corrupted-videos] [--cfg-options data.train.data_prefix=...]

The split must list video files (``VideoDataset``, possibly inside ``RepeatDataset`` /
``ConcatDataset``). Each distinct file is opened and decoded with the decoder's
``<Decoder>Init`` and ``<Decoder>Decode`` ops (its first, last and three random frames,
seeded by the file's position, so reruns agree). The paths that fail go to
``--output-file``, one per line (the file is written even when empty); regenerate the
annotation lists without them afterwards. ``--remove-corrupted-videos`` also deletes them.
The config may also be given positionally, as in MMAction2. vjax's default decoder is
``pyav``, which it always installs (MMAction2 defaults to decord).
"""

from __future__ import annotations

import argparse
import importlib
import multiprocessing
import os
import sys
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, NamedTuple, Sequence

import numpy as np

# Decoder name -> (pipeline op prefix, module the ops import).
DECODERS = {"pyav": ("PyAV", "av"), "decord": ("Decord", "decord"), "opencv": ("OpenCV", "cv2")}


class CheckFrames:
  """Selects the first, the last and three random frames: the ones most likely to expose a
  broken file (bad header, truncated tail, damaged middle)."""

  def __call__(self, results: dict, rng: np.random.Generator) -> dict:
    total = int(results["total_frames"])
    if total <= 0:
      raise ValueError(f"the video reports {total} frames")
    inds = [0, total - 1]
    if total > 2:
      inds += rng.integers(1, total - 1, size=3).tolist()
    results["frame_inds"] = np.asarray(inds, np.int64) + results.get("start_index", 0)
    return results


def check_pipeline(decoder: str) -> list:
  """The decoder's Init / CheckFrames / Decode pipeline; ValueError if it is unavailable."""
  from vjax.data import PIPELINES  # pylint: disable=g-import-not-at-top
  prefix, module = DECODERS[decoder]
  ops = [f"{prefix}Init", f"{prefix}Decode"]
  absent = [op for op in ops if op not in PIPELINES]
  if absent:
    present = [d for d, (p, _) in DECODERS.items() if f"{p}Init" in PIPELINES]
    raise ValueError(f"--decoder {decoder}: vjax has no {' / '.join(absent)} pipeline op; "
                     f"use one of {present}")
  try:
    importlib.import_module(module)
  except ImportError as e:
    raise ValueError(f"--decoder {decoder} needs the '{module}' package ({e}); install it or "
                     "use --decoder pyav") from None
  return [dict(type=ops[0]), CheckFrames(), dict(type=ops[1])]


def distinct_videos(source) -> list[dict]:
  """The first sample of each distinct video file, in order (wrappers repeat files)."""
  videos = {}
  for i in range(len(source)):
    item = source[i]
    if "filename" not in item:
      raise ValueError(f"check_videos needs a split of video files (VideoDataset); sample "
                       f"{i} of {type(source).__name__} has no 'filename' (keys {sorted(item)})")
    videos.setdefault(item["filename"], item)
  return list(videos.values())


_worker_pipeline = None


def _init_worker(decoder: str) -> None:
  global _worker_pipeline
  from vjax.data import Compose  # pylint: disable=g-import-not-at-top
  _worker_pipeline = Compose(check_pipeline(decoder))


def _check(task: tuple[int, dict]) -> tuple[int, str | None]:
  """(position, sample) -> (position, None if it decodes else the error)."""
  position, results = task
  try:
    _worker_pipeline(results, np.random.default_rng([position]))
    return position, None
  except Exception as e:  # pylint: disable=broad-except  # Any failure marks the file bad.
    return position, f"{type(e).__name__}: {e}"
  finally:
    reader = results.get("video_reader")
    release = getattr(reader, "close", None) or getattr(reader, "release", None)
    if release is not None:
      release()


def _executor(workers: int, initializer, initargs) -> ProcessPoolExecutor:
  # Not plain fork: decoders and JAX run threads, and forking a process that holds them can
  # hang. The fork server is a clean process that imports vjax once for all workers.
  ctx = multiprocessing.get_context("forkserver")
  ctx.set_forkserver_preload(["vjax.data", __name__])
  return ProcessPoolExecutor(workers, mp_context=ctx, initializer=initializer, initargs=initargs)


class CrashedTask(NamedTuple):
  """A task whose worker process died (``run_in_processes``)."""
  task: Any


def run_in_processes(fn, tasks: Sequence, workers: int, initializer=None, initargs=()):
  """Yields ``fn(task)`` for each task, in completion order, from ``workers`` processes.

  A worker that dies (a decoder crashing on a broken file) must not hang the run, as
  it would with ``multiprocessing.Pool``: at most ``workers`` tasks are in flight, so
  after a crash only those are suspects; each is rerun alone, and one that kills its
  process again is yielded as ``CrashedTask(task)``. The other tasks go on in a fresh pool.
  """
  todo = list(reversed(tasks))
  while todo:
    suspects = []
    with _executor(workers, initializer, initargs) as pool:
      running = {}
      try:
        while todo or running:
          while todo and len(running) < workers:
            task = todo.pop()
            running[pool.submit(fn, task)] = task
          done, _ = wait(running, return_when=FIRST_COMPLETED)
          for future in done:
            result = future.result()
            del running[future]
            yield result
      except BrokenProcessPool:
        suspects = list(running.values())
    for task in suspects:
      with _executor(1, initializer, initargs) as pool:
        try:
          yield pool.submit(fn, task).result()
        except BrokenProcessPool:
          yield CrashedTask(task)


def find_corrupted(videos: Sequence[dict], decoder: str, num_processes: int = 1,
                   progress: bool = False) -> dict[str, str]:
  """Path -> error for each video that ``decoder`` cannot open and decode, in ``videos`` order."""
  from tqdm import tqdm  # pylint: disable=g-import-not-at-top
  tasks = [(i, dict(v)) for i, v in enumerate(videos)]
  if num_processes <= 1:
    _init_worker(decoder)
    outcomes = map(_check, tasks)
  else:
    outcomes = run_in_processes(_check, tasks, num_processes, _init_worker, (decoder,))
  errors = {}
  for outcome in tqdm(outcomes, total=len(tasks), desc="check videos", disable=not progress,
                      file=sys.stdout):
    if isinstance(outcome, CrashedTask):
      outcome = (outcome.task[0], "the decoder crashed its worker process")
    position, error = outcome
    if error is not None:
      errors[position] = error
  return {videos[p]["filename"]: errors[p] for p in sorted(errors)}


def remove_files(paths: Sequence[str]) -> int:
  """Deletes the paths that exist; returns how many were deleted."""
  removed = 0
  for path in paths:
    if os.path.isfile(path):
      os.remove(path)
      removed += 1
  return removed


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description="Find corrupted or missing videos of a split")
  parser.add_argument("config_path", nargs="?", metavar="CONFIG",
                      help="vjax config file, optionally path:arg (or use --config)")
  parser.add_argument("--config", help="vjax config file, optionally path:arg")
  parser.add_argument("--cfg-options", nargs="+", default=None,
                      help="config overrides key=value, e.g. data.train.data_prefix=/data/videos")
  parser.add_argument("--output-file", default="invalid-video.txt",
                      help="where to write the corrupted/missing video paths")
  parser.add_argument("--split", default="train", choices=["train", "val", "test"])
  parser.add_argument("--decoder", default="pyav", choices=sorted(DECODERS))
  parser.add_argument("--num-processes", type=int, default=max(os.cpu_count() - 1, 1))
  parser.add_argument("--remove-corrupted-videos", action="store_true",
                      help="delete the corrupted videos after listing them")
  args = parser.parse_args(argv)
  if bool(args.config) == bool(args.config_path):
    parser.error("give the config once: CONFIG or --config=CONFIG")
  args.config = args.config or args.config_path
  return args


def main(argv=None) -> dict[str, str]:
  """Runs the check; returns path -> error of the corrupted videos."""
  from vjax.config import load_config  # pylint: disable=g-import-not-at-top
  from vjax.data import sources  # pylint: disable=g-import-not-at-top
  # pylint: disable-next=g-import-not-at-top
  from vjax.tools.eval_metric import apply_cfg_options, split_pairs
  args = parse_args(argv)
  config = load_config(args.config)
  apply_cfg_options(config, split_pairs(args.cfg_options, "--cfg-options"))
  if args.split not in config.data:
    raise ValueError(f"{args.config} has no data.{args.split}")
  check_pipeline(args.decoder)  # Fails here, not once per video, if the decoder is missing.
  source, _ = sources.build_split(config.data[args.split])
  videos = distinct_videos(source)
  if os.path.exists(args.output_file):
    os.remove(args.output_file)  # A stale list from an earlier run must not survive a crash.
  corrupted = find_corrupted(videos, args.decoder, args.num_processes,
                             progress=sys.stdout.isatty())
  with open(args.output_file, "w") as f:
    f.writelines(f"{path}\n" for path in corrupted)
  for path, error in corrupted.items():
    print(f"{path}: {error}")
  if corrupted:
    print(f"Checked {len(videos)} videos, {len(corrupted)} are corrupted/missing; list in "
          f"{args.output_file}.")
  else:
    print(f"Checked {len(videos)} videos, none are corrupted/missing.")
  if args.remove_corrupted_videos and corrupted:
    print(f"Deleted {remove_files(list(corrupted))} corrupted videos.")
  return corrupted


if __name__ == "__main__":
  try:
    main(sys.argv[1:])
  except (FileNotFoundError, KeyError, ValueError) as e:
    sys.exit(f"error: {e}")
