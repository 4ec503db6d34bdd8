"""TPN (Yang et al. 2020), MMAction2's temporal pyramid neck, on channels-last clips.

Input: backbone features of several depths, each (N, T, H, W, C) (a 2D backbone's frames
folded back into clips by the recognizer). Spatial modulation brings every level to the top
level's size, temporal modulation to its own temporal rate; a top-down and a bottom-up
flow each end in a LevelFusion, and ``pyramid_fusion`` merges both into 2048 channels.
The auxiliary head classifies the second-deepest level during training; the neck returns its
scores next to the features, and ``aux_loss`` (here, next to the head) turns them into
MMAction2's ``loss_aux``.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from vjax.models.builder import MODELS
from vjax.models.losses import loss_fn
from vjax.models.layers import ConvModule
from vjax.models.layers.conv_module import as_tuple
from vjax.models.layers.mmcv_cfg import act_name

# TPN.init_weights: xavier_init(distribution='uniform') for every Conv3d.
xavier_uniform = nn.initializers.variance_scaling(1.0, "fan_avg", "uniform")


def max_pool_ceil(x, window: Sequence[int]):
  """PyTorch ``MaxPool3d(window, window, 0, ceil_mode=True)`` on (N, T, H, W, C)."""
  pads = []
  for size, k in zip(x.shape[1:-1], window):
    out = -(-(size - k) // k) + 1
    if (out - 1) * k >= size:
      out -= 1
    pads.append((0, max((out - 1) * k + k - size, 0)))
  return nn.max_pool(x, tuple(window), strides=tuple(window), padding=tuple(pads))


def upsample_nearest(x, scale_factor=None, size=None, mode: str = "nearest",
                     align_corners=None):
  """PyTorch ``nn.Upsample`` (mode 'nearest') on (N, T, H, W, C)."""
  if mode != "nearest":
    raise NotImplementedError(f"TPN upsample_cfg mode {mode!r}: only 'nearest' is implemented")
  dims = x.shape[1:-1]
  if size is not None:
    out = as_tuple(size, 3)
    scales = [i / o for i, o in zip(dims, out)]
  else:
    factors = as_tuple(scale_factor, 3)
    out = tuple(int(math.floor(d * f)) for d, f in zip(dims, factors))
    scales = [1 / f for f in factors]
  for axis, (d, o, s) in enumerate(zip(dims, out, scales)):
    if o != d or s != 1:
      idx = np.minimum(np.floor(np.arange(o) * s).astype(np.int64), d - 1)
      x = jnp.take(x, idx, axis=axis + 1)
  return x


class DownSample(nn.Module):
  """Conv then ceil-mode max-pool (or pool first: ``downsample_position='before'``)."""

  in_channels: int
  out_channels: int
  kernel_size: Sequence[int] | int = (3, 1, 1)
  stride: Sequence[int] | int = (1, 1, 1)
  padding: Sequence[int] | int = (1, 0, 0)
  groups: int = 1
  bias: bool = False
  conv_cfg: Mapping[str, Any] | None = None  # Conv3d
  norm_cfg: Mapping[str, Any] | None = None
  act_cfg: Mapping[str, Any] | None = None
  downsample_position: str = "after"
  downsample_scale: Sequence[int] | int = (1, 2, 2)
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    if self.downsample_position not in ("before", "after"):
      raise ValueError(f"downsample_position must be 'before' or 'after', got "
                       f"{self.downsample_position!r}")
    conv = ConvModule(self.out_channels, as_tuple(self.kernel_size, 3), strides=self.stride,
                      padding=self.padding, groups=self.groups, use_bias=self.bias,
                      norm=self.norm_cfg is not None, act=act_name(self.act_cfg),
                      kernel_init=xavier_uniform, norm_groups=self.norm_groups,
                      dtype=self.dtype, name="conv")
    scale = as_tuple(self.downsample_scale, 3)
    if self.downsample_position == "before":
      return conv(max_pool_ceil(x, scale), train)
    return max_pool_ceil(conv(x, train), scale)


def _conv_bn_relu(features, kernel_size, name, norm_groups, dtype, **kwargs):
  return ConvModule(features, kernel_size, kernel_init=xavier_uniform, norm_groups=norm_groups,
                    dtype=dtype, name=name, **kwargs)


class LevelFusion(nn.Module):
  """Per level a grouped 1x1x1 conv (after a pool), concatenated, then a 1x1x1 fusion."""

  in_channels: Sequence[int]
  mid_channels: Sequence[int]
  out_channels: int
  downsample_scales: Sequence[Any] = ((1, 1, 1), (1, 1, 1))
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, xs, train: bool = False):
    relu, bn = dict(type="ReLU"), dict(type="BN3d")
    out = [DownSample(self.in_channels[i], self.mid_channels[i], kernel_size=(1, 1, 1),
                      stride=(1, 1, 1), padding=(0, 0, 0), groups=32, norm_cfg=bn, act_cfg=relu,
                      downsample_position="before", downsample_scale=self.downsample_scales[i],
                      norm_groups=self.norm_groups, dtype=self.dtype,
                      name=f"downsamples_{i}")(x, train) for i, x in enumerate(xs)]
    return _conv_bn_relu(self.out_channels, (1, 1, 1), "fusion_conv", self.norm_groups,
                         self.dtype)(jnp.concatenate(out, axis=-1), train)


class SpatialModulation(nn.Module):
  """Strided (1, 3, 3) convs bring each level to the top level's spatial size; a level's
  conv count is log2(out_channels / its channels), none for the top level."""

  in_channels: Sequence[int]
  out_channels: int
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, xs, train: bool = False):
    out = []
    for i, (channels, x) in enumerate(zip(self.in_channels, xs)):
      for f in range(int(np.log2(self.out_channels // channels))):
        x = _conv_bn_relu(channels * 2**(f + 1), (1, 3, 3), f"spatial_modulation_{i}_{f}",
                          self.norm_groups, self.dtype, strides=(1, 2, 2),
                          padding=(0, 1, 1))(x, train)
      out.append(x)
    return out


class TemporalModulation(nn.Module):
  """A grouped (3, 1, 1) conv, then a temporal max-pool by ``downsample_scale``."""

  in_channels: int
  out_channels: int
  downsample_scale: int = 8
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    x = ConvModule(self.out_channels, (3, 1, 1), padding=(1, 0, 0), groups=32, norm=False,
                   act=None, kernel_init=xavier_uniform, dtype=self.dtype, name="conv")(x, train)
    return max_pool_ceil(x, (self.downsample_scale, 1, 1))


class AuxHead(nn.Module):
  """Strided conv, global average pool, dropout 0.5, ``fc``: scores for the auxiliary loss."""

  in_channels: int
  out_channels: int
  loss_weight: float = 0.5  # read by the recognizer's loss
  loss_cls: Mapping[str, Any] | None = None
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    x = _conv_bn_relu(self.in_channels * 2, (1, 3, 3), "conv", self.norm_groups, self.dtype,
                      strides=(1, 2, 2), padding=(0, 1, 1))(x, train)
    x = nn.Dropout(0.5, deterministic=not train)(x.mean(axis=(1, 2, 3)))
    return nn.Dense(self.out_channels, kernel_init=nn.initializers.normal(0.01), dtype=self.dtype,
                    name="fc")(x).astype(jnp.float32)


@MODELS.register
class TPN(nn.Module):
  in_channels: Sequence[int]
  out_channels: int
  spatial_modulation_cfg: Mapping[str, Any] | None = None
  temporal_modulation_cfg: Mapping[str, Any] | None = None
  upsample_cfg: Mapping[str, Any] | None = None
  downsample_cfg: Mapping[str, Any] | None = None
  level_fusion_cfg: Mapping[str, Any] | None = None
  aux_head_cfg: Mapping[str, Any] | None = None
  flow_type: str = "cascade"
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, xs, train: bool = False):
    """xs: tuple of (N, T_i, H_i, W_i, C_i) -> ((N, T', H', W', 2048), aux scores or None).

    The auxiliary head's scores come back in training only (it is built at init too, so
    checkpoints hold it)."""
    if self.flow_type not in ("cascade", "parallel"):
      raise ValueError(f"TPN flow_type must be 'cascade' or 'parallel', got {self.flow_type!r}")
    if self.level_fusion_cfg is None or self.spatial_modulation_cfg is None:
      raise ValueError("TPN needs level_fusion_cfg and spatial_modulation_cfg")
    if self.temporal_modulation_cfg is None:
      raise ValueError("TPN needs temporal_modulation_cfg (its outputs feed both flows)")
    xs = tuple(xs)
    if len(xs) != len(self.in_channels):
      raise ValueError(f"TPN in_channels={tuple(self.in_channels)} but got {len(xs)} features")
    common = dict(norm_groups=self.norm_groups, dtype=self.dtype)
    stages = len(self.in_channels)

    aux = None
    if self.aux_head_cfg is not None and (train or self.is_initializing()):
      aux = AuxHead(self.in_channels[-2], **self.aux_head_cfg, **common, name="aux_head")(
          xs[-2], train)
      aux = aux if train else None

    spatial = SpatialModulation(**self.spatial_modulation_cfg, **common,
                                name="spatial_modulation")(xs, train)
    scales = self.temporal_modulation_cfg["downsample_scales"]
    # MMAction2 builds every temporal modulation with the top level's in_channels.
    temporal = [TemporalModulation(self.in_channels[-1], self.out_channels, scales[i], **common,
                                   name=f"temporal_modulation_ops_{i}")(spatial[i], train)
                for i in range(stages)]

    outs = list(temporal)
    if self.upsample_cfg is not None:
      for i in range(stages - 1, 0, -1):
        outs[i - 1] = outs[i - 1] + upsample_nearest(outs[i], **self.upsample_cfg)
    top_down = LevelFusion(**self.level_fusion_cfg, **common, name="level_fusion_1")(outs, train)

    if self.flow_type == "parallel":
      outs = list(temporal)
    if self.downsample_cfg is not None:
      for i in range(stages - 1):
        down = DownSample(self.out_channels, self.out_channels, **self.downsample_cfg, **common,
                          name=f"downsample_ops_{i}")
        outs[i + 1] = outs[i + 1] + down(outs[i], train)
    bottom_up = LevelFusion(**self.level_fusion_cfg, **common, name="level_fusion_2")(outs, train)

    out = _conv_bn_relu(2048, (1, 1, 1), "pyramid_fusion", self.norm_groups, self.dtype)(
        jnp.concatenate([top_down, bottom_up], axis=-1), train)
    return out, aux


def aux_loss(aux_cfg: Mapping[str, Any], scores, labels, weights=None):
  """MMAction2's ``loss_aux``: ``loss_weight * loss_cls(scores, labels)`` of TPN's auxiliary
  head (``aux_head_cfg``).

  ``scores`` may hold several rows per label (views); labels and weights repeat to match.
  """
  fn, kwargs = loss_fn(aux_cfg.get("loss_cls"), "aux loss_cls")
  rows = scores.shape[0] // labels.shape[0]
  if rows > 1:
    labels = jnp.repeat(labels, rows, axis=0)
    weights = None if weights is None else jnp.repeat(weights, rows, axis=0)
  return aux_cfg.get("loss_weight", 0.5) * fn(
      scores, labels, num_classes=aux_cfg["out_channels"], weights=weights, **kwargs)
