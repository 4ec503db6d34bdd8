"""PyTorch's default ``nn.Linear`` / ``nn.ConvNd`` initialisation, for the layers MMAction2
leaves at it (TRN's relation MLPs, TAM, TIN's offset and weight nets), so that training
from scratch starts where MMAction2 starts."""

from __future__ import annotations

import math

import flax.linen as nn
import jax

# kaiming_uniform(a=sqrt(5)) == U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
torch_kernel_init = nn.initializers.variance_scaling(1 / 3, "fan_in", "uniform")


def torch_bias_init(fan_in: int):
  """U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's default bias."""
  bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0

  def init(key, shape, dtype=jax.numpy.float32):
    return jax.random.uniform(key, shape, dtype, -bound, bound)

  return init
