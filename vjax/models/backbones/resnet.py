"""2D ResNet with MMAction2's argument names, channels-last (N, H, W, C); TSN's backbone."""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from vjax.models.backbones.resnet3d import max_pool
from vjax.models.builder import MODELS
from vjax.models.layers import ConvModule


class BasicBlock(nn.Module):
  planes: int
  stride: int = 1
  dilation: int = 1
  downsample: bool = False
  style: str = "pytorch"
  norm_eval: bool = False
  norm_groups: int | None = None
  dtype: Any = jnp.float32
  expansion = 1

  @nn.compact
  def __call__(self, x, train: bool = False):
    d = self.dilation
    conv = lambda **kw: ConvModule(norm_groups=self.norm_groups, dtype=self.dtype, **kw)
    out = conv(features=self.planes, kernel_size=(3, 3), strides=self.stride, padding=d,
               dilation=d, name="conv1")(x, train, self.norm_eval)
    out = conv(features=self.planes, kernel_size=(3, 3), padding=1, act=None,
               name="conv2")(out, train, self.norm_eval)
    if self.downsample:
      x = conv(features=self.planes, kernel_size=(1, 1), strides=self.stride, act=None,
               name="downsample")(x, train, self.norm_eval)
    return nn.relu(out + x)


class Bottleneck(nn.Module):
  planes: int
  stride: int = 1
  dilation: int = 1
  downsample: bool = False
  style: str = "pytorch"
  norm_eval: bool = False
  norm_groups: int | None = None
  dtype: Any = jnp.float32
  expansion = 4

  @nn.compact
  def __call__(self, x, train: bool = False):
    if self.style not in ("pytorch", "caffe"):
      raise ValueError(f"style must be 'pytorch' or 'caffe', got {self.style!r}")
    s1, s2 = (1, self.stride) if self.style == "pytorch" else (self.stride, 1)
    d = self.dilation
    conv = lambda **kw: ConvModule(norm_groups=self.norm_groups, dtype=self.dtype, **kw)
    out = conv(features=self.planes, kernel_size=(1, 1), strides=s1, name="conv1")(
        x, train, self.norm_eval)
    out = conv(features=self.planes, kernel_size=(3, 3), strides=s2, padding=d, dilation=d,
               name="conv2")(out, train, self.norm_eval)
    out = conv(features=self.planes * 4, kernel_size=(1, 1), act=None, name="conv3")(
        out, train, self.norm_eval)
    if self.downsample:
      x = conv(features=self.planes * 4, kernel_size=(1, 1), strides=self.stride, act=None,
               name="downsample")(x, train, self.norm_eval)
    return nn.relu(out + x)


ARCH_SETTINGS = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}


@MODELS.register
class ResNet(nn.Module):
  """torchvision-layout ResNet (stem 7x7/2 + max-pool 3x3/2, four stages)."""

  depth: int = 50
  in_channels: int = 3
  num_stages: int = 4
  out_indices: Sequence[int] = (3,)
  strides: Sequence[int] = (1, 2, 2, 2)
  dilations: Sequence[int] = (1, 1, 1, 1)
  style: str = "pytorch"
  norm_eval: bool = False
  with_cp: bool = False  # accepted for MMAction2 configs; remat is a jit-level choice here
  base_channels: int = 64
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    if self.depth not in ARCH_SETTINGS:
      raise KeyError(f"invalid depth {self.depth} for ResNet; choose from {sorted(ARCH_SETTINGS)}")
    if max(self.out_indices) >= self.num_stages:
      raise ValueError(f"out_indices {self.out_indices} must be < num_stages={self.num_stages}")
    block, stage_blocks = ARCH_SETTINGS[self.depth]
    x = ConvModule(self.base_channels, (7, 7), strides=2, padding=3, norm_groups=self.norm_groups,
                   dtype=self.dtype, name="conv1")(x.astype(self.dtype), train, self.norm_eval)
    x = max_pool(x, (3, 3), (2, 2), (1, 1))
    inplanes, outs = self.base_channels, []
    for i, n_blocks in enumerate(stage_blocks[:self.num_stages]):
      planes = self.base_channels * 2**i
      for j in range(n_blocks):
        x = block(planes,
                  stride=self.strides[i] if j == 0 else 1,
                  dilation=self.dilations[i],
                  downsample=j == 0 and (self.strides[i] != 1 or inplanes != planes * block.expansion),
                  style=self.style, norm_eval=self.norm_eval, norm_groups=self.norm_groups,
                  dtype=self.dtype, name=f"layer{i + 1}_{j}")(x, train)
      inplanes = planes * block.expansion
      if i in self.out_indices:
        outs.append(x)
    return outs[0] if len(outs) == 1 else tuple(outs)
