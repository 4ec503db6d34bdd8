"""Jitted train and eval steps, generic over a task (``vjax.tasks``): the task normalises,
runs the model and computes the loss; the step differentiates, clips, updates and logs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from vjax.train import optim
from vjax.train import precision
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


def step_key(state: TrainState):
  """This step's PRNG key: the run's key folded with the step, so resume replays it."""
  return jax.random.fold_in(jax.random.wrap_key_data(state.rng), state.step)


# The metrics entry that flags a step whose loss or gradients were NaN/inf (vjax.train.nonfinite).
NONFINITE = "nonfinite"


def make_train_step(task, model, tx: optax.GradientTransformation, schedule,
                    skip_nonfinite: bool = False, loss_scaler=None):
  """(state, batch) -> (state, metrics): every loss term and batch metric the task logs,
  plus ``loss``, ``grad_norm`` and ``lr`` (``schedule(state.step)``, the lr this iteration's
  update uses). ``grad_norm`` is the norm of the trainable gradient; with
  ``cumulative_iters``, that of the gradient accumulated in the current group so far (at a
  group's last iteration, the norm clipping sees, as mmcv logs).

  ``metrics[NONFINITE]`` is True when the loss or a gradient is NaN/inf (with a loss scaler:
  when the loss is, since overflowing gradients are the scaler's to handle);
  ``skip_nonfinite`` then keeps params, optimizer state and BN statistics as they were (the
  step count still advances).

  ``loss_scaler`` (fp16, ``precision.LossScaler``; the state must carry its state): the loss
  is multiplied by ``state.loss_scale.scale`` before differentiation and the gradients
  divided by it; a step with non-finite gradients leaves parameters and optimizer state
  unchanged (``precision`` says what else); ``loss_scale`` (the scale this step used) and
  ``overflow`` join the metrics.
  """

  def train_step(state: TrainState, batch):
    key = step_key(state)
    scale = state.loss_scale.scale if loss_scaler is not None else None

    def loss_fn(params):
      variables = {"params": params, "batch_stats": state.batch_stats}
      loss, log_vars, batch_stats = task.loss(model, variables, batch, key)
      loss = loss.astype(jnp.float32)
      scaled = loss if scale is None else loss * scale
      return scaled, (loss, log_vars, batch_stats)

    (_, (loss, log_vars, batch_stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state.params)
    frozen = task.frozen_mask(model, state.params)
    if scale is not None:
      grads = precision.unscale(grads, scale)
    grads = zero_frozen(grads, frozen)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = keep_frozen(optax.apply_updates(state.params, updates), state.params, frozen)
    grad_norm = optim.accumulated_grad_norm(opt_state)
    if grad_norm is None:
      grad_norm = optax.global_norm(grads)
    metrics = {"loss": loss, **log_vars, "grad_norm": grad_norm, "lr": schedule(state.step)}
    loss_scale = state.loss_scale
    grads_finite = precision.all_finite(grads)
    if loss_scaler is not None:
      params = precision.keep_if(grads_finite, params, state.params)
      opt_state = precision.skip_update_state(grads_finite, opt_state, state.opt_state)
      batch_stats = precision.keep_if(precision.all_finite(batch_stats), batch_stats,
                                      state.batch_stats)
      loss_scale = loss_scaler.update(state.loss_scale, grads_finite)
      metrics.update(loss_scale=scale, overflow=(~grads_finite).astype(jnp.float32))
      finite = jnp.isfinite(loss)
    else:
      finite = jnp.isfinite(loss) & grads_finite
    metrics[NONFINITE] = ~finite
    new_state = state.replace(step=state.step + 1, params=params, batch_stats=batch_stats,
                              opt_state=opt_state, loss_scale=loss_scale)
    if skip_nonfinite:
      new_state = jax.tree.map(lambda n, o: jnp.where(finite, n, o), new_state,
                               state.replace(step=state.step + 1))
    return new_state, metrics

  return train_step


def compiler_options() -> dict:
  """XLA options the train step compiles with. On CPU: keep the optimisation barriers that
  ``jax.checkpoint`` (``with_cp``) places; XLA's CPU pipeline otherwise expands them before
  CSE, which merges the recomputation back into the forward pass, so nothing is saved."""
  return {"xla_disable_hlo_passes": "cse_barrier_expander"} if jax.default_backend() == "cpu" else {}


def make_predict_step(task, model, predictor: str = "predict"):
  """(state, batch) -> (predictions, targets): the task's named predict function, and the
  batch's non-input fields (labels, masks, ``valid``, ``index``) for the host evaluators."""
  predict = task.predictors()[predictor]

  def predict_step(state: TrainState, batch):
    variables = {"params": state.params, "batch_stats": state.batch_stats}
    targets = {k: v for k, v in batch.items() if k not in task.input_keys}
    return predict(model, variables, batch), targets

  return predict_step
