"""Training targets of BMN and BSN's TEM from padded ground truth, on device (pure jnp, jittable).

MMAction2 builds them per video in numpy inside the model's ``forward`` (``generate_labels``);
here a batch is ``gt_bbox (N, K, 2)``, each row ``[start, end]`` normalised to the video's
length as ``GenerateLocalizationLabels`` gives them, and ``gt_mask (N, K)``, True on real rows.
Every score is a maximum over a video's segments of an overlap in [0, 1], so padding rows
enter as 0 and never change it (whatever they hold, NaN included). MMAction2 computes in
float64 and stores float32; these run in float32 (differences of a few 1e-8).

Anchors follow MMAction2: TEM's are the T snippets ``[i / T, (i + 1) / T]``; BMN's boundary
anchors are two snippets wide, ``[(i - 0.5) / T, (i + 1.5) / T]``, and its proposals are
``[u / T, (u + d + 1) / T]`` for start ``u`` and duration index ``d``, laid out ``(D, T)`` like
the confidence map.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np


def _iou(pmin, pmax, gmin, gmax):
  """IoU with MMAction2's order of operations (``temporal_iou``); broadcasting."""
  inter = jnp.maximum(jnp.minimum(pmax, gmax) - jnp.maximum(pmin, gmin), 0.)
  union = (pmax - pmin) - inter + gmax - gmin
  return inter / union


def _iop(pmin, pmax, plen, gmin, gmax):
  """Intersection over the anchor's length ``plen`` (``temporal_iop``); broadcasting."""
  inter = jnp.maximum(jnp.minimum(pmax, gmax) - jnp.maximum(pmin, gmin), 0.)
  return inter / plen


def _anchors(temporal_dim: int, tmin_offset: float, tmax_offset: float):
  """Snippet anchors ``gap * (i + offset)`` and their lengths, computed in float64 as
  MMAction2's ``_temporal_anchors``, as float32 constants shaped (1, 1, T)."""
  gap = 1. / temporal_dim
  tmin = np.array([gap * (i + tmin_offset) for i in range(temporal_dim)])
  tmax = np.array([gap * (i + tmax_offset) for i in range(temporal_dim)])
  return tuple(jnp.asarray(a[None, None], jnp.float32) for a in (tmin, tmax, tmax - tmin))


def _max_over_gt(score, gt_mask):
  """(N, K, ...) -> (N, ...): the best real segment's score (0 without any)."""
  mask = gt_mask.reshape(gt_mask.shape + (1,) * (score.ndim - 2))
  return jnp.where(mask, score, 0.).max(axis=1)


def _boundary_scores(centres, pad, anchors, gt_mask):
  """Per anchor, the best IoP of a ``pad``-wide window centred on each segment boundary."""
  tmin, tmax, length = anchors
  lo, hi = (centres - pad / 2)[..., None], (centres + pad / 2)[..., None]  # (N, K, 1)
  return _max_over_gt(_iop(tmin, tmax, length, lo, hi), gt_mask)


def bmn_labels(gt_bbox, gt_mask, temporal_dim: int, boundary_ratio: float):
  """BMN's targets as MMAction2's ``BMN.generate_labels``.

  Returns ``gt_iou_map (N, D, T)``: each proposal's best IoU with a segment, at
  ``[duration - 1, start]`` (every proposal, also those past the end, which ``bm_mask`` then
  drops in the loss); ``gt_start``, ``gt_end`` ``(N, T)``: each boundary anchor's best IoP
  with a window of 3 snippets around a segment's start (end). ``boundary_ratio`` is accepted
  for symmetry with ``tem_labels``: MMAction2's BMN uses it for sampling proposals
  (``interp1d_mask``), not for its labels.
  """
  del boundary_ratio
  gt_bbox = jnp.asarray(gt_bbox, jnp.float32)
  gt_mask = jnp.asarray(gt_mask, bool)
  starts, ends = gt_bbox[..., 0], gt_bbox[..., 1]
  gap = 1. / temporal_dim
  duration, start = np.meshgrid(np.arange(temporal_dim), np.arange(temporal_dim), indexing="ij")
  pmin = gap * start
  pmax = pmin + gap * (duration + 1)
  pmin, pmax = (jnp.asarray(a, jnp.float32) for a in (pmin, pmax))
  iou = _iou(pmin, pmax, starts[..., None, None], ends[..., None, None])  # (N, K, D, T)
  gt_iou_map = _max_over_gt(iou, gt_mask)
  anchors = _anchors(temporal_dim, -0.5, 1.5)
  pad = 3 * gap
  return (gt_iou_map, _boundary_scores(starts, pad, anchors, gt_mask),
          _boundary_scores(ends, pad, anchors, gt_mask))


def tem_labels(gt_bbox, gt_mask, temporal_dim: int, boundary_ratio: float):
  """TEM's targets as MMAction2's ``TEM.generate_labels``, each ``(N, T)``.

  ``match_score_action``: each snippet's best IoP with a segment; ``match_score_start``
  (``_end``): its best IoP with a window around a segment's start (end) as wide as
  ``boundary_ratio`` times the segment, at least one snippet.
  """
  gt_bbox = jnp.asarray(gt_bbox, jnp.float32)
  gt_mask = jnp.asarray(gt_mask, bool)
  starts, ends = gt_bbox[..., 0], gt_bbox[..., 1]
  pad = jnp.maximum(1. / temporal_dim, boundary_ratio * (ends - starts))  # (N, K)
  anchors = _anchors(temporal_dim, 0., 1.)
  tmin, tmax, length = anchors
  action = _max_over_gt(_iop(tmin, tmax, length, starts[..., None], ends[..., None]), gt_mask)
  return (action, _boundary_scores(starts, pad, anchors, gt_mask),
          _boundary_scores(ends, pad, anchors, gt_mask))
