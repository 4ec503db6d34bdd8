"""Decoders: turn ``frame_inds`` into an RGB uint8 ``imgs`` array, decoding only those frames.

Each decoder sets ``imgs`` (N, H, W, C), ``original_shape`` and ``img_shape``
(both ``(h, w)``), as MMAction2's do. Repeated indices are decoded once.
"""

from __future__ import annotations

import os.path as osp
import warnings

import cv2
import numpy as np

from vjax.data.pipeline import PIPELINES


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


def _warn_backend(op: str, backend: str) -> None:
  if backend not in ("cv2", None):
    warnings.warn(f"{op}: decoding_backend={backend!r} is not available in vjax; using cv2.")


@PIPELINES.register
class FrameBytesDecode:
  """Decodes the sampled frames of a TFDS record's ``frames_bytes`` (encoded JPEGs).

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

    def decode_one(i):
      if not 0 <= i < n:
        raise IndexError(f"Frame index {i} out of range for a video with {n} frames")
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


@PIPELINES.register
class PyAVInit:
  """Opens ``results['filename']`` with PyAV; sets ``video_reader`` and ``total_frames``."""

  def __init__(self, io_backend="disk", **kwargs):
    if io_backend != "disk":
      raise NotImplementedError(f"PyAVInit: io_backend={io_backend!r}; only 'disk' for now")
    self.io_backend = io_backend
    self.kwargs = kwargs

  def __call__(self, results: dict, rng=None) -> dict:
    import av  # pylint: disable=g-import-not-at-top
    container = av.open(results["filename"])
    stream = container.streams.video[0]
    total = stream.frames
    if not total:  # Some containers do not store a frame count: count packets (no decoding).
      total = sum(1 for p in container.demux(stream) if p.size)
      container.seek(0)
    results["video_reader"] = container
    results["total_frames"] = int(total)
    return results

  def __repr__(self) -> str:
    return f"{type(self).__name__}(io_backend={self.io_backend!r})"


@PIPELINES.register
class PyAVDecode:
  """Decodes the sampled frames of an opened PyAV container.

  ``mode='accurate'`` decodes sequentially up to the largest index and converts
  only the sampled frames to RGB; if the stream is shorter than its header said,
  indices wrap around the frames actually present (as in MMAction2).
  ``mode='efficient'`` seeks to each index and takes the next decodable frame
  (fast, approximate). ``multi_thread=True`` sets the codec's thread_type to AUTO.
  """

  def __init__(self, multi_thread=False, mode="accurate"):
    if mode not in ("accurate", "efficient"):
      raise ValueError(f"PyAVDecode mode must be 'accurate' or 'efficient', got {mode!r}")
    self.multi_thread = multi_thread
    self.mode = mode

  @staticmethod
  def _decode_upto(container, wanted: set[int]) -> tuple[dict[int, np.ndarray], int]:
    """RGB frames for the ``wanted`` indices (those that exist) and the frames decoded."""
    container.seek(0)
    last = max(wanted)
    got, n = {}, 0
    for frame in container.decode(video=0):
      if n in wanted:
        got[n] = frame.to_ndarray(format="rgb24")
      n += 1
      if n > last:
        break
    return got, n

  def _accurate(self, container, inds: np.ndarray) -> np.ndarray:
    wanted = set(int(i) for i in inds)
    got, n = self._decode_upto(container, wanted)
    if n == 0:
      raise ValueError("The video has no decodable frames")
    if len(got) < len(wanted):  # Short stream: wrap indices over the frames that exist.
      inds = inds % n
      missing = set(int(i) for i in inds) - set(got)
      if missing:
        more, _ = self._decode_upto(container, missing)
        got.update(more)
    return _gather(inds, lambda i: got[i])

  @staticmethod
  def _efficient(container, inds: np.ndarray) -> np.ndarray:
    stream = container.streams.video[0]
    backup = None
    for frame in container.decode(video=0):
      backup = frame.to_ndarray(format="rgb24")
      break
    if backup is None:
      raise ValueError("The video has no decodable frames")
    pts_scale = stream.average_rate * stream.time_base
    imgs = []
    for idx in inds:
      container.seek(int(int(idx) / pts_scale), any_frame=False, backward=True, stream=stream)
      frame = next((f for p in container.demux(stream) for f in p.decode()), None)
      if frame is not None:
        backup = frame.to_ndarray(format="rgb24")
      imgs.append(backup)
    return np.stack(imgs)

  def __call__(self, results: dict, rng=None) -> dict:
    container = results["video_reader"]
    if self.multi_thread:
      container.streams.video[0].thread_type = "AUTO"
    inds = _frame_inds(results)
    try:
      if self.mode == "accurate":
        imgs = self._accurate(container, inds)
      else:
        imgs = self._efficient(container, inds)
    finally:
      container.close()
      results["video_reader"] = None
    return _set_imgs(results, imgs)

  def __repr__(self) -> str:
    return f"{type(self).__name__}(multi_thread={self.multi_thread}, mode={self.mode!r})"
