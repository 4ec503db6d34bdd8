"""Temporal proposals: IoU / IoP, soft-NMS and the BMN / BSN post-processing (pure numpy).

The functions take MMAction2 0.24.1's argument names and defaults and give its numbers. A few
numeric details follow MMAction2 run under the numpy 1.x it was written for (vjax runs under
numpy 2, whose promotion rules differ for numpy scalars mixed with Python numbers):

- soft-NMS compares a float32 IoU with its float64 threshold (``low + (high - low) * width``)
  in float64, and the proposal times of ``post_processing`` are scaled to seconds in float64;
- equal scores are ordered as ``vjax.evaluation.metrics.descending_order`` orders them (the
  later proposal first), which is MMAction2's ``argsort()[::-1]`` under a stable sort.

Proposals are rows ``[tmin, tmax, ..., score]``: start and end in the first two columns, the
score in the last, times normalised to the video's length (0..1) until ``post_processing``
turns them into seconds.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from vjax.evaluation.metrics import descending_order

__all__ = [
    'bmn_candidate_proposals', 'boundary_bins', 'pem_proposals', 'post_processing',
    'proposal_results', 'soft_nms', 'tem_results', 'temporal_anchors', 'temporal_iop',
    'temporal_iou', 'video_duration'
]


def temporal_iou(proposal_min, proposal_max, gt_min, gt_max):
  """IoU of proposals ``[proposal_min, proposal_max]`` with ``[gt_min, gt_max]``.

  Arguments broadcast against each other (scalars, lists or arrays); MMAction2 passes one
  proposal and many ground truths (PGM) or one kept proposal and all candidates (soft-NMS).
  A zero union gives 0/0 = NaN.
  """
  proposal_min, proposal_max = np.asarray(proposal_min), np.asarray(proposal_max)
  gt_min, gt_max = np.asarray(gt_min), np.asarray(gt_max)
  length = proposal_max - proposal_min
  inter = np.maximum(np.minimum(proposal_max, gt_max) - np.maximum(proposal_min, gt_min), 0.)
  union = length - inter + gt_max - gt_min  # this order of operations, as in MMAction2
  with np.errstate(divide='ignore', invalid='ignore'):
    return np.divide(inter, union)


def temporal_iop(proposal_min, proposal_max, gt_min, gt_max):
  """Intersection with ``[gt_min, gt_max]`` over the proposal's own length (broadcasting)."""
  proposal_min, proposal_max = np.asarray(proposal_min), np.asarray(proposal_max)
  gt_min, gt_max = np.asarray(gt_min), np.asarray(gt_max)
  length = proposal_max - proposal_min
  inter = np.maximum(np.minimum(proposal_max, gt_max) - np.maximum(proposal_min, gt_min), 0.)
  with np.errstate(divide='ignore', invalid='ignore'):
    return np.divide(inter, length)


def soft_nms(proposals, alpha, low_threshold, high_threshold, top_k):
  """Gaussian soft-NMS of temporal proposals, as MMAction2's ``soft_nms``.

  Repeatedly keeps the highest-scored remaining proposal and decays the score of every other
  remaining one whose IoU with it exceeds ``low_threshold + (high_threshold - low_threshold) *
  width`` (width: the kept proposal's normalised length) by ``exp(-iou**2 / alpha)``. Stops
  when nothing remains or ``top_k + 1`` proposals are kept (MMAction2's loop runs while at
  most ``top_k`` are kept, so it keeps one more; ``post_processing`` then takes ``top_k``).

  Args:
    proposals: ``(n, >=2)`` rows, start and end in columns 0 and 1, the score in the last.
    alpha: width of the Gaussian decay.
    low_threshold, high_threshold: the IoU threshold for a zero- and a full-length proposal.
    top_k: see above.

  Returns:
    ``(k, 3)`` ``[start, end, decayed score]`` rows in the order kept, in the proposals' float
    type (float64 for integer input).
  """
  proposals = np.asarray(proposals)
  if not np.issubdtype(proposals.dtype, np.floating):
    proposals = proposals.astype(np.float64)
  ranked = proposals[descending_order(proposals[:, -1])]
  start, end, score = ranked[:, 0], ranked[:, 1], ranked[:, -1].copy()
  kept = []
  while len(score) > 0 and len(kept) <= top_k:
    best = int(np.argmax(score))  # first maximum in the ranked order (a NaN wins, as there)
    threshold = low_threshold + (high_threshold - low_threshold) * float(end[best] - start[best])
    iou = temporal_iou(start[best], end[best], start, end)
    decay = np.exp(-np.square(iou) / alpha)
    hit = iou.astype(np.float64) > threshold
    hit[best] = False
    score = np.where(hit, score * decay, score)
    kept.append((start[best], end[best], score[best]))
    start, end, score = (np.delete(a, best) for a in (start, end, score))
  return np.array(kept, dtype=proposals.dtype).reshape(-1, 3)


def video_duration(video_info: Mapping[str, Any], feature_extraction_interval: int) -> float:
  """Seconds the features cover: whole feature intervals of the video's frames."""
  frames = video_info['duration_frame']
  return float(frames // feature_extraction_interval * feature_extraction_interval
               ) / frames * video_info['duration_second']


def post_processing(result, video_info: Mapping[str, Any], soft_nms_alpha: float,
                    soft_nms_low_threshold: float, soft_nms_high_threshold: float,
                    post_process_top_k: int, feature_extraction_interval: int) -> list[dict]:
  """BMN / BSN-PEM test output -> the video's proposal list, as MMAction2's
  ``post_processing``.

  Soft-NMS (when there is more than one proposal), then the ``post_process_top_k`` best
  proposals by score, their normalised times clipped to [0, 1] and scaled to the seconds the
  features cover (``video_info``: ``duration_frame``, ``duration_second``).

  Returns:
    ``[{'score': s, 'segment': [t_start, t_end]}, ...]`` best first (Python floats).
  """
  result = np.asarray(result)
  if len(result) > 1:
    result = soft_nms(result, soft_nms_alpha, soft_nms_low_threshold, soft_nms_high_threshold,
                      post_process_top_k)
  if len(result) == 0:
    return []
  result = result[descending_order(result[:, -1])]
  duration = video_duration(video_info, feature_extraction_interval)
  proposal_list = []
  for row in result[:min(post_process_top_k, len(result))]:
    # Python's max / min, as there: 0 (or 1) unless the time is strictly inside.
    start, end = max(0, float(row[0])), min(1, float(row[1]))
    proposal_list.append({'score': float(row[-1]), 'segment': [start * duration, end * duration]})
  return proposal_list


def temporal_anchors(temporal_dim: int, tmin_offset: float = 0., tmax_offset: float = 1.):
  """Start and end (normalised) of each of ``temporal_dim`` equal bins, as two lists."""
  gap = 1. / temporal_dim
  return ([gap * (i + tmin_offset) for i in range(temporal_dim)],
          [gap * (i + tmax_offset) for i in range(temporal_dim)])


def tem_results(action, start, end) -> np.ndarray:
  """One video's BSN-TEM test output: ``(T, 5)`` float64 columns ``action, start, end, tmin,
  tmax`` (the bins' normalised times), what MMAction2 writes to ``tem_results/<video>.csv``."""
  action, start, end = (np.asarray(a).reshape(-1) for a in (action, start, end))
  tmins, tmaxs = temporal_anchors(len(action))
  return np.stack((action, start, end, np.array(tmins), np.array(tmaxs)), axis=1)


def boundary_bins(scores: np.ndarray, temporal_dim: int, peak_threshold: float) -> np.ndarray:
  """1 at the inner bins that are a local peak or above ``peak_threshold`` x the maximum."""
  bins = np.zeros(len(scores))
  inner = np.arange(1, temporal_dim - 1)
  if len(inner):
    centre = scores[inner]
    peak = (centre > scores[inner + 1]) & (centre > scores[inner - 1])
    high = centre.astype(np.float64) > peak_threshold * float(max(scores))
    bins[inner] = peak | high
  return bins


def bmn_candidate_proposals(start_scores, end_scores, confidence_map) -> np.ndarray:
  """Every BMN proposal MMAction2's ``BMN.forward_test`` scores, before post-processing.

  Args:
    start_scores, end_scores: ``(T,)`` boundary probabilities of one video.
    confidence_map: ``(2, T, T)``: the regression (0) and classification (1) confidence, at
      ``[duration - 1, start]``.

  Returns:
    ``(n, 7)`` float64 rows ``[tmin, tmax, tmin_score, tmax_score, cls_score, reg_score,
    score]`` (``score``: the product of the four, in their float type) for each start bin
    (bin 0, local peaks and bins above half the maximum) and end bin (local peaks, bins above
    half the maximum and the last bin) with ``start < end``, in MMAction2's order (by
    duration, then start); times are ``bin / T``.
  """
  start_scores = np.asarray(start_scores).reshape(-1)
  end_scores = np.asarray(end_scores).reshape(-1)
  confidence_map = np.asarray(confidence_map)
  tscale = len(start_scores)
  start_bins = boundary_bins(start_scores, tscale, 0.5)
  start_bins[0] = 1
  end_bins = boundary_bins(end_scores, tscale, 0.5)
  end_bins[-1] = 1
  duration, start = np.meshgrid(np.arange(tscale), np.arange(tscale), indexing='ij')
  end = start + duration + 1
  inside = end < tscale
  duration, start, end = duration[inside], start[inside], end[inside]  # by duration, start
  chosen = (start_bins[start] == 1) & (end_bins[end] == 1)
  duration, start, end = duration[chosen], start[chosen], end[chosen]
  tmin_score, tmax_score = start_scores[start], end_scores[end]
  cls_score = confidence_map[1][duration, start]
  reg_score = confidence_map[0][duration, start]
  score = tmin_score * tmax_score * cls_score * reg_score
  columns = (start / tscale, end / tscale, tmin_score, tmax_score, cls_score, reg_score, score)
  return np.stack([np.asarray(c, dtype=np.float64) for c in columns], axis=1).reshape(-1, 7)


def pem_proposals(pem_output, tmin, tmax, tmin_score, tmax_score) -> np.ndarray:
  """BSN-PEM test rows ``[tmin, tmax, tmin_score, tmax_score, pem_score, score]`` with
  ``score = pem_score * tmin_score * tmax_score`` (in the inputs' float type), as MMAction2's
  ``PEM.forward_test`` hands them to ``post_processing``."""
  columns = [np.asarray(c).reshape(-1, 1) for c in (pem_output, tmin, tmax, tmin_score,
                                                    tmax_score)]
  pem_output, tmin, tmax, tmin_score, tmax_score = columns
  score = pem_output * tmin_score * tmax_score
  return np.concatenate((tmin, tmax, tmin_score, tmax_score, pem_output, score), axis=1)


def proposal_results(video_names: Sequence[str], proposal_lists: Sequence[list]) -> list[dict]:
  """MMAction2's localizer test outputs: ``[{'video_name', 'proposal_list'}, ...]``."""
  return [{'video_name': name, 'proposal_list': proposals}
          for name, proposals in zip(video_names, proposal_lists)]
