"""vjax.tools.gen_ntu_rgbd_raw and vjax.tools.babel2mma2: outputs derived by hand from small
inputs written here (NTU's .skeleton text format, BABEL's arrays and label tuple), and
MMAction2 0.24.1's own outputs on the golden inputs (tests/reference/
make_golden_skeleton_tools.py)."""

from __future__ import annotations

import json
import os
import os.path as osp
import pickle

import numpy as np
import pytest

from vjax.tools import babel2mma2, gen_ntu_rgbd_raw

GOLDEN = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), "golden", "skeleton_tools")


def write_skeleton(path: str, frames: list[list[np.ndarray]]) -> None:
  """A .skeleton file: per frame its bodies, each (25, 3) x, y, z; the other values of the
  body and joint lines (ids, depth / colour pixels, orientation, tracking state) arbitrary."""
  lines = [str(len(frames))]
  for bodies in frames:
    lines.append(str(len(bodies)))
    for b, joints in enumerate(bodies):
      lines += [f"7205759403793{b:04d} 0 1 1 1 1 0 -0.2377 0.1184 2", "25"]
      lines += [f"{x:.4f} {y:.4f} {z:.4f} 277.4 191.8 1036.2 519.2 -0.206 0.0535 0.969 -0.124 2"
                for x, y, z in joints]
  with open(path, "w") as f:
    f.write("\n".join(lines) + "\n")


def upright(rng, centre, size: float = 1.0) -> np.ndarray:
  """(25, 3) joints of a body whose hip-to-spine bone (0 -> 1) points along +y and whose
  shoulders (4 -> 8) along +x, so that the pre-normalization's rotations are known: y -> z,
  then none. Coordinates have 4 decimals, as written."""
  j = np.round(centre + size * rng.uniform(-0.4, 0.4, (25, 3)), 4)
  j[1] = j[0] + [0, round(0.3 * size, 4), 0]
  j[8] = j[4] + [round(0.35 * size, 4), 0, 0]
  return np.round(j, 4)


def jitter(rng, joints: np.ndarray, scale: float) -> np.ndarray:
  return np.round(joints + rng.normal(0, scale, joints.shape), 4)


def normalized(joints: np.ndarray, centre: np.ndarray) -> np.ndarray:
  """Centred on ``centre`` (the first body's joint 1), then y -> z: (x, y, z) -> (x, -z, y)."""
  c = (joints - centre).astype(np.float32)
  return np.stack([c[..., 0], -c[..., 2], c[..., 1]], -1)


@pytest.fixture(scope="module")
def ntu_dir(tmp_path_factory):
  """Five samples (one ignored) and what gen_ntu_rgbd_raw must make of the others."""
  root = str(tmp_path_factory.mktemp("ntu"))
  data = osp.join(root, "skeletons")
  os.makedirs(data)
  rng = np.random.default_rng(0)
  want = {}
  # A: one body, 3 frames.
  a = [upright(rng, [0.1, 0.2, 3.0])]
  a += [jitter(rng, a[0], 0.05), jitter(rng, a[0], 0.05)]
  write_skeleton(osp.join(data, "S001C001P001R001A001.skeleton"), [[f] for f in a])
  want["S001C001P001R001A001"] = (0, np.stack([
      np.stack([normalized(f, f[1]) for f in a]), np.zeros((3, 25, 3), np.float32)]))
  # B: 3 bodies listed [idle, big, medium]; the medium one is missing from frame 0, so its
  # frames move to the front and the last is filled from the first. Kept: big, medium.
  idle = np.round([0.5, 0.0, 3.0] + rng.uniform(-0.01, 0.01, (25, 3)), 4)
  big = [upright(rng, [-0.4, 0.1, 2.8], 1.5)]
  big += [jitter(rng, big[0], 0.1), jitter(rng, big[0], 0.1)]
  medium = [None, upright(rng, [0.9, 0.1, 3.2], 0.8)]
  medium.append(jitter(rng, medium[1], 0.02))
  write_skeleton(osp.join(data, "S001C002P003R002A010.skeleton"),
                 [[idle, big[0]], [idle, big[1], medium[1]], [idle, big[2], medium[2]]])
  shifted = [medium[1], medium[2], medium[1]]
  want["S001C002P003R002A010"] = (9, np.stack([
      np.stack([normalized(b, b[1]) for b in big]),
      np.stack([normalized(m, b[1]) for m, b in zip(shifted, big)])]))
  # D: empty first and last frames: [-, f1, f2, -] -> [f1, f2, f1, f2].
  d = [upright(rng, [0.0, 0.3, 3.5])]
  d.append(jitter(rng, d[0], 0.05))
  write_skeleton(osp.join(data, "S001C003P004R001A002.skeleton"), [[], [d[0]], [d[1]], []])
  want["S001C003P004R001A002"] = (1, np.stack([
      np.stack([normalized(f, f[1]) for f in d + d]), np.zeros((4, 25, 3), np.float32)]))
  # E: subject 45 trains in NTU120's cross-subject benchmark only; setup 2 trains in xsetup.
  e = [upright(rng, [0.2, 0.0, 2.9]) for _ in range(2)]
  write_skeleton(osp.join(data, "S002C001P045R001A003.skeleton"), [[f] for f in e])
  want["S002C001P045R001A003"] = (2, np.stack([
      np.stack([normalized(f, f[1]) for f in e]), np.zeros((2, 25, 3), np.float32)]))
  # Ignored (listed as MMAction2's missing-skeleton list names samples), and a non-sample.
  write_skeleton(osp.join(data, "S002C003P002R001A005.skeleton"), [[a[0]]])
  with open(osp.join(data, "README.txt"), "w") as f:
    f.write("not a sample")
  ignored = osp.join(root, "missing.txt")
  with open(ignored, "w") as f:
    f.write("S002C003P002R001A005\n")
  return root, data, ignored, want


def _load(path):
  with open(path, "rb") as f:
    return pickle.load(f)


def test_ntu60_by_hand(ntu_dir):
  root, data, ignored, want = ntu_dir
  out = osp.join(root, "out60")
  gen_ntu_rgbd_raw.main(["--data-path", data, "--ignored-sample-path", ignored,
                         "--out-folder", out, "--task", "ntu60"])
  assert sorted(os.listdir(out)) == ["xsub", "xview"]
  parts = {"xsub": {"train": ["S001C001P001R001A001", "S001C003P004R001A002"],
                    "val": ["S001C002P003R002A010", "S002C001P045R001A003"]},
           "xview": {"train": ["S001C002P003R002A010", "S001C003P004R001A002"],
                     "val": ["S001C001P001R001A001", "S002C001P045R001A003"]}}
  for benchmark, by_part in parts.items():
    for part, names in by_part.items():
      entries = _load(osp.join(out, benchmark, f"{part}.pkl"))
      assert [e["frame_dir"] for e in entries] == names
      for e in entries:
        label, keypoint = want[e["frame_dir"]]
        assert set(e) == {"total_frames", "keypoint", "frame_dir", "img_shape",
                          "original_shape", "label"}
        assert e["label"] == label and e["total_frames"] == keypoint.shape[1]
        assert e["img_shape"] == e["original_shape"] == (1080, 1920)
        assert e["keypoint"].dtype == np.float32 and e["keypoint"].shape == keypoint.shape
        np.testing.assert_allclose(e["keypoint"], keypoint, atol=2e-6, rtol=0)


def test_ntu120_benchmarks(ntu_dir):
  root, data, ignored, _ = ntu_dir
  out = gen_ntu_rgbd_raw.generate(data, osp.join(root, "out120"), ignored, "ntu120")
  names = {b: {p: [e["frame_dir"] for e in v] for p, v in parts.items()}
           for b, parts in out.items()}
  assert names == {
      "xsub": {"train": ["S001C001P001R001A001", "S001C003P004R001A002",
                         "S002C001P045R001A003"], "val": ["S001C002P003R002A010"]},
      "xsetup": {"train": ["S002C001P045R001A003"],
                 "val": ["S001C001P001R001A001", "S001C002P003R002A010",
                         "S001C003P004R001A002"]}}
  assert sorted(os.listdir(osp.join(root, "out120"))) == ["xsetup", "xsub"]
  assert [e["frame_dir"] for e in _load(osp.join(root, "out120", "xsetup", "train.pkl"))] == [
      "S002C001P045R001A003"]


def test_pre_normalization_is_rigid_and_aligned():
  """Any sample: the first body's joint 1 is the origin in every frame, its first frame's
  shoulders point along +x, and distances between a frame's joints are kept."""
  rng = np.random.default_rng(3)
  sample = rng.uniform(-1, 1, (2, 5, 25, 3)).astype(np.float32) + [0, 0, 3]
  out = gen_ntu_rgbd_raw.pre_normalize(sample)
  np.testing.assert_allclose(out[0, :, 1], 0, atol=1e-6)
  shoulders = out[0, 0, 8] - out[0, 0, 4]
  np.testing.assert_allclose(shoulders[1:], 0, atol=1e-5)
  assert shoulders[0] > 0
  for m, t in ((0, 0), (0, 4), (1, 2)):
    before = np.linalg.norm(sample[m, t, :, None] - sample[m, t, None], axis=-1)
    after = np.linalg.norm(out[m, t, :, None] - out[m, t, None], axis=-1)
    np.testing.assert_allclose(after, before, atol=1e-5)


def test_ntu_errors(ntu_dir, tmp_path):
  root, data, _, _ = ntu_dir
  with pytest.raises(SystemExit, match="ignored sample list .* does not exist"):
    gen_ntu_rgbd_raw.main(["--data-path", data, "--out-folder", str(tmp_path)])
  bad = tmp_path / "bad"
  bad.mkdir()
  (bad / "S001C001P001R001A001.skeleton").write_text("3\n1\n1 0 1 1 1 1 0 0 0 2\n25\n0 0 1\n")
  with pytest.raises(ValueError, match="not in NTU RGB\\+D's .skeleton format"):
    gen_ntu_rgbd_raw.generate(str(bad), str(tmp_path / "o"), "")
  with pytest.raises(ValueError, match="not an NTU RGB\\+D sample name"):
    gen_ntu_rgbd_raw.parse_name("clip_01.skeleton")


def test_ntu_matches_mmaction2_golden(tmp_path):
  arrays = np.load(osp.join(GOLDEN, "ntu.npz"))
  with open(osp.join(GOLDEN, "ntu.json")) as f:
    fields = json.load(f)
  for task in ("ntu60", "ntu120"):
    out = gen_ntu_rgbd_raw.generate(osp.join(GOLDEN, "ntu"), str(tmp_path / task),
                                    osp.join(GOLDEN, "ignored.txt"), task, num_workers=1)
    assert sorted(out) == sorted(fields[task])
    for benchmark, parts in fields[task].items():
      for part, rows in parts.items():
        ours = {e["frame_dir"]: e for e in out[benchmark][part]}
        # MMAction2 writes samples in directory order, vjax in name order.
        assert list(ours) == sorted(r["frame_dir"] for r in rows)
        for row in rows:
          e = ours[row["frame_dir"]]
          assert {k: list(v) if isinstance(v, tuple) else v for k, v in e.items()
                  if k != "keypoint"} == row
          want = arrays[f"{task}/{benchmark}/{part}/{row['frame_dir']}"]
          assert e["keypoint"].dtype == want.dtype == np.float32
          np.testing.assert_allclose(e["keypoint"], want, atol=1e-6, rtol=0)


def test_ntu_parallel_reading_matches(tmp_path):
  one = gen_ntu_rgbd_raw.generate(osp.join(GOLDEN, "ntu"), str(tmp_path / "a"),
                                  osp.join(GOLDEN, "ignored.txt"), "ntu120")
  two = gen_ntu_rgbd_raw.generate(osp.join(GOLDEN, "ntu"), str(tmp_path / "b"),
                                  osp.join(GOLDEN, "ignored.txt"), "ntu120", num_workers=2)
  for benchmark in one:
    for part in one[benchmark]:
      for x, y in zip(one[benchmark][part], two[benchmark][part]):
        assert x["frame_dir"] == y["frame_dir"]
        np.testing.assert_array_equal(x["keypoint"], y["keypoint"])


# ------------------------------------------------------------------ BABEL
def test_babel_by_hand(tmp_path):
  rng = np.random.default_rng(4)
  x = rng.normal(size=(2, 3, 5, 25, 1)).astype(np.float32)
  labels = (["seg_a", "seg_b"], ([7, 41], [1203, 88], [0, 2], [1, 3]))
  np.save(tmp_path / "val_ntu_sk_60.npy", x)
  with open(tmp_path / "val_label_60.pkl", "wb") as f:
    pickle.dump(labels, f)
  babel2mma2.main(["--data-dir", str(tmp_path), "--out-dir", str(tmp_path / "out")])
  assert os.listdir(tmp_path / "out") == ["babel60_val.pkl"]
  entries = _load(tmp_path / "out" / "babel60_val.pkl")
  assert [e["frame_dir"] for e in entries] == ["seg_a_1203_0_1", "seg_b_88_2_3"]
  assert [e["label"] for e in entries] == [7, 41]
  for i, e in enumerate(entries):
    assert set(e) == {"keypoint", "label", "frame_dir", "total_frames"}
    assert e["total_frames"] == 5 and e["keypoint"].dtype == np.float16
    assert e["keypoint"].shape == (1, 5, 25, 3)
    for c in range(3):
      np.testing.assert_array_equal(e["keypoint"][0, :, :, c], x[i, c, :, :, 0].astype(np.float16))


def test_babel_single_pair_and_errors(tmp_path):
  with pytest.raises(SystemExit, match="holds no pair"):
    babel2mma2.main(["--data-dir", str(tmp_path)])
  with pytest.raises(SystemExit, match="go together"):
    babel2mma2.main(["--data-path", "x.npy"])
  np.save(tmp_path / "x.npy", np.zeros((2, 3, 4, 25, 1), np.float32))
  with open(tmp_path / "y.pkl", "wb") as f:
    pickle.dump((["a"], ([0], [1], [2], [3])), f)
  with pytest.raises(SystemExit, match="2 chunks but 1 segment ids"):
    babel2mma2.main(["--data-path", str(tmp_path / "x.npy"), "--label-path",
                     str(tmp_path / "y.pkl"), "--out-file", str(tmp_path / "z.pkl")])


def test_babel_matches_mmaction2_golden(tmp_path):
  out = babel2mma2.convert_folder(osp.join(GOLDEN, "babel"), str(tmp_path))
  arrays = np.load(osp.join(GOLDEN, "babel.npz"))
  with open(osp.join(GOLDEN, "babel.json")) as f:
    fields = json.load(f)
  entries = out["babel120_train.pkl"]
  assert len(entries) == len(fields) == 3
  for i, (e, row) in enumerate(zip(entries, fields)):
    assert {k: v for k, v in e.items() if k != "keypoint"} == row
    assert e["keypoint"].dtype == arrays[str(i)].dtype == np.float16
    np.testing.assert_array_equal(e["keypoint"], arrays[str(i)])
