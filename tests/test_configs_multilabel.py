"""The multi-label configs: MMiT (tsn_mmit) and HVU (tsn_hvu) hold MMAction2's models and
schedules (compared with MMAction2's own config files, converted, when the mmaction2 package
is installed), run as the ``multilabel`` task, and their synthetic variants train and
evaluate end to end through the trainer on the tiny synthetic tag data."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from tests.conftest import ROOT
from tests.convert.test_shipped_configs import ROOT as MM_CONFIGS
from vjax.config import load_config
from vjax.convert.mmaction2_config import load_any_config
from vjax.tasks import build_task

needs_mmaction2 = pytest.mark.skipif(MM_CONFIGS is None,
                                     reason="mmaction2==0.24.1 config files not installed")


def config(arg: str, name: str):
  return load_config(f"{ROOT}/configs/{name}.py" + (f":{arg}" if arg else ""))


def mmaction2(path: str):
  return load_any_config(os.path.join(MM_CONFIGS, "recognition/tsn", path))


@needs_mmaction2
@pytest.mark.parametrize("vjax_arg,mm_file", [
    ("", "tsn_r101_1x1x5_50e_mmit_rgb.py"),
    *[(c, f"hvu/tsn_r18_1x1x8_100e_hvu_{c}_rgb.py")
      for c in ("action", "attribute", "concept", "event", "object", "scene")],
])
def test_full_configs_equal_mmaction2s(vjax_arg, mm_file):
  name = "tsn_mmit" if "mmit" in mm_file else "tsn_hvu"
  ours, theirs = config(vjax_arg, name), mmaction2(mm_file)
  assert ours.model.to_dict() == theirs.model.to_dict()
  for key in ("optimizer", "optimizer_config", "lr_config"):
    assert ours[key].to_dict() == theirs[key].to_dict(), key
  assert ours.total_epochs == theirs.total_epochs
  assert list(ours.evaluation.metrics) == list(theirs.evaluation.metrics)
  assert ours.evaluation.interval == theirs.evaluation.interval
  assert ours.data.videos_per_device == theirs.data.videos_per_device
  for split in ("train", "val", "test"):
    a, b = ours.data[split].to_dict(), theirs.data[split].to_dict()
    assert [op["type"] for op in a.pop("pipeline")] == [
        op["type"] for op in b.pop("pipeline") if op["type"] != "ToTensor"], split
    assert a == b, split
  assert ours.data.img_norm_cfg.to_dict() == theirs.data.img_norm_cfg.to_dict()
  assert build_task(ours).name == build_task(theirs).name == "multilabel"


def test_whole_hvu_variant_uses_hvu_loss_masks_and_per_category_map():
  c = config("all", "tsn_hvu")
  loss = c.model.cls_head.loss_cls
  assert loss.type == "HVULoss" and loss.with_mask and loss.loss_type == "all"
  assert list(loss.categories) == ["action", "attribute", "concept", "event", "object", "scene"]
  assert c.model.cls_head.num_classes == sum(loss.category_nums) == 3142
  assert c.data.train.type == "HVUDataset"
  assert list(c.data.train.tag_category_nums) == list(loss.category_nums)
  ops = [op["type"] for op in c.data.train.pipeline]
  assert ops[1] == "LoadHVULabel" and list(c.data.train.pipeline[-1]["keys"]) == [
      "imgs", "label", "mask", "category_mask"]
  task = build_task(c)
  (hvu,) = task.evaluators(list(c.evaluation.metrics))
  assert type(hvu).__name__ == "HVUCategoryMAP" and hvu.categories == tuple(loss.categories)
  with pytest.raises(ValueError, match="whole-HVU"):
    config("object,synthetic", "tsn_hvu")


@pytest.fixture(scope="module")
def tag_data(tmp_path_factory):
  return str(tmp_path_factory.mktemp("tags"))


@pytest.mark.parametrize("name,expected", [
    ("tsn_mmit", ("mmit_mean_average_precision", "mean_average_precision")),
    ("tsn_hvu", ("attribute_mAP", "object_mAP", "scene_mAP")),
])
def test_synthetic_variant_trains_and_evaluates(name, expected, tag_data, tmp_path):
  from vjax.train import loop  # pylint: disable=g-import-not-at-top
  c = config("synthetic", name)
  for split in ("train", "val", "test"):
    c.data[split].data_dir = tag_data
    c.data[split].builder_config = c.data[split].builder_config.replace("_small", "_tiny")
  c.total_epochs, c.evaluation.interval = 1, 1
  # 8 test devices x 2 = the 16 tiny training videos; the 8 val videos pad a batch of 16.
  c.data.videos_per_device, c.data.test_videos_per_device = 2, 2
  results = loop.train_and_evaluate(c, str(tmp_path))
  assert tuple(results) == expected
  assert all(0.0 <= v <= 1.0 for v in results.values()), results
  logs = [json.loads(line) for line in open(tmp_path / "log.jsonl")]
  train = [r for r in logs if "train/loss" in r]
  assert train and all(np.isclose(r["train/loss"], r["train/loss_cls"]) for r in train)
  assert "train/top1_acc" not in train[0]  # no accuracy for multi-class heads, as MMAction2
  assert [r[f"val/{k}"] for r in logs if f"val/{expected[0]}" in r for k in expected[:1]] == [
      results[expected[0]]]
