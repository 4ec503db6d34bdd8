"""Stochastic depth (timm's and mmcv's ``DropPath``) as a function of the calling module."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


def drop_path(module: nn.Module, x, rate: float, train: bool):
  """Zeroes whole samples (rows of axis 0) with probability ``rate`` and scales the rest by
  1/keep; identity in eval mode. Draws from ``module``'s 'dropout' rng stream."""
  if not train or rate <= 0.0:
    return x
  keep = jax.random.bernoulli(module.make_rng("dropout"), 1.0 - rate,
                              (x.shape[0],) + (1,) * (x.ndim - 1))
  return jnp.where(keep, x / (1.0 - rate), jnp.zeros_like(x))
