"""R(2+1)D's factorised conv (Tran et al. 2018) as MMAction2's ``Conv2plus1d``, channels-last.

A (t, d, d) conv becomes a (1, d, d) spatial conv -> BatchNorm -> ReLU -> (t, 1, 1) temporal
conv. It replaces ``Conv`` inside a ConvModule (``conv_cfg=dict(type='Conv2plus1d')``), so
its variables sit at MMAction2's ``conv1.conv.conv_s`` / ``bn_s`` / ``conv_t``.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import flax.linen as nn
import jax.numpy as jnp

from vjax.models.layers.conv import Conv
from vjax.models.layers.norm import BatchNorm


def mid_channels(in_channels: int, out_channels: int, kernel_size: Sequence[int]) -> int:
  """Width between the two convs, as MMAction2 computes it: the paper's parameter-matching
  formula with the temporal kernel fixed at 3, floored."""
  spatial = kernel_size[1] * kernel_size[2]
  return int(3 * (in_channels * out_channels * spatial) /
             (in_channels * spatial + 3 * out_channels))


class Conv2plus1d(nn.Module):
  """Takes ``Conv``'s keyword arguments (ConvModule's ``conv_layer`` hook).

  As in MMAction2, ``kernel_dilation`` and ``feature_group_count`` are accepted and not used,
  and ``bn_s`` is a plain BatchNorm3d (eps 1e-5) whatever the backbone's ``norm_cfg``.
  """

  features: int
  kernel_size: Sequence[int]
  strides: Sequence[int] = (1, 1, 1)
  padding: Sequence[tuple[int, int]] = ((0, 0), (0, 0), (0, 0))
  kernel_dilation: Any = 1
  feature_group_count: int = 1
  use_bias: bool = True
  kernel_init: Callable[..., Any] = nn.initializers.lecun_normal()
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False, norm_eval: bool = False):
    if len(self.kernel_size) != 3:
      raise ValueError(f"Conv2plus1d needs a 3D kernel (t, h, w), got {self.kernel_size}")
    (kt, kh, kw), (st, sh, sw) = self.kernel_size, self.strides
    pt, ph, pw = self.padding
    mid = mid_channels(x.shape[-1], self.features, self.kernel_size)
    x = Conv(mid, (1, kh, kw), strides=(1, sh, sw), padding=((0, 0), ph, pw),
                use_bias=self.use_bias, dtype=self.dtype, kernel_init=self.kernel_init,
                name="conv_s")(x)
    x = BatchNorm(use_running_average=not train or norm_eval, num_groups=self.norm_groups,
                  dtype=self.dtype, name="bn_s")(x)
    x = nn.relu(x)
    return Conv(self.features, (kt, 1, 1), strides=(st, 1, 1), padding=(pt, (0, 0), (0, 0)),
                   use_bias=self.use_bias, dtype=self.dtype, kernel_init=self.kernel_init,
                   name="conv_t")(x)
