"""Audio-feature data: AudioFeatureDataset lists, LoadAudioFeature, AudioFeatureSelector,
FormatAudioShape, and the generated vjax_synthetic_audio dataset."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vjax.data import sources
from vjax.data.ops_audio import AudioFeatureSelector, FormatAudioShape, LoadAudioFeature
from vjax.data.ops_sampling import SampleFrames
from vjax.data.pipeline import Compose


def test_dataset_reads_mmaction2_lists(tmp_path):
  ann = tmp_path / "list.txt"
  ann.write_text("a/clip1 300 3\n\nclip2.npy 120 7\n")
  ds = sources.DATASETS.build(dict(type="AudioFeatureDataset", ann_file=str(ann),
                                   data_prefix="/feats"))
  assert len(ds) == 2
  # With a prefix, a path without the suffix gets it (MMAction2's rule); one with it does not.
  assert ds[0] == dict(audio_path="/feats/a/clip1.npy", total_frames=300, label=3,
                       modality="Audio", start_index=1)
  assert ds[1]["audio_path"] == "/feats/clip2.npy" and ds[1]["label"] == 7
  assert "line 3 of" in ds.describe(1)
  # Without a prefix paths are taken as written.
  plain = sources.AudioFeatureDataset(str(ann))
  assert plain[0]["audio_path"] == "a/clip1"


def test_dataset_json_and_errors(tmp_path):
  ann = tmp_path / "list.json"
  ann.write_text(json.dumps([{"filename": "x", "total_frames": 10, "label": 1}]))
  ds = sources.AudioFeatureDataset(str(ann), data_prefix="/f", suffix=".npz")
  assert ds[0]["audio_path"] == "/f/x.npz" and ds[0]["total_frames"] == 10
  bad = tmp_path / "bad.txt"
  bad.write_text("clip1 3\n")
  with pytest.raises(ValueError,
                     match=r"(?s)bad.txt:1: missing label.*expected: <path> <total_frames>"):
    sources.AudioFeatureDataset(str(bad))
  bad.write_text("clip1\n")
  with pytest.raises(ValueError, match="missing total_frames"):
    sources.AudioFeatureDataset(str(bad))
  with pytest.raises(FileNotFoundError, match="Annotation file"):
    sources.AudioFeatureDataset(str(tmp_path / "none.txt"))


def test_load_audio_feature_reads_or_pads(tmp_path):
  feats = np.random.default_rng(0).random((50, 6), dtype=np.float32)
  np.save(tmp_path / "a.npy", feats)
  out = LoadAudioFeature()(dict(audio_path=str(tmp_path / "a.npy")))
  np.testing.assert_array_equal(out["audios"], feats)
  assert out["length"] == 50
  # A missing file is a video without audio: MMAction2's 10 s stand-in, zeros by default.
  with pytest.warns(UserWarning, match="does not exist"):
    out = LoadAudioFeature()(dict(audio_path=str(tmp_path / "none.npy")))
  assert out["audios"].shape == (640, 80) and not out["audios"].any() and out["length"] == 640
  with pytest.warns(UserWarning):
    a = LoadAudioFeature("random")(dict(audio_path="none.npy"), np.random.default_rng(3))
  with pytest.warns(UserWarning):
    b = LoadAudioFeature("random")(dict(audio_path="none.npy"), np.random.default_rng(3))
  np.testing.assert_array_equal(a["audios"], b["audios"])  # drawn from the pipeline's rng
  assert a["audios"].dtype == np.float32 and 0 <= a["audios"].min() < a["audios"].max() < 1
  np.save(tmp_path / "bad.npy", np.zeros((2, 3, 4), np.float32))
  with pytest.raises(ValueError, match=r"bad.npy holds an array of shape \(2, 3, 4\)"):
    LoadAudioFeature()(dict(audio_path=str(tmp_path / "bad.npy")))
  with pytest.raises(ValueError, match="pad_method"):
    LoadAudioFeature("noise")


# Expected rows below were produced by MMAction2 0.24.1's AudioFeatureSelector (and
# SampleFrames) on the same inputs, in the reference virtualenv.
def test_selector_matches_mmaction2():
  audio = np.arange(100 * 3, dtype=np.float32).reshape(100, 3)  # row r holds 3r, 3r+1, 3r+2
  out = AudioFeatureSelector(fixed_length=8)(
      dict(audios=audio, length=100, total_frames=50, num_clips=2,
           frame_inds=np.array([1, 2, 3, 4, 21, 22, 23, 24])))
  assert out["audios"].shape == out["audios_shape"] == (2, 8, 3)
  assert out["audios"][:, :, 0].tolist() == [[12, 15, 18, 21, 24, 27, 0, 0],
                                             [132, 135, 138, 141, 144, 147, 0, 0]]
  # (0 + 1) / 4 * 10 = 2.5 rounds to 2: Python's round-half-to-even, as in MMAction2.
  out = AudioFeatureSelector(fixed_length=4)(
      dict(audios=audio[:10], length=10, total_frames=4, num_clips=1,
           frame_inds=np.array([0, 1])))
  assert out["audios"][:, :, 0].tolist() == [[6, 9, 12, 0]]
  # Test-mode SampleFrames on a 142-frame video with 270 feature rows, 2 clips of 32.
  results = SampleFrames(clip_len=32, frame_interval=1, num_clips=2, test_mode=True)(
      dict(total_frames=142, start_index=1))
  results.update(audios=np.arange(270 * 2, dtype=np.float32).reshape(270, 2), length=270)
  out = AudioFeatureSelector(fixed_length=64)(results)
  assert results["frame_inds"][[0, 31, 32, 63]].tolist() == [28, 59, 84, 115]
  assert out["audios"][:, [0, 63], 0].tolist() == [[110, 0], [324, 0]]
  assert (out["audios"][:, :, 0] == 0).sum(1).tolist() == [5, 5]
  with pytest.raises(ValueError, match="fixed_length"):
    AudioFeatureSelector(0)


def test_format_audio_shape_puts_channel_last():
  out = FormatAudioShape("NCTF")(dict(audios=np.zeros((2, 8, 5), np.float32)))
  assert out["audios"].shape == out["input_shape"] == (2, 8, 5, 1)
  with pytest.raises(ValueError, match="The input format NCHW is invalid"):
    FormatAudioShape("NCHW")
  with pytest.raises(ValueError, match=r"\(clips, time, bins\)"):
    FormatAudioShape("NCTF")(dict(audios=np.zeros((8, 5), np.float32)))


def test_synthetic_audio_is_deterministic_and_class_coded(tmp_path):
  opts = dict(num_train=16, num_val=8)
  root = sources.prepare_synthetic_audio(str(tmp_path / "a"), **opts)
  again = sources.prepare_synthetic_audio(str(tmp_path / "b"), **opts)
  train = sources.DATASETS.build(dict(type="vjax_synthetic_audio", split="train",
                                      data_dir=str(tmp_path / "a"), **opts))
  assert len(train) == 16 and [train[i]["label"] for i in range(8)] == list(range(8))
  for i in (0, 5):
    np.testing.assert_array_equal(np.load(train[i]["audio_path"]),
                                  np.load(train[i]["audio_path"].replace(root, again)))
  # Even classes sweep up, odd ones down, inside their band: each row matches the previous
  # one better shifted a bin up than down (or the reverse). Steady tones and noise match
  # both shifts alike.
  for i in range(8):
    feats = np.load(train[i]["audio_path"])
    x = feats[:, i // 2 * 10:i // 2 * 10 + 10]
    x = x - x.mean()
    up, down = (x[1:, 1:] * x[:-1, :-1]).sum(), (x[1:, :-1] * x[:-1, 1:]).sum()
    assert (up > down) == (i % 2 == 0), i
    assert feats.dtype == np.float32 and 0 <= feats.min() and feats.max() <= 1
  with pytest.raises(KeyError, match="splits 'train' and 'val'"):
    sources.DATASETS.build(dict(type="vjax_synthetic_audio", split="test",
                                data_dir=str(tmp_path / "a"), **opts))


def test_audio_pipeline_end_to_end(tmp_path):
  ds = sources.DATASETS.build(dict(type="vjax_synthetic_audio", split="val",
                                   data_dir=str(tmp_path), num_train=8, num_val=8))
  pipeline = Compose([dict(type="LoadAudioFeature"),
                      dict(type="SampleFrames", clip_len=32, frame_interval=1, num_clips=3,
                           test_mode=True),
                      dict(type="AudioFeatureSelector", fixed_length=64),
                      dict(type="FormatAudioShape", input_format="NCTF"),
                      dict(type="Collect", keys=["audios", "label"], meta_keys=[])])
  out = pipeline(ds[2], np.random.default_rng(0))
  assert out["audios"].shape == (3, 64, 40, 1) and out["label"] == 2
  assert out["audios"].dtype == np.float32 and out["audios"].max() > 0.5
