"""Media transforms shared by the data-preparation tools (``vjax.tools.build_rawframes`` and
friends) and the TFDS builders: decode a video, resize and JPEG-encode its frames, compute
and quantise optical flow, re-encode it, write frames back to a video, extract its audio and
turn audio into MMAction2's offline spectrogram features.

A video is a path or its bytes (decoded from memory, named by ``name`` in errors). Decoding
is PyAV's sequential decode with one swscale context per video; a file PyAV cannot open or
decode raises ``VideoDecodeError`` naming it, a missing file ``FileNotFoundError``.

MMAction2 0.24.1 did this with external programs: denseflow (frames and flow, OpenCV
inside), ffmpeg (resizing, audio, frames -> video) and librosa + lws (spectrograms). What
each function mirrors, and where it differs, is in its docstring.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fractions
import functools
import io
import itertools
import math
import os
import os.path as osp
import tempfile
from typing import Iterable, Iterator

import cv2
import numpy as np

from vjax.data.ops_audio import mel_filterbank, read_audio, resample
from vjax.data.ops_decode import (VideoDecodeError, _check_not_truncated, _open_video,
                                  _pyav_open, _pyav_rgb)

# Timestamps within this many seconds of a window edge count as on it (float seconds vs
# the stream's rational time base).
_TIME_EPS = 1e-6


@dataclasses.dataclass(frozen=True)
class VideoMeta:
  """What ``probe`` reads from a video's header and first frame."""
  fps: float
  num_frames: int
  height: int
  width: int
  has_audio: bool


# ------------------------------------------------------------------------------- decoding
def _label(path_or_bytes, name: str | None) -> tuple[str, bytes | None]:
  """(the path, or the name errors use for in-memory data; the data or None)."""
  if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
    return name or "<video bytes>", bytes(path_or_bytes)
  return os.fspath(path_or_bytes), None


def _open(path_or_bytes, name: str | None):
  """(open PyAV container, the header's frame count, label); errors name the video."""
  label, data = _label(path_or_bytes, name)
  container, total = _open_video(label, "PyAV", _pyav_open, data)
  stream = container.streams.video[0]
  stream.thread_type = "AUTO"  # as the ffmpeg command line does
  return container, total, label


def _rate(stream) -> fractions.Fraction:
  rate = stream.average_rate or stream.guessed_rate
  if not rate:
    raise ValueError("the video stream has no frame rate")
  return fractions.Fraction(rate)


def _frames(container, label: str, start: float | None, end: float | None):
  """The decoded PyAV frames of the first video stream in display order, only those whose
  time since the stream's start lies in [start, end) when those are given; decoding
  failures become ``VideoDecodeError`` naming ``label``."""
  stream = container.streams.video[0]
  origin = stream.start_time or 0
  if start is not None and start > 0:  # jump to the keyframe before `start`
    try:
      container.seek(origin + int(start / stream.time_base), stream=stream, backward=True,
                     any_frame=False)
    except Exception as e:  # pylint: disable=broad-except
      raise VideoDecodeError(f"PyAV cannot seek to {start} s in {label}: {e}") from e
  decoded = container.decode(stream)
  while True:
    try:
      frame = next(decoded)
    except StopIteration:
      return
    except Exception as e:  # pylint: disable=broad-except  # PyAV raises many types.
      raise VideoDecodeError(f"PyAV failed to decode {label}: {e}") from e
    if start is not None or end is not None:
      if frame.pts is None:
        raise VideoDecodeError(f"{label} has frames without timestamps; cannot cut "
                               f"[{start}, {end}) s out of it")
      t = float((frame.pts - origin) * stream.time_base)
      if start is not None and t < start - _TIME_EPS:
        continue
      if end is not None and t >= end - _TIME_EPS:
        return
    yield frame


def _all_frames(container, total: int, label: str, start, end):
  """``_frames``; a whole-video decode that ends far short of the header's frame count is
  reported as truncated (``max_missing_tail`` in ops_decode), after the frames it got."""
  n = 0
  for frame in _frames(container, label, start, end):
    n += 1
    yield frame
  if n == 0:
    raise VideoDecodeError(f"{label} has no decodable frames"
                           + ("" if start is None and end is None else
                              f" in [{start}, {end}) s"))
  if start is None and end is None:
    try:
      _check_not_truncated(n, total)
    except VideoDecodeError as e:
      raise VideoDecodeError(f"{label}: {e}") from None


def probe(path_or_bytes, *, name: str | None = None) -> VideoMeta:
  """The frame rate, frame count (the container's; packets are counted when it has none),
  size and whether there is an audio stream. The first frame is decoded, so a file whose
  header parses but whose stream does not decode is reported here, not halfway through a
  build; its size is the decoded one."""
  container, total, label = _open(path_or_bytes, name)
  with container:
    stream = container.streams.video[0]
    first = next(_frames(container, label, None, None), None)
    if first is None:
      raise VideoDecodeError(f"{label} has no decodable frames")
    try:
      fps = float(_rate(stream))
    except ValueError as e:
      raise VideoDecodeError(f"{label}: {e}") from None
    return VideoMeta(fps=fps, num_frames=int(total), height=first.height, width=first.width,
                     has_audio=bool(container.streams.audio))


def iter_frames(path_or_bytes, *, start: float | None = None, end: float | None = None,
                name: str | None = None) -> Iterator[np.ndarray]:
  """Every frame in display order as RGB uint8 (H, W, 3), or only those whose time since
  the start of the stream lies in [start, end) seconds (decoding from the keyframe before
  ``start``).

  Frames come as they are decoded, so a consumer holds one at a time. A stream that ends
  far short of its header's frame count raises ``VideoDecodeError`` after its last frame.
  """
  container, total, label = _open(path_or_bytes, name)
  to_rgb = _pyav_rgb()
  with container:
    for frame in _all_frames(container, total, label, start, end):
      yield to_rgb(frame)


# --------------------------------------------------------------------- frames and flow
def _c_round(x: float) -> int:
  """C's ``round`` (halves away from zero), which denseflow sizes frames with."""
  return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def resized_size(height: int, width: int, *, short_side: int | None = None,
                 size: tuple[int, int] | None = None) -> tuple[int, int]:
  """(h, w) a frame is resized to, as denseflow sizes it for MMAction2's build_rawframes.

  ``short_side`` (``--new-short``): a short side longer than it is scaled down to it, the
  long side to ``round(long / short * short_side)``; a frame already that small keeps its
  size (denseflow never enlarges). ``size=(w, h)`` (``--new-width/--new-height``): exactly
  that size; a 0 in it is derived from the other keeping the aspect ratio; (0, 0) keeps the
  size. Neither: unchanged. MMAction2's ``--use-opencv`` route sizes differently (it floors
  and enlarges); ``vjax.tools.build_rawframes`` follows it there.
  """
  if min(height, width) <= 0:
    raise ValueError(f"resized_size: frame size {height}x{width} is not positive")
  if short_side and size is not None and any(size):
    raise ValueError(f"resized_size: give short_side ({short_side}) or size ({size}), "
                     "not both")
  if size is not None:
    new_w, new_h = (int(v) for v in size)
    if new_w < 0 or new_h < 0:
      raise ValueError(f"resized_size: size {size} must not be negative")
    if new_w and new_h:
      return new_h, new_w
    if new_w:
      return _c_round(height * 1.0 / width * new_w), new_w
    if new_h:
      return new_h, _c_round(width * 1.0 / height * new_h)
    return height, width
  if short_side is not None and short_side < 0:
    raise ValueError(f"resized_size: short_side {short_side} must not be negative")
  if short_side and min(height, width) > short_side:
    if width < height:
      return _c_round(height * 1.0 / width * short_side), short_side
    return short_side, _c_round(width * 1.0 / height * short_side)
  return height, width


def resize(frame: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
  """``frame`` resized to ``hw = (h, w)`` with cv2.INTER_LINEAR (bilinear): what denseflow
  (``cv::resize``'s default) and mmcv.imresize (default 'bilinear', MMAction2's
  ``--use-opencv`` route) use, so the same pixels for the same decoded frame. The frame
  itself when it already has that size."""
  h, w = (int(v) for v in hw)
  if frame.shape[:2] == (h, w):
    return frame
  return cv2.resize(frame, (w, h), interpolation=cv2.INTER_LINEAR)


def encode_jpeg(frame_rgb: np.ndarray, quality: int = 95) -> bytes:
  """An RGB (H, W, 3) or grayscale (H, W) uint8 frame as JPEG bytes. 95 is OpenCV's
  default quality, which denseflow (``cv::imencode``) and mmcv.imwrite write MMAction2's
  rawframes with; so is the 4:2:0 chroma subsampling."""
  frame = np.asarray(frame_rgb)
  if frame.dtype != np.uint8 or not (frame.ndim == 2 or (frame.ndim == 3 and
                                                         frame.shape[2] == 3)):
    raise ValueError(f"encode_jpeg: expected uint8 (H, W, 3) or (H, W), got {frame.dtype} "
                     f"{frame.shape}")
  img = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
  ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
  if not ok:
    raise ValueError(f"encode_jpeg: OpenCV could not encode a {frame.shape} frame")
  return buf.tobytes()


def quantize_flow(flow: np.ndarray, bound: float = 20) -> np.ndarray:
  """(H, W, 2) float flow -> uint8 as denseflow stores it: clipped to [-bound, bound] and
  mapped linearly onto 0..255, rounded half to even (``cvRound``), so -bound, 0 and
  +bound become 0, 128 and 255. (MMAction2's CPU ``flow_extraction.py`` truncates
  instead, putting 0 at 127.)"""
  if bound <= 0:
    raise ValueError(f"quantize_flow: bound must be > 0, got {bound}")
  v = np.clip(np.asarray(flow, np.float64), -bound, bound)
  return np.rint(255.0 * (v + bound) / (2.0 * bound)).astype(np.uint8)


def flow_to_jpegs(flow: np.ndarray, bound: float = 20) -> tuple[bytes, bytes]:
  """(flow_x JPEG, flow_y JPEG): the two grayscale images of ``quantize_flow``, encoded at
  OpenCV's default quality as denseflow encodes them."""
  flow = np.asarray(flow)
  if flow.ndim != 3 or flow.shape[2] != 2:
    raise ValueError(f"flow_to_jpegs: expected flow of shape (H, W, 2), got {flow.shape}")
  q = quantize_flow(flow, bound)
  return encode_jpeg(np.ascontiguousarray(q[..., 0])), encode_jpeg(np.ascontiguousarray(q[..., 1]))


# denseflow's flow algorithms are OpenCV's CUDA ones at their defaults; Farneback's CPU
# version takes the same parameters (cv::cuda::FarnebackOpticalFlow::create's defaults).
_FARNEBACK = dict(pyr_scale=0.5, levels=5, winsize=13, iterations=10, poly_n=5,
                  poly_sigma=1.1, flags=0)
FLOW_METHODS = ("farn", "tvl1")


def _gray(frame: np.ndarray) -> np.ndarray:
  return frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


@functools.lru_cache(maxsize=1)
def _tvl1():
  if not hasattr(cv2, "optflow"):
    raise ImportError(
        "optical_flow(method='tvl1') needs OpenCV's contrib modules (cv2.optflow), which "
        f"opencv-python-headless lacks: pip install opencv-contrib-python-headless=="
        f"{cv2.__version__} (it replaces opencv-python-headless), or use method='farn'")
  return cv2.optflow.DualTVL1OpticalFlow_create()


def optical_flow(prev_rgb: np.ndarray, next_rgb: np.ndarray, method: str = "farn") -> np.ndarray:
  """float32 (H, W, 2) flow from ``prev`` to ``next`` (RGB (H, W, 3) or grayscale (H, W)
  uint8 frames), computed on grayscale as denseflow does.

  'farn': cv2.calcOpticalFlowFarneback with the parameters denseflow's CUDA Farneback
  defaults to. 'tvl1': OpenCV contrib's CPU Dual TV-L1 at its defaults (denseflow runs the
  CUDA one: same model, CPU and GPU solvers differ in detail, so values differ slightly).
  denseflow's 'brox' and 'nv' exist only on CUDA.
  """
  if method not in FLOW_METHODS:
    raise ValueError(f"optical_flow: method must be one of {FLOW_METHODS} (denseflow's "
                     f"'brox' and 'nv' are CUDA-only), got {method!r}")
  prev, nxt = _gray(prev_rgb), _gray(next_rgb)
  if prev.shape != nxt.shape:
    raise ValueError(f"optical_flow: frames differ in size: {prev.shape} vs {nxt.shape}")
  if method == "farn":
    f = _FARNEBACK
    return cv2.calcOpticalFlowFarneback(prev, nxt, None, f["pyr_scale"], f["levels"],
                                        f["winsize"], f["iterations"], f["poly_n"],
                                        f["poly_sigma"], f["flags"])
  return _tvl1().calc(prev, nxt, None)


# ------------------------------------------------------------------------------ encoding
@functools.lru_cache(maxsize=None)
def _has_encoder(codec: str) -> bool:
  import av  # pylint: disable=g-import-not-at-top
  try:
    av.Codec(codec, "w")
    return True
  except Exception:  # pylint: disable=broad-except  # av raises UnknownCodecError etc.
    return False


@functools.lru_cache(maxsize=None)
def _default_bit_rate(codec: str) -> int:
  import av  # pylint: disable=g-import-not-at-top
  return av.CodecContext.create(codec, "w").bit_rate or 0


def default_codec() -> str:
  """'h264' (libx264, as MMAction2's resize_videos uses) when this PyAV build can encode
  it, else 'mpeg4'."""
  return "h264" if _has_encoder("h264") else "mpeg4"


@contextlib.contextmanager
def atomic_output(path: str):
  """Yields a temporary path beside ``path`` with the same extension; renames it onto
  ``path`` when the block succeeds and removes it when it fails, so an interrupted write
  never leaves a file that looks finished."""
  directory = osp.dirname(osp.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(prefix=".partial-", suffix=osp.splitext(path)[1], dir=directory)
  os.close(fd)
  try:
    yield tmp
    os.replace(tmp, path)
  except BaseException:
    with contextlib.suppress(OSError):
      os.remove(tmp)
    raise


def _fraction_rate(fps) -> fractions.Fraction:
  rate = fractions.Fraction(fps).limit_denominator(1001 * 1000)
  if rate <= 0:
    raise ValueError(f"fps must be > 0, got {fps}")
  return rate


class _Encoder:
  """Encodes yuv420p PyAV frames into an open output container, creating the stream at the
  first frame's size."""

  def __init__(self, container, codec: str, rate: fractions.Fraction, gop_size: int | None):
    self.container, self.codec, self.rate, self.gop_size = container, codec, rate, gop_size
    self.stream = None

  def encode(self, frame, pts: int) -> None:
    if self.stream is None:
      self.stream = self.container.add_stream(self.codec, rate=self.rate)
      self.stream.width, self.stream.height = frame.width, frame.height
      # PyAV zeroes the bit rate; ffmpeg keeps the codec's default (mpeg4: 200 kb/s).
      self.stream.codec_context.bit_rate = _default_bit_rate(self.codec)
      self.stream.pix_fmt = "yuv420p"
      if self.gop_size:
        self.stream.codec_context.gop_size = self.gop_size
    frame.pts = pts
    frame.time_base = 1 / self.rate
    frame.pict_type = 0  # AV_PICTURE_TYPE_NONE: a decoded keyframe must not force one here
    for packet in self.stream.encode(frame):
      self.container.mux(packet)

  def close(self) -> None:
    if self.stream is not None:
      for packet in self.stream.encode(None):
        self.container.mux(packet)


def ffmpeg_scaled_size(height: int, width: int, *, short_side: int | None = None,
                       size: tuple[int, int] | None = None) -> tuple[int, int]:
  """(h, w) that MMAction2's resize_videos asks ffmpeg for: ``short_side`` S becomes
  ``scale=-2:S`` (wider than tall) or ``scale=S:-2``, whose other side ffmpeg rounds to the
  nearest even number (``av_rescale(S, long, 2 * short) * 2``); enlarging too.
  ``size=(w, h)``: exactly that. Neither: unchanged."""
  if short_side and size is not None:
    raise ValueError(f"give short_side ({short_side}) or size ({size}), not both")
  if size is not None:
    w, h = (int(v) for v in size)
    if w <= 0 or h <= 0:
      raise ValueError(f"size {size} must be positive (w, h)")
    return h, w
  if not short_side:
    return height, width
  s = int(short_side)
  if width > height:
    return s, (s * width + height) // (2 * height) * 2
  return (s * height + width) // (2 * width) * 2, s


# mpdecimate's defaults (ffmpeg's vf_mpdecimate.c): an 8x8 block differs "much" above a sum
# of absolute differences of 64*12, "a little" above 64*5; a frame is a duplicate of the
# last kept one when no block of any plane differs much and at most 33% (of the number of
# 16x16 blocks) differ a little.
_DUP_HI, _DUP_LO, _DUP_FRAC = 64 * 12, 64 * 5, np.float32(0.33)


def _planes(frame) -> list[np.ndarray]:
  """The Y, U, V planes of a yuv420p PyAV frame as uint8 arrays, without padding."""
  return [np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)[:, :p.width]
          for p in frame.planes]


def _plane_differs(cur: np.ndarray, ref: np.ndarray) -> bool:
  """mpdecimate's test on one plane: 8x8 SADs at every 4th row from 0 and every 4th
  column from 8."""
  h, w = cur.shape
  d = np.abs(cur.astype(np.int32) - ref.astype(np.int32))
  integral = np.pad(d.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
  ys, xs = np.arange(0, h - 7, 4)[:, None], np.arange(8, w - 7, 4)[None, :]
  sad = (integral[ys + 8, xs + 8] - integral[ys, xs + 8] - integral[ys + 8, xs]
         + integral[ys, xs])
  allowed = int(np.float32((w // 16) * (h // 16)) * _DUP_FRAC)
  return bool((sad > _DUP_HI).any() or (sad > _DUP_LO).sum() > allowed)


def _is_duplicate(cur: list[np.ndarray], ref: list[np.ndarray]) -> bool:
  return not any(_plane_differs(c, r) for c, r in zip(cur, ref))


def _fps_graph(stream, rate: fractions.Fraction):
  """A libavfilter graph running ffmpeg's ``fps`` filter: frames dropped or repeated onto a
  constant ``rate`` (what ``ffmpeg -r`` does to the output)."""
  import av  # pylint: disable=g-import-not-at-top
  graph = av.filter.Graph()
  src = graph.add_buffer(template=stream)
  fps = graph.add("fps", f"fps={rate.numerator}/{rate.denominator}")
  sink = graph.add("buffersink")
  src.link_to(fps)
  fps.link_to(sink)
  graph.configure()
  return graph


def _pull_all(graph) -> list:
  import av  # pylint: disable=g-import-not-at-top
  out = []
  while True:
    try:
      out.append(graph.pull())
    except (av.error.BlockingIOError, av.error.EOFError):
      return out


def _resampled(frames, stream, rate: fractions.Fraction):
  """(frame, index) of the ``fps`` filter's output."""
  graph, n = _fps_graph(stream, rate), 0
  for frame in itertools.chain(frames, [None]):  # None drains the filter
    graph.push(frame)
    for out in _pull_all(graph):
      yield out, n
      n += 1


def _deduplicated(frames, stream, rate: fractions.Fraction):
  """(frame, pts in 1 / rate) of the frames mpdecimate keeps, at their source times."""
  from av.video.reformatter import VideoReformatter  # pylint: disable=g-import-not-at-top
  as_yuv, kept, last = VideoReformatter(), None, -1
  origin = stream.start_time or 0
  for frame in frames:
    planes = _planes(as_yuv.reformat(frame, format="yuv420p"))
    if kept is not None and _is_duplicate(planes, kept):
      continue
    kept = [p.copy() for p in planes]
    pts = (round((frame.pts - origin) * stream.time_base * rate) if frame.pts is not None
           else last + 1)
    last = max(pts, last + 1)
    yield frame, last


def reencode_video(path_or_bytes, *, short_side: int | None = None,
                   size: tuple[int, int] | None = None, dense: bool = True,
                   start: float | None = None, end: float | None = None,
                   codec: str | None = None, fps: float | None = None,
                   remove_dup: bool = False, container: str = "mp4",
                   name: str | None = None) -> bytes:
  """The video re-encoded (no audio), as the bytes of a ``container`` file ('mp4', 'avi',
  'matroska'): MMAction2's resize_videos (``ffmpeg -vf scale=... -c:v libx264
  [-g 16] -an``).

  Size: ``ffmpeg_scaled_size`` (``short_side`` as ``--scale``: ffmpeg's even rounding, which
  also enlarges), scaled with swscale's bicubic filter as ffmpeg's scale filter does; frames
  are stored yuv420p. ``dense=True`` (``--dense``): a keyframe at least every 16 frames
  (``-g 16``), so a reader seeking to any frame decodes at most 15 others first; False keeps
  the encoder's default (250 for libx264). ``codec``: default ``default_codec()``; the
  encoder otherwise runs at its defaults (libx264: CRF 23, preset medium), as ffmpeg does.

  Every frame in [start, end) s is kept, with constant timestamps at the source's average
  frame rate; ``fps`` instead resamples onto that rate with ffmpeg's ``fps`` filter (frames
  dropped or repeated). ``remove_dup`` (``--remove-dup``: ``mpdecimate`` with ``-vsync
  vfr``) drops frames that barely differ from the last kept one, by mpdecimate's default
  thresholds, and keeps the source timestamps of the others (re-implemented in numpy: the
  PyAV wheels' FFmpeg lacks the GPL-only mpdecimate). ``fps`` and ``remove_dup`` exclude
  each other.
  """
  import av  # pylint: disable=g-import-not-at-top
  from av.video.reformatter import VideoReformatter  # pylint: disable=g-import-not-at-top
  if fps is not None and remove_dup:
    raise ValueError("reencode_video: fps resampling would put back the duplicates "
                     "remove_dup drops; give one of them")
  ffmpeg_scaled_size(2, 2, short_side=short_side, size=size)  # bad sizes fail before decoding
  codec = codec or default_codec()
  source, total, label = _open(path_or_bytes, name)
  buf = io.BytesIO()
  with source:
    stream = source.streams.video[0]
    try:
      rate = _fraction_rate(fps) if fps is not None else _rate(stream)
    except ValueError as e:
      raise VideoDecodeError(f"{label}: {e}") from None
    frames = _all_frames(source, total, label, start, end)
    if fps is not None:
      timed = _resampled(frames, stream, rate)
    elif remove_dup:
      timed = _deduplicated(frames, stream, rate)
    else:
      timed = ((frame, n) for n, frame in enumerate(frames))
    scaler, hw = VideoReformatter(), None
    try:
      with av.open(buf, "w", format=container) as output:
        encoder = _Encoder(output, codec, rate, 16 if dense else None)
        for frame, pts in timed:
          if hw is None:
            hw = ffmpeg_scaled_size(frame.height, frame.width, short_side=short_side,
                                    size=size)
          encoder.encode(scaler.reformat(frame, width=hw[1], height=hw[0], format="yuv420p",
                                         interpolation="BICUBIC"), pts)
        encoder.close()
    except VideoDecodeError:
      raise
    except Exception as e:  # pylint: disable=broad-except  # encoder / muxer errors
      raise ValueError(f"reencode_video: encoding {label} with {codec} into {container} "
                       f"failed: {type(e).__name__}: {e}") from e
  return buf.getvalue()


def frames_to_video(frames: Iterable[np.ndarray], path: str, fps: float,
                    codec: str | None = None) -> None:
  """Writes RGB uint8 (H, W, 3) frames, all one size, to the video file ``path`` at a
  constant ``fps`` (container from the extension; stored yuv420p; codec default
  ``default_codec()``; the encoder at its defaults, as ffmpeg runs it for MMAction2's
  build_videos). Written beside ``path`` and renamed into place when complete."""
  import av  # pylint: disable=g-import-not-at-top
  from av.video.reformatter import VideoReformatter  # pylint: disable=g-import-not-at-top
  codec = codec or default_codec()
  rate = _fraction_rate(fps)
  to_yuv = VideoReformatter()
  n, shape = 0, None
  with atomic_output(path) as tmp:
    with av.open(tmp, "w") as output:
      encoder = _Encoder(output, codec, rate, None)
      for frame in frames:
        frame = np.asarray(frame)
        if shape is None:
          shape = frame.shape
        if frame.shape != shape or frame.dtype != np.uint8 or frame.ndim != 3:
          raise ValueError(f"frames_to_video: frame {n} is {frame.dtype} {frame.shape}; "
                           f"expected uint8 {shape} RGB like frame 0 ({path})")
        rgb = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        encoder.encode(to_yuv.reformat(rgb, format="yuv420p"), n)
        n += 1
      if n == 0:
        raise ValueError(f"frames_to_video: no frames to write to {path}")
      encoder.close()


# --------------------------------------------------------------------------------- audio
def extract_wav(path_or_bytes, out_path: str, *, name: str | None = None) -> None:
  """Writes the first audio stream as 16-bit PCM WAV at its own sample rate and channel
  layout: ``ffmpeg -i VIDEO -map 0:a OUT.wav`` (MMAction2's extract_audio; ffmpeg's WAV
  default codec is pcm_s16le). ValueError naming the video when it has no audio stream
  or cannot be decoded. Written beside ``out_path`` and renamed into place."""
  import av  # pylint: disable=g-import-not-at-top
  label, data = _label(path_or_bytes, name)
  if data is None and not osp.isfile(label):
    raise FileNotFoundError(f"Video file {label} not found")
  try:
    source = av.open(io.BytesIO(data) if data is not None else label)
  except Exception as e:  # pylint: disable=broad-except
    raise ValueError(f"cannot open {label}: {e}") from e
  with source:
    if not source.streams.audio:
      raise ValueError(f"{label} has no audio stream")
    stream = source.streams.audio[0]
    with atomic_output(out_path) as tmp:
      with av.open(tmp, "w", format="wav") as output:
        ostream = None
        try:
          for frame in source.decode(stream):
            if ostream is None:
              ostream = output.add_stream("pcm_s16le", rate=frame.sample_rate,
                                          layout=frame.layout)
            frame.pts = None
            for packet in ostream.encode(frame):
              output.mux(packet)
        except Exception as e:  # pylint: disable=broad-except
          raise ValueError(f"cannot decode the audio of {label}: {e}") from e
        if ostream is None:
          raise ValueError(f"the audio stream of {label} holds no samples")
        for packet in ostream.encode(None):
          output.mux(packet)


# MMAction2's build_audio_features (its AudioTools at fft_size=512, hop_size=256 and the
# other defaults; after deepvoice3's audio code): 16 kHz mono, RMS-normalised to 0.1, an
# lws STFT (32 ms window every 16 ms), 80 Slaney mel bands over 125..7600 Hz, magnitude in
# dB floored at -100 dB, minus a 20 dB reference, mapped from [-100, 0] dB onto [0, 1].
AUDIO_SAMPLE_RATE = 16000
_FFT_SIZE, _HOP_SIZE, _NUM_MELS, _FMIN, _FMAX = 512, 256, 80, 125.0, 7600.0
_MIN_LEVEL_DB, _REF_LEVEL_DB, _DESIRED_RMS, _RMS_EPS = -100, 20, 0.1, 1e-4


def _lws_window(fsize: int, fshift: int) -> np.ndarray:
  """lws's default analysis window: the square root of a half-sample-offset Hann window,
  normalised so that analysis x synthesis windows overlap-add to one."""
  awin = np.sqrt(0.5 * (1 - np.cos(2 * np.pi * np.arange(1, 2 * fsize, 2) / (2 * fsize))))
  q = -(-fsize // fshift)
  twin = np.concatenate([awin * awin, np.zeros(q * fshift - fsize)])
  norm = np.tile(twin.reshape(q, fshift).sum(axis=0), q)[:fsize]
  return np.sqrt(awin * (awin / norm))


def lws_stft_magnitude(y: np.ndarray, fsize: int, fshift: int) -> np.ndarray:
  """|STFT| (frames, 1 + fsize // 2) as ``lws.lws(fsize, fshift).stft`` frames it: zero
  padding of ``fsize - fshift`` before (for a shift dividing the window), enough after to
  end on a whole shift plus one more window, ``ceil(len / fshift) + 1`` frames for a
  dividing shift."""
  residual = fsize % fshift
  pre = fsize - fshift if residual == 0 else fsize - residual
  post = -len(y) % fshift
  x = np.concatenate([np.zeros(pre), np.asarray(y, np.float64), np.zeros(post)])
  num_frames = len(x) // fshift
  x = np.concatenate([x, np.zeros((num_frames - 1) * fshift + fsize - len(x))])
  frames = np.lib.stride_tricks.sliding_window_view(x, fsize)[::fshift][:num_frames]
  return np.abs(np.fft.rfft(frames * _lws_window(fsize, fshift), axis=-1))


def audio_features(path: str) -> np.ndarray:
  """float32 (frames, 80) in [0, 1]: MMAction2's build_audio_features spectrogram of an
  audio file (any format FFmpeg reads), the features ``LoadAudioFeature`` /
  ``AudioFeatureDataset`` read, 62.5 rows per second.

  Reading follows librosa.load(sr=16000): channels averaged, resampled with soxr 'HQ'
  (``ops_audio.read_audio`` / ``resample``; librosa < 0.10, which MMAction2's positional
  ``librosa.filters.mel`` call needs, resampled with resampy instead, so files not at
  16 kHz give slightly different values). Raises ``AudioDecodeError`` naming the file.
  """
  y, sr = read_audio(path)
  y = resample(y.mean(axis=0), sr, AUDIO_SAMPLE_RATE)
  rms = np.maximum(_RMS_EPS, np.sqrt(np.mean(y**2)))
  y = y * (_DESIRED_RMS / rms)
  magnitude = lws_stft_magnitude(y, _FFT_SIZE, _HOP_SIZE).T
  mel = np.dot(mel_filterbank(AUDIO_SAMPLE_RATE, _FFT_SIZE, _NUM_MELS, _FMIN, _FMAX), magnitude)
  min_level = np.exp(_MIN_LEVEL_DB / 20 * np.log(10))
  db = 20 * np.log10(np.maximum(min_level, mel)) - _REF_LEVEL_DB
  return np.clip((db - _MIN_LEVEL_DB) / -_MIN_LEVEL_DB, 0, 1).astype(np.float32).T
