"""Sources: MMAction2 annotation lists, TFDS records and their error messages."""

from __future__ import annotations

import json
import pickle
import re

import ml_collections
import numpy as np
import pytest

from vjax.data import DATASETS, RawframeDataset, TFDSDataset, VideoDataset
from vjax.data.loader import make_train_iterator
from vjax.data.sources import RawVideoDataset
from vjax.data.sources import build_split


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


def test_video_list_multi_label_and_flow_rawframes(tmp_path):
  ds = VideoDataset(_write(tmp_path / "v.txt", "a.mp4 0 3\nb.mp4 2\n"), multi_class=True,
                    num_classes=4)
  np.testing.assert_array_equal(ds[0]["label"], [1, 0, 0, 1])
  np.testing.assert_array_equal(ds[1]["label"], [0, 0, 1, 0])
  flow = RawframeDataset(_write(tmp_path / "f.txt", "v 9 1\n"), modality="Flow",
                         filename_tmpl="{}_{:05d}.jpg")
  assert flow[0]["modality"] == "Flow" and flow[0]["start_index"] == 1
  with pytest.raises(ValueError, match="'img_{:05}.jpg' for modality 'Flow'.*same name"):
    RawframeDataset(_write(tmp_path / "g.txt", "v 9 1\n"), modality="Flow")
  with pytest.raises(ValueError, match="modality 'Depth'"):
    VideoDataset(_write(tmp_path / "h.txt", "a.mp4 1\n"), modality="Depth")


@pytest.mark.parametrize("kwargs, line, match", [
    (dict(with_offset=True), "v1 5", "missing total_frames"),
    (dict(with_offset=True), "v1 x 5 1", "offset 'x' is not an integer"),
    (dict(), "v1 -3 1", "total_frames -3 is below 0"),
    (dict(), "v1", "missing total_frames"),
    (dict(multi_class=True, num_classes=4), "v1 8 1 4", r"label\(s\) \[1, 4\] outside \[0, 4\)"),
])
def test_rawframe_malformed_line_says_what_was_expected(tmp_path, kwargs, line, match):
  ann = _write(tmp_path / "bad.txt", f"\n{line}\n")  # The blank line still counts: line 2.
  with pytest.raises(ValueError) as e:
    RawframeDataset(ann, **kwargs)
  msg = str(e.value)
  assert f"{ann}:2: " in msg and re.search(match, msg), msg
  offset = "<offset> " if kwargs.get("with_offset") else ""
  assert f"expected: <frame_dir> {offset}<total_frames> <label>" in msg


@pytest.mark.parametrize("line, match", [
    ("a.mp4", "missing label"),
    ("a.mp4 one", "label 'one' is not an integer"),
    ("a.mp4 1 2", "2 labels but multi_class=False"),
    ("a.mp4 9", r"outside \[0, 5\)"),
])
def test_video_malformed_line(tmp_path, line, match):
  ann = _write(tmp_path / "v.txt", f"ok.mp4 1\nok2.mp4 0\n{line}\n")
  with pytest.raises(ValueError) as e:
    VideoDataset(ann, num_classes=5)
  assert f"{ann}:3: " in str(e.value) and re.search(match, str(e.value))
  assert "expected: <path> <label>" in str(e.value)


def test_json_lists(tmp_path):
  js = _write(tmp_path / "r.json", json.dumps([
      {"frame_dir": "a", "total_frames": 7, "label": [1, 2]},
      {"frame_dir": "b", "total_frames": 3, "label": [0], "offset": 2}]))
  ds = RawframeDataset(js, data_prefix="/f", multi_class=True, num_classes=3)
  np.testing.assert_array_equal(ds[0]["label"], [0, 1, 1])
  assert ds[1]["frame_dir"] == "/f/b" and ds[1]["offset"] == 2
  assert ds.describe(1) == f"/f/b (entry 1 of {js})"
  vs = VideoDataset(_write(tmp_path / "v.json", json.dumps([{"filename": "x.mp4", "label": 4}])))
  assert vs[0] == dict(filename="x.mp4", label=4, modality="RGB", start_index=0)


@pytest.mark.parametrize("items, match", [
    ([{"frame_dir": "a", "label": [1]}], r"r.json\[0\]: .*needs 'total_frames'"),
    ([{"frame_dir": "a", "total_frames": 2, "label": [1]},
      {"frame_dir": "b", "total_frames": "many", "label": [1]}],
     r"r.json\[1\]: total_frames 'many' is not an integer"),
    ([{"frame_dir": "a", "total_frames": 2, "label": ["x"]}], r"\[0\]: label 'x' is not"),
    ([{"frame_dir": "a", "total_frames": 2, "label": [7]}], r"\[0\]: label\(s\) \[7\] outside"),
    ([{"filename": "a.mp4", "label": [1]}], r"\[0\]: .*needs 'frame_dir'"),
    ({"a": 1}, "expected a JSON list"),
])
def test_json_malformed_entries(tmp_path, items, match):
  js = _write(tmp_path / "r.json", json.dumps(items))
  with pytest.raises(ValueError, match=match):
    RawframeDataset(js, num_classes=5)


def _by_class_list(tmp_path, counts=(6, 3, 1)):
  lines = [f"v{c}_{i} 8 {c}" for c, n in enumerate(counts) for i in range(n)]
  return _write(tmp_path / "l.txt", "\n".join(lines) + "\n")


@pytest.mark.parametrize("power, expected", [(0, [1 / 3] * 3), (1, [0.6, 0.3, 0.1]),
                                             (0.5, np.sqrt([6, 3, 1]) / np.sqrt([6, 3, 1]).sum())])
def test_sample_by_class_probabilities(tmp_path, power, expected):
  ds = RawframeDataset(_by_class_list(tmp_path), sample_by_class=True, power=power)
  np.testing.assert_allclose([ds.class_prob[c] for c in range(3)], expected)
  w = ds.sample_weights()
  labels = np.array([info["label"] for info in ds.video_infos])
  np.testing.assert_allclose([w[labels == c].sum() for c in range(3)], expected)
  for c in range(3):  # Uniform within a class.
    np.testing.assert_allclose(w[labels == c], w[labels == c][0])
  assert RawframeDataset(_by_class_list(tmp_path)).sample_weights() is None
  with pytest.raises(ValueError, match="sample_by_class needs single-label"):
    RawframeDataset(_by_class_list(tmp_path), sample_by_class=True, multi_class=True,
                    num_classes=3)


def test_repeat_and_concat_datasets(tmp_path):
  a = dict(type="RawframeDataset", ann_file=_write(tmp_path / "a.txt", "a0 4 0\na1 4 1\n"))
  b = dict(type="VideoDataset", data_prefix="/v",
           ann_file=_write(tmp_path / "b.txt", "b0.mp4 2\nb1.mp4 3\nb2.mp4 4\n"))
  rep = DATASETS.build(dict(type="RepeatDataset", dataset=a, times=3))
  assert len(rep) == 6 and [rep[i]["frame_dir"] for i in range(6)] == ["a0", "a1"] * 3
  assert "a1" in rep.describe(5) and "line 2" in rep.describe(5)
  cat = DATASETS.build(dict(type="ConcatDataset", datasets=[a, b, dict(a)]))
  assert len(cat) == 7
  assert [cat[i].get("frame_dir") or cat[i]["filename"] for i in range(7)] == [
      "a0", "a1", "/v/b0.mp4", "/v/b1.mp4", "/v/b2.mp4", "a0", "a1"]
  assert [cat[i]["label"] for i in range(7)] == [0, 1, 2, 3, 4, 0, 1]
  assert "b2.mp4" in cat.describe(4) and cat.sample_weights() is None
  with pytest.raises(IndexError):
    cat[7]
  nested = DATASETS.build(dict(type="RepeatDataset", times=2,
                               dataset=dict(type="ConcatDataset", datasets=[a, b])))
  assert len(nested) == 10 and nested[9]["filename"] == "/v/b2.mp4"
  assert pickle.loads(pickle.dumps(nested))[7] == nested[7]


def test_wrapper_sample_weights(tmp_path):
  by_class = dict(type="RawframeDataset", ann_file=_by_class_list(tmp_path), sample_by_class=True)
  plain = dict(type="VideoDataset", ann_file=_write(tmp_path / "b.txt", "x.mp4 0\ny.mp4 1\n"))
  inner = DATASETS.build(by_class).sample_weights()
  rep = DATASETS.build(dict(type="RepeatDataset", dataset=by_class, times=2)).sample_weights()
  np.testing.assert_allclose(rep, np.tile(inner, 2) / 2)
  cat = DATASETS.build(dict(type="ConcatDataset", datasets=[by_class, plain])).sample_weights()
  np.testing.assert_allclose(cat, np.concatenate([inner * 10 / 12, [1 / 12, 1 / 12]]))


def test_build_split_takes_pipelines_from_wrapped_configs(tmp_path):
  pipe = [dict(type="SampleFrames", clip_len=2), dict(type="RawFrameDecode")]
  a = dict(type="RawframeDataset", ann_file=_write(tmp_path / "a.txt", "a0 4 0\n"), pipeline=pipe)
  source, pipeline = build_split(ml_collections.ConfigDict(dict(
      type="RepeatDataset", times=2, dataset=dict(type="ConcatDataset", datasets=[a, a]))))
  assert len(source) == 4 and pipeline == pipe
  _, pipeline = build_split(dict(type="ConcatDataset", datasets=[a, a], pipeline=pipe))
  assert pipeline == pipe
  other = dict(a, pipeline=pipe[:1])
  with pytest.raises(ValueError, match="different pipelines"):
    build_split(dict(type="ConcatDataset", datasets=[a, other]))
  source, pipeline = build_split(dict(type="RepeatDataset", times=1,
                                      dataset=dict(a, pipeline=None) | {"test_mode": True}))
  assert source.dataset.test_mode and pipeline == []


def test_raw_video_clips_are_drawn_per_sample(tmp_path):
  # OmniSource's Kinetics-raw source: a clip of each untrimmed video is drawn at load time.
  ann = _write(tmp_path / "raw.txt", "a 3 4 1 2\nb 0 2\nc 5 3 0\n")
  ds = DATASETS.build(dict(type="RawVideoDataset", ann_file=ann, data_prefix="/raw"))
  assert len(ds) == 2  # 'positive' drops b, which has no positive clip
  assert ds[0]["filename"] == "/raw/a/part_1.mp4" and ds[0]["label"] == 3
  assert "/raw/a" in ds.describe(0)
  drawn = {ds.sample(0, np.random.default_rng(s))["filename"] for s in range(40)}
  assert drawn == {"/raw/a/part_1.mp4", "/raw/a/part_2.mp4"}  # positives only
  same = [ds.sample(0, np.random.default_rng(7))["filename"] for _ in range(2)]
  assert same[0] == same[1]  # the loader's per-sample rng decides
  anyclip = RawVideoDataset(ann, sampling_strategy="random", clipname_tmpl="_{}.mp4")
  assert len(anyclip) == 3
  assert {anyclip.sample(1, np.random.default_rng(s))["filename"] for s in range(40)} == {
      "b_0.mp4", "b_1.mp4"}  # a template not starting with a letter is appended as is
  js = _write(tmp_path / "raw.json", json.dumps(
      [{"video_dir": "d", "label": 1, "num_clips": 2, "positive_clip_inds": [1]}]))
  assert RawVideoDataset(js, data_prefix="/j")[0]["filename"] == "/j/d/part_1.mp4"
  # Wrappers hand the rng on.
  wrapped = DATASETS.build(dict(type="RepeatDataset", times=2, dataset=dict(
      type="ConcatDataset", datasets=[dict(type="RawVideoDataset", ann_file=ann,
                                           data_prefix="/raw")])))
  assert wrapped.sample(2, np.random.default_rng(7)) == ds.sample(0, np.random.default_rng(7))
  # The training loader draws with each sample's rng: both positive clips of 'a' come up.
  clip_of = lambda r: {"clip": np.int32(r["filename"][-5]), "label": r["label"]}  # noqa: E731
  it = make_train_iterator(ds, [clip_of], global_batch_size=2, seed=0)
  clips = {int(c) for b in (next(it) for _ in range(20)) for c, l in zip(b["clip"], b["label"])
           if l == 3}
  assert clips == {1, 2}
  with pytest.raises(ValueError, match="sampling_strategy"):
    RawVideoDataset(ann, sampling_strategy="all")
  with pytest.raises(ValueError, match="missing label or num_clips"):
    RawVideoDataset(_write(tmp_path / "bad.txt", "a 3\n"))
