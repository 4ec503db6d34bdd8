"""vjax.data.media: decoding, sizing, JPEG / flow encoding, re-encoding and audio features,
checked against videos and sounds generated here with known content."""

from __future__ import annotations

import io
import math
import os

import cv2
import numpy as np
import pytest

from tests.media_fixtures import (COLORS, H, TOL, W, mean_color, sine, texture, write_video,
                                   write_wav)
from vjax.data import media
from vjax.data.ops_audio import LoadAudioFeature, mel_filterbank, read_audio
from vjax.data.ops_decode import VideoDecodeError

def assert_colors(frames, colors):
  assert len(frames) == len(colors)
  for i, (img, c) in enumerate(zip(frames, colors)):
    np.testing.assert_allclose(mean_color(img), c, atol=TOL, err_msg=f"frame {i}")



@pytest.fixture
def video(tmp_path):
  path = tmp_path / "colors.mp4"
  write_video(path)
  return path


# ------------------------------------------------------------------------------ decoding
def test_probe_reads_rate_count_and_size(video):
  meta = media.probe(video)
  assert meta == media.VideoMeta(fps=8.0, num_frames=12, height=24, width=32, has_audio=False)
  assert media.probe(video.read_bytes()) == meta


def test_probe_sees_the_audio_stream():
  data = write_video(None, audio=sine(seconds=1.5))
  assert media.probe(data).has_audio


def test_iter_frames_gives_every_frame_in_order(video):
  frames = list(media.iter_frames(video))
  assert all(f.shape == (24, 32, 3) and f.dtype == np.uint8 for f in frames)
  assert_colors(frames, COLORS)
  from_bytes = list(media.iter_frames(video.read_bytes()))
  assert all(np.array_equal(a, b) for a, b in zip(frames, from_bytes))


@pytest.mark.parametrize("start,end,first,count", [
    (0.5, 1.0, 4, 4),     # t = 0.5, 0.625, 0.75, 0.875
    (1.0, None, 8, 4),    # seeks, then frames 8..11
    (None, 0.25, 0, 2),   # t = 0, 0.125
])
def test_iter_frames_cuts_a_time_window(video, start, end, first, count):
  frames = list(media.iter_frames(video, start=start, end=end))
  assert_colors(frames, COLORS[first:first + count])


def test_unreadable_videos_raise_naming_the_file(tmp_path, video):
  garbage = tmp_path / "garbage.mp4"
  garbage.write_bytes(np.random.default_rng(0).bytes(5000))
  truncated = tmp_path / "truncated.mp4"
  data = video.read_bytes()
  truncated.write_bytes(data[:len(data) // 2])  # the index (moov) is at the end: lost
  for path in (garbage, truncated):
    with pytest.raises(VideoDecodeError, match=str(path)):
      media.probe(path)
    with pytest.raises(VideoDecodeError, match=str(path)):
      list(media.iter_frames(path))
  with pytest.raises(VideoDecodeError, match="clip_07.mp4"):
    media.probe(garbage.read_bytes(), name="clip_07.mp4")
  with pytest.raises(FileNotFoundError, match="missing.mp4"):
    media.probe(tmp_path / "missing.mp4")


def test_a_stream_cut_short_of_its_header_is_reported(tmp_path):
  path = tmp_path / "faststart.mp4"  # index first, so the cut file still opens
  write_video(path, colors=[COLORS[i % 12] for i in range(40)],
              options={"movflags": "faststart"})
  data = path.read_bytes()
  cut = tmp_path / "cut.mp4"
  mdat = data.index(b"mdat")
  assert data.index(b"moov") < mdat
  cut.write_bytes(data[:mdat + (len(data) - mdat) // 3])  # a third of the frames
  assert media.probe(cut).num_frames == 40  # the header still promises 40
  with pytest.raises(VideoDecodeError, match=f"{cut}.*truncated"):
    list(media.iter_frames(cut))


# --------------------------------------------------------------------- frames and flow
@pytest.mark.parametrize("hw,kwargs,expected", [
    ((240, 320), dict(short_side=128), (128, 171)),   # 320 / 240 * 128 = 170.67
    ((320, 240), dict(short_side=128), (171, 128)),
    ((300, 300), dict(short_side=100), (100, 100)),
    ((240, 320), dict(short_side=256), (240, 320)),   # denseflow never enlarges
    ((240, 320), dict(short_side=240), (240, 320)),
    ((240, 320), dict(size=(340, 256)), (256, 340)),  # exact, aspect ignored
    ((240, 320), dict(size=(100, 0)), (75, 100)),     # 240 / 320 * 100
    ((240, 320), dict(size=(0, 90)), (90, 120)),      # 320 / 240 * 90
    ((25, 10), dict(size=(0, 5)), (5, 2)),            # 10 / 25 * 5 = 2.0
    ((30, 20), dict(size=(5, 0)), (8, 5)),            # 30 / 20 * 5 = 7.5 rounds up
    ((240, 320), dict(size=(0, 0)), (240, 320)),
    ((240, 320), dict(), (240, 320)),
])
def test_resized_size_follows_denseflow(hw, kwargs, expected):
  assert media.resized_size(*hw, **kwargs) == expected


def test_resized_size_rejects_both_or_negative():
  with pytest.raises(ValueError, match="not both"):
    media.resized_size(240, 320, short_side=128, size=(340, 256))
  with pytest.raises(ValueError):
    media.resized_size(240, 320, size=(-1, 10))


def test_resize_is_bilinear_on_pixel_centres():
  # A 1x2 image (0, 255) widened to 4: OpenCV samples source x = (x' + 0.5) / 2 - 0.5
  # = -0.25, 0.25, 0.75, 1.25 (clamped) -> 0, 63.75, 191.25, 255.
  img = np.array([[[0, 0, 0], [255, 255, 255]]], np.uint8)
  out = media.resize(img, (1, 4))
  assert out.shape == (1, 4, 3)
  np.testing.assert_array_equal(out[0, :, 0], [0, 64, 191, 255])
  assert media.resize(img, (1, 2)) is img


def test_encode_jpeg_uses_opencvs_default_quality():
  rng = np.random.default_rng(0)
  rgb = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
  default = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1].tobytes()
  assert media.encode_jpeg(rgb) == default
  assert len(media.encode_jpeg(rgb, quality=50)) < len(default)
  flat = np.tile(np.array([200, 30, 90], np.uint8), (24, 32, 1))
  decoded = cv2.cvtColor(cv2.imdecode(np.frombuffer(media.encode_jpeg(flat), np.uint8),
                                      cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
  np.testing.assert_allclose(mean_color(decoded), [200, 30, 90], atol=3)
  gray = media.encode_jpeg(np.full((8, 8), 77, np.uint8))
  assert cv2.imdecode(np.frombuffer(gray, np.uint8), cv2.IMREAD_UNCHANGED).ndim == 2


def test_quantize_flow_maps_the_bound_onto_0_255():
  v = np.array([-100, -20, -10, 0, 2.5, 10, 20, 30], np.float32)
  flow = np.stack([v, -v], axis=-1)[None]  # (1, 8, 2)
  # 255 * (v + 20) / 40: 63.75 -> 64, 127.5 -> 128 (half to even), 143.44 -> 143, 191.25 -> 191
  np.testing.assert_array_equal(media.quantize_flow(flow)[0, :, 0],
                                [0, 0, 64, 128, 143, 191, 255, 255])
  np.testing.assert_array_equal(media.quantize_flow(flow)[0, :, 1],
                                [255, 255, 191, 128, 112, 64, 0, 0])
  np.testing.assert_array_equal(media.quantize_flow(np.full((1, 1, 2), 5.0), bound=10),
                                [[[191, 191]]])  # 255 * 15 / 20 = 191.25


def test_flow_to_jpegs_writes_two_grayscale_images():
  flow = np.zeros((16, 16, 2), np.float32)
  flow[..., 0], flow[..., 1] = -20, 20
  fx, fy = media.flow_to_jpegs(flow)
  dx = cv2.imdecode(np.frombuffer(fx, np.uint8), cv2.IMREAD_UNCHANGED)
  dy = cv2.imdecode(np.frombuffer(fy, np.uint8), cv2.IMREAD_UNCHANGED)
  assert dx.shape == dy.shape == (16, 16)
  assert dx.max() <= 1 and dy.min() >= 254
  zero = cv2.imdecode(np.frombuffer(media.flow_to_jpegs(np.zeros((16, 16, 2)))[0], np.uint8),
                      cv2.IMREAD_UNCHANGED)
  assert abs(int(np.median(zero)) - 128) <= 1


def test_farneback_flow_recovers_a_shift():
  img = texture()
  moved = np.roll(img, 2, axis=1)  # content moves 2 px right
  rgb = lambda g: np.repeat(g[..., None], 3, axis=-1)  # noqa: E731
  flow = media.optical_flow(rgb(img), rgb(moved), method="farn")
  assert flow.shape == (64, 64, 2) and flow.dtype == np.float32
  inner = flow[8:-8, 8:-8]
  assert abs(np.median(inner[..., 0]) - 2) < 0.3
  assert abs(np.median(inner[..., 1])) < 0.3
  np.testing.assert_array_equal(flow, media.optical_flow(img, moved))  # gray in, same flow


def test_tvl1_needs_opencv_contrib_or_works():
  img = texture()
  if not hasattr(cv2, "optflow"):
    with pytest.raises(ImportError, match="opencv-contrib-python-headless"):
      media.optical_flow(img, img, method="tvl1")
  else:
    flow = media.optical_flow(img, np.roll(img, 2, axis=1), method="tvl1")
    assert abs(np.median(flow[8:-8, 8:-8, 0]) - 2) < 0.3
  with pytest.raises(ValueError, match="brox"):
    media.optical_flow(img, img, method="brox")


# ------------------------------------------------------------------------------ encoding
@pytest.mark.parametrize("hw,short_side,expected", [
    ((24, 32), 16, (16, 22)),   # scale=-2:16: (16 * 32 + 24) // 48 * 2 = 22
    ((32, 24), 16, (22, 16)),   # scale=16:-2
    ((240, 320), 256, (256, 342)),  # 341.33 -> nearest even 342
    ((24, 32), None, (24, 32)),
])
def test_ffmpeg_scaled_size(hw, short_side, expected):
  assert media.ffmpeg_scaled_size(*hw, short_side=short_side) == expected


def test_reencode_video_scales_and_keeps_every_frame(video):
  data = media.reencode_video(video, short_side=16)
  meta = media.probe(data)
  assert (meta.height, meta.width, meta.num_frames, meta.fps) == (16, 22, 12, 8.0)
  assert not meta.has_audio
  assert_colors(list(media.iter_frames(data)), COLORS)
  import av  # pylint: disable=g-import-not-at-top
  with av.open(io.BytesIO(data)) as container:
    codec = container.streams.video[0].codec_context.name
  assert codec == ("h264" if media.default_codec() == "h264" else "mpeg4")


def _keyframes(data):
  import av  # pylint: disable=g-import-not-at-top
  with av.open(io.BytesIO(data)) as container:
    stream = container.streams.video[0]
    pts = sorted((p.pts, p.is_keyframe) for p in container.demux(stream) if p.size)
  return [i for i, (_, key) in enumerate(pts) if key]


def test_dense_puts_a_keyframe_every_16_frames():
  still = write_video(None, colors=[(90, 90, 90)] * 40)
  assert _keyframes(media.reencode_video(still, dense=True)) == [0, 16, 32]
  assert _keyframes(media.reencode_video(still, dense=False)) == [0]


def test_reencode_video_window_and_exact_size(video):
  data = media.reencode_video(video.read_bytes(), start=0.5, end=1.0, size=(20, 16))
  frames = list(media.iter_frames(data))
  assert frames[0].shape == (16, 20, 3)
  assert_colors(frames, COLORS[4:8])


def test_reencode_video_fps_resamples_like_ffmpeg(video):
  data = media.reencode_video(video, fps=4)
  meta = media.probe(data)
  assert (meta.fps, meta.num_frames) == (4.0, 6)
  assert_colors(list(media.iter_frames(data)), COLORS[::2])


def test_remove_dup_drops_repeats_and_keeps_their_timestamps():
  import av  # pylint: disable=g-import-not-at-top
  colors = [COLORS[0]] * 3 + [COLORS[5]] * 2 + [COLORS[9]]
  data = media.reencode_video(write_video(None, colors=colors), remove_dup=True)
  assert_colors(list(media.iter_frames(data)), [COLORS[0], COLORS[5], COLORS[9]])
  with av.open(io.BytesIO(data)) as container:
    times = [float(f.time) for f in container.decode(video=0)]
  np.testing.assert_allclose(times, [0, 3 / 8, 5 / 8])
  with pytest.raises(ValueError, match="remove_dup"):
    media.reencode_video(data, remove_dup=True, fps=4)


def test_duplicate_test_follows_mpdecimate_thresholds():
  # 8x8 SADs every 4 px; a frame differs when one SAD > 768 or more than
  # int(4 * 4 * 0.33) = 5 SADs exceed 320.
  ref = np.zeros((64, 64), np.uint8)
  one = ref.copy()
  one[16:24, 16:24] = 13  # its own window: SAD 832 > 768
  assert media._plane_differs(one, ref)  # pylint: disable=protected-access
  one[16:24, 16:24] = 12  # SAD 768; 4 half-overlapping windows 384: 5 windows above 320
  assert not media._plane_differs(one, ref)  # pylint: disable=protected-access
  two = one.copy()
  two[40:48, 40:48] = 12  # 10 windows above 320
  assert media._plane_differs(two, ref)  # pylint: disable=protected-access


def test_reencode_video_names_a_bad_input():
  with pytest.raises(VideoDecodeError, match="clip_09.mp4"):
    media.reencode_video(b"\0" * 4000, name="clip_09.mp4")


def test_frames_to_video_round_trip(tmp_path):
  frames = [np.tile(np.array(c, np.uint8), (H, W, 1)) for c in COLORS]
  for codec, name in ((None, "default.mp4"), ("mpeg4", "mpeg4.avi")):
    path = tmp_path / name
    media.frames_to_video(iter(frames), str(path), fps=8, codec=codec)
    meta = media.probe(path)
    assert (meta.num_frames, meta.fps, meta.height, meta.width) == (12, 8.0, 24, 32)
    assert_colors(list(media.iter_frames(path)), COLORS)
  assert sorted(os.listdir(tmp_path)) == ["default.mp4", "mpeg4.avi"]  # no partial files


def test_frames_to_video_rejects_mixed_sizes_and_leaves_nothing(tmp_path):
  frames = [np.zeros((24, 32, 3), np.uint8), np.zeros((16, 32, 3), np.uint8)]
  with pytest.raises(ValueError, match="frame 1"):
    media.frames_to_video(frames, str(tmp_path / "bad.mp4"), fps=8)
  assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------------- audio
def _peak_hz(y, rate):
  spectrum = np.abs(np.fft.rfft(y))
  return np.fft.rfftfreq(len(y), 1 / rate)[spectrum.argmax()]


def test_extract_wav_writes_the_audio_track(tmp_path):
  video = write_video(None, audio=sine(seconds=1.5))
  out = tmp_path / "a" / "clip.wav"
  media.extract_wav(video, str(out), name="clip.mp4")
  y, rate = read_audio(str(out))
  assert rate == 16000 and y.shape[0] == 1
  assert abs(y.shape[1] - 24000) <= 2048  # AAC priming / padding
  assert abs(_peak_hz(y[0], rate) - 1000) < 2
  import av  # pylint: disable=g-import-not-at-top
  with av.open(str(out)) as container:
    assert container.streams.audio[0].codec_context.name == "pcm_s16le"
  with pytest.raises(ValueError, match="silent.mp4 has no audio stream"):
    media.extract_wav(write_video(None), str(tmp_path / "x.wav"), name="silent.mp4")
  assert not (tmp_path / "x.wav").exists()


def test_mel_bank_over_a_band():
  bank = mel_filterbank(16000, 512, 80, 125.0, 7600.0)
  freqs = np.fft.rfftfreq(512, 1 / 16000)
  assert bank.shape == (80, 257)
  assert not bank[:, freqs <= 125].any() and not bank[:, freqs >= 7600].any()


def test_lws_window_and_framing():
  w = media._lws_window(512, 256)  # pylint: disable=protected-access
  np.testing.assert_allclose(w[:256] ** 2 + w[256:] ** 2, 1.0, atol=1e-12)  # overlap-adds to 1
  np.testing.assert_allclose(w, w[::-1], atol=1e-15)
  y = np.random.default_rng(0).standard_normal(1000)
  mag = media.lws_stft_magnitude(y, 512, 256)
  assert mag.shape == (math.ceil(1000 / 256) + 1, 257)
  # Frame m covers original samples [256 m - 256, 256 m + 256), zeros outside.
  padded = np.concatenate([np.zeros(256), y, np.zeros(5 * 256 + 512 - 256 - 1000)])
  for m in range(mag.shape[0]):
    expected = np.abs(np.fft.fft(padded[256 * m:256 * m + 512] * w)[:257])
    np.testing.assert_allclose(mag[m], expected, rtol=1e-9, atol=1e-9)


def _expected_features(y):
  """MMAction2's AudioTools pipeline written out from its constants, for a 16 kHz signal."""
  y = y * (0.1 / max(1e-4, np.sqrt(np.mean(y.astype(np.float64) ** 2))))
  hann = 0.5 * (1 - np.cos(2 * np.pi * np.arange(1, 1024, 2) / 1024))
  window = np.sqrt(hann)
  n = len(y)
  x = np.concatenate([np.zeros(256), y, np.zeros(-n % 256)])
  frames = len(x) // 256
  x = np.concatenate([x, np.zeros(256)])
  mag = np.stack([np.abs(np.fft.fft(x[256 * m:256 * m + 512] * window)[:257])
                  for m in range(frames)])
  mel = mel_filterbank(16000, 512, 80, 125.0, 7600.0) @ mag.T
  db = 20 * np.log10(np.maximum(1e-5, mel)) - 20
  return np.clip((db + 100) / 100, 0, 1).T


def _mel_centres(fmin=125.0, fmax=7600.0, n=80):
  """Slaney mel band centres: linear below 1 kHz (3 mels per 200 Hz), log above."""
  def to_mel(f):
    return f / (200 / 3) if f < 1000 else 15 + math.log(f / 1000) / (math.log(6.4) / 27)

  def to_hz(m):
    return m * 200 / 3 if m < 15 else 1000 * math.exp((m - 15) * math.log(6.4) / 27)
  return np.array([to_hz(m) for m in np.linspace(to_mel(fmin), to_mel(fmax), n + 2)[1:-1]])


def test_audio_features_of_a_sine(tmp_path):
  y = sine(1000.0, seconds=2.0)
  path = tmp_path / "tone.wav"
  write_wav(path, y, 16000)
  feats = media.audio_features(str(path))
  assert feats.dtype == np.float32 and feats.shape == (32000 // 256 + 1, 80)
  assert 0 <= feats.min() and feats.max() <= 1
  peak_band = int(np.argmin(np.abs(_mel_centres() - 1000)))
  assert set(feats[5:-5].argmax(axis=1)) == {peak_band}
  wav, _ = read_audio(str(path))  # the int16-rounded samples
  np.testing.assert_allclose(feats, _expected_features(wav[0]), atol=1e-5)
  loaded = LoadAudioFeature()({"audio_path": _save(tmp_path / "tone.npy", feats)})
  assert loaded["audios"].shape == feats.shape and loaded["length"] == feats.shape[0]


def _save(path, array):
  np.save(path, array)
  return str(path)


def test_audio_features_mix_down_and_resample(tmp_path):
  left = sine(1000.0, seconds=1.0, rate=44100)
  path = tmp_path / "stereo.wav"
  write_wav(path, np.stack([left, left]), 44100)
  feats = media.audio_features(str(path))
  assert feats.shape == (math.ceil(16000 / 256) + 1, 80)  # 16000 samples after resampling
  peak_band = int(np.argmin(np.abs(_mel_centres() - 1000)))
  assert set(feats[5:-5].argmax(axis=1)) == {peak_band}
