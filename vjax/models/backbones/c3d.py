"""C3D (Tran et al., 2015) with MMAction2's arguments and module names.

Eight 3x3x3 convs (``conv1a`` .. ``conv5b``; biased, or BatchNorm with ``norm_cfg``) with
max-pools between them, then ``fc6`` and ``fc7`` (4096 each, ReLU, dropout between them).
Input (N, T, H, W, C); output (N, 4096).

``fc6`` reads the last pool's map flattened in PyTorch's (C, T, H, W) order, so its input
size ``out_dim`` fixes the input geometry: the default 8192 = 512 x 1 x 4 x 4 is MMAction2's
16x112x112 clips (any T in 16..31 and H, W in 96..127 give the same map). ``pretrained``
names the backbone checkpoint training starts from (vjax.convert.pretrained; nothing is
downloaded); ``style`` is accepted and, as in MMAction2, unused.
"""

from __future__ import annotations

from typing import Any, Mapping

import flax.linen as nn
import jax.numpy as jnp

from vjax.models.backbones.resnet3d import max_pool
from vjax.models.builder import MODELS
from vjax.models.layers import ConvModule
from vjax.models.layers.mmcv_cfg import act_name, check_conv_cfg, norm_groups_for

# (conv names, output channels) per block; each block ends in a max-pool.
BLOCKS = ((("conv1a",), 64), (("conv2a",), 128), (("conv3a", "conv3b"), 256),
          (("conv4a", "conv4b"), 512), (("conv5a", "conv5b"), 512))
# (window = stride, padding) of pool1..pool5.
POOLS = (((1, 2, 2), (0, 0, 0)), ((2, 2, 2), (0, 0, 0)), ((2, 2, 2), (0, 0, 0)),
         ((2, 2, 2), (0, 0, 0)), ((2, 2, 2), (0, 1, 1)))


@MODELS.register
class C3D(nn.Module):
  pretrained: str | None = None
  style: str = "pytorch"
  conv_cfg: Mapping[str, Any] | None = None  # None: dict(type='Conv3d')
  norm_cfg: Mapping[str, Any] | None = None  # None: biased convs, no norm
  act_cfg: Mapping[str, Any] | None = None  # None: dict(type='ReLU')
  out_dim: int = 8192
  dropout_ratio: float = 0.5
  init_std: float = 0.005
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    check_conv_cfg(self.conv_cfg)
    act = act_name(self.act_cfg or {"type": "ReLU"})
    with_norm = self.norm_cfg is not None
    groups = norm_groups_for(self.norm_cfg, self.norm_groups) if with_norm else None
    if x.shape[-1] != 3:
      raise ValueError(f"C3D takes 3-channel clips, got {x.shape[-1]} channels")
    x = x.astype(self.dtype)
    for (names, features), (window, padding) in zip(BLOCKS, POOLS):
      for name in names:
        # mmcv's ConvModule: a bias exactly when there is no norm.
        x = ConvModule(features, (3, 3, 3), padding=1, use_bias=not with_norm, norm=with_norm,
                       act=act, norm_groups=groups, dtype=self.dtype, name=name)(x, train)
      x = max_pool(x, window, window, padding)
    x = jnp.moveaxis(x, -1, 1).reshape(x.shape[0], -1)  # PyTorch's (C, T, H, W) flatten
    if x.shape[-1] != self.out_dim:
      raise ValueError(f"C3D(out_dim={self.out_dim}) got a {x.shape[-1]}-value feature map "
                       f"(512 x T//16 x (H//32+1) x (W//32+1)); use 16x112x112 clips or set "
                       f"out_dim={x.shape[-1]}")
    dense = lambda n, name: nn.Dense(  # noqa: E731
        n, dtype=self.dtype, name=name,
        kernel_init=nn.with_logical_partitioning(nn.initializers.normal(self.init_std),
                                                 ("embed", "mlp")),
        bias_init=nn.with_logical_partitioning(nn.initializers.zeros, ("mlp",)))
    x = nn.relu(dense(4096, "fc6")(x))
    x = nn.Dropout(self.dropout_ratio, deterministic=not train)(x)
    return nn.relu(dense(4096, "fc7")(x))
