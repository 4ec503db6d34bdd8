"""MMAction2's runtime options in the trainer: ``evaluation.start``, iteration-based and
time-based checkpoints, ``resume_from`` (another run's whole train state, continuing exactly)
and testing the best or last checkpoint after training. In-process, on the tiny synthetic
videos with a narrow TSN (one compile per run)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from tests.conftest import ROOT
from vjax.config import load_config
from vjax.data import prepare_synthetic
from vjax.train import loop


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  root = str(tmp_path_factory.mktemp("tfds"))
  prepare_synthetic(root, "tiny")
  return root


def tiny_tsn(data_dir, arg="synthetic", **overrides):
  """tsn_k400:synthetic (or another ``arg``) on the tiny preset: 24 videos, 8 per global
  batch = 3 steps/epoch."""
  c = load_config(f"{ROOT}/configs/tsn_k400.py:{arg}")
  for split in ("train", "val", "test"):
    c.data[split].data_dir = data_dir
    c.data[split].builder_config = dict(preset="tiny")
  c.data.videos_per_device, c.data.test_videos_per_device = 1, 1  # x 8 test devices
  c.log_config.interval = 1
  c.evaluation.interval = 1
  for key, value in overrides.items():
    target = c
    *path, last = key.split(".")
    for p in path:
      target = target[p]
    target[last] = value
  return c


def records(workdir):
  with open(os.path.join(workdir, "log.jsonl")) as f:
    return [json.loads(line) for line in f]


def steps(workdir, sub="checkpoints"):
  return sorted(int(d) for d in os.listdir(os.path.join(workdir, sub)) if d.isdigit())


def test_should_evaluate_follows_mmcv():
  assert [e for e in range(1, 10) if loop.should_evaluate(e, 2, 0)] == [2, 4, 6, 8]
  assert [e for e in range(1, 10) if loop.should_evaluate(e, 2, 3)] == [3, 5, 7, 9]
  assert [e for e in range(1, 10) if loop.should_evaluate(e, 1, 4)] == [4, 5, 6, 7, 8, 9]


def test_evaluation_start_and_iteration_checkpoints(data_dir, tmp_path):
  workdir = str(tmp_path)
  c = tiny_tsn(data_dir, total_epochs=3, **{"evaluation.start": 2,
                                            "checkpoint_config.by_epoch": False,
                                            "checkpoint_config.interval": 2,
                                            "checkpoint_config.max_to_keep": 10})
  loop.train_and_evaluate(c, workdir)
  evaluated = [r["step"] for r in records(workdir) if "val/top1_acc" in r]
  assert evaluated == [6, 9]  # epochs 2 and 3 (3 steps each); none after epoch 1
  assert steps(workdir) == [2, 4, 6, 8, 9]  # every 2 iterations, and the last


def test_time_based_saves_at_log_intervals(data_dir, tmp_path):
  workdir = str(tmp_path)
  c = tiny_tsn(data_dir, total_epochs=1, **{"checkpoint_config.save_every_minutes": 1e-9,
                                            "checkpoint_config.interval": 5,
                                            "checkpoint_config.max_to_keep": 10})
  loop.train_and_evaluate(c, workdir)
  assert steps(workdir) == [1, 2, 3]  # the period has always passed at each logged step


def test_resume_from_continues_another_run_exactly(data_dir, tmp_path):
  straight, first, resumed = (str(tmp_path / d) for d in ("straight", "first", "resumed"))
  loop.train_and_evaluate(tiny_tsn(data_dir, total_epochs=2), straight)
  loop.train_and_evaluate(tiny_tsn(data_dir, total_epochs=1), first)
  c = tiny_tsn(data_dir, total_epochs=2, resume_from=os.path.join(first, "checkpoints", "3"))
  loop.train_and_evaluate(c, resumed)

  def losses(workdir):
    return {r["step"]: r["train/loss"] for r in records(workdir) if "train/loss" in r}

  assert sorted(losses(resumed)) == [4, 5, 6]  # it continued from step 3
  # The same steps as the uninterrupted run: params, optimizer, RNG and data position.
  np.testing.assert_array_equal([losses(resumed)[s] for s in (4, 5, 6)],
                                [losses(straight)[s] for s in (4, 5, 6)])
  with pytest.raises(FileNotFoundError, match="not a checkpoint step directory"):
    loop.train_and_evaluate(tiny_tsn(data_dir, resume_from=first), str(tmp_path / "bad"))


def test_test_best_and_last_after_training(data_dir, tmp_path):
  workdir = str(tmp_path)
  c = tiny_tsn(data_dir, total_epochs=2)
  loop.train_and_evaluate(c, workdir)
  best, last = loop.checkpoint_dir(workdir, "best"), loop.checkpoint_dir(workdir, "last")
  assert last == os.path.join(workdir, "checkpoints", "6")
  assert os.path.dirname(best) == os.path.join(workdir, "best")
  results = loop.evaluate_only(c, workdir, split="test", checkpoint=last)
  assert set(results) == {"top1_acc", "top5_acc", "mean_class_accuracy"}
  with pytest.raises(FileNotFoundError, match="no best checkpoint"):
    loop.checkpoint_dir(str(tmp_path / "empty"), "best")
