"""Procedural untrimmed-video features with planted actions, for temporal localization.

A video is ``temporal_dim`` feature steps (as ActivityNet's features rescaled to 100 steps)
of ``feat_dim`` values. Outside actions a step is the dataset's background pattern; inside an
action of class ``c`` it is class ``c``'s pattern (the patterns are orthogonal directions),
modulated along the action, with a ramp of 1.5 to 4 steps at its onset and offset. Every step
also carries a per-video offset, temporally smooth noise and white noise, so that one step
alone is often misread but a few neighbours tell background from action, and a boundary is
found from the change in local context. Short distractor bursts (1-2 steps of some class's
pattern, weaker, in the background) are not actions: a detector must look at duration too.

Actions: 1 to ``max_segments`` per video (1: 50 %, 2: 30 %, 3: 20 %), non-overlapping, each
4 % to ``70 % / n`` of the video (log-uniform: short actions are common, as they make
localization hard), separated by at least 3 %. Times are drawn as fractions of
the featured span and written in seconds of it (``feature_frame / duration_frame *
duration_second``), so ``GenerateLocalizationLabels`` gives back the drawn fractions.

How hard that is (preset 'small': 400 training and 50 validation videos; AR@AN with 100
proposals per video): 100 random proposals reach AR@100 about 0.5 (AUC 34); a ridge
regression of action / start / end from 7 steps of context, its proposals scored start x end
x mean action, reaches 0.85 (AUC 76) (tests/builders/test_localization_builders.py checks
it). The nearest pattern labels 79 % of single steps right, 92 % after averaging 5 steps.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

FPS_CHOICES = (24.0, 25.0, 29.97, 30.0)
SEGMENT_COUNT_PROBS = (0.5, 0.3, 0.2)
MIN_LENGTH, MAX_TOTAL, MIN_GAP = 0.04, 0.7, 0.03
RAMP_STEPS = (1.5, 4.0)  # onset / offset transition widths, in feature steps
PATTERN_SCALE = 2.0  # norm of each class / background pattern
WHITE_NOISE, SMOOTH_NOISE, SMOOTH_STEPS, VIDEO_OFFSET = 0.7, 0.4, 3.0, 0.3
DRIFT = 0.6  # within-action modulation along a second direction
BURSTS_PER_VIDEO, BURST_AMPLITUDE = 1.5, 0.8


def class_names(num_classes: int) -> tuple[str, ...]:
  return tuple(f"action_{k}" for k in range(num_classes))


class VideoSpec(NamedTuple):
  """What a video holds: its durations (MMAction2's annotation fields) and its actions as
  ``(start, end, class)`` with start / end fractions of the featured span."""
  duration_second: float
  duration_frame: int
  feature_frame: int
  fps: float
  segments: tuple[tuple[float, float, int], ...]

  @property
  def featured_seconds(self) -> float:
    """The seconds the features cover (MMAction2's ``corrected_second``)."""
    return float(self.feature_frame) / self.duration_frame * self.duration_second


def patterns(seed: int, num_classes: int, feat_dim: int) -> np.ndarray:
  """``(num_classes + 1, feat_dim)`` float64: row 0 the background pattern, row 1 + c class
  c's, orthogonal where ``feat_dim`` allows, each of norm ``PATTERN_SCALE``; the same for
  every split of a dataset (they depend on ``seed`` only)."""
  rng = np.random.default_rng(np.random.SeedSequence([seed, 7919]))
  raw = rng.normal(size=(feat_dim, num_classes + 1))
  if num_classes + 1 <= feat_dim:
    raw = np.linalg.qr(raw)[0]
  rows = raw.T
  return PATTERN_SCALE * rows / np.linalg.norm(rows, axis=1, keepdims=True)


def draw_spec(rng: np.random.Generator, num_classes: int, max_segments: int) -> VideoSpec:
  duration_second = round(float(rng.uniform(30, 240)), 2)
  fps = float(rng.choice(FPS_CHOICES))
  duration_frame = int(duration_second * fps)
  feature_frame = duration_frame // 16 * 16
  probs = np.asarray(SEGMENT_COUNT_PROBS[:max_segments], np.float64)
  n = int(rng.choice(len(probs), p=probs / probs.sum())) + 1
  lengths = np.exp(rng.uniform(np.log(MIN_LENGTH), np.log(MAX_TOTAL / n), size=n))
  free = 1.0 - lengths.sum() - MIN_GAP * (n - 1)
  gaps = rng.dirichlet(np.ones(n + 1)) * free
  segments, t = [], 0.0
  for i in range(n):
    t += gaps[i] + (MIN_GAP if i else 0.0)
    segments.append((float(t), float(t + lengths[i]), int(rng.integers(num_classes))))
    t += lengths[i]
  return VideoSpec(duration_second, duration_frame, feature_frame, fps, tuple(segments))


def _ramp(u: np.ndarray, start: float, end: float, on: float, off: float) -> np.ndarray:
  """Activation in [0, 1] at step centres ``u``: 1 inside [start, end], linear ramps of width
  ``on`` / ``off`` (fractions) centred on the boundaries."""
  return (np.clip((u - start) / on + 0.5, 0, 1) * np.clip((end - u) / off + 0.5, 0, 1))


def _smooth_noise(rng: np.random.Generator, temporal_dim: int, feat_dim: int) -> np.ndarray:
  white = rng.normal(size=(temporal_dim + 8 * int(SMOOTH_STEPS), feat_dim))
  half = 4 * int(SMOOTH_STEPS)
  kernel = np.exp(-0.5 * (np.arange(-half, half + 1) / SMOOTH_STEPS) ** 2)
  kernel /= np.sqrt((kernel ** 2).sum())  # unit variance after filtering
  smooth = np.stack([np.convolve(white[:, j], kernel, mode="valid") for j in range(feat_dim)], 1)
  return smooth[:temporal_dim]


def generate_video(seed_or_rng, pattern_rows: np.ndarray, *, temporal_dim: int = 100,
                   max_segments: int = 3) -> tuple[np.ndarray, VideoSpec]:
  """One video: (float32 features ``(temporal_dim, feat_dim)``, its ``VideoSpec``);
  ``pattern_rows`` from ``patterns``. The same seed and arguments give the same video."""
  rng = np.random.default_rng(seed_or_rng)
  num_classes, feat_dim = pattern_rows.shape[0] - 1, pattern_rows.shape[1]
  spec = draw_spec(rng, num_classes, max_segments)
  u = (np.arange(temporal_dim) + 0.5) / temporal_dim
  x = np.zeros((temporal_dim, feat_dim))
  total = np.zeros(temporal_dim)
  for start, end, c in spec.segments:
    on, off = rng.uniform(*RAMP_STEPS, size=2) / temporal_dim
    a = _ramp(u, start, end, on, off)
    drift_dir = rng.normal(size=feat_dim)
    drift_dir *= PATTERN_SCALE / np.linalg.norm(drift_dir)
    phase = (u - start) / max(end - start, 1e-6)
    drift = DRIFT * np.sin(2 * np.pi * rng.uniform(0.5, 1.5) * phase + rng.uniform(0, 6.3))
    amplitude = rng.uniform(0.8, 1.2)
    x += a[:, None] * (amplitude * pattern_rows[1 + c] + drift[:, None] * drift_dir)
    total += a
  for _ in range(int(rng.poisson(BURSTS_PER_VIDEO))):
    at, width = int(rng.integers(temporal_dim)), int(rng.integers(1, 3))
    steps = np.arange(at, min(at + width, temporal_dim))
    if total[max(at - 2, 0):at + width + 2].any():
      continue  # only in the background, clear of actions
    x[steps] += BURST_AMPLITUDE * pattern_rows[1 + int(rng.integers(num_classes))]
  x += (1 - np.minimum(total, 1))[:, None] * pattern_rows[0]
  x += VIDEO_OFFSET * rng.normal(size=feat_dim)
  x += SMOOTH_NOISE * _smooth_noise(rng, temporal_dim, feat_dim)
  x += WHITE_NOISE * rng.normal(size=x.shape)
  return x.astype(np.float32), spec


def video_info(spec: VideoSpec, names: tuple[str, ...]) -> dict:
  """The video's entry in MMAction2's ``anet_anno_*.json`` layout (segments in seconds)."""
  seconds = spec.featured_seconds
  return {"duration_second": spec.duration_second, "duration_frame": spec.duration_frame,
          "annotations": [{"segment": [start * seconds, end * seconds], "label": names[c]}
                          for start, end, c in spec.segments],
          "feature_frame": spec.feature_frame, "fps": spec.fps, "rfps": spec.fps}
