"""``SampleProposalFrames``: MMAction2 0.24.1's frame sampling for SSN, from proposals.

Train and val mode sample, for each proposal of ``results['out_proposals']`` (``(P, 2)``
``[start_frame, end_frame)`` rows, as ``SSNDataset`` draws them), ``aug_segments[0]`` clips in
the augmented stretch before it, ``body_segments`` inside it and ``aug_segments[1]`` after it:
random offsets within equal segments (train) or segment centres (val). Test mode samples a
clip every ``test_interval`` frames of the whole video (``results['test_tick_range']``, set by
a test-mode ``SSNDataset`` that splits videos into chunks, keeps one chunk of those ticks).
Index arithmetic follows MMAction2 exactly, with ``np.random`` replaced by the pipeline's rng.
"""

from __future__ import annotations

import numpy as np

from vjax.data.ops_base import PIPELINES, as_rng


def aug_ratio_pair(aug_ratio) -> tuple[float, float]:
  """``aug_ratio`` as MMAction2's ``_pair``: a number twice, or a pair of numbers."""
  pair = tuple(aug_ratio) if isinstance(aug_ratio, (tuple, list)) else (aug_ratio, aug_ratio)
  if len(pair) != 2 or not all(isinstance(r, (int, float)) and not isinstance(r, bool)
                               for r in pair):
    raise TypeError(f"aug_ratio should be int, float or tuple of int and float, but got "
                    f"{aug_ratio!r}")
  return pair


def _train_indices(valid_length: int, num_segments: int, rng) -> np.ndarray:
  avg_interval = (valid_length + 1) // num_segments
  if avg_interval > 0:
    return np.arange(num_segments) * avg_interval + rng.integers(avg_interval, size=num_segments)
  return np.zeros((num_segments,), dtype=np.int64)


def _val_indices(valid_length: int, num_segments: int) -> np.ndarray:
  if valid_length >= num_segments:
    avg_interval = valid_length / float(num_segments)
    return (np.arange(num_segments) * avg_interval + avg_interval / 2.0).astype(np.int64)
  return np.zeros((num_segments,), dtype=np.int64)


def test_clip_offsets(num_frames: int, clip_len: int, frame_interval: int,
                      test_interval: int) -> np.ndarray:
  """The test-mode clip starts: every ``test_interval`` frames up to the last full clip
  (``SSNDataset`` counts its ticks the same way)."""
  return np.arange(0, num_frames - clip_len * frame_interval, test_interval, dtype=np.int64)


@PIPELINES.register
class SampleProposalFrames:
  """Sets ``frame_inds`` (int64, ``start_index``-based), ``clip_len``, ``frame_interval``,
  ``num_clips`` (segments per proposal) and, in train/val mode, ``num_proposals``."""

  def __init__(self, clip_len, body_segments, aug_segments, aug_ratio, frame_interval=1,
               test_interval=6, temporal_jitter=False, mode="train"):
    self.clip_len = clip_len
    self.frame_interval = frame_interval
    self.temporal_jitter = temporal_jitter
    self.body_segments = body_segments
    self.aug_segments = tuple(aug_segments)
    self.aug_ratio = aug_ratio_pair(aug_ratio)
    if mode not in ("train", "val", "test"):
      raise ValueError(f"SampleProposalFrames: mode must be 'train', 'val' or 'test', got "
                       f"{mode!r}")
    self.mode = mode
    self.test_interval = test_interval

  def _proposal_clips(self, start_frame: int, end_frame: int, num_frames: int, rng):
    ori_clip_len = self.clip_len * self.frame_interval
    duration = end_frame - start_frame
    if duration == 0:
      raise ValueError(f"proposal [{start_frame}, {end_frame}) is empty")
    valid_length = duration - ori_clip_len
    valid_starting = max(0, start_frame - int(duration * self.aug_ratio[0]))
    valid_ending = min(num_frames - ori_clip_len + 1,
                       end_frame - 1 + int(duration * self.aug_ratio[1]))
    valid_starting_length = start_frame - valid_starting - ori_clip_len
    valid_ending_length = (valid_ending - end_frame + 1) - ori_clip_len
    if self.mode == "train":
      sample = lambda length, n: _train_indices(length, n, rng)  # noqa: E731
    else:
      sample = _val_indices
    return np.concatenate((sample(valid_starting_length, self.aug_segments[0]) + valid_starting,
                           sample(valid_length, self.body_segments) + start_frame,
                           sample(valid_ending_length, self.aug_segments[1]) + end_frame))

  def __call__(self, results: dict, rng: np.random.Generator | None = None) -> dict:
    rng = as_rng(rng)
    total_frames = int(results["total_frames"])
    if self.mode == "test":
      offsets = test_clip_offsets(total_frames, self.clip_len, self.frame_interval,
                                  self.test_interval)
      tick_range = results.get("test_tick_range")
      if tick_range is not None:
        start, stop, total = (int(x) for x in tick_range)
        if len(offsets) != total:
          raise ValueError(
              f"SampleProposalFrames(test_interval={self.test_interval}) samples "
              f"{len(offsets)} ticks of this video but the dataset counted {total}: set the "
              "dataset's test_cfg.ssn.sampler.test_interval to the same value")
        offsets = offsets[start:stop]
    else:
      proposals = np.asarray(results["out_proposals"], np.int64).reshape(-1, 2)
      offsets = np.concatenate([self._proposal_clips(int(s), int(e), total_frames, rng)
                                for s, e in proposals]) if len(proposals) else np.zeros(0, int)
    frame_inds = (offsets[:, None] + np.arange(self.clip_len)[None, :] * self.frame_interval
                  ).reshape(-1)
    if self.temporal_jitter:
      frame_inds = frame_inds + rng.integers(self.frame_interval, size=len(frame_inds))
    results["frame_inds"] = (np.mod(frame_inds, total_frames) +
                             results["start_index"]).astype(np.int64)
    results["clip_len"] = self.clip_len
    results["frame_interval"] = self.frame_interval
    results["num_clips"] = self.body_segments + self.aug_segments[0] + self.aug_segments[1]
    if self.mode in ("train", "val"):
      results["num_proposals"] = len(np.asarray(results["out_proposals"]).reshape(-1, 2))
    return results

  def __repr__(self) -> str:
    return (f"{type(self).__name__}(clip_len={self.clip_len}, "
            f"body_segments={self.body_segments}, aug_segments={self.aug_segments}, "
            f"aug_ratio={self.aug_ratio}, frame_interval={self.frame_interval}, "
            f"test_interval={self.test_interval}, temporal_jitter={self.temporal_jitter}, "
            f"mode={self.mode!r})")
