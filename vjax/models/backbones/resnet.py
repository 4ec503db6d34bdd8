"""2D ResNet with MMAction2's argument names, channels-last (N, H, W, C); TSN's backbone and,
through ``make_block``/``run_stage``, the base of ResNetTSM, ResNetTIN and TANet."""

from __future__ import annotations

import functools
from typing import Any, Callable, Mapping, Sequence

import flax.linen as nn
import jax.numpy as jnp

from vjax.models import freeze
from vjax.models.backbones.resnet3d import max_pool
from vjax.models.builder import MODELS
from vjax.models.layers import ConvModule, ConvSpec, ResBlock, checkpointed
from vjax.models.layers.mmcv_cfg import act_name, check_conv_cfg, norm_groups_for, norm_trainable


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
  """torchvision-layout ResNet (stem 7x7/2 + max-pool 3x3/2, up to four stages).

  ``frozen_stages``, ``partial_bn`` and ``norm_eval`` act as MMAction2's ``train()``: the
  affected BatchNorms use their running statistics in training, and ``is_frozen`` names
  the parameters the train step keeps fixed. ``with_cp`` rematerialises every residual
  block in the backward pass; ``pretrained`` weights come in through vjax.convert.
  """

  depth: int = 50
  pretrained: str | None = None
  torchvision_pretrain: bool = True
  in_channels: int = 3
  num_stages: int = 4
  out_indices: Sequence[int] = (3,)
  strides: Sequence[int] = (1, 2, 2, 2)
  dilations: Sequence[int] = (1, 1, 1, 1)
  style: str = "pytorch"
  frozen_stages: int = -1
  conv_cfg: Mapping[str, Any] | None = None
  norm_cfg: Mapping[str, Any] | None = None
  act_cfg: Mapping[str, Any] | None = None
  norm_eval: bool = False
  partial_bn: bool = False
  with_cp: bool = False
  base_channels: int = 64  # vjax extension (MMAction2 fixes 64); tiny test models shrink it
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  def arch(self):
    """(block convs fn, expansion, blocks per stage), validated as MMAction2 does."""
    if self.depth not in ARCH_SETTINGS:
      raise KeyError(f"invalid depth {self.depth} for {type(self).__name__}; choose from "
                     f"{sorted(ARCH_SETTINGS)}")
    if not 1 <= self.num_stages <= 4:
      raise ValueError(f"num_stages must be in [1, 4], got {self.num_stages}")
    if max(self.out_indices) >= self.num_stages:
      raise ValueError(f"out_indices {self.out_indices} must be < num_stages={self.num_stages}")
    if not len(self.strides) == len(self.dilations) == self.num_stages:
      raise ValueError(f"strides {self.strides} and dilations {self.dilations} need "
                       f"num_stages={self.num_stages} entries")
    check_conv_cfg(self.conv_cfg)
    if act_name(self.act_cfg or {"type": "ReLU"}) != "relu":
      raise ValueError(f"{type(self).__name__} supports act_cfg type 'ReLU' only")
    block, expansion, stage_blocks = ARCH_SETTINGS[self.depth]
    return block, expansion, stage_blocks[:self.num_stages]

  def bn_groups(self):
    return norm_groups_for(self.norm_cfg, self.norm_groups)

  def stem_norm_eval(self) -> bool:
    """The stem BN is the first BatchNorm2d, which ``partial_bn`` leaves training."""
    return self.norm_eval or self.frozen_stages >= 0

  def stage_norm_eval(self, i: int) -> bool:
    """Whether stage ``i`` (0-based) keeps its BatchNorms in eval mode while training."""
    return self.norm_eval or self.partial_bn or i < self.frozen_stages

  def make_block(self, i: int, j: int, convs: Sequence[ConvSpec],
                 downsample_strides: Sequence[int] | None) -> Callable[..., nn.Module]:
    """A factory (taking ``name``) for block ``j`` of stage ``i``; subclasses wrap it."""
    return functools.partial(checkpointed(ResBlock, self.with_cp), tuple(convs),
                             downsample_strides=downsample_strides,
                             norm_eval=self.stage_norm_eval(i), norm_groups=self.bn_groups(),
                             dtype=self.dtype)

  def run_stage(self, i: int, blocks: Sequence[Callable[..., nn.Module]], x, train: bool):
    for j, block in enumerate(blocks):
      x = block(name=f"layer{i + 1}_{j}")(x, train)
    return x

  @nn.compact
  def __call__(self, x, train: bool = False):
    block, expansion, stage_blocks = self.arch()
    x = ConvModule(self.base_channels, (7, 7), strides=2, padding=3, norm_groups=self.bn_groups(),
                   dtype=self.dtype, name="conv1")(x.astype(self.dtype), train,
                                                   self.stem_norm_eval())
    x = max_pool(x, (3, 3), (2, 2), (1, 1))
    inplanes, outs = self.base_channels, []
    for i, n_blocks in enumerate(stage_blocks):
      planes = self.base_channels * 2**i
      blocks = []
      for j in range(n_blocks):
        stride = self.strides[i] if j == 0 else 1
        down = j == 0 and (stride != 1 or inplanes != planes * expansion)
        blocks.append(self.make_block(i, j, block(planes, stride, self.dilations[i], self.style),
                                      (stride, stride) if down else None))
      x = self.run_stage(i, blocks, x, train)
      inplanes = planes * expansion
      if i in self.out_indices:
        outs.append(x)
    return outs[0] if len(outs) == 1 else tuple(outs)

  @nn.nowrap
  def is_frozen(self, path: freeze.Path) -> bool:
    """Whether the backbone parameter at ``path`` stays fixed in training."""
    stage = freeze.stage_of(path)
    if stage is not None and stage <= self.frozen_stages:
      return True
    if freeze.is_norm_param(path) and "non_local_block" not in path:
      if not norm_trainable(self.norm_cfg):
        return True
      # partial_bn: every BatchNorm2d but the first (the stem's). TAM's BatchNorm1d and the
      # non-local BatchNorm3d are other kinds and stay trainable, as in MMAction2.
      if self.partial_bn and stage not in (None, 0):
        return True
    return False
