"""I3DHead: global average pooling of a 3D feature map, dropout, linear classifier."""

from __future__ import annotations

from typing import Any, Mapping

import flax.linen as nn
import jax.numpy as jnp

from vjax.models.builder import MODELS
from vjax.models.heads.base import classifier, spatial_pool


@MODELS.register
class I3DHead(nn.Module):
  """The head of I3D, SlowOnly, CSN and R(2+1)D. ``spatial_type='avg'`` pools (T, H, W) to
  one vector; any other value flattens the map in PyTorch's (C, T, H, W) order, as MMAction2
  does without its pool. ``loss_cls`` / ``multi_class`` / ``label_smooth_eps`` are read by
  the shared loss code."""

  num_classes: int
  in_channels: int
  loss_cls: Mapping[str, Any] = None
  spatial_type: str = "avg"
  dropout_ratio: float = 0.5
  init_std: float = 0.01
  multi_class: bool = False
  label_smooth_eps: float = 0.0
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    """x: (N, T, H, W, C) -> (N, num_classes)."""
    feat = spatial_pool(x, self.spatial_type)
    if feat.shape[-1] != self.in_channels:
      raise ValueError(f"I3DHead in_channels={self.in_channels} but the backbone gives "
                       f"{feat.shape[-1]} features (feature map {tuple(x.shape[1:])})")
    return classifier(feat, self.num_classes, self.init_std, self.dropout_ratio, train,
                      self.dtype)
