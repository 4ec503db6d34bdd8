"""Jitted train and eval steps. Normalisation happens here, on device: uint8 crosses the wire."""

from __future__ import annotations

from typing import Any, Mapping

import jax
import jax.numpy as jnp
import optax

from vjax.train.blending import Blending
from vjax.train.state import TrainState

_BLEND_STREAM = 1  # Derives the blending key from the step's key, apart from dropout's.


def normalize(imgs, norm_cfg: Mapping[str, Any] | None):
  """uint8 channels-last -> float32, ``(x - mean) / std`` per channel (MMAction2 Normalize)."""
  x = imgs.astype(jnp.float32)
  if not norm_cfg:
    return x
  if norm_cfg.get("to_bgr"):
    x = x[..., ::-1]
  mean = jnp.asarray(norm_cfg["mean"], jnp.float32)
  std = jnp.asarray(norm_cfg["std"], jnp.float32)
  return (x - mean) / std


def top1_accuracy(scores, labels, weights):
  """Batch top-1 for logging; per-view scores are averaged first."""
  pred = scores.mean(axis=1).argmax(-1)
  hard = labels if labels.ndim == 1 else labels.argmax(-1)
  w = weights.astype(jnp.float32)
  return ((pred == hard) * w).sum() / jnp.maximum(w.sum(), 1.0)


def frozen_mask(model, params):
  """The model's frozen-parameter mask (``Recognizer.frozen_mask``), or None if nothing is."""
  mask_fn = getattr(model, "frozen_mask", None)
  mask = mask_fn(params) if mask_fn is not None else None
  return mask if mask is not None and any(jax.tree.leaves(mask)) else None


def zero_frozen(tree, frozen):
  """Zeros the frozen leaves: as PyTorch's requires_grad=False, they get no gradient (so
  clipping does not count them) and no update (so weight decay does not move them)."""
  if frozen is None:
    return tree
  return jax.tree.map(lambda x, f: jnp.zeros_like(x) if f else x, tree, frozen)


def make_train_step(model, tx: optax.GradientTransformation, schedule, norm_cfg,
                    blending: Blending | None = None):
  """(state, batch) -> (state, metrics). ``batch``: imgs uint8, label, optional mask.

  ``blending`` (``vjax.train.blending.build_blending``) mixes the normalised images and turns
  labels into soft targets before the forward pass, as MMAction2's recognizers do.
  """

  def train_step(state: TrainState, batch):
    imgs = normalize(batch["imgs"], norm_cfg)
    labels = batch["label"]
    weights = batch.get("mask", jnp.ones(labels.shape[:1], bool))
    dropout_key = jax.random.fold_in(jax.random.wrap_key_data(state.rng), state.step)
    if blending is not None:
      imgs, labels = blending(jax.random.fold_in(dropout_key, _BLEND_STREAM), imgs, labels)

    def loss_fn(params):
      scores, new_vars = model.apply(
          {"params": params, "batch_stats": state.batch_stats}, imgs, train=True,
          rngs={"dropout": dropout_key}, mutable=["batch_stats", "intermediates"])
      sown = new_vars.get("intermediates")  # e.g. TPN's auxiliary-head scores
      loss = (model.loss(scores, labels, weights, intermediates=sown) if sown else
              model.loss(scores, labels, weights))
      return loss, (scores, new_vars["batch_stats"])

    (loss, (scores, batch_stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    frozen = frozen_mask(model, state.params)
    grads = zero_frozen(grads, frozen)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    updates = zero_frozen(updates, frozen)
    params = optax.apply_updates(state.params, updates)
    metrics = {
        "loss": loss,
        "top1_acc": top1_accuracy(scores, labels, weights),
        "grad_norm": optax.global_norm(grads),
        "lr": schedule(state.step),
    }
    new_state = state.replace(step=state.step + 1, params=params, batch_stats=batch_stats,
                              opt_state=opt_state)
    return new_state, metrics

  return train_step


def make_eval_step(model, norm_cfg):
  """(state, imgs) -> (N, K) test-time scores (views aggregated per ``test_cfg``)."""

  def eval_step(state: TrainState, imgs):
    scores = model.apply({"params": state.params, "batch_stats": state.batch_stats},
                         normalize(imgs, norm_cfg), train=False)
    return model.test_scores(scores)

  return eval_step
