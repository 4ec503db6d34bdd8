"""Audio-feature ops: offline spectrogram features (``.npy``, rows = time, columns =
frequency bins) cut into clips that follow the sampled video frames.

MMAction2 indexes audio with the same ``SampleFrames`` as video: ``frame_inds`` are video
frame numbers, and ``AudioFeatureSelector`` maps each clip's first and last frame to rows of
the feature map by their fraction of ``total_frames``. ``FormatAudioShape`` keeps MMAction2's
format name but, like ``FormatShape``, puts channels last.

Raw audio (MMAction2's online route): ``AudioDecodeInit`` reads the whole waveform of
``audio_path`` (float32 in [-1, 1), mixed down to mono, resampled to ``sample_rate``),
``AudioDecode`` cuts one fixed-length piece per clip the same way ``AudioFeatureSelector``
cuts feature rows, ``AudioAmplify`` scales it and ``MelSpectrogram`` turns each piece into a
(time, mel band) power spectrogram. MMAction2 does the reading and the spectrogram with
librosa; vjax decodes with PyAV, resamples with soxr (the resampler librosa uses) and computes
the spectrogram with numpy, to the same numbers.
"""

from __future__ import annotations

import functools
import os.path as osp
import warnings

import numpy as np

from vjax.data.ops_base import PIPELINES, as_rng

# MMAction2's stand-in for a missing feature file: 10 s of a 64-row/s, 80-bin spectrogram.
MISSING_SHAPE = (640, 80)


def clips_at_frames(audio: np.ndarray, results: dict, fixed_length: int) -> np.ndarray:
  """The rows of ``audio`` (features or samples, axis 0) that each sampled clip of video
  frames spans, as MMAction2 maps them: frame ``f`` of ``total_frames`` is row
  ``round((f + 1) / total_frames * length)``; each clip is cut or zero-padded to
  ``fixed_length`` rows. Returns (num_clips, fixed_length, ...)."""
  length, total = results["length"], results["total_frames"]
  inds = np.asarray(results["frame_inds"]).reshape(results["num_clips"], -1)
  clips = np.zeros((len(inds), fixed_length) + audio.shape[1:], audio.dtype)
  for c, clip_inds in enumerate(inds):
    start = max(0, int(round((int(clip_inds[0]) + 1) / total * length)))
    end = min(length, int(round((int(clip_inds[-1]) + 1) / total * length)))
    cut = audio[start:end][:fixed_length]
    clips[c, :len(cut)] = cut
  return clips


@PIPELINES.register
class LoadAudioFeature:
  """Loads ``results['audio_path']`` into ``audios`` (float32 (length, bins)) and sets
  ``length`` (records of a TFDS audio-feature dataset already carry ``audios``).
  A missing file stands for a video without an audio stream, as in MMAction2:
  it becomes a (640, 80) map of zeros (``pad_method='zero'``) or of uniform [0, 1) noise
  (``'random'``, drawn from the pipeline's rng). A file that exists but is not a 2-D array
  is an error naming it."""

  def __init__(self, pad_method="zero"):
    if pad_method not in ("zero", "random"):
      raise ValueError(f"LoadAudioFeature: pad_method must be 'zero' or 'random', got "
                       f"{pad_method!r}")
    self.pad_method = pad_method
    self._warned = False

  def __call__(self, results: dict, rng=None) -> dict:
    if "audios" in results:  # a TFDS record carries the features themselves
      results["length"] = results["audios"].shape[0]
      return results
    path = results["audio_path"]
    if osp.exists(path):
      feature_map = np.load(path)
      if feature_map.ndim != 2:
        raise ValueError(f"LoadAudioFeature: {path} holds an array of shape "
                         f"{feature_map.shape}; expected (time, frequency bins)")
    else:
      if not self._warned:
        warnings.warn(f"LoadAudioFeature: {path} does not exist; using a {self.pad_method} "
                      f"{MISSING_SHAPE} feature map for it and any other missing file, as "
                      "MMAction2 does for videos without audio")
        self._warned = True
      if self.pad_method == "zero":
        feature_map = np.zeros(MISSING_SHAPE, np.float32)
      else:
        feature_map = as_rng(rng).random(MISSING_SHAPE, dtype=np.float32)
    results["length"] = feature_map.shape[0]
    results["audios"] = feature_map
    return results

  def __repr__(self) -> str:
    return f"{type(self).__name__}(pad_method={self.pad_method!r})"


@PIPELINES.register
class AudioFeatureSelector:
  """Cuts one (fixed_length, bins) clip per sampled clip out of ``audios``.

  Clip ``c`` spans rows ``round((first + 1) / total_frames * length)`` to
  ``round((last + 1) / total_frames * length)`` (MMAction2's arithmetic, including Python's
  round-half-to-even and the start index inside ``frame_inds``), then is truncated or
  zero-padded at the end to ``fixed_length`` rows. Sets ``audios`` (clips, fixed_length,
  bins) and ``audios_shape``.
  """

  def __init__(self, fixed_length=128):
    if int(fixed_length) < 1:
      raise ValueError(f"AudioFeatureSelector: fixed_length must be >= 1, got {fixed_length}")
    self.fixed_length = int(fixed_length)

  def __call__(self, results: dict, rng=None) -> dict:
    audio = results["audios"]
    clips = clips_at_frames(audio, results, self.fixed_length)
    results["audios"] = clips
    results["audios_shape"] = clips.shape
    return results

  def __repr__(self) -> str:
    return f"{type(self).__name__}(fixed_length={self.fixed_length})"


@PIPELINES.register
class FormatAudioShape:
  """(clips, time, bins) -> (clips, time, bins, 1): MMAction2's 'NCTF' with the channel last
  (MMAction2: (clips, 1, time, bins)). Sets ``input_shape``."""

  def __init__(self, input_format):
    if input_format != "NCTF":
      raise ValueError(f"The input format {input_format} is invalid; FormatAudioShape "
                       "supports 'NCTF'")
    self.input_format = input_format

  def __call__(self, results: dict, rng=None) -> dict:
    audios = np.asarray(results["audios"])
    if audios.ndim != 3:
      raise ValueError(f"FormatAudioShape: expected audios of shape (clips, time, bins), got "
                       f"{audios.shape}")
    results["audios"] = audios[..., None]
    results["input_shape"] = results["audios"].shape
    return results

  def __repr__(self) -> str:
    return f"{type(self).__name__}(input_format={self.input_format!r})"


# ------------------------------------------------------------------------------ raw audio
class AudioDecodeError(ValueError):
  """An audio file exists but cannot be opened or decoded."""


# PyAV sample format (planar or not) -> the factor that maps its integer samples onto
# [-1, 1) (None: float samples, kept as they are). libsndfile's mapping, which is how librosa
# reads WAV / FLAC / OGG: integers times 2 ** -(bits - 1) in float32, unsigned 8-bit ones
# centred first. FFmpeg delivers 24-bit PCM as s32 (shifted left by 8), so it maps exactly as
# libsndfile maps it.
_SAMPLE_SCALE = {"u8": 1 / 128, "s16": 1 / 2**15, "s32": 1 / 2**31, "s64": 1 / 2**63,
                 "flt": None, "dbl": None}


def _frame_samples(frame) -> np.ndarray:
  """One decoded PyAV audio frame as float32 (channels, samples)."""
  fmt = frame.format
  base = fmt.name[:-1] if fmt.is_planar else fmt.name
  if base not in _SAMPLE_SCALE:
    raise ValueError(f"unsupported sample format {fmt.name!r}")
  data = frame.to_ndarray()
  if not fmt.is_planar:  # packed: one row of interleaved samples
    data = data.reshape(-1, frame.layout.nb_channels).T
  scale = _SAMPLE_SCALE[base]
  if scale is None:
    return data.astype(np.float32, copy=False)
  if base == "u8":
    return (data.astype(np.float32) - np.float32(128)) * np.float32(scale)
  return data.astype(np.float32) * np.float32(scale)


def read_audio(path: str) -> tuple[np.ndarray, int]:
  """The first audio stream of ``path`` (any container FFmpeg reads: wav, flac, ogg, mp3,
  m4a, or a video file) as float32 (channels, samples) in [-1, 1), and its sample rate.

  Raises ``AudioDecodeError`` naming the file when it cannot be opened, has no audio stream,
  fails to decode, or holds no samples.
  """
  import av  # pylint: disable=g-import-not-at-top

  try:
    container = av.open(path)
  except Exception as e:  # pylint: disable=broad-except  # PyAV/FFmpeg raise many types.
    raise AudioDecodeError(f"cannot open audio file {path}: {e}") from e
  with container:
    if not container.streams.audio:
      raise AudioDecodeError(f"audio file {path} has no audio stream")
    stream = container.streams.audio[0]
    chunks, rate = [], stream.sample_rate
    try:
      for frame in container.decode(stream):
        chunks.append(_frame_samples(frame))
        rate = frame.sample_rate or rate
    except Exception as e:  # pylint: disable=broad-except
      raise AudioDecodeError(f"cannot decode audio file {path}: {e}") from e
  if not chunks or not sum(c.shape[1] for c in chunks):
    raise AudioDecodeError(f"audio file {path} holds no audio samples")
  if len({c.shape[0] for c in chunks}) != 1:
    raise AudioDecodeError(f"audio file {path} changes its channel count mid-stream")
  return np.concatenate(chunks, axis=1), int(rate)


def resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
  """librosa.resample's default: soxr at 'HQ' quality, then cut or zero-padded to
  ``ceil(len(y) * target_sr / orig_sr)`` samples, in ``y``'s dtype."""
  if orig_sr == target_sr:
    return y
  try:
    import soxr  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ImportError("resampling audio needs the 'soxr' package (pip install soxr)") from e
  n_out = int(np.ceil(y.shape[-1] * (float(target_sr) / orig_sr)))
  out = np.asarray(soxr.resample(y, orig_sr, target_sr, quality="HQ"), dtype=y.dtype)
  if out.shape[-1] >= n_out:
    return out[:n_out]
  return np.pad(out, (0, n_out - out.shape[-1]))


@PIPELINES.register
class AudioDecodeInit:
  """Reads the waveform of ``results['audio_path']``: sets ``audios`` (float32 (samples,),
  mono, in [-1, 1)), ``length`` (its sample count) and ``sample_rate``.

  As in MMAction2 (librosa.load): channels are averaged, and a file recorded at another rate
  is resampled to ``sample_rate`` (soxr 'HQ', librosa's default; ``sample_rate=None`` keeps
  the file's rate). A missing file stands for a video without an audio stream: 10 s of
  zeros (``pad_method='zero'``) or of uniform [-1, 1) noise (``'random'``, from the
  pipeline's rng), with a warning naming the first such file. A file that exists but cannot
  be decoded raises ``AudioDecodeError`` naming it. Only ``io_backend='disk'``; other
  keyword arguments (MMAction2's FileClient options) are accepted and ignored.
  """

  def __init__(self, io_backend="disk", sample_rate=16000, pad_method="zero", **kwargs):
    if io_backend != "disk":
      raise NotImplementedError(f"AudioDecodeInit: io_backend={io_backend!r}; only 'disk' "
                                "for now")
    if pad_method not in ("zero", "random"):
      raise ValueError(f"AudioDecodeInit: pad_method must be 'zero' or 'random', got "
                       f"{pad_method!r}")
    if sample_rate is not None and not int(sample_rate) > 0:
      raise ValueError(f"AudioDecodeInit: sample_rate must be positive, got {sample_rate}")
    self.io_backend = io_backend
    self.sample_rate = None if sample_rate is None else int(sample_rate)
    self.pad_method = pad_method
    self.kwargs = kwargs
    self._warned = False

  def __call__(self, results: dict, rng=None) -> dict:
    if "audios" in results:  # a TFDS record carries the features themselves
      results["length"] = results["audios"].shape[0]
      return results
    path = results["audio_path"]
    if osp.exists(path):
      try:
        y, sr = read_audio(path)
      except AudioDecodeError as e:
        raise AudioDecodeError(f"AudioDecodeInit: {e}") from e.__cause__
      y = y[0] if y.shape[0] == 1 else y.mean(axis=0)
      if self.sample_rate is not None:
        y, sr = resample(y, sr, self.sample_rate), self.sample_rate
    else:
      if self.sample_rate is None:
        raise FileNotFoundError(f"AudioDecodeInit: {path} does not exist, and with "
                                "sample_rate=None there is no rate to pad it at")
      if not self._warned:
        warnings.warn(f"AudioDecodeInit: {path} does not exist; using 10 s of "
                      f"{self.pad_method} audio for it and any other missing file, as "
                      "MMAction2 does for videos without audio")
        self._warned = True
      sr = self.sample_rate
      n = int(round(10.0 * sr))
      if self.pad_method == "zero":
        y = np.zeros(n, np.float32)
      else:
        y = as_rng(rng).random(n, dtype=np.float32) * np.float32(2) - np.float32(1)
    results["length"] = y.shape[0]
    results["sample_rate"] = sr
    results["audios"] = y
    return results

  def __repr__(self) -> str:
    return (f"{type(self).__name__}(io_backend={self.io_backend!r}, "
            f"sample_rate={self.sample_rate}, pad_method={self.pad_method!r})")


@PIPELINES.register
class AudioDecode:
  """Cuts one ``fixed_length``-sample piece per sampled clip out of the waveform ``audios``.

  Clip ``c`` spans samples ``round((first + 1) / total_frames * length)`` to
  ``round((last + 1) / total_frames * length)`` of its first and last frame indices
  (MMAction2's arithmetic, as in ``AudioFeatureSelector``), truncated or zero-padded at the
  end to ``fixed_length``. Sets ``audios`` ((clips, fixed_length), the waveform's dtype) and
  ``audios_shape``.
  """

  def __init__(self, fixed_length=32000):
    if int(fixed_length) < 1:
      raise ValueError(f"AudioDecode: fixed_length must be >= 1, got {fixed_length}")
    self.fixed_length = int(fixed_length)

  def __call__(self, results: dict, rng=None) -> dict:
    audio = np.asarray(results["audios"])
    if audio.ndim != 1:
      raise ValueError(f"AudioDecode: expected a 1-D waveform in 'audios', got shape "
                       f"{audio.shape}")
    clips = clips_at_frames(audio, results, self.fixed_length)
    results["audios"] = clips
    results["audios_shape"] = clips.shape
    return results

  def __repr__(self) -> str:
    return f"{type(self).__name__}(fixed_length={self.fixed_length})"


@PIPELINES.register
class AudioAmplify:
  """Multiplies the waveform ``audios`` by ``ratio`` (a float, as MMAction2 requires) in its
  own dtype; sets ``amplify_ratio``."""

  def __init__(self, ratio):
    if not isinstance(ratio, float):
      raise TypeError(f"AudioAmplify: ratio must be a float, got {ratio!r}")
    self.ratio = ratio

  def __call__(self, results: dict, rng=None) -> dict:
    audios = np.asarray(results["audios"])
    if not np.issubdtype(audios.dtype, np.floating):
      raise TypeError(f"AudioAmplify: expected a float waveform, got {audios.dtype}")
    results["audios"] = audios * audios.dtype.type(self.ratio)
    results["amplify_ratio"] = self.ratio
    return results

  def __repr__(self) -> str:
    return f"{type(self).__name__}(ratio={self.ratio})"


# Slaney's mel scale (librosa's default, htk=False): linear at 200/3 Hz per mel below 1 kHz,
# logarithmic above (27 mels per factor 6.4). Written in librosa's order of operations, so
# the band edges come out identical to the last bit.
_MEL_STEP_HZ = 200.0 / 3
_LOG_MEL_START = 1000.0 / _MEL_STEP_HZ
_LOG_MEL_STEP = np.log(6.4) / 27.0


def _hz_to_mel(hz: float) -> float:
  if hz >= 1000.0:
    return _LOG_MEL_START + np.log(hz / 1000.0) / _LOG_MEL_STEP
  return hz / _MEL_STEP_HZ


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
  hz = _MEL_STEP_HZ * mel
  log = mel >= _LOG_MEL_START
  hz[log] = 1000.0 * np.exp(_LOG_MEL_STEP * (mel[log] - _LOG_MEL_START))
  return hz


@functools.lru_cache(maxsize=16)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0,
                   fmax: float | None = None) -> np.ndarray:
  """float32 (n_mels, 1 + n_fft // 2): librosa.filters.mel's bank (Slaney scale and area
  normalisation) over [fmin, fmax] Hz (default 0 to sample_rate / 2), rounded to float32
  where librosa rounds."""
  fmax = sample_rate / 2 if fmax is None else fmax
  if not 0 <= fmin < fmax <= sample_rate / 2:
    raise ValueError(f"mel_filterbank: need 0 <= fmin < fmax <= {sample_rate / 2}, got "
                     f"{fmin}, {fmax}")
  freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
  edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
  widths = np.diff(edges)
  offsets = edges[:, None] - freqs[None, :]
  rising = -offsets[:-2] / widths[:-1, None]
  falling = offsets[2:] / widths[1:, None]
  bank = np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)
  bank = (bank * (2.0 / (edges[2:] - edges[:-2]))[:, None]).astype(np.float32)
  bank.setflags(write=False)
  return bank


@functools.lru_cache(maxsize=16)
def _has_empty_bands(sample_rate: int, n_fft: int, n_mels: int) -> bool:
  """Whether a band other than one starting at 0 Hz catches no FFT bin (librosa's test)."""
  edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sample_rate / 2), n_mels + 2))
  bank = mel_filterbank(sample_rate, n_fft, n_mels)
  return not np.all((edges[:-2] == 0) | (bank.max(axis=1) > 0))


def mel_power_spectrogram(y: np.ndarray, sample_rate: int, n_fft: int, hop_length: int,
                          n_mels: int) -> np.ndarray:
  """(n_mels, frames) mel power spectrogram of the 1-D float ``y``: what
  librosa.feature.melspectrogram computes with its defaults (centred frames, zero padding of
  n_fft // 2 on both sides, periodic Hann window of n_fft samples, power 2, Slaney mel bank),
  with its dtypes (FFT in float64 stored as complex64 for float32 input)."""
  from scipy.signal import get_window  # pylint: disable=g-import-not-at-top

  if not np.issubdtype(y.dtype, np.floating):
    raise TypeError(f"MelSpectrogram: expected a float waveform, got {y.dtype}")
  if not np.all(np.isfinite(y)):
    raise ValueError("MelSpectrogram: the waveform holds non-finite values")
  padded = np.pad(y, n_fft // 2)
  if padded.shape[0] < n_fft:
    raise ValueError(f"MelSpectrogram: a {y.shape[0]}-sample clip is too short for a "
                     f"{n_fft}-sample window")
  frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop_length]
  window = get_window("hann", n_fft, fftbins=True)
  complex_dtype = np.complex64 if y.dtype == np.float32 else np.complex128
  spec = np.fft.rfft(window * frames, axis=-1).astype(complex_dtype)
  power = np.abs(spec) ** 2  # (frames, bins)
  if _has_empty_bands(sample_rate, n_fft, n_mels):
    warnings.warn(f"MelSpectrogram: {n_mels} mel bands over a {n_fft}-point FFT at "
                  f"{sample_rate} Hz leave some bands empty (all zero), as librosa warns")
  return mel_filterbank(sample_rate, n_fft, n_mels) @ power.T


@PIPELINES.register
class MelSpectrogram:
  """Turns each clip of the waveform ``audios`` (clips, samples) into a mel power
  spectrogram: float32 (clips, fixed_length, n_mels), time first.

  The spectrogram is MMAction2's librosa.feature.melspectrogram call: a window of
  ``n_fft = round(sample_rate * window_size / 1000)`` samples every
  ``round(sample_rate * step_size / 1000)`` (ms -> samples at ``results['sample_rate']``),
  ``n_mels`` Slaney mel bands from 0 Hz to the Nyquist rate, power (not dB). Its frames are
  then truncated, or padded at the end by repeating the last frame, to ``fixed_length``.

  MMAction2 0.24.1 applies that truncating / padding to the wrong axis of librosa's
  (n_mels, frames) output: it cuts mel bands when ``n_mels >= fixed_length``, and otherwise
  pads by ``frames - fixed_length`` rows, which raises whenever a clip has fewer frames than
  ``fixed_length`` -- as with its own defaults (a 32000-sample clip at 16 kHz has 126
  frames, fixed_length is 128). vjax fixes the time axis, as MMAction2's docstring describes;
  the values are librosa's either way (open-mmlab/mmaction2#886: the config that uses this
  op names it ``MelLogSpectrogram``, which MMAction2 0.24.1 does not register).
  """

  def __init__(self, window_size=32, step_size=16, n_mels=80, fixed_length=128):
    args = dict(window_size=window_size, step_size=step_size, n_mels=n_mels,
                fixed_length=fixed_length)
    if not all(isinstance(v, (int, np.integer)) for v in args.values()):
      raise TypeError(f"MelSpectrogram: all arguments must be int, got {args}")
    bad = [k for k, v in args.items() if v < 1]
    if bad:
      raise ValueError(f"MelSpectrogram: {bad} must be >= 1, got {args}")
    self.window_size = int(window_size)
    self.step_size = int(step_size)
    self.n_mels = int(n_mels)
    self.fixed_length = int(fixed_length)

  def __call__(self, results: dict, rng=None) -> dict:
    signals = np.asarray(results["audios"])
    if signals.ndim != 2:
      raise ValueError(f"MelSpectrogram: expected waveforms of shape (clips, samples) in "
                       f"'audios' (from AudioDecode), got {signals.shape}")
    sample_rate = results["sample_rate"]
    n_fft = int(round(sample_rate * self.window_size / 1000))
    hop = int(round(sample_rate * self.step_size / 1000))
    if n_fft < 1 or hop < 1:
      raise ValueError(f"MelSpectrogram: at {sample_rate} Hz a {self.window_size} ms window / "
                       f"{self.step_size} ms step is {n_fft} / {hop} samples")
    mels = []
    for c in range(results["num_clips"]):
      mel = mel_power_spectrogram(signals[c], sample_rate, n_fft, hop, self.n_mels).T
      if mel.shape[0] >= self.fixed_length:
        mel = mel[:self.fixed_length]
      else:
        mel = np.pad(mel, ((0, self.fixed_length - mel.shape[0]), (0, 0)), mode="edge")
      mels.append(mel)
    results["audios"] = np.stack(mels).astype(np.float32, copy=False)
    return results

  def __repr__(self) -> str:
    return (f"{type(self).__name__}(window_size={self.window_size}, "
            f"step_size={self.step_size}, n_mels={self.n_mels}, "
            f"fixed_length={self.fixed_length})")
