"""TSM (Lin et al. 2019) as MMAction2's ResNetTSM: a 2D ResNet whose blocks shift part of
their channels across neighbouring segments, plus optional temporal pooling and non-local
blocks. Frames arrive as (N * num_segments, H, W, C), videos contiguous.

Module paths reproduce MMAction2's wrapping, so checkpoints map by name:
'blockres' shift  -> ``layer1_0/conv1/conv/net`` (the shift wraps the block's first conv),
'block' shift     -> ``layer1_0/net/conv1/...`` (it wraps the whole block),
non-local         -> ``layer2_0/block/...`` and ``layer2_0/non_local_block/...``,
temporal pool     -> ``layer2/net_0/...`` (it wraps stage 2).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Mapping, Sequence

import flax.linen as nn
import jax.numpy as jnp

from vjax.models import freeze
from vjax.models.backbones.resnet import ARCH_SETTINGS, ResNet
from vjax.models.builder import MODELS
from vjax.models.layers import ConvSpec
from vjax.models.layers.mmcv_cfg import norm_trainable
from vjax.models.layers.non_local import NonLocal3d
from vjax.models.layers.temporal_shift import TemporalShift, shifted_conv


class NL3DWrapper(nn.Module):
  """Runs ``block`` then a NonLocal3d over each video's segments (MMAction2's NL3DWrapper)."""

  block: Callable[..., nn.Module]
  num_segments: int
  non_local_cfg: Mapping[str, Any]
  norm_eval: bool = False
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    x = self.block(name="block")(x, train)
    n = x.shape[0]
    clips = x.reshape((n // self.num_segments, self.num_segments) + x.shape[1:])
    clips = NonLocal3d(**self.non_local_cfg, norm_eval=self.norm_eval, norm_groups=self.norm_groups,
                       dtype=self.dtype, name="non_local_block")(clips, train)
    return clips.reshape(x.shape)


class TemporalPool(nn.Module):
  """Max-pools each video's segments 3 -> stride 2 in time, then runs the wrapped stage's
  blocks (named ``net_{j}`` as the wrapped Sequential's children)."""

  blocks: Sequence[Callable[..., nn.Module]]
  num_segments: int

  @nn.compact
  def __call__(self, x, train: bool = False):
    n = x.shape[0]
    clips = x.reshape((n // self.num_segments, self.num_segments) + x.shape[1:])
    clips = nn.max_pool(clips, (3, 1, 1), strides=(2, 1, 1), padding=((1, 1), (0, 0), (0, 0)))
    x = clips.reshape((-1,) + x.shape[1:])
    for j, block in enumerate(self.blocks):
      x = block(name=f"net_{j}")(x, train)
    return x


@MODELS.register
class ResNetTSM(ResNet):
  """ResNet with temporal shift. ``temporal_pool`` halves the segments before stage 2 (the
  shifts of stages 2-4 then see ``num_segments // 2``); ``non_local`` gives per stage, per
  block, whether a NonLocal3d follows (only when ``non_local_cfg`` is not empty, as in
  MMAction2, whose wrapper also reshapes with the full ``num_segments``)."""

  num_segments: int = 8
  is_shift: bool = True
  non_local: Sequence[Any] = (0, 0, 0, 0)
  non_local_cfg: Mapping[str, Any] | None = None
  shift_div: int = 8
  shift_place: str = "blockres"
  temporal_pool: bool = False

  def stage_segments(self, i: int) -> int:
    segments = self.num_segments // 2 if self.temporal_pool and i > 0 else self.num_segments
    if segments <= 0:
      raise ValueError("num_segments // 2 must be positive with temporal_pool")
    return segments

  def with_shift(self, i: int, j: int, convs: Sequence[ConvSpec], factory_of):
    """The block factory with TSM's shift at ``shift_place``."""
    if not self.is_shift:
      return factory_of(convs)
    segments = self.stage_segments(i)
    if self.shift_place == "block":
      return functools.partial(TemporalShift, factory_of(convs), num_segments=segments,
                               shift_div=self.shift_div)
    if "blockres" not in self.shift_place:
      raise NotImplementedError(f"shift_place must be 'block' or 'blockres', got "
                                f"{self.shift_place!r}")
    # ResNet-101 and deeper shift every other block ('n_round' in MMAction2).
    stage_blocks = ARCH_SETTINGS[self.depth][2]
    n_round = 2 if self.num_stages >= 3 and stage_blocks[2] >= 23 else 1
    if j % n_round == 0:
      convs = (convs[0]._replace(conv_layer=shifted_conv(segments, self.shift_div)),
               *convs[1:])
    return factory_of(convs)

  def with_non_local(self, i: int, j: int, factory):
    cfg = dict(self.non_local_cfg or {})
    if not cfg:
      return factory
    flags = self.non_local[i] if isinstance(self.non_local, Sequence) else self.non_local
    flag = flags[j] if isinstance(flags, Sequence) else flags
    if not flag:
      return factory
    # Its norm is a BatchNorm3d: norm_eval and frozen stages reach it, partial_bn does not.
    return functools.partial(NL3DWrapper, factory, self.num_segments, cfg,
                             norm_eval=self.norm_eval or i < self.frozen_stages,
                             norm_groups=self.norm_groups, dtype=self.dtype)

  def make_block(self, i, j, convs, downsample_strides):
    base = functools.partial(ResNet.make_block, self, i, j, downsample_strides=downsample_strides)
    return self.with_non_local(i, j, self.with_shift(i, j, convs, base))

  def run_stage(self, i, blocks, x, train):
    if self.temporal_pool and i == 1:
      return TemporalPool(tuple(blocks), self.num_segments, name="layer2")(x, train)
    return super().run_stage(i, blocks, x, train)

  @nn.nowrap
  def is_frozen(self, path: freeze.Path) -> bool:
    if super().is_frozen(path):
      return True
    nl_norm = (self.non_local_cfg or {}).get("norm_cfg")
    return ("non_local_block" in path and freeze.is_norm_param(path)
            and not norm_trainable(nl_norm))
