"""TSNHead: spatial pooling per segment, segment consensus, then a linear classifier."""

from __future__ import annotations

from typing import Any, Mapping

import flax.linen as nn
import jax.numpy as jnp

from vjax.models.builder import MODELS
from vjax.models.heads.base import classifier


@MODELS.register
class TSNHead(nn.Module):
  num_classes: int
  in_channels: int
  loss_cls: Mapping[str, Any] = None
  spatial_type: str = "avg"
  consensus: Mapping[str, Any] = None  # dict(type='AvgConsensus', dim=1)
  dropout_ratio: float = 0.4
  init_std: float = 0.01
  multi_class: bool = False
  label_smooth_eps: float = 0.0
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, num_segs: int, train: bool = False):
    """x: (N * num_segs, H, W, C) or (N * num_segs, C) -> (N, num_classes)."""
    if x.ndim == 4:
      if self.spatial_type != "avg":
        raise ValueError(f"spatial_type must be 'avg' for 4D features, got {self.spatial_type!r}")
      x = x.mean(axis=(1, 2))
    x = x.reshape((-1, num_segs, x.shape[-1]))
    consensus = dict(self.consensus or {"type": "AvgConsensus", "dim": 1})
    if consensus.get("type") == "AvgConsensus":
      x = x.mean(axis=1)
    elif consensus.get("type") == "Identity":
      x = x.reshape((-1, x.shape[-1]))
    else:
      raise KeyError(f"Unknown consensus type {consensus.get('type')!r}")
    return classifier(x, self.num_classes, self.init_std, self.dropout_ratio, train, self.dtype)
