"""torchvision's DenseNet-BC as MMAction2 0.24.1 uses it (``backbone.type='torchvision.NAME'``),
channels-last (N, H, W, C).

MMAction2 builds ``torchvision.models.NAME(**kwargs)``, replaces the classifier with an
identity and calls only ``backbone.features``: the stem (``conv0`` 7x7/2, ``norm0``, ReLU,
3x3/2 max-pool), dense blocks ``denseblock{i}`` of ``denselayer{j}`` (BN-ReLU-1x1 conv to
``bn_size * growth_rate``, BN-ReLU-3x3 conv to ``growth_rate``, concatenated onto the
block's input), ``transition{i}`` between blocks (BN-ReLU-1x1 conv halving the channels,
2x2/2 average pool) and the final ``norm5``. That is a BatchNorm output: torchvision's own
classifier path would apply a ReLU next, MMAction2's does not. The recognizer then averages
the map to 1x1, so this backbone returns (N, 1, 1, C), what MMAction2 hands to the head.

Module names are torchvision's (``features/denseblock1/denselayer1/conv1``), so a TSN
checkpoint's ``backbone.features...`` keys import by name. ``pretrained=True`` (torchvision's
ImageNet download) is accepted for configs; vjax downloads nothing.
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from vjax.models.backbones.resnet3d import max_pool
from vjax.models.builder import MODELS
from vjax.models.layers import BatchNorm, pad_pairs
from vjax.models.layers.conv import Conv

# torchvision initialises every conv with kaiming_normal_ (fan_in, ReLU gain), untruncated.
kaiming_fan_in = nn.initializers.variance_scaling(2.0, "fan_in", "normal")

# (growth_rate, block_config, num_init_features) of torchvision's named DenseNets.
VARIANTS = {
    "densenet121": (32, (6, 12, 24, 16), 64),
    "densenet161": (48, (6, 12, 36, 24), 96),
    "densenet169": (32, (6, 12, 32, 32), 64),
    "densenet201": (32, (6, 12, 48, 32), 64),
}


def _conv(features: int, kernel: int, dtype, name: str, stride: int = 1, padding: int = 0):
  return Conv(features, (kernel, kernel), strides=(stride, stride),
                 padding=pad_pairs(padding, 2), use_bias=False, dtype=dtype,
                 kernel_init=nn.with_logical_partitioning(kaiming_fan_in,
                                                          (None, None, "conv_in", "conv_out")),
                 name=name)


class DenseLayer(nn.Module):
  """BN-ReLU-conv1x1 (bottleneck) then BN-ReLU-conv3x3: the ``growth_rate`` new channels."""

  growth_rate: int
  bn_size: int
  drop_rate: float = 0.0
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    bn = functools.partial(BatchNorm, use_running_average=not train, num_groups=self.norm_groups,
                           dtype=self.dtype)
    y = _conv(self.bn_size * self.growth_rate, 1, self.dtype, "conv1")(
        nn.relu(bn(name="norm1")(x)))
    y = _conv(self.growth_rate, 3, self.dtype, "conv2", padding=1)(nn.relu(bn(name="norm2")(y)))
    if self.drop_rate > 0:
      y = nn.Dropout(self.drop_rate, deterministic=not train)(y)
    return y


class DenseBlock(nn.Module):
  """``num_layers`` DenseLayers, each reading the concatenation of the block input and every
  earlier layer's output; returns that concatenation grown by the last layer."""

  num_layers: int
  growth_rate: int
  bn_size: int
  drop_rate: float = 0.0
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    for j in range(self.num_layers):
      new = DenseLayer(self.growth_rate, self.bn_size, self.drop_rate, self.norm_groups,
                       self.dtype, name=f"denselayer{j + 1}")(x, train)
      x = jnp.concatenate([x, new], axis=-1)
    return x


class Transition(nn.Module):
  """BN-ReLU-conv1x1 to ``features`` channels, then a 2x2/2 average pool."""

  features: int
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    x = BatchNorm(use_running_average=not train, num_groups=self.norm_groups, dtype=self.dtype,
                  name="norm")(x)
    x = _conv(self.features, 1, self.dtype, "conv")(nn.relu(x))
    return nn.avg_pool(x, (2, 2), strides=(2, 2), padding="VALID")


class DenseFeatures(nn.Module):
  """torchvision's ``DenseNet.features`` (an ``nn.Sequential``): stem, blocks, ``norm5``."""

  growth_rate: int
  block_config: Sequence[int]
  num_init_features: int
  bn_size: int
  drop_rate: float
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    bn = functools.partial(BatchNorm, use_running_average=not train, num_groups=self.norm_groups,
                           dtype=self.dtype)
    x = _conv(self.num_init_features, 7, self.dtype, "conv0", stride=2, padding=3)(x)
    x = max_pool(nn.relu(bn(name="norm0")(x)), (3, 3), (2, 2), (1, 1))
    channels = self.num_init_features
    for i, num_layers in enumerate(self.block_config):
      x = DenseBlock(num_layers, self.growth_rate, self.bn_size, self.drop_rate,
                     self.norm_groups, self.dtype, name=f"denseblock{i + 1}")(x, train)
      channels += num_layers * self.growth_rate
      if i != len(self.block_config) - 1:
        channels //= 2
        x = Transition(channels, self.norm_groups, self.dtype, name=f"transition{i + 1}")(x, train)
    return bn(name="norm5")(x)


@MODELS.register(name="torchvision.DenseNet")
class DenseNet(nn.Module):
  """torchvision's ``DenseNet`` class with its arguments; see the module docstring.

  ``num_classes`` only sized torchvision's classifier, which MMAction2 removes;
  ``memory_efficient`` (gradient checkpointing) is accepted, as remat is a jit-level choice
  in vjax. ``weights``/``progress``/``pretrained`` name torchvision's ImageNet download.
  """

  growth_rate: int = 32
  block_config: Sequence[int] = (6, 12, 24, 16)
  num_init_features: int = 64
  bn_size: int = 4
  drop_rate: float = 0.0
  num_classes: int = 1000
  memory_efficient: bool = False
  pretrained: bool | str | None = None
  weights: Any = None
  progress: bool = True
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    x = DenseFeatures(self.growth_rate, tuple(self.block_config), self.num_init_features,
                      self.bn_size, self.drop_rate, self.norm_groups, self.dtype,
                      name="features")(x.astype(self.dtype), train)
    # MMAction2: adaptive average pooling to 1x1 (a no-op on a 1x1 map), kept 4D.
    return x.mean(axis=(1, 2), keepdims=True)


def _named(variant: str):
  growth_rate, block_config, num_init_features = VARIANTS[variant]

  def build(**kwargs):
    fixed = {"growth_rate", "block_config", "num_init_features"} & set(kwargs)
    if fixed:
      # torchvision passes these positionally, so a config cannot override them.
      raise TypeError(f"torchvision.{variant} fixes {sorted(fixed)}; use "
                      "type='torchvision.DenseNet' to choose them")
    return DenseNet(growth_rate=growth_rate, block_config=block_config,
                    num_init_features=num_init_features, **kwargs)

  build.__name__ = build.__qualname__ = variant
  build.__doc__ = f"torchvision's ``{variant}``: DenseNet{VARIANTS[variant]}."
  return build


for _variant in VARIANTS:
  MODELS.register(_named(_variant), name=f"torchvision.{_variant}")
