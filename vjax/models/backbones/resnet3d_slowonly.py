"""SlowOnly (Feichtenhofer et al. 2019): SlowFast's slow pathway alone, as MMAction2's
ResNet3dSlowOnly (a ResNet3dPathway without laterals and with its defaults)."""

from __future__ import annotations

from typing import Any, Sequence

from vjax.models.backbones.resnet3d_slowfast import ResNet3dPathway
from vjax.models.builder import MODELS


@MODELS.register
class ResNet3dSlowOnly(ResNet3dPathway):
  """No temporal stride or inflation in the stem and res2/res3 (1x7x7 conv1, inflate
  (0, 0, 1, 1)), no pool2. A 2D checkpoint inflates into it with the pathway's rules."""

  conv1_kernel: Sequence[int] | int = (1, 7, 7)
  conv1_stride_t: int = 1
  pool1_stride_t: int = 1
  inflate: Sequence[Any] | int = (0, 0, 1, 1)
  with_pool2: bool = False

  def setup(self):
    if self.lateral:
      raise ValueError("ResNet3dSlowOnly has no lateral connections; set lateral=False "
                       "(or use ResNet3dSlowFast)")
    super().setup()
