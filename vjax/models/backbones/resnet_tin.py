"""TIN (Shao et al. 2020) as MMAction2's ResNetTIN: every block's first conv first runs a
Temporal Interlace module, which shifts two groups of a quarter of its channel fold by a
learned fractional offset each (and the other two by its negation), reweighted per frame.

Paths: ``layer1_0/conv1/conv/net1/{offset_net,weight_net}/...`` and the conv at
``layer1_0/conv1/conv/net2``, as MMAction2's ``CombineNet(net1=interlace, net2=conv)``.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import flax.linen as nn
import jax.numpy as jnp

from vjax.models.backbones.resnet import ResNet
from vjax.models.backbones.resnet_tsm import ResNetTSM
from vjax.models.builder import MODELS
from vjax.models.layers.conv import Conv
from vjax.models.layers.tin_shift import linear_sampler
from vjax.models.layers.torch_init import torch_bias_init, torch_kernel_init

DEFORM_GROUPS = 2  # fixed by TIN


def _conv1d(features: int, name: str, dtype, bias_init=None, fan_in: int = 0):
  return Conv(features, (3,), padding=((1, 1),), kernel_init=torch_kernel_init,
                 bias_init=bias_init or torch_bias_init(fan_in), dtype=dtype, name=name)


class OffsetNet(nn.Module):
  """Per video, ``groups`` temporal offsets in (-2, 2) from (N, T, C) pooled features
  (float32: a fraction of a frame is what the sampler interpolates by)."""

  groups: int
  num_segments: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    t = self.num_segments
    y = _conv1d(1, "conv", self.dtype, fan_in=x.shape[-1] * 3)(x)[..., 0]  # (N, T)
    y = nn.relu(nn.Dense(t, kernel_init=torch_kernel_init, bias_init=torch_bias_init(t),
                         dtype=self.dtype, name="fc1")(y))
    # The bias starts the offsets' sigmoid at 0.625: an initial shift of 0.5 frames.
    y = nn.Dense(self.groups, kernel_init=torch_kernel_init,
                 bias_init=nn.initializers.constant(0.5108), dtype=self.dtype, name="fc2")(y)
    return 4 * (nn.sigmoid(y.astype(jnp.float32)) - 0.5)


class WeightNet(nn.Module):
  """Per video and frame, ``groups`` weights in (0, 2), starting at 1 (zero bias)."""

  groups: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    y = _conv1d(self.groups, "conv", self.dtype, bias_init=nn.initializers.zeros)(x)
    return 2 * nn.sigmoid(y.astype(jnp.float32))


class TemporalInterlace(nn.Module):
  """(N * T, H, W, C) -> same shape; the first ``C // shift_div`` channels are interlaced."""

  num_segments: int = 3
  shift_div: int = 1
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    n, h, w, c = x.shape
    t = self.num_segments
    folds = c // self.shift_div
    if folds % (2 * DEFORM_GROUPS):
      raise ValueError(f"TemporalInterlace needs C // shift_div = {folds} divisible by "
                       f"{2 * DEFORM_GROUPS}")
    desc = x[..., :folds].reshape((n // t, t, h, w, folds))
    pooled = desc.mean(axis=(2, 3))  # (N, T, folds)
    offset = OffsetNet(DEFORM_GROUPS, t, self.dtype, name="offset_net")(pooled)  # (N, 2)
    weight = WeightNet(DEFORM_GROUPS, self.dtype, name="weight_net")(pooled)  # (N, T, 2)
    shifted = linear_sampler(desc, jnp.concatenate([offset, -offset], axis=1))
    # Channel blocks of folds // 4 take weight groups 0, 1, 0, 1.
    per_channel = jnp.tile(jnp.repeat(weight, folds // (2 * DEFORM_GROUPS), axis=-1), (1, 1, 2))
    shifted = (shifted * per_channel[:, :, None, None, :].astype(x.dtype)).reshape(
        (n, h, w, folds))
    return jnp.concatenate([shifted, x[..., folds:]], axis=-1)


class CombineNet(nn.Module):
  """``net2(net1(x))`` with MMAction2's submodule names."""

  net1: Callable[..., nn.Module]
  net2: Callable[..., nn.Module]

  @nn.compact
  def __call__(self, x):
    return self.net2(name="net2")(self.net1(name="net1")(x))


def interlaced_conv(num_segments: int, shift_div: int) -> Callable[..., nn.Module]:
  """``ConvModule.conv_layer``: a TemporalInterlace in front of the conv."""

  def build(name: str, **conv_kwargs: Any) -> nn.Module:
    return CombineNet(
        functools.partial(TemporalInterlace, num_segments=num_segments, shift_div=shift_div,
                          dtype=conv_kwargs.get("dtype", jnp.float32)),
        functools.partial(Conv, **conv_kwargs), name=name)

  return build


@MODELS.register
class ResNetTIN(ResNetTSM):
  """ResNet whose every block interlaces before its first conv (``is_tin``), optionally
  with non-local blocks as ResNetTSM. As in MMAction2, the TSM arguments ``is_shift``,
  ``shift_place`` and ``temporal_pool`` are accepted and not applied."""

  num_segments: int = 8
  is_tin: bool = True
  shift_div: int = 4

  def make_block(self, i, j, convs, downsample_strides):
    if self.is_tin:
      convs = (convs[0]._replace(conv_layer=interlaced_conv(self.num_segments, self.shift_div)),
               *convs[1:])
    return self.with_non_local(i, j, ResNet.make_block(self, i, j, convs, downsample_strides))

  def run_stage(self, i, blocks, x, train):
    return ResNet.run_stage(self, i, blocks, x, train)
