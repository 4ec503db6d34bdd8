"""PreciseBN: MMAction2's ``precise_bn=dict(num_iters=200, interval=1)`` (its PreciseBNHook,
after fvcore).

BatchNorm's running statistics are an exponential average over batches seen while the weights
kept changing, so they lag behind the model that is evaluated and saved. Every ``interval``
epochs, right after the epoch's last step and before evaluation and checkpoints, PreciseBN
runs ``num_iters`` training batches through the model in train mode with the parameters fixed
(no update) and replaces every training-mode BN layer's running mean and variance by the plain
average of the batches' own means and unbiased variances (PyTorch's running_var with
momentum=1.0). Layers in eval mode (``norm_eval``, frozen stages) keep theirs, as in MMAction2.

The batches come from the training split and pipeline, shuffled afresh for each epoch (from
the run's seed and the epoch, so a resumed run recomputes the same statistics).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from vjax.data import loader as data_loader
from vjax.models.layers.norm import store_batch_statistics
from vjax.train import mesh as mesh_lib
from vjax.train.logging import say
from vjax.train.step import step_key

_STREAM = 0x9B  # separates this pass's shuffles from the training iterator's


class Accumulator(NamedTuple):
  """``zeros(batch_stats)``: the starting average; ``add(state, acc, batch, i) -> acc``."""
  zeros: Callable
  add: Callable


def make_accumulator(task, model, mesh, shardings) -> Accumulator:
  """Jitted functions that average BN statistics over batches: after ``add`` of the
  ``i``-th batch (from 0), ``acc`` is the mean of the first ``i + 1`` batches' statistics,
  by PyTorch's running update ``acc += (stats - acc) / (i + 1)``."""

  def add(state, acc, batch, i):
    variables = {"params": state.params, "batch_stats": state.batch_stats}
    with store_batch_statistics():
      stats = task.batch_statistics(model, variables, batch, step_key(state))
    n = (i + 1).astype(jnp.float32)
    return jax.tree.map(lambda a, s: a + (s - a) / n, acc, stats)

  rep = mesh_lib.replicated(mesh)
  return Accumulator(
      zeros=jax.jit(lambda stats: jax.tree.map(jnp.zeros_like, stats),
                    out_shardings=shardings.batch_stats),
      add=jax.jit(add, in_shardings=(shardings, shardings.batch_stats,
                                     mesh_lib.batch_sharding(mesh), rep),
                  out_shardings=shardings.batch_stats, donate_argnums=(1,)))


def recompute(state, accumulator: Accumulator, batches):
  """``state`` with its BN statistics averaged over ``batches`` (global batch dicts)."""
  acc = accumulator.zeros(state.batch_stats)
  n = 0
  for i, batch in enumerate(batches):
    acc = accumulator.add(state, acc, batch, np.int32(i))
    n += 1
  if not n:
    raise ValueError("PreciseBN got no batches")
  return state.replace(batch_stats=acc)


class PreciseBN:
  """The hook: ``due(epoch)`` after 1-based ``epoch``; ``__call__(state, epoch)`` -> state."""

  def __init__(self, cfg, exp, source, pipeline, batch_size: int, shardings,
               iters_per_epoch: int):
    self.num_iters = int(cfg["num_iters"])
    self.interval = int(cfg.get("interval", 1))
    if self.interval < 1:
      raise ValueError(f"precise_bn.interval must be >= 1 epoch, got {self.interval}")
    if self.num_iters > iters_per_epoch:
      raise ValueError(f"precise_bn.num_iters={self.num_iters} is more than the "
                       f"{iters_per_epoch} batches of one training epoch (MMAction2 asserts the "
                       "same); lower precise_bn.num_iters")
    self.exp, self.source, self.pipeline, self.batch_size = exp, source, pipeline, batch_size
    self.accumulator = make_accumulator(exp.task, exp.model, exp.mesh, shardings)

  @classmethod
  def from_config(cls, config, *args):
    """None when ``config.precise_bn`` is absent or has ``num_iters=0`` (off)."""
    cfg = config.get("precise_bn") or {}
    if not cfg or not cfg.get("num_iters"):
      return None
    if config.get("omnisource"):
      raise ValueError("precise_bn with omnisource=True is not supported: MMAction2 would "
                       "batch all training sources together, which their pipelines' shapes do "
                       "not allow; drop precise_bn")
    return cls(cfg, *args)

  def due(self, epoch: int) -> bool:
    return epoch % self.interval == 0

  def batches(self, epoch: int):
    seed = data_loader.derived_seed(self.exp.config.seed, _STREAM, epoch)
    it = data_loader.make_train_iterator(self.source, self.pipeline, seed=seed,
                                         **self.exp.iterator_kwargs(self.batch_size))
    try:
      for _ in range(self.num_iters):
        device, _ = data_loader.split_host_fields(next(it))
        yield mesh_lib.global_batch(self.exp.mesh, device)
    finally:
      it.close()

  def __call__(self, state, epoch: int):
    if not jax.tree.leaves(state.batch_stats):
      say("PreciseBN: the model has no BatchNorm statistics; nothing to recompute")
      return state
    state = recompute(state, self.accumulator, self.batches(epoch))
    say("PreciseBN: BN statistics recomputed from %d training batches after epoch %d",
        self.num_iters, epoch)
    return state
