"""SlowFast (Feichtenhofer et al. 2019) as MMAction2's ResNet3dSlowFast, channels-last."""

from __future__ import annotations

from typing import Any, Mapping

import flax.linen as nn
import jax.numpy as jnp

from vjax.models import freeze
from vjax.models.backbones.resnet3d import ResNet3d
from vjax.models.builder import MODELS


class ResNet3dPathway(ResNet3d):
  """One SlowFast pathway; with ``lateral`` it receives the other pathway's features
  through time-strided ``(fusion_kernel, 1, 1)`` convs after the stem and stages 1..3
  (with ``lateral_norm`` those convs have the pathway's BatchNorm and activation)."""

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
    expansion = self.arch()[1]
    layers = self.layers()

    def lateral_conv(inplanes, name):
      return layers.module(
          inplanes * 2 // self.channel_ratio, (self.fusion_kernel, 1, 1),
          strides=(self.speed_ratio, 1, 1), padding=((self.fusion_kernel - 1) // 2, 0, 0),
          norm=self.lateral_norm, act=self.lateral_norm, name=name)

    # A lateral reads the fast pathway (this pathway's width / channel_ratio) and adds
    # 2 / channel_ratio of this pathway's width at that point.
    self.conv1_lateral = lateral_conv(self.base_channels, "conv1_lateral")
    self.laterals = [
        lateral_conv(self.base_channels * 2**i * expansion, f"layer{i + 1}_lateral")
        for i in range(len(self.stages) - 1)
    ]

  def fuse(self, i: int, x, x_other, train: bool = False):
    """Concatenates the lateral of stage ``i`` (-1 = stem) of the other pathway onto ``x``.

    A frozen stage's lateral is frozen with it (the stem's is not), as in MMAction2.
    """
    conv = self.conv1_lateral if i < 0 else self.laterals[i]
    norm_eval = self.norm_eval if i < 0 else self.stage_norm_eval(i)
    return jnp.concatenate([x, conv(x_other, train, norm_eval)], axis=-1)


def temporal_resample(x, rate: int):
  """PyTorch ``interpolate(mode='nearest', scale_factor=1/rate)`` on axis 1 of (N, T, ...)."""
  if rate == 1:
    return x
  out_t = x.shape[1] // rate
  return x[:, [i * rate for i in range(out_t)]]


PATHWAY_TYPES = {"resnet3d": ResNet3dPathway}


@MODELS.register
class ResNet3dSlowFast(nn.Module):
  """Two ResNet3d pathways over one clip: slow = every ``resample_rate``-th frame, fast =
  every ``resample_rate // speed_ratio``-th frame. Returns ``(x_slow, x_fast)``.

  ``pretrained`` names a whole-SlowFast checkpoint; a pathway's own ``pretrained`` (with
  ``pretrained2d``) names a 2D ResNet to inflate into it. Both are read at training start by
  ``vjax.convert.pretrained``.
  """

  pretrained: str | None = None
  resample_rate: int = 8
  speed_ratio: int = 8
  channel_ratio: int = 8
  slow_pathway: Mapping[str, Any] = None
  fast_pathway: Mapping[str, Any] = None
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.nowrap
  def pathway_kwargs(self, which: str) -> dict:
    """Keyword arguments of the ``which`` ('slow' / 'fast') ResNet3dPathway."""
    cfg = getattr(self, f"{which}_pathway")
    cfg = dict(DEFAULTS[which] if cfg is None else cfg)
    if "type" not in cfg:
      raise TypeError(f"{which}_pathway must be a dict with a 'type' key ('resnet3d'), got {cfg}")
    typ = cfg.pop("type")
    if typ not in PATHWAY_TYPES:
      raise KeyError(f"Unrecognized pathway type {typ!r}; choose from {sorted(PATHWAY_TYPES)}")
    if which == "slow" and cfg.get("lateral"):
      cfg.update(speed_ratio=self.speed_ratio, channel_ratio=self.channel_ratio)
    return dict(cfg, norm_groups=self.norm_groups, dtype=self.dtype)

  @nn.compact
  def __call__(self, x, train: bool = False):
    slow = ResNet3dPathway(**self.pathway_kwargs("slow"), name="slow_path")
    fast = ResNet3dPathway(**self.pathway_kwargs("fast"), name="fast_path")
    x = x.astype(self.dtype)
    # MMAction2 always max-pools after the pathways' conv1 and never applies pool2 here.
    x_slow = slow.stem(temporal_resample(x, self.resample_rate), train, pool=True)
    x_fast = fast.stem(temporal_resample(x, self.resample_rate // self.speed_ratio), train,
                       pool=True)
    if slow.lateral:
      x_slow = slow.fuse(-1, x_slow, x_fast, train)
    num_stages = len(slow.stages)
    for i in range(num_stages):
      x_slow = slow.stage(i, x_slow, train)
      x_fast = fast.stage(i, x_fast, train)
      if slow.lateral and i != num_stages - 1:
        x_slow = slow.fuse(i, x_slow, x_fast, train)
    return x_slow, x_fast

  @nn.nowrap
  def is_frozen(self, path: freeze.Path) -> bool:
    """Each pathway's ``frozen_stages`` / ``norm_cfg`` decide for its own parameters."""
    for which in ("slow", "fast"):
      if path and path[0] == f"{which}_path":
        return ResNet3dPathway(**self.pathway_kwargs(which)).is_frozen(path[1:])
    return False


DEFAULTS = {
    "slow": dict(type="resnet3d", depth=50, pretrained=None, lateral=True,
                 conv1_kernel=(1, 7, 7), dilations=(1, 1, 1, 1), conv1_stride_t=1,
                 pool1_stride_t=1, inflate=(0, 0, 1, 1)),
    "fast": dict(type="resnet3d", depth=50, pretrained=None, lateral=False, base_channels=8,
                 conv1_kernel=(5, 7, 7), conv1_stride_t=1, pool1_stride_t=1),
}
