"""X3DHead: global pool, ``fc1`` to 2048 channels, ReLU, dropout, ``fc2`` classifier."""

from __future__ import annotations

from typing import Any, Mapping

import flax.linen as nn
import jax.numpy as jnp

from vjax.models.builder import MODELS


@MODELS.register
class X3DHead(nn.Module):
  """(N, T, H, W, in_channels) -> (N, num_classes). ``spatial_type`` 'avg' or 'max' pools
  time and space; ``fc1`` has a bias only with ``fc1_bias`` (MMAction2's default: none)."""

  num_classes: int
  in_channels: int
  loss_cls: Mapping[str, Any] = None
  spatial_type: str = "avg"
  dropout_ratio: float = 0.5
  init_std: float = 0.01
  fc1_bias: bool = False
  dtype: Any = jnp.float32

  mid_channels = 2048  # fixed in MMAction2

  @nn.compact
  def __call__(self, x, train: bool = False):
    if self.spatial_type not in ("avg", "max"):
      raise ValueError(f"X3DHead spatial_type must be 'avg' or 'max', got {self.spatial_type!r}")
    if x.shape[-1] != self.in_channels:
      raise ValueError(f"X3DHead(in_channels={self.in_channels}) got {x.shape[-1]} channels; "
                       "set in_channels to the backbone's feat_dim")
    axes = tuple(range(1, x.ndim - 1))
    x = x.mean(axis=axes) if self.spatial_type == "avg" else x.max(axis=axes)
    dense = lambda n, bias, name, axes: nn.Dense(  # noqa: E731
        n, use_bias=bias, dtype=self.dtype, name=name,
        kernel_init=nn.with_logical_partitioning(nn.initializers.normal(self.init_std), axes),
        bias_init=nn.with_logical_partitioning(nn.initializers.zeros, axes[1:]))
    x = nn.relu(dense(self.mid_channels, self.fc1_bias, "fc1", ("embed", "mlp"))(x))
    if self.dropout_ratio:
      x = nn.Dropout(self.dropout_ratio, deterministic=not train)(x)
    return dense(self.num_classes, True, "fc2", ("mlp", "classes"))(x).astype(jnp.float32)
