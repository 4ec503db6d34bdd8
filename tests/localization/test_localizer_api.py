"""``vjax.inference.init_localizer`` on every localization config MMAction2 0.24.1 ships (no
data present), the conversion of those configs (variable fields padded, output_config,
BSN's folders), and the single-video ``predict`` of BMN, TEM, PEM and BSN's PGM stage against
the functions it chains (network, then ``vjax.localization``'s MMAction2-parity
post-processing)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tests.convert.test_shipped_configs import ROOT as MM_CONFIGS
from vjax.convert.mmaction2_config import load_any_config
from vjax.inference import Localizer, ProposalGenerationModule, init_localizer
from vjax.localization import (bmn_candidate_proposals, bsp_features, candidate_proposals,
                               pem_proposals, post_processing)

needs_mmaction2 = pytest.mark.skipif(MM_CONFIGS is None,
                                     reason="mmaction2==0.24.1 config files not installed")
SHIPPED = {
    "bmn": "localization/bmn/bmn_400x100_2x8_9e_activitynet_feature.py",
    "tem": "localization/bsn/bsn_tem_400x100_1x16_20e_activitynet_feature.py",
    "pgm": "localization/bsn/bsn_pgm_400x100_activitynet_feature.py",
    "pem": "localization/bsn/bsn_pem_400x100_1x16_20e_activitynet_feature.py",
}
META = dict(video_name="v_demo", duration_second=30.0, duration_frame=900, feature_frame=896)


def shipped(name):
  return os.path.join(MM_CONFIGS, SHIPPED[name])


@pytest.fixture(scope="module")
def localizers():
  if MM_CONFIGS is None:
    pytest.skip("mmaction2==0.24.1 config files not installed")
  return {name: init_localizer(shipped(name)) for name in SHIPPED}


@needs_mmaction2
def test_every_shipped_localization_config_is_covered():
  root = os.path.join(MM_CONFIGS, "localization")
  found = sorted(os.path.relpath(os.path.join(d, f), MM_CONFIGS)
                 for d, _, files in os.walk(root) for f in files if f.endswith(".py"))
  ssn = [f for f in found if "/ssn/" in f]
  assert sorted(set(found) - set(ssn)) == sorted(SHIPPED.values())
  assert len(ssn) == 2  # tests/localization/test_ssn.py initialises these


@needs_mmaction2
def test_conversion_pads_variable_fields_and_keeps_bsn_settings():
  bmn = load_any_config(shipped("bmn"))
  train = [op["type"] for op in bmn.data.train.pipeline]
  assert train == ["LoadLocalizationFeature", "GenerateLocalizationLabels", "PadTo", "Collect",
                   "ToTensor"]  # ToDataContainer(stack=False) became PadTo
  pad = bmn.data.train.pipeline[2]
  assert dict(pad["sizes"]) == {"gt_bbox": 64} and dict(pad["mask_keys"]) == {"gt_bbox": "gt_mask"}
  assert list(bmn.data.train.pipeline[3]["keys"]) == ["raw_feature", "gt_bbox", "gt_mask"]
  assert [op["type"] for op in bmn.data.test.pipeline] == [
      "LoadLocalizationFeature", "Collect", "ToTensor"]
  assert bmn.test.out.endswith("bmn_400x100_2x8_9e_activitynet_feature//results.json")
  assert list(bmn.evaluation.metrics) == ["AR@AN"]

  pem = load_any_config(shipped("pem"))
  test_pad = pem.data.test.pipeline[1]
  assert test_pad["type"] == "PadTo" and dict(test_pad["sizes"]) == {
      k: 1000 for k in ("bsp_feature", "tmin", "tmax", "tmin_score", "tmax_score")}
  assert dict(pem.data.train.pipeline[1]["sizes"]) == {"bsp_feature": 500,
                                                    "reference_temporal_iou": 500}
  assert "proposal_mask" in pem.data.train.pipeline[2]["keys"]

  tem = load_any_config(shipped("tem"))
  assert list(tem.evaluation.metrics) == [] and tem.evaluation.save_best == ""
  assert tem.test.out == tem.tem_results_dir and tem.workflow == (("train", 1), ("val", 1))

  pgm = load_any_config(shipped("pgm"))
  assert pgm.pgm_proposals_cfg.temporal_scale == 100
  assert pgm.pgm_features_train_cfg.top_k == 500 and pgm.pgm_features_test_cfg.top_k == 1000
  assert pgm.ann_file_val == "data/ActivityNet/anet_anno_val.json"


@needs_mmaction2
def test_vjax_configs_equal_the_shipped_ones():
  from vjax.config import load_config  # pylint: disable=g-import-not-at-top
  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  for ours, theirs in (("bmn_activitynet", "bmn"), ("bsn_tem_activitynet", "tem"),
                       ("bsn_pem_activitynet", "pem")):
    a, b = load_config(f"{root}/configs/{ours}.py"), load_any_config(shipped(theirs))
    assert a.model.to_dict() == b.model.to_dict(), ours
    for key in ("optimizer", "optimizer_config", "lr_config", "total_epochs"):
      got, want = a[key], b[key]
      assert (got.to_dict() if hasattr(got, "to_dict") else got) == (
          want.to_dict() if hasattr(want, "to_dict") else want), (ours, key)
    assert os.path.normpath(a.test.out) == os.path.normpath(b.test.out), ours
    assert list(a.evaluation.metrics) == list(b.evaluation.metrics), ours
    assert a.data.videos_per_device == b.data.videos_per_device, ours
    for split in ("train", "val", "test"):
      ops_a = [op["type"] for op in a.data[split].pipeline]
      ops_b = [op["type"] for op in b.data[split].pipeline if op["type"] != "ToTensor"]
      assert ops_a == ops_b, (ours, split)
      assert a.data[split].ann_file == b.data[split].ann_file, (ours, split)
  pgm_a = load_config(f"{root}/configs/bsn_pgm_activitynet.py")
  pgm_b = load_any_config(shipped("pgm"))
  for key in ("pgm_proposals_cfg", "pgm_features_train_cfg", "pgm_features_test_cfg"):
    assert pgm_a[key].to_dict() == pgm_b[key].to_dict(), key
  for key in ("tem_results_dir", "pgm_proposals_dir", "pgm_features_dir", "ann_file_train",
              "ann_file_val"):
    assert os.path.normpath(pgm_a[key]) == os.path.normpath(pgm_b[key]), key


def test_init_localizer_gives_each_stage(localizers):
  assert {k: type(v) for k, v in localizers.items()} == {
      "bmn": Localizer, "tem": Localizer, "pem": Localizer, "pgm": ProposalGenerationModule}
  assert {k: v.task.name for k, v in localizers.items() if k != "pgm"} == {
      "bmn": "bmn", "tem": "tem", "pem": "pem"}
  with pytest.raises(ValueError, match="no network"):
    init_localizer(shipped("pgm"), "weights.pth")


def test_bmn_forward_and_predict(localizers):
  bmn = localizers["bmn"]
  rng = np.random.default_rng(0)
  features = rng.normal(size=(1, 100, 400)).astype(np.float32)
  confidence, start, end = (np.asarray(a) for a in bmn.forward(features))
  assert confidence.shape == (1, 100, 100, 2) and start.shape == end.shape == (1, 100)
  assert np.all((confidence > 0) & (confidence < 1))
  (result,) = bmn.predict({"raw_feature": features[0].T}, META)
  # The chain MMAction2's BMN.forward_test runs, from the network's outputs.
  rows = bmn_candidate_proposals(start[0], end[0], np.moveaxis(confidence[0], -1, 0))
  expected = post_processing(rows, META, 0.4, 0.5, 0.9, 100, 16)
  assert result["video_name"] == "v_demo" and len(result["proposal_list"]) == 100
  got = np.array([[p["score"], *p["segment"]] for p in result["proposal_list"]])
  want = np.array([[p["score"], *p["segment"]] for p in expected])
  np.testing.assert_allclose(got, want, rtol=1e-5)
  assert np.all(np.diff(got[:, 0]) <= 0) and got[:, 1:].max() <= 29.9 and got[:, 1:].min() >= 0


def test_tem_pgm_pem_chain_on_one_video(localizers):
  rng = np.random.default_rng(1)
  features = rng.normal(size=(400, 100)).astype(np.float32)
  tem = np.asarray(localizers["tem"].forward(features.T[None]))
  assert tem.shape == (1, 100, 3)
  ((name, rows),) = localizers["tem"].predict({"raw_feature": features}, META)
  assert name == "v_demo" and rows.shape == (100, 5)
  np.testing.assert_allclose(rows[:, :3], tem[0], rtol=1e-6)
  np.testing.assert_allclose(rows[:, 3], np.arange(100) / 100)  # each bin's start
  np.testing.assert_allclose(rows[:, 4], np.arange(1, 101) / 100)

  pgm = localizers["pgm"].predict(rows, META)
  want = candidate_proposals(rows.astype(np.float32), META, 100, 0.5, match_ground_truth=False)
  np.testing.assert_array_equal(pgm["proposals"], want)
  assert np.all(pgm["proposals"][:, 5:] == 0)  # no annotations: nothing to match
  np.testing.assert_array_equal(
      pgm["bsp_feature"], bsp_features(rows.astype(np.float32),
                                       pgm["proposals"].astype(np.float32), top_k=1000))
  with pytest.raises(ValueError, match="no annotations"):
    candidate_proposals(rows, dict(META, annotations=[]), 100, 0.5)  # datasets need theirs

  k = len(pgm["bsp_feature"])
  props = pgm["proposals"][:k].astype(np.float32)
  pem = localizers["pem"]
  inputs = dict(bsp_feature=pgm["bsp_feature"], tmin=props[:, 0], tmax=props[:, 1],
                tmin_score=props[:, 2], tmax_score=props[:, 3])
  scores = np.asarray(pem.forward(pgm["bsp_feature"][None]))
  assert scores.shape == (k, 1)
  (result,) = pem.predict(inputs, META)
  expected = post_processing(pem_proposals(scores, props[:, 0], props[:, 1], props[:, 2],
                                           props[:, 3]), META, 0.75, 0.65, 0.9, 100, 16)
  got = [(p["score"], *p["segment"]) for p in result["proposal_list"]]
  np.testing.assert_allclose(got, [(p["score"], *p["segment"]) for p in expected], rtol=1e-5)
