"""Frame-index sampling ops: decide which frames to decode before decoding anything.

Index arithmetic follows MMAction2 0.24.1 exactly (including its integer
truncations and fallbacks), with ``np.random`` replaced by the pipeline's ``rng``.
"""

from __future__ import annotations

import warnings

import numpy as np

from vjax.data.pipeline import PIPELINES, as_rng


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
