"""ResNet3d (I3D-style inflated ResNet) with MMAction2's argument names, channels-last (N, T, H, W, C).

Submodule names follow MMAction2 (``conv1``, ``layer1_0.conv2.bn``, ``downsample``) so that
checkpoint conversion is a rename plus a transpose.
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from vjax.models.builder import MODELS
from vjax.models.layers import ConvModule, ConvSpec, ResBlock, pad_pairs


def max_pool(x, window: Sequence[int], strides: Sequence[int], padding: Sequence[int]):
  """PyTorch MaxPool semantics: explicit symmetric padding with -inf."""
  return nn.max_pool(x, tuple(window), strides=tuple(strides), padding=pad_pairs(padding, len(window)))


def expand(v, n: int) -> tuple:
  return tuple(v) if isinstance(v, Sequence) else (v,) * n


def basic_block3d(planes, spatial_stride=1, temporal_stride=1, dilation=1, style="pytorch",
                  inflate=True, inflate_style="3x1x1"):
  """Convs of MMAction2's BasicBlock3d (the stride is always on the first conv)."""
  d, st, ss = dilation, temporal_stride, spatial_stride
  k1, p1, k2, p2 = (((3, 3, 3), (1, d, d), (3, 3, 3), (1, 1, 1)) if inflate else
                    ((1, 3, 3), (0, d, d), (1, 3, 3), (0, 1, 1)))
  return (ConvSpec(planes, k1, (st, ss, ss), p1, (1, d, d)),
          ConvSpec(planes, k2, (1, 1, 1), p2))


def bottleneck3d(planes, spatial_stride=1, temporal_stride=1, dilation=1, style="pytorch",
                 inflate=True, inflate_style="3x1x1"):
  """Convs of MMAction2's Bottleneck3d: 1x1x1 -> 1x3x3 (or inflated) -> 1x1x1 (x4 width)."""
  if style not in ("pytorch", "caffe"):
    raise ValueError(f"style must be 'pytorch' or 'caffe', got {style!r}")
  if inflate_style not in ("3x1x1", "3x3x3"):
    raise ValueError(f"inflate_style must be '3x1x1' or '3x3x3', got {inflate_style!r}")
  d, st, ss = dilation, temporal_stride, spatial_stride
  # 'pytorch' puts the stride on the 3x3 conv, 'caffe' on the first 1x1.
  s1, s2 = ((1, 1, 1), (st, ss, ss)) if style == "pytorch" else ((st, ss, ss), (1, 1, 1))
  if inflate and inflate_style == "3x1x1":
    k1, p1, k2, p2 = (3, 1, 1), (1, 0, 0), (1, 3, 3), (0, d, d)
  elif inflate:
    k1, p1, k2, p2 = (1, 1, 1), (0, 0, 0), (3, 3, 3), (1, d, d)
  else:
    k1, p1, k2, p2 = (1, 1, 1), (0, 0, 0), (1, 3, 3), (0, d, d)
  return (ConvSpec(planes, k1, s1, p1),
          ConvSpec(planes, k2, s2, p2, (1, d, d)),
          ConvSpec(planes * 4, (1, 1, 1), (1, 1, 1), (0, 0, 0)))


ARCH_SETTINGS = {
    18: (basic_block3d, 1, (2, 2, 2, 2)),
    34: (basic_block3d, 1, (3, 4, 6, 3)),
    50: (bottleneck3d, 4, (3, 4, 6, 3)),
    101: (bottleneck3d, 4, (3, 4, 23, 3)),
    152: (bottleneck3d, 4, (3, 8, 36, 3)),
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
    block, expansion, default_blocks = ARCH_SETTINGS[self.depth]
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
      needs_down = self.spatial_strides[i] != 1 or in_total != planes * expansion
      blocks = []
      for j in range(n_blocks):
        st, ss = (self.temporal_strides[i], self.spatial_strides[i]) if j == 0 else (1, 1)
        blocks.append(ResBlock(
            block(planes, ss, st, self.dilations[i], self.style, inflate[j] == 1,
                  self.inflate_style),
            downsample_strides=(st, ss, ss) if j == 0 and needs_down else None,
            zero_init_residual=self.zero_init_residual,
            norm_eval=self.norm_eval,
            norm_groups=self.norm_groups,
            dtype=self.dtype,
            name=f"layer{i + 1}_{j}"))
      stages.append(blocks)
      inplanes = planes * expansion
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
