"""TSMHead: per-frame classifier, then the average over each video's segments."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import flax.linen as nn
import jax.numpy as jnp

from vjax.models.builder import MODELS
from vjax.models.heads.base import avg_consensus, classifier, spatial_pool


@MODELS.register
class TSMHead(nn.Module):
  """Scores rows of ``num_segments`` frames (``num_segments // 2`` after the backbone's
  temporal pool), not the recognizer's ``num_segs``: a test batch with several clips of
  ``num_segments`` frames then gives one row per clip, averaged later as views."""

  num_classes: int
  in_channels: int
  num_segments: int = 8
  loss_cls: Mapping[str, Any] | None = None
  spatial_type: str = "avg"
  consensus: Mapping[str, Any] | None = None
  dropout_ratio: float = 0.8
  init_std: float = 0.001
  is_shift: bool = True
  temporal_pool: bool = False
  multi_class: bool = False
  label_smooth_eps: float = 0.0
  topk: Sequence[int] | int = (1, 5)
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, num_segs: int | None = None, train: bool = False):
    """x: (N * frames, H, W, C) -> (N * frames / segments, num_classes)."""
    scores = classifier(spatial_pool(x, self.spatial_type), self.num_classes, self.init_std,
                        self.dropout_ratio, train, self.dtype)
    segments = self.num_segments // 2 if self.is_shift and self.temporal_pool else self.num_segments
    return avg_consensus(scores.reshape((-1, segments, self.num_classes)), self.consensus)
