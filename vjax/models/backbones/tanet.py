"""TANet (Liu et al. 2021) as MMAction2's TANet: a 2D ResNet-50+ whose every Bottleneck runs
a Temporal Adaptive Module after its first conv. Paths follow MMAction2's TABlock wrapper:
``layer1_0/block/conv1/...`` for the block, ``layer1_0/tam/...`` for the module."""

from __future__ import annotations

import functools
from typing import Any, Mapping, Sequence

import flax.linen as nn
import jax.numpy as jnp

from vjax.models.backbones.resnet import ResNet, bottleneck
from vjax.models.builder import MODELS
from vjax.models.layers import ConvSpec, ResBlock, checkpointed
from vjax.models.layers.tam import TAM


class TABlock(nn.Module):
  """A Bottleneck (submodule ``block``) with TAM (submodule ``tam``) after its conv1."""

  convs: Sequence[ConvSpec]
  num_segments: int
  tam_cfg: Mapping[str, Any]
  downsample_strides: Sequence[int] | None = None
  norm_eval: bool = False
  tam_norm_eval: bool = False
  norm_groups: int | None = None
  tam_norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    tam = TAM(num_segments=self.num_segments, **self.tam_cfg, norm_eval=self.tam_norm_eval,
              norm_groups=self.tam_norm_groups, dtype=self.dtype, name="tam")
    return ResBlock(self.convs, downsample_strides=self.downsample_strides,
                    norm_eval=self.norm_eval, mid=lambda y: tam(y, train),
                    norm_groups=self.norm_groups, dtype=self.dtype, name="block")(x, train)


@MODELS.register
class TANet(ResNet):
  """ResNet (Bottleneck depths) with a TA-Block for every block. ``num_segments >= 3``."""

  num_segments: int = 8
  tam_cfg: Mapping[str, Any] | None = None

  def make_block(self, i, j, convs, downsample_strides):
    if self.num_segments < 3:
      raise ValueError(f"TANet needs num_segments >= 3, got {self.num_segments}")
    if self.arch()[0] is not bottleneck:
      raise NotImplementedError("TA-Blocks exist for Bottleneck ResNets only (depth >= 50)")
    # MMAction2's TABlock checkpoints its block and TAM together when the block has with_cp.
    return functools.partial(
        checkpointed(TABlock, self.with_cp), tuple(convs), self.num_segments, dict(self.tam_cfg or {}),
        downsample_strides=downsample_strides, norm_eval=self.stage_norm_eval(i),
        # TAM's norms are BatchNorm1d: norm_eval and frozen stages reach them, partial_bn not.
        tam_norm_eval=self.norm_eval or i < self.frozen_stages,
        norm_groups=self.bn_groups(), tam_norm_groups=self.norm_groups, dtype=self.dtype)
