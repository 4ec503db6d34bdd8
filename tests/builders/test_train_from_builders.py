"""Two training steps read from a built dataset, in each file format: the trainer's data path
(TFDSDataset -> pipeline -> grain) over what the builders write."""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import ROOT
from vjax.config import load_config
from vjax.train import loop


@pytest.mark.parametrize("file_format", ["array_record", "tfrecord"])
def test_two_steps_from_a_built_dataset(built, file_format, tmp_path):
  c = load_config(f"{ROOT}/configs/tsn_k400.py:synthetic")
  for split, name in (("train", "train"), ("val", "val"), ("test", "val")):
    c.data[split] = dict(c.data[split].to_dict(), name="mmaction_list", split=name,
                         data_dir=built[file_format], builder_config="frames_340x256",
                         prepare=False)
  # 3 training videos, repeated to fill a global batch of 8 (8 simulated devices) twice.
  c.data.train = dict(type="RepeatDataset", times=6, dataset=c.data.train.to_dict())
  c.data.videos_per_device, c.data.test_videos_per_device = 1, 1
  c.total_epochs, c.log_config.interval = 1, 1
  c.evaluation.interval = 1
  workdir = str(tmp_path / "work")
  loop.train_and_evaluate(c, workdir)
  with open(os.path.join(workdir, "log.jsonl")) as f:
    logs = [json.loads(line) for line in f]
  losses = [r["train/loss"] for r in logs if "train/loss" in r]
  assert len(losses) == 2 and all(0 < l < 100 for l in losses)  # two real, finite steps
  assert any("val/top1_acc" in r for r in logs)
