"""Temporal proposal and action detection metrics (pure numpy), as MMAction2 0.24.1 defines them.

Segments are ``[start, end]`` pairs. Two numeric details follow MMAction2 run under the numpy
1.x it was written for, so results match it under numpy 2 as well:
- a float32 array compared with a float64 threshold is compared in float32 (numpy 1.x casts
  the scalar down; numpy 2 casts the array up, which flips IoUs like float32(0.7) >= 0.7);
- a candidate segment meeting float targets is computed in the targets' float type.
Ties in scores or IoUs are ordered as ``metrics.descending_order`` says (highest index first),
except ActivityNet detections, which MMAction2 orders with Python's stable sort (file order).
"""

from __future__ import annotations

import collections
import json
import logging
import os
from typing import Any, Mapping, Sequence

import numpy as np

from vjax.evaluation.metrics import descending_order

__all__ = [
    'ActivityNetLocalization', 'assign_top1_labels', 'average_precision_at_temporal_iou',
    'average_recall_at_avg_proposals', 'detection_map', 'evaluate_proposals',
    'import_ground_truth', 'import_proposals', 'interpolated_precision_recall',
    'pairwise_temporal_iou'
]

DEFAULT_TIOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
# The metrics MMAction2's ActivityNetDataset.evaluate accepts, and AR@AN's result keys.
PROPOSAL_METRICS = ('AR@AN',)
AR_AN_KEYS = ('auc', 'AR@1', 'AR@5', 'AR@10', 'AR@100')


def pairwise_temporal_iou(candidate_segments, target_segments, calculate_overlap_self=False):
  """Temporal IoU between every target (rows) and candidate (columns), float32.

  Args:
    candidate_segments: ``(m, 2)`` or one ``(2,)`` segment.
    target_segments: ``(n, 2)``.
    calculate_overlap_self: also return intersection / candidate length.

  Returns:
    ``(n, m)`` IoU, or ``(n,)`` for a single candidate; with ``calculate_overlap_self`` a pair
    ``(iou, overlap_self)``. Zero-length segments give 0/0 = NaN where the union (or the
    candidate length) is 0, as in MMAction2.
  """
  candidates, targets = np.asarray(candidate_segments), np.asarray(target_segments)
  if targets.ndim != 2 or candidates.ndim not in (1, 2):
    raise ValueError('Dimension of arguments is incorrect: candidate_segments must be 1-D or '
                     f'2-D and target_segments 2-D, got {candidates.ndim}-D and {targets.ndim}-D')
  single = candidates.ndim == 1
  if single:
    candidates = candidates[None, :]  # extra columns (e.g. a score) are ignored, as in MMAction2
  # numpy 1.x semantics (MMAction2 loops over candidates as scalars): a scalar never widens an
  # array of the same kind, so float candidates are computed in the targets' float type.
  same_kind = all(np.issubdtype(a.dtype, np.floating) for a in (candidates, targets))
  work = targets.dtype if same_kind else np.result_type(candidates, targets)
  length = candidates[None, :, 1] - candidates[None, :, 0]  # in the candidates' own type
  c_start, c_end = candidates[None, :, 0].astype(work), candidates[None, :, 1].astype(work)
  t_start, t_end = targets[:, 0:1], targets[:, 1:2]
  intersection = (np.minimum(c_end, t_end) - np.maximum(c_start, t_start)).clip(0)
  union = (t_end - t_start) + length.astype(work) - intersection
  with np.errstate(divide='ignore', invalid='ignore'):
    iou = (intersection.astype(float) / union).astype(np.float32)
    overlap_self = (intersection.astype(float) / length).astype(np.float32)
  if single:
    iou, overlap_self = iou[:, 0], overlap_self[:, 0]
  return (iou, overlap_self) if calculate_overlap_self else iou


def _trapezoid(y: np.ndarray, x: np.ndarray) -> float:
  return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))


def average_recall_at_avg_proposals(ground_truth: Mapping[str, np.ndarray],
                                    proposals: Mapping[str, np.ndarray],
                                    total_num_proposals: int,
                                    max_avg_proposals: float | None = None,
                                    temporal_iou_thresholds=DEFAULT_TIOU_THRESHOLDS):
  """Average recall as a function of the average number of proposals per video (AR@AN).

  Args:
    ground_truth: video id -> ``(n, >=2)`` ground-truth segments.
    proposals: video id -> ``(k, 3)`` ``[start, end, score]`` proposals.
    total_num_proposals: proposals over all videos (sets the retrieval ratio).
    max_avg_proposals: the AN axis end; default total_num_proposals / num_videos.
    temporal_iou_thresholds: IoU thresholds recall is averaged over.

  Returns:
    ``(recall, average_recall, proposals_per_video, auc)``: recall[i, j] at threshold i and the
    j-th of 100 equally spaced AN points, its mean over thresholds, the AN points, and the
    area under the AR-AN curve in percent of its width.
  """
  thresholds = np.asarray(temporal_iou_thresholds)
  num_videos = len(ground_truth)
  if not max_avg_proposals:
    max_avg_proposals = float(total_num_proposals) / num_videos
  ratio = max_avg_proposals * float(num_videos) / total_num_proposals

  # Per video: IoU of each ground truth with the top-scored proposals it keeps.
  ious, num_retrieved_total = [], 0
  for video_id, gt in ground_truth.items():
    video_proposals = np.asarray(proposals[video_id])
    gt_segments = np.asarray(gt)[:, :2].astype(np.float32)
    if video_proposals.shape[0] == 0:
      ious.append(np.zeros((gt_segments.shape[0], 1)))  # one never-matching column
      continue
    ranked = video_proposals[descending_order(video_proposals[:, 2]), :2].astype(np.float32)
    keep = min(int(ranked.shape[0] * ratio), ranked.shape[0])
    num_retrieved_total += keep
    ious.append(pairwise_temporal_iou(ranked[:keep], gt_segments))

  fractions = np.arange(1, 101) / 100.0 * (
      max_avg_proposals * float(num_videos) / num_retrieved_total)
  num_positives = sum(iou.shape[0] for iou in ious)
  recall = np.empty((len(thresholds), len(fractions)))
  for t, threshold in enumerate(thresholds):
    matched = np.zeros(len(fractions))
    for iou in ious:
      # numpy 1.x compares a float32 array with a float64 scalar in float32.
      hit = iou >= iou.dtype.type(threshold)
      counts = np.minimum((iou.shape[1] * fractions).astype(np.int64), iou.shape[1])
      # first_hit[g] = 1 + index of the first proposal matching gt g (inf if none).
      first_hit = np.full(iou.shape[0], np.inf)
      if iou.shape[1]:
        first_hit[hit.any(axis=1)] = np.argmax(hit, axis=1)[hit.any(axis=1)] + 1
      matched += (first_hit[:, None] <= counts[None, :]).sum(axis=0)
    recall[t] = matched / num_positives

  average_recall = recall.mean(axis=0)
  proposals_per_video = fractions * (float(num_retrieved_total) / num_videos)
  auc = 100.0 * _trapezoid(average_recall, proposals_per_video) / proposals_per_video[-1]
  return recall, average_recall, proposals_per_video, auc


def interpolated_precision_recall(precision, recall) -> float:
  """VOC (2011+) AP: area under the precision envelope (max precision at any higher recall)."""
  precision = np.concatenate([[0.0], np.asarray(precision, dtype=float), [0.0]])
  recall = np.concatenate([[0.0], np.asarray(recall, dtype=float), [1.0]])
  envelope = np.maximum.accumulate(precision[::-1])[::-1]
  steps = np.flatnonzero(recall[1:] != recall[:-1]) + 1
  return float(np.sum((recall[steps] - recall[steps - 1]) * envelope[steps]))


def _match_detections(order_ious, thresholds, locked):
  """Greedy matching of one detection; returns a per-threshold true-positive mask.

  ``order_ious`` is ``[(gt_index, iou), ...]`` best IoU first. At each threshold the detection
  takes the best free ground truth; it is a false positive once IoU drops below the threshold
  or when every ground truth above it is taken. ``locked`` (thresholds x gts) is updated.
  """
  tp = np.zeros(len(thresholds), dtype=bool)
  for t, threshold in enumerate(thresholds):
    for gt_index, iou in order_ious:
      if iou < threshold:
        break
      if not locked[t, gt_index]:
        locked[t, gt_index] = True
        tp[t] = True
        break
  return tp


def average_precision_at_temporal_iou(ground_truth: Mapping[str, Sequence],
                                      prediction,
                                      temporal_iou_thresholds=DEFAULT_TIOU_THRESHOLDS
                                      ) -> np.ndarray:
  """Detection AP (float32, one per threshold) of predictions against ground-truth segments.

  Args:
    ground_truth: video id -> list of ``[start, end]``.
    prediction: rows ``[video_id, class_id, start, end, score]`` (class_id is not used: all
      predictions are scored against all ground truth of their video, as in MMAction2).
    temporal_iou_thresholds: IoU thresholds.

  Predictions go in descending score order; each takes the free ground truth of its video with
  the highest IoU (ties: highest index) when that IoU reaches the threshold.
  """
  thresholds = np.asarray(temporal_iou_thresholds)
  ap = np.zeros(len(thresholds), dtype=np.float32)
  if len(prediction) < 1:
    return ap
  prediction = np.array(prediction)
  num_gts = float(sum(len(segments) for segments in ground_truth.values()))
  locked = {key: np.zeros((len(thresholds), len(segments)), dtype=bool)
            for key, segments in ground_truth.items()}

  prediction = prediction[descending_order(prediction[:, 4].astype(float))]
  tp = np.zeros((len(thresholds), len(prediction)), dtype=np.int32)
  for i, row in enumerate(prediction):
    video_id = row[0]
    if video_id not in ground_truth:
      continue
    gt = np.array(ground_truth[video_id], dtype=float)
    iou = pairwise_temporal_iou(row[2:4].astype(float), gt)
    order = descending_order(iou)
    tp[:, i] = _match_detections([(j, iou[j]) for j in order], thresholds, locked[video_id])
  fp = 1 - tp

  tp_cum = np.cumsum(tp, axis=1).astype(np.float32)
  fp_cum = np.cumsum(fp, axis=1).astype(np.float32)
  recall = tp_cum / num_gts
  precision = tp_cum / (tp_cum + fp_cum)
  for t in range(len(thresholds)):
    ap[t] = interpolated_precision_recall(precision[t], recall[t])
  return ap


class ActivityNetLocalization:
  """ActivityNet temporal action detection mAP from the official JSON files.

  Args:
    ground_truth_filename: ActivityNet-style annotation JSON (or its loaded dict),
      ``{"v_<id>": {"annotations": [{"label": name, "segment": [s, e]}, ...], ...}, ...}``.
      The two-character ``v_`` prefix of each key is dropped to form the video id; classes
      are numbered in order of first appearance.
    prediction_filename: a JSON file (or its loaded dict) ``{"results": {"<id>": [{"label":
      name, "score": s, "segment": [s, e]}, ...]}}``. Every predicted label must occur in the
      ground truth.
    tiou_thresholds: IoU thresholds, default 0.5:0.05:0.95.
    verbose: log what was loaded.

  ``evaluate()`` returns ``(mAP, average_mAP)``: the mean over classes of the interpolated AP
  at each threshold, and its mean over thresholds.
  """

  def __init__(self,
               ground_truth_filename: str | os.PathLike | Mapping | None = None,
               prediction_filename: str | os.PathLike | Mapping | None = None,
               tiou_thresholds=DEFAULT_TIOU_THRESHOLDS,
               verbose: bool = False):
    if not ground_truth_filename:
      raise IOError('Please input a valid ground truth file.')
    if not prediction_filename:
      raise IOError('Please input a valid prediction file.')
    self.ground_truth_filename = ground_truth_filename
    self.prediction_filename = prediction_filename
    self.tiou_thresholds = np.asarray(tiou_thresholds)
    self.verbose = verbose
    self.ap = None
    self.ground_truth, self.activity_index = self._import_ground_truth(ground_truth_filename)
    self.prediction = self._import_prediction(prediction_filename)
    if verbose:
      logging.getLogger(__name__).info(
          'Loaded ground truth from %s (%d instances) and predictions from %s (%d); tIoU '
          'thresholds %s', ground_truth_filename, len(self.ground_truth), prediction_filename,
          len(self.prediction), self.tiou_thresholds)

  @staticmethod
  def _import_ground_truth(ground_truth_filename):
    """-> (list of {'video-id', 't-start', 't-end', 'label'}, {class name: index})."""
    data = _load_json(ground_truth_filename)
    activity_index: dict[str, int] = {}
    ground_truth = []
    for video_id, info in data.items():
      for anno in info['annotations']:
        label = activity_index.setdefault(anno['label'], len(activity_index))
        ground_truth.append({
            'video-id': video_id[2:],
            't-start': float(anno['segment'][0]),
            't-end': float(anno['segment'][1]),
            'label': label
        })
    return ground_truth, activity_index

  def _import_prediction(self, prediction_filename):
    """-> list of {'video-id', 'label', 't-start', 't-end', 'score'}."""
    data = _load_json(prediction_filename)
    prediction = []
    for video_id, results in data['results'].items():
      for result in results:
        if result['label'] not in self.activity_index:
          raise KeyError(f"predicted label {result['label']!r} (video {video_id}) is not a "
                         'class of the ground truth')
        prediction.append({
            'video-id': video_id,
            'label': self.activity_index[result['label']],
            't-start': float(result['segment'][0]),
            't-end': float(result['segment'][1]),
            'score': result['score']
        })
    return prediction

  def wrapper_compute_average_precision(self) -> np.ndarray:
    """AP of every class at every threshold: ``(num_thresholds, num_classes)``."""
    num_classes = len(self.activity_index)
    ap = np.zeros((len(self.tiou_thresholds), num_classes))
    for c in range(num_classes):
      gts = [gt for gt in self.ground_truth if gt['label'] == c]
      preds = [pred for pred in self.prediction if pred['label'] == c]
      ap[:, c] = compute_average_precision_detection(gts, preds, self.tiou_thresholds)
    return ap

  def evaluate(self):
    self.ap = self.wrapper_compute_average_precision()
    self.mAP = self.ap.mean(axis=1)
    self.average_mAP = self.mAP.mean()
    return self.mAP, self.average_mAP


def compute_average_precision_detection(ground_truth, prediction,
                                        tiou_thresholds=DEFAULT_TIOU_THRESHOLDS) -> np.ndarray:
  """Interpolated AP per threshold of one class's predictions (dicts as ActivityNet loads them).

  Predictions are visited by descending score, equal scores in list order; each one matches
  the free ground truth of its video with the highest IoU (ties: highest index).
  """
  thresholds = np.asarray(tiou_thresholds)
  ap = np.zeros(len(thresholds))
  if not prediction:
    return ap
  by_video: dict[str, list[int]] = {}
  for i, gt in enumerate(ground_truth):
    by_video.setdefault(gt['video-id'], []).append(i)
  segments = np.array([[gt['t-start'], gt['t-end']] for gt in ground_truth],
                      dtype=float).reshape(-1, 2)
  locked = np.zeros((len(thresholds), len(ground_truth)), dtype=bool)

  ranked = sorted(prediction, key=lambda p: -p['score'])  # stable: equal scores keep file order
  tp = np.zeros((len(thresholds), len(ranked)))
  for i, pred in enumerate(ranked):
    gt_ids = by_video.get(pred['video-id'])
    if not gt_ids:
      continue
    iou = pairwise_temporal_iou(np.array([pred['t-start'], pred['t-end']]), segments[gt_ids])
    order = descending_order(iou)
    tp[:, i] = _match_detections([(gt_ids[j], iou[j]) for j in order], thresholds, locked)
  fp = 1.0 - tp

  tp_cum, fp_cum = np.cumsum(tp, axis=1), np.cumsum(fp, axis=1)
  recall = tp_cum / float(len(ground_truth))
  precision = tp_cum / (tp_cum + fp_cum)
  for t in range(len(thresholds)):
    ap[t] = interpolated_precision_recall(precision[t], recall[t])
  return ap


def _load_json(source):
  """A JSON file's content, or ``source`` itself when it is already a loaded mapping."""
  if isinstance(source, Mapping):
    return source
  with open(source) as f:
    return json.load(f)


# ------------------------------------------------------------------ dataset-level evaluation
def import_ground_truth(video_infos: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
  """``{video id: (n, 2) [t_start, t_end]}`` (float64, seconds) of ActivityNet video infos;
  the id drops the two-character ``v_`` of ``video_name``, as MMAction2 does."""
  ground_truth = {}
  for info in video_infos:
    segments = [[float(a['segment'][0]), float(a['segment'][1])] for a in info['annotations']]
    ground_truth[info['video_name'][2:]] = np.array(segments, dtype=np.float64).reshape(-1, 2)
  return ground_truth


def import_proposals(results: Sequence[Mapping[str, Any]]) -> tuple[dict[str, np.ndarray], int]:
  """``({video id: (k, 3) [t_start, t_end, score]}, total proposals)`` of localizer results
  (``{'video_name', 'proposal_list': [{'segment', 'score'}, ...]}`` each)."""
  proposals, total = {}, 0
  for result in results:
    rows = [[p['segment'][0], p['segment'][1], p['score']] for p in result['proposal_list']]
    proposals[result['video_name'][2:]] = np.array(rows, dtype=np.float64).reshape(-1, 3)
    total += len(rows)
  return proposals, total


def evaluate_proposals(results: Sequence[Mapping[str, Any]],
                       video_infos: Sequence[Mapping[str, Any]],
                       metrics: str | Sequence[str] = 'AR@AN',
                       metric_options: Mapping[str, Mapping[str, Any]] | None = None
                       ) -> dict[str, float]:
  """MMAction2's ``ActivityNetDataset.evaluate``: proposal metrics of localizer results.

  Args:
    results: one ``{'video_name', 'proposal_list'}`` per video of ``video_infos``, in order.
    video_infos: the dataset's videos (``video_name``, ``annotations``).
    metrics: ``'AR@AN'`` (the only one MMAction2 accepts here).
    metric_options: ``{'AR@AN': {'max_avg_proposals': 100, 'temporal_iou_thresholds':
      np.linspace(0.5, 0.95, 10)}}`` (these are the defaults of missing entries).

  Returns:
    ``{'auc', 'AR@1', 'AR@5', 'AR@10', 'AR@100'}``: the area under the AR-AN curve and the
    average recall (over IoU thresholds) at the 1st, 5th, 10th and 100th of the curve's 100
    AN points, i.e. at 1, 5, 10 and 100 proposals per video when ``max_avg_proposals`` is 100.
  """
  if not isinstance(results, (list, tuple)):
    raise TypeError(f'results must be a list, but got {type(results)}')
  if len(results) != len(video_infos):
    raise ValueError('The length of results is not equal to the dataset len: '
                     f'{len(results)} != {len(video_infos)}')
  metrics = [metrics] if isinstance(metrics, str) else list(metrics)
  for metric in metrics:
    if metric not in PROPOSAL_METRICS:
      raise KeyError(f'metric {metric} is not supported')
  options = dict((metric_options or {}).get('AR@AN') or {})
  thresholds = np.asarray(options.get('temporal_iou_thresholds', DEFAULT_TIOU_THRESHOLDS))
  max_avg_proposals = options.get('max_avg_proposals', 100)

  eval_results = collections.OrderedDict()
  ground_truth = import_ground_truth(video_infos)
  proposals, num_proposals = import_proposals(results)
  for metric in metrics:
    if metric == 'AR@AN':
      recall, _, _, auc = average_recall_at_avg_proposals(
          ground_truth, proposals, num_proposals, max_avg_proposals=max_avg_proposals,
          temporal_iou_thresholds=thresholds)
      eval_results['auc'] = float(auc)
      for key, column in (('AR@1', 0), ('AR@5', 4), ('AR@10', 9), ('AR@100', 99)):
        eval_results[key] = float(np.mean(recall[:, column]))
  return eval_results


# ------------------------------------------------------------------ detection from proposals
def assign_top1_labels(proposal_results: Mapping[str, Sequence[Mapping[str, Any]]],
                       classification_results: Mapping[str, Sequence[Mapping[str, Any]]]
                       ) -> dict[str, list[dict]]:
  """Labels every proposal of a video with the video's top-1 class (MMAction2's
  ``report_map.py --cls cuhk17_top1``).

  Args:
    proposal_results: ``{video id: [{'segment', 'score'}, ...]}`` (a proposal JSON's
      ``results``).
    classification_results: ``{video id: [{'label', 'score'}, ...]}`` video-level class
      scores (e.g. ``cuhk_anet17_pred.json``'s ``results``).

  Returns:
    ``{video id: [{'label': top-1 class, **proposal}, ...]}``; a proposal's own ``label`` is
    kept. Of equally scored classes the later one in the list is the top-1.
  """
  labelled = {}
  for video_id, proposals in proposal_results.items():
    if video_id not in classification_results:
      raise KeyError(f'video {video_id!r} has proposals but no classification result')
    ranked = sorted(classification_results[video_id], key=lambda p: p['score'])  # stable
    if not ranked:
      raise ValueError(f'video {video_id!r} has an empty classification result')
    label = ranked[-1]['label']
    labelled[video_id] = [dict({'label': label}, **proposal) for proposal in proposals]
  return labelled


def detection_map(ground_truth, prediction, tiou_thresholds=DEFAULT_TIOU_THRESHOLDS
                  ) -> tuple[np.ndarray, float]:
  """ActivityNet detection ``(mAP per threshold, average mAP)`` of a ground-truth JSON and a
  detection result (files or loaded dicts), as ``ActivityNetLocalization(...).evaluate()``."""
  m_ap, average = ActivityNetLocalization(ground_truth, prediction,
                                          tiou_thresholds=tiou_thresholds).evaluate()
  return m_ap, float(average)
