"""SSN's losses as pure jnp functions: MMAction2 0.24.1's ``OHEMHingeLoss`` and ``SSNLoss``.

``ssn_loss_terms`` returns MMAction2's log keys, ``loss_activity`` (cross-entropy over the
positive and background proposals), ``loss_completeness`` (class-wise hinge loss with online
hard example mining over the positive and incomplete proposals, times ``comp_loss_weight``)
and ``loss_reg`` (class-wise smooth-L1 of the positives' regression, times
``reg_loss_weight``). Shapes are static: which rows take part is a mask, not an index.
"""

from __future__ import annotations

from typing import Any, Mapping

import jax
import jax.numpy as jnp

from vjax.localization.ssn import proposals_per_video

POSITIVE, INCOMPLETE, BACKGROUND = 0, 1, 2


def _class_scores(pred, labels):
  """``pred[i, labels[i] - 1]``; label 0 reads the last class, as torch's index -1 does."""
  idx = (labels.astype(jnp.int32) - 1) % pred.shape[-1]
  return jnp.take_along_axis(pred, idx[:, None], axis=-1)[:, 0]


def ohem_hinge_loss(pred, labels, is_positive: int, ohem_ratio: float, group_size: int,
                    group_weights=None):
  """MMAction2's ``OHEMHingeLoss``: per row ``max(0, 1 - is_positive * pred[i, label_i - 1])``;
  in each group of ``group_size`` consecutive rows the ``int(group_size * ohem_ratio)`` largest
  are summed. Its gradient is the hinge's slope on those rows only, as MMAction2's backward.

  ``group_weights`` (one per group) weights each group's sum (0 drops a padding video).
  """
  if pred.shape[0] != labels.shape[0]:
    raise ValueError(f"Number of samples should be equal to that of labels, but got "
                     f"{pred.shape[0]} samples and {labels.shape[0]} labels.")
  margin = 1.0 - is_positive * _class_scores(pred, labels)
  losses = jnp.where(margin > 0, margin, 0.0).reshape(-1, group_size)
  keep = int(group_size * ohem_ratio)
  if keep <= 0:
    return jnp.zeros((), pred.dtype)
  kept = jax.lax.top_k(losses, keep)[0].sum(axis=1)
  if group_weights is not None:
    kept = kept * group_weights
  return kept.sum()


def activity_loss(activity_score, labels, mask):
  """Mean cross-entropy of the rows where ``mask`` (positives and backgrounds)."""
  logp = jax.nn.log_softmax(activity_score, axis=-1)
  nll = -jnp.take_along_axis(logp, labels.astype(jnp.int32)[:, None], axis=-1)[:, 0]
  m = mask.astype(activity_score.dtype)
  return (nll * m).sum() / jnp.maximum(m.sum(), 1.0)


def completeness_loss(completeness_score, labels, proposal_type, positive_per_video: int,
                      incomplete_per_video: int, ohem_ratio: float = 0.17, num_groups=None,
                      row_weights=None):
  """MMAction2's ``SSNLoss.completeness_loss``: the positive and incomplete rows, in their
  order, grouped ``positive_per_video + incomplete_per_video`` at a time (one video's); the
  positives' hinge loss (all kept) plus the incompletes' with OHEM, over the number of
  positives plus kept incompletes.

  The batch must hold exactly that many positive and incomplete rows per video, as
  ``SSNDataset`` samples them (MMAction2 assumes the same); ``num_groups`` is the number of
  videos (default: all such rows form groups). ``row_weights`` (0 on padding videos) weight
  each group by its first row's weight.
  """
  group = positive_per_video + incomplete_per_video
  take = (proposal_type == POSITIVE) | (proposal_type == INCOMPLETE)
  rows = jnp.argsort((~take).astype(jnp.int32), stable=True)  # the taken rows first, in their order
  if num_groups is None:
    num_groups = proposal_type.shape[0] // group
  rows = rows[:num_groups * group]
  dim = completeness_score.shape[-1]
  pred = completeness_score[rows].reshape(num_groups, group, dim)
  gt = labels[rows].reshape(num_groups, group)
  weights = None if row_weights is None else row_weights[rows].reshape(num_groups, group)[:, 0]
  positive = ohem_hinge_loss(pred[:, :positive_per_video].reshape(-1, dim),
                             gt[:, :positive_per_video].reshape(-1), 1, 1.0, positive_per_video,
                             weights)
  incomplete = ohem_hinge_loss(pred[:, positive_per_video:].reshape(-1, dim),
                               gt[:, positive_per_video:].reshape(-1), -1, ohem_ratio,
                               incomplete_per_video, weights)
  if weights is None:
    count = num_groups * positive_per_video + int(num_groups * incomplete_per_video * ohem_ratio)
  else:  # videos that count; the epsilon guards the floor against float rounding
    valid = weights.astype(jnp.float32).sum()
    count = jnp.maximum(valid * positive_per_video +
                        jnp.floor(valid * incomplete_per_video * ohem_ratio + 1e-4), 1.0)
  return (positive + incomplete) / count


def smooth_l1(x):
  ax = jnp.abs(x)
  return jnp.where(ax < 1.0, 0.5 * x * x, ax - 0.5)


def classwise_regression_loss(bbox_pred, labels, bbox_targets, mask):
  """Smooth-L1 (beta 1) of the positives' (``mask``) predicted (center, span) for their own
  class against the targets, averaged over both coordinates, times 2 (MMAction2's)."""
  idx = (labels.astype(jnp.int32) - 1) % bbox_pred.shape[1]
  pred = jnp.take_along_axis(bbox_pred, idx[:, None, None], axis=1)[:, 0]  # (rows, 2)
  m = mask.astype(bbox_pred.dtype)
  per_row = smooth_l1(pred - bbox_targets.reshape(-1, 2)).sum(axis=-1)
  return (per_row * m).sum() / jnp.maximum(2.0 * m.sum(), 1.0) * 2.0


def ssn_loss_terms(activity_score, completeness_score, bbox_pred, proposal_type, labels,
                   bbox_targets, train_cfg: Mapping[str, Any], weights=None) -> dict:
  """MMAction2's ``SSNLoss.forward``: ``{'loss_activity', 'loss_completeness'[, 'loss_reg']}``.

  Args:
    activity_score: ``(rows, K + 1)``; completeness_score: ``(rows, K)``; bbox_pred:
      ``(rows, K, 2)`` or None (no regression); rows = videos x proposals per video.
    proposal_type: 0 positive, 1 incomplete, 2 background, per row (any shape, flattened).
    labels: class per row (0 background, 1..K); bbox_targets: ``(rows, 2)`` normalised.
    train_cfg: MMAction2's ``train_cfg`` (``ssn.sampler``, ``ssn.loss_weight``).
    weights: optional per-row weights (0 on padding rows of an evaluation batch).
  """
  ssn = train_cfg["ssn"]
  sampler, loss_weight = ssn["sampler"], ssn["loss_weight"]
  positive, _, incomplete = proposals_per_video(sampler)
  num_per_video = sampler["num_per_video"]
  proposal_type = proposal_type.reshape(-1)
  labels = labels.reshape(-1)
  w = jnp.ones(proposal_type.shape, jnp.float32) if weights is None else (
      weights.reshape(-1).astype(jnp.float32))
  activity_mask = ((proposal_type == POSITIVE) | (proposal_type == BACKGROUND)) * w
  terms = {"loss_activity": activity_loss(activity_score, labels, activity_mask)}
  terms["loss_completeness"] = completeness_loss(
      completeness_score, labels, proposal_type, positive, incomplete,
      ohem_ratio=positive / incomplete, num_groups=proposal_type.shape[0] // num_per_video,
      row_weights=None if weights is None else w) * loss_weight["comp_loss_weight"]
  if bbox_pred is not None:
    terms["loss_reg"] = classwise_regression_loss(
        bbox_pred, labels, bbox_targets, (proposal_type == POSITIVE) * w
    ) * loss_weight["reg_loss_weight"]
  return terms
