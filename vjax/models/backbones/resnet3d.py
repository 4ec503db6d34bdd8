"""ResNet3d (I3D-style inflated ResNet) and ResNet3dLayer with MMAction2's argument names,
channels-last (N, T, H, W, C).

Submodule names follow MMAction2 (``conv1``, ``layer1_0/conv2/bn``, ``layer2_1/downsample``,
``layer3_0/non_local_block``), so checkpoint conversion is a rename plus a transpose. A block
is a list of ``Unit``s (one ConvModule each) plus its shortcut; the block functions below
compute those units the way MMAction2's BasicBlock3d / Bottleneck3d lay out their convs, and
``resnet3d_csn`` adds CSN's channel-separated variant. ``resnet3d_slowfast`` reuses the stem
(``stem``), the stages (``stage``) and the lateral hook (``lateral_inplanes``).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, ClassVar, Mapping, NamedTuple, Sequence

import flax.linen as nn
import jax.numpy as jnp

from vjax.models import freeze
from vjax.models.builder import MODELS
from vjax.models.layers import ConvModule, checkpointed, pad_pairs
from vjax.models.layers.conv2plus1d import Conv2plus1d
from vjax.models.layers.conv_module import ACTIVATIONS
from vjax.models.layers.mmcv_cfg import act_name, norm_groups_for, norm_trainable
from vjax.models.layers.non_local import NonLocal3d


def max_pool(x, window: Sequence[int], strides: Sequence[int], padding: Sequence[int]):
  """PyTorch MaxPool semantics: explicit symmetric padding with -inf."""
  return nn.max_pool(x, tuple(window), strides=tuple(strides), padding=pad_pairs(padding, len(window)))


def expand(v, n: int) -> tuple:
  return tuple(v) if isinstance(v, Sequence) else (v,) * n


# ------------------------------------------------------------------ mmcv cfg dicts
CONV3D_TYPES = ("Conv", "Conv3d", "Conv2plus1d")
NORM_CFG_KEYS = ("type", "requires_grad", "eps")


@dataclasses.dataclass(frozen=True)
class Layers:
  """A backbone's ``conv_cfg`` / ``norm_cfg`` / ``act_cfg``, read once: builds its ConvModules."""

  conv_type: str = "Conv3d"
  eps: float = 1e-5
  act: str = "relu"
  norm_groups: int | None = None  # the recognizer's (Conv2plus1d's own BN3d follows it)
  bn_groups: int | None = None  # the norm_cfg's (None for SyncBN: global statistics)
  dtype: Any = jnp.float32

  @classmethod
  def read(cls, conv_cfg, norm_cfg, act_cfg, norm_groups, dtype, owner: str) -> "Layers":
    conv_type = (conv_cfg or {}).get("type", "Conv3d")
    if conv_type not in CONV3D_TYPES:
      raise ValueError(f"{owner}: conv_cfg type {conv_type!r} is not supported; use one of "
                       f"{CONV3D_TYPES}")
    unknown = sorted(set(norm_cfg or {}) - set(NORM_CFG_KEYS))
    if unknown:
      raise ValueError(f"{owner}: norm_cfg keys {unknown} are not supported; vjax reads "
                       f"{NORM_CFG_KEYS}")
    act = act_name(act_cfg or {"type": "ReLU"})
    return cls(conv_type, float((norm_cfg or {}).get("eps", 1e-5)), act, norm_groups,
               norm_groups_for(norm_cfg, norm_groups), dtype)

  def module(self, features, kernel_size, strides=1, padding=0, dilation=1, groups=1,
             act=True, norm=True, bn_zero_init=False, name=None) -> ConvModule:
    conv_layer = (functools.partial(Conv2plus1d, norm_groups=self.norm_groups)
                  if self.conv_type == "Conv2plus1d" else None)
    return ConvModule(features, tuple(kernel_size), strides=strides, padding=padding,
                      dilation=dilation, groups=groups, norm=norm,
                      act=self.act if act else None, bn_zero_init=bn_zero_init,
                      norm_eps=self.eps, conv_layer=conv_layer, norm_groups=self.bn_groups,
                      dtype=self.dtype, name=name)


# ------------------------------------------------------------------ blocks
class Unit(NamedTuple):
  """One ConvModule of a residual block: its MMAction2 name and geometry."""
  name: str
  features: int
  kernel_size: tuple[int, int, int]
  strides: tuple[int, int, int] = (1, 1, 1)
  padding: tuple[int, int, int] = (0, 0, 0)
  dilation: tuple[int, int, int] = (1, 1, 1)
  groups: int = 1
  act: bool = True  # the block's last unit never has one


def check_style(style: str, inflate_style: str) -> None:
  if style not in ("pytorch", "caffe"):
    raise ValueError(f"style must be 'pytorch' or 'caffe', got {style!r}")
  if inflate_style not in ("3x1x1", "3x3x3"):
    raise ValueError(f"inflate_style must be '3x1x1' or '3x3x3', got {inflate_style!r}")


def basic_block3d(planes, spatial_stride=1, temporal_stride=1, dilation=1, style="pytorch",
                  inflate=True, inflate_style="3x1x1") -> tuple[Unit, ...]:
  """BasicBlock3d: two 3x3 convs (3x3x3 when inflated), the stride always on the first."""
  check_style(style, inflate_style)
  d, st, ss = dilation, temporal_stride, spatial_stride
  kt, pt = (3, 1) if inflate else (1, 0)
  return (Unit("conv1", planes, (kt, 3, 3), (st, ss, ss), (pt, d, d), (1, d, d)),
          Unit("conv2", planes, (kt, 3, 3), (1, 1, 1), (pt, 1, 1), act=False))


def bottleneck3d(planes, spatial_stride=1, temporal_stride=1, dilation=1, style="pytorch",
                 inflate=True, inflate_style="3x1x1") -> tuple[Unit, ...]:
  """Bottleneck3d: 1x1x1 -> 1x3x3 -> 1x1x1 (x4 width); inflation makes the first conv 3x1x1
  ('3x1x1') or the middle one 3x3x3 ('3x3x3')."""
  check_style(style, inflate_style)
  d, st, ss = dilation, temporal_stride, spatial_stride
  # 'pytorch' puts the stride on the 3x3 conv, 'caffe' on the first 1x1.
  s1, s2 = ((1, 1, 1), (st, ss, ss)) if style == "pytorch" else ((st, ss, ss), (1, 1, 1))
  t1, t2 = ((3, 1) if inflate_style == "3x1x1" else (1, 3)) if inflate else (1, 1)
  return (Unit("conv1", planes, (t1, 1, 1), s1, (t1 // 2, 0, 0)),
          Unit("conv2", planes, (t2, 3, 3), s2, (t2 // 2, d, d), (1, d, d)),
          Unit("conv3", planes * 4, (1, 1, 1), act=False))


class Block3d(nn.Module):
  """act(units(x) + shortcut(x)), then an optional NonLocal3d (MMAction2's block order).

  ``zero_init_residual`` zero-initialises the last unit's BN scale, as MMAction2 does when it
  initialises from scratch.
  """

  units: Sequence[Unit]
  downsample_strides: Sequence[int] | None  # None: identity shortcut
  layers: Layers
  zero_init_residual: bool = False
  non_local_cfg: Mapping[str, Any] | None = None  # None: no non-local block
  norm_eval: bool = False

  @nn.compact
  def __call__(self, x, train: bool = False):
    out = x
    for i, u in enumerate(self.units):
      last = i == len(self.units) - 1
      out = self.layers.module(u.features, u.kernel_size, u.strides, u.padding, u.dilation,
                               u.groups, act=u.act and not last,
                               bn_zero_init=last and self.zero_init_residual,
                               name=u.name)(out, train, self.norm_eval)
    if self.downsample_strides is not None:
      x = self.layers.module(self.units[-1].features, (1, 1, 1), self.downsample_strides,
                             act=False, name="downsample")(x, train, self.norm_eval)
    out = ACTIVATIONS[self.layers.act](out + x)
    if self.non_local_cfg is not None:
      out = NonLocal3d(**self.non_local_cfg, norm_eval=self.norm_eval,
                       norm_groups=self.layers.norm_groups, dtype=self.layers.dtype,
                       name="non_local_block")(out, train)
    return out


def per_block(value, n_blocks: int, what: str, stage: str) -> tuple:
  """A stage's ``inflate`` / ``non_local`` entry: an int for every block or one per block."""
  values = expand(value, n_blocks)
  if len(values) != n_blocks:
    raise ValueError(f"{what} of {stage} has {len(values)} entries for its {n_blocks} blocks")
  return values


def make_res_layer(block: Callable[..., tuple[Unit, ...]], expansion: int, inplanes: int,
                   planes: int, n_blocks: int, *, name: str, layers: Layers,
                   spatial_stride=1, temporal_stride=1, dilation=1, style="pytorch", inflate=1,
                   inflate_style="3x1x1", non_local=0, non_local_cfg=None,
                   zero_init_residual=False, norm_eval=False, with_cp=False,
                   **block_kwargs) -> list[Block3d]:
  """The blocks of one stage (MMAction2's ``make_res_layer``), named ``{name}_{j}``;
  ``with_cp`` rematerialises each in the backward pass.

  ``inplanes`` counts every input channel (a SlowFast lateral's included): the first block
  gets a downsample shortcut when it strides spatially or changes the width.
  """
  inflate = per_block(inflate, n_blocks, "inflate", name)
  non_local = per_block(non_local, n_blocks, "non_local", name)
  needs_down = spatial_stride != 1 or inplanes != planes * expansion
  block_cls = checkpointed(Block3d, with_cp)
  blocks = []
  for j in range(n_blocks):
    ss, st = (spatial_stride, temporal_stride) if j == 0 else (1, 1)
    units = block(planes, ss, st, dilation, style, inflate[j] == 1, inflate_style,
                  **block_kwargs)
    blocks.append(block_cls(
        units, (st, ss, ss) if j == 0 and needs_down else None, layers,
        zero_init_residual=zero_init_residual,
        non_local_cfg=dict(non_local_cfg or {}) if non_local[j] == 1 else None,
        norm_eval=norm_eval, name=f"{name}_{j}"))
  return blocks


def norm_frozen(path: freeze.Path, norm_cfg, non_local_cfg) -> bool:
  """``requires_grad=False`` in the backbone's norm_cfg (or the non-local blocks' own)."""
  if not freeze.is_norm_param(path):
    return False
  if "non_local_block" in path:
    return not norm_trainable((non_local_cfg or {}).get("norm_cfg"))
  return not norm_trainable(norm_cfg)


# ------------------------------------------------------------------ ResNet3d
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
  (a tuple when several are requested), channels-last.

  ``frozen_stages`` / ``norm_eval`` / ``norm_cfg.requires_grad`` act as MMAction2's
  ``train()``: the affected BatchNorms use their running statistics in training, and
  ``is_frozen`` names the parameters the train step keeps fixed. ``pretrained`` /
  ``pretrained2d`` are read at training start by ``vjax.convert.pretrained``. ``with_cp``
  rematerialises every residual block in the backward pass.
  """

  depth: int = 50
  pretrained: str | None = None
  stage_blocks: Sequence[int] | None = None
  pretrained2d: bool = True
  in_channels: int = 3
  num_stages: int = 4
  base_channels: int = 64
  out_indices: Sequence[int] = (3,)
  spatial_strides: Sequence[int] = (1, 2, 2, 2)
  temporal_strides: Sequence[int] = (1, 1, 1, 1)
  dilations: Sequence[int] = (1, 1, 1, 1)
  conv1_kernel: Sequence[int] | int = (3, 7, 7)
  conv1_stride_s: int = 2
  conv1_stride_t: int = 1
  pool1_stride_s: int = 2
  pool1_stride_t: int = 1
  with_pool1: bool = True
  with_pool2: bool = True
  style: str = "pytorch"
  frozen_stages: int = -1
  inflate: Sequence[Any] | int = (1, 1, 1, 1)
  inflate_style: str = "3x1x1"
  conv_cfg: Mapping[str, Any] | None = None  # None: Conv3d
  norm_cfg: Mapping[str, Any] | None = None  # None: default_norm_cfg
  act_cfg: Mapping[str, Any] | None = None  # None: ReLU
  norm_eval: bool = False
  with_cp: bool = False
  non_local: Sequence[Any] | int = (0, 0, 0, 0)
  non_local_cfg: Mapping[str, Any] | None = None
  zero_init_residual: bool = True
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  default_norm_cfg: ClassVar[Mapping[str, Any]] = {"type": "BN3d", "requires_grad": True}
  arch_settings: ClassVar[Mapping[int, tuple]] = ARCH_SETTINGS

  # ---- configuration (no variables: usable on an unbound module)
  @nn.nowrap
  def the_norm_cfg(self) -> Mapping[str, Any]:
    return self.default_norm_cfg if self.norm_cfg is None else self.norm_cfg

  @nn.nowrap
  def arch(self):
    """(block units fn, expansion, blocks per stage), validated as MMAction2 does."""
    name = type(self).__name__
    if self.depth not in self.arch_settings:
      raise KeyError(f"invalid depth {self.depth} for {name}; choose from "
                     f"{sorted(self.arch_settings)}")
    if not 1 <= self.num_stages <= 4:
      raise ValueError(f"{name}: num_stages must be in [1, 4], got {self.num_stages}")
    if max(self.out_indices) >= self.num_stages:
      raise ValueError(f"{name}: out_indices {tuple(self.out_indices)} must be < "
                       f"num_stages={self.num_stages}")
    n = self.num_stages
    if not len(self.spatial_strides) == len(self.temporal_strides) == len(self.dilations) == n:
      raise ValueError(f"{name}: spatial_strides {tuple(self.spatial_strides)}, "
                       f"temporal_strides {tuple(self.temporal_strides)} and dilations "
                       f"{tuple(self.dilations)} need num_stages={n} entries each")
    if self.stage_blocks is not None and len(self.stage_blocks) != n:
      raise ValueError(f"{name}: stage_blocks {tuple(self.stage_blocks)} needs "
                       f"num_stages={n} entries")
    block, expansion, stage_blocks = self.arch_settings[self.depth]
    stage_blocks = tuple(self.stage_blocks or stage_blocks[:n])
    for what in ("inflate", "non_local"):
      value = getattr(self, what)
      if isinstance(value, Sequence) and len(value) < len(stage_blocks):
        raise ValueError(f"{name}: {what}={tuple(value)} needs an entry per stage "
                         f"({len(stage_blocks)})")
    return block, expansion, stage_blocks

  @nn.nowrap
  def block_kwargs(self) -> dict:
    """Extra keyword arguments of the block function (CSN's bottleneck_mode)."""
    return {}

  @nn.nowrap
  def layers(self) -> Layers:
    return Layers.read(self.conv_cfg, self.the_norm_cfg(), self.act_cfg, self.norm_groups,
                       self.dtype, type(self).__name__)

  @nn.nowrap
  def stage_norm_eval(self, i: int) -> bool:
    """Whether stage ``i`` (0-based; -1 = the stem) keeps its BatchNorms in eval mode."""
    return self.norm_eval or i < self.frozen_stages

  def lateral_inplanes(self, inplanes: int) -> int:
    """Channels a SlowFast lateral adds to a stage's input (none here)."""
    return 0

  # ---- modules
  def setup(self):
    block, expansion, stage_blocks = self.arch()
    layers = self.layers()
    kernel = expand(self.conv1_kernel, 3)
    self.conv1 = layers.module(
        self.base_channels, kernel,
        strides=(self.conv1_stride_t, self.conv1_stride_s, self.conv1_stride_s),
        padding=tuple((k - 1) // 2 for k in kernel), name="conv1")
    inflations = expand(self.inflate, len(stage_blocks))
    non_locals = expand(self.non_local, len(stage_blocks))
    inplanes = self.base_channels
    stages = []
    for i, n_blocks in enumerate(stage_blocks):
      planes = self.base_channels * 2**i
      stages.append(make_res_layer(
          block, expansion, inplanes + self.lateral_inplanes(inplanes), planes, n_blocks,
          name=f"layer{i + 1}", layers=layers, spatial_stride=self.spatial_strides[i],
          temporal_stride=self.temporal_strides[i], dilation=self.dilations[i],
          style=self.style, inflate=inflations[i], inflate_style=self.inflate_style,
          non_local=non_locals[i], non_local_cfg=self.non_local_cfg,
          zero_init_residual=self.zero_init_residual, norm_eval=self.stage_norm_eval(i),
          with_cp=self.with_cp, **self.block_kwargs()))
      inplanes = planes * expansion
    self.stages = stages
    self.feat_dim = inplanes

  def stem(self, x, train: bool = False, pool: bool | None = None):
    """conv1 (+ the 1x3x3 max-pool unless ``with_pool1`` is off; ``pool`` overrides)."""
    if x.shape[-1] != self.in_channels:
      raise ValueError(f"{type(self).__name__} expects {self.in_channels} input channels "
                       f"(in_channels), got an input with {x.shape[-1]}")
    x = self.conv1(x.astype(self.dtype), train, self.stage_norm_eval(-1))
    if self.with_pool1 if pool is None else pool:
      x = max_pool(x, (1, 3, 3), (self.pool1_stride_t, self.pool1_stride_s, self.pool1_stride_s),
                   (0, 1, 1))
    return x

  def stage(self, i: int, x, train: bool = False):
    for block in self.stages[i]:
      x = block(x, train)
    return x

  def __call__(self, x, train: bool = False):
    x = self.stem(x, train)
    outs = []
    for i in range(len(self.stages)):
      x = self.stage(i, x, train)
      if i == 0 and self.with_pool2:
        x = max_pool(x, (2, 1, 1), (2, 1, 1), (0, 0, 0))
      if i in self.out_indices:
        outs.append(x)
    return outs[0] if len(outs) == 1 else tuple(outs)

  @nn.nowrap
  def is_frozen(self, path: freeze.Path) -> bool:
    """Whether the backbone parameter at ``path`` stays fixed in training."""
    stage = freeze.stage_of(path)
    if stage is not None and stage <= self.frozen_stages:
      return True
    return norm_frozen(path, self.the_norm_cfg(), self.non_local_cfg)


@MODELS.register
class ResNet3dLayer(nn.Module):
  """One ResNet3d stage on its own (``layer{stage + 1}``), e.g. a detector's shared head.

  As in MMAction2, the widths follow ResNet's 64 base channels whatever ``base_channels``
  says (it is accepted and unused), and ``all_frozen`` fixes every parameter of the stage.
  """

  depth: int = 50
  pretrained: str | None = None
  pretrained2d: bool = True
  stage: int = 3
  base_channels: int = 64
  spatial_stride: int = 2
  temporal_stride: int = 1
  dilation: int = 1
  style: str = "pytorch"
  all_frozen: bool = False
  inflate: Sequence[int] | int = 1
  inflate_style: str = "3x1x1"
  conv_cfg: Mapping[str, Any] | None = None
  norm_cfg: Mapping[str, Any] | None = None
  act_cfg: Mapping[str, Any] | None = None
  norm_eval: bool = False
  with_cp: bool = False
  zero_init_residual: bool = True
  non_local: Sequence[int] | int = 0
  non_local_cfg: Mapping[str, Any] | None = None
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.nowrap
  def the_norm_cfg(self):
    return ResNet3d.default_norm_cfg if self.norm_cfg is None else self.norm_cfg

  def setup(self):
    if self.depth not in ARCH_SETTINGS:
      raise KeyError(f"invalid depth {self.depth} for ResNet3dLayer; choose from "
                     f"{sorted(ARCH_SETTINGS)}")
    if not 0 <= self.stage <= 3:
      raise ValueError(f"ResNet3dLayer: stage must be in [0, 3], got {self.stage}")
    block, expansion, stage_blocks = ARCH_SETTINGS[self.depth]
    layers = Layers.read(self.conv_cfg, self.the_norm_cfg(), self.act_cfg, self.norm_groups,
                         self.dtype, "ResNet3dLayer")
    planes = 64 * 2**self.stage
    self.blocks = make_res_layer(
        block, expansion, planes // 2 * expansion, planes, stage_blocks[self.stage],
        name=f"layer{self.stage + 1}", layers=layers, spatial_stride=self.spatial_stride,
        temporal_stride=self.temporal_stride, dilation=self.dilation, style=self.style,
        inflate=self.inflate, inflate_style=self.inflate_style, non_local=self.non_local,
        non_local_cfg=self.non_local_cfg, zero_init_residual=self.zero_init_residual,
        norm_eval=self.norm_eval or self.all_frozen, with_cp=self.with_cp)

  def __call__(self, x, train: bool = False):
    x = x.astype(self.dtype)
    for block in self.blocks:
      x = block(x, train)
    return x

  @nn.nowrap
  def is_frozen(self, path: freeze.Path) -> bool:
    return self.all_frozen or norm_frozen(path, self.the_norm_cfg(), self.non_local_cfg)
