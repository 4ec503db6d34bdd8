"""Dataset wrappers: ``RepeatDataset`` and ``ConcatDataset`` over other sources."""

from __future__ import annotations

from typing import Any

import numpy as np

from vjax.data.sources.base import (DATASETS, build_child, describe_in, sample_from,
                                    weights_of)
from vjax.registry import to_dict


def _child_with_test_mode(cfg, test_mode: bool):
  # Only set when asked: TFDSDataset has no test_mode argument.
  if test_mode and hasattr(cfg, "get"):
    return dict(to_dict(cfg), test_mode=True)
  return cfg


@DATASETS.register
class RepeatDataset:
  """``dataset`` repeated ``times`` times, so one epoch is ``times`` passes over it
  (fewer, longer epochs for small datasets); ``dataset`` is a config or a source."""

  def __init__(self, dataset, times: int, test_mode: bool = False):
    if int(times) < 1:
      raise ValueError(f"RepeatDataset: times must be >= 1, got {times}")
    self.dataset = build_child(_child_with_test_mode(dataset, test_mode))
    self.times = int(times)
    self.test_mode = test_mode
    self._size = len(self.dataset)

  def __len__(self) -> int:
    return self.times * self._size

  def __getitem__(self, index: int) -> dict:
    return self.dataset[int(index) % self._size]

  def sample(self, index: int, rng) -> dict:
    return sample_from(self.dataset, int(index) % self._size, rng)

  def sample_weights(self) -> np.ndarray | None:
    weights = weights_of(self.dataset)
    return None if weights is None else np.tile(weights, self.times) / self.times

  def describe(self, index: int) -> str:
    return describe_in(self.dataset, int(index) % self._size)


@DATASETS.register
class ConcatDataset:
  """``datasets`` (configs or sources) one after another, indexed as one source.

  With ``sample_by_class`` on some children, each child keeps its share
  ``len(child) / len(self)`` of the draws and spreads it by its own weights.
  """

  def __init__(self, datasets, test_mode: bool = False):
    if not datasets:
      raise ValueError("ConcatDataset needs at least one dataset")
    self.datasets = [build_child(_child_with_test_mode(d, test_mode)) for d in datasets]
    self.test_mode = test_mode
    self.lens = [len(d) for d in self.datasets]
    self.cumsum = np.cumsum(self.lens)

  def __len__(self) -> int:
    return int(self.cumsum[-1])

  def _locate(self, index: int) -> tuple[Any, int]:
    index = int(index)
    if not 0 <= index < len(self):
      raise IndexError(f"index {index} out of range for a ConcatDataset of {len(self)}")
    which = int(np.searchsorted(self.cumsum, index, side="right"))
    return self.datasets[which], index - (int(self.cumsum[which - 1]) if which else 0)

  def __getitem__(self, index: int) -> dict:
    dataset, inner = self._locate(index)
    return dataset[inner]

  def sample(self, index: int, rng) -> dict:
    dataset, inner = self._locate(index)
    return sample_from(dataset, inner, rng)

  def sample_weights(self) -> np.ndarray | None:
    weights = [weights_of(d) for d in self.datasets]
    if all(w is None for w in weights):
      return None
    total = len(self)
    return np.concatenate([(np.full(n, 1.0 / n) if w is None else w) * (n / total)
                           for w, n in zip(weights, self.lens) if n])

  def describe(self, index: int) -> str:
    dataset, inner = self._locate(index)
    return describe_in(dataset, inner)

  @property
  def video_infos(self) -> list:
    """The children's per-video infos in index order (localization evaluators read them)."""
    missing = [type(d).__name__ for d in self.datasets if not hasattr(d, "video_infos")]
    if missing:
      raise AttributeError(f"ConcatDataset: {missing} have no video_infos")
    return [info for d in self.datasets for info in d.video_infos]
