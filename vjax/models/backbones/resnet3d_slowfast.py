"""SlowFast (Feichtenhofer et al. 2019) as MMAction2's ResNet3dSlowFast, channels-last."""

from __future__ import annotations

from typing import Any, Mapping

import flax.linen as nn
import jax.numpy as jnp

from vjax.models.backbones.resnet3d import ARCH_SETTINGS, ResNet3d
from vjax.models.builder import MODELS
from vjax.models.layers import ConvModule


class ResNet3dPathway(ResNet3d):
  """One SlowFast pathway; with ``lateral`` it receives the other pathway's features
  through time-strided ``(fusion_kernel, 1, 1)`` convs after the stem and stages 1..3."""

  lateral: bool = False
  lateral_norm: bool = False
  speed_ratio: int = 8
  channel_ratio: int = 8
  fusion_kernel: int = 5

  def lateral_inplanes(self, inplanes: int) -> int:
    return inplanes * 2 // self.channel_ratio if self.lateral else 0

  def setup(self):
    super().setup()
    if not self.lateral:
      return
    block_expansion = ARCH_SETTINGS[self.depth][1]

    def lateral_conv(inplanes, name):
      return ConvModule(
          inplanes * 2 // self.channel_ratio, (self.fusion_kernel, 1, 1),
          strides=(self.speed_ratio, 1, 1), padding=((self.fusion_kernel - 1) // 2, 0, 0),
          norm=self.lateral_norm, act="relu" if self.lateral_norm else None,
          norm_groups=self.norm_groups, dtype=self.dtype, name=name)

    # A lateral reads the fast pathway (this pathway's width / channel_ratio) and adds
    # 2 / channel_ratio of this pathway's width at that point.
    self.conv1_lateral = lateral_conv(self.base_channels, "conv1_lateral")
    self.laterals = [
        lateral_conv(self.base_channels * 2**i * block_expansion, f"layer{i + 1}_lateral")
        for i in range(len(self.stages) - 1)
    ]

  def fuse(self, i: int, x, x_other, train: bool = False):
    """Concatenates the lateral of stage ``i`` (-1 = stem) of the other pathway onto ``x``."""
    conv = self.conv1_lateral if i < 0 else self.laterals[i]
    return jnp.concatenate([x, conv(x_other, train, self.norm_eval)], axis=-1)


def temporal_resample(x, rate: int):
  """PyTorch ``interpolate(mode='nearest', scale_factor=1/rate)`` on axis 1 of (N, T, ...)."""
  if rate == 1:
    return x
  out_t = x.shape[1] // rate
  return x[:, [i * rate for i in range(out_t)]]


@MODELS.register
class ResNet3dSlowFast(nn.Module):
  """Two ResNet3d pathways over one clip: slow = every ``resample_rate``-th frame, fast =
  every ``resample_rate // speed_ratio``-th frame. Returns ``(x_slow, x_fast)``."""

  resample_rate: int = 8
  speed_ratio: int = 8
  channel_ratio: int = 8
  slow_pathway: Mapping[str, Any] = None
  fast_pathway: Mapping[str, Any] = None
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  def pathway(self, cfg: Mapping[str, Any] | None, default: Mapping[str, Any], name: str):
    cfg = dict(default if cfg is None else cfg)
    typ = cfg.pop("type", "resnet3d")
    if typ != "resnet3d":
      raise KeyError(f"Unrecognized pathway type {typ!r}; only 'resnet3d' exists")
    cfg.pop("pretrained", None)
    if cfg.get("lateral"):
      cfg.update(speed_ratio=self.speed_ratio, channel_ratio=self.channel_ratio)
    return ResNet3dPathway(**cfg, norm_groups=self.norm_groups, dtype=self.dtype, name=name)

  @nn.compact
  def __call__(self, x, train: bool = False):
    slow = self.pathway(self.slow_pathway, SLOW_DEFAULT, "slow_path")
    fast = self.pathway(self.fast_pathway, FAST_DEFAULT, "fast_path")
    x = x.astype(self.dtype)
    x_slow = slow.stem(temporal_resample(x, self.resample_rate), train)
    x_fast = fast.stem(temporal_resample(x, self.resample_rate // self.speed_ratio), train)
    if slow.lateral:
      x_slow = slow.fuse(-1, x_slow, x_fast, train)
    num_stages = len(slow.stages)
    for i in range(num_stages):
      x_slow = slow.stage(i, x_slow, train)
      x_fast = fast.stage(i, x_fast, train)
      if slow.lateral and i != num_stages - 1:
        x_slow = slow.fuse(i, x_slow, x_fast, train)
    return x_slow, x_fast


SLOW_DEFAULT = dict(type="resnet3d", depth=50, lateral=True, conv1_kernel=(1, 7, 7),
                    dilations=(1, 1, 1, 1), conv1_stride_t=1, pool1_stride_t=1,
                    inflate=(0, 0, 1, 1))
FAST_DEFAULT = dict(type="resnet3d", depth=50, lateral=False, base_channels=8,
                    conv1_kernel=(5, 7, 7), conv1_stride_t=1, pool1_stride_t=1)
