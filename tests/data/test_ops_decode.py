"""Video and array decoders on tiny videos written here with PyAV."""

from __future__ import annotations

import numpy as np
import pytest

from vjax.data import Compose, PIPELINES
from vjax.data.ops_decode import VideoDecodeError

av = pytest.importorskip("av")

NUM_FRAMES, H, W = 32, 48, 64
BACKENDS = ("PyAV", "Decord", "OpenCV")


def _source_frames() -> np.ndarray:
  """Smooth frames (they survive compression) that differ in level: frame i has green 10 + 7i.

  Red ramps across the width and blue is fixed, so a BGR/RGB swap is visible.
  """
  frames = np.empty((NUM_FRAMES, H, W, 3), np.uint8)
  frames[..., 0] = np.linspace(0, 255, W, dtype=np.uint8)
  frames[..., 1] = (10 + 7 * np.arange(NUM_FRAMES, dtype=np.uint8))[:, None, None]
  frames[..., 2] = 60
  return frames


def _write(path, frames, codec="mpeg4"):
  with av.open(str(path), "w") as container:
    stream = container.add_stream(codec, rate=25)
    stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
    stream.bit_rate = 4_000_000  # Near-lossless, so each decoded frame is nearest its source.
    for f in frames:
      container.mux(stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
    container.mux(stream.encode())


@pytest.fixture(scope="module", params=["mpeg4", "libx264"])
def video(request, tmp_path_factory):
  if request.param not in av.codecs_available:
    pytest.skip(f"PyAV has no {request.param} encoder")
  path = tmp_path_factory.mktemp("video") / f"clip_{request.param}.mp4"
  _write(path, _source_frames(), request.param)
  return str(path)


def _decode(backend, filename, inds, **decode_kw):
  r = PIPELINES.build(dict(type=f"{backend}Init"))(dict(filename=filename, start_index=0))
  r["frame_inds"] = np.asarray(inds)
  return PIPELINES.build(dict(type=f"{backend}Decode", **decode_kw))(r)


def _nearest_source(imgs) -> np.ndarray:
  """For each decoded frame, the index of the source frame it is closest to."""
  src = _source_frames().astype(np.float32)
  dist = np.abs(imgs.astype(np.float32)[:, None] - src[None]).mean(axis=(2, 3, 4))
  return dist.argmin(axis=1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_decoders_return_exactly_the_sampled_rgb_frames(video, backend):
  inds = [0, 5, 5, 31, 12, 1]
  init = PIPELINES.build(dict(type=f"{backend}Init"))(dict(filename=video, start_index=0))
  assert init["total_frames"] == NUM_FRAMES and init["video_reader"] is not None
  out = _decode(backend, video, inds)
  assert out["imgs"].shape == (len(inds), H, W, 3) and out["imgs"].dtype == np.uint8
  assert out["original_shape"] == out["img_shape"] == (H, W)
  assert out["video_reader"] is None
  np.testing.assert_array_equal(_nearest_source(out["imgs"]), inds)
  # RGB order: red ramps 0 -> 255 left to right, blue stays ~60.
  red, blue = out["imgs"][..., 0].astype(int), out["imgs"][..., 2].astype(int)
  assert red[:, :, -4:].mean() > 200 and red[:, :, :4].mean() < 40
  assert abs(blue.mean() - 60) < 8
  # Lossy, but close to the source.
  assert np.abs(out["imgs"].astype(int) - _source_frames()[inds]).mean() < 3


def test_decoders_agree(video):
  """All three wrap FFmpeg decoders: within 1 grey level on average, 16 at any pixel."""
  inds = np.array([3, 17, 30, 3])
  ref = _decode("PyAV", video, inds)["imgs"].astype(int)
  for backend in BACKENDS[1:]:
    diff = np.abs(_decode(backend, video, inds)["imgs"].astype(int) - ref)
    assert diff.mean() <= 1 and diff.max() <= 16, backend


@pytest.mark.parametrize("backend", ["PyAV", "Decord"])
def test_efficient_modes(video, backend):
  out = _decode(backend, video, [0, 9, 20], mode="efficient")
  assert out["imgs"].shape == (3, H, W, 3) and out["video_reader"] is None
  assert _nearest_source(out["imgs"])[0] == 0  # The others may snap to keyframes.
  with pytest.raises(ValueError, match="accurate"):
    PIPELINES.build(dict(type=f"{backend}Decode", mode="fast"))


def test_decoders_in_a_pipeline_with_start_index(video):
  pipe = Compose([dict(type="DecordInit"), dict(type="SampleFrames", clip_len=4, frame_interval=2,
                                                num_clips=1, test_mode=True),
                  dict(type="DecordDecode")])
  out = pipe(dict(filename=video, start_index=0, label=0))
  # avg = 32 - 8 + 1 = 25: offset int(12.5) = 12; frames 12, 14, 16, 18.
  np.testing.assert_array_equal(_nearest_source(out["imgs"]), [12, 14, 16, 18])


def test_header_overcount_falls_back_like_mmaction2(video):
  """A stream a frame or two shorter than its header: PyAV wraps, OpenCV repeats the last frame."""
  for backend, expect in (("PyAV", [31, 1]), ("OpenCV", [31, 31])):
    r = PIPELINES.build(dict(type=f"{backend}Init"))(dict(filename=video, start_index=0))
    r["total_frames"] = NUM_FRAMES + 2
    r["frame_inds"] = np.array([31, 33])
    out = PIPELINES.build(dict(type=f"{backend}Decode"))(r)
    np.testing.assert_array_equal(_nearest_source(out["imgs"]), expect)


@pytest.mark.parametrize("backend", ("Decord", "OpenCV"))
def test_out_of_range_indices(video, backend):
  with pytest.raises(IndexError, match=r"\[32\].*clip_"):
    _decode(backend, video, [0, 32])


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
  d = tmp_path_factory.mktemp("bad")
  (d / "random.mp4").write_bytes(np.random.default_rng(0).bytes(4096))
  _write(d / "whole.mp4", _source_frames())
  data = (d / "whole.mp4").read_bytes()
  (d / "half.mp4").write_bytes(data[:len(data) // 2])  # The index (moov) is at the end: lost.
  noisy = np.random.default_rng(1).integers(0, 256, (NUM_FRAMES, H, W, 3), dtype=np.uint8)
  _write(d / "whole.avi", noisy)  # Noise: the frames are spread evenly over the file.
  data = (d / "whole.avi").read_bytes()
  (d / "half.avi").write_bytes(data[:len(data) // 2])  # The header still says 32 frames.
  return d


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["random.mp4", "half.mp4"])
def test_corrupt_videos_name_the_file(bad_files, backend, name):
  path = str(bad_files / name)
  with pytest.raises(VideoDecodeError, match=f"{backend.replace('Decord', 'decord')}.*{name}"):
    PIPELINES.build(dict(type=f"{backend}Init"))(dict(filename=path, start_index=0))


@pytest.mark.parametrize("backend", BACKENDS)
def test_missing_video_names_the_file(tmp_path, backend):
  path = str(tmp_path / "nowhere.mp4")
  with pytest.raises(FileNotFoundError, match="nowhere.mp4"):
    PIPELINES.build(dict(type=f"{backend}Init"))(dict(filename=path, start_index=0))


def test_truncated_stream(bad_files):
  path = str(bad_files / "half.avi")
  for backend in ("PyAV", "OpenCV"):  # They trust the header's 32 frames ...
    assert _decode(backend, path, [0])["imgs"].shape == (1, H, W, 3)
    with pytest.raises(VideoDecodeError, match="half.avi.*truncated"):
      _decode(backend, path, [0, 30])
  # ... decord counts the frames that are there.
  r = PIPELINES.build(dict(type="DecordInit"))(dict(filename=path, start_index=0))
  assert 0 < r["total_frames"] < NUM_FRAMES


# ---------------------------------------------------------------------------------- ArrayDecode

def test_array_decode_rgb_flow_offsets():
  array = np.random.default_rng(0).random((10, 4, 5, 3)).astype(np.float32)
  op = PIPELINES.build(dict(type="ArrayDecode"))
  out = op(dict(array=array, modality="RGB", start_index=0, frame_inds=np.array([[2, 9], [2, 0]])))
  np.testing.assert_array_equal(out["imgs"], array[[2, 9, 2, 0]])
  assert out["imgs"].dtype == np.float32 and out["img_shape"] == out["original_shape"] == (4, 5)
  assert out["frame_inds"].shape == (4,)
  out = op(dict(array=array, modality="Flow", start_index=1, offset=2, frame_inds=np.array([1, 3])))
  np.testing.assert_array_equal(out["imgs"], array[[2, 4], ..., :2])
  with pytest.raises(IndexError, match=r"\[10\]"):
    op(dict(array=array, modality="RGB", start_index=0, frame_inds=np.array([10])))
  with pytest.raises(NotImplementedError):
    op(dict(array=array, modality="Audio", start_index=0, frame_inds=np.array([1])))


def test_pyav_accurate_decodes_only_what_it_needs_and_matches_a_full_decode(tmp_path):
  # h264 with (non-reference) B-frames and a keyframe every 8 frames: runs of sampled frames start from the
  # keyframe before them, later keyframes are reached by seeking, non-reference frames that
  # are not sampled are skipped. Frames must equal a sequential decode from frame 0.
  if "libx264" not in av.codecs_available:
    pytest.skip("PyAV has no libx264 encoder")
  path = tmp_path / "gop8.mp4"
  with av.open(str(path), "w") as container:
    stream = container.add_stream("libx264", rate=25,
                                  options={"x264-params": "keyint=8:min-keyint=8:scenecut=0:"
                                                          "bframes=3:b-adapt=0:b-pyramid=none"})
    stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
    for f in _source_frames():
      container.mux(stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
    container.mux(stream.encode())
  from vjax.data.ops_decode import PyAVDecode, _pyav_frame_table, _pyav_rgb
  with av.open(str(path)) as c:
    table = _pyav_frame_table(c, c.streams.video[0])
    assert table is not None and len(table[0]) == NUM_FRAMES and len(table[1]) == 4
    # The encoder made non-reference frames, so skipping has something to skip.
    c.seek(0)
    nonref = sum(1 for p in c.demux(c.streams.video[0]) if p.size and
                 not any(b >> 5 & 3 for b in _nal_headers(bytes(p))))
    assert nonref > 0
    full, n = PyAVDecode._decode_upto(c, set(range(NUM_FRAMES)), _pyav_rgb())
  assert n == NUM_FRAMES
  for inds in ([3, 5, 7], [0, 1, 30, 31], [9, 26], [31, 2, 17, 17], list(range(0, 32, 2)),
               [33, 34]):  # the last wraps: a stream of 32 frames, as MMAction2
    out = _decode("PyAV", str(path), inds)["imgs"]
    np.testing.assert_array_equal(out, np.stack([full[i % NUM_FRAMES] for i in inds]))
  assert _decode("PyAV", str(path), [33])["frame_inds"].tolist() == [33]


def _nal_headers(sample: bytes):
  """First byte of each NAL unit of a length-prefixed (AVCC, 4-byte) h264 sample."""
  i = 0
  while i + 4 < len(sample):
    size = int.from_bytes(sample[i:i + 4], "big")
    yield sample[i + 4]
    i += 4 + size


@pytest.mark.parametrize("multi_thread", [False, True])
def test_pyav_decoder_threads(video, monkeypatch, multi_thread):
  # Loader workers already use every core: PyAV's default (a slice thread per core) only adds
  # CPU time on single-slice streams, so PyAVDecode decodes in one thread unless multi_thread.
  from vjax.data import ops_decode
  seen = []
  real = ops_decode._pyav_decode_indexed

  def spy(container, stream, *args, **kwargs):
    seen.append((stream.codec_context.thread_count, str(stream.thread_type)))
    return real(container, stream, *args, **kwargs)

  monkeypatch.setattr(ops_decode, "_pyav_decode_indexed", spy)
  inds = [1, 5, 6, 20]
  out = _decode("PyAV", video, inds, multi_thread=multi_thread)["imgs"]
  np.testing.assert_array_equal(out, _decode("Decord", video, inds)["imgs"])
  count, kind = seen[0]
  if multi_thread:
    assert count != 1 and "AUTO" in kind.upper()
  else:
    assert count == 1
