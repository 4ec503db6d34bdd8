"""Multi-host training, as a user launches it: two local processes started by
``launch/local_multiprocess.sh`` (``--distributed --coordinator --num_processes
--process_id``), one CPU device each, train with the same global batch as one process with
two devices and log the same losses, bit for bit. The process boundary is the point here."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import FAST_COMPILE_XLA_FLAGS, ROOT


def overrides(data_dir):
  out = ["--config.data.videos_per_device=4", "--config.data.test_videos_per_device=4",
         "--config.total_epochs=1", "--config.log_config.interval=1"]
  for split in ("train", "val", "test"):
    out += [f"--config.data.{split}.data_dir={data_dir}",
            f"--config.data.{split}.builder_config.preset=tiny"]
  return out


def env():
  e = dict(os.environ, JAX_PLATFORMS="cpu")
  e["XLA_FLAGS"] = FAST_COMPILE_XLA_FLAGS
  e["PATH"] = os.path.dirname(sys.executable) + os.pathsep + e.get("PATH", "")
  return e


def losses(workdir):
  with open(os.path.join(workdir, "log.jsonl")) as f:
    return [(r["step"], r["train/loss"]) for r in map(json.loads, f) if "train/loss" in r]


def test_two_processes_train_like_one(tmp_path):
  data_dir = str(tmp_path / "tfds")
  config = "--config=configs/tsn_k400.py:synthetic"
  one = subprocess.run(
      [sys.executable, "-m", "vjax.main", config, f"--workdir={tmp_path / 'one'}",
       *overrides(data_dir)], cwd=ROOT, env=dict(env(), JAX_NUM_CPU_DEVICES="2"),
      capture_output=True, text=True, timeout=600)
  assert one.returncode == 0, one.stderr[-3000:]
  two = subprocess.run(
      ["bash", "launch/local_multiprocess.sh", "--num-processes=2", "--devices-per-process=1",
       config, f"--workdir={tmp_path / 'two'}", "--", *overrides(data_dir)],
      cwd=ROOT, env=env(), capture_output=True, text=True, timeout=600)
  assert two.returncode == 0, two.stdout[-3000:] + two.stderr[-3000:]
  expected = losses(tmp_path / "one")
  assert [s for s, _ in expected] == [1, 2, 3]
  assert losses(tmp_path / "two") == expected  # same global batches, same sync BatchNorm
  # Process 0 alone writes logs; both took part in the checkpoint.
  assert "Final val results" in two.stdout
  assert os.listdir(tmp_path / "two" / "checkpoints") == ["3"]
