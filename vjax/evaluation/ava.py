"""AVA spatio-temporal action detection: frame-level mAP with the official Pascal protocol.

Inputs are the official AVA files: CSV rows ``video_id, timestamp, x1, y1, x2, y2, action_id
[, score]`` (boxes normalized to [0, 1]), a label map in protobuf text format (``item {name, id}``
as in the 60-class ActivityNet 2018 list, or ``label {name, label_id, label_type}`` as in the
80-class v2.x lists) and a CSV of excluded ``video_id, timestamp`` pairs.

The protocol (ActivityNet's get_ava_performance.py, which MMAction2 0.24.1 wraps): per frame and
class, detections in descending score order each take the ground-truth box they overlap most
(first one on ties); a hit needs IoU >= 0.5 and a box not already taken, there is no fallback
to the second-best box. Detections whose box has no positive area are dropped. Per class, the
VOC AP of all detections; the mAP averages the classes that have ground truth.

Equal detection scores (common: result files keep 3 decimals) are ordered as
``metrics.descending_order`` says, which makes the AP reproducible; MMAction2's unstable argsort
makes its own answer depend on numpy's sort implementation there.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import os
from collections import defaultdict
from typing import Iterable, Sequence

import numpy as np

from vjax.evaluation.localization import interpolated_precision_recall
from vjax.evaluation.metrics import descending_order

__all__ = [
    'ava_eval', 'frame_ap', 'make_image_key', 'read_csv', 'read_exclusions', 'read_labelmap',
    'results2csv'
]

_log = logging.getLogger(__name__)


def _open(path_or_file):
  """A path is opened (and closed after use); an open file is used as is and left open."""
  if isinstance(path_or_file, (str, os.PathLike)):
    return open(path_or_file)
  return contextlib.nullcontext(path_or_file)


def make_image_key(video_id, timestamp) -> str:
  """``'<video_id>,<timestamp as 4 digits>'``, the key frames are matched by."""
  return f'{video_id},{int(timestamp):04d}'


def read_labelmap(labelmap_file) -> tuple[list[dict], set[int]]:
  """Parses an AVA label map (pbtxt) without protobuf.

  Returns ``([{'id': int, 'name': str}, ...], {ids})``; both ``id:`` and ``label_id:`` fields
  are accepted, each closing an entry with the last ``name:`` seen.
  """
  labelmap, class_ids, name = [], set(), ''
  with _open(labelmap_file) as f:
    for line in f:
      field, _, value = line.strip().partition(':')
      if field == 'name':
        name = value.split('"')[1]
      elif field in ('id', 'label_id'):
        class_id = int(value)
        labelmap.append({'id': class_id, 'name': name})
        class_ids.add(class_id)
  return labelmap, class_ids


def read_csv(csv_file, class_whitelist: Iterable[int] | None = None):
  """Loads AVA boxes grouped by frame.

  Returns three dicts keyed by ``make_image_key``: boxes ``[y1, x1, y2, x2]``, action ids and
  scores (1.0 when the file has 7 columns), each frame's entries by descending score (ties keep
  file order). Rows whose action is not in a non-empty ``class_whitelist`` are skipped.
  """
  whitelist = set(class_whitelist) if class_whitelist else None
  entries = defaultdict(list)
  with _open(csv_file) as f:
    for row in csv.reader(f):
      if len(row) not in (7, 8):
        raise ValueError(f'AVA rows have 7 or 8 columns, got {len(row)}: {row}')
      action_id = int(row[6])
      if whitelist is not None and action_id not in whitelist:
        continue
      x1, y1, x2, y2 = (float(v) for v in row[2:6])
      score = float(row[7]) if len(row) == 8 else 1.0
      entries[make_image_key(row[0], row[1])].append((score, action_id, [y1, x1, y2, x2]))
  boxes, labels, scores = {}, {}, {}
  for key, rows in entries.items():
    rows = sorted(rows, key=lambda r: -r[0])
    boxes[key] = [r[2] for r in rows]
    labels[key] = [r[1] for r in rows]
    scores[key] = [r[0] for r in rows]
  return boxes, labels, scores


def read_exclusions(exclusions_file) -> set[str]:
  """Image keys listed in an excluded-timestamps CSV (``video_id,timestamp`` rows)."""
  excluded = set()
  if exclusions_file is None:
    return excluded
  with _open(exclusions_file) as f:
    for row in csv.reader(f):
      if len(row) != 2:
        raise ValueError(f'Expected only 2 columns, got: {row}')
      excluded.add(make_image_key(row[0], row[1]))
  return excluded


def box_iou(boxes1: np.ndarray, boxes2: np.ndarray) -> np.ndarray:
  """Pairwise IoU of ``[y1, x1, y2, x2]`` boxes, ``(n, m)``."""
  tl = np.maximum(boxes1[:, None, :2], boxes2[None, :, :2])
  br = np.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])
  inter = np.prod(np.maximum(br - tl, 0.0), axis=2)
  area1 = np.prod(boxes1[:, 2:] - boxes1[:, :2], axis=1)
  area2 = np.prod(boxes2[:, 2:] - boxes2[:, :2], axis=1)
  return inter / (area1[:, None] + area2[None, :] - inter)


def _tp_single_class(det_boxes: np.ndarray, gt_boxes: np.ndarray, iou_threshold: float):
  """True-positive flags of one frame's detections (given best first) for one class."""
  tp = np.zeros(len(det_boxes), dtype=bool)
  if len(gt_boxes) == 0 or len(det_boxes) == 0:
    return tp
  iou = box_iou(det_boxes, gt_boxes)
  best = np.argmax(iou, axis=1)
  taken = np.zeros(len(gt_boxes), dtype=bool)
  for i, g in enumerate(best):
    if iou[i, g] >= iou_threshold and not taken[g]:
      tp[i] = taken[g] = True
  return tp


def frame_ap(gt: dict, detections: dict, num_classes: int, iou_threshold: float = 0.5):
  """Per-class VOC AP over frames and its NaN-skipping mean (Pascal protocol, see module doc).

  Args:
    gt: image key -> ``(boxes (n, 4) [y1, x1, y2, x2], class ids (n,))``, ids 1-based.
    detections: image key -> ``(boxes (k, 4), class ids (k,), scores (k,))``, in the order
      frames and boxes should be visited (boxes best first within a frame).
    num_classes: classes 1..num_classes are scored; AP is NaN for a class without ground truth.

  Returns:
    ``(ap (num_classes,), mean_ap)``.
  """
  num_gt = np.zeros(num_classes, dtype=np.int64)
  for boxes, classes in gt.values():
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    if np.any((boxes[:, 0] > boxes[:, 2]) | (boxes[:, 1] > boxes[:, 3])):
      raise ValueError('Invalid ground-truth box: need y1 <= y2 and x1 <= x2')
    ids = np.asarray(classes, dtype=np.int64)
    np.add.at(num_gt, ids[(ids >= 1) & (ids <= num_classes)] - 1, 1)

  scores_per_class = [[] for _ in range(num_classes)]
  tp_per_class = [[] for _ in range(num_classes)]
  for key, (boxes, classes, scores) in detections.items():
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    classes, scores = np.asarray(classes, dtype=np.int64), np.asarray(scores, dtype=float)
    valid = (boxes[:, 0] < boxes[:, 2]) & (boxes[:, 1] < boxes[:, 3])
    boxes, classes, scores = boxes[valid], classes[valid], scores[valid]
    gt_boxes, gt_classes = gt.get(key, (np.zeros((0, 4)), np.zeros(0, dtype=np.int64)))
    gt_boxes = np.asarray(gt_boxes, dtype=float).reshape(-1, 4)
    gt_classes = np.asarray(gt_classes, dtype=np.int64)
    for c in np.unique(classes):
      if not 1 <= c <= num_classes:
        continue
      mine = classes == c
      scores_per_class[c - 1].append(scores[mine])
      tp_per_class[c - 1].append(
          _tp_single_class(boxes[mine], gt_boxes[gt_classes == c], iou_threshold))

  ap = np.full(num_classes, np.nan)
  for c in range(num_classes):
    if num_gt[c] == 0:
      continue
    if not scores_per_class[c]:
      ap[c] = 0.0
      continue
    scores, tp = np.concatenate(scores_per_class[c]), np.concatenate(tp_per_class[c])
    tp = tp[descending_order(scores)]
    tp_cum = np.cumsum(tp)
    precision = tp_cum / np.arange(1, len(tp) + 1)
    recall = tp_cum / num_gt[c]
    ap[c] = interpolated_precision_recall(precision, recall)
  mean_ap = float(np.mean(ap[~np.isnan(ap)])) if not np.all(np.isnan(ap)) else float('nan')
  return ap, mean_ap


def ava_eval(result_file,
             result_type: str,
             label_file,
             ann_file,
             exclude_file,
             verbose: bool = True,
             custom_classes: Sequence[int] | None = None) -> dict[str, float]:
  """Frame mAP@0.5IOU of an AVA result CSV against the annotation CSV.

  Args:
    result_file: detections, 8-column AVA CSV (e.g. written by ``results2csv``).
    result_type: only ``'mAP'``.
    label_file: label map pbtxt; its ids are the classes evaluated (rows of other classes are
      ignored in both files).
    ann_file: ground-truth AVA CSV.
    exclude_file: excluded-timestamps CSV or None; those frames are ignored in both files.
    verbose: log progress and the AP of every class.
    custom_classes: as AVADataset stores them, ``(0, id1, id2, ...)``: the leading background
      entry is dropped and only the listed ids (a subset of the label map) are evaluated.

  Returns:
    ``{'mAP@0.5IOU': mean AP over classes that have ground truth}``.

  Deviation: MMAction2 0.24.1 ignores excluded frames only when ``verbose`` is true (its
  default, which AVADataset.evaluate uses); here they are ignored either way.
  """
  if result_type != 'mAP':
    raise ValueError(f"result_type must be 'mAP', got {result_type!r}")
  categories, class_whitelist = read_labelmap(label_file)
  if custom_classes is not None:
    custom = list(custom_classes)[1:]
    unknown = set(custom) - set(class_whitelist)
    if unknown:
      raise ValueError(f'custom_classes {sorted(unknown)} are not in the label map {label_file}')
    class_whitelist = custom
    categories = [cat for cat in categories if cat['id'] in custom]
  if not categories:
    raise ValueError('no class to evaluate')
  if min(cat['id'] for cat in categories) < 1:
    raise ValueError('AVA class ids must start at 1')
  num_classes = max(cat['id'] for cat in categories)

  excluded = read_exclusions(exclude_file)
  gt_boxes, gt_labels, _ = read_csv(ann_file, class_whitelist)
  boxes, labels, scores = read_csv(result_file, class_whitelist)
  gt = {k: (gt_boxes[k], gt_labels[k]) for k in gt_boxes if k not in excluded}
  detections = {k: (boxes[k], labels[k], scores[k]) for k in boxes if k not in excluded}
  if verbose:
    skipped = len(gt_boxes) - len(gt) + len(boxes) - len(detections)
    _log.info('AVA eval: %d ground-truth frames, %d detection frames, %d excluded entries skipped',
              len(gt), len(detections), skipped)

  ap, mean_ap = frame_ap(gt, detections, num_classes, iou_threshold=0.5)
  if verbose:
    for cat in categories:
      _log.info('PerformanceByCategory/AP@0.5IOU/%s=\t%s', cat['name'], ap[cat['id'] - 1])
    _log.info('mAP@0.5IOU=\t%s', mean_ap)
  return {'mAP@0.5IOU': mean_ap}


def _csv_field(item) -> str:
  return f'{item:.3f}' if isinstance(item, float) else str(item)


def det2csv(dataset, results, custom_classes=None) -> list[tuple]:
  """Rows ``(video_id, timestamp, x1, y1, x2, y2, action_id, score, ...)`` of per-class results.

  ``results[i][c]`` is an ``(n, 5+)`` array ``[x1, y1, x2, y2, score, ...]`` of class ``c + 1``
  (or ``custom_classes[c + 1]``) for sample i of ``dataset``.
  """
  infos = getattr(dataset, 'video_infos', dataset)
  rows = []
  for info, per_class in zip(infos, results):
    for c, dets in enumerate(per_class):
      action_id = custom_classes[c + 1] if custom_classes is not None else c + 1
      for det in dets:
        det = np.asarray(det).tolist()  # Python floats, so they print with 3 decimals
        rows.append((info['video_id'], info['timestamp'], *det[:4], action_id, *det[4:]))
  return rows


def results2csv(dataset, results, out_file, custom_classes=None) -> None:
  """Writes detection results as an AVA CSV (floats with 3 decimals), as MMAction2 does.

  Args:
    dataset: an object with ``video_infos`` or the sequence of infos itself; each info has
      ``video_id`` and ``timestamp``.
    results: per sample, a list over classes (background excluded) of ``(n, 5)`` arrays.
    out_file: path to write.
    custom_classes: the dataset's ``(0, id1, ...)`` when it was trained on a class subset.
  """
  if not results or not isinstance(results[0], (list, tuple)):
    raise TypeError('results must be a list (per sample) of lists (per class) of arrays')
  with open(out_file, 'w') as f:
    for row in det2csv(dataset, results, custom_classes):
      f.write(','.join(map(_csv_field, row)))
      f.write('\n')
