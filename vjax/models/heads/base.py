"""What every classification head shares: dropout then a linear classifier."""

from __future__ import annotations

from typing import Any, Mapping

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


def spatial_pool(x, spatial_type: str):
  """(N, ..., C) -> (N, C') as MMAction2's heads: 'avg' averages every axis between N and C;
  anything else keeps the map and flattens it in PyTorch's (C, ...) order."""
  if spatial_type == "avg":
    return x.mean(axis=tuple(range(1, x.ndim - 1))) if x.ndim > 2 else x
  return jnp.moveaxis(x, -1, 1).reshape((x.shape[0], -1))


def avg_consensus(x, cfg: Mapping[str, Any] | None):
  """MMAction2's AvgConsensus over segments, axis 1 of (N, S, ...); the only consensus its
  TSM/TPN heads can run (any other type leaves them without one)."""
  cfg = dict(cfg or {"type": "AvgConsensus", "dim": 1})
  if cfg.get("type") != "AvgConsensus" or cfg.get("dim", 1) != 1:
    raise KeyError(f"consensus must be dict(type='AvgConsensus', dim=1), got {cfg}")
  return x.mean(axis=1)
