"""mmcls 0.x's ResNeXt as MMAction2 0.24.1 uses it (``backbone.type='mmcls.ResNeXt'``),
channels-last (N, H, W, C).

mmcls's ResNet family, not MMAction2's: plain ``conv1``/``bn1`` siblings instead of mmcv
ConvModules, a ``stem_channels`` / ``base_channels`` split, ``deep_stem`` (three 3x3
ConvModules ``stem_{0,1,2}``), ``avg_down`` (a ceil-mode average pool before a stride-1
shortcut conv) and a per-block ``drop_path_rate``. A ResNeXt bottleneck widens its grouped
3x3 conv to ``groups * width_per_group * planes / base_channels`` channels (with
``groups=1`` it is mmcls's plain bottleneck). Stage ``i`` outputs
``base_channels * expansion * 2**i`` channels; the first block of a stage has a
``downsample`` shortcut (``downsample_0`` conv, ``downsample_1`` BN; with ``avg_down`` and
a stride, the pool is ``downsample_0`` and the conv and BN move up by one) when the stride
or the width changes.

MMAction2 takes the one ``out_indices`` map unpooled (its TSNHead pools), so this returns
(N, H, W, C); MMAction2 asserts that an mmcls backbone returns a single map, and so does this.
Module names are mmcls's, so ``backbone.layer1.0.conv2.weight`` imports by name.
"""

from __future__ import annotations

import functools
from typing import Any, Mapping, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from vjax.models import freeze
from vjax.models.backbones.resnet3d import max_pool
from vjax.models.builder import MODELS
from vjax.models.layers import BatchNorm, ConvModule, checkpointed, pad_pairs
from vjax.models.layers.conv import Conv
from vjax.models.layers.conv_module import kaiming_fan_out
from vjax.models.layers.mmcv_cfg import check_conv_cfg, norm_groups_for, norm_trainable
from vjax.models.layers.drop_path import drop_path

# Blocks per stage of mmcls's ResNeXt depths.
ARCH_SETTINGS = {
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
}


def _conv(features, kernel, stride, padding, dtype, name, dilation=1, groups=1):
  return Conv(features, (kernel, kernel), strides=(stride, stride),
                 padding=pad_pairs(padding, 2), kernel_dilation=(dilation, dilation),
                 feature_group_count=groups, use_bias=False, dtype=dtype,
                 kernel_init=nn.with_logical_partitioning(kaiming_fan_out,
                                                          (None, None, "conv_in", "conv_out")),
                 name=name)


def avg_pool_ceil(x, size: int):
  """torch ``AvgPool2d(size, size, ceil_mode=True, count_include_pad=False)``: a partial
  window at the bottom/right edge averages only the elements it covers."""
  h, w = x.shape[1:3]
  pad = ((0, 0), (0, -h % size), (0, -w % size), (0, 0))
  window = (1, size, size, 1)
  sums = jax.lax.reduce_window(jnp.pad(x, pad), 0.0, jax.lax.add, window, window, "VALID")
  ones = jnp.pad(jnp.ones((1, h, w, 1), x.dtype), pad)
  counts = jax.lax.reduce_window(ones, 0.0, jax.lax.add, window, window, "VALID")
  return sums / counts


class Bottleneck(nn.Module):
  """mmcls's ResNeXt bottleneck: 1x1 -> grouped 3x3 -> 1x1, BN after each, ReLU after the
  sum. 'pytorch' style strides the 3x3 conv, 'caffe' the first 1x1."""

  out_channels: int
  mid_channels: int
  stride: int = 1
  dilation: int = 1
  groups: int = 1
  style: str = "pytorch"
  downsample: str | None = None  # None, "conv" or "avg_conv" (avg_down with a stride)
  drop_path_rate: float = 0.0
  zero_init_residual: bool = True
  norm_eval: bool = False
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    bn = functools.partial(BatchNorm, use_running_average=not train or self.norm_eval,
                           num_groups=self.norm_groups, dtype=self.dtype)
    s1, s2 = (1, self.stride) if self.style == "pytorch" else (self.stride, 1)
    d = self.dilation
    out = _conv(self.mid_channels, 1, s1, 0, self.dtype, "conv1")(x)
    out = nn.relu(bn(name="bn1")(out))
    out = _conv(self.mid_channels, 3, s2, d, self.dtype, "conv2", dilation=d,
                groups=self.groups)(out)
    out = nn.relu(bn(name="bn2")(out))
    out = _conv(self.out_channels, 1, 1, 0, self.dtype, "conv3")(out)
    out = bn(scale_init=nn.initializers.zeros if self.zero_init_residual else
             nn.initializers.ones, name="bn3")(out)
    identity = x
    if self.downsample == "conv":
      identity = _conv(self.out_channels, 1, self.stride, 0, self.dtype, "downsample_0")(x)
      identity = bn(name="downsample_1")(identity)
    elif self.downsample == "avg_conv":
      identity = avg_pool_ceil(x, self.stride)
      identity = _conv(self.out_channels, 1, 1, 0, self.dtype, "downsample_1")(identity)
      identity = bn(name="downsample_2")(identity)
    out = drop_path(self, out, self.drop_path_rate, train)
    return nn.relu(out + identity)


@MODELS.register(name="mmcls.ResNeXt")
class ResNeXt(nn.Module):
  """mmcls's ``ResNeXt`` with its arguments; see the module docstring.

  ``frozen_stages`` and ``norm_eval`` act as mmcls's ``train()``: the affected BatchNorms
  use their running statistics in training and ``is_frozen`` names the parameters the train
  step keeps fixed. ``zero_init_residual`` (mmcls's default True) starts every block's last
  BN scale at zero, unless ``init_cfg`` is a 'Pretrained' one (mmcls then skips it; the
  checkpoint itself comes in through vjax.convert). ``with_cp`` rematerialises every
  bottleneck in the backward pass.
  """

  depth: int = 50
  groups: int = 32
  width_per_group: int = 4
  in_channels: int = 3
  stem_channels: int = 64
  base_channels: int = 64
  expansion: int | None = None
  num_stages: int = 4
  strides: Sequence[int] = (1, 2, 2, 2)
  dilations: Sequence[int] = (1, 1, 1, 1)
  out_indices: Sequence[int] = (3,)
  style: str = "pytorch"
  deep_stem: bool = False
  avg_down: bool = False
  frozen_stages: int = -1
  conv_cfg: Mapping[str, Any] | None = None
  norm_cfg: Mapping[str, Any] | None = None
  norm_eval: bool = False
  with_cp: bool = False
  zero_init_residual: bool = True
  init_cfg: Any = None
  drop_path_rate: float = 0.0
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  def check(self):
    if self.depth not in ARCH_SETTINGS:
      raise KeyError(f"invalid depth {self.depth} for resnext; choose from "
                     f"{sorted(ARCH_SETTINGS)}")
    if not 1 <= self.num_stages <= 4:
      raise ValueError(f"num_stages must be in [1, 4], got {self.num_stages}")
    if not len(self.strides) == len(self.dilations) == self.num_stages:
      raise ValueError(f"strides {self.strides} and dilations {self.dilations} need "
                       f"num_stages={self.num_stages} entries")
    if max(self.out_indices) >= self.num_stages:
      raise ValueError(f"out_indices {self.out_indices} must be < num_stages={self.num_stages}")
    if len(self.out_indices) != 1:
      raise ValueError(f"MMAction2 takes a single feature map from an mmcls backbone; "
                       f"out_indices={self.out_indices} gives {len(self.out_indices)}")
    if self.style not in ("pytorch", "caffe"):
      raise ValueError(f"style must be 'pytorch' or 'caffe', got {self.style!r}")
    if self.expansion is not None and (isinstance(self.expansion, bool) or
                                       not isinstance(self.expansion, int) or
                                       self.expansion <= 0):
      raise TypeError(f"expansion must be a positive int or None, got {self.expansion!r}")
    check_conv_cfg(self.conv_cfg)

  def mid_channels(self, out_channels: int, expansion: int) -> int:
    """The grouped 3x3 conv's width in a block with ``out_channels`` outputs."""
    if out_channels % expansion:
      raise ValueError(f"out_channels {out_channels} is not a multiple of expansion {expansion}")
    mid = out_channels // expansion
    if self.groups != 1:
      if mid % self.base_channels:
        raise ValueError(f"bottleneck width {mid} is not a multiple of base_channels "
                         f"{self.base_channels}")
      mid = self.groups * self.width_per_group * mid // self.base_channels
    return mid

  def zero_init(self) -> bool:
    pretrained = isinstance(self.init_cfg, Mapping) and self.init_cfg.get("type") == "Pretrained"
    return self.zero_init_residual and not pretrained

  @nn.compact
  def __call__(self, x, train: bool = False):
    self.check()
    groups = norm_groups_for(self.norm_cfg, self.norm_groups)
    expansion = 4 if self.expansion is None else self.expansion
    stem_eval = self.norm_eval or self.frozen_stages >= 0
    x = x.astype(self.dtype)
    if self.deep_stem:
      for k, c in enumerate((self.stem_channels // 2, self.stem_channels // 2,
                             self.stem_channels)):
        x = ConvModule(c, (3, 3), strides=2 if k == 0 else 1, padding=1, norm_groups=groups,
                       dtype=self.dtype, name=f"stem_{k}")(x, train, stem_eval)
    else:
      x = _conv(self.stem_channels, 7, 2, 3, self.dtype, "conv1")(x)
      x = BatchNorm(use_running_average=not train or stem_eval, num_groups=groups,
                    dtype=self.dtype, name="bn1")(x)
      x = nn.relu(x)
    x = max_pool(x, (3, 3), (2, 2), (1, 1))

    in_channels, out_channels, outs = self.stem_channels, self.base_channels * expansion, []
    block = checkpointed(Bottleneck, self.with_cp)
    for i, num_blocks in enumerate(ARCH_SETTINGS[self.depth][:self.num_stages]):
      stride, mid = self.strides[i], self.mid_channels(out_channels, expansion)
      for j in range(num_blocks):
        downsample = None
        if j == 0 and (stride != 1 or in_channels != out_channels):
          downsample = "avg_conv" if self.avg_down and stride != 1 else "conv"
        x = block(out_channels, mid, stride if j == 0 else 1, self.dilations[i],
                       self.groups, self.style, downsample, self.drop_path_rate,
                       self.zero_init(), self.norm_eval or i < self.frozen_stages, groups,
                       self.dtype, name=f"layer{i + 1}_{j}")(x, train)
        in_channels = out_channels
      out_channels *= 2
      if i in self.out_indices:
        outs.append(x)
    return outs[0]

  @nn.nowrap
  def is_frozen(self, path: freeze.Path) -> bool:
    """Whether the backbone parameter at ``path`` stays fixed in training."""
    if not path:
      return False
    if path[0] in ("conv1", "bn1") or path[0].startswith("stem_"):
      stage = 0
    else:
      stage = freeze.stage_of(path)
    if stage is not None and stage <= self.frozen_stages:
      return True
    # No conv here has a bias: every scale/bias is a BatchNorm's.
    return path[-1] in ("scale", "bias") and not norm_trainable(self.norm_cfg)
