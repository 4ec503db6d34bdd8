"""TimeSformerHead: a linear classifier on the backbone's class token."""

from __future__ import annotations

from typing import Any, Mapping

import flax.linen as nn
import jax.numpy as jnp

from vjax.models.builder import MODELS


@MODELS.register
class TimeSformerHead(nn.Module):
  """(N, in_channels) -> (N, num_classes); no pooling and no dropout, as MMAction2's."""

  num_classes: int
  in_channels: int
  loss_cls: Mapping[str, Any] = None
  init_std: float = 0.02
  multi_class: bool = False
  label_smooth_eps: float = 0.0
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    if x.ndim != 2 or x.shape[-1] != self.in_channels:
      raise ValueError(f"TimeSformerHead(in_channels={self.in_channels}) expects (N, "
                       f"{self.in_channels}) class tokens, got shape {x.shape}")
    # mmcv's trunc_normal_init cuts at +-2 absolute: at std 0.02 a plain normal.
    return nn.Dense(
        self.num_classes, dtype=self.dtype,
        kernel_init=nn.with_logical_partitioning(nn.initializers.normal(self.init_std),
                                                 ("embed", "classes")),
        bias_init=nn.with_logical_partitioning(nn.initializers.zeros, ("classes",)),
        name="fc_cls")(x).astype(jnp.float32)
