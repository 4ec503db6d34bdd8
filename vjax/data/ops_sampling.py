"""Frame-index sampling ops: decide which frames to decode before decoding anything.

Index arithmetic follows MMAction2 0.24.1 exactly (including its integer
truncations and fallbacks), with ``np.random`` replaced by the pipeline's ``rng``.
"""

from __future__ import annotations

import warnings

import numpy as np

from vjax.data.ops_base import PIPELINES, as_rng


@PIPELINES.register
class SampleFrames:
  """Samples ``num_clips`` clips of ``clip_len`` frames, ``frame_interval`` apart.

  Sets ``frame_inds`` (int64, ``start_index``-based), ``clip_len``,
  ``frame_interval`` and ``num_clips``. Train mode jitters clip offsets within
  equal segments; test mode takes segment centres (``twice_sample`` also adds the
  segment starts, doubling the clips while ``num_clips`` keeps its configured
  value, as in MMAction2).

  ``frame_uniform=True`` (from the Video Swin fork of MMAction2, used for
  Something-Something) instead splits the whole video into ``clip_len`` equal
  segments and takes one frame from each: random in train mode, the middle in
  test mode; ``frame_interval``, jitter and ``out_of_bound_opt`` are then unused.
  """

  def __init__(self, clip_len, frame_interval=1, num_clips=1, temporal_jitter=False,
               twice_sample=False, out_of_bound_opt="loop", test_mode=False, start_index=None,
               keep_tail_frames=False, frame_uniform=False):
    if out_of_bound_opt not in ("loop", "repeat_last"):
      raise ValueError(
          f"out_of_bound_opt must be 'loop' or 'repeat_last', got {out_of_bound_opt!r}")
    self.clip_len = clip_len
    self.frame_interval = frame_interval
    self.num_clips = num_clips
    self.temporal_jitter = temporal_jitter
    self.twice_sample = twice_sample
    self.out_of_bound_opt = out_of_bound_opt
    self.test_mode = test_mode
    self.keep_tail_frames = keep_tail_frames
    self.frame_uniform = frame_uniform
    if start_index is not None:
      warnings.warn("SampleFrames(start_index=...) is ignored: the dataset sets "
                    "results['start_index'] (as in MMAction2 >= 0.6).")

  def _get_train_clips(self, num_frames: int, rng: np.random.Generator) -> np.ndarray:
    ori_clip_len = self.clip_len * self.frame_interval
    if self.keep_tail_frames:
      avg_interval = (num_frames - ori_clip_len + 1) / float(self.num_clips)
      if num_frames > ori_clip_len - 1:
        base_offsets = np.arange(self.num_clips) * avg_interval
        return (base_offsets + rng.uniform(0, avg_interval, self.num_clips)).astype(np.int64)
      return np.zeros((self.num_clips,), dtype=np.int64)
    avg_interval = (num_frames - ori_clip_len + 1) // self.num_clips
    if avg_interval > 0:
      base_offsets = np.arange(self.num_clips) * avg_interval
      return base_offsets + rng.integers(avg_interval, size=self.num_clips)
    if num_frames > max(self.num_clips, ori_clip_len):
      return np.sort(rng.integers(num_frames - ori_clip_len + 1, size=self.num_clips))
    if avg_interval == 0:
      ratio = (num_frames - ori_clip_len + 1.0) / self.num_clips
      return np.around(np.arange(self.num_clips) * ratio)
    return np.zeros((self.num_clips,), dtype=np.int64)

  def _get_test_clips(self, num_frames: int) -> np.ndarray:
    ori_clip_len = self.clip_len * self.frame_interval
    avg_interval = (num_frames - ori_clip_len + 1) / float(self.num_clips)
    if num_frames > ori_clip_len - 1:
      base_offsets = np.arange(self.num_clips) * avg_interval
      clip_offsets = (base_offsets + avg_interval / 2.0).astype(np.int64)
      if self.twice_sample:
        clip_offsets = np.concatenate([clip_offsets, base_offsets])
      return clip_offsets
    return np.zeros((self.num_clips,), dtype=np.int64)

  def _sample_clips(self, num_frames: int, rng: np.random.Generator) -> np.ndarray:
    if self.test_mode:
      return self._get_test_clips(num_frames)
    return self._get_train_clips(num_frames, rng)

  def _uniform_inds(self, num_frames: int, rng: np.random.Generator) -> np.ndarray:
    seg_size = float(num_frames - 1) / self.clip_len
    starts = np.round(seg_size * np.arange(self.clip_len)).astype(np.int64)
    ends = np.round(seg_size * np.arange(1, self.clip_len + 1)).astype(np.int64)
    clips = []
    for _ in range(self.num_clips):
      if self.test_mode:
        clips.append((starts + ends) // 2)
      else:
        clips.append(rng.integers(starts, ends + 1))
    return np.concatenate(clips)

  def __call__(self, results: dict, rng: np.random.Generator | None = None) -> dict:
    rng = as_rng(rng)
    total_frames = int(results["total_frames"])
    start_index = results["start_index"]
    if self.frame_uniform:
      frame_inds = self._uniform_inds(total_frames, rng) + start_index
    else:
      clip_offsets = self._sample_clips(total_frames, rng)
      frame_inds = (clip_offsets[:, None] +
                    np.arange(self.clip_len)[None, :] * self.frame_interval).reshape(-1)
      if self.temporal_jitter:
        frame_inds = frame_inds + rng.integers(self.frame_interval, size=len(frame_inds))
      frame_inds = frame_inds.reshape((-1, self.clip_len))
      if self.out_of_bound_opt == "loop":
        frame_inds = np.mod(frame_inds, total_frames)
      else:  # 'repeat_last': indices past the end repeat the clip's last valid index.
        safe = frame_inds < total_frames
        last = np.max(safe * frame_inds, axis=1)
        frame_inds = safe * frame_inds + ((1 - safe).T * last).T
      frame_inds = frame_inds.reshape(-1) + start_index
    results["frame_inds"] = frame_inds.astype(np.int64)
    results["clip_len"] = self.clip_len
    results["frame_interval"] = self.frame_interval
    results["num_clips"] = self.num_clips
    return results

  def __repr__(self) -> str:
    return (f"{type(self).__name__}(clip_len={self.clip_len}, "
            f"frame_interval={self.frame_interval}, num_clips={self.num_clips}, "
            f"temporal_jitter={self.temporal_jitter}, twice_sample={self.twice_sample}, "
            f"out_of_bound_opt={self.out_of_bound_opt!r}, test_mode={self.test_mode}, "
            f"keep_tail_frames={self.keep_tail_frames}, frame_uniform={self.frame_uniform})")


@PIPELINES.register
class DenseSampleFrames(SampleFrames):
  """Clips spread over a window of ``sample_range`` frames at a random (train) or
  ``num_sample_positions`` evenly spaced (test) start positions."""

  def __init__(self, *args, sample_range=64, num_sample_positions=10, **kwargs):
    super().__init__(*args, **kwargs)
    self.sample_range = sample_range
    self.num_sample_positions = num_sample_positions

  def _get_train_clips(self, num_frames, rng):
    sample_position = max(1, 1 + num_frames - self.sample_range)
    interval = self.sample_range // self.num_clips
    start_idx = 0 if sample_position == 1 else int(rng.integers(0, sample_position - 1))
    base_offsets = np.arange(self.num_clips) * interval
    return (base_offsets + start_idx) % num_frames

  def _get_test_clips(self, num_frames):
    sample_position = max(1, 1 + num_frames - self.sample_range)
    interval = self.sample_range // self.num_clips
    start_list = np.linspace(0, sample_position - 1, num=self.num_sample_positions, dtype=int)
    base_offsets = np.arange(self.num_clips) * interval
    return np.concatenate([(base_offsets + s) % num_frames for s in start_list])


@PIPELINES.register
class UntrimmedSampleFrames:
  """Covers a whole untrimmed video: one clip centred every ``frame_interval`` frames.

  Centres are ``frame_interval // 2``, then every ``frame_interval`` frames up
  to the end; each clip takes ``clip_len`` consecutive frames around its centre,
  clamped to the video. ``num_clips`` is set to the number of centres, so the
  clip count depends on the video length (feature extraction, not batching).
  """

  def __init__(self, clip_len=1, frame_interval=16, start_index=None):
    self.clip_len = clip_len
    self.frame_interval = frame_interval
    if start_index is not None:
      warnings.warn("UntrimmedSampleFrames(start_index=...) is ignored: the dataset sets "
                    "results['start_index'] (as in MMAction2 >= 0.6).")

  def __call__(self, results: dict, rng=None) -> dict:
    total_frames = int(results["total_frames"])
    centres = np.arange(self.frame_interval // 2, total_frames, self.frame_interval)
    if not len(centres):  # MMAction2 fails here too; an empty sample would fail later instead.
      raise ValueError(f"UntrimmedSampleFrames: a video of {total_frames} frames has no clip "
                       f"centre (the first is frame {self.frame_interval // 2})")
    half = self.clip_len // 2
    frame_inds = centres[:, None] + np.arange(-half, self.clip_len - half)[None, :]
    frame_inds = np.clip(frame_inds, 0, total_frames - 1).reshape(-1) + results["start_index"]
    results["frame_inds"] = frame_inds.astype(np.int64)
    results["clip_len"] = self.clip_len
    results["frame_interval"] = self.frame_interval
    results["num_clips"] = len(centres)
    return results

  def __repr__(self) -> str:
    return (f"{type(self).__name__}(clip_len={self.clip_len}, "
            f"frame_interval={self.frame_interval})")


def _randint(rng, high) -> np.ndarray:
  """Ints in ``[0, high)`` from a ``Generator`` (training) or a ``RandomState`` (test mode)."""
  if isinstance(rng, np.random.Generator):
    return rng.integers(high)
  return rng.randint(high)


def _spread_clip(num_frames: int, clip_len: int, rng) -> np.ndarray:
  """``clip_len`` increasing indices spread over ``num_frames >= clip_len`` frames.

  Below ``2 * clip_len`` frames the clip is consecutive frames with the surplus
  frames skipped at random places; otherwise one random frame is taken from
  each of ``clip_len`` equal segments.
  """
  if num_frames < 2 * clip_len:
    skipped = rng.choice(clip_len + 1, num_frames - clip_len, replace=False)
    step = np.zeros(clip_len + 1, dtype=np.int64)
    step[skipped] = 1
    return np.arange(clip_len) + np.cumsum(step)[:-1]
  bounds = np.arange(clip_len + 1) * num_frames // clip_len
  return bounds[:-1] + _randint(rng, np.diff(bounds))


@PIPELINES.register
class UniformSampleFrames:
  """The skeleton (PoseC3D / ST-GCN) sampler: one frame from each of ``clip_len`` segments.

  Videos shorter than ``clip_len`` loop (indices are taken modulo the length).
  Test mode draws from a private ``np.random.RandomState(seed)`` re-created on
  every call, so a video always gets the same clips; the draws are the ones
  MMAction2 makes after ``np.random.seed(seed)``, but the global numpy state is
  left alone. In test mode, clips of a video shorter than ``clip_len`` start at
  evenly spaced frames. Sets ``frame_interval=None``.

  Unlike MMAction2 (which asserts ``num_clips == 1`` when training), training
  with ``num_clips > 1`` draws that many independent clips.
  """

  def __init__(self, clip_len, num_clips=1, test_mode=False, seed=255):
    self.clip_len = clip_len
    self.num_clips = num_clips
    self.test_mode = test_mode
    self.seed = seed

  def _get_train_clips(self, num_frames: int, rng: np.random.Generator) -> np.ndarray:
    clips = []
    for _ in range(self.num_clips):
      if num_frames < self.clip_len:
        start = int(rng.integers(0, num_frames))
        clips.append(np.arange(start, start + self.clip_len))
      else:
        clips.append(_spread_clip(num_frames, self.clip_len, rng))
    return np.concatenate(clips)

  def _get_test_clips(self, num_frames: int) -> np.ndarray:
    rng = np.random.RandomState(self.seed)  # pylint: disable=no-member
    if num_frames < self.clip_len:
      if num_frames < self.num_clips:
        starts = range(self.num_clips)
      else:
        starts = [i * num_frames // self.num_clips for i in range(self.num_clips)]
      return np.concatenate([np.arange(s, s + self.clip_len) for s in starts])
    return np.concatenate(
        [_spread_clip(num_frames, self.clip_len, rng) for _ in range(self.num_clips)])

  def __call__(self, results: dict, rng: np.random.Generator | None = None) -> dict:
    num_frames = int(results["total_frames"])
    if self.test_mode:
      inds = self._get_test_clips(num_frames)
    else:
      inds = self._get_train_clips(num_frames, as_rng(rng))
    inds = np.mod(inds, num_frames) + results["start_index"]
    results["frame_inds"] = inds.astype(np.int64)
    results["clip_len"] = self.clip_len
    results["frame_interval"] = None
    results["num_clips"] = self.num_clips
    return results

  def __repr__(self) -> str:
    return (f"{type(self).__name__}(clip_len={self.clip_len}, num_clips={self.num_clips}, "
            f"test_mode={self.test_mode}, seed={self.seed})")
