"""Conv + norm + activation, MMAction2's ``ConvModule`` for 2D and 3D channels-last inputs."""

from __future__ import annotations

import inspect
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax.numpy as jnp

from vjax.models.layers.conv import Conv
from vjax.models.layers.norm import BatchNorm

# mmcv's kaiming_init: normal, fan_out, gain for ReLU.
kaiming_fan_out = nn.initializers.variance_scaling(2.0, "fan_out", "normal")

ACTIVATIONS = {"relu": nn.relu, "relu6": nn.relu6}


def as_tuple(v, n: int) -> tuple:
  return tuple(v) if isinstance(v, Sequence) else (v,) * n


def pad_pairs(padding, n: int) -> tuple[tuple[int, int], ...]:
  """PyTorch-style symmetric padding as lax pairs; never 'SAME' (parity with PyTorch)."""
  return tuple((p, p) for p in as_tuple(padding, n))


def _takes_train(conv) -> bool:
  params = inspect.signature(conv.__call__).parameters
  return "train" in params and "norm_eval" in params


class ConvModule(nn.Module):
  """Conv (no bias by default) -> BatchNorm -> activation; ``norm``/``act`` switch the last two off.

  ``kernel_size`` fixes the dimensionality: a 2-tuple for (H, W), a 3-tuple for (T, H, W).
  Submodule names ``conv`` and ``bn`` mirror MMAction2's so checkpoint keys map one to one.
  ``conv_layer`` builds the ``conv`` submodule from ``Conv``'s keyword arguments; MMAction2
  swaps that submodule for wrappers (TSM's shift, TIN's interlace) or for ``ConvAudio``, and
  the checkpoint keys follow the swap. A conv layer whose ``__call__`` takes ``train`` and
  ``norm_eval`` (``Conv2plus1d``, which holds a BatchNorm) receives this module's.
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
  norm_eps: float = 1e-5  # mmcv norm_cfg's eps
  kernel_init: Callable[..., Any] = kaiming_fan_out
  conv_layer: Callable[..., nn.Module] | None = None
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False, norm_eval: bool = False):
    n = len(self.kernel_size)
    kernel_axes = (None,) * n + ("conv_in", "conv_out")
    conv = (self.conv_layer or Conv)(
        features=self.features,
        kernel_size=tuple(self.kernel_size),
        strides=as_tuple(self.strides, n),
        padding=pad_pairs(self.padding, n),
        kernel_dilation=as_tuple(self.dilation, n),
        feature_group_count=self.groups,
        use_bias=self.use_bias,
        dtype=self.dtype,
        kernel_init=nn.with_logical_partitioning(self.kernel_init, kernel_axes),
        name="conv")
    x = conv(x, train, norm_eval) if _takes_train(conv) else conv(x)
    if self.norm:
      x = BatchNorm(
          use_running_average=not train or norm_eval,
          scale_init=nn.initializers.zeros if self.bn_zero_init else nn.initializers.ones,
          epsilon=self.norm_eps,
          num_groups=self.norm_groups,
          dtype=self.dtype,
          name="bn")(x)
    if self.act is not None:
      if self.act not in ACTIVATIONS:
        raise ValueError(f"Unsupported activation {self.act!r}; expected one of "
                         f"{sorted(ACTIVATIONS)} or None")
      x = ACTIVATIONS[self.act](x)
    return x
