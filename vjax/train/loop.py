"""The trainer: train with periodic evaluation, a single evaluation, or a multi-view test.

Sections are visible in order: setup (mesh, data, model, optimizer, state, checkpoints),
then the step loop. Every process runs this same code; only process 0 writes logs.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import jax
import ml_collections
import numpy as np
from absl import logging
from tqdm import tqdm

from vjax import tasks
from vjax.data import loader as data_loader
from vjax.data import sources
from vjax.train import mesh as mesh_lib
from vjax.train import multigrid
from vjax.train import nonfinite
from vjax.train import omnisource
from vjax.train import optim
from vjax.train import precise_bn
from vjax.train import sharding
from vjax.train import precision
from vjax.train import step as step_lib
from vjax.train import throughput
from vjax.train import workflow
from vjax.train.checkpoint import Checkpointer, load_params, restore_from
from vjax.train.logging import MetricWriter, say
from vjax.train.state import TrainState, abstract_state, create_state


class Experiment:
  """Everything built from a config that train, eval and test share: the mesh, the task and
  its model, batch sizes, and the prediction pass every evaluator reads."""

  def __init__(self, config: ml_collections.ConfigDict, workdir: str):
    self.config = config
    self.workdir = workdir
    self.mesh = mesh_lib.make_mesh(config.mesh, dcn=config.get("mesh_dcn", ()))
    self.dp = mesh_lib.data_parallel_size(self.mesh)
    self.process_count = jax.process_count()
    norm_groups = self.dp if config.bn_stats == "per_device" else None
    if config.bn_stats not in ("sync", "per_device"):
      raise ValueError(f"bn_stats must be 'sync' or 'per_device', got {config.bn_stats!r}")
    self.task = tasks.build_task(config)
    # fp16's loss scaler (None otherwise) and the compute dtype, both checked here.
    self.loss_scaler = precision.loss_scaler(config)
    self.dtype = precision.compute_dtype(config)
    self.model = self.task.build_model(norm_groups=norm_groups, dtype=self.dtype)
    self.train_batch = config.data.videos_per_device * self.dp
    self.test_batch = config.data.test_videos_per_device * self.dp

  def source(self, split: str):
    return sources.build_split(self.config.data[split])

  def init_state(self, tx, sample_input):
    """``sample_input``: the model's example input(s), e.g. ``task.init_inputs(sample)``."""
    state, shardings = create_state(self.model, tx, self.mesh, sample_input, self.config.seed,
                                    self.config.sharding_rules, self.config.param_sharding,
                                    self.loss_scaler)
    if self.mesh.size > 1:
      say("Mesh %s: %s", dict(self.mesh.shape),
          sharding.describe(state.params, shardings.params))
    return state, shardings

  def jit_step(self, fn, state_shardings, out_shardings, **kwargs):
    """``fn(state, batch)`` jitted on the mesh, with the activation constraints of the
    sharding rules active while it traces."""
    return jax.jit(sharding.with_rules(fn, self.mesh, self.config.sharding_rules),
                   in_shardings=(state_shardings, mesh_lib.batch_sharding(self.mesh)),
                   out_shardings=out_shardings, **kwargs)

  def iterator_kwargs(self, batch_size):
    return dict(global_batch_size=batch_size, worker_count=self.config.data.workers,
                process_index=jax.process_index(), process_count=self.process_count,
                on_error=self.config.data.on_error)

  def sample_input(self, source, pipeline) -> tuple:
    """The task's example inputs, shaped like one processed sample (for initialisation)."""
    sample = data_loader.example_sample(source, pipeline, keys=None,
                                        on_error=self.config.data.on_error)
    return self.task.init_inputs(sample)

  def make_eval_step(self, state_shardings, predictor: str = "predict"):
    """The jitted predict step of one of the task's predictors."""
    inner = step_lib.make_predict_step(self.task, self.model, predictor)
    # Outputs replicated: every process holds all predictions, so metrics need no gather.
    return self.jit_step(inner, state_shardings, mesh_lib.replicated(self.mesh))

  def predict(self, state, eval_step, source, pipeline, batch_size, desc: str):
    """(predictions, targets): dicts of arrays with one row per sample in dataset order, each
    sample counted exactly once (padding rows dropped by the loader's ``valid`` flags)."""
    it = data_loader.make_eval_iterator(source, pipeline, **self.iterator_kwargs(batch_size))
    preds, targets = [], []
    bar = tqdm(it, total=getattr(it, "num_batches", None), desc=desc, leave=False,
               disable=jax.process_index() != 0)
    for batch in bar:
      device, _ = data_loader.split_host_fields(batch)
      p, t = jax.device_get(eval_step(state, mesh_lib.global_batch(self.mesh, device)))
      valid = np.asarray(t["valid"])
      preds.append({k: np.asarray(v)[valid] for k, v in p.items()})
      targets.append({k: np.asarray(v)[valid] for k, v in t.items()})
    index = np.concatenate([t["index"] for t in targets])
    order = np.argsort(index)
    if len(index) != len(source) or not np.array_equal(index[order], np.arange(len(source))):
      raise RuntimeError(f"evaluation saw {len(index)} samples of {len(source)}: the eval "
                         "iterator did not cover the dataset exactly once")

    def gather(rows):
      return {k: np.concatenate([r[k] for r in rows])[order] for k in rows[0]}

    return gather(preds), gather(targets)

  def evaluators(self, split: str, out: str | None = None):
    """``evaluation.metrics`` for train/val; ``test.out`` adds a file of predictions."""
    task = self.task
    predictor = task.test_predictor() if split == "test" else "predict"
    if predictor != "predict":  # e.g. feature extraction: predictions only, no metrics
      if not out:
        raise ValueError(f"this config's test run writes {predictor}, not metrics: pass "
                         "--config.test.out=FILE.pkl (or .json)")
      return [task.prediction_writer(out, predictor)]
    ev = self.config.evaluation
    options = ev.metric_options.to_dict() if ev.get("metric_options") else None
    evaluators = task.evaluators(list(ev.metrics), options)
    if out:
      evaluators.append(task.prediction_writer(out))
    return evaluators

  def evaluate(self, state, shardings, split: str = "val", evaluators=None):
    """Runs each predictor the evaluators need once over ``split``; returns their results.
    Only process 0 writes files."""
    source, pipeline = self.source(split)
    batch = self.train_batch if split == "val" else self.test_batch
    evaluators = self.evaluators(split) if evaluators is None else evaluators
    results: dict[str, Any] = {}
    passes: dict[str, tuple] = {}
    for ev in evaluators:
      if ev.predictor not in passes:
        step = self.eval_steps(shardings, ev.predictor)
        passes[ev.predictor] = self.predict(state, step, source, pipeline, batch,
                                            desc=f"{split} {ev.predictor}")
      preds, targets = passes[ev.predictor]
      if getattr(ev, "writes_files", False) and jax.process_index() != 0:
        continue
      results.update(ev(preds, targets, source))
    self.last_predictions = {name: preds for name, (preds, _) in passes.items()}
    return results

  def eval_steps(self, shardings, predictor: str):
    """The jitted predict step per predictor, compiled once per experiment."""
    cache = self.__dict__.setdefault("_eval_steps", {})
    if predictor not in cache:
      cache[predictor] = self.make_eval_step(shardings, predictor)
    return cache[predictor]


def _schedule_and_tx(config, iters_per_epoch: int, total_iters: int, global_batch: int, exp,
                     plan: omnisource.Plan = omnisource.Plan()):
  """The lr schedule (of the optimizer step count: the iteration count, or with OmniSource
  the iteration of that step per ``plan``) and the optimizer; the task's frozen parameters
  get no optimizer state, so a state built here restores only checkpoints of the same layout."""
  base_lr = config.optimizer.lr
  if config.auto_scale_lr.enable:
    base_lr *= global_batch / config.auto_scale_lr.base_batch_size
  schedule = plan.schedule(optim.make_schedule(
      config.lr_config.to_dict(), base_lr, iters_per_epoch=iters_per_epoch,
      total_iters=total_iters))
  if plan.aux_steps and config.optimizer_config.get("cumulative_iters", 1) > 1:
    raise ValueError("gradient accumulation (cumulative_iters) with omnisource=True is not "
                     "supported: mmcv would count the auxiliary sources' steps into its groups")
  return schedule, _optimizer(config, schedule, total_iters, exp)


def _optimizer(config, schedule, total_iters: int, exp):
  return optim.make_optimizer(config.optimizer.to_dict(), config.optimizer_config.to_dict(),
                              schedule, total_iters=total_iters,
                              frozen_mask=lambda params: exp.task.frozen_mask(exp.model, params))


class Epochs:
  """Epoch boundaries in iterations (``starts[e]``: first iteration of epoch e; the last entry
  is the total), equal-sized in plain training, of varying length under multigrid."""

  def __init__(self, starts):
    self.starts = np.asarray(starts, np.int64)
    self._ends = {int(s): e + 1 for e, s in enumerate(self.starts[1:])}

  @property
  def total(self) -> int:
    return int(self.starts[-1])

  @property
  def count(self) -> int:
    return len(self.starts) - 1

  def ended(self, done: int) -> int | None:
    """The 1-based epoch that ``done`` finished iterations complete, or None mid-epoch."""
    return self._ends.get(int(done))

  def progress(self, done: int) -> float:
    """Epochs done, fractional (for logs)."""
    e = min(int(np.searchsorted(self.starts, done, side="right")) - 1, self.count - 1)
    length = max(int(self.starts[e + 1] - self.starts[e]), 1)
    return e + (done - int(self.starts[e])) / length


def should_evaluate(epoch: int, interval: int, start: int | None) -> bool:
  """mmcv's EvalHook rule after finishing 1-based ``epoch``: every ``interval`` epochs, or
  with ``start`` from that epoch on, then every ``interval`` epochs after it."""
  if not start:
    return epoch % interval == 0
  return epoch >= start and (epoch - start) % interval == 0


class _Periodic:
  """Wall-clock deadline for the time-based save (``checkpoint_config.save_every_minutes``):
  every process follows process 0's clock, so all of them take part in the same saves."""

  def __init__(self, minutes: float):
    self.seconds = float(minutes or 0) * 60
    self.last = time.monotonic()

  def due(self) -> bool:
    if self.seconds <= 0:
      return False
    due = time.monotonic() - self.last >= self.seconds
    if jax.process_count() > 1:
      from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
      due = bool(multihost_utils.broadcast_one_to_all(np.asarray(due)))
    if due:
      self.last = time.monotonic()
    return due


class _Preemption:
  """SIGTERM/SIGINT set a flag; the loop checkpoints and exits cleanly at the next step."""

  def __init__(self):
    self.requested = False
    self._old = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
      try:
        self._old[sig] = signal.signal(sig, self._handle)
      except ValueError:  # not the main thread
        pass

  def _handle(self, signum, frame):
    if self.requested:  # a second signal: stop now
      signal.signal(signum, self._old.get(signum, signal.SIG_DFL))
      os.kill(os.getpid(), signum)
    self.requested = True

  def restore(self):
    for sig, old in self._old.items():
      signal.signal(sig, old)


def load_pretrained(state: TrainState, shardings, task) -> TrainState:
  """A fresh state with the pretrained weights the task's model config names (MMAction2's
  ``init_weights``: a backbone's ``pretrained``, inflated from 2D when ``pretrained2d``) in
  its params and BN statistics; the state unchanged when it names none.

  Every process reads the file; each array is placed shard by shard like the one it replaces.
  """
  abstract = abstract_state(state, shardings)
  found = task.pretrained({"params": abstract.params, "batch_stats": abstract.batch_stats})
  if found is None:
    return state
  arrays, report = found
  say("Pretrained weights: %s", report.summary() if report else "none")

  def fill(collection, tree):
    def leaf(path, x):
      key = (collection,) + tuple(str(k.key) for k in path)
      if key not in arrays:
        return x
      value = np.asarray(arrays[key], x.dtype)
      return jax.make_array_from_callback(x.shape, x.sharding, lambda index: value[index])
    return jax.tree_util.tree_map_with_path(leaf, tree)

  return state.replace(params=fill("params", state.params),
                       batch_stats=fill("batch_stats", state.batch_stats))


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Trains with periodic evaluation; resumes from the latest checkpoint in ``workdir``."""
  exp = Experiment(config, workdir)
  val_every = workflow.val_every(config)
  nonfinite_mode = nonfinite.check_mode(config.get("nonfinite", "raise"))
  data = omnisource.TrainData(exp)  # the main training source, and OmniSource's others
  train_source, train_pipeline = data.main_split
  train_batch, iters_per_epoch = data.batch_sizes[0], data.iters_per_epoch
  if config.get("multigrid"):  # batch, frames and size change per epoch and iteration
    if len(data.splits) > 1:
      raise ValueError("multigrid with omnisource=True is not supported; train one of them")
    plan = multigrid.make_plan(config, train_source, train_batch, jax.process_index(),
                               exp.process_count)
    data.main.close()
    data.main = multigrid.make_iterator(plan, config, config.data.workers)
    epochs = Epochs(plan.epoch_starts)
    schedule, tx = plan.schedule, _optimizer(config, plan.schedule, epochs.total, exp)
    say("Multigrid: %d epochs, %d iterations, %d batch shapes", epochs.count, epochs.total,
        len(plan.batch_fns))
  else:
    epochs = Epochs(np.arange(config.total_epochs + 1) * iters_per_epoch)
    schedule, tx = _schedule_and_tx(config, iters_per_epoch, epochs.total, train_batch, exp,
                                    data.plan)
  total_iters = epochs.total
  state, shardings = exp.init_state(tx, exp.sample_input(train_source, train_pipeline))
  precise = precise_bn.PreciseBN.from_config(config, exp, train_source, train_pipeline,
                                             train_batch, shardings, iters_per_epoch)
  val_loss = workflow.ValLoss(exp, shardings, exp.train_batch) if val_every else None

  ev = config.evaluation
  ckpt = Checkpointer(workdir, max_to_keep=config.checkpoint_config.max_to_keep,
                      best_metric=ev.save_best or None,
                      best_mode="min" if ev.get("rule") == "less" else "max")
  data_state = None
  start = ckpt.latest_step()
  if start is not None:
    state, data_state = ckpt.restore(start, abstract_state(state, shardings))
    say("Resumed from %s at step %d", workdir, start)
  elif config.get("resume_from"):  # another run's checkpoint: the whole train state
    state, data_state = restore_from(config.resume_from, abstract_state(state, shardings))
    say("Resumed from %s at step %d", config.resume_from,
        data.plan.iterations_done(int(state.step)))
  elif config.load_from:
    params, batch_stats = load_params(config.load_from, abstract_state(state, shardings))
    state = state.replace(params=params, batch_stats=batch_stats)
    say("Loaded weights from %s", config.load_from)
  else:
    state = load_pretrained(state, shardings, exp.task)

  if data_state:
    data.set_state(data_state)
  watch = nonfinite.NonfiniteWatch(nonfinite_mode, exp.mesh, data.suffixes,
                                   (data_state or {}).get(nonfinite.STATE_KEY, 0))

  def data_state_now():
    return {**data.get_state(), nonfinite.STATE_KEY: watch.check()}

  train_step = exp.jit_step(step_lib.make_train_step(exp.task, exp.model, tx, schedule,
                                                     skip_nonfinite=nonfinite_mode == "skip",
                                                     loss_scaler=exp.loss_scaler),
                            shardings, (shardings, mesh_lib.replicated(exp.mesh)),
                            donate_argnums=(0,))
  evaluators = exp.evaluators("val")
  writer = MetricWriter(workdir)
  if jax.process_index() == 0:
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, "config.json"), "w") as f:
      f.write(config.to_json_best_effort(indent=2))

  step = data.plan.iterations_done(int(state.step))  # iterations; state.step counts updates
  ck = config.checkpoint_config
  by_epoch = ck.get("by_epoch", True)
  timed_save = _Periodic(ck.get("save_every_minutes", 0))
  log_every = config.log_config.interval
  preempt = _Preemption()
  last_results: dict[str, Any] = {}
  pending = None  # metrics of the step in flight: at most one step is queued ahead
  latest: dict[str, Any] = {}  # each source's last metrics since the last log
  acc = {"data_time": 0.0, "n": 0}
  bar = tqdm(total=total_iters, initial=step, desc="train", dynamic_ncols=True,
             disable=jax.process_index() != 0)
  t_last = time.perf_counter()
  compiled = {}  # batch shapes -> (executable, FLOPs): OmniSource and multigrid have several
  with exp.mesh:
    while step < total_iters:
      t0 = time.perf_counter()
      batches = data.global_batches(step)
      data_time = time.perf_counter() - t0
      for suffix, batch in batches:  # OmniSource's auxiliary batches each take a step too
        shapes = tuple((k, v.shape, v.dtype) for k, v in sorted(batch.items()))
        if shapes not in compiled:  # ahead of time, once per batch shape
          t_compile = time.perf_counter()
          executable = train_step.lower(state, batch).compile(step_lib.compiler_options())
          compiled[shapes] = (executable, throughput.step_flops(executable))
          logging.info("Compiled the train step for batch %s in %.1f s (%s FLOPs)",
                       {k: shape for k, shape, _ in shapes}, time.perf_counter() - t_compile,
                       compiled[shapes][1])
        executable, step_flops = compiled[shapes]
        if not suffix:  # the main batch's size and FLOPs give clips/s and the MFU
          flops, clips = step_flops, next(iter(batch.values())).shape[0]
        state, metrics = executable(state, batch)
        watch.note(metrics, step + 1, suffix)
        if pending is not None:
          jax.block_until_ready(pending)
        pending = latest[suffix] = metrics
      step += 1
      now = time.perf_counter()
      step_time, t_last = now - t_last, now
      acc["data_time"] += data_time
      acc["n"] += 1
      bar.update(1)
      if step % log_every == 0 or step == total_iters:
        skipped = watch.check()  # raises at a non-finite step (nonfinite='raise')
        host = {f"train/{k}{suffix}": float(v) for suffix, m in jax.device_get(latest).items()
                for k, v in m.items() if k != step_lib.NONFINITE}
        latest = {}
        if nonfinite_mode == "skip":
          host["train/skipped_steps"] = skipped
        host.update({"train/step_time": step_time, "train/data_time": acc["data_time"] / acc["n"],
                     "train/epoch": epochs.progress(step)})
        host.update({f"train/{k}": v for k, v in throughput.figures(
            step_time, clips, flops, exp.dtype.name).items()})
        acc = {"data_time": 0.0, "n": 0}
        bar.set_postfix(loss=f"{host['train/loss']:.3f}", lr=f"{host['train/lr']:.2e}",
                        step=f"{step_time:.2f}s", data=f"{host['train/data_time']:.2f}s")
        writer.write(step, host)
      done = step == total_iters
      epoch = epochs.ended(step)  # the 1-based epoch ``step`` completes, else None
      if epoch and precise is not None and precise.due(epoch):
        watch.check()
        state = precise(state, epoch)
      if evaluators and (done or (epoch and should_evaluate(epoch, ev.interval,
                                                             ev.get("start")))):
        watch.check()
        results = exp.evaluate(state, shardings, "val", evaluators)
        last_results = results
        writer.write(step, {f"val/{k}": v for k, v in results.items()})
        bar.write(f"step {step} (epoch {epochs.progress(step):.1f}): " +
                  ", ".join(f"{k}={v:.4f}" for k, v in results.items()))
        if ev.save_best:
          ckpt.save_best(step, state, results, data_state_now())
      timed = step % log_every == 0 and timed_save.due()  # checked where metrics sync anyway
      periodic = (epoch is not None and epoch % ck.interval == 0) if by_epoch else (
          step % ck.interval == 0)
      if periodic or done or preempt.requested or timed:
        ckpt.save(step, state, data_state_now(), force=True)
      if epoch and workflow.val_due(epoch, val_every, epochs.count):
        writer.write(step, val_loss(state))
      if preempt.requested:
        bar.write(f"Interrupted: checkpoint saved at step {step}; run the same command to resume.")
        break
  bar.close()
  data.close()
  ckpt.wait()
  ckpt.close()
  writer.close()
  preempt.restore()
  return last_results


def _restore_for_inference(exp: Experiment, split: str, checkpoint: str | None):
  source, pipeline = exp.source(split)
  _, tx = _schedule_and_tx(exp.config, 1, 1, exp.train_batch, exp)
  state, shardings = exp.init_state(tx, exp.sample_input(source, pipeline))
  ckpt = Checkpointer(exp.workdir, best_metric=None)
  if checkpoint:
    params, batch_stats = load_params(checkpoint, abstract_state(state, shardings))
    state = state.replace(params=params, batch_stats=batch_stats)
  elif ckpt.latest_step() is not None:
    state, _ = ckpt.restore(ckpt.latest_step(), abstract_state(state, shardings))
  elif exp.config.load_from:
    params, batch_stats = load_params(exp.config.load_from, abstract_state(state, shardings))
    state = state.replace(params=params, batch_stats=batch_stats)
  else:
    raise FileNotFoundError(f"no checkpoint in {exp.workdir}/checkpoints and no load_from: "
                            "train first or pass --config.load_from=CHECKPOINT_DIR")
  ckpt.close()
  return state, shardings


def checkpoint_dir(workdir: str, which: str = "last") -> str:
  """The step directory of a run's ``'last'`` checkpoint or its ``'best'`` one (by
  ``evaluation.save_best``): what MMAction2's ``--test-last`` / ``--test-best`` test."""
  sub = {"last": "checkpoints", "best": "best"}[which]
  root = os.path.join(workdir, sub)
  found = sorted((int(d) for d in os.listdir(root) if d.isdigit()) if os.path.isdir(root) else ())
  if not found:
    raise FileNotFoundError(f"no {which} checkpoint in {root}: train first (a best checkpoint "
                            "needs evaluation.save_best)")
  return os.path.join(root, str(found[-1]))


def evaluate_only(config, workdir: str, split: str = "val", checkpoint: str | None = None,
                  predictor: str | None = None):
  """One evaluation pass: ``--mode=eval`` over data.val with ``evaluation.metrics``;
  ``--mode=test`` over data.test with the task's test predictor (``test.out`` writes the
  predictions); ``--mode=features`` (``predictor='features'``) writes pooled features."""
  exp = Experiment(config, workdir)
  out = config.test.out if split == "test" else ""
  if predictor is not None and predictor != "predict":
    if not out:
      raise ValueError(f"--mode={predictor} writes {predictor}, not metrics: pass "
                       "--config.test.out=FILE.pkl (or .json)")
    evaluators = [exp.task.prediction_writer(out, predictor)]
  else:
    evaluators = exp.evaluators(split, out)
  state, shardings = _restore_for_inference(exp, split, checkpoint)
  with exp.mesh:
    results = exp.evaluate(state, shardings, split, evaluators)
  if results:
    # A checkpoint given by path restores weights only: its step is in its directory name.
    name = os.path.basename(os.path.normpath(checkpoint)) if checkpoint else ""
    writer = MetricWriter(workdir)
    writer.write(int(name) if name.isdigit() else int(state.step),
                 {f"{split}/{k}": v for k, v in results.items()})
    writer.close()
  if predictor is not None and predictor != "predict":
    rows = exp.last_predictions[predictor][predictor]
    return {f"num_{predictor}": len(rows), f"{predictor}_dim": int(rows.shape[-1])}
  return results
