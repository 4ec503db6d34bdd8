"""Decoders: turn ``frame_inds`` into an RGB uint8 ``imgs`` array, decoding only those frames.

Each decoder sets ``imgs`` (N, H, W, C), ``original_shape`` and ``img_shape``
(both ``(h, w)``), as MMAction2's do. Repeated indices are decoded once.

Video files: ``*Init`` opens ``results['filename']`` and sets ``video_reader``
and ``total_frames``; ``*Decode`` reads the sampled frames and drops the reader.
A missing file raises ``FileNotFoundError``; a file the backend cannot open or
decode raises ``VideoDecodeError``; both name the file, so the loader can count
and report the bad sample.
"""

from __future__ import annotations

import bisect
import contextlib
import io
import os.path as osp
import warnings

import cv2
import numpy as np

from vjax.data.ops_base import PIPELINES, get_imgs


class VideoDecodeError(ValueError):
  """A video file exists but its backend cannot open it or decode the sampled frames."""


def _check_disk(op: str, io_backend: str) -> None:
  if io_backend != "disk":
    raise NotImplementedError(f"{op}: io_backend={io_backend!r}; only 'disk' for now")


def _open_video(filename: str, backend: str, opener, data: bytes | None = None):
  """``opener(filename)``, or ``opener`` of the in-memory file ``data`` (a video stored in a
  TFDS record, named by ``filename`` in errors), with a missing or unreadable file reported
  by name."""
  if data is None and not osp.isfile(filename):
    raise FileNotFoundError(f"Video file {filename} not found")
  try:
    return opener(filename if data is None else io.BytesIO(data))
  except Exception as e:  # pylint: disable=broad-except  # Each backend raises its own types.
    raise VideoDecodeError(f"{backend} cannot open video {filename}: {e}") from e


@contextlib.contextmanager
def _decoding(results: dict, backend: str):
  """Re-raises any decoding failure as a ``VideoDecodeError`` naming the file."""
  try:
    yield
  except Exception as e:  # pylint: disable=broad-except  # Each backend raises its own types.
    raise VideoDecodeError(
        f"{backend} failed to decode frames of {results.get('filename')}: {e}") from e


def max_missing_tail(total_frames: int) -> int:
  """How many frames a stream may lack at its end before it counts as truncated.

  Container headers often promise a frame or two more than the stream holds;
  MMAction2's decoders paper over that (PyAV wraps indices, OpenCV repeats the
  last frame) and so do vjax's. A larger gap means a damaged file, which is
  reported instead of silently training on repeated frames.
  """
  return max(4, total_frames // 20)


def _check_not_truncated(decoded: int, total: int) -> None:
  if total - decoded > max_missing_tail(total):
    raise VideoDecodeError(f"the stream ends after {decoded} of the {total} frames its header "
                           "promises; the file is probably truncated")


def _frame_inds(results: dict) -> np.ndarray:
  inds = np.asarray(results["frame_inds"])
  if inds.ndim != 1:
    inds = inds.reshape(-1)
    results["frame_inds"] = inds
  return inds


def _gather(inds: np.ndarray, decode_one) -> np.ndarray:
  """Decodes each distinct index once and stacks frames in ``inds`` order."""
  unique, inverse = np.unique(inds, return_inverse=True)
  frames = [decode_one(int(i)) for i in unique]
  first = frames[0]
  if any(f.shape != first.shape for f in frames):
    shapes = sorted({f.shape for f in frames})
    raise ValueError(f"Decoded frames have different shapes {shapes}")
  return np.stack(frames)[inverse.reshape(-1)]


def _set_imgs(results: dict, imgs: np.ndarray) -> dict:
  results["imgs"] = imgs
  results["original_shape"] = imgs.shape[1:3]
  results["img_shape"] = imgs.shape[1:3]
  return results


def decode_jpeg_rgb(data, what: str = "image") -> np.ndarray:
  """Decodes JPEG/PNG bytes to an RGB uint8 array; raises ValueError naming ``what`` if corrupt."""
  img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
  if img is None:
    raise ValueError(f"Could not decode {what} ({len(data)} bytes)")
  return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def decode_gray(data, what: str = "image") -> np.ndarray:
  """Decodes JPEG/PNG bytes to a grayscale uint8 array (flow frames); ValueError if corrupt."""
  img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
  if img is None:
    raise ValueError(f"Could not decode {what} ({len(data)} bytes)")
  return img


def _warn_backend(op: str, backend: str) -> None:
  if backend not in ("cv2", None):
    warnings.warn(f"{op}: decoding_backend={backend!r} is not available in vjax; using cv2.")


@PIPELINES.register
class FrameBytesDecode:
  """Decodes the sampled frames of a TFDS record's ``frames_bytes`` (encoded JPEGs; for
  ``modality='Flow'``, (x, y) pairs of grayscale JPEGs stacked as 2 channels, as
  ``RawFrameDecode`` reads flow).

  ``frame_inds`` count from ``results['start_index']`` (0 for TFDS records).
  ``frames_bytes`` is dropped afterwards so later ops do not carry it along.
  """

  def __init__(self, decoding_backend="cv2"):
    _warn_backend("FrameBytesDecode", decoding_backend)
    self.decoding_backend = decoding_backend

  def __call__(self, results: dict, rng=None) -> dict:
    frames = results.pop("frames_bytes")
    inds = _frame_inds(results) - results.get("start_index", 0)
    n = len(frames)
    flow = results.get("modality", "RGB") == "Flow"

    def decode_one(i):
      if not 0 <= i < n:
        raise IndexError(f"Frame index {i} out of range for a video with {n} frames")
      if flow:
        return np.stack([decode_gray(frames[i][a], f"flow_{'xy'[a]} frame {i}")
                         for a in (0, 1)], axis=-1)
      return decode_jpeg_rgb(frames[i], f"frame {i}")

    return _set_imgs(results, _gather(inds, decode_one))

  def __repr__(self) -> str:
    return f"{type(self).__name__}(decoding_backend={self.decoding_backend!r})"


@PIPELINES.register
class RawFrameDecode:
  """Reads ``frame_dir/filename_tmpl.format(idx + offset)`` for each sampled index.

  RGB frames come back RGB; Flow reads ``filename_tmpl.format('x'|'y', idx)`` as
  grayscale and stacks x/y as 2 channels, (N, H, W, 2) (MMAction2 keeps a list of
  2N grayscale images and only stacks them in ``Normalize``).
  """

  def __init__(self, io_backend="disk", decoding_backend="cv2", **kwargs):
    if io_backend != "disk":
      raise NotImplementedError(f"RawFrameDecode: io_backend={io_backend!r}; only 'disk' for now")
    _warn_backend("RawFrameDecode", decoding_backend)
    self.io_backend = io_backend
    self.decoding_backend = decoding_backend
    self.kwargs = kwargs

  @staticmethod
  def _read(path: str, flag: int, start_index) -> np.ndarray:
    img = cv2.imread(path, flag)
    if img is None:
      if not osp.exists(path):
        raise FileNotFoundError(
            f"Frame file {path} not found. If only the first or last frame of a video is "
            f"missing, the dataset's start_index ({start_index}) is probably wrong "
            "(frames numbered from 0 need start_index=0, from 1 start_index=1).")
      raise ValueError(f"Could not decode frame file {path}")
    return img

  def __call__(self, results: dict, rng=None) -> dict:
    directory = results["frame_dir"]
    tmpl = results["filename_tmpl"]
    modality = results.get("modality", "RGB")
    offset = results.get("offset", 0)
    start_index = results.get("start_index")

    if modality == "RGB":
      def decode_one(i):
        path = osp.join(directory, tmpl.format(i + offset))
        return cv2.cvtColor(self._read(path, cv2.IMREAD_COLOR, start_index), cv2.COLOR_BGR2RGB)
    elif modality == "Flow":
      def decode_one(i):
        xy = [self._read(osp.join(directory, tmpl.format(a, i + offset)), cv2.IMREAD_GRAYSCALE,
                         start_index) for a in ("x", "y")]
        return np.stack(xy, axis=-1)
    else:
      raise NotImplementedError(f"RawFrameDecode: modality {modality!r}")
    return _set_imgs(results, _gather(_frame_inds(results), decode_one))

  def __repr__(self) -> str:
    return (f"{type(self).__name__}(io_backend={self.io_backend!r}, "
            f"decoding_backend={self.decoding_backend!r})")


def _pyav_open(filename: str):
  """An open PyAV container and its frame count (packets are counted when the header has none)."""
  import av  # pylint: disable=g-import-not-at-top
  container = av.open(filename)
  try:
    if not container.streams.video:
      raise ValueError("the file has no video stream")
    stream = container.streams.video[0]
    total = stream.frames
    if not total:  # Some containers do not store a frame count: count packets (no decoding).
      total = sum(1 for p in container.demux(stream) if p.size)
      container.seek(0)
    if total <= 0:
      raise ValueError("the video stream has no frames")
  except Exception:
    container.close()
    raise
  return container, total


def _pyav_rgb():
  """A PyAV frame -> RGB array converter with one swscale context for the whole video.

  ``frame.to_ndarray(format='rgb24')`` builds a new context for every frame,
  which costs more than decoding a small frame; the output is the same.
  """
  from av.video.reformatter import VideoReformatter  # pylint: disable=g-import-not-at-top
  reformatter = VideoReformatter()
  return lambda frame: reformatter.reformat(frame, format="rgb24").to_ndarray()


@PIPELINES.register
class PyAVInit:
  """Opens ``results['filename']`` with PyAV; sets ``video_reader`` and ``total_frames``."""

  def __init__(self, io_backend="disk", **kwargs):
    _check_disk("PyAVInit", io_backend)
    self.io_backend = io_backend
    self.kwargs = kwargs

  def __call__(self, results: dict, rng=None) -> dict:
    filename = results["filename"]
    container, total = _open_video(filename, "PyAV", _pyav_open, results.pop("video_bytes", None))
    results["video_reader"] = container
    results["total_frames"] = int(total)
    return results

  def __repr__(self) -> str:
    return f"{type(self).__name__}(io_backend={self.io_backend!r})"


def _pyav_frame_table(container, stream):
  """Display-order pts of every frame and the keyframes' pts, from one demux pass (packets
  only, no decoding), or None when pts are missing or repeated (then frames are counted by
  decoding from the start instead)."""
  pts, keys = [], []
  container.seek(0)
  for packet in container.demux(stream):
    if not packet.size:
      continue
    if packet.pts is None:
      return None
    pts.append(packet.pts)
    if packet.is_keyframe:
      keys.append(packet.pts)
  pts.sort()
  if not pts or not keys or len(set(pts)) != len(pts):
    return None
  return pts, sorted(keys)


def _pyav_decode_indexed(container, stream, table, inds, to_rgb, skip_nonref: bool):
  """RGB frames for display indices ``inds``, decoding from the keyframe before each run of
  wanted frames; returns {index: frame} (frames that failed to decode are absent).

  Frames nothing needs are not decoded: a later keyframe before the next wanted frame is
  reached by a seek, with ``skip_nonref`` packets that are neither wanted nor referenced
  by other frames (libavcodec's AVDISCARD_NONREF, decided per packet) are dropped by the
  decoder, and nothing after the last wanted packet is decoded. The wanted frames come out
  bit-identical to a full sequential decode.
  """
  pts, keys = table
  index_of = {pts[i]: i for i in inds}
  todo = sorted(index_of)
  ctx = stream.codec_context
  got: dict[int, np.ndarray] = {}

  def keyframe_before(t):
    return keys[max(bisect.bisect_right(keys, t) - 1, 0)]

  while todo:
    key = keyframe_before(todo[0])
    container.seek(key, stream=stream, backward=True, any_frame=False)
    ctx.flush_buffers()
    reseek, skip, unsent = False, None, set(todo)
    for packet in container.demux(stream):
      pts = packet.pts
      if packet.is_keyframe and pts is not None and pts > key and keyframe_before(todo[0]) > pts:
        reseek = True  # the next wanted frame lies past a later keyframe: jump there
        break
      if skip_nonref and skip != (want := "DEFAULT" if pts in index_of else "NONREF"):
        ctx.skip_frame = skip = want
      unsent.discard(pts)
      # Once every wanted frame is in the decoder, draining it (a null packet) releases the
      # frames held back for reordering without decoding the packets that follow.
      frames = packet.decode() if unsent else [*packet.decode(), *ctx.decode(None)]
      fresh = False
      for frame in frames:
        i = index_of.get(frame.pts)
        if i is not None and i not in got:
          got[i] = to_rgb(frame)
          fresh = True
      if fresh:
        todo = [t for t in todo if index_of[t] not in got]
      if not todo or not unsent:
        break
    if not reseek:
      break  # end of stream: whatever is still missing failed to decode
  if skip_nonref:
    ctx.skip_frame = "DEFAULT"
  return got


@PIPELINES.register
class PyAVDecode:
  """Decodes the sampled frames of an opened PyAV container.

  ``mode='accurate'`` gives frame ``i`` of the stream in display order, as MMAction2's
  sequential decode from the first frame does, but decodes only what those frames need
  (from the keyframe before each run of sampled frames, skipping non-reference frames that
  are not sampled) and converts only the sampled frames to RGB; indices past the end of the
  stream wrap around the frames actually present (as in MMAction2), unless the stream is
  more than ``max_missing_tail`` frames shorter than ``total_frames`` (a truncated file).
  Streams without usable timestamps are decoded sequentially from the start.
  ``mode='efficient'`` seeks to each index and takes the next decodable frame
  (fast, approximate). ``multi_thread=True`` sets the codec's thread_type to AUTO (frame
  and slice threads, one per core); otherwise the decoder runs in one thread, which is what
  parallel loader workers want.
  """

  def __init__(self, multi_thread=False, mode="accurate"):
    if mode not in ("accurate", "efficient"):
      raise ValueError(f"PyAVDecode mode must be 'accurate' or 'efficient', got {mode!r}")
    self.multi_thread = multi_thread
    self.mode = mode

  @staticmethod
  def _decode_upto(container, wanted: set[int], to_rgb) -> tuple[dict[int, np.ndarray], int]:
    """RGB frames for the ``wanted`` indices (those that exist) and the frames decoded."""
    container.seek(0)
    container.streams.video[0].codec_context.flush_buffers()
    last = max(wanted)
    got, n = {}, 0
    for frame in container.decode(video=0):
      if n in wanted:
        got[n] = to_rgb(frame)
      n += 1
      if n > last:
        break
    return got, n

  def _accurate(self, container, inds: np.ndarray, total: int) -> np.ndarray:
    to_rgb = _pyav_rgb()
    stream = container.streams.video[0]
    table = _pyav_frame_table(container, stream)
    if table is not None:
      n = len(table[0])
      if inds.max() >= n:  # Short stream: wrap indices over the frames that exist.
        _check_not_truncated(n, total)
        inds = inds % n
      wanted = sorted(set(int(i) for i in inds))
      # Frame threading decodes packets out of step with the per-packet skip decision.
      got = _pyav_decode_indexed(container, stream, table, wanted, to_rgb,
                                 skip_nonref=not self.multi_thread)
      if len(got) == len(wanted):
        return _gather(inds, lambda i: got[i])
    wanted = set(int(i) for i in inds)
    got, n = self._decode_upto(container, wanted, to_rgb)
    if n == 0:
      raise VideoDecodeError("the video has no decodable frames")
    if len(got) < len(wanted):  # Short stream: wrap indices over the frames that exist.
      _check_not_truncated(n, total)
      inds = inds % n
      missing = set(int(i) for i in inds) - set(got)
      if missing:
        more, _ = self._decode_upto(container, missing, to_rgb)
        got.update(more)
    return _gather(inds, lambda i: got[i])

  @staticmethod
  def _efficient(container, inds: np.ndarray) -> np.ndarray:
    stream = container.streams.video[0]
    to_rgb = _pyav_rgb()
    backup = None
    for frame in container.decode(video=0):
      backup = to_rgb(frame)
      break
    if backup is None:
      raise VideoDecodeError("the video has no decodable frames")
    pts_scale = stream.average_rate * stream.time_base
    imgs = []
    for idx in inds:
      container.seek(int(int(idx) / pts_scale), any_frame=False, backward=True, stream=stream)
      frame = next((f for p in container.demux(stream) for f in p.decode()), None)
      if frame is not None:
        backup = to_rgb(frame)
      imgs.append(backup)
    return np.stack(imgs)

  def __call__(self, results: dict, rng=None) -> dict:
    container = results["video_reader"]
    inds = _frame_inds(results)
    try:
      with _decoding(results, "PyAV"):
        if self.multi_thread:
          container.streams.video[0].thread_type = "AUTO"
        else:  # PyAV's default, one slice thread per core, costs ~30% more CPU on 1-slice h264.
          container.streams.video[0].codec_context.thread_count = 1
        if self.mode == "accurate":
          imgs = self._accurate(container, inds, int(results["total_frames"]))
        else:
          imgs = self._efficient(container, inds)
    finally:
      container.close()
      results["video_reader"] = None
    return _set_imgs(results, imgs)

  def __repr__(self) -> str:
    return f"{type(self).__name__}(multi_thread={self.multi_thread}, mode={self.mode!r})"


def _decord_open(filename: str, num_threads: int):
  import decord  # pylint: disable=g-import-not-at-top
  reader = decord.VideoReader(filename, num_threads=num_threads)
  if len(reader) <= 0:
    raise ValueError("the video stream has no frames")
  return reader


@PIPELINES.register
class DecordInit:
  """Opens ``results['filename']`` with decord; sets ``video_reader`` and ``total_frames``.

  decord indexes the whole stream when it opens a file, so its frame count is
  the number of frames actually present, not the header's promise.
  """

  def __init__(self, io_backend="disk", num_threads=1, **kwargs):
    _check_disk("DecordInit", io_backend)
    self.io_backend = io_backend
    self.num_threads = num_threads
    self.kwargs = kwargs

  def __call__(self, results: dict, rng=None) -> dict:
    filename = results["filename"]
    reader = _open_video(filename, "decord", lambda f: _decord_open(f, self.num_threads),
                         results.pop("video_bytes", None))
    results["video_reader"] = reader
    results["total_frames"] = len(reader)
    return results

  def __repr__(self) -> str:
    return (f"{type(self).__name__}(io_backend={self.io_backend!r}, "
            f"num_threads={self.num_threads})")


def _check_in_range(inds: np.ndarray, total: int, what) -> None:
  """Out-of-range indices are a sampling bug, reported as such rather than as a bad file."""
  bad = inds[(inds < 0) | (inds >= total)]
  if len(bad):
    raise IndexError(f"frame indices {sorted(set(bad.tolist()))} out of range for {what} with "
                     f"{total} frames")


@PIPELINES.register
class DecordDecode:
  """Decodes the sampled frames of a decord ``VideoReader`` (RGB from decord itself).

  ``mode='accurate'`` fetches exactly the sampled frames in one batch.
  ``mode='efficient'`` seeks to each index and returns the next frame decord
  gives back, which for streams with sparse keyframes is a nearby keyframe
  (fast, approximate; for large scene-level datasets).
  """

  def __init__(self, mode="accurate"):
    if mode not in ("accurate", "efficient"):
      raise ValueError(f"DecordDecode mode must be 'accurate' or 'efficient', got {mode!r}")
    self.mode = mode

  @staticmethod
  def _efficient_frame(reader, idx: int) -> np.ndarray:
    reader.seek(idx)
    return reader.next().asnumpy()

  def __call__(self, results: dict, rng=None) -> dict:
    reader = results["video_reader"]
    inds = _frame_inds(results)
    try:
      _check_in_range(inds, len(reader), results.get("filename"))
      with _decoding(results, "decord"):
        if self.mode == "accurate":
          unique, inverse = np.unique(inds, return_inverse=True)
          imgs = reader.get_batch(unique.tolist()).asnumpy()[inverse.reshape(-1)]
        else:
          reader.seek(0)
          imgs = _gather(inds, lambda i: self._efficient_frame(reader, i))
    finally:
      results["video_reader"] = None
    return _set_imgs(results, imgs)

  def __repr__(self) -> str:
    return f"{type(self).__name__}(mode={self.mode!r})"


def _opencv_open(filename: str):
  """A ``cv2.VideoCapture`` on the FFmpeg backend and its frame count.

  The FFmpeg backend is forced so that a ``%`` in a file name is never read as
  an image-sequence pattern. When the container reports no count, frames are
  counted by grabbing them (a full decode, no colour conversion).
  """
  cap = cv2.VideoCapture(filename, cv2.CAP_FFMPEG)
  if not cap.isOpened():
    raise ValueError("OpenCV's FFmpeg backend cannot read it")
  total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
  if total <= 0:
    total = 0
    while cap.grab():
      total += 1
    cap.release()
    cap = cv2.VideoCapture(filename, cv2.CAP_FFMPEG)
  if total <= 0:
    cap.release()
    raise ValueError("the video stream has no frames")
  return cap, total


def _read_at(cap, idx: int) -> np.ndarray | None:
  """Frame ``idx`` (BGR) after seeking to it, or None when it cannot be read."""
  cap.set(cv2.CAP_PROP_POS_FRAMES, idx)
  ok, frame = cap.read()
  return frame if ok else None


def _last_readable(cap, end: int, total: int) -> np.ndarray:
  """The last frame before ``end`` that decodes, stepping back as MMAction2 does."""
  for idx in range(end - 1, max(-1, end - 1 - max_missing_tail(total)), -1):
    frame = _read_at(cap, idx)
    if frame is not None:
      return frame
  raise VideoDecodeError(f"no frame before {end} can be decoded")


def _opencv_frames(cap, inds: np.ndarray, total: int) -> dict[int, np.ndarray]:
  """BGR frames for the distinct ``inds``, in one forward pass.

  Frames between sampled indices are grabbed (decoded, not converted). Seeking
  for each index, as MMAction2 does, restarts from the preceding keyframe every
  time and so decodes long keyframe intervals many times over. Indices the
  stream does not reach get its last readable frame, unless it is truncated.
  """
  got, pos = {}, 0  # pos: the index the next grab() returns.
  for idx in sorted(set(inds.tolist())):
    while pos <= idx and cap.grab():
      pos += 1
    if pos <= idx:  # The stream ended: `pos` frames exist.
      _check_not_truncated(pos, total)
      last = _last_readable(cap, pos, total)
      got.update((i, last) for i in set(inds.tolist()) if i not in got)
      break
    ok, frame = cap.retrieve()
    if not ok:
      raise VideoDecodeError(f"frame {idx} cannot be retrieved")
    got[idx] = frame
  return got


@PIPELINES.register
class OpenCVInit:
  """Opens ``results['filename']`` with OpenCV; sets ``video_reader``, ``total_frames``
  and ``new_path`` (the path actually opened, as in MMAction2).

  For containers that store no frame count (mkv, webm) OpenCV estimates it from
  duration x frame rate, which can be off for variable-frame-rate files; decord
  and PyAV count the frames instead.
  """

  def __init__(self, io_backend="disk", **kwargs):
    _check_disk("OpenCVInit", io_backend)
    self.io_backend = io_backend
    self.kwargs = kwargs

  def __call__(self, results: dict, rng=None) -> dict:
    filename = results["filename"]
    if "video_bytes" in results:
      raise ValueError(f"OpenCVInit cannot open {filename}: OpenCV reads files only; decode "
                       "videos stored in TFDS records with PyAVInit or DecordInit")
    cap, total = _open_video(filename, "OpenCV", _opencv_open)
    results["new_path"] = filename
    results["video_reader"] = cap
    results["total_frames"] = total
    return results

  def __repr__(self) -> str:
    return f"{type(self).__name__}(io_backend={self.io_backend!r})"


@PIPELINES.register
class OpenCVDecode:
  """Decodes the sampled frames of a ``cv2.VideoCapture`` in one forward pass, as RGB.

  As in MMAction2, indices past the end of a stream that is shorter than its
  header said get the last readable frame; a stream more than
  ``max_missing_tail`` frames short is reported as truncated.
  """

  def __call__(self, results: dict, rng=None) -> dict:
    cap = results["video_reader"]
    inds = _frame_inds(results)
    total = int(results["total_frames"])
    try:
      _check_in_range(inds, total, results.get("filename"))
      with _decoding(results, "OpenCV"):
        got = _opencv_frames(cap, inds, total)
        imgs = _gather(inds, lambda i: cv2.cvtColor(got[i], cv2.COLOR_BGR2RGB))
    finally:
      cap.release()
      results["video_reader"] = None
    return _set_imgs(results, imgs)

  def __repr__(self) -> str:
    return f"{type(self).__name__}()"


@PIPELINES.register
class ArrayDecode:
  """Takes the sampled frames from ``results['array']``, a (T, H, W, C) array of
  frames already in memory (e.g. a video handed to the inference API).

  Frame ``i`` is ``array[i + offset - start_index]`` (MMAction2 ignores
  ``start_index`` here; its inference API sets it to 0, where both agree).
  RGB keeps all channels; Flow keeps channels 0 and 1 (x, y) as (N, H, W, 2).
  The dtype is kept.
  """

  def __call__(self, results: dict, rng=None) -> dict:
    array = results["array"]
    modality = results.get("modality", "RGB")
    inds = _frame_inds(results) + results.get("offset", 0) - results.get("start_index", 0)
    _check_in_range(inds, len(array), "results['array']")
    if modality == "RGB":
      imgs = np.asarray(array[inds])
    elif modality == "Flow":
      imgs = np.asarray(array[inds][..., :2])
    else:
      raise NotImplementedError(f"ArrayDecode: modality {modality!r}")
    return _set_imgs(results, imgs)

  def __repr__(self) -> str:
    return f"{type(self).__name__}()"


@PIPELINES.register
class ImageDecode:
  """Reads the still image ``results['filename']`` (an ``ImageDataset`` sample, OmniSource's
  web images) as a one-frame ``imgs`` (1, H, W, 3), RGB."""

  def __init__(self, io_backend="disk", decoding_backend="cv2", **kwargs):
    _check_disk("ImageDecode", io_backend)
    _warn_backend("ImageDecode", decoding_backend)
    self.io_backend = io_backend
    self.decoding_backend = decoding_backend
    self.kwargs = kwargs

  def __call__(self, results: dict, rng=None) -> dict:
    filename = results["filename"]
    if not osp.isfile(filename):
      raise FileNotFoundError(f"Image file {filename} not found")
    with open(filename, "rb") as f:
      img = decode_jpeg_rgb(f.read(), f"image {filename}")
    return _set_imgs(results, img[None])

  def __repr__(self) -> str:
    return (f"{type(self).__name__}(io_backend={self.io_backend!r}, "
            f"decoding_backend={self.decoding_backend!r})")


@PIPELINES.register
class BuildPseudoClip:
  """Repeats a single decoded image ``clip_len`` times: a still clip for 3D models (sets
  ``clip_len`` and ``num_clips=1``), as OmniSource's web-image pipelines do."""

  def __init__(self, clip_len):
    self.clip_len = int(clip_len)

  def __call__(self, results: dict, rng=None) -> dict:
    imgs = get_imgs(results)
    if len(imgs) != 1:
      raise ValueError(f"BuildPseudoClip needs one image (ImageDecode), got {len(imgs)} frames")
    results["imgs"] = np.repeat(imgs, self.clip_len, axis=0)
    results["clip_len"] = self.clip_len
    results["num_clips"] = 1
    return results

  def __repr__(self) -> str:
    return f"{type(self).__name__}(clip_len={self.clip_len})"
