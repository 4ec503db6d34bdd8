"""What every classification head shares: dropout then a linear classifier, and its loss."""

from __future__ import annotations

from typing import Any, Mapping

import flax.linen as nn
import jax.numpy as jnp

from vjax.models.losses import loss_fn


def classifier(x, num_classes: int, init_std: float, dropout_ratio: float, train: bool,
               dtype: Any = jnp.float32, name: str = "fc_cls"):
  """Dropout + ``fc_cls`` (normal init with ``init_std``, zero bias, as MMAction2's heads)."""
  if dropout_ratio:
    x = nn.Dropout(dropout_ratio, deterministic=not train)(x)
  return nn.Dense(
      num_classes, dtype=dtype,
      kernel_init=nn.with_logical_partitioning(nn.initializers.normal(init_std),
                                               ("embed", "classes")),
      bias_init=nn.with_logical_partitioning(nn.initializers.zeros, ("classes",)),
      name=name)(x).astype(jnp.float32)


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


def cls_loss(head_cfg: Mapping[str, Any], scores, labels, weights=None, **fields):
  """The classification loss a head config asks for (``loss_cls``, ``label_smooth_eps``).

  As MMAction2's BaseHead, ``label_smooth_eps`` smooths the targets of ``multi_class`` heads
  only; single-label heads ignore it. ``fields`` are the extra batch fields a loss takes
  (HVULoss's ``mask`` and ``category_mask``), as MMAction2 passes the batch's kwargs on.
  """
  fn, kwargs = loss_fn(head_cfg.get("loss_cls"))
  smooth = head_cfg.get("label_smooth_eps", 0.0) if head_cfg.get("multi_class") else 0.0
  return fn(scores, labels, num_classes=head_cfg["num_classes"], label_smooth_eps=smooth,
            weights=weights, **fields, **kwargs)
