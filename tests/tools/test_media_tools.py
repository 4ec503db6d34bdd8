"""The media-preparation tools (build_rawframes, resize_videos, extract_audio,
build_audio_features, build_videos) on folders of tiny generated videos and sounds."""

from __future__ import annotations

import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from tests.media_fixtures import (COLORS, TOL, flat, mean_color, sine, texture, write_video,
                                   write_wav)
from vjax.data import media
from vjax.data.ops_audio import read_audio
from vjax.tools import (_batch, build_audio_features, build_rawframes, build_videos,
                        extract_audio, resize_videos)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
def read_rgb(path):
  return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


@pytest.fixture
def videos(tmp_path, monkeypatch):
  """src/class_a/v1.mp4 (COLORS) and src/class_b/v2.mp4 (COLORS reversed); cwd = tmp_path."""
  monkeypatch.chdir(tmp_path)
  src = tmp_path / "src"
  write_video(src / "class_a" / "v1.mp4")
  write_video(src / "class_b" / "v2.mp4", [flat(c) for c in COLORS[::-1]])
  return src


# -------------------------------------------------------------------------------- _batch
def test_batch_find_and_relative(tmp_path):
  for rel in ("a/x.mp4", "a/y.avi", "b/z.mp4", "top.mp4", "a/.hidden.mp4"):
    (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / rel).write_bytes(b"")
  root = str(tmp_path)
  assert _batch.find(root, 2, "mp4") == [f"{root}/a/x.mp4", f"{root}/b/z.mp4"]
  assert _batch.find(root, 1, "mp4") == [f"{root}/top.mp4"]
  assert _batch.relative(f"{root}/a/x.mp4", 2) == "a/x.mp4"
  assert _batch.relative(f"{root}/a/x.mp4", 1) == "x.mp4"
  (tmp_path / "report.txt").write_text(f"{root}/a/x.mp4\n\n{root}/b/z.mp4 extra\n")
  assert _batch.read_done(str(tmp_path / "report.txt")) == {f"{root}/a/x.mp4",
                                                           f"{root}/b/z.mp4"}
  assert _batch.read_done(str(tmp_path / "none.txt")) == set()


def _fails_on_b(item):
  if "b" in os.path.basename(item):
    raise ValueError("bad input")
  return "skipped" if "s" in os.path.basename(item) else None


def test_batch_run_reports_failures_and_goes_on(capsys):
  done = []
  failures = _batch.run(_fails_on_b, ["a1", "b1", "s1", "a2"], 1, "test",
                        on_done=lambda item, status: done.append((item, status)))
  assert failures == [("b1", "ValueError: bad input")]
  assert done == [("a1", "done"), ("s1", "skipped"), ("a2", "done")]
  out, err = capsys.readouterr()
  assert "2 done, 1 skipped (already there), 1 failed" in out
  assert "FAILED b1: ValueError: bad input" in err


# ----------------------------------------------------------------------- build_rawframes
def test_build_rawframes_rgb(videos, tmp_path):
  out = tmp_path / "out"
  assert build_rawframes.main([str(videos), str(out), "--task", "rgb", "--ext", "mp4",
                               "--new-short", "16", "--num-worker", "1"]) == 0
  for rel, colors in (("class_a/v1", COLORS), ("class_b/v2", COLORS[::-1])):
    names = sorted(os.listdir(out / rel))
    assert names == [f"img_{i:05d}.jpg" for i in range(1, 13)]
    for i, c in enumerate(colors, 1):
      img = read_rgb(out / rel / f"img_{i:05d}.jpg")
      assert img.shape == (16, 21, 3)  # denseflow: round(32 / 24 * 16) = round(21.33)
      np.testing.assert_allclose(mean_color(img), c, atol=TOL)
  report = (tmp_path / "build_report.txt").read_text().split()
  assert sorted(report) == [str(videos / "class_a/v1.mp4"), str(videos / "class_b/v2.mp4")]


def test_build_rawframes_resume_skips_finished_videos(videos, tmp_path):
  out = tmp_path / "out"
  argv = [str(videos), str(out), "--task", "rgb", "--ext", "mp4", "--num-worker", "1"]
  assert build_rawframes.main(argv) == 0
  first = out / "class_a/v1/img_00001.jpg"
  stamp = first.stat().st_mtime_ns
  os.utime(first, ns=(stamp - 10**9, stamp - 10**9))  # so that a rewrite would show
  stamp = first.stat().st_mtime_ns
  write_video(videos / "class_a" / "v3.mp4")
  assert build_rawframes.main(argv + ["--resume"]) == 0
  assert first.stat().st_mtime_ns == stamp
  assert len(os.listdir(out / "class_a/v3")) == 12
  assert len((tmp_path / "build_report.txt").read_text().split()) == 3
  assert build_rawframes.main(argv) == 0  # without --resume everything is redone
  assert first.stat().st_mtime_ns != stamp


def test_build_rawframes_flow_both(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  base = texture(48, 64)
  frames = [np.repeat(np.roll(base, 2 * i, axis=1)[..., None], 3, axis=-1) for i in range(6)]
  write_video(tmp_path / "src" / "moving.mp4", frames)
  out = tmp_path / "out"
  assert build_rawframes.main([str(tmp_path / "src"), str(out), "--task", "both", "--level",
                               "1", "--ext", "mp4", "--flow-type", "farn",
                               "--num-worker", "1"]) == 0
  names = sorted(os.listdir(out / "moving"))
  assert names == ([f"flow_x_{i:05d}.jpg" for i in range(1, 6)]
                   + [f"flow_y_{i:05d}.jpg" for i in range(1, 6)]
                   + [f"img_{i:05d}.jpg" for i in range(1, 7)])
  fx = cv2.imread(str(out / "moving/flow_x_00001.jpg"), cv2.IMREAD_UNCHANGED)
  fy = cv2.imread(str(out / "moving/flow_y_00001.jpg"), cv2.IMREAD_UNCHANGED)
  assert fx.shape == (48, 64)
  # 2 px right: 255 * (2 + 20) / 40 = 140.25; no vertical motion: 127.5
  assert abs(np.median(fx[8:-8, 8:-8]) - 140) <= 3
  assert abs(np.median(fy[8:-8, 8:-8]) - 128) <= 3


def test_build_rawframes_flow_from_extracted_frames(videos, tmp_path):
  frames = tmp_path / "frames"
  assert build_rawframes.main([str(videos), str(frames), "--task", "rgb", "--ext", "mp4",
                               "--num-worker", "1"]) == 0
  out = tmp_path / "flow"
  assert build_rawframes.main([str(frames), str(out), "--task", "flow", "--flow-type", "farn",
                               "--input-frames", "--num-worker", "1"]) == 0
  names = os.listdir(out / "class_b" / "v2")
  assert len(names) == 22 and "flow_y_00011.jpg" in names


def test_build_rawframes_opencv_route_sizes(videos, tmp_path):
  argv = [str(videos), "", "--task", "rgb", "--ext", "mp4", "--new-short", "20",
          "--num-worker", "1"]
  argv[1] = str(tmp_path / "dense")
  assert build_rawframes.main(argv) == 0
  argv[1] = str(tmp_path / "opencv")
  assert build_rawframes.main(argv + ["--use-opencv"]) == 0
  # 32 / 24 * 20 = 26.67: denseflow rounds, MMAction2's OpenCV route floors.
  assert read_rgb(tmp_path / "dense/class_a/v1/img_00001.jpg").shape == (20, 27, 3)
  assert read_rgb(tmp_path / "opencv/class_a/v1/img_00001.jpg").shape == (20, 26, 3)


def test_build_rawframes_reports_a_broken_video(videos, tmp_path, capsys):
  bad = videos / "class_a" / "broken.mp4"
  bad.write_bytes(np.random.default_rng(0).bytes(3000))
  out = tmp_path / "out"
  assert build_rawframes.main([str(videos), str(out), "--task", "rgb", "--ext", "mp4",
                               "--num-worker", "1"]) == 1
  assert f"FAILED {bad}: VideoDecodeError" in capsys.readouterr().err
  assert len(os.listdir(out / "class_b" / "v2")) == 12
  assert str(bad) not in (tmp_path / "build_report.txt").read_text()


@pytest.mark.parametrize("extra,message", [
    (["--task", "rgb", "--out-format", "png"], "JPEG frames only"),
    (["--task", "rgb", "--num-gpu", "2"], "--num-worker"),
    (["--task", "flow"], "needs --flow-type"),
    (["--task", "both", "--flow-type", "brox"], "CUDA-only"),
    (["--task", "rgb", "--input-frames"], "--task flow"),
])
def test_build_rawframes_rejects_what_it_cannot_do(tmp_path, capsys, extra, message):
  with pytest.raises(SystemExit) as exit_info:
    build_rawframes.main([str(tmp_path), str(tmp_path / "out")] + extra)
  assert exit_info.value.code == 2
  assert message in capsys.readouterr().err


def test_build_rawframes_command_line_with_workers(videos, tmp_path):
  out = tmp_path / "out"
  proc = subprocess.run(
      [sys.executable, "-m", "vjax.tools.build_rawframes", str(videos), str(out), "--task",
       "rgb", "--ext", "mp4", "--num-worker", "2", "--report-file", "r.txt"],
      cwd=tmp_path, capture_output=True, text=True, timeout=300,
      env={**os.environ, "PYTHONPATH": ROOT})
  assert proc.returncode == 0, proc.stderr
  assert "2 done" in proc.stdout
  assert len(os.listdir(out / "class_a/v1")) == len(os.listdir(out / "class_b/v2")) == 12


# ------------------------------------------------------------------------- resize_videos
def test_resize_videos(videos, tmp_path):
  out = tmp_path / "out"
  assert resize_videos.main([str(videos), str(out), "--scale", "16", "--dense",
                             "--num-worker", "1"]) == 0
  meta = media.probe(out / "class_a" / "v1.mp4")
  # scale=-2:16 -> width (16 * 32 + 24) // 48 * 2 = 22
  assert (meta.height, meta.width, meta.num_frames, meta.fps) == (16, 22, 12, 8.0)
  frames = list(media.iter_frames(out / "class_b" / "v2.mp4"))
  for img, c in zip(frames, COLORS[::-1]):
    np.testing.assert_allclose(mean_color(img), c, atol=TOL)


def test_resize_videos_to_mp4(tmp_path):
  write_video(tmp_path / "src" / "clip.avi")
  out = tmp_path / "out"
  assert resize_videos.main([str(tmp_path / "src"), str(out), "--level", "1", "--ext", "avi",
                             "--to-mp4", "--scale", "12", "--num-worker", "1"]) == 0
  assert os.listdir(out) == ["clip.mp4"]
  meta = media.probe(out / "clip.mp4")
  assert (meta.height, meta.width, meta.num_frames) == (12, 16, 12)


def test_resize_videos_webm_needs_to_mp4(tmp_path, capsys):
  with pytest.raises(SystemExit):
    resize_videos.main([str(tmp_path), str(tmp_path / "out"), "--ext", "webm"])
  assert "--to-mp4" in capsys.readouterr().err


# ------------------------------------------------------------------------- extract_audio
def test_extract_audio(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  write_video(tmp_path / "src" / "talk" / "with_audio.mp4", audio=sine(seconds=1.5))
  write_video(tmp_path / "src" / "talk" / "silent.mp4")
  out = tmp_path / "wav"
  argv = [str(tmp_path / "src"), str(out), "--num-workers", "1"]
  assert extract_audio.main(argv) == 1  # the silent video fails
  wav = out / "talk" / "with_audio.wav"
  y, rate = read_audio(str(wav))
  assert rate == 16000 and y.shape[0] == 1
  spectrum = np.abs(np.fft.rfft(y[0]))
  assert abs(np.fft.rfftfreq(y.shape[1], 1 / rate)[spectrum.argmax()] - 1000) < 2
  assert not (out / "talk" / "silent.wav").exists()
  assert (tmp_path / extract_audio.ERROR_FILE).read_text().split() == [
      str(tmp_path / "src" / "talk" / "silent.mp4")]
  stamp = wav.stat().st_mtime_ns
  extract_audio.main(argv)  # an existing WAV is kept
  assert wav.stat().st_mtime_ns == stamp


# ------------------------------------------------------------------ build_audio_features
def test_build_audio_features(tmp_path):
  src = tmp_path / "wav"
  src.mkdir()
  for i, freq in enumerate((500.0, 1000.0, 2000.0)):
    write_wav(src / f"tone{i}.wav", sine(freq, seconds=1.0))
  out = tmp_path / "npy"
  argv = [str(src), str(out), "--ext", "wav", "--num-workers", "1"]
  assert build_audio_features.main(argv + ["--part", "2/2"]) == 0
  assert sorted(os.listdir(out)) == ["tone1.npy", "tone2.npy"]  # 3 // 2 = 1 in part 1
  assert build_audio_features.main(argv + ["--part", "1/2"]) == 0
  for i in range(3):
    feats = np.load(out / f"tone{i}.npy")
    assert feats.dtype == np.float32 and feats.shape == (64, 80)  # ceil(16000 / 256) + 1
    np.testing.assert_array_equal(feats, media.audio_features(str(src / f"tone{i}.wav")))
  peaks = [int(np.median(np.load(out / f"tone{i}.npy").argmax(axis=1))) for i in range(3)]
  assert peaks[0] < peaks[1] < peaks[2]


def test_build_audio_features_part_slicing():
  files = [f"f{i}" for i in range(7)]
  assert build_audio_features.select_part(files, "1/3") == ["f0", "f1"]
  assert build_audio_features.select_part(files, "3/3") == ["f4", "f5", "f6"]
  with pytest.raises(ValueError):
    build_audio_features.select_part(files, "4/3")


# ------------------------------------------------------------------------- build_videos
def test_build_videos(tmp_path):
  folder = tmp_path / "frames" / "class_a" / "v1"
  folder.mkdir(parents=True)
  for i, c in enumerate(COLORS, 1):
    (folder / f"img_{i:05d}.jpg").write_bytes(media.encode_jpeg(flat(c)))
  out = tmp_path / "videos"
  argv = [str(tmp_path / "frames"), str(out), "--fps", "8", "--num-worker", "1"]
  assert build_videos.main(argv) == 0  # --start-idx 0 finds frames numbered from 1
  video = out / "class_a" / "v1.mp4"
  meta = media.probe(video)
  assert (meta.num_frames, meta.fps, meta.height, meta.width) == (12, 8.0, 24, 32)
  for img, c in zip(media.iter_frames(video), COLORS):
    np.testing.assert_allclose(mean_color(img), c, atol=TOL)
  stamp = video.stat().st_mtime_ns
  assert build_videos.main(argv + ["--resume"]) == 0
  assert video.stat().st_mtime_ns == stamp


def test_frame_sequence_stops_at_a_gap(tmp_path):
  for i in (3, 4, 5, 7):
    (tmp_path / f"img_{i:05d}.png").write_bytes(b"")
  paths = build_videos.frame_sequence(str(tmp_path), "img_%05d", "png", 0)
  assert [os.path.basename(p) for p in paths] == ["img_00003.png", "img_00004.png",
                                                  "img_00005.png"]
  with pytest.raises(ValueError, match="no frame"):
    build_videos.frame_sequence(str(tmp_path), "img_%05d", "png", 8)
