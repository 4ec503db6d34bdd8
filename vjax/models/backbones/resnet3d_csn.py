"""CSN (Tran et al. 2019, channel-separated networks) as MMAction2's ResNet3dCSN: a ResNet3d
whose bottleneck's 3x3x3 conv is depthwise."""

from __future__ import annotations

from typing import Any, ClassVar, Mapping, Sequence

import flax.linen as nn

from vjax.models import freeze
from vjax.models.backbones.resnet3d import ResNet3d, Unit, bottleneck3d
from vjax.models.builder import MODELS

BOTTLENECK_MODES = ("ip", "ir")


def csn_bottleneck3d(planes, spatial_stride=1, temporal_stride=1, dilation=1, style="pytorch",
                     inflate=True, inflate_style="3x3x3", bottleneck_mode="ir"):
  """CSNBottleneck3d: Bottleneck3d with ``conv2`` made depthwise (``groups=planes``).

  MMAction2 holds the new conv2 in a Sequential: 'ir' (interaction-reduced) has the
  depthwise conv alone (``conv2_0``); 'ip' (interaction-preserved) puts a 1x1x1 conv with
  BatchNorm and no activation before it (``conv2_0``, then ``conv2_1``).
  """
  conv1, conv2, conv3 = bottleneck3d(planes, spatial_stride, temporal_stride, dilation, style,
                                     inflate, inflate_style)
  if bottleneck_mode == "ip":
    return (conv1, Unit("conv2_0", planes, (1, 1, 1), act=False),
            conv2._replace(name="conv2_1", groups=planes), conv3)
  return (conv1, conv2._replace(name="conv2_0", groups=planes), conv3)


@MODELS.register
class ResNet3dCSN(ResNet3d):
  """MMAction2's defaults: temporal strides (1, 2, 2, 2), 3x3x3 inflation, BatchNorm eps
  1e-3, depth 50/101/152. ``bn_frozen`` with ``norm_eval`` also fixes every BatchNorm's
  scale and bias in training."""

  temporal_strides: Sequence[int] = (1, 2, 2, 2)
  inflate_style: str = "3x3x3"
  bottleneck_mode: str = "ir"
  bn_frozen: bool = False

  default_norm_cfg: ClassVar[Mapping[str, Any]] = {"type": "BN3d", "requires_grad": True,
                                                   "eps": 1e-3}
  arch_settings: ClassVar[Mapping[int, tuple]] = {
      50: (csn_bottleneck3d, 4, (3, 4, 6, 3)),
      101: (csn_bottleneck3d, 4, (3, 4, 23, 3)),
      152: (csn_bottleneck3d, 4, (3, 8, 36, 3)),
  }

  @nn.nowrap
  def block_kwargs(self) -> dict:
    if self.bottleneck_mode not in BOTTLENECK_MODES:
      raise ValueError(f"ResNet3dCSN bottleneck_mode must be 'ip' or 'ir', got "
                       f"{self.bottleneck_mode!r}")
    return {"bottleneck_mode": self.bottleneck_mode}

  @nn.nowrap
  def is_frozen(self, path: freeze.Path) -> bool:
    if self.norm_eval and self.bn_frozen and freeze.is_norm_param(path):
      return True
    return super().is_frozen(path)
