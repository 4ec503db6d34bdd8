"""AudioTSNHead: global average pool of a spectrogram feature map, then a linear classifier."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import flax.linen as nn
import jax.numpy as jnp

from vjax.models.builder import MODELS
from vjax.models.heads.base import classifier


@MODELS.register
class AudioTSNHead(nn.Module):
  num_classes: int
  in_channels: int
  loss_cls: Mapping[str, Any] | None = None
  spatial_type: str = "avg"
  dropout_ratio: float = 0.4
  init_std: float = 0.01
  multi_class: bool = False
  label_smooth_eps: float = 0.0
  topk: Sequence[int] | int = (1, 5)
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    """x: (N, T, F, C) -> (N, num_classes)."""
    if self.spatial_type != "avg":
      raise ValueError(f"AudioTSNHead needs spatial_type='avg' (MMAction2 has no other pool), "
                       f"got {self.spatial_type!r}")
    return classifier(x.mean(axis=(1, 2)), self.num_classes, self.init_std, self.dropout_ratio,
                      train, self.dtype)
