"""Skeleton data side: PoseDataset and the pose ops against MMAction2 0.24.1's outputs on the
same inputs (tests/golden/pose, written by tests/reference/make_golden_pose.py in the
reference venv), hand derivations, malformed records through the loader, and every pipeline
of every shipped skeleton config on generated records.

Every parity case is compared exactly (values, dtypes, shapes): vjax repeats MMAction2's
float32 / float64 arithmetic, including GeneratePoseTarget's heatmaps. MMAction2's NCTHW
volumes are channels-first; vjax's FormatShape output is channels-last, so expected heatmap
volumes are compared after moving their channel axis last.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import logging
import os
import pickle
import zlib
from pathlib import Path

import numpy as np
import pytest

from vjax.data import Compose, SampleError, make_eval_iterator, make_train_iterator
from vjax.data import ops_augment
from vjax.data.ops_pose import GeneratePoseTarget, LoadKineticsPose
from vjax.data.sources import DATASETS, PoseDataset, build_split

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "pose"
CASES = json.loads((GOLDEN / "cases.json").read_text())
POSES = str(GOLDEN / "poses.pkl")


@pytest.fixture(scope="module")
def arrays():
  with np.load(GOLDEN / "arrays.npz") as f:
    return dict(f)


def _names(prefix: str) -> list[str]:
  return [n for n in CASES if n.startswith(prefix) and isinstance(CASES[n], dict)
          and "pipeline" in CASES[n] and "inputs" in CASES[n]]


def _inputs(name: str, arrays) -> dict:
  out = {}
  for key, value in CASES[name]["inputs"].items():
    if isinstance(value, dict) and "array" in value:
      out[key] = arrays[f"{name}/in/{key}"].copy()
    elif key in ("img_shape", "original_shape"):
      out[key] = tuple(value)
    else:
      out[key] = value
  return out


def _plain(v):
  if isinstance(v, dict):
    return {k: _plain(x) for k, x in v.items()}
  if isinstance(v, (tuple, list, np.ndarray)):
    return [_plain(x) for x in (v.tolist() if isinstance(v, np.ndarray) else v)]
  if isinstance(v, (np.integer, np.floating, np.bool_)):
    return v.item()
  return v


def _assert_outputs(name: str, got: dict, arrays, prefix: str | None = None) -> None:
  want = CASES[name]["outputs"] if prefix is None else CASES[name]["outputs"][prefix]
  stored = name if prefix is None else f"{name.removeprefix('pipeline_')}/{prefix}"
  assert set(got) == set(want), name
  for key, spec in want.items():
    if isinstance(spec, dict) and "array" in spec:
      expected, value = arrays[f"{stored}/out/{key}"], np.asarray(got[key])
      if key == "imgs" and expected.ndim == 5:  # MMAction2's (views, C, T, H, W)
        expected = np.moveaxis(expected, 1, -1)
      assert value.dtype == expected.dtype and value.shape == expected.shape, (name, key)
      np.testing.assert_array_equal(value, expected, err_msg=f"{name}: {key}")
    else:
      assert _plain(got[key]) == spec, (name, key)


def test_golden_files_come_from_mmaction2_0_24_1():
  meta = json.loads((GOLDEN / "meta.json").read_text())
  assert meta["mmaction2"] == "0.24.1" and meta["generator"].endswith("make_golden_pose.py")
  assert sum(f.stat().st_size for f in GOLDEN.rglob("*") if f.is_file()) < 1024 * 1024


# ------------------------------------------------------------------ sampling
def test_uniform_sample_frames_test_mode_matches_mmaction2():
  table = CASES["UniformSampleFrames_test"]
  assert table["columns"] == ["clip_len", "num_clips", "total_frames", "start_index",
                              "frame_inds"]
  assert len(table["rows"]) == 288
  for clip_len, num_clips, n, start, want in table["rows"]:
    op = Compose([dict(type="UniformSampleFrames", clip_len=clip_len, num_clips=num_clips,
                       test_mode=True)])
    r = op(dict(total_frames=n, start_index=start), np.random.default_rng(n))
    assert r["frame_inds"].tolist() == want, (clip_len, num_clips, n, start)
    assert r["frame_inds"].dtype == np.int64 and r["num_clips"] == num_clips


class _Replay:
  """Hands vjax the random draws MMAction2 made (recorded in the goldens) and checks that it
  asks for the same ones: ``integers``/``randint`` for MMAction2's ``randint``."""

  def __init__(self, calls):
    self.calls = [c for c in calls if c[0] != "seed"]

  def _next(self, kind, args):
    name, want_args, out = self.calls.pop(0)
    assert name == kind and _plain(list(args)) == want_args, (name, want_args, kind, args)
    return np.asarray(out, dtype=np.int64)

  def integers(self, low, high=None):
    return self._next("randint", [low] if high is None else [low, high])

  def randint(self, low, high=None):
    return self.integers(low, high)

  def choice(self, a, size=None, replace=True):
    return self._next("choice", [a, size, replace])


def test_uniform_sample_frames_train_mode_replays_mmaction2():
  rows = CASES["UniformSampleFrames_train"]["rows"]
  assert len(rows) == 48
  for clip_len, n, draws, want in rows:
    replay = _Replay(draws)
    op = Compose([dict(type="UniformSampleFrames", clip_len=clip_len)])
    r = op(dict(total_frames=n, start_index=0), replay)
    assert r["frame_inds"].tolist() == want and not replay.calls, (clip_len, n)


def test_padding_with_loop_matches_mmaction2():
  for clip_len, n, want, num_clips in CASES["PaddingWithLoop"]["rows"]:
    r = Compose([dict(type="PaddingWithLoop", clip_len=clip_len)])(dict(total_frames=n))
    assert r["frame_inds"].tolist() == want and r["num_clips"] == num_clips
    assert r["clip_len"] == clip_len and r["frame_interval"] is None


# ------------------------------------------------------------------ single ops
@pytest.mark.parametrize("name", _names("PoseDecode") + _names("PoseCompact")
                         + _names("JointToBone") + _names("PoseNormalize")
                         + _names("FormatGCNInput"))
def test_pose_ops_match_mmaction2(name, arrays):
  got = Compose(CASES[name]["pipeline"])(_inputs(name, arrays))
  _assert_outputs(name, got, arrays)


@pytest.mark.parametrize("name", _names("GeneratePoseTarget"))
def test_generate_pose_target_matches_mmaction2(name, arrays):
  got = Compose(CASES[name]["pipeline"])(_inputs(name, arrays))
  _assert_outputs(name, got, arrays)
  # (frames, H, W, channels): channels-last per frame, frames doubled by `double`.
  cfg = CASES[name]["pipeline"][0]
  kp = _inputs(name, arrays)["keypoint"]
  channels = 17 * cfg.get("with_kp", True) + 17 * cfg.get("with_limb", False)
  frames = kp.shape[1] * (2 if cfg.get("double") else 1)
  assert got["imgs"].shape == (frames, 20, 24, channels)


@pytest.mark.parametrize("name", _names("augment_"))
def test_keypoint_augmentations_match_mmaction2(name, arrays, monkeypatch):
  # The goldens fixed RandomResizedCrop's box (CASES['augment_resized_crop_box']).
  monkeypatch.setattr(ops_augment.RandomResizedCrop, "get_crop_bbox", staticmethod(
      lambda img_shape, *a, **k: (int(img_shape[1] * 0.1), int(img_shape[0] * 0.15),
                                  int(img_shape[1] * 0.85), int(img_shape[0] * 0.9))))
  got = Compose(CASES[name]["pipeline"])(_inputs(name, arrays), np.random.default_rng(0))
  _assert_outputs(name, got, arrays)


@pytest.mark.parametrize("name", _names("LoadKineticsPose"))
def test_load_kinetics_pose_matches_mmaction2(name, arrays):
  results = _inputs(name, arrays)
  results["filename"] = str(GOLDEN / "kinetics" / results["filename"])
  got = Compose(CASES[name]["pipeline"])(results)
  _assert_outputs(name, got, arrays)


# ------------------------------------------------------------------ hand derivations
def test_joint_heatmap_by_hand():
  """One joint at (5.3, 7.6), score 0.8, sigma 0.6: 0.8 exp(-d^2 / 0.72) on the pixels
  x in [int(5.3 - 1.8), int(5.3 + 1.8) + 1) = [3, 8), y in [5, 10), zero elsewhere."""
  kp = np.zeros((1, 1, 17, 2), np.float32)
  kp[0, 0, 3] = (5.3, 7.6)
  score = np.zeros((1, 1, 17), np.float32)
  score[0, 0, 3] = 0.8
  imgs = GeneratePoseTarget()(dict(keypoint=kp, keypoint_score=score, img_shape=(12, 16)))["imgs"]
  y, x = np.mgrid[:12, :16]
  want = 0.8 * np.exp(-((x - 5.3) ** 2 + (y - 7.6) ** 2) / 0.72)
  want[(x < 3) | (x >= 8) | (y < 5) | (y >= 10)] = 0
  np.testing.assert_allclose(imgs[0, :, :, 3], want, rtol=1e-5, atol=0)
  assert not np.delete(imgs, 3, axis=-1).any()  # every other joint scores 0 < eps


def test_limb_heatmap_by_hand():
  """Limb (2, 5)-(10, 5), scores 0.9 and 0.5: 0.5 exp(-dist^2 / 0.72) with dist to the
  segment, inside the 3-sigma box x in [0, 12), y in [int(3.2), int(6.8) + 1) = [3, 7)."""
  kp = np.zeros((1, 1, 2, 2), np.float32)
  kp[0, 0] = [(2, 5), (10, 5)]
  score = np.array([[[0.9, 0.5]]], np.float32)
  op = GeneratePoseTarget(with_kp=False, with_limb=True, skeletons=((0, 1),))
  heat = op(dict(keypoint=kp, keypoint_score=score, img_shape=(10, 14)))["imgs"][0, ..., 0]
  y, x = np.mgrid[:10, :14].astype(np.float64)
  dist2 = (y - 5) ** 2 + np.where(x < 2, 2 - x, np.where(x > 10, x - 10, 0)) ** 2
  want = 0.5 * np.exp(-dist2 / 0.72)
  want[(x >= 12) | (y < 3) | (y >= 7)] = 0
  np.testing.assert_allclose(heat, want, rtol=1e-6, atol=0)
  assert heat[6, 6] > 0 and heat[7, 6] == 0  # one pixel below is inside, two are cut off


def test_double_appends_the_mirrored_skeleton():
  kp = np.zeros((1, 1, 17, 2), np.float32)
  kp[0, 0, 1] = (3, 4)  # a left eye; its mirror is the right eye at x = 20 - 3
  score = np.zeros((1, 1, 17), np.float32)
  score[0, 0, 1] = 1
  imgs = GeneratePoseTarget(double=True)(dict(keypoint=kp, keypoint_score=score,
                                              img_shape=(8, 20)))["imgs"]
  assert imgs.shape == (2, 8, 20, 17)
  assert imgs[0, 4, 3, 1] == 1 and imgs[1, 4, 17, 2] == 1
  assert imgs[1, ..., 1].max() == 0 and imgs[0, ..., 2].max() == 0


def test_format_gcn_input_pads_persons_with_zeros():
  kp = np.arange(1 * 4 * 3 * 2, dtype=np.float32).reshape(1, 4, 3, 2)
  score = np.full((1, 4, 3), 0.5, np.float32)
  out = Compose([dict(type="FormatGCNInput", num_person=3)])(dict(keypoint=kp,
                                                                  keypoint_score=score))
  x = out["keypoint"]
  assert x.shape == out["input_shape"] == (3, 4, 3, 3) and x.flags.c_contiguous
  np.testing.assert_array_equal(x[:2, ..., 0], kp[0].transpose(2, 0, 1))
  np.testing.assert_array_equal(x[2, ..., 0], score[0])
  assert not x[..., 1:].any()  # the missing persons are zeros


def test_pose_compact_by_hand():
  """Joints spanning x 100..140, y 50..150 (a (0, 0) joint ignored), padding 0.25, h/w 1:
  half sizes 25 x 62.5 -> 62.5 x 62.5 around (120, 100): box [57, 37) .. (182, 162)."""
  kp = np.array([[[[100, 50], [140, 150], [0, 0], [120, 100]]]], np.float32)
  out = Compose([dict(type="PoseCompact", hw_ratio=1.)])(dict(keypoint=kp,
                                                              img_shape=(200, 300)))
  assert out["img_shape"] == (125, 125)
  np.testing.assert_array_equal(out["keypoint"][0, 0], [[43, 13], [83, 113], [0, 0],
                                                        [63, 63]])
  np.testing.assert_allclose(out["crop_quadruple"], (57 / 300, 37 / 200, 125 / 300, 125 / 200))


def test_load_kinetics_pose_by_hand(tmp_path):
  """Boxes in frames 4, 4, 9 (squeezed to 0, 0, 1): two persons; with max_person=1 the
  box whose weighted scores are higher comes first."""
  rows = np.zeros((3, 17, 3), np.float32)
  rows[:, :, :2] = np.arange(3)[:, None, None] + 1
  rows[0, :, 2], rows[1, :, 2], rows[2, :, 2] = 0.25, 0.5, 0.75
  path = tmp_path / "v.pkl"
  path.write_bytes(pickle.dumps(rows))
  record = dict(filename=str(path), total_frames=10, img_shape=(20, 30),
                frame_inds=np.array([4, 4, 9]), box_score=np.ones(3))
  out = LoadKineticsPose()(copy.deepcopy(record))
  assert out["total_frames"] == 2 and out["num_person"] == 2
  assert out["keypoint"].shape == (2, 2, 17, 2) and out["keypoint"].dtype == np.float16
  assert out["keypoint"][:, 0, 0, 0].tolist() == [1, 2]
  assert out["keypoint"][:, 1, 0, 0].tolist() == [3, 0]
  assert not {"filename", "frame_inds", "box_score"} & set(out)
  top = LoadKineticsPose(max_person=1)(copy.deepcopy(record))
  assert top["num_person"] == 1 and top["keypoint"][0, :, 0, 0].tolist() == [2, 3]
  assert top["keypoint_score"][0, :, 0].tolist() == [0.5, 0.75]
  flat = LoadKineticsPose(squeeze=False)(copy.deepcopy(record))
  assert flat["total_frames"] == 10 and flat["keypoint"].shape == (2, 10, 17, 2)
  with pytest.raises(ValueError, match="2 person boxes but the record's frame_inds has 3"):
    path.write_bytes(pickle.dumps(rows[:2]))
    LoadKineticsPose()(copy.deepcopy(record))


def test_keypoint_ops_refuse_lazy_and_vertical_flips():
  results = dict(keypoint=np.ones((1, 2, 17, 2), np.float32), img_shape=(10, 10))
  with pytest.raises(ValueError, match="not compatible with lazy=True"):
    Compose([dict(type="CenterCrop", crop_size=4, lazy=True)])(copy.deepcopy(results))
  with pytest.raises(ValueError, match="only be flipped horizontally"):
    Compose([dict(type="Flip", direction="vertical")])(copy.deepcopy(results))


# ------------------------------------------------------------------ PoseDataset
def test_pose_dataset_splits_match_mmaction2():
  for key, want in CASES["PoseDataset_splits"].items():
    split, prefix = key.split("/")
    ds = PoseDataset(POSES, split=split, data_prefix=prefix)
    assert [i["frame_dir"] for i in ds.video_infos] == want
    sample = ds[0]
    assert sample["modality"] == "Pose" and sample["start_index"] == 0
    assert "_where" not in sample


def test_pose_dataset_kinetics_filters_match_mmaction2():
  ann = str(GOLDEN / "kinetics.pkl")
  cases = {"all": {}, "valid_0.5": dict(valid_ratio=0.5),
           "valid_0.9_box_0.7": dict(valid_ratio=0.9, box_thr="0.7"),
           "valid_0.3_box_0.5": dict(valid_ratio=0.3, box_thr="0.5")}
  assert set(cases) == set(CASES["PoseDataset_kinetics"])
  for name, kwargs in cases.items():
    ds = PoseDataset(ann, data_prefix="kin_root", **kwargs)
    got = [dict(filename=i["filename"], anno_inds=_plain(i.get("anno_inds")))
           for i in ds.video_infos]
    assert got == CASES["PoseDataset_kinetics"][name], name


def test_pose_dataset_kinetics_record_through_load_kinetics_pose(arrays):
  """A Kinetics-pose record read by PoseDataset (box_thr anno_inds) and LoadKineticsPose,
  then the PoseC3D ops, gives the fixed-shape heatmap volume."""
  ds = PoseDataset(str(GOLDEN / "kinetics.pkl"), data_prefix=str(GOLDEN / "kinetics"),
                   valid_ratio=0.3, box_thr="0.6")
  pipe = Compose([dict(type="LoadKineticsPose", max_person=2),
                  dict(type="UniformSampleFrames", clip_len=5, num_clips=2, test_mode=True),
                  dict(type="PoseDecode"), dict(type="PoseCompact", hw_ratio=1.),
                  dict(type="Resize", scale=(-1, 24)), dict(type="CenterCrop", crop_size=20),
                  dict(type="GeneratePoseTarget", with_limb=True),
                  dict(type="FormatShape", input_format="NCTHW"),
                  dict(type="Collect", keys=["imgs", "label"], meta_keys=[])])
  for i in range(len(ds)):
    out = pipe(ds[i])
    assert out["imgs"].shape == (2, 5, 20, 20, 34) and out["imgs"].dtype == np.float32
    assert out["imgs"].max() > 0 and out["label"] == ds.video_infos[i]["label"]


def _record(frame_dir, label=0, persons=2, frames=12, joints=17, dims=2, score=True):
  """People standing about a 1080p frame: joints within a body's height (~300 px) of one
  centre per person, moving a little from frame to frame."""
  rng = np.random.default_rng(zlib.crc32(frame_dir.encode()))
  centre = rng.uniform([600, 400], [1300, 700], (persons, 1, 1, 2))
  body = rng.uniform(-150, 150, (persons, 1, joints, 2))
  move = rng.normal(0, 3, (persons, frames, 1, 2)).cumsum(1)
  kp = centre + body + move
  if dims == 3:
    kp = np.concatenate([kp, rng.normal(3, 0.2, (persons, frames, joints, 1))], -1)
  r = dict(frame_dir=frame_dir, label=label, total_frames=frames, img_shape=(1080, 1920),
           original_shape=(1080, 1920), keypoint=kp.astype(np.float32))
  if score:
    r["keypoint_score"] = rng.uniform(0.1, 1, (persons, frames, joints)).astype(np.float32)
  return r


def _dump(path, data) -> str:
  with open(path, "wb") as f:
    pickle.dump(data, f)
  return str(path)


def test_malformed_records_are_named_and_skipped_by_the_loader(tmp_path, caplog):
  bad_shape = _record("bad_shape")
  bad_shape["keypoint"] = bad_shape["keypoint"][0]  # (T, V, C): the person axis is missing
  bad_score = _record("bad_score")
  bad_score["keypoint_score"] = bad_score["keypoint_score"][:, :5]
  no_kp = _record("no_kp")
  del no_kp["keypoint"]
  records = [_record("good0", 0), bad_shape, bad_score, no_kp, _record("good4", 4, persons=1)]
  ann = _dump(tmp_path / "ann.pkl", records)
  ds = PoseDataset(ann)
  with pytest.raises(ValueError, match=r"ann\.pkl: video 'bad_shape' \(record 1\): 'keypoint' "
                     r"is shape \(12, 17, 2\) float32; expected .*\(M persons, T frames"):
    ds[1]
  with pytest.raises(ValueError, match=r"video 'bad_score' \(record 2\): 'keypoint_score' is "
                     r"\(2, 5, 17\); expected shape \(2, 12, 17\)"):
    ds[2]
  with pytest.raises(ValueError, match=r"video 'no_kp' \(record 3\) has no 'keypoint'"):
    ds[3]
  assert ds.describe(2) == f"bad_score (record 2 of {ann})"
  pipe = [dict(type="PaddingWithLoop", clip_len=10), dict(type="PoseDecode"),
          dict(type="FormatGCNInput", input_format="NCTVM"),
          dict(type="Collect", keys=["keypoint", "label"], meta_keys=[])]
  it = make_eval_iterator(ds, pipe, global_batch_size=5, on_error="skip")
  with caplog.at_level(logging.WARNING):
    (batch,) = list(it)
  assert batch["keypoint"].shape == (5, 3, 10, 17, 2)
  assert batch["label"].tolist() == [0, 4, 4, 4, 4]  # 1-3 fall through to the next good one
  assert sorted(it.bad_samples()) == sorted(ds.describe(i) for i in (1, 2, 3))
  with pytest.raises(SampleError, match=r"bad_shape \(record 1 of .*ann\.pkl\)"):
    list(make_eval_iterator(ds, pipe, global_batch_size=5))


def test_pose_dataset_file_errors(tmp_path):
  with pytest.raises(FileNotFoundError, match="missing.pkl not found; .*tools/data/skeleton"):
    PoseDataset(str(tmp_path / "missing.pkl"))
  with pytest.raises(ValueError, match="must be a .pkl file"):
    PoseDataset(str(tmp_path / "ann.json"))
  with pytest.raises(ValueError, match=r"holds splits \['test1', 'train1'\]; choose one"):
    PoseDataset(POSES)
  with pytest.raises(KeyError, match="no split 'train2'"):
    PoseDataset(POSES, split="train2")
  plain = _dump(tmp_path / "plain.pkl", [_record("a")])
  with pytest.raises(ValueError, match="split='train1' needs a file of the form"):
    PoseDataset(plain, split="train1")
  with pytest.raises(ValueError, match="record 1 is not a dict with 'frame_dir'"):
    PoseDataset(_dump(tmp_path / "b.pkl", [_record("a"), {"label": 1}]))
  with pytest.raises(ValueError, match="box_thr must be one of"):
    PoseDataset(plain, box_thr="0.75")
  assert PoseDataset(plain, box_thr=0.7).box_thr == "0.7"

  class Evil:
    def __reduce__(self):
      return (os.system, (f"touch {tmp_path / 'pwned'}",))

  evil = _dump(tmp_path / "evil.pkl", [dict(_record("a"), extra=Evil())])
  with pytest.raises(pickle.UnpicklingError, match=r"evil\.pkl: refusing to load "
                     r"'posix\.system'"):
    PoseDataset(evil)
  assert not (tmp_path / "pwned").exists()


def test_class_prob_weights_only_with_sample_by_class(tmp_path, caplog):
  labels = [0, 0, 0, 1]
  ann = _dump(tmp_path / "ann.pkl", [_record(f"v{i}", l) for i, l in enumerate(labels)])
  assert PoseDataset(ann).sample_weights() is None
  # power 0: both classes equally likely -> 1/6 for each class-0 video, 1/2 for the other.
  np.testing.assert_allclose(PoseDataset(ann, sample_by_class=True).sample_weights(),
                             [1 / 6, 1 / 6, 1 / 6, 1 / 2])
  given = PoseDataset(ann, sample_by_class=True, class_prob={0: 1, 1: 2})
  np.testing.assert_allclose(given.sample_weights(), np.array([1 / 3] * 3 + [2]) / 3)
  with caplog.at_level(logging.WARNING):
    inert = PoseDataset(ann, class_prob={0: 1, 1: 2})  # as MMAction2's NTU-120 configs
  assert inert.sample_weights() is None and "only with sample_by_class=True" in caplog.text
  it = make_train_iterator(given, [dict(type="Collect", keys=["label"], meta_keys=[])],
                           global_batch_size=4, seed=0)
  draws = np.concatenate([next(it)["label"] for _ in range(50)])
  assert abs(np.mean(draws == 1) - 2 / 3) < 0.1


def test_split_dataset_with_repeat_wrapper_builds_from_a_config():
  source, pipeline = build_split(dict(
      type="RepeatDataset", times=3,
      dataset=dict(type="PoseDataset", ann_file=POSES, split="train1", data_prefix="",
                   pipeline=[dict(type="PoseDecode")])))
  assert len(source) == 6 and pipeline == [dict(type="PoseDecode")]
  assert DATASETS.build(dict(type="PoseDataset", ann_file=POSES, split="test1")).split == "test1"


# ------------------------------------------------------------------ whole shipped pipelines
@pytest.mark.parametrize("name", ["posec3d_keypoint", "posec3d_limb", "stgcn", "agcn_bone_3d"])
def test_shipped_test_pipelines_match_mmaction2(name, arrays):
  case = CASES[f"pipeline_{name}"]
  ds = PoseDataset(POSES, split="test1", data_prefix="", test_mode=True)
  pipe = Compose(case["pipeline"])
  assert case["outputs"]
  for i, info in enumerate(ds.video_infos):
    if info["frame_dir"] in case["outputs"]:
      _assert_outputs(f"pipeline_{name}", pipe(ds[i]), arrays, prefix=info["frame_dir"])


def _config_root() -> Path | None:
  spec = importlib.util.find_spec("mmaction")
  if spec is None or not spec.submodule_search_locations:
    return None
  root = Path(list(spec.submodule_search_locations)[0]) / ".mim" / "configs" / "skeleton"
  return root if root.is_dir() else None


ROOT = _config_root()
SHIPPED = sorted(str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py")) if ROOT else []


def _set_ann_file(cfg: dict, path: str) -> dict:
  cfg = dict(cfg)
  if "ann_file" in cfg:
    cfg["ann_file"] = path
  if isinstance(cfg.get("dataset"), dict):
    cfg["dataset"] = _set_ann_file(cfg["dataset"], path)
  return cfg


def _expected_shape(pipeline: list, record: dict) -> tuple[str, tuple]:
  """The sample shape the config's ops imply for ``record``."""
  ops = {op["type"]: op for op in pipeline}
  if "GeneratePoseTarget" in ops:
    sample, target = ops["UniformSampleFrames"], ops["GeneratePoseTarget"]
    channels = (17 * target.get("with_kp", True)
                + len(target.get("skeletons", range(17))) * target.get("with_limb", False))
    last = [op for op in pipeline if op["type"] in ("Resize", "CenterCrop")][-1]
    size = last["crop_size"] if last["type"] == "CenterCrop" else last["scale"]
    w, h = (size, size) if isinstance(size, int) else size
    views = sample.get("num_clips", 1) * (2 if target.get("double") else 1)
    return "imgs", (views, sample["clip_len"], h, w, channels)
  frames = ops["PaddingWithLoop"]["clip_len"] if "PaddingWithLoop" in ops else (
      record["total_frames"])
  kp = record["keypoint"]
  coords = kp.shape[-1] + ("keypoint_score" in record)
  return "keypoint", (coords, frames, kp.shape[2], ops["FormatGCNInput"].get("num_person", 2))


@pytest.mark.skipif(ROOT is None, reason="the mmaction2 package (with its .mim/configs) is "
                    "not importable; the shipped test pipelines are also checked from the goldens")
@pytest.mark.parametrize("config", SHIPPED)
def test_every_shipped_skeleton_pipeline_runs(config, tmp_path):
  from vjax.convert.mmaction2_config import \
    load_any_config  # pylint: disable=g-import-not-at-top
  cfg = load_any_config(str(ROOT / config))
  model = cfg.model.to_dict()
  layout = model["backbone"].get("graph_cfg", {}).get("layout")
  if model["type"] == "Recognizer3D" or layout == "coco":  # 2-D COCO-17 with scores
    records = [_record("S001C001P001R001A001", 1, frames=40),
               _record("S001C001P002R001A002", 2, persons=3, frames=130)]
  else:  # NTU 3-D joints, 25 per person, no scores (babel: 150 frames)
    frames = 150 if "babel" in config else 103
    records = [_record("S001C001P001R001A001", 1, frames=frames, joints=25, dims=3,
                       score=False),
               _record("S001C001P002R001A002", 2, persons=1, frames=frames, joints=25, dims=3,
                       score=False)]
  names = [r["frame_dir"] for r in records]
  data = dict(split=dict(train1=names, test1=names), annotations=records)
  ann_split = _dump(tmp_path / "split.pkl", data)
  ann_list = _dump(tmp_path / "list.pkl", records)
  expected_shapes = set()
  for split in ("train", "val", "test"):
    split_cfg = cfg.data[split].to_dict()
    uses_split = "split" in split_cfg or "split" in split_cfg.get("dataset", {})
    source, pipeline = build_split(_set_ann_file(split_cfg, ann_split if uses_split
                                                 else ann_list))
    pipe = Compose(pipeline)
    for i, record in enumerate(records):
      out = pipe(source[i], np.random.default_rng(i))
      key, shape = _expected_shape(pipeline, record)
      assert set(out) == {key, "label"} and out["label"] == record["label"]
      assert out[key].shape == shape and out[key].dtype == np.float32, (split, out[key].shape)
      expected_shapes.add((split, shape))
  literal = {  # spot checks of the derivation
      "posec3d/slowonly_r50_u48_240e_ntu60_xsub_keypoint.py": ("test", (20, 48, 64, 64, 17)),
      "posec3d/slowonly_r50_u48_240e_gym_limb.py": ("train", (1, 48, 56, 56, 17)),
      "posec3d/slowonly_kinetics400_pretrained_r50_u48_120e_hmdb51_split1_keypoint.py":
          ("val", (1, 48, 56, 56, 17)),
      "stgcn/stgcn_80e_ntu60_xsub_keypoint.py": ("test", (3, 300, 17, 2)),
      "stgcn/stgcn_80e_babel60.py": ("train", (3, 150, 25, 1)),
      "2s-agcn/2sagcn_80e_ntu60_xsub_bone_3d.py": ("val", (3, 300, 25, 2)),
  }
  if config in literal:
    assert literal[config] in expected_shapes
