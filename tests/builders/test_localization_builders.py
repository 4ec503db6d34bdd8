"""The localization builders: ``activitynet`` from dummy downloads in MMAction2's layout (a
missing and a corrupt feature file among them) and ``vjax_synthetic_localization``; their
records through TFDSDataset, ``video_infos`` in record order, and BMN's padded pipelines."""

from __future__ import annotations

import json
import os
import os.path as osp
import pickle
import types

import numpy as np
import pytest

from tests.data.test_localization_data import MAX_GT, bmn_pipelines
from tfds_builders.activitynet import activitynet_dataset_builder as anet
from tfds_builders.vjax_synthetic_localization import builder as syn
from tfds_builders.vjax_synthetic_localization import generate
from vjax.data import Compose, make_eval_iterator
from vjax.data.ops_localization import localization_labels
from vjax.data.sources import TFDSDataset
from vjax.tools import build_dataset

T, C = 100, 400


def _info(rng, labels=("Long jump", "Rock climbing", "Zumba"), segments=2) -> dict:
  seconds = round(float(rng.uniform(20, 200)), 2)
  frames = int(seconds * 30)
  anns = []
  for _ in range(segments):
    start = float(rng.uniform(0, seconds / 2))
    anns.append({"segment": [start, start + float(rng.uniform(1, seconds / 2))],
                 "label": labels[int(rng.integers(len(labels)))]})
  return {"duration_second": seconds, "duration_frame": frames, "annotations": anns,
          "feature_frame": frames // 16 * 16}


def _csv(path, feature, postprocessing=False):
  os.makedirs(osp.dirname(path), exist_ok=True)
  header = ",".join(f"f{i}" for i in range(feature.shape[1]))
  if postprocessing:  # activitynet_feature_postprocessing.py: 4 decimals, no final newline
    with open(path, "w") as f:
      f.write("\n".join([header] + [",".join(f"{x:.4f}" for x in r) for r in feature]))
  else:
    np.savetxt(path, feature, fmt="%.6f", delimiter=",", header=header, comments="")


# Train lists its videos out of name order, so record order = file order is visible.
TRAIN = ("v_zzz", "v_aaa", "v_missing", "v_corrupt", "v_mmm")
VAL = ("v_val2", "v_val1")


@pytest.fixture(scope="session")
def cuhk_download(tmp_path_factory) -> str:
  """anet_anno_{train,val}.json + activitynet_feature_cuhk/csv_mean_100/."""
  root = str(tmp_path_factory.mktemp("anet_cuhk"))
  rng = np.random.default_rng(0)
  folder = osp.join(root, "activitynet_feature_cuhk", "csv_mean_100")
  for split, names in (("train", TRAIN), ("val", VAL)):
    database = {n: dict(_info(rng, segments=1 + i % 3), fps=30.0, rfps=29.97)
                for i, n in enumerate(names)}
    with open(osp.join(root, f"anet_anno_{split}.json"), "w") as f:
      json.dump(database, f)
    for n in names:
      if n != "v_missing":
        rows = 99 if n == "v_corrupt" else T
        _csv(osp.join(folder, f"{n}.csv"), rng.normal(size=(rows, C)))
  return root


@pytest.fixture(scope="session")
def cuhk_built(cuhk_download, tmp_path_factory) -> str:
  data_dir = str(tmp_path_factory.mktemp("anet_cuhk_tfds"))
  build_dataset.build("activitynet", cuhk_download, data_dir, "csv_mean_100", num_workers=1)
  return data_dir


def _json(path):
  with open(path) as f:
    return json.load(f)


def test_activitynet_records_are_the_download(cuhk_download, cuhk_built):
  folder = osp.join(cuhk_download, "activitynet_feature_cuhk", "csv_mean_100")
  for split, names in (("train", ("v_zzz", "v_aaa", "v_mmm")), ("val", VAL)):
    ds = TFDSDataset("activitynet", split, data_dir=cuhk_built, builder_config="csv_mean_100")
    database = _json(osp.join(cuhk_download, f"anet_anno_{split}.json"))
    assert len(ds) == len(names)
    assert [i["video_name"] for i in ds.video_infos] == list(names)
    for i, name in enumerate(names):
      r = ds[i]
      assert r["video_name"] == name
      feature = r.pop("raw_feature")
      want = np.loadtxt(osp.join(folder, f"{name}.csv"), np.float32, delimiter=",", skiprows=1)
      assert feature.dtype == np.float32 and feature.shape == (C, T)
      np.testing.assert_array_equal(feature, want.T)
      # The info is the annotation file's entry, floats unchanged.
      assert r == dict(database[name], video_name=name) == ds.video_infos[i]
  with pytest.raises(KeyError, match="not in activitynet"):
    TFDSDataset("activitynet", "test", data_dir=cuhk_built, builder_config="csv_mean_100")


def test_activitynet_reports_missing_and_corrupt(cuhk_built):
  path = osp.join(cuhk_built, "activitynet", "csv_mean_100", "1.0.0", "build_summary.json")
  summary = _json(path)
  assert summary["val"] == {"examples": 2, "skipped": {}}
  train = summary["train"]
  assert train["examples"] == 3
  assert [s["video_id"] for s in train["skipped"]["missing"]["samples"]] == ["v_missing"]
  (corrupt,) = train["skipped"]["corrupt"]["samples"]
  assert corrupt["video_id"] == "v_corrupt" and "shape (99, 400), expected (100, 400)" in (
      corrupt["detail"])
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  b = tfds.builder("activitynet", data_dir=cuhk_built, config="csv_mean_100")
  assert b.info.metadata["class_names"] == ["Long jump", "Rock climbing", "Zumba"]


def test_activitynet_bmn_pipeline_pads_each_video(cuhk_built):
  ds = TFDSDataset("activitynet", "train", data_dir=cuhk_built, builder_config="csv_mean_100")
  _, test = bmn_pipelines()
  batches = list(make_eval_iterator(ds, test, global_batch_size=2))
  gt_mask = np.concatenate([b["gt_mask"] for b in batches])[:3]
  gt_bbox = np.concatenate([b["gt_bbox"] for b in batches])[:3]
  assert batches[0]["raw_feature"].shape == (2, C, T) and gt_bbox.shape == (3, MAX_GT, 2)
  for i, info in enumerate(ds.video_infos):
    n = len(info["annotations"])
    want = localization_labels(info["annotations"], info["duration_second"],
                               info["duration_frame"], info["feature_frame"])
    assert gt_mask[i].sum() == n
    np.testing.assert_array_equal(gt_bbox[i, :n], want)


def test_activitynet_from_raw_annotations_and_mmaction_features(tmp_path):
  """anet_anno_action.json + video_info_new.csv (processed as process_annotations.py does)
  and mmaction_feat/ with a postprocessing csv, a pkl and a corrupt pkl."""
  rng = np.random.default_rng(1)
  names = ("v_b", "v_a", "v_c", "v_d")
  action = {n: _info(rng) for n in names}
  (tmp_path / "anet_anno_action.json").write_text(json.dumps(action))
  subsets = {"v_b": "training", "v_a": "training", "v_c": "training", "v_d": "validation"}
  lines = ["video,numFrame,seconds,fps,rfps,subset,featureFrame"] + [
      f"{n},{action[n]['duration_frame']},{action[n]['duration_second']},30,29.5,{s},"
      f"{action[n]['feature_frame']}" for n, s in subsets.items()]
  (tmp_path / "video_info_new.csv").write_text("\n".join(lines) + "\n")
  folder = tmp_path / "mmaction_feat"
  features = {n: rng.normal(size=(T, C)) for n in ("v_b", "v_d")}
  _csv(str(folder / "v_b.csv"), features["v_b"], postprocessing=True)
  with open(folder / "v_d.pkl", "wb") as f:
    pickle.dump(features["v_d"], f)  # mmcv.dump(feat, 'x.pkl'): a pickled (100, 400) array
  (folder / "v_a.pkl").write_bytes(b"not a pickle")
  data_dir = str(tmp_path / "tfds")
  build_dataset.build("activitynet", str(tmp_path), data_dir, "mmaction_feature",
                      num_workers=1)
  summary = _json(osp.join(data_dir, "activitynet", "mmaction_feature", "1.0.0",
                           "build_summary.json"))
  assert {k: v["count"] for k, v in summary["train"]["skipped"].items()} == {"corrupt": 1,
                                                                             "missing": 1}
  train = TFDSDataset("activitynet", "train", data_dir=data_dir, builder_config="mmaction_feature")
  val = TFDSDataset("activitynet", "val", data_dir=data_dir, builder_config="mmaction_feature")
  assert len(train) == len(val) == 1
  r = train[0]
  assert r["video_name"] == "v_b" and r["fps"] == 30.0 and r["rfps"] == 29.5
  assert r["annotations"] == action["v_b"]["annotations"]
  np.testing.assert_array_equal(r["raw_feature"], np.round(features["v_b"], 4).astype(
      np.float32).T)
  np.testing.assert_array_equal(val[0]["raw_feature"], features["v_d"].astype(np.float32).T)


def test_activitynet_manual_dir_errors(tmp_path):
  (tmp_path / "readme.txt").write_text("nothing here")
  with pytest.raises(FileNotFoundError, match="anet_anno_action.json"):
    build_dataset.build("activitynet", str(tmp_path), str(tmp_path / "tfds"), "csv_mean_100")
  (tmp_path / "anet_anno_val.json").write_text(json.dumps(
      {"v_x": {"duration_second": 3.0, "duration_frame": 90, "feature_frame": 80,
               "annotations": [{"segment": [2.0, 1.0], "label": "a"}]}}))
  with pytest.raises(ValueError, match="anet_anno_val.json: video 'v_x' annotation 0"):
    build_dataset.build("activitynet", str(tmp_path), str(tmp_path / "tfds"), "csv_mean_100")


def test_activitynet_parallel_reading_keeps_order(monkeypatch, cuhk_download):
  monkeypatch.setattr(anet, "_PARALLEL_MIN_VIDEOS", 2)
  folder = osp.join(cuhk_download, "activitynet_feature_cuhk", "csv_mean_100")
  items = [(n, {}, osp.join(folder, f"{n}.csv") if n != "v_missing" else None) for n in TRAIN]
  builder = types.SimpleNamespace(num_workers=2)
  out = list(anet.Activitynet._videos(builder, items))
  assert [name for name, _, _ in out] == list(TRAIN)
  assert out[2][2].reason == "missing" and out[3][2].shape == (99, C)
  np.testing.assert_array_equal(out[1][2], anet.read_feature(items[1][2], "v_aaa"))


# ------------------------------------------------------------------ synthetic
@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory) -> str:
  data_dir = str(tmp_path_factory.mktemp("tfds_localization"))
  syn.prepare_synthetic_localization(data_dir, "tiny")
  return data_dir


def test_synthetic_records_are_the_seeded_generator_output(synthetic_dir):
  cfg = syn.make_config("tiny")
  rows = generate.patterns(cfg.seed, cfg.num_classes, cfg.feat_dim)
  for split, n in (("train", cfg.num_train), ("validation", cfg.num_val)):
    ds = TFDSDataset(syn.NAME, split, data_dir=synthetic_dir, builder_config="tiny")
    assert len(ds) == n and len(ds.video_infos) == n
    for i in (0, n - 1):
      feature, spec = generate.generate_video(syn.example_seed(cfg.seed, split, i), rows,
                                              temporal_dim=cfg.temporal_dim)
      r = ds[i]
      assert r["video_name"] == syn.video_name(split, i) == ds.video_infos[i]["video_name"]
      np.testing.assert_array_equal(r.pop("raw_feature"), feature.T)
      assert r == ds.video_infos[i]
      assert r["duration_second"] == spec.duration_second
      assert [a["label"] for a in r["annotations"]] == [
          cfg.class_names[c] for _, _, c in spec.segments]


def test_synthetic_gt_bbox_is_the_planted_segments(synthetic_dir):
  ds = TFDSDataset(syn.NAME, "validation", data_dir=synthetic_dir,
                   builder_config=dict(preset="tiny"))
  train, _ = bmn_pipelines()
  pipeline = Compose(train)
  cfg = syn.make_config("tiny")
  rows = generate.patterns(cfg.seed, cfg.num_classes, cfg.feat_dim)
  for i in range(len(ds)):
    out = pipeline(ds[i], np.random.default_rng(0))
    _, spec = generate.generate_video(syn.example_seed(cfg.seed, "validation", i), rows)
    n = len(spec.segments)
    assert out["raw_feature"].shape == (cfg.feat_dim, cfg.temporal_dim)
    assert out["gt_mask"].sum() == n and out["gt_bbox"].shape == (MAX_GT, 2)
    np.testing.assert_allclose(out["gt_bbox"][:n], [s[:2] for s in spec.segments], atol=1e-6)


def test_synthetic_actions_need_local_context():
  """The planted actions are in the features but a single step often misreads them: the
  nearest pattern is right for ~79 % of single steps and ~92 % after averaging 5 steps."""
  rows = generate.patterns(0, 5, 32)
  single, window = [], []
  u = (np.arange(T) + 0.5) / T
  for i in range(40):
    x, spec = generate.generate_video(syn.example_seed(0, "train", i), rows)
    truth = np.zeros(T, int)
    for start, end, c in spec.segments:
      truth[(u >= start) & (u <= end)] = c + 1
      assert 0 <= start < end <= 1
    scores = x @ rows.T
    single.append((scores.argmax(1) == truth).mean())
    smooth = np.stack([np.convolve(s, np.ones(5) / 5, "same") for s in scores.T], 1)
    window.append((smooth.argmax(1) == truth).mean())
  assert 0.6 < np.mean(single) < 0.88 and np.mean(window) > 0.9


def test_synthetic_configs_and_messages(synthetic_dir, tmp_path):
  assert syn.make_config("small").name == "small"
  custom = syn.make_config("tiny", feat_dim=8)
  assert custom.name == syn.config_name(**dict(syn.PRESETS["tiny"], feat_dim=8))
  assert custom.class_names == ("action_0", "action_1", "action_2", "action_3", "action_4")
  with pytest.raises(TypeError, match="Unknown vjax_synthetic_localization options"):
    syn.make_config(num_frames=3)
  with pytest.raises(ValueError, match="temporal_dim"):
    syn.make_config(temporal_dim=4)
  with pytest.raises(KeyError, match="Unknown vjax_synthetic_localization config"):
    syn.open_builder(None, "huge")
  with pytest.raises(FileNotFoundError, match="python -m tfds_builders.vjax_synthetic_localizat"):
    TFDSDataset(syn.NAME, "train", data_dir=str(tmp_path), builder_config=dict(feat_dim=8))


def test_video_infos_need_the_builders_hook(synthetic_dir, monkeypatch):
  ds = TFDSDataset(syn.NAME, "train", data_dir=synthetic_dir, builder_config="tiny")
  monkeypatch.setattr(TFDSDataset, "_package", lambda self: types.ModuleType("no_hook"))
  assert ds.video_infos is None


def _context(feature: np.ndarray, k: int = 3) -> np.ndarray:
  """(C, T) -> (T, C * (2k + 1) + 1): each step with its k neighbours each side, and a bias."""
  steps = feature.shape[1]
  padded = np.pad(feature, ((0, 0), (k, k)), mode="edge")
  rows = np.concatenate([padded[:, i:i + steps] for i in range(2 * k + 1)], 0).T
  return np.c_[rows, np.ones(steps)]


def _proposals(scores: np.ndarray, seconds: float, top: int = 100) -> list[dict]:
  """All [i, j] bin pairs scored start(i) * end(j) * mean action(i..j), best ``top``."""
  act, start, end = np.clip(scores, 0, 1).T
  steps = len(act)
  cum = np.concatenate([[0], np.cumsum(act)])
  i, j = np.triu_indices(steps, 1)
  score = start[i] * end[j] * (cum[j + 1] - cum[i]) / (j + 1 - i)
  best = np.argsort(-score, kind="stable")[:top]
  return [{"segment": [i[b] / steps * seconds, (j[b] + 1) / steps * seconds],
           "score": float(score[b])} for b in best]


def test_synthetic_small_is_learnable_far_above_chance():
  """On preset 'small' a linear detector with local context gets AR@100 far above 100
  random proposals (the numbers quoted in ``generate``'s docstring)."""
  from vjax.evaluation.localization import evaluate_proposals  # pylint: disable=g-import-not-at-top
  cfg = syn.make_config("small")
  rows = generate.patterns(cfg.seed, cfg.num_classes, cfg.feat_dim)
  u = (np.arange(T) + 0.5) / T

  def videos(split, n):
    for i in range(n):
      feature, spec = generate.generate_video(syn.example_seed(cfg.seed, split, i), rows)
      yield syn.video_name(split, i), feature.T, spec

  xs, ys = [], []
  for _, feature, spec in videos("train", cfg.num_train):
    y = np.zeros((T, 3))
    for start, end, _ in spec.segments:
      y[(u >= start) & (u <= end), 0] = 1
      y[np.abs(u - start) <= 1.5 / T, 1] = 1
      y[np.abs(u - end) <= 1.5 / T, 2] = 1
    xs.append(_context(feature))
    ys.append(y)
  x, y = np.concatenate(xs), np.concatenate(ys)
  weights = np.linalg.solve(x.T @ x + np.eye(x.shape[1]), x.T @ y)
  rng = np.random.default_rng(0)
  infos, learned, chance = [], [], []
  for name, feature, spec in videos("validation", cfg.num_val):
    info = dict(generate.video_info(spec, cfg.class_names), video_name=name)
    seconds = spec.featured_seconds
    infos.append(info)
    learned.append({"video_name": name,
                    "proposal_list": _proposals(_context(feature) @ weights, seconds)})
    ends = np.sort(rng.uniform(0, seconds, (100, 2)), 1)
    chance.append({"video_name": name, "proposal_list": [
        {"segment": list(e), "score": 1.0} for e in ends]})
  ours, random = evaluate_proposals(learned, infos), evaluate_proposals(chance, infos)
  assert random["AR@100"] < 0.55 and random["auc"] < 40
  assert ours["AR@100"] > 0.8 and ours["auc"] > random["auc"] + 30
