"""R(2+1)D (Tran et al. 2018) as MMAction2's ResNet2Plus1d: a ResNet3d whose convs are all
Conv2plus1d (``conv_cfg=dict(type='Conv2plus1d')``)."""

from __future__ import annotations

from vjax.models.backbones.resnet3d import ResNet3d
from vjax.models.builder import MODELS


@MODELS.register
class ResNet2Plus1d(ResNet3d):
  """As in MMAction2, the forward always max-pools after conv1, never applies pool2 and
  returns the last stage only (``with_pool1``, ``with_pool2`` and ``out_indices`` are
  accepted and unused)."""

  def setup(self):
    if self.pretrained2d:
      raise ValueError("ResNet2Plus1d needs pretrained2d=False: a 2D checkpoint cannot be "
                       "inflated into (2+1)D convs")
    conv_type = (self.conv_cfg or {}).get("type")
    if conv_type != "Conv2plus1d":
      raise ValueError(f"ResNet2Plus1d needs conv_cfg=dict(type='Conv2plus1d'), got "
                       f"{self.conv_cfg!r}")
    super().setup()

  def __call__(self, x, train: bool = False):
    x = self.stem(x, train, pool=True)
    for i in range(len(self.stages)):
      x = self.stage(i, x, train)
    return x
