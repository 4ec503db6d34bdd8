"""What the media-preparation tools (build_rawframes, resize_videos, extract_audio,
build_audio_features, build_videos) share: finding inputs as MMAction2's tools glob them,
running one job per input over worker processes with a progress bar, and the closing report.

A job is a picklable ``fn(path)`` that returns 'done' or 'skipped' (already there) or
raises; one failing input never stops the others. Workers are ``check_videos``'s processes
(a fork server, and a crashed worker costs only its own input). A tool run as
``python -m`` hands its jobs over by module name (``run_tool``), so workers can import them.
"""

from __future__ import annotations

import collections
import functools
import glob
import importlib
import os.path as osp
import sys
from typing import Callable, Sequence

import numpy as np

from vjax.data.media import atomic_output
from vjax.data.ops_decode import decode_jpeg_rgb
from vjax.tools.check_videos import CrashedTask, run_in_processes


def find(root: str, level: int, ext: str | None = None) -> list[str]:
  """The entries ``level`` folders below ``root`` (ending in ``.ext`` when given), sorted:
  MMAction2's ``glob(root + '/*' * level + '.' + ext)``, hidden names skipped as glob does."""
  if level < 1:
    raise ValueError(f"--level must be >= 1, got {level}")
  return sorted(glob.glob(root + "/*" * level + (f".{ext}" if ext else "")))


def relative(path: str, level: int) -> str:
  """The last ``level`` components of ``path`` (``class/video.mp4`` at level 2): where its
  output goes below the output folder."""
  parts = osp.normpath(path).split(osp.sep)
  return osp.join(*parts[-level:])


def write_bytes(path: str, data: bytes) -> None:
  """Writes ``data`` to ``path`` atomically (``media.atomic_output``)."""
  with atomic_output(path) as tmp:
    with open(tmp, "wb") as f:
      f.write(data)


def read_rgb(path: str) -> np.ndarray:
  """An image file (JPEG, PNG) as RGB uint8; ValueError naming it when it does not decode."""
  with open(path, "rb") as f:
    return decode_jpeg_rgb(f.read(), f"frame {path}")


def read_done(report_file: str) -> set[str]:
  """The paths a report file lists as finished (first word of each non-empty line, as
  MMAction2's ``--resume`` reads it); none when it does not exist yet."""
  if not osp.exists(report_file):
    return set()
  with open(report_file) as f:
    return {line.split()[0] for line in f if line.strip()}


def _attempt(fn: Callable[[str], str | None], item: str) -> tuple[str, str, str | None]:
  """(item, 'done' | 'skipped' | 'failed', error)."""
  try:
    return item, fn(item) or "done", None
  except Exception as e:  # pylint: disable=broad-except  # One bad input must not stop the rest.
    return item, "failed", f"{type(e).__name__}: {e}"


def run(fn: Callable[[str], str | None], items: Sequence[str], num_workers: int, desc: str,
        on_done: Callable[[str, str], None] | None = None) -> list[tuple[str, str]]:
  """Runs ``fn`` on every item (in ``num_workers`` processes; in this one when <= 1) under a
  tqdm progress bar; calls ``on_done(item, status)`` here, in completion order, for each
  success; prints a summary and every failure. Returns [(item, error)] of the failures."""
  from tqdm import tqdm  # pylint: disable=g-import-not-at-top
  job = functools.partial(_attempt, fn)
  items = list(items)
  if num_workers <= 1 or len(items) <= 1:
    outcomes = map(job, items)
  else:
    outcomes = run_in_processes(job, items, min(num_workers, len(items)))
  counts, failures = collections.Counter(), []
  for outcome in tqdm(outcomes, total=len(items), desc=desc, unit="item"):
    if isinstance(outcome, CrashedTask):
      outcome = (outcome.task, "failed", "its worker process crashed (a decoder fault?)")
    item, status, error = outcome
    counts[status] += 1
    if status == "failed":
      failures.append((item, error))
    elif on_done is not None:
      on_done(item, status)
  print(f"{desc}: {counts['done']} done, {counts['skipped']} skipped (already there), "
        f"{len(failures)} failed")
  for item, error in sorted(failures):
    print(f"FAILED {item}: {error}", file=sys.stderr)
  return failures


def run_tool(module: str) -> None:
  """``if __name__ == '__main__'`` of a tool: runs ``module.main()`` from the module imported
  under its own name (not ``__main__``, which worker processes cannot import) and exits
  with its status."""
  sys.exit(importlib.import_module(module).main())
