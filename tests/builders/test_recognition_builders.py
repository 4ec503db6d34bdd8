"""The machinery every recognition builder shares, on the generic ``mmaction_list`` builder:
storage configs, both file formats read back alike, skipped files summarised, parallel and
resumable builds, stored videos decoded from bytes, the build command."""

from __future__ import annotations

import json
import os
import os.path as osp

import numpy as np
import pytest

from tests.builders.conftest import TRAIN, colour
from vjax.data.ops_decode import FrameBytesDecode, PyAVDecode, PyAVInit
from vjax.data.sources.tfds_records import TFDSDataset
from vjax.tools import build_dataset


def _rawframe_dir(manual_dir: str, tmp: str) -> str:
  """The same download with its val split as a frame-folder list."""
  root = osp.join(tmp, "download_frames")
  os.makedirs(root)
  os.symlink(osp.join(manual_dir, "data"), osp.join(root, "data"))
  with open(osp.join(root, "train_list_videos.txt"), "w") as f:
    f.write("run/c.mp4 1\n")
  with open(osp.join(root, "val_list_rawframes.txt"), "w") as f:
    f.write("frames/e 6 0\n")
  return root


def _decode(results: dict) -> np.ndarray:
  results = dict(results, frame_inds=np.arange(results["total_frames"]))
  return FrameBytesDecode()(results)["imgs"]


def _assert_colours(imgs: np.ndarray, seed: int, tol: float = 10.0) -> None:
  for i, img in enumerate(imgs):
    np.testing.assert_allclose(img.reshape(-1, 3).mean(0), colour(i, seed), atol=tol,
                               err_msg=f"frame {i} of video {seed}")


def test_frames_config_stores_every_frame_resized_with_labels(built):
  ds = TFDSDataset("mmaction_list", "train", built["array_record"],
                   builder_config="frames_340x256")
  assert len(ds) == 3 and ds.class_names == ["jump rope", "run"] and ds.num_classes == 2
  by_id = {ds[i]["video_id"]: ds[i] for i in range(len(ds))}
  assert sorted(by_id) == ["jump_rope/a.mp4", "jump_rope/b.mp4", "run/c.mp4"]
  for rel, (label, n, seed) in TRAIN.items():
    r = by_id[rel]
    assert r["label"] == label and r["total_frames"] == n and r["fps"] == 10.0
    imgs = _decode(r)
    assert imgs.shape == (n, 256, 340, 3)  # MMAction2's --new-width 340 --new-height 256
    _assert_colours(imgs, seed)


def test_missing_and_corrupt_videos_are_counted_and_listed(built):
  path = osp.join(built["array_record"], "mmaction_list", "frames_340x256", "1.0.0",
                  "build_summary.json")
  with open(path) as f:
    summary = json.load(f)
  train = summary["train"]
  assert train["examples"] == 3
  assert train["skipped"]["missing"]["count"] == 1
  assert train["skipped"]["missing"]["samples"][0]["video_id"] == "run/missing.mp4"
  assert train["skipped"]["corrupt"]["count"] == 1
  assert train["skipped"]["corrupt"]["samples"][0]["video_id"] == "run/bad.mp4"
  assert "bad.mp4" in train["skipped"]["corrupt"]["samples"][0]["detail"]
  assert summary["val"] == {"examples": 1, "skipped": {}}


def test_tfrecord_and_array_record_read_back_the_same(built):
  for split in ("train", "val"):
    a = TFDSDataset("mmaction_list", split, built["array_record"],
                    builder_config="frames_340x256")
    t = TFDSDataset("mmaction_list", split, built["tfrecord"], builder_config="frames_340x256")
    assert len(a) == len(t) > 0
    shards = os.listdir(osp.join(built["tfrecord"], "mmaction_list", "frames_340x256", "1.0.0"))
    assert any(".tfrecord-" in s for s in shards)
    for i in range(len(a)):
      ra, rt = a[i], t[i]
      assert ra.keys() == rt.keys()
      assert ra["frames_bytes"] == rt["frames_bytes"]
      assert {k: v for k, v in ra.items() if k != "frames_bytes"} == {
          k: v for k, v in rt.items() if k != "frames_bytes"}


def test_frame_folders_and_parallel_video_bytes(manual_dir, tmp_path):
  """A frame-folder list (kept JPEGs), and the 'video' config built by 2 processes: the stored
  bytes are the original files, decoded by PyAV from memory."""
  frames_dir = _rawframe_dir(manual_dir, str(tmp_path))
  build_dataset.build("mmaction_list", frames_dir, str(tmp_path / "f"), "frames_256",
                      num_workers=1)
  val = TFDSDataset("mmaction_list", "val", str(tmp_path / "f"), builder_config="frames_256")
  assert len(val) == 1 and val[0]["video_id"] == "frames/e" and val[0]["total_frames"] == 6
  _assert_colours(_decode(val[0]), seed=4)

  build_dataset.build("mmaction_list", manual_dir, str(tmp_path / "v"), "video", num_workers=2,
                      samples_per_shard=1)
  ds = TFDSDataset("mmaction_list", "train", str(tmp_path / "v"), builder_config="video")
  assert len(ds) == 3
  for i in range(len(ds)):
    r = ds[i]
    label, n, seed = TRAIN[r["video_id"]]
    with open(osp.join(manual_dir, "data", r["video_id"]), "rb") as f:
      assert r["video_bytes"] == f.read()
    r = PyAVInit()(r)
    assert r["total_frames"] == n and r["label"] == label
    r = PyAVDecode()(dict(r, frame_inds=np.arange(n)))
    _assert_colours(r["imgs"], seed)


def test_interrupted_build_resumes_and_keeps_finished_shards(manual_dir, tmp_path, monkeypatch):
  from tfds_builders.common import shards  # pylint: disable=g-import-not-at-top
  real, calls = shards.write_shard, []

  def dies_on_third(task):
    calls.append(task["shard"])
    if len(calls) == 3:
      raise KeyboardInterrupt
    return real(task)

  monkeypatch.setattr(shards, "write_shard", dies_on_third)
  data_dir = str(tmp_path / "d")
  with pytest.raises(KeyboardInterrupt):
    build_dataset.build("mmaction_list", manual_dir, data_dir, "frames_320", num_workers=1,
                        samples_per_shard=2)
  work = osp.join(data_dir, "mmaction_list", "frames_320", "1.0.0.partial-array_record")
  done = sorted(n for n in os.listdir(work) if n.endswith(".json") and n != "plan.json")
  assert len(done) == 2  # train shard 0 (2 videos) and 1 (2 videos); val not reached
  first = osp.join(work, "train-00000.array_record")
  mtime = os.stat(first).st_mtime_ns
  calls.clear()
  monkeypatch.setattr(shards, "write_shard", lambda t: (calls.append(t["shard"]), real(t))[1])
  build_dataset.build("mmaction_list", manual_dir, data_dir, "frames_320", num_workers=1,
                      samples_per_shard=2)
  assert len(calls) == 2  # train shard 2 and val shard 0 only
  assert not osp.exists(work)
  final = osp.join(data_dir, "mmaction_list", "frames_320", "1.0.0",
                   "mmaction_list-train.array_record-00000-of-00002")
  assert os.stat(final).st_mtime_ns == mtime  # the first shard was moved, not rewritten
  ds = TFDSDataset("mmaction_list", "train", data_dir, builder_config="frames_320")
  # --new-short 320 never enlarges (denseflow): the 24x32 frames keep their size.
  assert len(ds) == 3 and _decode(ds[0]).shape[1:3] == (24, 32)


def test_build_command_errors_name_the_problem(manual_dir, tmp_path, capsys):
  with pytest.raises(SystemExit, match="no dataset builder named 'kinetics9'"):
    build_dataset.main(["kinetics9", f"--manual_dir={manual_dir}"])
  with pytest.raises(SystemExit, match="(?s)manual_dir .*nowhere does not exist or is empty: "
                     "put mmaction_list's download there.*train_list.txt"):
    build_dataset.main(["mmaction_list", f"--manual_dir={tmp_path / 'nowhere'}"])
  with pytest.raises(SystemExit, match="no config 'frames_999'"):
    build_dataset.main(["mmaction_list", f"--manual_dir={manual_dir}", "--config=frames_999"])
  empty = tmp_path / "empty"
  empty.mkdir()
  (empty / "readme.txt").write_text("not a list")
  with pytest.raises(SystemExit, match="no train_list.txt or val_list.txt"):
    build_dataset.main(["mmaction_list", f"--manual_dir={empty}",
                        f"--data_dir={tmp_path / 'x'}"])


def test_tfds_build_command_runs_the_same_build(manual_dir, tmp_path):
  """``tfds build tfds_builders/<name>`` (TFDS's command line, which imports TensorFlow, Apache
  Beam and mlcroissant: `pip install '.[tf]'`) goes through the same parallel, resumable
  writer."""
  import importlib.util  # pylint: disable=g-import-not-at-top
  import shutil  # pylint: disable=g-import-not-at-top
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  for module in ("tensorflow", "apache_beam", "mlcroissant"):
    if importlib.util.find_spec(module) is None:
      pytest.skip(f"TFDS's command line needs {module} (pip install '.[tf]')")
  tfds_cli = shutil.which("tfds", path=osp.dirname(sys.executable))
  data_dir = str(tmp_path / "d")
  p = subprocess.run([tfds_cli, "build", "tfds_builders/mmaction_list", f"--manual_dir={manual_dir}",
                      f"--data_dir={data_dir}", "--config=frames_320", "--file_format=tfrecord"],
                     cwd=osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
                     capture_output=True, text=True, timeout=600)
  assert p.returncode == 0, p.stderr[-3000:]
  assert "vjax: train: 3 videos written; skipped 1 corrupt, 1 missing" in p.stdout
  ds = TFDSDataset("mmaction_list", "train", data_dir, builder_config="frames_320")
  assert sorted(ds[i]["video_id"] for i in range(len(ds))) == sorted(TRAIN)


def test_videos_shorter_than_min_frames_are_skipped_as_too_short(manual_dir, tmp_path):
  data_dir = str(tmp_path / "d")
  build_dataset.main(["mmaction_list", f"--manual_dir={manual_dir}", f"--data_dir={data_dir}",
                      "--config=video", "--min_frames=9", "--num_workers=1"])
  ds = TFDSDataset("mmaction_list", "train", data_dir, builder_config="video")
  assert [ds[i]["video_id"] for i in range(len(ds))] == ["run/c.mp4"]  # 10 frames; a 8, b 6
  with open(osp.join(data_dir, "mmaction_list", "video", "1.0.0", "build_summary.json")) as f:
    skipped = json.load(f)["train"]["skipped"]
  assert sorted(s["video_id"] for s in skipped["too_short"]["samples"]) == [
      "jump_rope/a.mp4", "jump_rope/b.mp4"]
  assert skipped["missing"]["count"] == skipped["corrupt"]["count"] == 1


def test_flow_configs_store_x_and_y_frames_decoded_as_two_channels(tmp_path):
  import cv2  # pylint: disable=g-import-not-at-top
  root = tmp_path / "download"
  folder = root / "data" / "v1"
  folder.mkdir(parents=True)
  for i in range(1, 5):  # flat x = 10 * i + 50, y = 200 - 10 * i
    cv2.imwrite(str(folder / f"flow_x_{i:05d}.jpg"), np.full((24, 32), 10 * i + 50, np.uint8))
    cv2.imwrite(str(folder / f"flow_y_{i:05d}.jpg"), np.full((24, 32), 200 - 10 * i, np.uint8))
    cv2.imwrite(str(folder / f"img_{i:05d}.jpg"), np.zeros((24, 32, 3), np.uint8))
  (root / "train_list_rawframes.txt").write_text("v1 4 0\n")
  build_dataset.build("mmaction_list", str(root), str(tmp_path / "d"), "flow_original",
                      num_workers=1)
  r = TFDSDataset("mmaction_list", "train", str(tmp_path / "d"), builder_config="flow_original")[0]
  assert r["modality"] == "Flow" and r["total_frames"] == 4
  imgs = _decode(r)
  assert imgs.shape == (4, 24, 32, 2)
  for i in range(4):
    np.testing.assert_allclose(imgs[i].reshape(-1, 2).mean(0), (10 * (i + 1) + 50,
                                                                  200 - 10 * (i + 1)), atol=2)
