"""The localizers' losses as MMAction2 0.24.1 computes them (pure jnp, float32, jittable).

``weights`` (N,) weighs each video (0 on the padding rows of a last evaluation batch): every
sum and count MMAction2 takes over a batch's entries counts an entry with its video's weight,
so with all ones the values are MMAction2's and zero-weight videos change nothing. Where
MMAction2 divides by a count that can be zero it keeps its ``max(count, 1)``; where it has no
guard (a batch with nothing selected gives 0/0 = NaN there) these give 0 and say so below.

Random draws (BMN's and PEM's subsampling of medium- and low-IoU proposals) come from ``key``
or, for parity with MMAction2, from explicit ``uniforms`` (its ``torch.rand_like`` /
``torch.rand`` values, same shapes as the IoU targets).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

F32 = jnp.float32


def _entry_weights(weights, shape):
  """Per-video weights (N,) broadcast over an (N, ...) array; ones when None."""
  if weights is None:
    return jnp.ones(shape, F32)
  weights = jnp.asarray(weights).astype(F32)
  return jnp.broadcast_to(weights.reshape(weights.shape + (1,) * (len(shape) - 1)), shape)


def _ratio_or_zero(num, den):
  """``num / den``; 0 where ``den`` is 0 (MMAction2: NaN)."""
  ok = den > 0
  return jnp.where(ok, num / jnp.where(ok, den, 1.), 0.)


def _uniforms(key, uniforms, shape, what: str):
  if uniforms is not None:
    return tuple(jnp.asarray(u, F32) for u in uniforms)
  if key is None:
    raise ValueError(f"{what} samples proposals at random: pass `key` (or `uniforms`)")
  return tuple(jax.random.uniform(k, shape, F32) for k in jax.random.split(key))


def binary_logistic_regression_loss(reg_score, label, threshold=0.5, ratio_range=(1.05, 21),
                                    eps=1e-5, weights=None):
  """MMAction2's ``BinaryLogisticRegressionLoss`` over all entries of (N, ...) scores.

  Entries with ``label > threshold`` are positives; positives and negatives are weighted
  ``ratio / 2`` and ``ratio / (2 (ratio - 1))`` with ``ratio`` = entries / positives clipped
  to ``ratio_range``, so the rarer side counts as much as the other.
  """
  score = jnp.asarray(reg_score, F32)
  label = jnp.asarray(label, F32).reshape(score.shape)
  w = _entry_weights(weights, score.shape)
  pmask = (label > threshold).astype(F32)
  num_positive = jnp.maximum((pmask * w).sum(), 1.)
  num_entries = w.sum()
  ratio = jnp.clip(num_entries / num_positive, ratio_range[0], ratio_range[1])
  coef_0 = 0.5 * ratio / (ratio - 1)
  coef_1 = 0.5 * ratio
  loss = (coef_1 * pmask * jnp.log(score + eps) +
          coef_0 * (1. - pmask) * jnp.log(1. - score + eps))
  return -_ratio_or_zero((loss * w).sum(), num_entries)


def pem_reg_loss(pred_score, gt_iou_map, mask, uniforms, high_temporal_iou_threshold=0.7,
                 low_temporal_iou_threshold=0.3, weights=None):
  """BMN's proposal regression loss (``BMNLoss.pem_reg_loss``) over (N, D, T) maps.

  All proposals with IoU above ``high`` count; those in (low, high] and the valid ones in
  (0, low] are subsampled to about as many as the high ones, with ``uniforms`` (two arrays
  like ``gt_iou_map``). As in MMAction2, when the high ones outnumber a group, the threshold
  ``1 - ratio`` falls below 0 and every entry of the batch (inside ``mask`` or not) is
  selected once more. The loss is half the squared error summed over selected entries (a
  selection weight, up to 3, enters squared) over the selection weights' sum; 0 when nothing
  is selected (MMAction2: NaN).
  """
  pred = jnp.asarray(pred_score, F32)
  gt = jnp.asarray(gt_iou_map, F32)
  w = _entry_weights(weights, gt.shape)
  rand_m, rand_l = uniforms
  u_hmask = (gt > high_temporal_iou_threshold).astype(F32)
  u_mmask = ((gt <= high_temporal_iou_threshold) &
             (gt > low_temporal_iou_threshold)).astype(F32)
  u_lmask = ((gt <= low_temporal_iou_threshold) & (gt > 0.)).astype(F32) * mask
  num_h, num_m, num_l = ((m * w).sum() for m in (u_hmask, u_mmask, u_lmask))
  u_smmask = (u_mmask * rand_m > 1. - num_h / num_m).astype(F32)
  u_slmask = (u_lmask * rand_l > 1. - num_h / num_l).astype(F32)
  selected = u_hmask + u_smmask + u_slmask
  error = (pred * selected - gt * selected) ** 2
  return 0.5 * _ratio_or_zero((error * w).sum(), (selected * w).sum())


def pem_cls_loss(pred_score, gt_iou_map, mask, threshold=0.9, ratio_range=(1.05, 21), eps=1e-5,
                 weights=None):
  """BMN's proposal classification loss (``BMNLoss.pem_cls_loss``): a binary logistic loss
  with IoU > ``threshold`` positive, over the positives and the valid (``mask``) negatives."""
  pred = jnp.asarray(pred_score, F32)
  gt = jnp.asarray(gt_iou_map, F32)
  w = _entry_weights(weights, gt.shape)
  pmask = (gt > threshold).astype(F32)
  nmask = (gt <= threshold).astype(F32) * mask
  num_positive = jnp.maximum((pmask * w).sum(), 1.)
  num_entries = num_positive + (nmask * w).sum()
  ratio = jnp.clip(num_entries / num_positive, ratio_range[0], ratio_range[1])
  coef_0 = 0.5 * ratio / (ratio - 1)
  coef_1 = 0.5 * ratio
  loss = (coef_1 * jnp.log(pred + eps) * pmask + coef_0 * jnp.log(1. - pred + eps) * nmask)
  return -(loss * w).sum() / num_entries


def bmn_loss(pred_bm, pred_start, pred_end, gt_iou_map, gt_start, gt_end, bm_mask, key=None,
             weight_tem=1.0, weight_pem_reg=10.0, weight_pem_cls=1.0, uniforms=None,
             weights=None):
  """MMAction2's ``BMNLoss.forward``: ``(loss, tem_loss, pem_reg_loss, pem_cls_loss)``.

  ``pred_bm`` is BMN's ``(N, D, T, 2)`` confidence map (channel 0 regression, 1
  classification), ``gt_iou_map`` ``(N, D, T)`` and ``bm_mask`` ``(D, T)`` (``bmn.bm_mask``);
  ``pred_start`` etc. ``(N, T)``. The regression term's subsampling draws from ``key``, or
  takes ``uniforms = (u_medium, u_low)``, each shaped like ``gt_iou_map``. MMAction2's BMN
  logs only ``loss``.
  """
  pred_bm = jnp.asarray(pred_bm, F32)
  mask = jnp.asarray(bm_mask, F32)
  gt_iou_map = jnp.asarray(gt_iou_map, F32) * mask
  uniforms = _uniforms(key, uniforms, gt_iou_map.shape, "bmn_loss")
  pem_reg = pem_reg_loss(pred_bm[..., 0], gt_iou_map, mask, uniforms, weights=weights)
  pem_cls = pem_cls_loss(pred_bm[..., 1], gt_iou_map, mask, weights=weights)
  tem = (binary_logistic_regression_loss(pred_start, gt_start, weights=weights) +
         binary_logistic_regression_loss(pred_end, gt_end, weights=weights))
  loss = weight_tem * tem + weight_pem_reg * pem_reg + weight_pem_cls * pem_cls
  return loss, tem, pem_reg, pem_cls


def tem_loss_terms(outputs, labels, *, tem_match_threshold, loss_weight=2,
                   weights=None) -> dict:
  """MMAction2's ``TEM.forward_train`` losses from TEM's ``(N, T, 3)`` output and
  ``tem_labels``' ``(action, start, end)``: ``loss_action`` (times ``loss_weight``),
  ``loss_start``, ``loss_end``, binary logistic losses with positives above
  ``tem_match_threshold``. The training loss is their sum (MMAction2's ``_parse_losses``
  adds every ``loss*`` key)."""
  outputs = jnp.asarray(outputs, F32)
  action, start, end = labels

  def term(i, label):
    return binary_logistic_regression_loss(outputs[..., i], label, tem_match_threshold,
                                           weights=weights)

  return {'loss_action': term(0, action) * loss_weight, 'loss_start': term(1, start),
          'loss_end': term(2, end)}


def pem_loss(pem_output, reference_temporal_iou, mask=None, *, pem_high_temporal_iou_threshold,
             pem_low_temporal_iou_threshold, pem_u_ratio_m, pem_u_ratio_l, key=None,
             uniforms=None) -> dict:
  """MMAction2's ``PEM.forward_train`` loss: ``{'temporal_iou_loss': ...}``.

  ``pem_output``: PEM's ``(B * P, 1)`` scores (or ``(B, P)``); ``reference_temporal_iou``
  ``(B, P)``: each proposal's IoU with the ground truth; ``mask`` ``(B, P)``: True on real
  proposals (``LoadProposals`` keeps up to ``top_k`` per video; padding is excluded, as if
  MMAction2 concatenated only the real ones). ``uniforms = (u_medium, u_low)``, each
  ``(B, P)``, replace the draws from ``key``.

  MMAction2 selects the proposals above the high threshold and subsamples the medium and low
  ones (``pem_u_ratio_m`` / ``_l`` times as many as the high ones), but weighs by that
  selection a smooth-L1 loss that ``F.smooth_l1_loss`` has already averaged over every
  proposal, so the selection cancels: the value is the mean smooth-L1 over all real proposals
  whenever anything is selected. With nothing selected (no proposal above the high threshold)
  MMAction2 gives NaN and this 0; the selection is computed as MMAction2 does, since it
  decides that case.
  """
  iou = jnp.asarray(reference_temporal_iou, F32)
  pred = jnp.asarray(pem_output, F32).reshape(iou.shape)
  valid = jnp.ones(iou.shape, F32) if mask is None else jnp.asarray(mask).astype(F32)
  rand_m, rand_l = _uniforms(key, uniforms, iou.shape, "pem_loss")
  high, low = pem_high_temporal_iou_threshold, pem_low_temporal_iou_threshold
  u_hmask = (iou > high).astype(F32) * valid
  u_mmask = ((iou <= high) & (iou > low)).astype(F32) * valid
  u_lmask = (iou <= low).astype(F32) * valid
  num_h, num_m, num_l = u_hmask.sum(), u_mmask.sum(), u_lmask.sum()
  r_m = jnp.minimum(pem_u_ratio_m * num_h / num_m, 1.)
  r_l = jnp.minimum(pem_u_ratio_l * num_h / num_l, 1.)
  u_smmask = (rand_m * u_mmask > 1. - r_m).astype(F32)
  u_slmask = (rand_l * u_lmask > 1. - r_l).astype(F32)
  selected = (u_hmask + u_smmask + u_slmask) * valid
  diff = jnp.abs(pred - iou)
  smooth_l1 = jnp.where(diff < 1., 0.5 * diff * diff, diff - 0.5)
  mean = _ratio_or_zero((smooth_l1 * valid).sum(), valid.sum())
  return {'temporal_iou_loss': _ratio_or_zero((mean * selected).sum(), selected.sum())}
