"""Classification losses as MMAction2 computes them (mean over the batch), by ``loss_cls`` type.

The heads' loss functions (``heads.base.cls_loss``, ``necks.tpn.aux_loss``) pick one of these
with ``loss_fn``."""

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


HVU_CATEGORIES = ("action", "attribute", "concept", "event", "object", "scene")
HVU_CATEGORY_NUMS = (739, 117, 291, 69, 1678, 248)


def _bce_logits_elementwise(x, z):
  """Per-element binary cross-entropy with logits, in torch's form: max(x, 0) - x z +
  log(1 + exp(-|x|))."""
  return jnp.maximum(x, 0.0) - x * z + jnp.log1p(jnp.exp(-jnp.abs(x)))


def _safe_ratio(num, den):
  """``num / den``, 0 where ``den`` is 0."""
  ok = den > 0
  return jnp.where(ok, num / jnp.where(ok, den, 1.0), 0.0)


def hvu_loss_terms(scores, labels, *, mask=None, category_mask=None,
                   categories=HVU_CATEGORIES, category_nums=HVU_CATEGORY_NUMS,
                   category_loss_weights=None, loss_type: str = "all",
                   with_mask: bool = False, reduction: str = "mean", loss_weight: float = 1.0,
                   num_classes: int | None = None, label_smooth_eps: float = 0.0,
                   weights=None) -> dict:
  """MMAction2's ``HVULoss`` as a dict: ``loss_cls`` (scaled by ``loss_weight``) and, for
  ``loss_type='individual'``, each category's ``{name}_LOSS`` and ``{name}_LOSS_weight``
  (for logging only, unscaled as in MMAction2).

  ``scores`` and ``labels`` are (N, K) with the tags of ``categories`` laid out one category
  after another; ``mask`` (N, K) and ``category_mask`` (N, C) are what ``LoadHVULabel`` emits
  (1 where a tag's / a category's annotation exists). ``with_mask`` leaves unannotated
  categories out ('all': per-sample mean over annotated tags; 'individual': per-category mean
  over the samples annotated with it, a category no sample of the batch has dropping out of
  the weighted sum). ``weights`` (N,) additionally leaves padded samples out (0). Where
  MMAction2 divides by zero (a sample without any annotated tag under 'all' + with_mask gives
  NaN), that sample is left out instead. ``num_classes``/``label_smooth_eps`` smooth the
  targets as MMAction2's multi_class heads do before calling the loss.
  ``category_loss_weights`` None means 1 per category (MMAction2: ``(1,) * 6``, which fits
  only its default six categories).
  """
  categories, category_nums = tuple(categories), tuple(int(n) for n in category_nums)
  if category_loss_weights is None:
    category_loss_weights = (1.0,) * len(category_nums)
  category_loss_weights = tuple(float(w) for w in category_loss_weights)
  if len(categories) != len(category_nums) or len(category_nums) != len(
      category_loss_weights):
    raise ValueError(f"HVULoss: categories ({len(categories)}), category_nums "
                     f"({len(category_nums)}) and category_loss_weights "
                     f"({len(category_loss_weights)}) must have the same length")
  if any(w < 0 for w in category_loss_weights):
    raise ValueError(f"HVULoss: category_loss_weights must be >= 0, got {category_loss_weights}")
  if loss_type not in ("all", "individual"):
    raise ValueError(f"HVULoss: loss_type should be 'all' or 'individual', got {loss_type!r}")
  if reduction not in ("mean", "sum"):
    raise ValueError(f"HVULoss: reduction should be 'mean' or 'sum', got {reduction!r}")
  x = jnp.asarray(scores).astype(jnp.float32)
  if x.ndim != 2:
    raise ValueError(f"HVULoss: scores must be (N, K), got shape {x.shape}")
  z = jnp.asarray(labels).astype(jnp.float32)
  if z.shape != x.shape:
    raise ValueError(f"HVULoss: labels {z.shape} must match scores {x.shape} (many-hot)")
  if label_smooth_eps:
    z = z * (1 - label_smooth_eps) + label_smooth_eps / (num_classes or x.shape[-1])
  w = (jnp.ones(x.shape[:1], jnp.float32) if weights is None else
       jnp.asarray(weights).astype(jnp.float32).reshape(-1))
  per = _bce_logits_elementwise(x, z)

  if loss_type == "all":
    if with_mask:
      if mask is None:
        raise ValueError("HVULoss(loss_type='all', with_mask=True) needs the batch's 'mask' "
                         "(LoadHVULabel's per-tag annotation mask; Collect it)")
      m = jnp.asarray(mask).astype(jnp.float32)
      if m.shape != x.shape:
        raise ValueError(f"HVULoss: mask {m.shape} must match scores {x.shape}")
      count = m.sum(1)
      per_sample = (m * per).sum(1)
      if reduction == "mean":
        per_sample = _safe_ratio(per_sample, count)
      w = w * (count > 0)
    else:
      per_sample = per.mean(1) if reduction == "mean" else per.sum(1)
    return {"loss_cls": loss_weight * _safe_ratio((per_sample * w).sum(), w.sum())}

  if sum(category_nums) != x.shape[-1]:
    raise ValueError(f"HVULoss(loss_type='individual'): category_nums {category_nums} sum to "
                     f"{sum(category_nums)} tags but scores have {x.shape[-1]}")
  if with_mask:
    if category_mask is None:
      raise ValueError("HVULoss(loss_type='individual', with_mask=True) needs the batch's "
                       "'category_mask' (from LoadHVULabel; Collect it)")
    cm_all = jnp.asarray(category_mask).astype(jnp.float32)
    if cm_all.shape != (x.shape[0], len(categories)):
      raise ValueError(f"HVULoss: category_mask {cm_all.shape} must be "
                       f"(N, {len(categories)})")
  out, losses, cat_weights = {}, [], []
  start = 0
  for idx, (name, num) in enumerate(zip(categories, category_nums)):
    part = per[:, start:start + num]
    start += num
    per_sample = part.mean(1) if reduction == "mean" else part.sum(1)
    if with_mask:
      cm = cm_all[:, idx] * w
      total = cm.sum()
      present = total >= 0.5
      loss = jnp.where(present, _safe_ratio((per_sample * cm).sum(), total), 0.0)
      weight = jnp.where(present, category_loss_weights[idx], 0.0)
    else:
      loss = _safe_ratio((per_sample * w).sum(), w.sum())
      weight = jnp.asarray(category_loss_weights[idx], jnp.float32)
    losses.append(loss)
    cat_weights.append(weight)
  losses, cat_weights = jnp.stack(losses), jnp.stack(cat_weights)
  cat_weights = _safe_ratio(cat_weights, cat_weights.sum())
  for name, loss, weight in zip(categories, losses, cat_weights):
    out[f"{name}_LOSS"] = loss
    out[f"{name}_LOSS_weight"] = weight
  out["loss_cls"] = loss_weight * (losses * cat_weights).sum()
  return out


def hvu_loss(scores, labels, *, mask=None, category_mask=None, categories=HVU_CATEGORIES,
             category_nums=HVU_CATEGORY_NUMS, category_loss_weights=None,
             loss_type: str = "all", with_mask: bool = False, reduction: str = "mean",
             loss_weight: float = 1.0, num_classes: int | None = None,
             label_smooth_eps: float = 0.0, weights=None):
  """MMAction2's ``HVULoss`` (its ``loss_cls``): binary cross-entropy over HVU's tag
  categories; see ``hvu_loss_terms`` for the arguments and the per-category terms."""
  return hvu_loss_terms(
      scores, labels, mask=mask, category_mask=category_mask, categories=categories,
      category_nums=category_nums, category_loss_weights=category_loss_weights,
      loss_type=loss_type, with_mask=with_mask, reduction=reduction, loss_weight=loss_weight,
      num_classes=num_classes, label_smooth_eps=label_smooth_eps, weights=weights)["loss_cls"]


def cb_focal_loss(scores, labels, *, num_classes: int, label_smooth_eps: float = 0.0,
                  samples_per_cls=(), beta: float = 0.9999, gamma: float = 2.0,
                  loss_weight: float = 1.0, weights=None):
  """MMAction2's ``CBFocalLoss`` (BABEL's class-balanced focal loss): per-element sigmoid BCE
  of one-hot targets, modulated by ``exp(-gamma * (y x + log(1 + exp(-x))))``, weighted by
  the true class's effective-number weight ``(1 - beta) / (1 - beta ** n_c)`` (normalised to
  sum to the class count), summed and divided by the number of samples."""
  del label_smooth_eps  # not used by this loss
  counts = jnp.asarray(samples_per_cls, jnp.float32)
  class_weights = (1.0 - beta) / (1.0 - jnp.power(beta, counts))
  class_weights = class_weights / class_weights.sum() * len(samples_per_cls)
  x = scores.astype(jnp.float32)
  y = jnp.eye(num_classes, dtype=jnp.float32)[labels]
  modulator = jnp.exp(-gamma * y * x - gamma * jnp.logaddexp(0.0, -x)) if gamma else 1.0
  per = (modulator * _bce_logits_elementwise(x, y)).sum(-1) * (y @ class_weights)
  w = jnp.ones(per.shape, jnp.float32) if weights is None else weights.astype(jnp.float32)
  return loss_weight * (per * w).sum() / jnp.maximum(w.sum(), 1.0)


LOSSES = {"CrossEntropyLoss": cross_entropy, "BCELossWithLogits": bce_with_logits,
          "HVULoss": hvu_loss, "CBFocalLoss": cb_focal_loss}


def loss_fn(loss_cfg: Mapping[str, Any] | None, what: str = "loss_cls"):
  """``(function, keyword arguments)`` of a ``loss_cls`` config (CrossEntropyLoss if None)."""
  kwargs = dict(loss_cfg or {"type": "CrossEntropyLoss"})
  typ = kwargs.pop("type")
  if typ not in LOSSES:
    raise KeyError(f"Unknown {what} type {typ!r}; supported: {sorted(LOSSES)}")
  return LOSSES[typ], kwargs
