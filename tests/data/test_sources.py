"""Sources: MMAction2 annotation lists, TFDS records and their error messages."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from vjax.data import DATASETS, RawframeDataset, TFDSDataset, VideoDataset


def _write(path, text):
  path.write_text(text)
  return str(path)


def test_rawframe_list_parsing(tmp_path):
  ann = _write(tmp_path / "train.txt", "a/v1 163 1\n\nb/v2 20 0\n")
  ds = DATASETS.build(dict(type="RawframeDataset", ann_file=ann, data_prefix="/data"))
  assert len(ds) == 2
  assert ds[0] == dict(frame_dir="/data/a/v1", total_frames=163, label=1, modality="RGB",
                       start_index=1, filename_tmpl="img_{:05}.jpg")
  assert ds[1]["frame_dir"] == "/data/b/v2" and ds[1]["label"] == 0
  assert "a/v1" in ds.describe(0) and "train.txt" in ds.describe(0)


def test_rawframe_offset_and_multi_class(tmp_path):
  ann = _write(tmp_path / "l.txt", "v1 10 100 2 4\n")
  ds = RawframeDataset(ann, with_offset=True, multi_class=True, num_classes=5, start_index=0,
                       filename_tmpl="{:05}.jpg")
  r = ds[0]
  assert (r["offset"], r["total_frames"], r["start_index"]) == (10, 100, 0)
  np.testing.assert_array_equal(r["label"], [0, 0, 1, 0, 1])
  assert r["label"].dtype == np.float32 and r["filename_tmpl"] == "{:05}.jpg"
  with pytest.raises(ValueError, match="num_classes"):
    RawframeDataset(ann, multi_class=True)


@pytest.mark.parametrize("line, match", [
    ("v1 abc 3", "total_frames 'abc' is not an integer"),
    ("v1 12", "missing label"),
    ("v1 12 3 4", "2 labels but multi_class=False"),
    ("v1 12 x", "label 'x' is not an integer"),
])
def test_rawframe_malformed_line_names_file_and_line(tmp_path, line, match):
  ann = _write(tmp_path / "bad.txt", f"ok 10 1\n{line}\n")
  with pytest.raises(ValueError) as e:
    RawframeDataset(ann)
  assert f"{ann}:2" in str(e.value) and match in str(e.value)


def test_label_out_of_range_is_reported(tmp_path):
  ann = _write(tmp_path / "l.txt", "v 3 7\n")
  with pytest.raises(ValueError, match=r"l.txt:1.*outside \[0, 5\)"):
    RawframeDataset(ann, num_classes=5)


def test_missing_annotation_file_says_how_to_prepare(tmp_path):
  missing = str(tmp_path / "kinetics400_train_list_rawframes.txt")
  with pytest.raises(FileNotFoundError) as e:
    RawframeDataset(missing, data_prefix="data/kinetics400/rawframes_train")
  msg = str(e.value)
  assert missing in msg and "tools/data" in msg and "ann_file" in msg


def test_video_list_and_json(tmp_path):
  ann = _write(tmp_path / "v.txt", "some/path/000.mp4 1\nsome/path/001.mp4 3\n")
  ds = VideoDataset(ann, data_prefix="/videos")
  assert ds[1] == dict(filename="/videos/some/path/001.mp4", label=3, modality="RGB",
                       start_index=0)
  with pytest.raises(ValueError, match=r"w.txt:1"):
    VideoDataset(_write(tmp_path / "w.txt", "only_a_path.mp4\n"))
  js = _write(tmp_path / "v.json", json.dumps([{"frame_dir": "x", "total_frames": 5,
                                                "label": [2]}]))
  r = RawframeDataset(js, data_prefix="/f")[0]
  assert r["frame_dir"] == "/f/x" and r["label"] == 2 and r["total_frames"] == 5


def test_sources_are_picklable(tmp_path):
  ds = VideoDataset(_write(tmp_path / "v.txt", "a.mp4 1\n"))
  assert pickle.loads(pickle.dumps(ds))[0] == ds[0]


def test_tfds_dataset_reads_built_synthetic(tiny_data_dir):
  ds = TFDSDataset("vjax_synthetic", "validation", data_dir=tiny_data_dir, builder_config="tiny")
  assert len(ds) == 16 and ds.num_classes == 8
  r = ds[3]
  assert set(r) == {"frames_bytes", "total_frames", "label", "start_index", "modality", "video_id"}
  assert r["total_frames"] == len(r["frames_bytes"]) == 16
  assert isinstance(r["frames_bytes"][0], bytes) and r["frames_bytes"][0][:2] == b"\xff\xd8"
  assert r["start_index"] == 0 and 0 <= r["label"] < 8 and r["video_id"].startswith("validation_")
  clone = pickle.loads(pickle.dumps(ds))  # grain workers get a pickled copy and reopen.
  assert clone[3]["frames_bytes"] == r["frames_bytes"]
  assert "index 3" in ds.describe(3) and "vjax_synthetic/tiny" in ds.describe(3)


def test_tfds_dataset_unbuilt_synthetic_says_how_to_build(tmp_path):
  with pytest.raises(FileNotFoundError) as e:
    TFDSDataset("vjax_synthetic", "train", data_dir=str(tmp_path),
                builder_config=dict(num_train=4, num_val=2))
  msg = str(e.value)
  assert str(tmp_path) in msg and "python -m tfds_builders.vjax_synthetic" in msg
  assert "--num_train=4" in msg and "prepare_synthetic" in msg


def test_tfds_dataset_unknown_dataset_says_how_to_build(tmp_path):
  with pytest.raises(FileNotFoundError) as e:
    TFDSDataset("my_videos", "train", data_dir=str(tmp_path))
  msg = str(e.value)
  assert "'my_videos'" in msg and str(tmp_path) in msg
  assert "download_and_prepare(file_format='array_record')" in msg
