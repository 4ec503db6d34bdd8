"""Metrics out: a JSON-lines log and TensorBoard event files in the workdir (process 0 only);
and what a person sees: the console shows progress bars, warnings and vjax's own messages
(``say``), while every INFO record (vjax's, orbax's, absl's) goes to ``WORKDIR/vjax.log``."""

from __future__ import annotations

import json
import logging as std_logging
import os
import time
from typing import Any, Mapping

import jax
import numpy as np
from absl import logging
from tqdm import tqdm

LOG_FILE = "vjax.log"


def log_to_workdir(workdir: str | None, write: bool = True) -> str | None:
  """Keeps INFO records off the console (absl's stderr handler shows WARNING and above) and,
  when ``write`` (process 0), appends all of them to ``WORKDIR/vjax.log``; returns its path."""
  logging.set_verbosity(logging.INFO)
  logging.get_absl_handler().setLevel(std_logging.WARNING)
  if not (workdir and write):
    return None
  os.makedirs(workdir, exist_ok=True)
  path = os.path.join(os.path.abspath(workdir), LOG_FILE)
  root = std_logging.getLogger()
  if not any(getattr(h, "baseFilename", None) == path for h in root.handlers):
    handler = std_logging.FileHandler(path)
    handler.setLevel(std_logging.INFO)
    handler.setFormatter(logging.PythonFormatter())
    root.addHandler(handler)
  return path


def say(msg: str, *args) -> None:
  """A message for the person at the console (process 0, above any progress bar), also in
  the log file."""
  text = msg % args if args else msg
  logging.info(text)
  if jax.process_index() == 0:
    tqdm.write(text)


def _scalar(v: Any):
  v = np.asarray(v)
  return v.item() if v.size == 1 else v.tolist()


class MetricWriter:
  """``write(step, {'train/loss': ...})`` appends to ``log.jsonl`` and TensorBoard."""

  def __init__(self, workdir: str, enabled: bool | None = None):
    self.enabled = jax.process_index() == 0 if enabled is None else enabled
    self.path = os.path.join(workdir, "log.jsonl")
    self._tb = None
    if self.enabled:
      os.makedirs(workdir, exist_ok=True)
      from tensorboardX import SummaryWriter
      self._tb = SummaryWriter(os.path.join(workdir, "tensorboard"))

  def write(self, step: int, metrics: Mapping[str, Any]):
    if not self.enabled:
      return
    record = {"step": int(step), "time": time.time()}
    record.update({k: _scalar(v) for k, v in metrics.items()})
    with open(self.path, "a") as f:
      f.write(json.dumps(record) + "\n")
    for k, v in record.items():
      if k not in ("step", "time") and isinstance(v, (int, float)):
        self._tb.add_scalar(k, v, int(step))
    self._tb.flush()

  def close(self):
    if self._tb is not None:
      self._tb.close()


def read_log(path: str) -> list[dict]:
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]
