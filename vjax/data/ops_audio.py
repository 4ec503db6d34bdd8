"""Audio-feature ops: offline spectrogram features (``.npy``, rows = time, columns =
frequency bins) cut into clips that follow the sampled video frames.

MMAction2 indexes audio with the same ``SampleFrames`` as video: ``frame_inds`` are video
frame numbers, and ``AudioFeatureSelector`` maps each clip's first and last frame to rows of
the feature map by their fraction of ``total_frames``. ``FormatAudioShape`` keeps MMAction2's
format name but, like ``FormatShape``, puts channels last.
"""

from __future__ import annotations

import os.path as osp
import warnings

import numpy as np

from vjax.data.pipeline import PIPELINES, as_rng

# MMAction2's stand-in for a missing feature file: 10 s of a 64-row/s, 80-bin spectrogram.
MISSING_SHAPE = (640, 80)


@PIPELINES.register
class LoadAudioFeature:
  """Loads ``results['audio_path']`` into ``audios`` (float32 (length, bins)) and sets
  ``length``. A missing file stands for a video without an audio stream, as in MMAction2:
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
    length, total = results["length"], results["total_frames"]
    inds = np.asarray(results["frame_inds"]).reshape(results["num_clips"], -1)
    clips = np.zeros((len(inds), self.fixed_length) + audio.shape[1:], audio.dtype)
    for c, clip_inds in enumerate(inds):
      start = max(0, int(round((int(clip_inds[0]) + 1) / total * length)))
      end = min(length, int(round((int(clip_inds[-1]) + 1) / total * length)))
      cut = audio[start:end][:self.fixed_length]
      clips[c, :len(cut)] = cut
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
