"""MMAction2's ResNetAudio (Xiao et al. 2020): a 2D Bottleneck ResNet over spectrograms,
channels-last (N, T, F, C), with ConvAudio's factorised (k, 1) + (1, k) convs in the stem
and in the blocks of ``factorize``-d stages. No max-pool; returns the last stage."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import flax.linen as nn
import jax.numpy as jnp

from vjax.models import freeze
from vjax.models.builder import MODELS
from vjax.models.layers import ConvModule, ConvSpec, ResBlock, checkpointed
from vjax.models.layers.conv_audio import audio_conv
from vjax.models.layers.conv_module import as_tuple
from vjax.models.layers.mmcv_cfg import act_name, check_conv_cfg, norm_groups_for, norm_trainable

STAGE_BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
EXPANSION = 4


def bottleneck_audio(planes, stride, dilation, factorize, audio_layer):
  """Convs of Bottleneck2dAudio: 1x1 -> 3x3 (ConvAudio 'concat' when factorised, else a
  plain conv; either way without norm or activation, as in MMAction2) -> 1x1 (x4 width)."""
  d = dilation
  conv2 = (ConvSpec(planes, (3, 3), (stride, stride), (d, d), (d, d), conv_layer=audio_layer,
                    norm=False, act=None) if factorize else
           ConvSpec(planes, (3, 3), (stride, stride), (d, d), (d, d), norm=False, act=None))
  return (ConvSpec(planes, (1, 1), (1, 1), (0, 0), (d, d)), conv2,
          ConvSpec(planes * EXPANSION, (1, 1), (1, 1), (0, 0)))


@MODELS.register
class ResNetAudio(nn.Module):
  depth: int = 50
  pretrained: str | None = None
  in_channels: int = 1
  num_stages: int = 4
  base_channels: int = 32
  strides: Sequence[int] = (1, 2, 2, 2)
  dilations: Sequence[int] = (1, 1, 1, 1)
  conv1_kernel: Sequence[int] | int = 9
  conv1_stride: Sequence[int] | int = 1
  frozen_stages: int = -1
  factorize: Sequence[Any] | int = (1, 1, 0, 0)
  norm_eval: bool = False
  with_cp: bool = False  # rematerialise each residual block in the backward pass
  conv_cfg: Mapping[str, Any] | None = None
  norm_cfg: Mapping[str, Any] | None = None
  act_cfg: Mapping[str, Any] | None = None
  zero_init_residual: bool = True
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    if self.depth not in STAGE_BLOCKS:
      raise KeyError(f"invalid depth {self.depth} for ResNetAudio; choose from "
                     f"{sorted(STAGE_BLOCKS)}")
    if not 1 <= self.num_stages <= 4:
      raise ValueError(f"num_stages must be in [1, 4], got {self.num_stages}")
    check_conv_cfg(self.conv_cfg)
    act = act_name(self.act_cfg or {"type": "ReLU"})
    if act != "relu":
      raise ValueError("ResNetAudio supports act_cfg type 'ReLU' only")
    groups = norm_groups_for(self.norm_cfg, self.norm_groups)
    stage_factors = (self.factorize if isinstance(self.factorize, Sequence)
                     else (self.factorize,) * self.num_stages)
    # Freezing the stem sets only its own BN to eval; ConvAudio's branch BNs keep training.
    stem_layer = audio_conv("sum", not train or self.norm_eval, groups)
    x = ConvModule(self.base_channels, as_tuple(self.conv1_kernel, 2),
                   strides=self.conv1_stride, conv_layer=stem_layer, norm_groups=groups,
                   dtype=self.dtype, name="conv1")(x.astype(self.dtype), train,
                                                   self.norm_eval or self.frozen_stages >= 0)
    inplanes, block = self.base_channels, checkpointed(ResBlock, self.with_cp)
    for i, n_blocks in enumerate(STAGE_BLOCKS[self.depth][:self.num_stages]):
      planes = self.base_channels * 2**i
      factors = stage_factors[i]
      factors = tuple(factors) if isinstance(factors, Sequence) else (factors,) * n_blocks
      if len(factors) != n_blocks:
        raise ValueError(f"factorize for stage {i + 1} needs {n_blocks} entries, got {factors}")
      norm_eval = self.norm_eval or i < self.frozen_stages
      audio_layer = audio_conv("concat", not train or norm_eval, groups)
      for j in range(n_blocks):
        stride = self.strides[i] if j == 0 else 1
        down = j == 0 and (stride != 1 or inplanes != planes * EXPANSION)
        x = block(bottleneck_audio(planes, stride, self.dilations[i], factors[j] == 1,
                                   audio_layer),
                     downsample_strides=(stride, stride) if down else None,
                     zero_init_residual=self.zero_init_residual, norm_eval=norm_eval,
                     norm_groups=groups, dtype=self.dtype, name=f"layer{i + 1}_{j}")(x, train)
      inplanes = planes * EXPANSION
    return x

  @nn.nowrap
  def is_frozen(self, path: freeze.Path) -> bool:
    stage = freeze.stage_of(path)
    if stage is not None and stage <= self.frozen_stages:
      return True
    # ConvAudio's branch BNs (conv_1/bn, conv_2/bn) are plain BN whatever norm_cfg says.
    return (freeze.is_norm_param(path) and not norm_trainable(self.norm_cfg)
            and not {"conv_1", "conv_2"} & set(path))
