"""The localization configs' synthetic variants through the one trainer, on the tiny
``vjax_synthetic_localization`` preset (16 train, 8 validation videos of 100 x 16 features):
BMN trains and reports AR@AN; BSN's three stages run as documented (TEM train + test writing
its CSVs, ``bsn_proposal_generation`` train and test, PEM train + AR@AN + result JSON)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from tests.conftest import ROOT
from vjax.config import load_config
from vjax.localization import load_csv
from vjax.tools import bsn_proposal_generation

AR_KEYS = ("auc", "AR@1", "AR@5", "AR@10", "AR@100")
TINY = dict(preset="tiny")
FEAT_DIM = 16  # the tiny preset's


def tiny(name: str, data_dir: str, work_dir: str | None = None):
  """``configs/<name>.py:synthetic`` on the tiny preset, one epoch, batches that fit it."""
  c = load_config(f"{ROOT}/configs/{name}.py:synthetic")

  def point(ds):
    ds["builder_config"], ds["data_dir"] = TINY, data_dir

  for split in ("train", "val", "test"):
    if split in c.data:
      for ds in c.data[split].get("datasets") or [c.data[split]]:
        point(ds)
  if "model" in c:
    for key in ("feat_dim", "tem_feat_dim"):
      if key in c.model:
        c.model[key] = FEAT_DIM
    c.total_epochs, c.evaluation.interval = 1, 1
    c.data.videos_per_device, c.data.test_videos_per_device = 2, 1
  if work_dir is not None:
    for key in ("tem_results_dir", "pgm_proposals_dir", "pgm_features_dir"):
      c[key] = os.path.join(work_dir, key.replace("_dir", ""))
  return c


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  return str(tmp_path_factory.mktemp("locsyn"))


def logged(workdir) -> list[dict]:
  return [json.loads(line) for line in open(os.path.join(workdir, "log.jsonl"))]


def test_bmn_synthetic_trains_and_reports_ar_an(data_dir, tmp_path):
  from vjax.train import loop  # pylint: disable=g-import-not-at-top
  c = tiny("bmn_activitynet", data_dir)
  results = loop.train_and_evaluate(c, str(tmp_path))
  assert tuple(results) == AR_KEYS
  assert 0 <= results["AR@1"] <= results["AR@5"] <= results["AR@10"] <= results["AR@100"] <= 1
  assert 0 <= results["auc"] <= 100
  train = [r for r in logged(tmp_path) if "train/loss" in r]
  assert train
  for r in train:  # BMNLoss = TEM + 10 x PEM regression + PEM classification
    np.testing.assert_allclose(
        r["train/loss"], r["train/tem_loss"] + 10 * r["train/pem_reg_loss"] +
        r["train/pem_cls_loss"], rtol=1e-5)
  assert os.listdir(tmp_path / "best")  # kept by AUC


def test_bsn_three_stages(data_dir, tmp_path):
  from vjax.train import loop  # pylint: disable=g-import-not-at-top
  stages = str(tmp_path / "bsn")
  tem = tiny("bsn_tem_activitynet", data_dir, stages)
  tem.test.out = tem.tem_results_dir
  assert loop.train_and_evaluate(tem, str(tmp_path / "tem")) == {}  # TEM has no metric
  logs = logged(tmp_path / "tem")
  train = [r for r in logs if "train/loss" in r]
  np.testing.assert_allclose(train[-1]["train/loss"], train[-1]["train/loss_action"] +
                             train[-1]["train/loss_start"] + train[-1]["train/loss_end"],
                             rtol=1e-5)
  assert any("val/loss" in r for r in logs)  # workflow (train, val): the val loss
  loop.evaluate_only(tem, str(tmp_path / "tem"), "test")
  written = sorted(os.listdir(tem.tem_results_dir))
  assert len(written) == 16 + 8  # the test split is every video
  rows = load_csv(os.path.join(tem.tem_results_dir, written[0]))
  assert rows.shape == (100, 5) and np.all((rows[:, :3] > 0) & (rows[:, :3] < 1))
  np.testing.assert_allclose(rows[:, 3], np.arange(100) / 100, atol=1e-6)

  pgm = tiny("bsn_pgm_activitynet", data_dir, stages)
  dirs = [f"{k}={pgm[k]}" for k in ("tem_results_dir", "pgm_proposals_dir", "pgm_features_dir")]
  data = [f"data.{s}.{k}={v!r}" for s in ("train", "val")
          for k, v in (("builder_config", TINY), ("data_dir", data_dir))]
  # The documented command (a config file and overrides), then the same through run().
  counts = bsn_proposal_generation.main([f"{ROOT}/configs/bsn_pgm_activitynet.py:synthetic",
                                         "--mode", "train", "--cfg-options", *dirs, *data])
  assert counts == {"proposals": 16, "features": 16}
  assert bsn_proposal_generation.run(pgm, "test") == {"proposals": 8, "features": 8}
  assert len(os.listdir(pgm.pgm_proposals_dir)) == len(os.listdir(pgm.pgm_features_dir)) == 24
  name = written[0].replace(".csv", "")
  proposals = load_csv(os.path.join(pgm.pgm_proposals_dir, name + ".csv"))
  features = np.load(os.path.join(pgm.pgm_features_dir, name + ".npy"))
  assert proposals.shape[1] == 7 and np.all(np.diff(proposals[:, 4]) <= 0)  # best first
  assert features.shape == (min(len(proposals), 500), 32)  # train videos: top 500

  pem = tiny("bsn_pem_activitynet", data_dir, stages)
  for split in ("train", "val", "test"):
    load = pem.data[split].pipeline[0]
    assert load["type"] == "LoadProposals"
    load["pgm_proposals_dir"], load["pgm_features_dir"] = (pem.pgm_proposals_dir,
                                                           pem.pgm_features_dir)
  pem.test.out = str(tmp_path / "pem_results.json")
  results = loop.train_and_evaluate(pem, str(tmp_path / "pem"))
  assert tuple(results) == AR_KEYS and 0 <= results["AR@100"] <= 1
  train = [r for r in logged(tmp_path / "pem") if "train/loss" in r]
  assert all(np.isclose(r["train/loss"], r["train/temporal_iou_loss"]) for r in train)
  loop.evaluate_only(pem, str(tmp_path / "pem"), "test")
  saved = json.load(open(pem.test.out))
  assert len(saved["results"]) == 8 and all(
      len(v) <= 100 and all(set(p) == {"score", "segment"} for p in v)
      for v in saved["results"].values())
