"""MobileNetV2 (Sandler et al. 2018) as MMAction2's MobileNetV2, channels-last (N, H, W, C).

Stages are ``conv1`` (stem), ``layer1``..``layer7`` (inverted residual blocks
``layer{i}_{j}/conv_{k}``) and ``conv2`` (the 1x1 to 1280); ``out_indices`` 0..7 count
``layer1``..``conv2``, ``frozen_stages`` 0..8 the stem and then those.
"""

from __future__ import annotations

import functools
from typing import Any, Mapping, Sequence

import flax.linen as nn
import jax.numpy as jnp

from vjax.models import freeze
from vjax.models.builder import MODELS
from vjax.models.layers import ConvModule, checkpointed
from vjax.models.layers.mmcv_cfg import act_name, check_conv_cfg, norm_groups_for, norm_trainable
from vjax.models.layers.temporal_shift import TemporalShift

# expand_ratio, channels, blocks, stride of each layer.
ARCH_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                 (6, 160, 3, 2), (6, 320, 1, 1))


def make_divisible(value, divisor, min_value=None, min_ratio=0.9):
  """Rounds ``value`` to a multiple of ``divisor``, losing at most 1 - min_ratio of it."""
  min_value = divisor if min_value is None else min_value
  new_value = max(min_value, int(value + divisor / 2) // divisor * divisor)
  if new_value < min_ratio * value:
    new_value += divisor
  return new_value


class InvertedResidual(nn.Module):
  """[1x1 expand ->] 3x3 depthwise -> 1x1 project, with the identity shortcut when shapes
  allow. ``shift`` = (num_segments, shift_div) shifts before the expand conv of blocks
  that have both an expand conv and a shortcut (MMAction2's MobileNetV2TSM)."""

  out_channels: int
  stride: int
  expand_ratio: float
  act: str = "relu6"
  shift: tuple[int, int] | None = None
  norm_eval: bool = False
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    if self.stride not in (1, 2):
      raise ValueError(f"stride must be 1 or 2, got {self.stride}")
    in_channels = x.shape[-1]
    hidden = int(round(in_channels * self.expand_ratio))
    use_res = self.stride == 1 and in_channels == self.out_channels
    conv = functools.partial(ConvModule, norm_groups=self.norm_groups, dtype=self.dtype)
    layers = []
    if self.expand_ratio != 1:
      layers.append(functools.partial(conv, hidden, (1, 1), act=self.act))
    layers.append(functools.partial(conv, hidden, (3, 3), strides=self.stride, padding=1,
                                    groups=hidden, act=self.act))
    layers.append(functools.partial(conv, self.out_channels, (1, 1), act=None))
    if self.shift is not None and len(layers) == 3 and use_res:
      segments, div = self.shift
      layers[0] = functools.partial(TemporalShift, layers[0], num_segments=segments,
                                    shift_div=div)
    out = x
    for k, layer in enumerate(layers):
      out = layer(name=f"conv_{k}")(out, train, self.norm_eval)
    return x + out if use_res else out


@MODELS.register
class MobileNetV2(nn.Module):
  pretrained: str | None = None
  widen_factor: float = 1.0
  out_indices: Sequence[int] = (7,)
  frozen_stages: int = -1
  conv_cfg: Mapping[str, Any] | None = None
  norm_cfg: Mapping[str, Any] | None = None
  act_cfg: Mapping[str, Any] | None = None
  norm_eval: bool = False
  with_cp: bool = False  # rematerialise each inverted residual block in the backward pass
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  def shift(self):
    """(num_segments, shift_div) when blocks shift (MobileNetV2TSM), else None."""
    return None

  def stage_norm_eval(self, stage: int) -> bool:
    return self.norm_eval or stage <= self.frozen_stages

  @nn.compact
  def __call__(self, x, train: bool = False):
    for index in self.out_indices:
      if index not in range(0, 8):
        raise ValueError(f"the items of out_indices must be in range(0, 8), got {index}")
    if self.frozen_stages not in range(-1, 9):
      raise ValueError(f"frozen_stages must be in range(-1, 9), got {self.frozen_stages}")
    check_conv_cfg(self.conv_cfg)
    act = act_name(self.act_cfg or {"type": "ReLU6"})
    groups = norm_groups_for(self.norm_cfg, self.norm_groups)
    conv = functools.partial(ConvModule, act=act, norm_groups=groups, dtype=self.dtype)
    channels = make_divisible(32 * self.widen_factor, 8)
    x = conv(channels, (3, 3), strides=2, padding=1, name="conv1")(
        x.astype(self.dtype), train, self.stage_norm_eval(0))
    outs = []
    block = checkpointed(InvertedResidual, self.with_cp)
    for i, (expand_ratio, c, n_blocks, stride) in enumerate(ARCH_SETTINGS):
      out_channels = make_divisible(c * self.widen_factor, 8)
      for j in range(n_blocks):
        x = block(out_channels, stride if j == 0 else 1, expand_ratio, act=act,
                             shift=self.shift(), norm_eval=self.stage_norm_eval(i + 1),
                             norm_groups=groups, dtype=self.dtype,
                             name=f"layer{i + 1}_{j}")(x, train)
      if i in self.out_indices:
        outs.append(x)
    out_channel = int(1280 * self.widen_factor) if self.widen_factor > 1.0 else 1280
    x = conv(out_channel, (1, 1), name="conv2")(x, train, self.stage_norm_eval(8))
    if 7 in self.out_indices:
      outs.append(x)
    return outs[0] if len(outs) == 1 else tuple(outs)

  @nn.nowrap
  def is_frozen(self, path: freeze.Path) -> bool:
    stage = 8 if path[:1] == ("conv2",) else freeze.stage_of(path)
    if stage is not None and stage <= self.frozen_stages:
      return True
    return freeze.is_norm_param(path) and not norm_trainable(self.norm_cfg)


@MODELS.register
class MobileNetV2TSM(MobileNetV2):
  """MobileNetV2 whose residual blocks with an expand conv shift before it (TSM)."""

  num_segments: int = 8
  is_shift: bool = True
  shift_div: int = 8

  def shift(self):
    return (self.num_segments, self.shift_div) if self.is_shift else None
