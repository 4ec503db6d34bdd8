"""Recognition and classification metrics (pure numpy), named and ordered as MMAction2's.

Every function here returns what ``mmaction.core.evaluation`` 0.24.1 returns for the same
inputs; tests/golden/metrics holds the evidence. Where MMAction2's answer depends on how
numpy's default (unstable) argsort orders equal values, vjax fixes one order and says so:
scores sorted in descending order keep equal values in *descending index order*, which is
what MMAction2's ``argsort(...)[::-1]`` gives whenever numpy's sort keeps ties in input order.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = [
    'confusion_matrix', 'evaluate_recognition', 'get_weighted_score',
    'hvu_mean_average_precision', 'mean_average_precision', 'mean_class_accuracy',
    'mmit_mean_average_precision', 'softmax', 'top_k_accuracy', 'top_k_classes'
]


def descending_order(values: np.ndarray, axis: int = -1) -> np.ndarray:
  """Indices that sort ``values`` high to low; equal values come highest index first.

  This is the reverse of a stable ascending sort, so NaN (sorted last ascending) comes first,
  as in MMAction2's ``np.argsort(x)[::-1]``; unlike that call it does not depend on numpy's
  sort implementation when values tie.
  """
  return np.flip(np.argsort(values, axis=axis, kind='stable'), axis=axis)


def _as_score_matrix(scores) -> np.ndarray:
  if isinstance(scores, (list, tuple)):
    scores = np.stack([np.asarray(s) for s in scores]) if scores else np.zeros((0, 0))
  else:
    scores = np.asarray(scores)
  if scores.ndim != 2:
    raise ValueError(f'scores must be (num_samples, num_classes), got shape {scores.shape}')
  return scores


def _as_int_labels(labels, name: str) -> np.ndarray:
  labels = np.asarray(labels)
  if labels.size and not np.issubdtype(labels.dtype, np.integer):
    raise TypeError(f'{name} must hold integers, got dtype {labels.dtype}')
  return labels.astype(np.int64).reshape(-1)


def top_k_accuracy(scores, labels, topk=(1,)) -> list[float]:
  """Fraction of samples whose label is among the ``k`` highest scores, for each k in topk.

  Ties are ranked highest class index first (see module docstring), so with all scores equal
  the top-1 guess is the last class, as in MMAction2.
  """
  scores = _as_score_matrix(scores)
  labels = _as_int_labels(labels, 'labels')
  if len(labels) != len(scores):
    raise ValueError(f'{len(scores)} score rows but {len(labels)} labels')
  is_label = descending_order(scores, axis=1) == labels[:, None]
  # Position of the true label in each sample's ranking (0 = best); a label outside the score
  # columns is never found and never counts.
  rank = np.where(is_label.any(axis=1), np.argmax(is_label, axis=1), np.iinfo(np.int64).max)
  return [float(np.mean(rank < k)) for k in topk]


def confusion_matrix(y_pred, y_real, normalize: str | None = None) -> np.ndarray:
  """Counts[true, pred] over the sorted labels that occur in y_pred or y_real.

  Rows and columns cover only labels seen in either input (not ``range(num_classes)``), as in
  MMAction2. ``normalize`` in {'true', 'pred', 'all'} divides by row, column or grand totals,
  with 0/0 reported as 0.
  """
  if normalize not in ('true', 'pred', 'all', None):
    raise ValueError(f"normalize must be one of 'true', 'pred', 'all' or None, got {normalize!r}")
  y_pred = _as_int_labels(y_pred, 'y_pred')
  y_real = _as_int_labels(y_real, 'y_real')
  if len(y_pred) != len(y_real):
    raise ValueError(f'{len(y_pred)} predictions but {len(y_real)} labels')
  present, index = np.unique(np.concatenate([y_real, y_pred]), return_inverse=True)
  n = len(present)
  real_idx, pred_idx = index[:len(y_real)], index[len(y_real):]
  counts = np.bincount(real_idx * n + pred_idx, minlength=n * n).reshape(n, n)
  if normalize is None:
    return counts
  totals = {
      'true': counts.sum(axis=1, keepdims=True),
      'pred': counts.sum(axis=0, keepdims=True),
      'all': counts.sum()
  }[normalize]
  with np.errstate(divide='ignore', invalid='ignore'):
    return np.nan_to_num(counts / totals)


def _per_class_recall(scores, labels) -> tuple[np.ndarray, np.ndarray]:
  """(labels present in preds or labels, their recall); a class never true scores 0."""
  scores = _as_score_matrix(scores)
  labels = _as_int_labels(labels, 'labels')
  pred = np.argmax(scores, axis=1)  # first maximum, as np.argmax everywhere
  present = np.unique(np.concatenate([labels, pred]))
  counts = confusion_matrix(pred, labels).astype(float)
  total, hits = counts.sum(axis=1), np.diag(counts)
  recall = np.divide(hits, total, out=np.zeros_like(hits), where=total > 0)
  return present, recall


def mean_class_accuracy(scores, labels) -> float:
  """Mean over classes of per-class recall of the argmax prediction.

  The mean runs over every label that occurs as a prediction or a ground truth; a class that is
  predicted but never the true label counts as 0 (MMAction2's definition, which can sit below
  the mean over true classes only).
  """
  _, recall = _per_class_recall(scores, labels)
  return float(np.mean(recall)) if recall.size else float('nan')


def top_k_classes(scores, labels, k: int = 10, mode: str = 'accurate') -> list[tuple[int, float]]:
  """The k classes with the highest ('accurate') or lowest ('inaccurate') recall.

  Returns ``[(class_id, recall), ...]`` best first ('accurate') or worst first ('inaccurate').
  Equal recalls keep MMAction2's stable-sort order: highest id first for 'accurate', lowest id
  first for 'inaccurate'. Deviation: MMAction2 reports the class's position among the labels
  present instead of its id; the two agree whenever every class 0..C-1 occurs.
  """
  if mode not in ('accurate', 'inaccurate'):
    raise ValueError(f"mode must be 'accurate' or 'inaccurate', got {mode!r}")
  present, recall = _per_class_recall(scores, labels)
  ascending = np.argsort(recall, kind='stable')
  picked = ascending[::-1][:k] if mode == 'accurate' else ascending[:k]
  return [(int(present[i]), float(recall[i])) for i in picked]


def _binary_average_precision(score: np.ndarray, positive: np.ndarray) -> float:
  """Non-interpolated AP: sum over score thresholds of (recall gain) x precision.

  Thresholds are the distinct scores, high to low, up to the first one that reaches full
  recall. NaN when there is no positive (recall undefined).
  """
  num_pos = int(positive.sum())
  if num_pos == 0:
    return float('nan')
  order = descending_order(score)
  score, positive = score[order], positive[order]
  # Last position of each run of equal scores: where a threshold lets all of them through.
  ends = np.flatnonzero(np.r_[score[1:] != score[:-1], True])
  tp = np.cumsum(positive)[ends]
  precision = tp / (ends + 1)
  recall = tp / num_pos
  stop = int(np.searchsorted(tp, num_pos)) + 1
  gain = np.diff(np.r_[0.0, recall[:stop]])
  return float(np.sum(gain * precision[:stop]))


def _many_hot(labels) -> np.ndarray:
  return np.stack([np.asarray(label) for label in labels]) if isinstance(
      labels, (list, tuple)) else np.asarray(labels)


def mean_average_precision(scores, labels) -> float:
  """Multi-label mAP: AP of each class over samples, classes without positives dropped.

  ``labels`` are many-hot rows; only entries equal to 1 are positives. NaN if no class has a
  positive.
  """
  scores, labels = _as_score_matrix(scores), _many_hot(labels)
  aps = [_binary_average_precision(s, t == 1) for s, t in zip(scores.T, labels.T)]
  aps = [ap for ap in aps if not np.isnan(ap)]
  return float(np.mean(aps)) if aps else float('nan')


def mmit_mean_average_precision(scores, labels) -> float:
  """Multi-Moments-in-Time mAP: AP of each sample over its classes, averaged over samples.

  As in MMAction2 a sample without any positive class makes the result NaN.
  """
  scores, labels = _as_score_matrix(scores), _many_hot(labels)
  return float(np.mean([_binary_average_precision(s, t == 1) for s, t in zip(scores, labels)]))


def hvu_mean_average_precision(scores, labels, tag_categories: Sequence[str],
                               tag_category_nums: Sequence[int],
                               category_mask=None) -> 'OrderedDict[str, float]':
  """HVU's per-category mAP, keyed ``{category}_mAP`` in category order (MMAction2's
  ``HVUDataset.evaluate``): for each category, ``mean_average_precision`` over the videos
  annotated with it, on that category's slice of the scores.

  Args:
    scores: (num_videos, num_tags) scores, the tags of ``tag_categories`` laid out one
      category after another (``tag_category_nums`` tags each).
    labels: either the annotations as HVUDataset reads them, one dict per video mapping a
      category to its tag indices within the category (a category absent from the dict is
      not annotated; other keys are ignored), or (num_videos, num_tags) many-hot rows as
      ``LoadHVULabel`` emits them, with ``category_mask`` (num_videos, num_categories) saying
      which categories each video has (default: all).
    tag_categories, tag_category_nums: the layout, as HVUDataset's arguments.

  A category no video is annotated with gets NaN (MMAction2 raises).
  """
  categories, nums = list(tag_categories), [int(n) for n in tag_category_nums]
  if len(categories) != len(nums):
    raise ValueError(f'{len(categories)} tag_categories but {len(nums)} tag_category_nums')
  scores = _as_score_matrix(scores)
  if scores.shape[1] != sum(nums):
    raise ValueError(f'scores have {scores.shape[1]} tags but tag_category_nums {nums} sum to '
                     f'{sum(nums)}')
  starts = np.concatenate([[0], np.cumsum(nums)[:-1]]).astype(int)
  if len(labels) != len(scores):
    raise ValueError(f'{len(scores)} score rows but {len(labels)} labels')
  if len(labels) and isinstance(labels[0], Mapping):
    if category_mask is not None:
      raise ValueError('category_mask goes with many-hot labels, not label dicts')
    annotated = np.array([[c in label for c in categories] for label in labels], bool)
    many_hot = np.zeros(scores.shape)
    for row, label in enumerate(labels):
      for c, (category, start, num) in enumerate(zip(categories, starts, nums)):
        if annotated[row, c]:
          tags = np.asarray(label[category], dtype=np.int64).reshape(-1)
          if tags.size and (tags.min() < 0 or tags.max() >= num):
            raise ValueError(f'video {row}: {category} tags {tags.tolist()} outside [0, {num})')
          many_hot[row, start + tags] = 1.0
  else:
    many_hot = _many_hot(labels)
    if many_hot.shape != scores.shape:
      raise ValueError(f'labels {many_hot.shape} must match scores {scores.shape}')
    annotated = (np.ones((len(scores), len(categories)), bool) if category_mask is None else
                 np.asarray(category_mask) > 0.5)
    if annotated.shape != (len(scores), len(categories)):
      raise ValueError(f'category_mask {annotated.shape} must be ({len(scores)}, '
                       f'{len(categories)})')
  results: OrderedDict[str, float] = OrderedDict()
  for c, (category, start, num) in enumerate(zip(categories, starts, nums)):
    rows = annotated[:, c]
    results[f'{category}_mAP'] = (mean_average_precision(
        scores[rows, start:start + num], many_hot[rows, start:start + num])
                                  if rows.any() else float('nan'))
  return results


def get_weighted_score(score_list, coeff_list) -> list[np.ndarray]:
  """Sum_i coeff_i * scores_i for n score sets of shape (num_samples, num_classes).

  Returns one array per sample (MMAction2 returns a list).
  """
  if len(score_list) != len(coeff_list):
    raise ValueError(f'{len(score_list)} score sets but {len(coeff_list)} coefficients')
  lengths = {len(scores) for scores in score_list}
  if len(lengths) > 1:
    raise ValueError(f'score sets differ in number of samples: {sorted(lengths)}')
  stacked = np.asarray([np.asarray(scores) for scores in score_list])
  return list(np.tensordot(np.asarray(coeff_list), stacked, axes=1))


def softmax(x, dim: int = 1) -> np.ndarray:
  """Softmax along ``dim``, shifted by the max for stability."""
  x = np.asarray(x)
  e = np.exp(x - np.max(x, axis=dim, keepdims=True))
  return e / e.sum(axis=dim, keepdims=True)


_RECOGNITION_METRICS = ('top_k_accuracy', 'mean_class_accuracy', 'mean_average_precision',
                        'mmit_mean_average_precision')


def _labels_to_many_hot(labels, num_classes: int) -> np.ndarray:
  """Class indices (int or sequence per sample) -> many-hot rows; arrays of width C pass."""
  if isinstance(labels, np.ndarray) and labels.ndim == 2:
    return labels
  rows = np.zeros((len(labels), num_classes))
  for i, label in enumerate(labels):
    if isinstance(label, np.ndarray) and label.ndim == 1 and label.size == num_classes:
      rows[i] = label
    else:
      rows[i, np.asarray(label, dtype=np.int64).reshape(-1)] = 1.0
  return rows


def evaluate_recognition(scores,
                         labels,
                         metrics: str | Sequence[str] = ('top_k_accuracy', 'mean_class_accuracy'),
                         metric_options: Mapping[str, Mapping[str, Any]] | None = None
                         ) -> 'OrderedDict[str, float]':
  """Recognition metrics keyed the way MMAction2's ``BaseDataset.evaluate`` keys them.

  Args:
    scores: (num_samples, num_classes) array or list of per-sample score vectors.
    labels: one class index per sample; for the two mAP metrics also a sequence of indices
      per sample or many-hot rows of width num_classes.
    metrics: names among top_k_accuracy, mean_class_accuracy, mean_average_precision,
      mmit_mean_average_precision.
    metric_options: e.g. ``{'top_k_accuracy': {'topk': (1, 5)}}``; topk defaults to (1, 5).

  Returns:
    OrderedDict with ``top{k}_acc`` per k, ``mean_class_accuracy``, ``mean_average_precision``,
    ``mmit_mean_average_precision`` as requested, in request order.
  """
  metrics = [metrics] if isinstance(metrics, str) else list(metrics)
  for metric in metrics:
    if metric not in _RECOGNITION_METRICS:
      raise KeyError(f'metric {metric!r} is not supported; choose from {_RECOGNITION_METRICS}')
  options = dict(metric_options or {})
  scores = _as_score_matrix(scores)
  if len(labels) != len(scores):
    raise ValueError(f'{len(scores)} score rows but {len(labels)} labels')

  results: OrderedDict[str, float] = OrderedDict()
  for metric in metrics:
    if metric == 'top_k_accuracy':
      topk = dict(options.get('top_k_accuracy', {})).get('topk', (1, 5))
      if isinstance(topk, (int, np.integer)):
        topk = (int(topk),)
      if not isinstance(topk, (tuple, list)):
        raise TypeError(f'topk must be int or tuple of int, but got {type(topk)}')
      for k, acc in zip(topk, top_k_accuracy(scores, labels, topk)):
        results[f'top{k}_acc'] = acc
    elif metric == 'mean_class_accuracy':
      results['mean_class_accuracy'] = mean_class_accuracy(scores, labels)
    else:
      many_hot = _labels_to_many_hot(labels, scores.shape[1])
      fn = mean_average_precision if metric == 'mean_average_precision' else (
          mmit_mean_average_precision)
      results[metric] = fn(scores, many_hot)
  return results
