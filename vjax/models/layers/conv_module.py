"""Conv + norm + activation, MMAction2's ``ConvModule`` for 2D and 3D channels-last inputs."""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from vjax.models.layers.norm import BatchNorm

# mmcv's kaiming_init: normal, fan_out, gain for ReLU.
kaiming_fan_out = nn.initializers.variance_scaling(2.0, "fan_out", "normal")


def as_tuple(v, n: int) -> tuple:
  return tuple(v) if isinstance(v, Sequence) else (v,) * n


def pad_pairs(padding, n: int) -> tuple[tuple[int, int], ...]:
  """PyTorch-style symmetric padding as lax pairs; never 'SAME' (parity with PyTorch)."""
  return tuple((p, p) for p in as_tuple(padding, n))


class ConvModule(nn.Module):
  """Conv (no bias by default) -> BatchNorm -> ReLU; ``norm``/``act`` switch the last two off.

  ``kernel_size`` fixes the dimensionality: a 2-tuple for (H, W), a 3-tuple for (T, H, W).
  Submodule names ``conv`` and ``bn`` mirror MMAction2's so checkpoint keys map one to one.
  """

  features: int
  kernel_size: Sequence[int]
  strides: Sequence[int] | int = 1
  padding: Sequence[int] | int = 0
  dilation: Sequence[int] | int = 1
  groups: int = 1
  use_bias: bool = False
  norm: bool = True
  act: str | None = "relu"
  bn_zero_init: bool = False
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False, norm_eval: bool = False):
    n = len(self.kernel_size)
    kernel_axes = (None,) * n + ("conv_in", "conv_out")
    x = nn.Conv(
        self.features,
        tuple(self.kernel_size),
        strides=as_tuple(self.strides, n),
        padding=pad_pairs(self.padding, n),
        kernel_dilation=as_tuple(self.dilation, n),
        feature_group_count=self.groups,
        use_bias=self.use_bias,
        dtype=self.dtype,
        kernel_init=nn.with_logical_partitioning(kaiming_fan_out, kernel_axes),
        name="conv")(x)
    if self.norm:
      x = BatchNorm(
          use_running_average=not train or norm_eval,
          scale_init=nn.initializers.zeros if self.bn_zero_init else nn.initializers.ones,
          num_groups=self.norm_groups,
          dtype=self.dtype,
          name="bn")(x)
    if self.act == "relu":
      x = nn.relu(x)
    elif self.act is not None:
      raise ValueError(f"Unsupported activation {self.act!r}; expected 'relu' or None")
    return x
