"""SSN (Structured Segment Networks) on THUMOS14, host side (pure numpy), as MMAction2 0.24.1's
``localization/ssn_utils.py``, ``SSNDataset.evaluate`` and ``STPPTest``.

- TAG proposal files (``load_localize_proposal_file``): one block per video, ``# index``, the
  video id, its frame count and fps (their product is the number of frames), the ground truth
  (``label start end`` lines after their count) and the proposals (``label best_iou
  overlap_self start end`` lines after theirs). A malformed file is an error naming its line.
- Test time: ``stpp_test_scores`` pools the per-tick scores of the reorganised test fc
  (``SSNHead.test_fc``) over each proposal's starting, course and ending stages, as
  ``STPPTest``; ``video_result`` adds MMAction2's de-normalised regression.
- Post-processing and metric: ``results_to_detections`` (combined scores, top-k),
  ``perform_regression``, ``temporal_nms``, ``eval_ap`` and ``thumos14_map`` (MMAction2's keys
  ``mAP@0.10`` ... ``mAP@0.90``).
- ``SSNDetectionMAP`` / ``SSNResultsWriter``: the evaluators the SSN task builds; they put a
  video's chunks of tick scores back together (``SSNDataset`` splits long videos).

Equal scores are ordered as ``vjax.evaluation.metrics.descending_order`` orders them (the later
one first), MMAction2's ``argsort()[::-1]`` under a stable sort.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import os
import pickle
from typing import Any, Mapping, NamedTuple, Sequence

import numpy as np

from vjax.evaluation.localization import average_precision_at_temporal_iou
from vjax.evaluation.metrics import descending_order, softmax
from vjax.localization.proposals import temporal_iou

__all__ = [
    'TagVideo', 'eval_ap', 'load_localize_proposal_file', 'parse_stage_config',
    'parse_tag_proposals',
    'perform_regression', 'proposals_per_video', 'results_to_detections', 'SSNDetectionMAP',
    'SSNResultsWriter', 'stpp_test_scores', 'temporal_nms', 'THUMOS14_IOU_RANGE',
    'thumos14_map', 'video_result'
]

# SSNDataset.evaluate's thresholds for eval_dataset='thumos14' (keys mAP@0.10 ... mAP@0.90).
THUMOS14_IOU_RANGE = np.arange(0.1, 1.0, .1)
TAG_FORMAT = ("# <index>\n<video_id>\n<num_frames>\n<fps>\n<num_gts>\n"
              "<label> <start_frame> <end_frame>   (num_gts lines)\n<num_proposals>\n"
              "<label> <best_iou> <overlap_self> <start_frame> <end_frame>   (num_proposals lines)")


class TagVideo(NamedTuple):
  """One video of a TAG proposal file: ``gts`` rows ``(label, start, end)``, ``proposals``
  rows ``(label, best_iou, overlap_self, start, end)``; ``line`` is where its block starts."""
  video_id: str
  num_frames: int
  gts: list
  proposals: list
  line: int


def _number(text: str, kind, what: str, where: str):
  try:
    return kind(text)
  except ValueError:
    kind_name = 'an integer' if kind is int else 'a number'
    raise ValueError(f"{where}: {what} {text!r} is not {kind_name}"
                     f"\n  expected the TAG proposal format:\n{TAG_FORMAT}") from None


def _rows(lines, start: int, count: int, kinds, what: str, filename: str):
  rows = []
  for lineno, text in lines[start:start + count]:
    fields = text.split()
    where = f"{filename}:{lineno}"
    if len(fields) != len(kinds):
      raise ValueError(f"{where}: a {what} line needs {len(kinds)} fields, got {text!r}"
                       f"\n  expected the TAG proposal format:\n{TAG_FORMAT}")
    rows.append(tuple(_number(f, k, what, where) for f, k in zip(fields, kinds)))
  return rows


def load_localize_proposal_file(filename: str) -> list[TagVideo]:
  """The videos of a TAG proposal file (MMAction2's ``load_localize_proposal_file``, with the
  fields typed): ``[TagVideo(video_id, num_frames, gts, proposals, line), ...]``.

  Blocks are the runs of lines between ``#`` lines; blank lines are skipped. A block with a
  missing or extra line, a count or number that does not parse, or a row with the wrong number
  of fields is a ValueError naming the file and line (MMAction2 would misparse it silently or
  fail later).
  """
  if not os.path.isfile(filename):
    raise FileNotFoundError(
        f"Proposal file {filename} not found. THUMOS14's TAG proposal lists come from MMAction2's "
        "tools/data/thumos14/fetch_tag_proposals.sh (and denormalize_proposal_file.sh).")
  with open(filename) as f:
    return parse_tag_proposals(f.read(), filename)


def parse_tag_proposals(text: str, filename: str = "<TAG proposals>") -> list[TagVideo]:
  """``load_localize_proposal_file`` of a TAG file's ``text`` (``filename`` names it in
  errors)."""
  numbered = [(i, line.strip()) for i, line in enumerate(text.splitlines(), 1)]
  videos = []
  for is_header, group in itertools.groupby(numbered, lambda x: x[1].startswith('#')):
    if is_header:
      continue
    lines = [(i, t) for i, t in group if t]
    if not lines:
      continue
    first = lines[0][0]
    end = lines[-1][0]

    def need(k, what, lines=lines, end=end):
      if len(lines) <= k:
        raise ValueError(f"{filename}:{end}: the block of the video at line {lines[0][0]} ends "
                         f"before its {what}\n  expected the TAG proposal format:\n{TAG_FORMAT}")
      return lines[k]

    video_id = lines[0][1]
    (l1, frames), (l2, fps) = need(1, "frame count"), need(2, "fps")
    num_frames = int(_number(frames, float, "frame count", f"{filename}:{l1}") *
                     _number(fps, float, "fps", f"{filename}:{l2}"))
    l3, text = need(3, "number of ground-truth segments")
    num_gts = _number(text, int, "number of ground-truth segments", f"{filename}:{l3}")
    need(3 + num_gts, "ground-truth segments and number of proposals")
    gts = _rows(lines, 4, num_gts, (int, int, int), "ground-truth", filename)
    l4, text = lines[4 + num_gts]
    num_proposals = _number(text, int, "number of proposals", f"{filename}:{l4}")
    if num_proposals:
      need(4 + num_gts + num_proposals, f"{num_proposals} proposals")
    proposals = _rows(lines, 5 + num_gts, num_proposals, (int, float, float, int, int),
                      "proposal", filename)
    extra = lines[5 + num_gts + num_proposals:]
    if extra:
      raise ValueError(f"{filename}:{extra[0][0]}: line {extra[0][1]!r} follows the "
                       f"{num_proposals} proposals of video {video_id!r}; its counts "
                       f"({num_gts} ground truths, {num_proposals} proposals) do not match its "
                       f"lines\n  expected the TAG proposal format:\n{TAG_FORMAT}")
    videos.append(TagVideo(video_id, num_frames, gts, proposals, first))
  return videos


def proposals_per_video(sampler: Mapping[str, Any]) -> tuple[int, int, int]:
  """(positive, background, incomplete) proposals drawn per video from
  ``train_cfg.ssn.sampler``, with MMAction2's integer truncations."""
  total = sampler["positive_ratio"] + sampler["background_ratio"] + sampler["incomplete_ratio"]
  positive = int(sampler["num_per_video"] * (sampler["positive_ratio"] / total))
  background = int(sampler["num_per_video"] * (sampler["background_ratio"] / total))
  return positive, background, sampler["num_per_video"] - positive - background


def parse_stage_config(stage_cfg) -> tuple[tuple[int, ...], int]:
  """One STPP stage: ``n`` -> ((n,), n); ``(a, b, ...)`` -> ((a, b, ...), a + b + ...)
  (lists read as tuples, which configs turn them into)."""
  if isinstance(stage_cfg, (int, np.integer)) and not isinstance(stage_cfg, bool):
    return (int(stage_cfg),), int(stage_cfg)
  if isinstance(stage_cfg, (tuple, list)) and all(isinstance(x, (int, np.integer))
                                                  for x in stage_cfg):
    parts = tuple(int(x) for x in stage_cfg)
    return parts, sum(parts)
  raise ValueError(f'Incorrect STPP config {stage_cfg}')


# ------------------------------------------------------------------ test-time STPP
def part_ticks(left, right, num_parts: int) -> list[np.ndarray]:
  """The ``num_parts + 1`` boundaries MMAction2's ``STPPTest`` cuts ``[left, right]`` at:
  ``torch.arange(left, right + 1e-5, step).int()`` with ``step = (right - left) / num_parts``
  in float32 and the values ``left + i * step`` computed in float64, rounded to float32."""
  left = np.asarray(left, np.int64)
  step = ((np.asarray(right, np.float32) - left.astype(np.float32)) / np.float32(num_parts)
          ).astype(np.float32)
  return [(left + i * step.astype(np.float64)).astype(np.float32).astype(np.int64)
          for i in range(num_parts + 1)]


def _range_means(cum: np.ndarray, lo: np.ndarray, hi: np.ndarray, cols: slice) -> np.ndarray:
  """Mean of rows ``[lo, hi)`` (clipped to the rows there are) of the scores whose prefix sums
  are ``cum`` ((T + 1, D), float64), columns ``cols``; an empty range gives NaN, as torch's
  mean of an empty slice."""
  t = cum.shape[0] - 1
  lo, hi = np.clip(lo, 0, t), np.clip(hi, 0, t)
  total = cum[hi, cols] - cum[lo, cols]
  with np.errstate(divide='ignore', invalid='ignore'):
    return total / (hi - lo)[:, None]


def stpp_test_scores(test_scores, proposal_ticks, scale_factors, num_classes: int,
                     stpp_stage=(1, (1, 2), 1), use_regression: bool = True):
  """MMAction2's ``STPPTest`` on one video: (activity, completeness, regression) scores per
  proposal from the test fc's per-tick scores.

  Args:
    test_scores: ``(T, D)`` ticks x [activity (K + 1) | completeness (M x K) | regression
      (M x 2K)] as ``SSNHead.test_fc`` gives them (M: the STPP's parts).
    proposal_ticks: ``(P, 4)`` int ticks of each proposal's augmented start, start, end and
      augmented end.
    scale_factors: ``(P, 2)`` the starting and ending stages' scale factors.

  Returns:
    ``(P, K + 1)``, ``(P, K)`` and ``(P, 2K)`` (None without regression) float32: the activity
    scores averaged over the course ticks, the others summed over the STPP parts, each part
    averaged over its ticks and scaled (starting and ending stage) as MMAction2 does.
  """
  scores = np.asarray(test_scores, np.float32)
  ticks = np.asarray(proposal_ticks, np.int64).reshape(-1, 4)
  scale = np.asarray(scale_factors, np.float32).reshape(-1, 2)
  stages = tuple(parse_stage_config(s)[0] for s in stpp_stage)
  multipliers = sum(sum(s) for s in stages)
  act_len, comp_len, reg_len = num_classes + 1, num_classes, 2 * num_classes
  want = act_len + multipliers * (comp_len + (reg_len if use_regression else 0))
  if scores.ndim != 2 or scores.shape[1] != want:
    raise ValueError(f"test scores of shape {scores.shape}: expected (ticks, {want}) for "
                     f"{num_classes} classes, STPP {stpp_stage} and use_regression="
                     f"{use_regression}")
  t = scores.shape[0]
  cum = np.concatenate([np.zeros((1, want)), np.cumsum(scores, axis=0, dtype=np.float64)])
  # Activity: the course ticks [start, max(start + 1, end)).
  activity = _range_means(cum, ticks[:, 1], np.maximum(ticks[:, 1] + 1, ticks[:, 2]),
                          slice(0, act_len))

  def pyramid(first: int, score_len: int) -> np.ndarray:
    out = np.zeros((len(ticks), score_len))
    offset = 0
    for s, parts in enumerate(stages):
      factor = (scale[:, 0] if s == 0 else scale[:, 1] if s == len(stages) - 1 else
                np.ones(len(ticks), np.float32)).astype(np.float64)
      left = ticks[:, s]
      right = np.maximum(ticks[:, s] + 1, ticks[:, s + 1]).astype(np.float64)
      stage_used = ~((right <= 0) | (left >= t))
      for n in parts:
        bounds = part_ticks(left, right, n)
        for i in range(n):
          lo, hi = bounds[i], bounds[i + 1]
          cols = slice(first + offset * score_len, first + (offset + 1) * score_len)
          used = stage_used & (hi - lo >= 1)
          if used.any():
            means = _range_means(cum, lo, hi, cols) * factor[:, None]
            out += np.where(used[:, None], means, 0.0)
          offset += 1
    return out.astype(np.float32)

  completeness = pyramid(act_len, comp_len)
  regression = (pyramid(act_len + multipliers * comp_len, reg_len) if use_regression else None)
  return activity.astype(np.float32), completeness, regression


def video_result(test_scores, test_inputs: Mapping[str, Any], num_classes: int,
                 stpp_stage=(1, (1, 2), 1), use_regression: bool = True) -> dict:
  """One video's result as MMAction2's ``SSN.forward_test`` returns it: ``relative_proposal_list``
  and the STPP-pooled ``activity_scores``, ``completeness_scores`` and ``bbox_preds``
  ((P, K, 2), de-normalised with ``reg_norm_consts``; None without regression).
  ``test_inputs``: ``SSNDataset.test_inputs`` (proposal ticks, scale factors, constants)."""
  activity, completeness, reg = stpp_test_scores(
      test_scores, test_inputs['proposal_tick_list'], test_inputs['scale_factor_list'],
      num_classes, stpp_stage, use_regression)
  if reg is not None:
    consts = np.asarray(test_inputs['reg_norm_consts'])
    reg = reg.reshape(-1, num_classes, 2)
    reg[:, :, 0] = reg[:, :, 0] * consts[1, 0] + consts[0, 0]
    reg[:, :, 1] = reg[:, :, 1] * consts[1, 1] + consts[0, 1]
  return dict(relative_proposal_list=np.asarray(test_inputs['relative_proposal_list']),
              activity_scores=activity, completeness_scores=completeness, bbox_preds=reg)


# ------------------------------------------------------------------ post-processing
def perform_regression(detections) -> np.ndarray:
  """Rows ``[start, end, score, center_reg, duration_reg]`` -> the regressed ``[start, end]``
  (clipped to [0, 1]) with the other columns kept."""
  detections = np.asarray(detections)
  starts, ends = detections[:, 0], detections[:, 1]
  centers = (starts + ends) / 2
  durations = ends - starts
  new_centers = centers + durations * detections[:, 3]
  new_durations = durations * np.exp(detections[:, 4])
  return np.concatenate((np.clip(new_centers - new_durations / 2, 0, 1)[:, None],
                         np.clip(new_centers + new_durations / 2, 0, 1)[:, None],
                         detections[:, 2:]), axis=1)


def temporal_nms(detections, threshold: float) -> np.ndarray:
  """Greedy NMS of rows ``[start, end, score, ...]``: keeps the best, drops the rows whose IoU
  with it exceeds ``threshold`` (NaN IoUs too), repeats; the kept rows best first."""
  detections = np.asarray(detections)
  starts, ends = detections[:, 0], detections[:, 1]
  order = descending_order(detections[:, 2])
  keep = []
  while order.size > 0:
    i = order[0]
    keep.append(i)
    ious = temporal_iou(starts[order[1:]], ends[order[1:]], starts[i], ends[i])
    order = order[np.where(ious <= threshold)[0] + 1]
  return detections[keep, :]


def results_to_detections(results: Sequence[Mapping[str, Any]], video_ids: Sequence[str],
                          top_k: int = 2000, **kwargs) -> list[dict]:
  """Per class, ``{video_id: rows [start, end, score, center_reg, duration_reg]}``: each
  proposal scored ``softmax(activity[1:]) * exp(completeness)`` per class; with ``top_k > 0``
  only the video's ``top_k`` best (proposal, class) pairs, in ascending score order (MMAction2's
  ``SSNDataset.results_to_detections``; the other evaluater keys are unused there too)."""
  del kwargs
  num_classes = results[0]['activity_scores'].shape[1] - 1
  detections = [dict() for _ in range(num_classes)]
  for video_id, result in zip(video_ids, results):
    proposals = np.asarray(result['relative_proposal_list'])
    if proposals.ndim == 3:
      proposals = np.squeeze(proposals, 0)
    regression = result['bbox_preds']
    if regression is None:
      regression = np.zeros((len(proposals), num_classes, 2), dtype=np.float32)
    regression = np.asarray(regression).reshape((-1, num_classes, 2))
    combined = (softmax(np.asarray(result['activity_scores'])[:, 1:], dim=1) *
                np.exp(np.asarray(result['completeness_scores'])))
    if top_k <= 0:
      for i in range(num_classes):
        detections[i][video_id] = np.concatenate(
            (proposals, combined[:, i][:, None], regression[:, i, 0][:, None],
             regression[:, i, 1][:, None]), axis=1)
      continue
    keep = np.argsort(combined.ravel(), kind='stable')[-top_k:]
    rows: dict[int, list] = {}
    for k in keep:
      c, p = k % num_classes, k // num_classes
      rows.setdefault(c, []).append([proposals[p, 0], proposals[p, 1], combined[p, c],
                                     regression[p, c, 0], regression[p, c, 1]])
    for c, r in rows.items():
      detections[c][video_id] = np.array(r)
  return detections


def eval_ap(detections: Mapping[int, list], gt_by_cls: Mapping[int, Mapping[str, list]],
            iou_range) -> np.ndarray:
  """``(num_classes, len(iou_range))`` detection APs: per class, rows ``[video_id, class_idx,
  start, end, score]`` against that class's ``{video_id: [[start, end], ...]}``."""
  ap_values = np.zeros((len(detections), len(iou_range)))
  for iou_idx, min_overlap in enumerate(iou_range):
    for class_idx in range(len(detections)):
      ap_values[class_idx, iou_idx] = average_precision_at_temporal_iou(
          gt_by_cls[class_idx], detections[class_idx], [min_overlap])[0]
  return ap_values


def thumos14_map(results: Sequence[Mapping[str, Any]], video_ids: Sequence[str],
                 gts: Mapping[int, Mapping[str, list]], evaluater: Mapping[str, Any],
                 use_regression: bool = True) -> collections.OrderedDict:
  """``SSNDataset.evaluate``'s ``mAP`` with ``eval_dataset='thumos14'``: detections
  (``results_to_detections`` with the evaluater's ``top_k``), regression when
  ``use_regression``, per-class temporal NMS at ``evaluater['nms']``, then the mean over
  classes of the AP at tIoU 0.1, 0.2, ..., 0.9, keyed ``mAP@0.10`` ... ``mAP@0.90``.
  ``gts``: per class index (label - 1), ``{video_id: [[start, end], ...]}`` relative times."""
  detections = results_to_detections(results, video_ids, **dict(evaluater))
  if use_regression:
    detections = [{k: perform_regression(v) for k, v in d.items()} for d in detections]
  detections = [{k: temporal_nms(v, evaluater['nms']) for k, v in d.items()} for d in detections]
  gts = {c: dict(gts.get(c, {})) for c in range(len(detections))}
  plain = {c: [[video, c] + row[:3] for video, rows in d.items() for row in rows.tolist()]
           for c, d in enumerate(detections)}
  ap_values = eval_ap(plain, gts, THUMOS14_IOU_RANGE)
  return collections.OrderedDict(
      (f'mAP@{iou:.02f}', float(m)) for iou, m in zip(THUMOS14_IOU_RANGE, ap_values.mean(axis=0)))


# ------------------------------------------------------------------ evaluators
def _test_source(source, who: str):
  if not hasattr(source, "video_chunks") or not getattr(source, "test_mode", False):
    raise TypeError(f"{who} evaluates an SSNDataset in test mode (test_mode=True), whose "
                    f"samples are tick chunks of a video; got {type(source).__name__}")
  return source


def video_results(predictions: Mapping[str, np.ndarray], source, num_classes: int,
                  stpp_stage, use_regression: bool, key: str = "tick_scores") -> list[dict]:
  """Each video's MMAction2 test result from the per-chunk tick scores of ``source`` (an
  ``SSNDataset`` in test mode), chunks put back together in order."""
  scores = np.asarray(predictions[key])
  results = []
  for video, chunks in enumerate(source.video_chunks()):
    ticks = np.concatenate([scores[i, :n] for i, n in chunks], axis=0)
    results.append(video_result(ticks, source.test_inputs(video), num_classes, stpp_stage,
                                use_regression))
  return results


@dataclasses.dataclass(frozen=True)
class SSNDetectionMAP:
  """MMAction2's SSN ``mAP`` (``SSNDataset.evaluate``): THUMOS14 keys ``mAP@0.10`` ...
  ``mAP@0.90``. ``head``: (num_classes, stpp_stage, use_regression) of the model's head;
  ``options``: ``metric_options`` (``mAP.eval_dataset``, 'thumos14' only)."""

  num_classes: int
  stpp_stage: tuple
  use_regression: bool
  options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  key: str = "tick_scores"
  predictor: str = "predict"

  def __call__(self, predictions, targets=None, source=None) -> dict[str, float]:
    source = _test_source(source, type(self).__name__)
    results = video_results(predictions, source, self.num_classes, self.stpp_stage,
                            self.use_regression, self.key)
    return dict(source.evaluate(results, 'mAP', dict(self.options)))


@dataclasses.dataclass(frozen=True)
class SSNResultsWriter:
  """``test.out``: MMAction2's test output for SSN, one result dict per video (a .pkl list:
  ``relative_proposal_list``, ``activity_scores``, ``completeness_scores``, ``bbox_preds``)."""

  path: str
  num_classes: int
  stpp_stage: tuple
  use_regression: bool
  key: str = "tick_scores"
  predictor: str = "predict"
  writes_files = True

  def __call__(self, predictions, targets=None, source=None) -> dict[str, float]:
    if not self.path.endswith((".pkl", ".pickle")):
      raise ValueError(f"test.out={self.path!r}: SSN results are dicts of arrays per video; use a "
                       ".pkl file name")
    source = _test_source(source, type(self).__name__)
    results = video_results(predictions, source, self.num_classes, self.stpp_stage,
                            self.use_regression, self.key)
    os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
    tmp = f"{self.path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
      pickle.dump(results, f)
    os.replace(tmp, self.path)
    return {}
