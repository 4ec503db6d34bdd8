"""The skeleton builders: ``vjax_synthetic_skeleton`` (records are the seeded generator's
annotations; the class is in the motion, not in a frame) and ``posec3d`` built from small fake
releases in every layout it reads (split dicts, per-split lists, gen_ntu_rgbd_raw and
babel2mma2 outputs, Kinetics kpfiles), malformed entries counted, not fatal."""

from __future__ import annotations

import json
import os.path as osp
import pickle
import re

import numpy as np
import pytest

from tfds_builders.common import encode as enc
from tfds_builders.posec3d import kinetics
from tfds_builders.posec3d import posec3d_dataset_builder as posec3d
from tfds_builders.posec3d import records
from tfds_builders.vjax_synthetic_skeleton import __main__ as syn_main
from tfds_builders.vjax_synthetic_skeleton import builder as syn
from tfds_builders.vjax_synthetic_skeleton import generate
from vjax.data.sources import TFDSDataset
from vjax.tools import babel2mma2, build_dataset, gen_ntu_rgbd_raw

GOLDEN = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), "golden", "skeleton_tools")
LOAD = records.load_pickle
POSE_KEYS = {"frame_dir", "label", "total_frames", "start_index", "modality", "keypoint",
             "img_shape", "original_shape"}


# ------------------------------------------------------------------ synthetic
@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory) -> str:
  data_dir = str(tmp_path_factory.mktemp("tfds_skeleton"))
  for layout in syn.LAYOUTS:
    syn.prepare_synthetic_skeleton(data_dir, layout, "tiny")
  return data_dir


@pytest.mark.parametrize("layout", syn.LAYOUTS)
def test_synthetic_records_are_the_generator_annotations(synthetic_dir, layout):
  cfg = syn.make_config(layout, "tiny")
  v, c = (17, 2) if layout == "coco2d" else (25, 3)
  for split, n in (("train", cfg.num_train), ("val", cfg.num_val)):
    ds = TFDSDataset(syn.NAME, split, data_dir=synthetic_dir, builder_config=f"{layout}_tiny")
    assert len(ds) == n and ds.num_classes == 4
    assert list(ds.class_names) == list(generate.class_names(4))
    for i in (0, 1, n - 1):
      r, want = ds[i], syn.generate_annotation(cfg, split, i)
      assert set(r) == POSE_KEYS | ({"keypoint_score"} if layout == "coco2d" else set())
      assert r["frame_dir"] == want["frame_dir"] == f"skeleton_{split}_{i:06d}"
      assert r["label"] == want["label"] == i % 4
      assert r["start_index"] == 0 and r["modality"] == "Pose"
      assert r["img_shape"] == r["original_shape"] == (1080, 1920)
      t = r["total_frames"]
      assert 32 <= t <= 48 and t == want["total_frames"]
      assert r["keypoint"].dtype == np.float32 and r["keypoint"].shape[1:] == (t, v, c)
      np.testing.assert_array_equal(r["keypoint"], want["keypoint"])
      if layout == "coco2d":
        np.testing.assert_array_equal(r["keypoint_score"], want["keypoint_score"])
        assert r["keypoint_score"].shape == r["keypoint"].shape[:3]
        assert (r["keypoint_score"] > 0).all() and (r["keypoint_score"] <= 1).all()
        assert (r["keypoint"] >= 0).all() and (r["keypoint"][..., 0] < 1920).all()
        assert (r["keypoint"][..., 1] < 1080).all()


def test_synthetic_class_names_and_counts(synthetic_dir):
  b = syn.skeleton_builder(synthetic_dir, "ntu3d", "tiny")
  assert b.info.metadata["class_names"] == list(generate.class_names(4))
  assert syn.class_counts(b, "train") == [6, 6, 6, 6]
  assert syn.class_counts(b, "val") == [3, 3, 3, 3]
  summary = json.loads((b.data_path / "build_summary.json").read_text())
  assert summary == {"train": {"examples": 24, "skipped": {}},
                     "val": {"examples": 12, "skipped": {}}}
  persons = {TFDSDataset(syn.NAME, "train", data_dir=synthetic_dir,
                         builder_config="ntu3d_tiny")[i]["keypoint"].shape[0] for i in range(24)}
  assert persons == {1, 2}


def test_synthetic_layouts_show_the_same_motion():
  """Both layouts draw the same people: COCO's shoulders, elbows, wrists, hips, knees and
  ankles are NTU's joints projected (up to noise), the person's left on the image's right."""
  coco, spec2 = generate.generate_video(np.random.SeedSequence([5]), 3, layout="coco2d")
  ntu, spec3 = generate.generate_video(np.random.SeedSequence([5]), 3, layout="ntu3d")
  assert spec2 == spec3
  joints = np.asarray([4, 8, 5, 9, 6, 10, 12, 16, 13, 17, 14, 18])
  projected = generate.project(ntu["keypoint"][:, :, joints].astype(np.float64))
  # 1.2 cm of 3D joint noise at 3-4 m is about 4 px; occluded keypoints jitter 8 px more.
  err = np.abs(projected - coco["keypoint"][:, :, 5:])
  assert np.median(err) < 5 and err.max() < 80
  assert (coco["keypoint"][:, :, 5, 0] > coco["keypoint"][:, :, 6, 0]).mean() > 0.9


_GROUP_JOINTS = {"coco2d": dict(rs=6, rw=10, ls=5, lw=9, lh=11, rh=12, la=15, ra=16),
                 "ntu3d": dict(rs=8, rw=10, ls=4, lw=6, lh=12, rh=16, la=14, ra=18)}


def _frontal(kp: np.ndarray) -> np.ndarray:
  """(T, V, C) -> (T, V, 2) in the frontal plane, second axis up: image rows grow downwards;
  pre-normalized NTU joints have the spine along +z."""
  return kp[..., :2] * np.array([1.0, -1.0]) if kp.shape[-1] == 2 else kp[..., [0, 2]]


def _motion_features(kp: np.ndarray, layout: str) -> np.ndarray:
  """Per limb group (each wrist about its shoulder, the legs' spread and height, the
  shoulders about the hips): mean speed, mean signed swept area, mean |swept area| over
  8-frame windows; in units of the torso length."""
  j, p = _GROUP_JOINTS[layout], _frontal(kp)
  hip, sh = (p[:, j["lh"]] + p[:, j["rh"]]) / 2, (p[:, j["ls"]] + p[:, j["rs"]]) / 2
  ankles = p[:, j["la"]], p[:, j["ra"]]
  legs = np.stack([np.abs(ankles[0][:, 0] - ankles[1][:, 0]),
                   hip[:, 1] - (ankles[0][:, 1] + ankles[1][:, 1]) / 2], -1)
  scale = np.median(np.linalg.norm(sh - hip, axis=-1))
  out = []
  for s in (p[:, j["rw"]] - p[:, j["rs"]], p[:, j["lw"]] - p[:, j["ls"]], legs, sh - hip):
    s = s / scale
    d, c = np.diff(s, axis=0), s[:-1] - s.mean(0)
    area = c[:, 0] * d[:, 1] - c[:, 1] * d[:, 0]
    windows = area[:len(area) // 8 * 8].reshape(-1, 8).sum(1)
    out += [np.linalg.norm(d, axis=-1).mean(), area.mean(), np.abs(windows).mean() / 8]
  return np.array(out)


def _frame_features(kp: np.ndarray, layout: str, rng) -> np.ndarray:
  """One random frame's keypoints about the hips, in torso lengths."""
  j, p = _GROUP_JOINTS[layout], _frontal(kp)[rng.integers(len(kp))]
  hip, sh = (p[j["lh"]] + p[j["rh"]]) / 2, (p[j["ls"]] + p[j["rs"]]) / 2
  return ((p - hip) / np.linalg.norm(sh - hip)).ravel()


def _nearest_centroid(x_train, y_train, x_test, y_test, num_classes) -> float:
  mu, sd = x_train.mean(0), x_train.std(0) + 1e-9
  x_train, x_test = (x_train - mu) / sd, (x_test - mu) / sd
  centroids = np.stack([x_train[y_train == k].mean(0) for k in range(num_classes)])
  pred = np.argmin(((x_test[:, None] - centroids[None]) ** 2).sum(-1), 1)
  return float((pred == y_test).mean())


@pytest.mark.parametrize("layout", syn.LAYOUTS)
def test_synthetic_small_class_is_in_the_motion_not_in_a_frame(layout):
  """Preset 'small' (10 classes): motion statistics of the actor classify far above chance,
  one frame's pose does not (the figures quoted in ``generate``'s docstring)."""
  cfg = syn.make_config(layout, "small")
  rng = np.random.default_rng(0)
  data = {}
  for split, n in (("train", cfg.num_train), ("val", cfg.num_val)):
    motion, frame, labels = [], [], []
    for i in range(n):
      kp = syn.generate_annotation(cfg, split, i)["keypoint"][0].astype(np.float64)
      motion.append(_motion_features(kp, layout))
      frame.append(_frame_features(kp, layout, rng))
      labels.append(syn.example_label(i, cfg.num_classes))
    data[split] = np.array(motion), np.array(frame), np.array(labels)
  (m_tr, f_tr, y_tr), (m_va, f_va, y_va) = data["train"], data["val"]
  assert np.bincount(y_va).tolist() == [12] * 10
  motion_acc = _nearest_centroid(m_tr, y_tr, m_va, y_va, 10)
  frame_acc = _nearest_centroid(f_tr, y_tr, f_va, y_va, 10)
  assert motion_acc > 0.7, motion_acc
  assert frame_acc < 0.2, frame_acc  # chance 0.1; 0.2 is 3.6 standard errors above it


def test_synthetic_configs_cli_and_messages(synthetic_dir, tmp_path):
  assert syn.make_config("ntu3d", "small").name == "ntu3d_small"
  custom = syn.make_config("coco2d", "tiny", num_classes=6)
  assert custom.name == syn.config_name("coco2d", **dict(syn.PRESETS["tiny"], num_classes=6))
  assert custom.class_names == generate.class_names(6)
  with pytest.raises(TypeError, match="Unknown vjax_synthetic_skeleton options"):
    syn.make_config("coco2d", num_frames=3)
  with pytest.raises(KeyError, match="layout"):
    syn.make_config("openpose")
  with pytest.raises(ValueError, match="num_classes"):
    syn.make_config("coco2d", num_classes=11)
  with pytest.raises(ValueError, match="min_frames"):
    syn.make_config("coco2d", min_frames=50, max_frames=40)
  with pytest.raises(KeyError, match="Unknown vjax_synthetic_skeleton config"):
    syn.open_builder(None, "tiny")
  with pytest.raises(FileNotFoundError, match="python -m tfds_builders.vjax_synthetic_skeleton"):
    TFDSDataset(syn.NAME, "train", data_dir=str(tmp_path), builder_config=dict(num_classes=2))
  syn_main.main(["--data_dir", str(tmp_path), "--layout", "ntu3d", "--num_train", "3",
                 "--num_val", "2", "--num_classes", "2", "--max_persons", "1"])
  ds = TFDSDataset(syn.NAME, "val", data_dir=str(tmp_path), builder_config=dict(
      layout="ntu3d", num_train=3, num_val=2, num_classes=2, max_persons=1))
  assert len(ds) == 2 and ds[1]["label"] == 1 and ds[1]["keypoint"].shape[0] == 1


# ------------------------------------------------------------------ posec3d
def _entry(rng, name: str, label: int, frames: int, persons: int = 1, layout: str = "coco2d",
           dtype=np.float32, **extra) -> dict:
  v, c = (17, 2) if layout == "coco2d" else (25, 3)
  out = {"frame_dir": name, "label": label, "total_frames": frames,
         "keypoint": rng.uniform(0, 300, (persons, frames, v, c)).astype(dtype)}
  if layout == "coco2d":
    out.update(img_shape=(240, 320), original_shape=(480, 640),
               keypoint_score=rng.uniform(0, 1, (persons, frames, v)).astype(dtype))
  out.update(extra)
  return out


def _dump(path, obj) -> None:
  with open(path, "wb") as f:
    pickle.dump(obj, f)


# Entries of the fake ntu60_2d.pkl, in file order: (name, label, frames, persons).
NTU2D = [("S001C001P001R001A001", 0, 20, 1), ("S001C002P003R001A002", 1, 16, 2),
         ("S001C003P001R001A060", 59, 12, 1), ("S001C001P002R001A003", 2, 18, 1)]


@pytest.fixture(scope="session")
def release(tmp_path_factory) -> str:
  """A manual_dir with fake releases of every layout posec3d reads."""
  root = tmp_path_factory.mktemp("posec3d_release")
  rng = np.random.default_rng(0)
  entries = [_entry(rng, n, l, t, m) for n, l, t, m in NTU2D]
  bad_coords = _entry(rng, "S002C001P003R001A004", 3, 10, layout="ntu3d",  # 3D in a 2D file
                      keypoint_score=np.ones((1, 10, 25), np.float32))
  bad_label = _entry(rng, "S002C001P004R001A061", 60, 10)
  short = _entry(rng, "S002C001P005R001A005", 4, 10)
  short["keypoint"] = short["keypoint"][:, :9]  # T != total_frames
  annotations = entries[:2] + [bad_coords] + entries[2:] + [bad_label, short]
  split = {"xsub_train": [NTU2D[3][0], NTU2D[0][0], "S009C001P001R001A001",
                          "S002C001P004R001A061"],
           "xsub_val": [NTU2D[1][0], NTU2D[2][0], "S002C001P003R001A004",
                        "S002C001P005R001A005"],
           "xview_train": [NTU2D[1][0], NTU2D[2][0]], "xview_val": [NTU2D[0][0]]}
  _dump(root / "ntu60_2d.pkl", {"split": split, "annotations": annotations})
  (root / "label_map_ntu60.txt").write_text("".join(f"action {i}\n" for i in range(60)))
  # MMAction2 0.24.1's ucf101.pkl in data/posec3d/: three official splits.
  (root / "posec3d").mkdir()
  ucf = [_entry(rng, f"v_Class{i % 3}_g0{i}_c01", i % 3, 8 + i, 1 + i % 2) for i in range(6)]
  _dump(root / "posec3d" / "ucf101.pkl", {"annotations": ucf, "split": {
      "train1": [e["frame_dir"] for e in ucf[:4]], "test1": [e["frame_dir"] for e in ucf[4:]],
      "train2": [e["frame_dir"] for e in ucf[2:]], "test2": [e["frame_dir"] for e in ucf[:2]],
      "train3": [], "test3": []}})
  # FineGYM as per-split lists (MMAction2 0.24.1's gym_train.pkl / gym_val.pkl).
  _dump(root / "gym_train.pkl", [_entry(rng, f"gym_{i}", 98 - i, 6) for i in range(3)])
  _dump(root / "gym_val.pkl", [_entry(rng, "gym_v", 5, 7)])
  # 3D: gen_ntu_rgbd_raw's output from the golden .skeleton files.
  gen_ntu_rgbd_raw.generate(osp.join(GOLDEN, "ntu"), str(root / "nturgb+d_skeletons_60_3d"),
                            osp.join(GOLDEN, "ignored.txt"), "ntu60")
  # BABEL: babel2mma2's output (float16 keypoints, no image shape) in babel/.
  babel2mma2.convert_folder(osp.join(GOLDEN, "babel"), str(root / "babel"))
  (root / "babel" / "babel120_train.pkl").rename(root / "babel" / "babel60_train.pkl")
  # Kinetics (PYSKL / MMAction2 1.x layout): shared kpfiles named by raw_file.
  (root / "kpfiles").mkdir()
  kp = {"vid_a": {"keypoint": rng.uniform(0, 1, (5, 17, 3)).astype(np.float32)},
        "vid_b": {"keypoint": rng.uniform(0, 1, (3, 17, 3)).astype(np.float32)}}
  _dump(root / "kpfiles" / "part_0.pkl", kp)
  k400 = [dict(frame_dir="vid_a", label=399, img_shape=(340, 256), original_shape=(340, 256),
               total_frames=300, raw_file="data/skeleton/kpfiles/part_0.pkl",
               frame_inds=np.array([40, 10, 40, 40, 10], np.int16),
               box_score=np.ones(5, np.float16)),
          dict(frame_dir="vid_b", label=7, img_shape=(340, 256), original_shape=(340, 256),
               total_frames=250, raw_file="kpfiles/part_0.pkl",
               frame_inds=np.array([3, 4, 5], np.int16), box_score=np.ones(3, np.float16)),
          dict(frame_dir="vid_c", label=1, img_shape=(340, 256), original_shape=(340, 256),
               total_frames=90, raw_file="kpfiles/part_9.pkl",
               frame_inds=np.array([0], np.int16), box_score=np.ones(1, np.float16))]
  _dump(root / "k400_2d.pkl", {"split": {"train": ["vid_a", "vid_c"], "val": ["vid_b"]},
                               "annotations": k400})
  return str(root)


@pytest.fixture(scope="session")
def posec3d_dir(release, tmp_path_factory) -> str:
  data_dir = str(tmp_path_factory.mktemp("tfds_posec3d"))
  for config in ("ntu60_xsub_2d", "ntu60_xview_2d", "ucf101_2d_split2", "gym_2d",
                 "ntu60_xsub_3d", "babel60", "k400_2d"):
    build_dataset.build("posec3d", release, data_dir, config)
  return data_dir


def _pickle(path):
  with open(path, "rb") as f:
    return pickle.load(f)


def _summary(data_dir, config):
  with open(osp.join(data_dir, "posec3d", config, "1.0.0", "build_summary.json")) as f:
    return json.load(f)


def _same(record: dict, entry: dict) -> None:
  """A TFDSDataset sample is the annotation entry as PoseDataset hands it over."""
  assert record["frame_dir"] == entry["frame_dir"] and record["label"] == entry["label"]
  assert record["total_frames"] == entry["total_frames"]
  assert record["start_index"] == 0 and record["modality"] == "Pose"
  assert record["keypoint"].dtype == np.float32
  np.testing.assert_array_equal(record["keypoint"], np.asarray(entry["keypoint"], np.float32))
  if "keypoint_score" in entry:
    np.testing.assert_array_equal(record["keypoint_score"], entry["keypoint_score"])
  else:
    assert "keypoint_score" not in record
  for key in ("img_shape", "original_shape"):
    assert record.get(key) == (tuple(entry[key]) if key in entry else None)


def test_posec3d_split_dict_release(release, posec3d_dir):
  annotations = {e["frame_dir"]: e for e in _pickle(osp.join(release, "ntu60_2d.pkl"))[
      "annotations"]}
  train = TFDSDataset("posec3d", "train", data_dir=posec3d_dir, builder_config="ntu60_xsub_2d")
  val = TFDSDataset("posec3d", "val", data_dir=posec3d_dir, builder_config="ntu60_xsub_2d")
  assert train.num_classes == 60 and train.class_names[59] == "action 59"
  # PoseDataset's rule: the split's members in the annotation file's order.
  assert [train[i]["frame_dir"] for i in range(len(train))] == [NTU2D[0][0], NTU2D[3][0]]
  assert [val[i]["frame_dir"] for i in range(len(val))] == [NTU2D[1][0], NTU2D[2][0]]
  for ds in (train, val):
    for i in range(len(ds)):
      _same(ds[i], annotations[ds[i]["frame_dir"]])
  assert val[0]["keypoint"].shape == (2, 16, 17, 2) and val[0]["img_shape"] == (240, 320)
  assert val[0]["original_shape"] == (480, 640)
  xview = TFDSDataset("posec3d", "train", data_dir=posec3d_dir, builder_config="ntu60_xview_2d")
  assert [xview[i]["frame_dir"] for i in range(len(xview))] == [NTU2D[1][0], NTU2D[2][0]]


def test_posec3d_reports_malformed_and_missing(posec3d_dir):
  summary = _summary(posec3d_dir, "ntu60_xsub_2d")
  train, val = summary["train"], summary["val"]
  assert train["examples"] == 2 and val["examples"] == 2
  assert {k: [s["video_id"] for s in v["samples"]] for k, v in train["skipped"].items()} == {
      "corrupt": ["S002C001P004R001A061"], "missing": ["S009C001P001R001A001"]}
  assert "label 60 outside [0, 60)" in train["skipped"]["corrupt"]["samples"][0]["detail"]
  details = {s["video_id"]: s["detail"] for s in val["skipped"]["corrupt"]["samples"]}
  assert "keypoint shape (1, 10, 25, 3), expected (persons, 10, 17, 2)" in details[
      "S002C001P003R001A004"]
  assert "keypoint shape (1, 9, 17, 2)" in details["S002C001P005R001A005"]
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  b = tfds.builder("posec3d", data_dir=posec3d_dir, config="ntu60_xsub_2d")
  counts = records.class_counts(b, "train")
  assert len(counts) == 60 and counts[0] == counts[2] == 1 and sum(counts) == 2


def test_posec3d_official_split_and_per_split_lists(release, posec3d_dir):
  ucf = _pickle(osp.join(release, "posec3d", "ucf101.pkl"))["annotations"]
  for split, want in (("train", ucf[2:]), ("val", ucf[:2])):  # train2 / test2
    ds = TFDSDataset("posec3d", split, data_dir=posec3d_dir, builder_config="ucf101_2d_split2")
    assert ds.num_classes == 101 and ds.class_names[:2] == ["0", "1"]
    assert len(ds) == len(want)
    for i, entry in enumerate(want):
      _same(ds[i], entry)
  for split in ("train", "val"):
    want = _pickle(osp.join(release, f"gym_{split}.pkl"))
    ds = TFDSDataset("posec3d", split, data_dir=posec3d_dir, builder_config="gym_2d")
    assert len(ds) == len(want) and ds.num_classes == 99
    for i, entry in enumerate(want):
      _same(ds[i], entry)


def test_posec3d_3d_from_the_tools(release, posec3d_dir):
  for split, part in (("train", "train"), ("val", "val")):
    # The golden inputs hold an NTU120 action (A061, label 60): corrupt for NTU60's 60 classes.
    want = [e for e in _pickle(osp.join(release, "nturgb+d_skeletons_60_3d", "xsub",
                                        f"{part}.pkl")) if e["label"] < 60]
    ds = TFDSDataset("posec3d", split, data_dir=posec3d_dir, builder_config="ntu60_xsub_3d")
    assert len(ds) == len(want) > 0
    for i, entry in enumerate(want):
      _same(ds[i], entry)
      assert ds[i]["keypoint"].shape[2:] == (25, 3) and ds[i]["img_shape"] == (1080, 1920)
  # A BABEL-120 file read as BABEL-60: labels from 60 up are out of range, hence corrupt.
  chunks = _pickle(osp.join(release, "babel", "babel60_train.pkl"))
  want = [e for e in chunks if e["label"] < 60]
  ds = TFDSDataset("posec3d", "train", data_dir=posec3d_dir, builder_config="babel60")
  assert chunks[0]["keypoint"].dtype == np.float16 and 0 < len(want) < len(chunks)
  assert len(ds) == len(want) and ds.num_classes == 60
  for i, entry in enumerate(want):
    _same(ds[i], entry)
    assert ds[i]["keypoint"].shape == (1, 150, 25, 3)
  skipped = _summary(posec3d_dir, "babel60")["train"]["skipped"]
  assert skipped["corrupt"]["count"] == len(chunks) - len(want)


def test_posec3d_kinetics_kpfiles(release, posec3d_dir):
  kp = _pickle(osp.join(release, "kpfiles", "part_0.pkl"))
  train = TFDSDataset("posec3d", "train", data_dir=posec3d_dir, builder_config="k400_2d")
  val = TFDSDataset("posec3d", "val", data_dir=posec3d_dir, builder_config="k400_2d")
  assert len(train) == 1 and len(val) == 1 and train.num_classes == 400
  a = train[0]
  # Detections at frames [40, 10, 40, 40, 10]: squeezed to frames (10, 40); the i-th detection
  # of a frame is person i; float16 as LoadKineticsPose gives them.
  rows = kp["vid_a"]["keypoint"].astype(np.float16).astype(np.float32)
  assert a["frame_dir"] == "vid_a" and a["label"] == 399 and a["total_frames"] == 2
  assert a["keypoint"].shape == (3, 2, 17, 2) and a["img_shape"] == (340, 256)
  want = np.zeros((3, 2, 17, 3), np.float32)
  want[0, 1], want[0, 0], want[1, 1], want[2, 1], want[1, 0] = rows
  np.testing.assert_array_equal(a["keypoint"], want[..., :2])
  np.testing.assert_array_equal(a["keypoint_score"], want[..., 2])
  b = val[0]
  assert b["total_frames"] == 3 and b["keypoint"].shape == (1, 3, 17, 2)
  np.testing.assert_array_equal(b["keypoint"][0], kp["vid_b"]["keypoint"][:, :, :2].astype(
      np.float16).astype(np.float32))
  (missing,) = _summary(posec3d_dir, "k400_2d")["train"]["skipped"]["missing"]["samples"]
  assert missing["video_id"] == "vid_c" and "part_9.pkl not found" in missing["detail"]


def test_kinetics_decompress_ranks_persons_beyond_max_person():
  rng = np.random.default_rng(1)
  rows = rng.uniform(0, 1, (5, 17, 3))
  rows[2, :, 2], rows[3, :, 2], rows[4, :, 2] = 0.5, 0.25, 0.75  # frame 7: order 4, 2, 3
  rows[0, :, 2], rows[1, :, 2] = 0.25, 0.5  # frame 3: order 1, 0
  keypoint, score, t = kinetics.decompress(rows, np.array([3, 3, 7, 7, 7]), 10, max_person=2)
  assert t == 2 and keypoint.shape == (2, 2, 17, 2) and keypoint.dtype == np.float16
  f16 = rows.astype(np.float16)
  for person, frame, row in ((0, 0, 1), (1, 0, 0), (0, 1, 4), (1, 1, 2)):
    np.testing.assert_array_equal(keypoint[person, frame], f16[row, :, :2])
    np.testing.assert_array_equal(score[person, frame], f16[row, :, 2])
  keypoint, _, t = kinetics.decompress(rows, np.array([3, 3, 7, 7, 7]), 10, squeeze=False)
  assert t == 10 and keypoint.shape == (3, 10, 17, 2) and not keypoint[:, :3].any()
  np.testing.assert_array_equal(keypoint[2, 7], f16[4, :, :2])


def test_kinetics_per_video_kpfile(tmp_path):
  """MMAction2 0.24.1's entries name a per-video pickle of the (N, V, 3) rows."""
  rows = np.arange(2 * 17 * 3, dtype=np.float64).reshape(2, 17, 3) / 100
  _dump(tmp_path / "abc.pkl", rows)
  reader = kinetics.KpfileReader(LOAD, [str(tmp_path)])
  entry = dict(filename="abc.pkl", frame_dir="abc", label=3, total_frames=40,
               img_shape=(320, 570), frame_inds=np.array([5, 9], np.int16),
               box_score=np.ones(2, np.float16), **{"valid@0.5": 2})
  out = kinetics.dense_annotation(entry, reader)
  assert set(out) == {"frame_dir", "label", "total_frames", "img_shape", "valid@0.5",
                      "keypoint", "keypoint_score"}
  assert out["total_frames"] == 2 and out["keypoint"].shape == (1, 2, 17, 2)
  np.testing.assert_array_equal(out["keypoint_score"][0], rows[:, :, 2].astype(np.float16))
  _dump(tmp_path / "abc.pkl", np.zeros((3, 17, 3)))
  reader = kinetics.KpfileReader(LOAD, [str(tmp_path)])
  with pytest.raises(enc.Skip, match="2 frame_inds for 3 detections"):
    kinetics.dense_annotation(entry, reader)
  with pytest.raises(enc.Skip, match="kpfile nope.pkl not found"):
    kinetics.dense_annotation(dict(entry, filename="nope.pkl"), reader)


def test_posec3d_download_errors(release, tmp_path):
  (tmp_path / "readme.txt").write_text("nothing here")
  with pytest.raises(FileNotFoundError, match="ntu120_2d.pkl, ntu120_hrnet.pkl, "
                     "ntu120_xset_train.pkl \\+ ntu120_xset_val.pkl"):
    build_dataset.build("posec3d", str(tmp_path), str(tmp_path / "tfds"), "ntu120_xset_2d")
  _dump(tmp_path / "hmdb51_2d.pkl", {"split": {"train1": []}, "annotations": []})
  with pytest.raises(ValueError, match="hmdb51_2d.pkl has no split test1"):
    build_dataset.build("posec3d", str(tmp_path), str(tmp_path / "tfds"), "hmdb51_2d_split1")
  _dump(tmp_path / "gym_2d.pkl", [])
  with pytest.raises(ValueError, match="expected a dict with 'split'"):
    build_dataset.build("posec3d", str(tmp_path), str(tmp_path / "tfds"), "gym_2d")
  (tmp_path / "label_map_ntu60.txt").write_text("a\nb\n")
  _dump(tmp_path / "ntu60_2d.pkl", _pickle(osp.join(release, "ntu60_2d.pkl")))
  with pytest.raises(ValueError, match="names 2 classes, ntu60_xsub_2d has 60"):
    build_dataset.build("posec3d", str(tmp_path), str(tmp_path / "tfds"), "ntu60_xsub_2d")


def test_make_record_checks_the_layout():
  rng = np.random.default_rng(2)
  good = _entry(rng, "x", 1, 5, 2)
  assert records.make_record(good, records.COCO2D, 2)["keypoint"].shape == (2, 5, 17, 2)
  cases = {"no keypoint_score": {k: v for k, v in good.items() if k != "keypoint_score"},
           "keypoint_score shape (2, 4, 17)": dict(good,
                                                   keypoint_score=good["keypoint_score"][:, :4]),
           "non-finite": dict(good, keypoint=np.full((2, 5, 17, 2), np.nan, np.float32)),
           "is not (height, width)": dict(good, img_shape=(1, 2, 3)),
           "not a dict": [good]}
  for message, entry in cases.items():
    with pytest.raises(enc.Skip, match=re.escape(message)) as e:
      records.make_record(entry, records.COCO2D, 2)
    assert e.value.reason == "corrupt"
  three_d = records.make_record(_entry(rng, "y", 0, 4, layout="ntu3d"), records.NTU3D, 1)
  assert "keypoint_score" not in three_d and three_d["img_shape"].tolist() == [0, 0]
  assert "img_shape" not in records.results_from_record(three_d, 0)
