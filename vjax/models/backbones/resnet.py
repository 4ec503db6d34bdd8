"""2D ResNet with MMAction2's argument names, channels-last (N, H, W, C); TSN's backbone."""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from vjax.models.backbones.resnet3d import max_pool
from vjax.models.builder import MODELS
from vjax.models.layers import ConvModule, ConvSpec, ResBlock


def basic_block(planes, stride=1, dilation=1, style="pytorch"):
  """Convs of MMAction2's 2D BasicBlock: two 3x3 convs, the stride on the first."""
  d = dilation
  return (ConvSpec(planes, (3, 3), (stride, stride), (d, d), (d, d)),
          ConvSpec(planes, (3, 3), (1, 1), (1, 1)))


def bottleneck(planes, stride=1, dilation=1, style="pytorch"):
  """Convs of MMAction2's 2D Bottleneck: 1x1 -> 3x3 -> 1x1 (x4 width)."""
  if style not in ("pytorch", "caffe"):
    raise ValueError(f"style must be 'pytorch' or 'caffe', got {style!r}")
  # 'pytorch' puts the stride on the 3x3 conv, 'caffe' on the first 1x1.
  s1, s2 = (1, stride) if style == "pytorch" else (stride, 1)
  d = dilation
  return (ConvSpec(planes, (1, 1), (s1, s1), (0, 0)),
          ConvSpec(planes, (3, 3), (s2, s2), (d, d), (d, d)),
          ConvSpec(planes * 4, (1, 1), (1, 1), (0, 0)))


ARCH_SETTINGS = {
    18: (basic_block, 1, (2, 2, 2, 2)),
    34: (basic_block, 1, (3, 4, 6, 3)),
    50: (bottleneck, 4, (3, 4, 6, 3)),
    101: (bottleneck, 4, (3, 4, 23, 3)),
    152: (bottleneck, 4, (3, 8, 36, 3)),
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
    block, expansion, stage_blocks = ARCH_SETTINGS[self.depth]
    x = ConvModule(self.base_channels, (7, 7), strides=2, padding=3, norm_groups=self.norm_groups,
                   dtype=self.dtype, name="conv1")(x.astype(self.dtype), train, self.norm_eval)
    x = max_pool(x, (3, 3), (2, 2), (1, 1))
    inplanes, outs = self.base_channels, []
    for i, n_blocks in enumerate(stage_blocks[:self.num_stages]):
      planes = self.base_channels * 2**i
      for j in range(n_blocks):
        stride = self.strides[i] if j == 0 else 1
        down = j == 0 and (stride != 1 or inplanes != planes * expansion)
        x = ResBlock(block(planes, stride, self.dilations[i], self.style),
                     downsample_strides=(stride, stride) if down else None,
                     norm_eval=self.norm_eval, norm_groups=self.norm_groups, dtype=self.dtype,
                     name=f"layer{i + 1}_{j}")(x, train)
      inplanes = planes * expansion
      if i in self.out_indices:
        outs.append(x)
    return outs[0] if len(outs) == 1 else tuple(outs)
