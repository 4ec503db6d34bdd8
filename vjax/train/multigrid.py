"""Multigrid training (Wu et al., 2020): cheap small clips in big batches early in each lr
stage, the full shape late, as MMAction2's ``multigrid=dict(...)`` configs run it.

The *long cycle* changes (batch, frames, size) per epoch: MMAction2's LongShortCycleHook
schedule (the lr stages split by each shape's average batch factor, a fine-tuning stage, all
stretched by ``epoch_factor``) with its RelativeStepLrUpdaterHook lrs (scaled by the batch
factor, a 34-epoch linear warm-up from 0.01). The *short cycle* (PySlowFast) cycles every
three iterations through smaller crops in proportionally bigger batches. MMAction2 0.24.1
counts the short cycle in the schedule but never builds its sampler (its hook rebuilds the
loader without it), so its batches keep the long-cycle shape; here
``short_cycle=True`` does both, and ``short_cycle_batches=False`` reproduces MMAction2.

Everything is a function of the global step: ``Plan.batch(step)`` loads that step's batch
(its epoch's permutation, its shape), so the data iterator's state is the step alone and a
resumed run continues exactly; the trainer compiles each distinct batch shape once.
"""

from __future__ import annotations

import bisect
import copy
import dataclasses
from typing import Any, Sequence

import jax.numpy as jnp
import numpy as np

from vjax.data import loader as data_loader

WARMUP_EPOCHS = 34  # RelativeStepLrUpdaterHook's defaults, which MMAction2 never overrides
WARMUP_START_LR = 0.01


def _pipeline_shape(pipeline: Sequence[dict]) -> tuple[int, int]:
  """(clip_len of the first SampleFrames, size of the last square Resize): the default
  shape the factors scale, as MMAction2 reads them."""
  samples = [op for op in pipeline if op["type"] == "SampleFrames"]
  resizes = [op for op in pipeline if op["type"] == "Resize"]
  if not samples or not resizes:
    raise ValueError("multigrid needs a SampleFrames and a Resize in data.train.pipeline")
  scale = tuple(resizes[-1]["scale"])
  if len(set(scale)) != 1:
    raise ValueError(f"multigrid needs a square last Resize, got scale={scale}")
  return int(samples[0]["clip_len"]), int(scale[0])


def long_cycle_schedule(mg: dict, default_t: int, default_s: int, lr_steps: Sequence[int],
                        max_epochs: int):
  """MMAction2's schedule: ``[(lr stage, (batch factor, frames, size), end epoch)]`` and the
  number of epochs trained (``int(max_epochs * epoch_factor)``)."""
  default_size = default_t * default_s**2
  all_shapes, avg_bs = [], []
  for t_factor, s_factor in mg["long_cycle_factors"]:
    base_t, base_s = int(round(default_t * t_factor)), int(round(default_s * s_factor))
    shapes = [[base_t, base_s]]
    if mg.get("short_cycle", False):
      shapes = [[base_t, int(round(default_s * f))] for f in mg["short_cycle_factors"]] + shapes
    shapes = [(int(round(default_size / (t * s**2))), t, s) for t, s in shapes]
    avg_bs.append(float(np.mean([s[0] for s in shapes])))
    all_shapes.append(shapes)
  steps = [0] + list(lr_steps)
  schedule, total_iters = [], 0.0
  for index in range(len(steps) - 1):
    stage_epochs = steps[index + 1] - steps[index]
    for cycle, shapes in enumerate(all_shapes):
      epochs = stage_epochs * avg_bs[cycle] / sum(avg_bs)
      total_iters += epochs / avg_bs[cycle]
      schedule.append((index, shapes[-1], epochs))
  saving = steps[-1] / total_iters
  finetune = (max_epochs - steps[-1]) / saving * avg_bs[-1]
  schedule.append((len(steps) - 1, all_shapes[-1][-1], finetune))
  stretch = max_epochs * mg.get("epoch_factor", 1.0) / sum(s[-1] for s in schedule)
  out, total = [], 0.0
  for stage, shape, epochs in schedule:
    total += epochs * stretch
    out.append((stage, shape, int(round(total))))
  return out, int(max_epochs * mg.get("epoch_factor", 1.0))


def shape_at(schedule, epoch: int):
  """The long-cycle (batch factor, frames, size) of ``epoch``."""
  for _, shape, end in schedule:
    if epoch < end:
      return shape
  return schedule[-1][1]


def epoch_lrs(schedule, base_lr: float, gamma: float, epochs: int,
              warmup_epochs: int = WARMUP_EPOCHS, warmup_start: float = WARMUP_START_LR):
  """The lr of each epoch, as RelativeStepLrUpdaterHook computes it."""
  steps = [s[-1] for s in schedule]
  steps.insert(-1, (steps[-2] + steps[-1]) // 2)  # the fine-tuning stage's second step
  lrs = [base_lr * gamma**stage * shape[0] for stage, shape, _ in schedule]
  lrs = lrs[:-1] + [lrs[-2], lrs[-1] * gamma]
  out = []
  for epoch in range(epochs):
    if epoch <= warmup_epochs:
      out.append(epoch * (lrs[0] - warmup_start) / warmup_epochs + warmup_start)
      continue
    later = [lr for step, lr in zip(steps, lrs) if epoch < step]
    if not later:
      raise ValueError(f"multigrid: epoch {epoch} is past the last lr step {steps[-1]}")
    out.append(later[0])
  return out


def short_cycle(mg: dict, base_b: int, base_s: int, default_s: int):
  """[(batch factor, size)] of the iterations of one short cycle in a long-cycle phase."""
  if not mg.get("short_cycle", False):
    return [(base_b, base_s)]
  factors = [int(round((base_s / (f * default_s))**2)) for f in mg["short_cycle_factors"]]
  sizes = [int(round(default_s * f)) for f in mg["short_cycle_factors"]]
  return [(base_b * k, s) for k, s in zip(factors, sizes)] + [(base_b, base_s)]


def phase_pipeline(pipeline: Sequence[dict], t: int, s: int) -> list[dict]:
  """The train pipeline at ``t`` frames and ``s`` pixels: SampleFrames keeps its span
  (clip_len x frame_interval), the last Resize goes to (s, s)."""
  ops = copy.deepcopy([dict(op) for op in pipeline])
  for op in ops:
    if op["type"] == "SampleFrames":
      span = op["clip_len"] * op.get("frame_interval", 1)
      interval = span / t
      op["clip_len"], op["frame_interval"] = t, int(interval) if interval == int(interval) \
          else interval
  resizes = [op for op in ops if op["type"] == "Resize"]
  resizes[-1]["scale"] = (s, s)
  return ops


@dataclasses.dataclass
class Plan:
  """Every epoch's iterations and shapes; ``batch(step)`` loads any step's batch."""

  dataset_size: int
  epoch_starts: np.ndarray  # step at which each epoch starts; last entry = total steps
  epoch_lr: list
  cycles: list  # per epoch: [(global batch, size)] of its short cycle
  shapes: list  # per epoch: (batch factor, frames, size) of the long cycle
  batch_fns: dict  # (frames, size, global batch) -> loader batch function

  @property
  def total_iters(self) -> int:
    return int(self.epoch_starts[-1])

  def epoch_of(self, step: int) -> int:
    """The 0-based epoch that step ``step`` (0-based) belongs to."""
    return bisect.bisect_right(self.epoch_starts, step) - 1

  def schedule(self, step):
    """lr of a (traced) step: its epoch's lr, constant within the epoch (by_epoch)."""
    starts = jnp.asarray(self.epoch_starts[:-1])
    epoch = jnp.clip(jnp.searchsorted(starts, step, side="right") - 1, 0, len(self.epoch_lr) - 1)
    return jnp.asarray(self.epoch_lr, jnp.float32)[epoch]

  def batch(self, step: int) -> dict[str, Any]:
    epoch = self.epoch_of(step)
    k = step - int(self.epoch_starts[epoch])
    cycle = self.cycles[epoch]
    sizes = [b for b, _ in cycle]
    offset = (k // len(cycle)) * sum(sizes) + sum(sizes[:k % len(cycle)])
    gb, size = cycle[k % len(cycle)]
    _, t, _ = self.shapes[epoch]
    return self.batch_fns[(t, size, gb)].at(epoch * self.dataset_size + offset)


def make_plan(config, source, batch_per_step: int, process_index: int = 0,
              process_count: int = 1) -> Plan:
  """The plan of ``config.multigrid`` over ``source``; ``batch_per_step`` is the global batch
  of the base shape (``videos_per_device`` x data-parallel devices)."""
  mg = config.multigrid.to_dict() if hasattr(config.multigrid, "to_dict") else dict(
      config.multigrid)
  if not mg.get("long_cycle", True):
    raise ValueError("multigrid needs long_cycle=True (MMAction2 has no short-cycle-only mode)")
  pipeline = [dict(op) for op in config.data.train.pipeline]
  default_t, default_s = _pipeline_shape(pipeline)
  if tuple(mg.get("default_s", (default_s, default_s)))[0] != default_s:
    raise ValueError(f"multigrid.default_s={mg.get('default_s')} differs from the last Resize "
                     f"of data.train.pipeline ({default_s}); make them equal")
  lr_cfg = config.lr_config
  if lr_cfg.get("policy") != "step":
    raise ValueError("multigrid works with lr_config policy='step' only (as MMAction2's); got "
                     f"{lr_cfg.get('policy')!r}")
  steps = lr_cfg["step"] if isinstance(lr_cfg["step"], (list, tuple)) else [lr_cfg["step"]]
  schedule, epochs = long_cycle_schedule(mg, default_t, default_s, steps, config.total_epochs)
  # warmup_epochs / warmup_start_lr: fixed in MMAction2; settable here for short runs.
  lrs = epoch_lrs(schedule, config.optimizer.lr, lr_cfg.get("gamma", 0.1), epochs,
                  mg.get("warmup_epochs", WARMUP_EPOCHS),
                  mg.get("warmup_start_lr", WARMUP_START_LR))
  n = len(source)
  starts, cycles, shapes, fns = [0], [], [], {}
  short_batches = mg.get("short_cycle_batches", True)
  for epoch in range(epochs):
    b, t, s = shape_at(schedule, epoch)
    cycle = short_cycle(mg if short_batches else {}, b, s, default_s)
    cycle = [(batch_per_step * k, size) for k, size in cycle]
    iters, used = 0, 0
    while used + cycle[iters % len(cycle)][0] <= n:  # drop_last, as the sampler does
      used += cycle[iters % len(cycle)][0]
      iters += 1
    if iters == 0:
      raise ValueError(f"multigrid epoch {epoch}: a batch of {cycle[0][0]} videos is bigger "
                       f"than the training set ({n}); lower data.videos_per_device")
    starts.append(starts[-1] + iters)
    cycles.append(cycle)
    shapes.append((b, t, s))
    for gb, size in cycle:
      if (t, size, gb) not in fns:
        fns[(t, size, gb)] = data_loader.train_batch_fn(
            source, phase_pipeline(pipeline, t, size), seed=config.seed, global_batch_size=gb,
            process_index=process_index, process_count=process_count,
            on_error=config.data.on_error)
  return Plan(dataset_size=n, epoch_starts=np.asarray(starts), epoch_lr=lrs, cycles=cycles,
              shapes=shapes, batch_fns=fns)


def make_iterator(plan: Plan, config, worker_count: int = 0) -> data_loader.DataIterator:
  """The plan's batches as a resumable iterator (state: the step)."""
  return data_loader.DataIterator(
      plan.batch, stop=plan.total_iters,
      fingerprint={"seed": config.seed, "dataset_size": plan.dataset_size,
                   "multigrid_epochs": len(plan.cycles), "total_iters": plan.total_iters},
      worker_count=worker_count, what="train data (multigrid)")
