"""Classification losses as MMAction2's heads compute them (mean over the batch)."""

from __future__ import annotations

from typing import Any, Mapping

import jax.numpy as jnp
import optax


def cross_entropy(scores, labels, *, num_classes: int, label_smooth_eps: float = 0.0,
                  class_weight=None, loss_weight: float = 1.0, weights=None):
  """Softmax cross-entropy with integer labels or soft (N, K) targets (mixup, smoothing).

  ``weights`` (N,) masks samples (0 for padding); the mean is over weighted samples.
  """
  scores = scores.astype(jnp.float32)
  if labels.ndim == 1:
    targets = jnp.eye(num_classes, dtype=jnp.float32)[labels]
  else:
    targets = labels.astype(jnp.float32)
  if label_smooth_eps:
    targets = targets * (1 - label_smooth_eps) + label_smooth_eps / num_classes
  per_sample = optax.softmax_cross_entropy(scores, targets)
  if class_weight is not None:
    per_sample = per_sample * (targets @ jnp.asarray(class_weight, jnp.float32))
  return loss_weight * weighted_mean(per_sample, weights)


def bce_with_logits(scores, labels, *, num_classes: int, label_smooth_eps: float = 0.0,
                    class_weight=None, loss_weight: float = 1.0, weights=None):
  """Multi-label binary cross-entropy over (N, K) 0/1 targets, averaged over N*K."""
  targets = labels.astype(jnp.float32)
  if label_smooth_eps:
    targets = targets * (1 - label_smooth_eps) + label_smooth_eps / num_classes
  per = optax.sigmoid_binary_cross_entropy(scores.astype(jnp.float32), targets)
  if class_weight is not None:
    per = per * jnp.asarray(class_weight, jnp.float32)
  return loss_weight * weighted_mean(per.mean(-1), weights)


def weighted_mean(x, weights=None):
  if weights is None:
    return x.mean()
  weights = weights.astype(x.dtype)
  return (x * weights).sum() / jnp.maximum(weights.sum(), 1.0)


LOSSES = {"CrossEntropyLoss": cross_entropy, "BCELossWithLogits": bce_with_logits}


def head_loss(head_cfg: Mapping[str, Any], scores, labels, weights=None):
  """The classification loss a head config asks for (``loss_cls``, ``label_smooth_eps``).

  As MMAction2's BaseHead, ``label_smooth_eps`` smooths the targets of ``multi_class`` heads
  only; single-label heads ignore it.
  """
  loss_cfg = dict(head_cfg.get("loss_cls") or {"type": "CrossEntropyLoss"})
  typ = loss_cfg.pop("type")
  if typ not in LOSSES:
    raise KeyError(f"Unknown loss_cls type {typ!r}; supported: {sorted(LOSSES)}")
  smooth = head_cfg.get("label_smooth_eps", 0.0) if head_cfg.get("multi_class") else 0.0
  return LOSSES[typ](scores, labels, num_classes=head_cfg["num_classes"],
                     label_smooth_eps=smooth, weights=weights, **loss_cfg)


def aux_head_loss(aux_cfg: Mapping[str, Any], scores, labels, weights=None):
  """``loss_weight * loss_cls(scores, labels)`` of an auxiliary head (TPN's ``aux_head_cfg``).

  ``scores`` may hold several rows per label (views); labels and weights repeat to match.
  """
  loss_cfg = dict(aux_cfg.get("loss_cls") or {"type": "CrossEntropyLoss"})
  typ = loss_cfg.pop("type")
  if typ not in LOSSES:
    raise KeyError(f"Unknown aux loss_cls type {typ!r}; supported: {sorted(LOSSES)}")
  rows = scores.shape[0] // labels.shape[0]
  if rows > 1:
    labels = jnp.repeat(labels, rows, axis=0)
    weights = None if weights is None else jnp.repeat(weights, rows, axis=0)
  return aux_cfg.get("loss_weight", 0.5) * LOSSES[typ](
      scores, labels, num_classes=aux_cfg["out_channels"], weights=weights, **loss_cfg)
