"""X3D (Feichtenhofer, 2020) with MMAction2's arguments, channel rounding and module names.

Input (N, T, H, W, C). A spatial 1x3x3 stride-2 conv (``conv1_s``, no norm) and a depthwise
5x1x1 temporal conv (``conv1_t``) form the stem; four stages of ``BlockX3D`` (1x1x1 ->
depthwise 3x3x3 -> squeeze-excitation -> swish -> 1x1x1, plus a shortcut) follow, then a
1x1x1 ``conv5`` widening by ``gamma_b``. Widths start at 24 and double per stage:
``gamma_w`` scales the width (rounded to multiples of 8), ``gamma_d`` the blocks per stage
(1, 2, 5, 3; rounded up), ``gamma_b`` the blocks' inner width. MMAction2's configs use
gamma_w=1, gamma_b=2.25, gamma_d=2.2 (X3D-S and X3D-M differ only in their input); X3D-L is
gamma_d=5 and X3D-XL gamma_w=1.45, gamma_d=5 in this parameterisation.

Time is never strided. ``frozen_stages`` k fixes the stem and ``layer1``..``layerk``
(``conv5`` never); their BatchNorms, and all of them with ``norm_eval``, keep their running
statistics in training. ``pretrained`` names the backbone checkpoint training starts from
(vjax.convert.pretrained; nothing is downloaded); ``with_cp`` rematerialises every block in
the backward pass.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import flax.linen as nn
import jax.numpy as jnp

from vjax.models import freeze
from vjax.models.builder import MODELS
from vjax.models.layers import ConvModule, checkpointed
from vjax.models.layers.conv import Conv
from vjax.models.layers.conv_module import ACTIVATIONS, kaiming_fan_out
from vjax.models.layers.mmcv_cfg import act_name, check_conv_cfg, norm_groups_for, norm_trainable


def round_width(width: float, multiplier: float | None, min_width: int = 8,
                divisor: int = 8) -> int:
  """``width * multiplier`` to the nearest multiple of ``divisor`` (at least ``min_width``),
  one step up if rounding lost more than 10%. A falsy multiplier keeps ``width``."""
  if not multiplier:
    return width
  width *= multiplier
  out = max(min_width, int(width + divisor / 2) // divisor * divisor)
  if out < 0.9 * width:
    out += divisor
  return int(out)


def round_repeats(repeats: int, multiplier: float | None) -> int:
  """Blocks per stage times the depth factor, rounded up."""
  return repeats if not multiplier else int(math.ceil(multiplier * repeats))


class SEModule(nn.Module):
  """Squeeze-excitation: channel gates from the clip's mean, through a bottleneck of
  ``round_width(channels, reduction)`` with biased 1x1x1 convs ``fc1``/``fc2``."""

  channels: int
  reduction: float
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    conv = lambda c, name: Conv(  # noqa: E731
        c, (1, 1, 1), dtype=self.dtype, name=name,
        kernel_init=nn.with_logical_partitioning(kaiming_fan_out,
                                                 (None, None, None, "conv_in", "conv_out")),
        bias_init=nn.with_logical_partitioning(nn.initializers.zeros, ("conv_out",)))
    s = x.mean(axis=(1, 2, 3), keepdims=True)
    s = nn.relu(conv(round_width(self.channels, self.reduction), "fc1")(s))
    return x * nn.sigmoid(conv(self.channels, "fc2")(s))


class BlockX3D(nn.Module):
  """relu(conv3(swish(se(conv2(conv1(x))))) + shortcut(x)); conv2 is depthwise.

  MMAction2 0.24.1 applies the swish whatever its ``use_swish`` says, and so does vjax,
  so that its checkpoints keep their meaning.
  """

  planes: int
  outplanes: int
  spatial_stride: int = 1
  downsample: bool = False
  se_ratio: float | None = None
  act: str = "relu"
  zero_init_residual: bool = True
  norm_eval: bool = False
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    conv = lambda *a, **k: ConvModule(  # noqa: E731
        *a, **k, norm_groups=self.norm_groups, dtype=self.dtype)
    s = (1, self.spatial_stride, self.spatial_stride)
    out = conv(self.planes, (1, 1, 1), act=self.act, name="conv1")(x, train, self.norm_eval)
    out = conv(self.planes, (3, 3, 3), strides=s, padding=1, groups=self.planes, act=None,
               name="conv2")(out, train, self.norm_eval)
    if self.se_ratio is not None:
      out = SEModule(self.planes, self.se_ratio, self.dtype, name="se_module")(out)
    out = nn.swish(out)
    out = conv(self.outplanes, (1, 1, 1), act=None, bn_zero_init=self.zero_init_residual,
               name="conv3")(out, train, self.norm_eval)
    if self.downsample:
      x = conv(self.outplanes, (1, 1, 1), strides=s, act=None, name="downsample")(
          x, train, self.norm_eval)
    return ACTIVATIONS[self.act](out + x)


@MODELS.register
class X3D(nn.Module):
  gamma_w: float = 1.0
  gamma_b: float = 1.0
  gamma_d: float = 1.0
  pretrained: str | None = None
  in_channels: int = 3
  num_stages: int = 4
  spatial_strides: Sequence[int] = (2, 2, 2, 2)
  frozen_stages: int = -1
  se_style: str = "half"
  se_ratio: float | None = 1 / 16
  use_swish: bool = True
  conv_cfg: Mapping[str, Any] | None = None  # None: dict(type='Conv3d')
  norm_cfg: Mapping[str, Any] | None = None  # None: dict(type='BN3d', requires_grad=True)
  act_cfg: Mapping[str, Any] | None = None  # None: dict(type='ReLU')
  norm_eval: bool = False
  with_cp: bool = False
  zero_init_residual: bool = True
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.nowrap
  def arch(self):
    """(base width, blocks per stage, [(inplanes, planes)] per stage, conv5 width), validated."""
    if not 1 <= self.num_stages <= 4:
      raise ValueError(f"num_stages must be in [1, 4], got {self.num_stages}")
    if len(self.spatial_strides) != self.num_stages:
      raise ValueError(f"spatial_strides {tuple(self.spatial_strides)} needs num_stages="
                       f"{self.num_stages} entries")
    if self.se_style not in ("all", "half"):
      raise ValueError(f"se_style must be 'all' or 'half', got {self.se_style!r}")
    if self.se_ratio is not None and not self.se_ratio > 0:
      raise ValueError(f"se_ratio must be None or > 0, got {self.se_ratio}")
    if not -1 <= self.frozen_stages <= self.num_stages:
      raise ValueError(f"frozen_stages must be in [-1, num_stages={self.num_stages}], got "
                       f"{self.frozen_stages}")
    base = round_width(24, self.gamma_w)
    blocks = [round_repeats(b, self.gamma_d) for b in (1, 2, 5, 3)][:self.num_stages]
    widths = [(base * 2**i, int(base * 2**i * self.gamma_b)) for i in range(self.num_stages)]
    return base, blocks, widths, int(widths[-1][0] * self.gamma_b)

  @property
  def feat_dim(self) -> int:
    """Channels of the output (``conv5``'s): what the head's ``in_channels`` must be."""
    return self.arch()[3]

  @nn.compact
  def __call__(self, x, train: bool = False):
    base, blocks, widths, out_width = self.arch()
    check_conv_cfg(self.conv_cfg)
    act = act_name(self.act_cfg or {"type": "ReLU"})
    groups = norm_groups_for(self.norm_cfg, self.norm_groups)
    if x.shape[-1] != self.in_channels:
      raise ValueError(f"X3D(in_channels={self.in_channels}) got {x.shape[-1]} input channels")
    x = ConvModule(base, (1, 3, 3), strides=(1, 2, 2), padding=(0, 1, 1), norm=False, act=None,
                   dtype=self.dtype, name="conv1_s")(x.astype(self.dtype), train)
    x = ConvModule(base, (5, 1, 1), padding=(2, 0, 0), groups=base, act=act, norm_groups=groups,
                   dtype=self.dtype, name="conv1_t")(
                       x, train, self.norm_eval or self.frozen_stages >= 0)
    layer_inplanes, block = base, checkpointed(BlockX3D, self.with_cp)
    for i, (n_blocks, (inplanes, planes)) in enumerate(zip(blocks, widths)):
      stride = self.spatial_strides[i]
      for j in range(n_blocks):
        use_se = self.se_style == "all" or j % 2 == 0
        x = block(planes, inplanes, stride if j == 0 else 1,
                     downsample=j == 0 and (stride != 1 or layer_inplanes != inplanes),
                     se_ratio=self.se_ratio if use_se else None, act=act,
                     zero_init_residual=self.zero_init_residual,
                     norm_eval=self.norm_eval or i < self.frozen_stages, norm_groups=groups,
                     dtype=self.dtype, name=f"layer{i + 1}_{j}")(x, train)
      layer_inplanes = inplanes
    return ConvModule(out_width, (1, 1, 1), act=act, norm_groups=groups, dtype=self.dtype,
                      name="conv5")(x, train, self.norm_eval)

  @nn.nowrap
  def is_frozen(self, path: freeze.Path) -> bool:
    """Whether the backbone parameter at ``path`` stays fixed in training."""
    stage = 0 if path[:1] in (("conv1_s",), ("conv1_t",)) else freeze.stage_of(path)
    if stage is not None and stage <= self.frozen_stages:
      return True
    return freeze.is_norm_param(path) and not norm_trainable(self.norm_cfg)
