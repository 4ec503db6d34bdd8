"""MMAction2's ``ConvAudio``: a (k, 1) and a (1, k) conv over a spectrogram (time, frequency),
each with BN + ReLU, summed or concatenated (Xiao et al. 2020, audiovisual SlowFast)."""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax.numpy as jnp

from vjax.models.layers.conv_module import ConvModule, as_tuple


class ConvAudio(nn.Module):
  """Channels-last (N, T, F, C). ``op='concat'`` doubles the output channels.

  As in MMAction2 the padding is its own (k // 2 along each kernel's long side) whatever the
  caller asks, and the two branches always use plain BN.
  """

  features: int
  kernel_size: Sequence[int] | int
  op: str = "concat"
  strides: Sequence[int] | int = 1
  use_bias: bool = False
  use_running_average: bool = True  # the branches' BNs: not train or norm_eval
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    if self.op not in ("concat", "sum"):
      raise ValueError(f"ConvAudio op must be 'concat' or 'sum', got {self.op!r}")
    kt, kf = as_tuple(self.kernel_size, 2)
    branch = functools.partial(ConvModule, self.features, strides=as_tuple(self.strides, 2),
                               use_bias=self.use_bias, norm_groups=self.norm_groups,
                               dtype=self.dtype)
    x1 = branch((kt, 1), padding=(kt // 2, 0), name="conv_1")(x, not self.use_running_average)
    x2 = branch((1, kf), padding=(0, kf // 2), name="conv_2")(x, not self.use_running_average)
    return jnp.concatenate([x1, x2], axis=-1) if self.op == "concat" else x1 + x2


def audio_conv(op: str, use_running_average: bool, norm_groups: int | None = None
               ) -> Callable[..., nn.Module]:
  """``ConvModule.conv_layer`` that builds a ConvAudio from the conv's arguments."""

  def build(name: str, *, features, kernel_size, strides, use_bias, dtype, **_: Any):
    return ConvAudio(features, kernel_size, op=op, strides=strides, use_bias=use_bias,
                     use_running_average=use_running_average, norm_groups=norm_groups,
                     dtype=dtype, name=name)

  return build
