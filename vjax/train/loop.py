"""The trainer: train with periodic evaluation, a single evaluation, or a multi-view test.

Sections are visible in order: setup (mesh, data, model, optimizer, state, checkpoints),
then the step loop. Every process runs this same code; only process 0 writes logs.
"""

from __future__ import annotations

import os
import pickle
import json
import signal
import time
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from absl import logging
from tqdm import tqdm

from vjax import evaluation
from vjax.convert import pretrained
from vjax.data import loader as data_loader
from vjax.data import sources
from vjax.models import build_model
from vjax.train import mesh as mesh_lib
from vjax.train.blending import build_blending
from vjax.train import optim
from vjax.train import step as step_lib
from vjax.train.checkpoint import Checkpointer, load_params
from vjax.train.logging import MetricWriter
from vjax.train.state import TrainState, abstract_state, create_state


class Experiment:
  """Everything built from a config that train, eval and test share."""

  def __init__(self, config: ml_collections.ConfigDict, workdir: str):
    self.config = config
    self.workdir = workdir
    self.mesh = mesh_lib.make_mesh(config.mesh)
    self.dp = mesh_lib.data_parallel_size(self.mesh)
    self.process_count = jax.process_count()
    norm_groups = self.dp if config.bn_stats == "per_device" else None
    if config.bn_stats not in ("sync", "per_device"):
      raise ValueError(f"bn_stats must be 'sync' or 'per_device', got {config.bn_stats!r}")
    self.model = build_model(config.model, norm_groups=norm_groups,
                             dtype=jnp.dtype(config.dtype))
    self.norm_cfg = config.data.img_norm_cfg.to_dict() if config.data.img_norm_cfg else None
    self.train_batch = config.data.videos_per_device * self.dp
    self.test_batch = config.data.test_videos_per_device * self.dp

  def source(self, split: str):
    return sources.build_split(self.config.data[split])

  def init_state(self, tx, sample_imgs):
    return create_state(self.model, tx, self.mesh, jnp.asarray(sample_imgs, jnp.float32),
                        self.config.seed, self.config.sharding_rules)

  def iterator_kwargs(self, batch_size):
    return dict(global_batch_size=batch_size, worker_count=self.config.data.workers,
                process_index=jax.process_index(), process_count=self.process_count,
                on_error=self.config.data.on_error)

  def sample_input(self, source, pipeline):
    """A zero batch of one, shaped like the pipeline's output (for initialisation)."""
    imgs = data_loader.example_sample(source, pipeline, on_error=self.config.data.on_error)
    return np.zeros((1,) + np.asarray(imgs["imgs"]).shape, np.float32)

  def predict(self, state, eval_step, source, pipeline, batch_size, desc: str):
    """Scores (N, K) and labels in dataset order; each sample counted exactly once."""
    it = data_loader.make_eval_iterator(source, pipeline,
                                        keys=("imgs", "label", "mask", "index"),
                                        **self.iterator_kwargs(batch_size))
    out_scores, out_labels, out_index = [], [], []
    bar = tqdm(it, total=getattr(it, "num_batches", None), desc=desc, leave=False,
               disable=jax.process_index() != 0)
    for batch in bar:
      gb = mesh_lib.global_batch(self.mesh, batch)
      scores, labels, mask, index = eval_step(state, gb["imgs"], gb["label"], gb["mask"],
                                              gb["index"])
      mask = np.asarray(mask)
      out_scores.append(np.asarray(scores)[mask])
      out_labels.append(np.asarray(labels)[mask])
      out_index.append(np.asarray(index)[mask])
    index = np.concatenate(out_index)
    order = np.argsort(index)
    if len(index) != len(source) or not np.array_equal(index[order], np.arange(len(source))):
      raise RuntimeError(f"evaluation saw {len(index)} samples of {len(source)}: the eval "
                         "iterator did not cover the dataset exactly once")
    return np.concatenate(out_scores)[order], np.concatenate(out_labels)[order]

  def make_eval_step(self, state_shardings):
    inner = step_lib.make_eval_step(self.model, self.norm_cfg)
    rep = mesh_lib.replicated(self.mesh)
    bs = mesh_lib.batch_sharding(self.mesh)
    # Outputs replicated: every process holds all scores, so metrics need no extra gather.
    return jax.jit(lambda s, imgs, *rest: (inner(s, imgs),) + tuple(rest),
                   in_shardings=(state_shardings, bs, bs, bs, bs), out_shardings=rep)

  def evaluate(self, state, eval_step, split: str = "val"):
    source, pipeline = self.source(split)
    batch = self.train_batch if split == "val" else self.test_batch
    scores, labels = self.predict(state, eval_step, source, pipeline, batch, desc=split)
    ev = self.config.evaluation
    results = evaluation.evaluate_recognition(
        scores, labels, metrics=list(ev.metrics),
        metric_options=ev.metric_options.to_dict() if ev.get("metric_options") else None)
    return results, scores


def _schedule_and_tx(config, iters_per_epoch: int, total_iters: int, global_batch: int):
  base_lr = config.optimizer.lr
  if config.auto_scale_lr.enable:
    base_lr *= global_batch / config.auto_scale_lr.base_batch_size
  schedule = optim.make_schedule(config.lr_config.to_dict(), base_lr,
                                 iters_per_epoch=iters_per_epoch, total_iters=total_iters)
  tx = optim.make_optimizer(config.optimizer.to_dict(), config.optimizer_config.to_dict(),
                            schedule)
  return schedule, tx


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


def load_pretrained(state: TrainState, shardings, model_cfg) -> TrainState:
  """A fresh state with the backbone's ``pretrained`` checkpoint (MMAction2's
  ``init_weights``: inflated from 2D when ``pretrained2d``) in its params and BN statistics.

  Every process reads the file; each array is placed shard by shard like the one it replaces.
  """
  abstract = abstract_state(state, shardings)
  arrays, report = pretrained.pretrained_variables(
      model_cfg, {"params": abstract.params, "batch_stats": abstract.batch_stats})
  logging.info("Pretrained backbone weights: %s", report.summary())

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
  train_source, train_pipeline = exp.source("train")
  iters_per_epoch = len(train_source) // exp.train_batch
  if iters_per_epoch == 0:
    raise ValueError(f"the training set has {len(train_source)} videos, fewer than one global "
                     f"batch ({exp.train_batch}); lower data.videos_per_device")
  total_iters = config.total_epochs * iters_per_epoch
  schedule, tx = _schedule_and_tx(config, iters_per_epoch, total_iters, exp.train_batch)
  state, shardings = exp.init_state(tx, exp.sample_input(train_source, train_pipeline))

  ev = config.evaluation
  ckpt = Checkpointer(workdir, max_to_keep=config.checkpoint_config.max_to_keep,
                      best_metric=ev.save_best or None,
                      best_mode="min" if ev.get("rule") == "less" else "max")
  data_state = None
  start = ckpt.latest_step()
  if start is not None:
    state, data_state = ckpt.restore(start, abstract_state(state, shardings))
    logging.info("Resumed from %s at step %d", workdir, start)
  elif config.load_from:
    params, batch_stats = load_params(config.load_from, abstract_state(state, shardings))
    state = state.replace(params=params, batch_stats=batch_stats)
    logging.info("Loaded weights from %s", config.load_from)
  elif pretrained.wants_pretrained(config.model):
    state = load_pretrained(state, shardings, config.model)

  train_iter = data_loader.make_train_iterator(
      train_source, train_pipeline, seed=config.seed, **exp.iterator_kwargs(exp.train_batch))
  if data_state:
    train_iter.set_state(data_state)

  bs = mesh_lib.batch_sharding(exp.mesh)
  blending = build_blending((config.model.get("train_cfg") or {}).get("blending"),
                            config.data.videos_per_device)
  train_step = jax.jit(step_lib.make_train_step(exp.model, tx, schedule, exp.norm_cfg, blending),
                       in_shardings=(shardings, bs), out_shardings=(shardings, mesh_lib.replicated(exp.mesh)),
                       donate_argnums=(0,))
  eval_step = exp.make_eval_step(shardings)
  writer = MetricWriter(workdir)
  if jax.process_index() == 0:
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, "config.json"), "w") as f:
      f.write(config.to_json_best_effort(indent=2))

  step = int(state.step)
  eval_every = ev.interval * iters_per_epoch
  ckpt_every = config.checkpoint_config.interval * iters_per_epoch
  log_every = config.log_config.interval
  preempt = _Preemption()
  last_results: dict[str, Any] = {}
  pending = None  # metrics of the step in flight: at most one step is queued ahead
  acc = {"data_time": 0.0, "n": 0}
  bar = tqdm(total=total_iters, initial=step, desc="train", dynamic_ncols=True,
             disable=jax.process_index() != 0)
  t_last = time.perf_counter()
  with exp.mesh:
    while step < total_iters:
      t0 = time.perf_counter()
      batch = mesh_lib.global_batch(exp.mesh, next(train_iter))
      data_time = time.perf_counter() - t0
      state, metrics = train_step(state, batch)
      if pending is not None:
        jax.block_until_ready(pending)
      pending = metrics
      step += 1
      now = time.perf_counter()
      step_time, t_last = now - t_last, now
      acc["data_time"] += data_time
      acc["n"] += 1
      bar.update(1)
      if step % log_every == 0 or step == total_iters:
        m = jax.device_get(metrics)
        host = {f"train/{k}": float(v) for k, v in m.items()}
        host.update({"train/step_time": step_time, "train/data_time": acc["data_time"] / acc["n"],
                     "train/epoch": step / iters_per_epoch})
        acc = {"data_time": 0.0, "n": 0}
        bar.set_postfix(loss=f"{host['train/loss']:.3f}", lr=f"{host['train/lr']:.2e}",
                        step=f"{step_time:.2f}s", data=f"{host['train/data_time']:.2f}s")
        writer.write(step, host)
        if not np.isfinite(host["train/loss"]):
          raise FloatingPointError(f"loss is {host['train/loss']} at step {step}; lower the lr "
                                   "or check the data")
      done = step == total_iters
      if step % eval_every == 0 or done:
        results, _ = exp.evaluate(state, eval_step, "val")
        last_results = results
        writer.write(step, {f"val/{k}": v for k, v in results.items()})
        bar.write(f"step {step} (epoch {step / iters_per_epoch:.1f}): " +
                  ", ".join(f"{k}={v:.4f}" for k, v in results.items()))
        if ev.save_best:
          ckpt.save_best(step, state, results, train_iter.get_state())
      if step % ckpt_every == 0 or done or preempt.requested:
        ckpt.save(step, state, train_iter.get_state(), force=True)
      if preempt.requested:
        bar.write(f"Interrupted: checkpoint saved at step {step}; run the same command to resume.")
        break
  bar.close()
  ckpt.wait()
  ckpt.close()
  writer.close()
  preempt.restore()
  return last_results


def _restore_for_inference(exp: Experiment, split: str, checkpoint: str | None):
  source, pipeline = exp.source(split)
  _, tx = _schedule_and_tx(exp.config, 1, 1, exp.train_batch)
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


def evaluate_only(config, workdir: str, split: str = "val", checkpoint: str | None = None):
  """One evaluation pass (``--mode=eval``; ``--mode=test`` uses the multi-view test split)."""
  exp = Experiment(config, workdir)
  if (config.model.get("test_cfg") or {}).get("feature_extraction"):
    return extract_features(exp, split, checkpoint)
  state, shardings = _restore_for_inference(exp, split, checkpoint)
  with exp.mesh:
    results, scores = exp.evaluate(state, exp.make_eval_step(shardings), split)
  writer = MetricWriter(workdir)
  writer.write(int(state.step), {f"{split}/{k}": v for k, v in results.items()})
  writer.close()
  out = config.test.out
  if split == "test" and out and jax.process_index() == 0:
    dump_results(scores, out)
  return results


def extract_features(exp: Experiment, split: str, checkpoint: str | None):
  """``model.test_cfg.feature_extraction=True``: writes each video's pooled features (C,) in
  dataset order to ``test.out``, as MMAction2's clip_feature_extraction tool; no metrics."""
  out = exp.config.test.out
  if not out:
    raise ValueError("model.test_cfg.feature_extraction=True writes features, not metrics: "
                     "pass --config.test.out=FILE.pkl (or .json)")
  state, shardings = _restore_for_inference(exp, split, checkpoint)
  source, pipeline = exp.source(split)
  batch = exp.train_batch if split == "val" else exp.test_batch
  with exp.mesh:
    feats, _ = exp.predict(state, exp.make_eval_step(shardings), source, pipeline, batch,
                           desc=f"{split} features")
  if jax.process_index() == 0:
    dump_results(feats, out)
  logging.info("Wrote %d feature vectors of size %d to %s", len(feats), feats.shape[-1], out)
  return {"num_features": len(feats), "feature_dim": int(feats.shape[-1])}


def dump_results(scores: np.ndarray, path: str):
  """Per-sample score arrays in dataset order, as MMAction2's ``--out`` (pkl or json)."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  rows = [np.asarray(s, np.float32) for s in scores]
  if path.endswith(".pkl") or path.endswith(".pickle"):
    with open(path, "wb") as f:
      pickle.dump(rows, f)
  elif path.endswith(".json"):
    with open(path, "w") as f:
      json.dump([r.tolist() for r in rows], f)
  else:
    raise ValueError(f"test.out={path!r}: use a .pkl or .json file name")
