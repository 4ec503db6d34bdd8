"""BatchNorm with a choice between global (sync) and per-group batch statistics.

Under ``jit`` over a batch sharded across a mesh, batch statistics are global: that is
SyncBN. MMAction2 trains with per-GPU statistics; ``num_groups`` reproduces that by
computing the statistics over ``num_groups`` consecutive slices of the batch (set it to the
number of data-parallel devices: the batch is sharded in contiguous blocks). Parameter and statistic names match ``flax.linen.BatchNorm``.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

Dtype = Any
_STORE_BATCH_STATS = contextvars.ContextVar("vjax_store_batch_stats", default=False)


@contextlib.contextmanager
def store_batch_statistics():
  """Training-mode BatchNorm traced inside this context stores the batch's own statistics as
  its running ones (PyTorch's momentum=1.0): PreciseBN averages those over many batches."""
  token = _STORE_BATCH_STATS.set(True)
  try:
    yield
  finally:
    _STORE_BATCH_STATS.reset(token)


class BatchNorm(nn.Module):
  """Normalises over every axis but the last (channels-last)."""

  use_running_average: bool = False
  momentum: float = 0.9  # PyTorch momentum 0.1
  epsilon: float = 1e-5
  num_groups: int | None = None
  scale_init: Any = nn.initializers.ones
  dtype: Dtype | None = None

  @nn.compact
  def __call__(self, x, use_running_average: bool | None = None):
    use_running_average = nn.merge_param(
        "use_running_average", self.use_running_average, use_running_average)
    features = x.shape[-1]
    scale = self.param("scale", nn.with_logical_partitioning(self.scale_init, ("norm",)),
                       (features,), jnp.float32)
    bias = self.param("bias", nn.with_logical_partitioning(nn.initializers.zeros, ("norm",)),
                      (features,), jnp.float32)
    ra_mean = self.variable("batch_stats", "mean", lambda: jnp.zeros((features,), jnp.float32))
    ra_var = self.variable("batch_stats", "var", lambda: jnp.ones((features,), jnp.float32))

    if use_running_average:
      mean, var = ra_mean.value, ra_var.value
      y = (x.astype(jnp.float32) - mean) * (scale * (1.0 / jnp.sqrt(var + self.epsilon))) + bias
      return y.astype(self.dtype or x.dtype)

    xf = x.astype(jnp.float32)
    n, groups = x.shape[0], self.num_groups or 1
    if n % groups:
      raise ValueError(f"BatchNorm num_groups={groups} does not divide the batch size {n}")
    xg = xf.reshape((groups, n // groups) + x.shape[1:])
    axes = tuple(range(1, xg.ndim - 1))
    mean = jnp.mean(xg, axis=axes, keepdims=True)
    var = jnp.mean(jnp.square(xg - mean), axis=axes, keepdims=True)
    y = (xg - mean) * (scale * (1.0 / jnp.sqrt(var + self.epsilon))) + bias
    if not self.is_initializing():
      # Running statistics follow PyTorch: the unbiased variance, averaged over groups.
      count = math.prod(xg.shape[1:-1])
      unbias = count / max(count - 1, 1)
      batch_mean = mean.reshape(-1, features).mean(0)
      if _STORE_BATCH_STATS.get():
        ra_mean.value = batch_mean
        ra_var.value = unbias * var.reshape(-1, features).mean(0)
      else:
        m = self.momentum
        ra_mean.value = m * ra_mean.value + (1 - m) * batch_mean
        ra_var.value = m * ra_var.value + (1 - m) * unbias * var.reshape(-1, features).mean(0)
    return y.reshape(x.shape).astype(self.dtype or x.dtype)
