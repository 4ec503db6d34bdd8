"""The training batches of each iteration, from one source or, with ``omnisource=True``, from
several: OmniSource joint training as MMAction2 0.24.1's OmniSourceRunner runs it.

``omnisource=True`` makes ``data.train`` a list of datasets, each with its own ``pipeline``
(web images, other video sets). The first is the main source: its length defines the epoch
and every iteration trains on one of its batches. Every ``train_ratio[0]``-th iteration
(counted over the whole run from 0, mmcv's ``runner.iter``) then trains on ``train_ratio[k]``
batches of auxiliary source ``k`` in turn. Each batch is its own optimizer step (mmcv's
OptimizerHook runs after every ``run_iter``), all of an iteration's steps use that iteration's
lr (the LrUpdaterHook reads ``runner.iter``, which only the main batch advances), and every
source's log_vars are logged with the suffix ``/aux{k}`` (``train/loss/aux0``).
``data.omni_videos_per_device[k]`` is source ``k``'s batch per device (default:
``videos_per_device``). Each epoch the auxiliary sources restart from a fresh shuffle (MMAction2
rebuilds their cycling iterators per epoch) and cycle through their data as needed.

``state.step`` counts optimizer steps; ``Plan`` maps between steps and iterations. Every
iterator's position is part of the checkpoint's data state, so a run resumes exactly.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp

from vjax.data import loader as data_loader
from vjax.data import sources
from vjax.train import mesh as mesh_lib

STATE_KEY = "omnisource"  # auxiliary iterator positions in the checkpoint's data state
_STREAM = 0x05  # separates the auxiliary sources' shuffles from the main one's


class Plan(NamedTuple):
  """``ratio``: MMAction2's ``train_ratio``, (main every, batches of aux 0, of aux 1, ...)."""
  ratio: tuple[int, ...] = (1,)

  @property
  def aux_steps(self) -> int:
    """Optimizer steps of the auxiliary sources in an iteration that runs them."""
    return sum(self.ratio[1:])

  def runs_aux(self, iteration: int) -> bool:
    return iteration % self.ratio[0] == 0

  def iteration_of(self, step):
    """The 0-based iteration of optimizer step ``step`` (jnp-traceable): every ``ratio[0]``
    iterations span ``ratio[0] + aux_steps`` steps, the aux ones right after the first."""
    every, aux = self.ratio[0], self.aux_steps
    period, offset = jnp.divmod(step, every + aux)
    return period * every + jnp.where(offset <= aux, 0, offset - aux)

  def iterations_done(self, steps: int) -> int:
    """Completed iterations after ``steps`` optimizer steps (checkpoints lie between two)."""
    every, aux = self.ratio[0], self.aux_steps
    period, offset = divmod(int(steps), every + aux)
    if 0 < offset <= aux:
      raise ValueError(f"step {steps} lies inside an OmniSource iteration; the checkpoint does "
                       f"not match train_ratio={list(self.ratio)}")
    return period * every + (offset - aux if offset else 0)

  def schedule(self, by_iteration):
    """The lr schedule of optimizer steps, from one of iterations."""
    if self.ratio == (1,):
      return by_iteration
    return lambda step: by_iteration(self.iteration_of(step))


def _as_list(value, n: int, what: str, default) -> list[int]:
  if value is None:
    return [default] * n
  value = [int(v) for v in value]
  if len(value) != n or any(v < 1 for v in value):
    raise ValueError(f"data.{what}={value} must give a positive int for each of the {n} "
                     "data.train sources")
  return value


def split_configs(config) -> list:
  """``data.train`` as a list of split configs: one, or the OmniSource sources."""
  train = config.data.train
  is_list = isinstance(train, (list, tuple))
  if config.get("omnisource"):
    if not is_list or not train:
      raise ValueError("omnisource=True needs data.train to be a list of datasets, the main "
                       "one first, each with its own pipeline")
    return list(train)
  if is_list:
    raise ValueError("data.train is a list of datasets: set omnisource=True to train on them "
                     "jointly, or join them with dict(type='ConcatDataset', datasets=[...])")
  return [train]


class TrainData:
  """``next(iteration)`` -> [(suffix, host batch)]: the main batch ('') and, when due, the
  auxiliary ones ('/aux0', ...); ``get_state``/``set_state`` for checkpoints."""

  def __init__(self, exp):
    config = exp.config
    cfgs = split_configs(config)
    n = len(cfgs)
    self.exp = exp
    self.splits = [sources.build_split(c) for c in cfgs]
    per_device = _as_list(config.data.get("omni_videos_per_device") if n > 1 else None, n,
                          "omni_videos_per_device", config.data.videos_per_device)
    self.batch_sizes = [b * exp.dp for b in per_device]
    ratio = _as_list(config.data.get("train_ratio") if n > 1 else None, n, "train_ratio", 1)
    self.plan = Plan(tuple(ratio))
    self.suffixes = [""] + [f"/aux{k}" for k in range(n - 1)]
    self.iters_per_epoch = len(self.splits[0][0]) // self.batch_sizes[0]
    if self.iters_per_epoch == 0:
      raise ValueError(f"the training set has {len(self.splits[0][0])} videos, fewer than one "
                       f"global batch ({self.batch_sizes[0]}); lower data.videos_per_device")
    self.main = data_loader.make_train_iterator(
        *self.splits[0], seed=config.seed, **exp.iterator_kwargs(self.batch_sizes[0]))
    self.aux: list = []
    self.aux_epoch = None

  @property
  def main_split(self):
    return self.splits[0]

  def _aux_iterators(self, epoch: int) -> list:
    out = []
    for k, ((source, pipeline), batch) in enumerate(zip(self.splits[1:], self.batch_sizes[1:])):
      seed = data_loader.derived_seed(self.exp.config.seed, _STREAM, k, epoch)
      out.append(data_loader.make_train_iterator(source, pipeline, seed=seed,
                                                 **self.exp.iterator_kwargs(batch)))
    return out

  def _start_epoch(self, epoch: int) -> None:
    for it in self.aux:
      it.close()
    self.aux, self.aux_epoch = self._aux_iterators(epoch), epoch

  def next(self, iteration: int) -> list[tuple[str, dict]]:
    """The host batches of 0-based ``iteration``, in the order they are trained on."""
    out = [("", next(self.main))]
    if len(self.splits) > 1 and self.plan.runs_aux(iteration):
      epoch = iteration // self.iters_per_epoch
      if self.aux_epoch != epoch:
        self._start_epoch(epoch)
      for k, times in enumerate(self.plan.ratio[1:]):
        out.extend((self.suffixes[k + 1], next(self.aux[k])) for _ in range(times))
    return out

  def global_batches(self, iteration: int):
    """``next(iteration)`` as (suffix, global device batch) pairs."""
    return [(s, mesh_lib.global_batch(self.exp.mesh, data_loader.split_host_fields(b)[0]))
            for s, b in self.next(iteration)]

  def get_state(self) -> dict:
    """The main iterator's state (as a single-source run saves it) plus the auxiliary ones'."""
    state = dict(self.main.get_state())
    if self.aux:
      state[STATE_KEY] = {"epoch": self.aux_epoch, "aux": [it.get_state() for it in self.aux]}
    return state

  def set_state(self, state: dict) -> None:
    self.main.set_state(state)
    saved = state.get(STATE_KEY)
    if saved and len(self.splits) > 1:
      self._start_epoch(int(saved["epoch"]))
      if len(saved["aux"]) != len(self.aux):
        raise ValueError(f"the checkpoint has {len(saved['aux'])} auxiliary sources, the config "
                         f"{len(self.aux)}; resume with the same data.train")
      for it, s in zip(self.aux, saved["aux"]):
        it.set_state(s)

  def close(self) -> None:
    for it in [self.main, *self.aux]:
      it.close()
