"""ActivityNet's data side: ``ActivityNetDataset`` and the localization ops against MMAction2
0.24.1's outputs on the same files (tests/golden/localization_data, written by
tests/reference/make_golden_localization_data.py), their errors, and the padding contract
that gives BMN / PEM batches fixed shapes through the loader."""

from __future__ import annotations

import json
import os
import os.path as osp

import numpy as np
import pytest

from vjax.data import Compose, make_eval_iterator, make_train_iterator
from vjax.data.ops_localization import (PROPOSAL_KEYS, GenerateLocalizationLabels,
                                        LoadLocalizationFeature, LoadProposals)
from vjax.data.sources import DATASETS, ActivityNetDataset, build_split

GOLDEN = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), "golden", "localization_data")
ANN = osp.join(GOLDEN, "anet_anno.json")
FEATURES = osp.join(GOLDEN, "features")
PROPOSALS, BSP = osp.join(GOLDEN, "pgm_proposals"), osp.join(GOLDEN, "pgm_features")


@pytest.fixture(scope="module")
def golden():
  with open(osp.join(GOLDEN, "cases.json")) as f:
    cases = json.load(f)
  return cases, np.load(osp.join(GOLDEN, "arrays.npz"))


def _pipeline(case: str) -> list:
  proposals = dict(type="LoadProposals", pgm_proposals_dir=PROPOSALS, pgm_features_dir=BSP)
  return {"bmn": [dict(type="LoadLocalizationFeature"), dict(type="GenerateLocalizationLabels")],
          "pem_top5": [dict(proposals, top_k=5)],
          "pem_top100": [dict(proposals, top_k=100)]}[case]


# ------------------------------------------------------------------ parity with MMAction2
def test_video_infos_match_mmaction2(golden):
  cases, _ = golden
  ds = ActivityNetDataset(ANN, data_prefix=FEATURES)
  assert ds.video_infos == cases["video_infos"]
  # File order, names as the keys (already 'v_' + YouTube id), as MMAction2 loads them.
  assert [i["video_name"] for i in ds.video_infos] == list(json.load(open(ANN)))


@pytest.mark.parametrize("case", ["bmn", "pem_top5", "pem_top100"])
def test_pipeline_outputs_match_mmaction2(golden, case):
  cases, arrays = golden
  assert [op["type"] for op in cases[case]["pipeline"]] == [op["type"] for op in _pipeline(case)]
  ds = ActivityNetDataset(ANN, pipeline=_pipeline(case), data_prefix=FEATURES)
  pipeline = Compose(_pipeline(case))
  for i, info in enumerate(ds.video_infos):
    name = info["video_name"]
    results = pipeline(ds[i], np.random.default_rng(0))
    expected_keys = cases[case]["results"][name]
    assert set(results) == set(expected_keys)
    assert results["data_prefix"] == osp.realpath(FEATURES)
    for key, spec in expected_keys.items():
      if spec is None:
        continue
      want, got = arrays[f"{case}/{name}/{key}"], results[key]
      if key == "gt_bbox":
        # MMAction2 keeps float64 (and shape (0,) without annotations); vjax float32 (K, 2).
        assert got.dtype == np.float32 and got.shape == (len(info["annotations"]), 2)
        np.testing.assert_array_equal(got, want.astype(np.float32).reshape(-1, 2))
        np.testing.assert_allclose(got, want.reshape(-1, 2), rtol=0, atol=1e-6)
      else:
        assert got.dtype == want.dtype and got.shape == want.shape, key
        np.testing.assert_array_equal(got, want, err_msg=f"{case}/{name}/{key}")


def test_gt_bbox_normalises_by_featured_seconds_and_clips(golden):
  """Hand derivation for one video: seconds / (feature_frame / duration_frame *
  duration_second), clipped to [0, 1]; its first segment starts before 0 and its second ends
  past the end."""
  cases, _ = golden
  info = cases["video_infos"][0]
  seconds = info["feature_frame"] / info["duration_frame"] * info["duration_second"]
  want = np.clip(np.array([a["segment"] for a in info["annotations"]]) / seconds, 0, 1)
  assert want[0, 0] == 0 and want[1, 1] == 1
  got = GenerateLocalizationLabels()(dict(info))["gt_bbox"]
  np.testing.assert_allclose(got, want, rtol=0, atol=1e-7)


# ------------------------------------------------------------------ the dataset
def test_dataset_samples_are_fresh_copies_and_named(tmp_path):
  ds = DATASETS.build(dict(type="ActivityNetDataset", ann_file=ANN, data_prefix=FEATURES,
                           pipeline=[dict(type="Whatever")], test_mode=True))
  a = ds[0]
  a["annotations"][0]["segment"][0] = 1e9
  a["duration_second"] = -1
  b = ds[0]
  assert b["annotations"][0]["segment"][0] == -0.4 and b["duration_second"] > 0
  assert ds.describe(2) == f"video v_zz9bBn0 of {ANN}"
  assert len(ds) == 4 and ds.test_mode
  # A data_prefix that is no folder stays as given (MMAction2).
  assert ActivityNetDataset(ANN, data_prefix="nowhere")[0]["data_prefix"] == "nowhere"


def test_build_split_ignores_the_datasets_own_pipeline():
  source, pipeline = build_split(dict(type="ActivityNetDataset", ann_file=ANN,
                                      data_prefix=FEATURES,
                                      pipeline=[dict(type="LoadLocalizationFeature")]))
  assert isinstance(source, ActivityNetDataset) and pipeline == [
      dict(type="LoadLocalizationFeature")]


_GOOD = {"duration_second": 10.0, "duration_frame": 300, "feature_frame": 288,
         "annotations": [{"segment": [1.0, 2.0], "label": "x"}]}


@pytest.mark.parametrize("bad, message", [
    ({"duration_frame": 300, "feature_frame": 288, "annotations": []},
     "missing 'duration_second'"),
    (dict(_GOOD, feature_frame="288"), "feature_frame must be a positive number"),
    (dict(_GOOD, duration_frame=0), "duration_frame must be a positive number"),
    (dict(_GOOD, annotations=[{"segment": [1.0, 2.0, 3.0], "label": "x"}]),
     "annotation 0: 'segment' must be two numbers"),
    (dict(_GOOD, annotations=[{"segment": ["1", 2.0], "label": "x"}]),
     "annotation 0: 'segment' must be two numbers"),
    (dict(_GOOD, annotations=[{"label": "x"}]), "annotation 0: 'segment' must be two numbers"),
    (dict(_GOOD, annotations=[{"segment": [1.0, 2.0]}, {"segment": [5.0, 4.0]}]),
     r"annotation 1: segment starts after it ends \(5.0 > 4.0\)"),
    (dict(_GOOD, annotations=None), "'annotations' must be a list"),
])
def test_malformed_annotations_name_file_and_video(tmp_path, bad, message):
  path = tmp_path / "anet_anno_val.json"
  path.write_text(json.dumps({"v_ok": _GOOD, "v_bad1": bad}))
  with pytest.raises(ValueError, match=message) as e:
    ActivityNetDataset(str(path))
  assert str(path) in str(e.value) and "'v_bad1'" in str(e.value)


def test_annotation_file_errors(tmp_path):
  with pytest.raises(FileNotFoundError, match="process_annotations"):
    ActivityNetDataset(str(tmp_path / "anet_anno_train.json"))
  path = tmp_path / "list.json"
  path.write_text("[]")
  with pytest.raises(ValueError, match=f"{path}: expected a JSON object"):
    ActivityNetDataset(str(path))


# ------------------------------------------------------------------ the ops
def test_load_feature_npy_and_kept_raw_feature(tmp_path):
  feature = np.random.default_rng(0).normal(size=(7, 5))
  np.save(tmp_path / "v_a.npy", feature)
  out = LoadLocalizationFeature(".npy")(dict(video_name="v_a", data_prefix=str(tmp_path)))
  assert out["raw_feature"].dtype == np.float32 and out["raw_feature"].flags.c_contiguous
  np.testing.assert_array_equal(out["raw_feature"], feature.astype(np.float32).T)
  # A record that carries its feature: kept as is, no file is opened.
  carried = np.ones((5, 7), np.float32)
  out = LoadLocalizationFeature()(dict(video_name="v_a", data_prefix="/nonexistent",
                                       raw_feature=carried))
  assert out["raw_feature"] is carried
  with pytest.raises(NotImplementedError):
    LoadLocalizationFeature(".pkl")


def test_load_feature_errors(tmp_path):
  op = LoadLocalizationFeature()
  path = tmp_path / "v_missing.csv"
  with pytest.raises(FileNotFoundError, match="tools/data/activitynet") as e:
    op(dict(video_name="v_missing", data_prefix=str(tmp_path)))
  assert str(path) in str(e.value)
  (tmp_path / "v_bad.csv").write_text("f0,f1\n0.1,0.2\n0.3,oops\n")
  with pytest.raises(ValueError, match=f"{tmp_path / 'v_bad.csv'} is unreadable"):
    op(dict(video_name="v_bad", data_prefix=str(tmp_path)))
  with pytest.raises(ValueError, match="no data_prefix"):
    op(dict(video_name="v_bad", data_prefix=None))


def test_load_proposals_errors(tmp_path):
  op = LoadProposals(10, str(tmp_path / "proposals"), BSP)
  with pytest.raises(FileNotFoundError, match="PGM proposal file .*v_zz9bBn0.csv not found.*PGM"):
    op(dict(video_name="v_zz9bBn0"))
  os.makedirs(tmp_path / "proposals")
  rows = np.loadtxt(osp.join(PROPOSALS, "v_zz9bBn0.csv"), delimiter=",", skiprows=1)[:3]
  np.savetxt(tmp_path / "proposals" / "v_zz9bBn0.csv", rows, delimiter=",", header="h",
             comments="")
  with pytest.raises(ValueError, match="10 BSP features but .* 3 proposals \\(of top_k=10\\)"):
    op(dict(video_name="v_zz9bBn0"))
  with pytest.raises(FileNotFoundError, match="PGM feature file"):
    LoadProposals(10, PROPOSALS, str(tmp_path))(dict(video_name="v_zz9bBn0"))
  with pytest.raises(NotImplementedError):
    LoadProposals(10, PROPOSALS, BSP, feature_ext=".csv")


# ------------------------------------------------------------------ the padding contract
MAX_GT, TOP_K = 4, 16
META = ["video_name", "duration_second", "duration_frame", "annotations", "feature_frame"]


def bmn_pipelines(max_gt: int = MAX_GT) -> tuple[list, list]:
  """(train, test) as the BMN configs write them, padded with PadTo."""
  pad = dict(type="PadTo", sizes=dict(gt_bbox=max_gt), mask_keys=dict(gt_bbox="gt_mask"))
  keys = ["raw_feature", "gt_bbox", "gt_mask"]
  train = [dict(type="LoadLocalizationFeature"), dict(type="GenerateLocalizationLabels"), pad,
           dict(type="Collect", keys=keys, meta_name="video_meta", meta_keys=["video_name"]),
           dict(type="ToTensor", keys=keys)]
  test = [dict(type="LoadLocalizationFeature"), dict(type="GenerateLocalizationLabels"), pad,
          dict(type="Collect", keys=keys, meta_name="video_meta", meta_keys=META),
          dict(type="ToTensor", keys=keys)]
  return train, test


def pem_pipelines(top_k: int = TOP_K) -> tuple[list, list]:
  load = dict(type="LoadProposals", top_k=top_k, pgm_proposals_dir=PROPOSALS,
              pgm_features_dir=BSP)
  pad = dict(type="PadTo", sizes={k: top_k for k in PROPOSAL_KEYS},
             mask_keys={k: "proposal_mask" for k in PROPOSAL_KEYS})
  train = [load, pad, dict(type="Collect", keys=["bsp_feature", "reference_temporal_iou",
                                                  "proposal_mask"], meta_keys=[])]
  keys = ["bsp_feature", "tmin", "tmax", "tmin_score", "tmax_score", "proposal_mask"]
  test = [load, pad, dict(type="Collect", keys=keys, meta_name="video_meta", meta_keys=META)]
  return train, test


@pytest.fixture(scope="module")
def two_videos(tmp_path_factory) -> ActivityNetDataset:
  """Two golden videos with 3 and 1 segments, 30 and 4 proposals."""
  database = json.load(open(ANN))
  path = tmp_path_factory.mktemp("anet") / "anet_anno_train.json"
  path.write_text(json.dumps({k: database[k] for k in ("v_q2Xd7-zH3aA", "v_--1DO2V4K74")}))
  return ActivityNetDataset(str(path), data_prefix=FEATURES)


def test_bmn_batches_have_fixed_shapes(two_videos):
  train, test = bmn_pipelines()
  expected = [GenerateLocalizationLabels()(dict(two_videos[i]))["gt_bbox"] for i in (0, 1)]
  batch = next(make_train_iterator(two_videos, train, global_batch_size=2, seed=0))
  assert batch["raw_feature"].shape == (2, 12, 20) and batch["raw_feature"].dtype == np.float32
  assert batch["gt_bbox"].shape == (2, MAX_GT, 2) and batch["gt_mask"].shape == (2, MAX_GT)
  for row in range(2):
    name = batch["video_meta"][row]["video_name"]
    gt = expected[[v["video_name"] for v in two_videos.video_infos].index(name)]
    n = len(gt)
    assert batch["gt_mask"][row].tolist() == [True] * n + [False] * (MAX_GT - n)
    np.testing.assert_array_equal(batch["gt_bbox"][row, :n], gt)
    assert not batch["gt_bbox"][row, n:].any()
  (batch,) = list(make_eval_iterator(two_videos, test, global_batch_size=2))
  assert batch["gt_mask"].sum(1).tolist() == [3, 1] and batch["index"].tolist() == [0, 1]
  assert [m["video_name"] for m in batch["video_meta"]] == ["v_q2Xd7-zH3aA", "v_--1DO2V4K74"]
  assert batch["video_meta"][1]["annotations"] == two_videos.video_infos[1]["annotations"]


def test_pem_batches_have_fixed_shapes(two_videos):
  train, test = pem_pipelines()
  batch = next(make_train_iterator(two_videos, train, global_batch_size=2, seed=0))
  assert batch["bsp_feature"].shape == (2, TOP_K, 32)
  assert batch["reference_temporal_iou"].shape == (2, TOP_K)
  assert sorted(batch["proposal_mask"].sum(1).tolist()) == [4, 16]  # 30 rows cut to top_k
  (batch,) = list(make_eval_iterator(two_videos, test, global_batch_size=2))
  assert batch["proposal_mask"].sum(1).tolist() == [16, 4]
  want = np.loadtxt(osp.join(PROPOSALS, "v_--1DO2V4K74.csv"), np.float32, delimiter=",",
                    skiprows=1)
  np.testing.assert_array_equal(batch["tmax"][1, :4], want[:, 1])
  assert not batch["tmax"][1, 4:].any() and batch["bsp_feature"].dtype == np.float32


def test_without_padding_the_loader_names_padto(two_videos):
  train, _ = bmn_pipelines()
  unpadded = [op for op in train if op["type"] != "PadTo"]
  unpadded[2] = dict(unpadded[2], keys=["raw_feature", "gt_bbox"])
  unpadded[3] = dict(type="ToTensor", keys=["raw_feature", "gt_bbox"])
  with pytest.raises(ValueError, match="'gt_bbox' has samples of shapes.*PadTo"):
    list(make_eval_iterator(two_videos, unpadded, global_batch_size=2))
  with pytest.raises(Exception, match="gt_bbox.*3 rows, more than its maximum 2"):
    list(make_eval_iterator(two_videos, bmn_pipelines(max_gt=2)[1], global_batch_size=2))
