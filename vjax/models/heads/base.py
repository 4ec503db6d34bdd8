"""What every classification head shares: dropout then a linear classifier."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp


def classifier(x, num_classes: int, init_std: float, dropout_ratio: float, train: bool,
               dtype: Any = jnp.float32):
  """Dropout + ``fc_cls`` (normal init with ``init_std``, zero bias, as MMAction2's heads)."""
  if dropout_ratio:
    x = nn.Dropout(dropout_ratio, deterministic=not train)(x)
  return nn.Dense(
      num_classes, dtype=dtype,
      kernel_init=nn.with_logical_partitioning(nn.initializers.normal(init_std),
                                               ("embed", "classes")),
      bias_init=nn.with_logical_partitioning(nn.initializers.zeros, ("classes",)),
      name="fc_cls")(x).astype(jnp.float32)
