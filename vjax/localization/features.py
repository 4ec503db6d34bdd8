"""Video -> feature sequence -> fixed-length sequence: what temporal localization reads.

Localizers (BMN, BSN) take a video as a (T, C) sequence of clip features rescaled to
``temporal_dim`` steps. The feature-extraction tools and the single-video ``localize`` chain
share these functions:

* ``clip_frame_indices``: the clips covering an untrimmed video, MMAction2's
  ``UntrimmedSampleFrames`` (centres every ``clip_interval`` frames, ``clip_len`` frames
  ``frame_interval`` apart around each; 1.x's names, 0.24.1's sampler is
  ``frame_interval=1, clip_interval=<its frame_interval>``);
* ``untrimmed_pipeline``: a recognizer's test pipeline made untrimmed (the sampler taken out,
  multi-crop testing reduced to its centre crop, as MMAction2's clip-level extraction runs it);
* ``video_features``: one video's (num_clips, C) pooled backbone features (or per-clip head
  scores, as ActivityNet's TSN features are), batched through one jitted forward of fixed
  shape, so a run compiles once;
* ``rescale_features``: MMAction2's ``pool_feature`` (activitynet_feature_postprocessing.py):
  linear interpolation at ``num_sample_bins`` points per output step, mean- or max-pooled.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable

import jax
import numpy as np

from vjax.data.pipeline import Compose
from vjax.data.video_inputs import pipeline_inputs, split_config

__all__ = ["clip_frame_indices", "rescale_features", "untrimmed_pipeline", "video_features"]

# UntrimmedSampleFrames' default clip spacing (MMAction2 0.24.1 and 1.x), BMN's
# feature_extraction_interval.
DEFAULT_CLIP_INTERVAL = 16
# Frames decoded per pipeline call: bounds host memory on long videos. OpenCV decodes each
# call's frames in one forward pass from the start, so fewer calls also decode less.
_DECODE_FRAMES = 1024
_MULTI_CROPS = ("ThreeCrop", "TenCrop")


def clip_frame_indices(total_frames: int, clip_len: int = 1, frame_interval: int = 1,
                       clip_interval: int = DEFAULT_CLIP_INTERVAL) -> np.ndarray:
  """(num_clips, clip_len) 0-based frame indices of the clips covering a video.

  Centres at ``clip_interval // 2``, then every ``clip_interval`` frames before the end; each
  clip takes ``clip_len`` frames ``frame_interval`` apart, ``clip_len // 2`` of them before
  the centre; indices are clamped to the video. No clip when the video ends before the first
  centre (an empty (0, clip_len) array).
  """
  for name, value in (("clip_len", clip_len), ("frame_interval", frame_interval),
                      ("clip_interval", clip_interval)):
    if int(value) < 1:
      raise ValueError(f"{name} must be >= 1, got {value}")
  centres = np.arange(clip_interval // 2, total_frames, clip_interval)
  offsets = (np.arange(clip_len) - clip_len // 2) * frame_interval
  return np.clip(centres[:, None] + offsets[None, :], 0, max(total_frames - 1, 0)).astype(np.int64)


def untrimmed_pipeline(ops: list[dict]) -> tuple[list[dict], list[dict], dict]:
  """Splits a test pipeline around its frame sampler: (ops before it, e.g. the decoder's
  Init; ops after it, ThreeCrop/TenCrop replaced by a CenterCrop of their size; the sampler's
  clip settings as ``clip_len / frame_interval / clip_interval`` defaults)."""
  at = [i for i, op in enumerate(ops) if op["type"].endswith("SampleFrames")]
  if not at:
    raise ValueError(f"the test pipeline has no frame sampler (*SampleFrames op) to replace: "
                     f"{[op['type'] for op in ops]}")
  sampler = ops[at[0]]
  if sampler["type"] == "UntrimmedSampleFrames":  # 0.24.1: its frame_interval spaces clips
    defaults = dict(clip_len=sampler.get("clip_len", 1), frame_interval=1,
                    clip_interval=sampler.get("frame_interval", DEFAULT_CLIP_INTERVAL))
  else:
    defaults = dict(clip_len=sampler.get("clip_len", 1),
                    frame_interval=sampler.get("frame_interval", 1),
                    clip_interval=DEFAULT_CLIP_INTERVAL)
  tail = [dict(type="CenterCrop", crop_size=op["crop_size"]) if op["type"] in _MULTI_CROPS
          else op for op in ops[at[0] + 1:]]
  return list(ops[:at[0]]), tail, defaults


# One jitted forward per (recognizer, output): every call of a run reuses its compilation.
_FORWARDS: "weakref.WeakKeyDictionary[Any, dict[str, Callable]]" = weakref.WeakKeyDictionary()


def _forward(recognizer, output: str) -> Callable:
  fns = _FORWARDS.setdefault(recognizer, {})
  if output not in fns:
    predictors = recognizer.task.predictors()
    if output not in predictors:
      raise ValueError(f"output must be one of {sorted(predictors)}, got {output!r}")
    predict, model, key = predictors[output], recognizer.model, recognizer.input_key

    def forward(variables, x):
      out = predict(model, variables, {key: x})
      return out.get("features", out.get("scores"))

    fns[output] = jax.jit(forward)
  return fns[output]


def video_features(recognizer, video, *, clip_len: int | None = None,
                   frame_interval: int | None = None, clip_interval: int | None = None,
                   batch_size: int = 16, output: str = "features", split: dict | None = None,
                   ) -> np.ndarray:
  """(num_clips, C) float32: one row per clip of ``clip_frame_indices`` over the whole video.

  ``recognizer``: a ``vjax.inference.Recognizer``; ``video``: what ``vjax.inference`` takes
  (a file, a rawframe folder, a (T, H, W, C) array or a results dict). Clips go through the
  test pipeline (``split``, default the config's ``data.test``) made untrimmed; unset clip
  settings come from its sampler (``clip_interval``: 16 unless it is an
  ``UntrimmedSampleFrames``). ``output='features'``: the backbone's pooled features, averaged
  over a clip's frames for 2D recognizers (MMAction2's ``feature_extraction``, no head);
  ``'predict'``: the task's predictions per clip (head scores after ``average_clips``).
  Clips go through the model ``batch_size`` at a time, the last batch zero-padded.
  """
  split = split_config(recognizer.config) if split is None else split
  data, ops = pipeline_inputs(recognizer.config, video, split)
  head, tail, defaults = untrimmed_pipeline(ops)
  clip_len = clip_len or defaults["clip_len"]
  frame_interval = frame_interval or defaults["frame_interval"]
  clip_interval = clip_interval or defaults["clip_interval"]
  if batch_size < 1:
    raise ValueError(f"batch_size must be >= 1, got {batch_size}")
  rng = np.random.default_rng(0)
  opened = Compose(head)(dict(data, label=data.get("label", -1)), rng)
  total = int(opened["total_frames"])
  clips = clip_frame_indices(total, clip_len, frame_interval, clip_interval)
  if not len(clips):
    raise ValueError(f"{_name(video)}: a video of {total} frames has no clip (the first is "
                     f"centred on frame {clip_interval // 2}); lower clip_interval")
  forward = _forward(recognizer, output)
  per_decode = batch_size * max(1, _DECODE_FRAMES // (batch_size * clip_len))
  rows = []
  for start in range(0, len(clips), per_decode):
    chunk = clips[start:start + per_decode]
    results = opened if start == 0 else Compose(head)(dict(data, label=data.get("label", -1)),
                                                      rng)
    results.update(frame_inds=chunk.reshape(-1) + results.get("start_index", 0),
                   clip_len=clip_len, frame_interval=frame_interval, num_clips=len(chunk))
    imgs = np.asarray(Compose(tail)(results, rng)[recognizer.input_key])
    # Views first: every clip gave the same number of rows (its frames, or one clip).
    imgs = imgs.reshape((len(chunk), -1) + imgs.shape[1:])
    for b in range(0, len(imgs), batch_size):
      batch = imgs[b:b + batch_size]
      pad = np.zeros((batch_size - len(batch),) + batch.shape[1:], batch.dtype)
      out = forward(recognizer.variables, np.concatenate([batch, pad]))
      rows.append(np.asarray(out, np.float32)[:len(batch)])
  return np.concatenate(rows)


def _name(video) -> str:
  if isinstance(video, dict):
    return str(video.get("filename", video.get("frame_dir", "video")))
  if isinstance(video, np.ndarray):
    return f"video array {video.shape}"
  return str(video)


def rescale_features(features, temporal_dim: int = 100, *, num_sample_bins: int = 3,
                     pool_type: str = "mean") -> np.ndarray:
  """(T, C) -> (temporal_dim, C), MMAction2's ``pool_feature`` value for value (float64).

  The sequence is a piecewise-linear function of the clip index on [0, T - 1]; output step
  ``k`` pools (``mean`` or ``max``) its values at ``num_sample_bins`` points spread over the
  k-th of ``temporal_dim`` equal bins of [1e-4, T - 1 - 1e-4]. The arithmetic follows
  scipy's ``interp1d`` (float differences in the input's dtype, then float64) and
  MMAction2's accumulated bin starts, so the results are bitwise MMAction2's. A single clip
  is repeated (MMAction2 keeps its dtype there; the values are the same).
  """
  data = np.asarray(features)
  if data.ndim != 2 or not len(data):
    raise ValueError(f"features must be a non-empty (T, C) array, got shape {data.shape}")
  if pool_type not in ("mean", "max"):
    raise NotImplementedError(f"Unsupported pool type {pool_type!r}: 'mean' or 'max'")
  if len(data) == 1:
    return np.repeat(data, temporal_dim, axis=0).astype(np.float64)
  if not np.issubdtype(data.dtype, np.inexact):
    data = data.astype(np.float64)
  eps = 1e-4
  start, end = eps, len(data) - 1 - eps
  anchor_size = (end - start) / temporal_dim
  points, ptr = [], start
  for _ in range(temporal_dim):  # the running sum, not start + k * size, as MMAction2
    points.extend(ptr + i / num_sample_bins * anchor_size for i in range(num_sample_bins))
    ptr += anchor_size
  x_new = np.asarray(points, np.float64)
  hi = np.searchsorted(np.arange(len(data)), x_new).clip(1, len(data) - 1)
  lo = hi - 1
  slope = (data[hi] - data[lo]) / (hi - lo)[:, None]
  values = slope * (x_new - lo)[:, None] + data[lo]
  values = values.reshape(temporal_dim, num_sample_bins, -1)
  return values.mean(axis=1) if pool_type == "mean" else values.max(axis=1)
