"""Video -> clip features -> ActivityNet csv: vjax.localization.features and the
clip_feature_extraction, tsn_feature_extraction and activitynet_feature_postprocessing tools,
run in-process on a generated 37-frame video with the random-weight synthetic TSN
(configs/tsn_k400.py:synthetic: ResNet-18 of width 16, 128 features, 8 classes).

Expected clips are derived by hand below; expected features come from the recognizer's
model applied directly to frames read with OpenCV and resized / cropped / normalised here.
The rescaling and the csv files are compared with MMAction2 0.24.1's
activitynet_feature_postprocessing.py (tests/golden/features, from
tests/reference/make_golden_features.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.media_fixtures import write_video
from vjax.data.ops_sampling import UntrimmedSampleFrames
from vjax.localization import features
from vjax.localization.features import (clip_frame_indices, rescale_features,
                                        untrimmed_pipeline, video_features)
from vjax.tools import (activitynet_feature_postprocessing, clip_feature_extraction,
                        tsn_feature_extraction)

ROOT = Path(__file__).resolve().parents[2]
CONFIG = f"{ROOT}/configs/tsn_k400.py:synthetic"
GOLDEN = ROOT / "tests" / "golden" / "features"
T = 37
MEAN = np.array([123.675, 116.28, 103.53], np.float32)
STD = np.array([58.395, 57.12, 57.375], np.float32)
# --clip-len 3 --frame-interval 2 --clip-interval 8 over 37 frames: centres 4, 12, 20, 28, 36
# (every 8 frames from 8 // 2), frames centre - 2, centre, centre + 2, the last one clamped
# to frame 36.
CLIPS = np.array([[2, 4, 6], [10, 12, 14], [18, 20, 22], [26, 28, 30], [34, 36, 36]])
CLIP_ARGS = ["--clip-len", "3", "--frame-interval", "2", "--clip-interval", "8",
             "--batch-size", "2"]


def frames_of(rng, n):
  """Smooth random RGB frames (24 x 32), each different."""
  return [cv2.GaussianBlur(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8), (5, 5), 1.0)
          for _ in range(n)]


def read_video(path) -> np.ndarray:
  cap = cv2.VideoCapture(str(path))
  frames = []
  while True:
    ok, frame = cap.read()
    if not ok:
      break
    frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
  return np.stack(frames)


def model_input(frames: np.ndarray) -> np.ndarray:
  """The synthetic test pipeline by hand: short side 24 -> 36 (32 x 24 -> 48 x 36, bilinear),
  the centre 32 x 32 crop (top 2, left 8), ImageNet normalisation."""
  resized = np.stack([cv2.resize(f, (48, 36), interpolation=cv2.INTER_LINEAR) for f in frames])
  return (resized[:, 2:34, 8:40].astype(np.float32) - MEAN) / STD


@pytest.fixture(scope="module")
def recognizer():
  return clip_feature_extraction.load_recognizer(CONFIG, None)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
  root = tmp_path_factory.mktemp("media")
  frames = frames_of(np.random.default_rng(0), T)
  write_video(root / "videos" / "a" / "v1.mp4", frames)
  (root / "videos" / "a" / "broken.mp4").write_bytes(b"not a video" * 50)
  # Rawframes as denseflow writes them: img_00001.jpg is frame 0.
  (root / "rawframes" / "v1").mkdir(parents=True)
  for i, f in enumerate(frames):
    cv2.imwrite(str(root / "rawframes" / "v1" / f"img_{i + 1:05d}.jpg"),
                cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
  return root


@pytest.fixture(scope="module")
def clip_run(media, tmp_path_factory, recognizer):
  """clip_feature_extraction on one good, one corrupt and one missing video (pkl output)."""
  out = tmp_path_factory.mktemp("clip") / "feats.pkl"
  videos = media / "videos" / "a"
  status = clip_feature_extraction.main(
      [CONFIG, "none", str(out), str(videos / "v1.mp4"), str(videos / "broken.mp4"),
       str(videos / "missing.mp4")] + CLIP_ARGS)
  with open(out, "rb") as f:
    return status, pickle.load(f)


# ------------------------------------------------------------------------------ pure parts
def test_clip_frame_indices_by_hand():
  np.testing.assert_array_equal(clip_frame_indices(T, 3, 2, 8), CLIPS)
  # clip_len 4: two frames before the centre, one after; centres 5 and 15 of 20 frames.
  np.testing.assert_array_equal(clip_frame_indices(20, 4, 3, 10),
                                [[0, 2, 5, 8], [9, 12, 15, 18]])
  assert clip_frame_indices(8, 1, 1, 16).shape == (0, 1)  # ends before the first centre 8
  np.testing.assert_array_equal(clip_frame_indices(9, 1, 1, 16), [[8]])
  with pytest.raises(ValueError, match="clip_interval"):
    clip_frame_indices(10, 1, 1, 0)


@pytest.mark.parametrize("total, clip_len, interval", [(37, 1, 16), (100, 5, 16), (9, 3, 4)])
def test_clip_frame_indices_equal_vjax_untrimmed_sampler(total, clip_len, interval):
  """MMAction2 0.24.1's UntrimmedSampleFrames(clip_len, frame_interval=I) is
  frame_interval=1, clip_interval=I here."""
  op = UntrimmedSampleFrames(clip_len=clip_len, frame_interval=interval)
  expected = op(dict(total_frames=total, start_index=0))["frame_inds"]
  np.testing.assert_array_equal(clip_frame_indices(total, clip_len, 1, interval).reshape(-1),
                                expected)


def test_untrimmed_pipeline():
  ops = [dict(type="OpenCVInit"),
         dict(type="SampleFrames", clip_len=8, frame_interval=4, num_clips=10, test_mode=True),
         dict(type="OpenCVDecode"), dict(type="ThreeCrop", crop_size=224),
         dict(type="FormatShape", input_format="NCTHW")]
  head, tail, defaults = untrimmed_pipeline(ops)
  assert head == ops[:1]
  assert tail == [ops[2], dict(type="CenterCrop", crop_size=224), ops[4]]
  assert defaults == dict(clip_len=8, frame_interval=4, clip_interval=16)
  old = [dict(type="UntrimmedSampleFrames", clip_len=5, frame_interval=32),
         dict(type="RawFrameDecode")]
  assert untrimmed_pipeline(old)[2] == dict(clip_len=5, frame_interval=1, clip_interval=32)
  with pytest.raises(ValueError, match="no frame sampler"):
    untrimmed_pipeline([dict(type="RawFrameDecode")])


def test_rescale_features_matches_mmaction2():
  arrays = dict(np.load(GOLDEN / "arrays.npz"))
  cases = json.loads((GOLDEN / "cases.json").read_text())["pool"]
  assert {c["T"] for c in cases.values()} >= {1, 2, 99, 100, 101, 333}
  for name, case in cases.items():
    out = rescale_features(arrays[f"pool/{name}/input"], case["num_proposals"],
                           num_sample_bins=case["num_sample_bins"], pool_type=case["pool_type"])
    expected = arrays[f"pool/{name}/output"]
    assert out.shape == (case["num_proposals"], case["C"]), name
    np.testing.assert_array_equal(out, expected, err_msg=name)
  with pytest.raises(ValueError, match="non-empty"):
    rescale_features(np.zeros((0, 4)))


# ------------------------------------------------------------------ clip_feature_extraction
def test_clip_features_equal_a_direct_forward(clip_run, media, recognizer):
  status, results = clip_run
  assert status == 1  # two of the three videos failed
  assert [r["video_name"] for r in results] == ["v1.mp4"]
  feats = results[0]["feature"]
  assert feats.shape == (len(CLIPS), 128) and feats.dtype == np.float32
  frames = read_video(media / "videos" / "a" / "v1.mp4")
  assert len(frames) == T
  x = model_input(frames[CLIPS.reshape(-1)]).reshape((len(CLIPS), 3, 32, 32, 3))
  model = recognizer.model
  direct = np.asarray(model.apply(recognizer.variables, x, method=model.extract_features))
  assert direct.shape == (len(CLIPS), 1, 128)  # a 2D recognizer averages a clip's frames
  np.testing.assert_allclose(feats, direct[:, 0], rtol=1e-4, atol=1e-5)
  assert np.abs(np.diff(feats, axis=0)).max() > 1e-3  # the clips differ
  # The same clips from the decoded frames handed over as an array.
  again = video_features(recognizer, frames, clip_len=3, frame_interval=2, clip_interval=8,
                         batch_size=2)
  np.testing.assert_array_equal(again, feats)


def test_clip_feature_extraction_reports_bad_videos(media, recognizer, tmp_path, capsys):
  videos = media / "videos" / "a"
  status = clip_feature_extraction.main(
      [CONFIG, "none", str(tmp_path / "f.pkl"), str(videos / "broken.mp4"),
       str(videos / "missing.mp4")] + CLIP_ARGS)
  err = capsys.readouterr()
  assert status == 1
  assert "0 done, 0 skipped (already there), 2 failed" in err.out
  assert f"FAILED {videos / 'broken.mp4'}: VideoDecodeError" in err.err
  assert f"FAILED {videos / 'missing.mp4'}: FileNotFoundError" in err.err
  with open(tmp_path / "f.pkl", "rb") as f:
    assert pickle.load(f) == []


def test_clip_feature_extraction_npy_from_a_list(clip_run, media, tmp_path, monkeypatch, capsys):
  # Two clips per decode: OpenCV reopens the video for each of three pipeline calls.
  monkeypatch.setattr(features, "_DECODE_FRAMES", 4)
  listing = tmp_path / "list.txt"
  listing.write_text("a/v1.mp4 3\n\n")
  out = tmp_path / "npy"
  argv = [CONFIG, "none", str(out), "--video-list", str(listing), "--video-root",
          str(media / "videos"), "--output-format", "npy"] + CLIP_ARGS
  assert clip_feature_extraction.main(argv) == 0
  np.testing.assert_array_equal(np.load(out / "a" / "v1.npy"), clip_run[1][0]["feature"])
  assert clip_feature_extraction.main(argv) == 0
  assert "0 done, 1 skipped (already there), 0 failed" in capsys.readouterr().out


# ------------------------------------------------------------------- tsn_feature_extraction
@pytest.fixture(scope="module")
def tsn_run(media, tmp_path_factory):
  root = tmp_path_factory.mktemp("tsn")
  (root / "list.txt").write_text(f"v1 {T} v1.pkl\nmissing 20 missing.pkl\n")
  status = tsn_feature_extraction.main([
      "--data-prefix", str(media / "rawframes"), "--data-list", str(root / "list.txt"),
      "--output-prefix", str(root / "out"), "--frame-interval", "8", "--config", CONFIG,
      "--batch-size", "2"])
  return status, root / "out"


def test_tsn_feature_extraction_scores_each_clip(tsn_run, media, recognizer):
  status, out = tsn_run
  assert status == 1  # the missing folder
  assert sorted(os.listdir(out)) == ["v1.pkl"]
  with open(out / "v1.pkl", "rb") as f:
    scores = pickle.load(f)
  # MMAction2's start_index=0 over denseflow's img_00001..: clip k reads img_{centre:05d}.jpg,
  # centres 4, 12, 20, 28, 36 (--frame-interval 8 spaces one-frame clips).
  files = [media / "rawframes" / "v1" / f"img_{c:05d}.jpg" for c in (4, 12, 20, 28, 36)]
  frames = np.stack([cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in files])
  direct = np.asarray(recognizer.model.apply(recognizer.variables,
                                             model_input(frames)[:, None]))
  assert scores.shape == (5, 8) and scores.dtype == np.float32
  np.testing.assert_allclose(scores, direct[:, 0], rtol=1e-4, atol=1e-5)


# ------------------------------------------------------- activitynet_feature_postprocessing
def test_postprocessing_csv_is_mmaction2s(tmp_path):
  arrays = dict(np.load(GOLDEN / "arrays.npz"))
  cases = json.loads((GOLDEN / "cases.json").read_text())["csv"]
  for stream in ("rgb", "flow"):
    (tmp_path / stream).mkdir()
    for video in cases:
      with open(tmp_path / stream / f"{video}.pkl", "wb") as f:
        pickle.dump(arrays[f"csv/{video}/{stream}"], f)
  assert activitynet_feature_postprocessing.main([
      "--rgb", str(tmp_path / "rgb"), "--flow", str(tmp_path / "flow"), "--dest",
      str(tmp_path / "csv"), "--num-workers", "1"]) == 0
  for video, case in cases.items():
    text = (tmp_path / "csv" / f"{video}.csv").read_bytes()
    assert text.decode().startswith(case["first_line"])
    assert (len(text), hashlib.sha256(text).hexdigest()) == (case["size"], case["sha256"])
    table = np.loadtxt(tmp_path / "csv" / f"{video}.csv", delimiter=",", skiprows=1)
    assert table.shape == (100, 400)


def test_postprocessing_of_extracted_features(tsn_run, clip_run, tmp_path):
  """TSN scores (RGB stream) and clip features (as the Flow stream) of the same video -> one
  (100, 8 + 128) csv: each stream rescaled, then joined, to 4 decimals."""
  _, tsn_out = tsn_run
  flow = tmp_path / "flow"
  flow.mkdir()
  clip_feats = clip_run[1][0]["feature"]
  with open(flow / "v1.pkl", "wb") as f:
    pickle.dump(clip_feats, f)
  assert activitynet_feature_postprocessing.main([
      "--rgb", str(tsn_out), "--flow", str(flow), "--dest", str(tmp_path / "csv"),
      "--num-workers", "1"]) == 0
  lines = (tmp_path / "csv" / "v1.csv").read_text().split("\n")
  assert lines[0] == ",".join(f"f{i}" for i in range(136))
  table = np.loadtxt(lines[1:], delimiter=",")
  assert table.shape == (100, 136)
  with open(tsn_out / "v1.pkl", "rb") as f:
    scores = pickle.load(f)
  expected = np.concatenate([rescale_features(scores, 100), rescale_features(clip_feats, 100)],
                            axis=1)
  np.testing.assert_allclose(table, expected, atol=5.1e-5, rtol=0)
  # Step 0 is near clip 0, step 99 near the last clip.
  np.testing.assert_allclose(expected[0, 8:], clip_feats[0], atol=0.05 * np.abs(clip_feats).max())


def test_postprocessing_needs_matching_files(tmp_path):
  for stream, name in (("rgb", "a.pkl"), ("flow", "b.pkl")):
    (tmp_path / stream).mkdir()
    with open(tmp_path / stream / name, "wb") as f:
      pickle.dump(np.zeros((3, 2), np.float32), f)
  with pytest.raises(ValueError, match=r"only in rgb: \['a.pkl'\], only in flow: \['b.pkl'\]"):
    activitynet_feature_postprocessing.main(["--rgb", str(tmp_path / "rgb"), "--flow",
                                             str(tmp_path / "flow"), "--dest", str(tmp_path)])
