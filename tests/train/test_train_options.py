"""MMAction2's remaining runtime options in the trainer: PreciseBN at its epochs, the ``workflow``
val phase (val/loss in eval mode) and what a NaN/inf loss does (``nonfinite``). In-process, on
the tiny synthetic videos with the narrow TSN of test_loop_options."""

from __future__ import annotations

import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
import pytest

from tests.train.test_loop_options import data_dir, records, tiny_tsn  # noqa: F401
from vjax.data import loader as data_loader
from vjax.train import loop
from vjax.train import precise_bn
from vjax.train.checkpoint import load_params
from vjax.train.state import TrainState, abstract_state
from vjax.train.step import NONFINITE, make_train_step


# ------------------------------------------------------------------ PreciseBN and val workflow
@pytest.fixture(scope="module")
def prebn_run(data_dir, tmp_path_factory):  # noqa: F811
  """2 epochs of 3 steps; PreciseBN every 2 epochs from 2 batches; a val phase every epoch.
  Returns the config, workdir, one Experiment and its shardings, and the states of the
  checkpoints at steps 3 and 6."""
  workdir = str(tmp_path_factory.mktemp("prebn"))
  c = tiny_tsn(data_dir, total_epochs=2, precise_bn=dict(num_iters=2, interval=2),
               workflow=(("train", 1), ("val", 1)))
  loop.train_and_evaluate(c, workdir)
  exp = loop.Experiment(c, workdir)
  state, shardings = loop._restore_for_inference(exp, "val", None)
  states = {}
  for step in (3, 6):
    params, stats = load_params(os.path.join(workdir, "checkpoints", str(step)),
                                abstract_state(state, shardings))
    states[step] = state.replace(params=params, batch_stats=stats)
  return c, workdir, exp, shardings, states


def test_precise_bn_runs_at_its_epochs(prebn_run):
  c, _, exp, shardings, states = prebn_run
  hook = precise_bn.PreciseBN(c.precise_bn, exp, *exp.source("train"), exp.train_batch,
                              shardings, iters_per_epoch=3)
  for step, epoch, ran in ((3, 1, False), (6, 2, True)):
    with exp.mesh:  # the statistics PreciseBN computes from this checkpoint's fixed params
      precise = jax.device_get(precise_bn.recompute(states[step], hook.accumulator,
                                                    hook.batches(epoch)).batch_stats)
    saved = jax.device_get(states[step].batch_stats)
    same = jax.tree.leaves(jax.tree.map(lambda a, b: np.allclose(a, b, rtol=1e-6, atol=1e-7),
                                        saved, precise))
    # After epoch 2 the saved statistics are PreciseBN's; after epoch 1 (interval 2) they are
    # still training's running averages, which no layer matches.
    assert all(same) if ran else not any(same), (step, same)


def test_val_workflow_logs_the_eval_mode_loss_of_the_val_set(prebn_run):
  _, workdir, exp, shardings, states = prebn_run
  logged = {r["step"]: r for r in records(workdir) if "val/loss" in r}
  assert sorted(logged) == [3, 6]  # after every training epoch
  assert set(logged[3]) == {"step", "time", "val/loss", "val/loss_cls"}
  source, pipeline = exp.source("val")
  for step in (3, 6):
    with exp.mesh:
      preds, targets = exp.predict(states[step], exp.eval_steps(shardings, "predict"), source,
                                   pipeline, 8, desc="scores")
    scores = preds["scores"].astype(np.float64)  # test_cfg.average_clips=None: raw scores
    labels = targets["label"]
    top = scores.max(1, keepdims=True)
    log_sum = np.log(np.exp(scores - top).sum(1)) + top[:, 0]
    cross_entropy = np.mean(log_sum - scores[np.arange(len(labels)), labels])
    np.testing.assert_allclose(logged[step]["val/loss"], cross_entropy, rtol=2e-5)
    assert logged[step]["val/loss_cls"] == logged[step]["val/loss"]


def test_workflow_errors_name_the_fix(data_dir, tmp_path):  # noqa: F811
  with pytest.raises(ValueError, match=r"\[\('train', n\)\]"):
    loop.train_and_evaluate(tiny_tsn(data_dir, workflow=(("val", 1), ("train", 1))),
                            str(tmp_path / "a"))
  with pytest.raises(ValueError, match="lower precise_bn.num_iters"):
    loop.train_and_evaluate(tiny_tsn(data_dir, precise_bn=dict(num_iters=4, interval=1)),
                            str(tmp_path / "b"))
  with pytest.raises(ValueError, match="'raise'.*'skip'"):
    loop.train_and_evaluate(tiny_tsn(data_dir, nonfinite="ignore"), str(tmp_path / "c"))


# ----------------------------------------------------------------------------- NaN/inf losses
class PoisonedTask:
  """The run's task, with a batch's ``poison`` entries added to its loss (NaN poisons it)."""

  def __init__(self, task):
    self.task = task

  def __getattr__(self, name):
    return getattr(self.task, name)

  def loss(self, model, variables, batch, key):
    batch = dict(batch)
    poison = batch.pop("poison")
    total, log_vars, stats = self.task.loss(model, variables, batch, key)
    return total + poison.sum(), log_vars, stats


class PoisonedIterator:
  """A training iterator whose batch of 1-based step ``bad`` carries NaN ``poison``."""

  def __init__(self, it, bad: int):
    self.it, self.bad = it, bad

  def __getattr__(self, name):
    return getattr(self.it, name)

  def __next__(self):
    step = self.it.step + 1
    batch = next(self.it)
    batch["poison"] = np.full(len(batch["label"]), np.nan if step == self.bad else 0.0,
                              np.float32)
    return batch


@pytest.fixture
def poison_step_2(monkeypatch):
  build_task, make_iterator = loop.tasks.build_task, data_loader.make_train_iterator
  monkeypatch.setattr(loop.tasks, "build_task", lambda c: PoisonedTask(build_task(c)))
  monkeypatch.setattr(data_loader, "make_train_iterator",
                      lambda *a, **k: PoisonedIterator(make_iterator(*a, **k), bad=2))


def test_nan_loss_stops_naming_its_step_between_log_intervals(data_dir, tmp_path,  # noqa: F811
                                                              poison_step_2):
  c = tiny_tsn(data_dir, total_epochs=1, **{"log_config.interval": 10})
  with pytest.raises(FloatingPointError, match="at step 2: loss nan.*nonfinite='skip'"):
    loop.train_and_evaluate(c, str(tmp_path))


def checkpoint(workdir, step):
  with ocp.StandardCheckpointer() as ckptr:
    return ckptr.restore(os.path.join(workdir, "checkpoints", str(step), "state"))


def test_skip_leaves_a_nan_step_out(data_dir, tmp_path, poison_step_2):  # noqa: F811
  workdir = str(tmp_path)
  c = tiny_tsn(data_dir, total_epochs=1, nonfinite="skip",
               **{"checkpoint_config.by_epoch": False, "checkpoint_config.max_to_keep": 5})
  loop.train_and_evaluate(c, workdir)
  logs = {r["step"]: r for r in records(workdir) if "train/loss" in r}
  assert [logs[s]["train/skipped_steps"] for s in (1, 2, 3)] == [0, 1, 1]
  assert np.isnan(logs[2]["train/loss"]) and np.isfinite(logs[3]["train/loss"])
  before, skipped, after = (checkpoint(workdir, s) for s in (1, 2, 3))
  assert (int(before["step"]), int(skipped["step"])) == (1, 2)
  # Step 2's update never happened: params, optimizer state and BN statistics are step 1's.
  for key in ("params", "opt_state", "batch_stats"):
    jax.tree.map(np.testing.assert_array_equal, skipped[key], before[key])
  changed = jax.tree.leaves(jax.tree.map(lambda a, b: not np.array_equal(a, b),
                                         after["params"], skipped["params"]))
  assert all(changed)  # step 3 trained again


class Sqrt(nn.Module):
  @nn.compact
  def __call__(self, x):
    return nn.Dense(1, name="fc")(x)


class SqrtTask:
  """loss = sqrt(|fc(x)| * 0): finite (0) with infinite gradients."""

  def loss(self, model, variables, batch, key):
    out = model.apply({"params": variables["params"]}, batch["x"])
    return jnp.sqrt(jnp.abs(out).sum() * 0.0), {}, variables["batch_stats"]

  def frozen_mask(self, model, params):
    return None


def test_skip_also_catches_non_finite_gradients_of_a_finite_loss():
  model, tx = Sqrt(), optax.sgd(0.1, momentum=0.9)
  params = model.init(jax.random.key(0), jnp.ones((1, 3)))["params"]
  state = TrainState(step=jnp.zeros((), jnp.int32), params=params, batch_stats={},
                     opt_state=tx.init(params), rng=jax.random.key_data(jax.random.key(0)))
  batch = {"x": jnp.ones((2, 3))}
  for skip in (False, True):
    new, metrics = jax.jit(make_train_step(SqrtTask(), model, tx, lambda s: 0.1,
                                           skip_nonfinite=skip))(state, batch)
    assert float(metrics["loss"]) == 0.0 and bool(metrics[NONFINITE])
    assert int(new.step) == 1
    kept = jax.tree.leaves(jax.tree.map(np.array_equal, new.params, state.params))
    assert all(kept) if skip else not any(kept)
