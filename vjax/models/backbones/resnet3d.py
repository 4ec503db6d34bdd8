"""ResNet3d (I3D-style inflated ResNet) with MMAction2's argument names, channels-last (N, T, H, W, C).

Submodule names follow MMAction2 (``conv1``, ``layer1_0.conv2.bn``, ``downsample``) so that
checkpoint conversion is a rename plus a transpose.
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from vjax.models.builder import MODELS
from vjax.models.layers import ConvModule, pad_pairs


def max_pool(x, window: Sequence[int], strides: Sequence[int], padding: Sequence[int]):
  """PyTorch MaxPool semantics: explicit symmetric padding with -inf."""
  return nn.max_pool(x, tuple(window), strides=tuple(strides), padding=pad_pairs(padding, len(window)))


def expand(v, n: int) -> tuple:
  return tuple(v) if isinstance(v, Sequence) else (v,) * n


class BasicBlock3d(nn.Module):
  planes: int
  spatial_stride: int = 1
  temporal_stride: int = 1
  dilation: int = 1
  downsample: bool = False
  style: str = "pytorch"
  inflate: bool = True
  inflate_style: str = "3x1x1"
  zero_init_residual: bool = True
  norm_eval: bool = False
  norm_groups: int | None = None
  dtype: Any = jnp.float32
  expansion = 1

  @nn.compact
  def __call__(self, x, train: bool = False):
    d, st, ss = self.dilation, self.temporal_stride, self.spatial_stride
    k1, p1, k2, p2 = (((3, 3, 3), (1, d, d), (3, 3, 3), (1, 1, 1)) if self.inflate else
                      ((1, 3, 3), (0, d, d), (1, 3, 3), (0, 1, 1)))
    conv = lambda **kw: ConvModule(norm_groups=self.norm_groups, dtype=self.dtype, **kw)
    out = conv(features=self.planes, kernel_size=k1, strides=(st, ss, ss), padding=p1,
               dilation=(1, d, d), name="conv1")(x, train, self.norm_eval)
    out = conv(features=self.planes, kernel_size=k2, padding=p2, act=None,
               bn_zero_init=self.zero_init_residual, name="conv2")(out, train, self.norm_eval)
    if self.downsample:
      x = conv(features=self.planes, kernel_size=(1, 1, 1), strides=(st, ss, ss), act=None,
               name="downsample")(x, train, self.norm_eval)
    return nn.relu(out + x)


class Bottleneck3d(nn.Module):
  planes: int
  spatial_stride: int = 1
  temporal_stride: int = 1
  dilation: int = 1
  downsample: bool = False
  style: str = "pytorch"
  inflate: bool = True
  inflate_style: str = "3x1x1"
  zero_init_residual: bool = True
  norm_eval: bool = False
  norm_groups: int | None = None
  dtype: Any = jnp.float32
  expansion = 4

  @nn.compact
  def __call__(self, x, train: bool = False):
    if self.style not in ("pytorch", "caffe"):
      raise ValueError(f"style must be 'pytorch' or 'caffe', got {self.style!r}")
    if self.inflate_style not in ("3x1x1", "3x3x3"):
      raise ValueError(f"inflate_style must be '3x1x1' or '3x3x3', got {self.inflate_style!r}")
    d, st, ss = self.dilation, self.temporal_stride, self.spatial_stride
    # 'pytorch' puts the stride on the 3x3 conv, 'caffe' on the first 1x1.
    s1, s2 = ((1, 1, 1), (st, ss, ss)) if self.style == "pytorch" else ((st, ss, ss), (1, 1, 1))
    if self.inflate and self.inflate_style == "3x1x1":
      k1, p1, k2, p2 = (3, 1, 1), (1, 0, 0), (1, 3, 3), (0, d, d)
    elif self.inflate:
      k1, p1, k2, p2 = (1, 1, 1), (0, 0, 0), (3, 3, 3), (1, d, d)
    else:
      k1, p1, k2, p2 = (1, 1, 1), (0, 0, 0), (1, 3, 3), (0, d, d)
    conv = lambda **kw: ConvModule(norm_groups=self.norm_groups, dtype=self.dtype, **kw)
    out = conv(features=self.planes, kernel_size=k1, strides=s1, padding=p1,
               name="conv1")(x, train, self.norm_eval)
    out = conv(features=self.planes, kernel_size=k2, strides=s2, padding=p2, dilation=(1, d, d),
               name="conv2")(out, train, self.norm_eval)
    out = conv(features=self.planes * 4, kernel_size=(1, 1, 1), act=None,
               bn_zero_init=self.zero_init_residual, name="conv3")(out, train, self.norm_eval)
    if self.downsample:
      x = conv(features=self.planes * 4, kernel_size=(1, 1, 1), strides=(st, ss, ss), act=None,
               name="downsample")(x, train, self.norm_eval)
    return nn.relu(out + x)


ARCH_SETTINGS = {
    18: (BasicBlock3d, (2, 2, 2, 2)),
    34: (BasicBlock3d, (3, 4, 6, 3)),
    50: (Bottleneck3d, (3, 4, 6, 3)),
    101: (Bottleneck3d, (3, 4, 23, 3)),
    152: (Bottleneck3d, (3, 8, 36, 3)),
}


@MODELS.register
class ResNet3d(nn.Module):
  """Inflated 3D ResNet. Returns the feature map of the last index in ``out_indices``
  (a tuple when several are requested), channels-last."""

  depth: int = 50
  stage_blocks: Sequence[int] | None = None
  in_channels: int = 3
  num_stages: int = 4
  base_channels: int = 64
  out_indices: Sequence[int] = (3,)
  spatial_strides: Sequence[int] = (1, 2, 2, 2)
  temporal_strides: Sequence[int] = (1, 1, 1, 1)
  dilations: Sequence[int] = (1, 1, 1, 1)
  conv1_kernel: Sequence[int] = (3, 7, 7)
  conv1_stride_s: int = 2
  conv1_stride_t: int = 1
  pool1_stride_s: int = 2
  pool1_stride_t: int = 1
  with_pool1: bool = True
  with_pool2: bool = True
  style: str = "pytorch"
  inflate: Sequence[int] | int = (1, 1, 1, 1)
  inflate_style: str = "3x1x1"
  norm_eval: bool = False
  with_cp: bool = False  # rematerialisation is a jit-level choice in vjax; accepted for configs
  zero_init_residual: bool = True
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  # Pathway hooks (see resnet3d_slowfast.py): extra input channels per stage from laterals.
  def lateral_inplanes(self, inplanes: int) -> int:
    return 0

  def setup(self):
    if self.depth not in ARCH_SETTINGS:
      raise KeyError(f"invalid depth {self.depth} for ResNet3d; choose from {sorted(ARCH_SETTINGS)}")
    if not 1 <= self.num_stages <= 4:
      raise ValueError(f"num_stages must be in [1, 4], got {self.num_stages}")
    if max(self.out_indices) >= self.num_stages:
      raise ValueError(f"out_indices {self.out_indices} must be < num_stages={self.num_stages}")
    block, default_blocks = ARCH_SETTINGS[self.depth]
    stage_blocks = tuple(self.stage_blocks or default_blocks[:self.num_stages])
    inflations = expand(self.inflate, self.num_stages)
    self.conv1 = ConvModule(
        self.base_channels, tuple(self.conv1_kernel),
        strides=(self.conv1_stride_t, self.conv1_stride_s, self.conv1_stride_s),
        padding=tuple((k - 1) // 2 for k in self.conv1_kernel),
        norm_groups=self.norm_groups, dtype=self.dtype)
    inplanes = self.base_channels
    stages = []
    for i, n_blocks in enumerate(stage_blocks):
      planes = self.base_channels * 2**i
      inflate = expand(inflations[i], n_blocks)
      in_total = inplanes + self.lateral_inplanes(inplanes)
      needs_down = self.spatial_strides[i] != 1 or in_total != planes * block.expansion
      blocks = []
      for j in range(n_blocks):
        first = j == 0
        blocks.append(block(
            planes,
            spatial_stride=self.spatial_strides[i] if first else 1,
            temporal_stride=self.temporal_strides[i] if first else 1,
            dilation=self.dilations[i],
            downsample=first and needs_down,
            style=self.style,
            inflate=inflate[j] == 1,
            inflate_style=self.inflate_style,
            zero_init_residual=self.zero_init_residual,
            norm_eval=self.norm_eval,
            norm_groups=self.norm_groups,
            dtype=self.dtype,
            name=f"layer{i + 1}_{j}"))
      stages.append(blocks)
      inplanes = planes * block.expansion
    self.stages = stages
    self.feat_dim = inplanes

  def stem(self, x, train: bool = False):
    x = self.conv1(x, train, self.norm_eval)
    if self.with_pool1:
      x = max_pool(x, (1, 3, 3), (self.pool1_stride_t, self.pool1_stride_s, self.pool1_stride_s),
                   (0, 1, 1))
    return x

  def stage(self, i: int, x, train: bool = False):
    for block in self.stages[i]:
      x = block(x, train)
    return x

  def __call__(self, x, train: bool = False):
    x = self.stem(x.astype(self.dtype), train)
    outs = []
    for i in range(len(self.stages)):
      x = self.stage(i, x, train)
      if i == 0 and self.with_pool2:
        x = max_pool(x, (2, 1, 1), (2, 1, 1), (0, 0, 0))
      if i in self.out_indices:
        outs.append(x)
    return outs[0] if len(outs) == 1 else tuple(outs)
