"""Jitted train and eval steps, generic over a task (``vjax.tasks``): the task normalises,
runs the model and computes the loss; the step differentiates, clips, updates and logs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from vjax.train import optim
from vjax.train.state import TrainState


def zero_frozen(tree, frozen):
  """Zeros the frozen leaves: as PyTorch's requires_grad=False, they get no gradient (so
  clipping and the logged norm do not count them)."""
  if frozen is None:
    return tree
  return jax.tree.map(lambda x, f: jnp.zeros_like(x) if f else x, tree, frozen)


def keep_frozen(new, old, frozen):
  """``new`` with the frozen leaves of ``old``, bit for bit (whatever ``tx`` returned for them:
  an optimizer built with ``make_optimizer(frozen_mask=...)`` keeps no state for them and
  returns zeros, a plain optax one may still decay them)."""
  if frozen is None:
    return new
  return jax.tree.map(lambda n, o, f: o if f else n, new, old, frozen)


# The metrics entry that flags a step whose loss or gradients were NaN/inf (vjax.train.nonfinite).
NONFINITE = "nonfinite"


def all_finite(tree) -> jax.Array:
  """Whether every element of every leaf is finite: one fused reduction per leaf."""
  leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]
  return jnp.all(jnp.stack(leaves)) if leaves else jnp.asarray(True)


def step_key(state: TrainState):
  """This step's PRNG key: the run's key folded with the step, so resume replays it."""
  return jax.random.fold_in(jax.random.wrap_key_data(state.rng), state.step)


def make_train_step(task, model, tx: optax.GradientTransformation, schedule,
                    skip_nonfinite: bool = False):
  """(state, batch) -> (state, metrics): every loss term and batch metric the task logs,
  plus ``loss``, ``grad_norm`` and ``lr`` (``schedule(state.step)``, the lr this iteration's
  update uses). ``grad_norm`` is the norm of the trainable gradient; with
  ``cumulative_iters``, that of the gradient accumulated in the current group so far (at a
  group's last iteration, the norm clipping sees, as mmcv logs). ``metrics[NONFINITE]`` is
  True when the loss or a gradient is NaN/inf; ``skip_nonfinite`` then keeps params,
  optimizer state and BN statistics as they were (the step count still advances)."""

  def train_step(state: TrainState, batch):
    key = step_key(state)

    def loss_fn(params):
      variables = {"params": params, "batch_stats": state.batch_stats}
      loss, log_vars, batch_stats = task.loss(model, variables, batch, key)
      return loss, (log_vars, batch_stats)

    (loss, (log_vars, batch_stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state.params)
    frozen = task.frozen_mask(model, state.params)
    grads = zero_frozen(grads, frozen)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = keep_frozen(optax.apply_updates(state.params, updates), state.params, frozen)
    grad_norm = optim.accumulated_grad_norm(opt_state)
    if grad_norm is None:
      grad_norm = optax.global_norm(grads)
    finite = jnp.isfinite(loss) & all_finite(grads)
    metrics = {"loss": loss, **log_vars, "grad_norm": grad_norm, "lr": schedule(state.step),
               NONFINITE: ~finite}
    new_state = state.replace(step=state.step + 1, params=params, batch_stats=batch_stats,
                              opt_state=opt_state)
    if skip_nonfinite:
      new_state = jax.tree.map(lambda n, o: jnp.where(finite, n, o), new_state,
                               state.replace(step=state.step + 1))
    return new_state, metrics

  return train_step


def make_predict_step(task, model, predictor: str = "predict"):
  """(state, batch) -> (predictions, targets): the task's named predict function, and the
  batch's non-input fields (labels, masks, ``valid``, ``index``) for the host evaluators."""
  predict = task.predictors()[predictor]

  def predict_step(state: TrainState, batch):
    variables = {"params": state.params, "batch_stats": state.batch_stats}
    targets = {k: v for k, v in batch.items() if k not in task.input_keys}
    return predict(model, variables, batch), targets

  return predict_step
