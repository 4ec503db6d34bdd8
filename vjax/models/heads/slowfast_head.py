"""SlowFastHead: global average pool of both pathways, concatenated, linear classifier."""

from __future__ import annotations

from typing import Any, Mapping

import flax.linen as nn
import jax.numpy as jnp

from vjax.models.builder import MODELS
from vjax.models.heads.base import classifier


@MODELS.register
class SlowFastHead(nn.Module):
  num_classes: int
  in_channels: int
  loss_cls: Mapping[str, Any] = None
  spatial_type: str = "avg"
  dropout_ratio: float = 0.8
  init_std: float = 0.01
  multi_class: bool = False
  label_smooth_eps: float = 0.0
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    """x = (x_slow, x_fast), each (N, T, H, W, C) -> (N, num_classes)."""
    x_slow, x_fast = x
    if self.spatial_type != "avg":
      raise ValueError(f"SlowFastHead supports spatial_type='avg', got {self.spatial_type!r}")
    pooled_slow = x_slow.mean(axis=(1, 2, 3))
    pooled_fast = x_fast.mean(axis=(1, 2, 3))
    # MMAction2 concatenates fast before slow; fc_cls columns follow that order.
    feat = jnp.concatenate([pooled_fast, pooled_slow], axis=-1)
    if feat.shape[-1] != self.in_channels:
      raise ValueError(f"SlowFastHead in_channels={self.in_channels} but the backbone gives "
                       f"{feat.shape[-1]} channels (slow {x_slow.shape[-1]} + fast {x_fast.shape[-1]})")
    return classifier(feat, self.num_classes, self.init_std, self.dropout_ratio, train, self.dtype)
