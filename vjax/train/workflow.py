"""MMAction2's ``workflow``: ``[('train', 1)]`` only trains; ``[('train', n), ('val', 1)]`` also
runs a val phase after every ``n`` training epochs and after the last one (mmcv's
EpochBasedRunner order): the loss of ``data.val`` in eval mode (running BN statistics, no
dropout, no update), MMAction2's ``val_step``. It is logged as ``val/loss`` and ``val/<term>``
for the task's loss terms, each the sample-weighted mean over the whole split, as mmcv's log
buffer averages it. Batch metrics (``top1_acc``) are left to ``evaluation.metrics``, whose
``val/top1_acc`` they would shadow. A val phase of ``m`` epochs would repeat the same pass, so
it runs once.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from vjax.data import loader as data_loader
from vjax.train import mesh as mesh_lib
from vjax.train.step import step_key


def _pairs(workflow) -> list[tuple[str, int]]:
  try:
    return [(str(mode), int(epochs)) for mode, epochs in workflow]
  except (TypeError, ValueError):
    raise ValueError(f"config.workflow must be a list of (phase, epochs) pairs such as "
                     f"[('train', 1), ('val', 1)], got {workflow!r}") from None


def val_every(config) -> int | None:
  """The number of training epochs between val phases; None without a val phase."""
  workflow = _pairs(config.get("workflow") or (("train", 1),))
  modes = [mode for mode, _ in workflow]
  if modes not in (["train"], ["train", "val"]) or any(n < 1 for _, n in workflow):
    raise ValueError(f"config.workflow={workflow} is not supported: use [('train', n)] or "
                     "[('train', n), ('val', m)] with n, m >= 1 (a training phase first)")
  if len(workflow) == 1:
    return None
  if config.get("omnisource"):
    raise ValueError("a ('val', m) workflow phase cannot be combined with omnisource=True "
                     "(MMAction2 forbids it too); evaluate with config.evaluation instead")
  return workflow[0][1]


def val_due(epoch: int, every: int | None, total_epochs: int) -> bool:
  """Whether a val phase follows 1-based training ``epoch``."""
  return every is not None and (epoch % every == 0 or epoch == total_epochs)


def make_val_loss_step(task, model, mesh, shardings):
  """Jitted ``(state, batch) -> (sums, n)``: ``loss`` and each loss term of the batch's valid
  samples times their number ``n``, for averaging over batches."""

  def val_step(state, batch):
    variables = {"params": state.params, "batch_stats": state.batch_stats}
    loss, log_vars = task.val_loss(model, variables, batch, step_key(state))
    n = batch["valid"].sum().astype(jnp.float32)
    terms = {"loss": loss, **{k: v for k, v in log_vars.items() if "loss" in k}}
    return {k: v * n for k, v in terms.items()}, n

  rep = mesh_lib.replicated(mesh)
  return jax.jit(val_step, in_shardings=(shardings, mesh_lib.batch_sharding(mesh)),
                 out_shardings=(rep, rep))


class ValLoss:
  """``__call__(state) -> {'val/loss': ..., 'val/loss_cls': ...}`` over ``data.val``."""

  def __init__(self, exp, shardings, batch_size: int):
    self.exp = exp
    self.batch_size = batch_size
    self.step = make_val_loss_step(exp.task, exp.model, exp.mesh, shardings)

  def __call__(self, state) -> dict[str, float]:
    source, pipeline = self.exp.source("val")
    it = data_loader.make_eval_iterator(source, pipeline,
                                        **self.exp.iterator_kwargs(self.batch_size))
    sums, count = None, 0.0
    for batch in tqdm(it, total=it.num_batches, desc="val loss", leave=False,
                      disable=jax.process_index() != 0):
      device, _ = data_loader.split_host_fields(batch)
      part, n = self.step(state, mesh_lib.global_batch(self.exp.mesh, device))
      sums = part if sums is None else jax.tree.map(jnp.add, sums, part)
      count += n
    sums, count = jax.device_get((sums, count))
    return {f"val/{k}": float(np.asarray(v) / count) for k, v in sums.items()}
