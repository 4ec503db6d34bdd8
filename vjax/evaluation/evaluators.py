"""Evaluators: host-side consumers of a task's predictions, chosen by name from config.

The trainer runs each predict function a task offers once per evaluation pass, drops the
padding rows (the loader's ``valid`` flags) and puts the rows in dataset order; every
evaluator then gets ``(predictions, targets, source)``: the predict function's outputs and the
batch's non-input fields (``label``, masks ...) as numpy arrays with one row per sample, and
the data source (for per-sample metadata by index). It returns result keys for logging and
``save_best``; ``predictor`` names the predict function it reads.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
from typing import Any, Callable, Mapping

import numpy as np

from vjax.evaluation import localization
from vjax.evaluation.metrics import evaluate_recognition, hvu_mean_average_precision

# The metric names MMAction2's recognition datasets accept.
RECOGNITION_METRICS = ("top_k_accuracy", "mean_class_accuracy", "mean_average_precision",
                       "mmit_mean_average_precision")


@dataclasses.dataclass(frozen=True)
class RecognitionMetric:
  """One of MMAction2's recognition metrics over ``scores`` (N, K) and ``label`` (class
  indices, or many-hot rows for the mAP metrics), keyed as MMAction2 keys it."""

  metric: str
  options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  predictor: str = "predict"

  def __call__(self, predictions, targets, source=None) -> dict[str, float]:
    return dict(evaluate_recognition(predictions["scores"], targets["label"], [self.metric],
                                     dict(self.options) or None))


@dataclasses.dataclass(frozen=True)
class HVUCategoryMAP:
  """HVU's ``mean_average_precision``: one ``{category}_mAP`` per tag category, over the
  videos annotated with it (``category_mask``), as MMAction2's HVUDataset evaluates."""

  categories: tuple[str, ...]
  category_nums: tuple[int, ...]
  predictor: str = "predict"

  def __call__(self, predictions, targets, source=None) -> dict[str, float]:
    return dict(hvu_mean_average_precision(predictions["scores"], targets["label"],
                                           self.categories, self.category_nums,
                                           targets.get("category_mask")))


def dump_results(rows, path: str) -> None:
  """Per-sample arrays in dataset order, as MMAction2's ``--out`` (a .pkl or .json list)."""
  if not (path.endswith((".pkl", ".pickle", ".json"))):
    raise ValueError(f"test.out={path!r}: use a .pkl or .json file name")
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  rows = [np.asarray(r, np.float32) for r in rows]
  tmp = f"{path}.tmp{os.getpid()}"
  if path.endswith(".json"):
    with open(tmp, "w") as f:
      json.dump([r.tolist() for r in rows], f)
  else:
    with open(tmp, "wb") as f:
      pickle.dump(rows, f)
  os.replace(tmp, path)  # never a half-written results file


@dataclasses.dataclass(frozen=True)
class SavePredictions:
  """Writes one predict output (``key``) per sample to ``path``; computes no metric. Test
  runs with ``test.out`` and feature extraction use it, as will BSN's stages."""

  path: str
  key: str = "scores"
  predictor: str = "predict"
  writes_files = True  # only process 0 runs it

  def __call__(self, predictions, targets=None, source=None) -> dict[str, float]:
    dump_results(predictions[self.key], self.path)
    return {}


def _as_proposal_list(proposals) -> list[dict]:
  """A proposal list as is, or ``(k, >=3)`` rows ``[t_start, t_end, ..., score]`` (seconds)
  as one."""
  if isinstance(proposals, (list, tuple)) and all(isinstance(p, Mapping) for p in proposals):
    return list(proposals)
  rows = np.asarray(proposals, dtype=np.float64)
  rows = rows.reshape(-1, rows.shape[-1]) if rows.size else np.zeros((0, 3))
  return [{'score': float(r[-1]), 'segment': [float(r[0]), float(r[1])]} for r in rows]


def _video_infos(source, who: str) -> list:
  infos = getattr(source, "video_infos", None)
  if infos is None:
    raise TypeError(f"{who} needs the evaluated data source's video_infos (ActivityNet-style "
                    f"video_name / annotations); {type(source).__name__} has none")
  return list(infos)


@dataclasses.dataclass(frozen=True)
class _ProposalEvaluator:
  """Shared by the localization evaluators: one proposal list per video of the source.

  ``predictions[key][i]`` is video i's proposal list (``[{'score', 'segment'}, ...]`` in
  seconds, as ``vjax.localization.post_processing`` returns it) or its ``(k, 3)`` rows
  ``[t_start, t_end, score]``. A task whose predict function returns the network's raw
  outputs instead passes ``postprocess(predictions, i, video_info) -> proposal list`` (e.g.
  BMN's ``bmn_candidate_proposals`` + ``post_processing``).
  """

  options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  key: str = "proposal_list"
  postprocess: Callable[[Mapping[str, Any], int, Mapping[str, Any]], list] | None = None
  predictor: str = "predict"

  def results(self, predictions, source) -> tuple[list[dict], list]:
    infos = _video_infos(source, type(self).__name__)
    results = []
    for i, info in enumerate(infos):
      proposals = (self.postprocess(predictions, i, info) if self.postprocess is not None
                   else predictions[self.key][i])
      results.append({"video_name": info["video_name"],
                      "proposal_list": _as_proposal_list(proposals)})
    return results, infos


@dataclasses.dataclass(frozen=True)
class ProposalAverageRecall(_ProposalEvaluator):
  """``AR@AN``: MMAction2's ActivityNetDataset.evaluate (keys ``auc``, ``AR@1``, ``AR@5``,
  ``AR@10``, ``AR@100``); ``options`` is ``metric_options['AR@AN']`` (``max_avg_proposals``,
  ``temporal_iou_thresholds``)."""

  def __call__(self, predictions, targets=None, source=None) -> dict[str, float]:
    results, infos = self.results(predictions, source)
    return dict(localization.evaluate_proposals(results, infos, ["AR@AN"],
                                                {"AR@AN": dict(self.options)}))


@dataclasses.dataclass(frozen=True)
class DetectionMAP(_ProposalEvaluator):
  """ActivityNet detection mAP of the proposals, each labelled with its video's top-1 class
  from video-level classification results (what ``report_map.py`` does after a test run).

  ``options``: ``classification`` (required: a JSON file, or its loaded dict, ``{"results":
  {id: [{"label", "score"}, ...]}}`` such as ``cuhk_anet17_pred.json``),
  ``tiou_thresholds`` (default 0.5:0.05:0.95). The ground truth is the source's video_infos.
  Keys: ``mAP@<t>`` per threshold (``mAP@0.50`` ...) and ``average_mAP``; MMAction2 itself
  reports these only from ``report_map.py``.
  """

  def __call__(self, predictions, targets=None, source=None) -> dict[str, float]:
    if "classification" not in self.options:
      raise KeyError("the localization 'mAP' metric needs metric_options['mAP']"
                     "['classification'], the video-level classification results (JSON)")
    thresholds = np.asarray(self.options.get("tiou_thresholds",
                                              localization.DEFAULT_TIOU_THRESHOLDS))
    results, infos = self.results(predictions, source)
    classification = localization._load_json(self.options["classification"])["results"]
    detections = {"results": localization.assign_top1_labels(
        {r["video_name"][2:]: r["proposal_list"] for r in results}, classification)}
    ground_truth = {info["video_name"]: {"annotations": info["annotations"]} for info in infos}
    m_ap, average = localization.detection_map(ground_truth, detections, thresholds)
    out = {f"mAP@{t:.2f}": float(v) for t, v in zip(thresholds, m_ap)}
    out["average_mAP"] = average
    return out


@dataclasses.dataclass(frozen=True)
class ProposalResultsWriter(_ProposalEvaluator):
  """``output_config=dict(out=..., output_format='json')``: writes the proposal result JSON
  (MMAction2's ``dump_results``); computes no metric."""

  path: str = "results.json"
  output_format: str = "json"
  writes_files = True  # only process 0 runs it

  def __call__(self, predictions, targets=None, source=None) -> dict[str, float]:
    from vjax.localization.results import dump_results  # pylint: disable=g-import-not-at-top
    results, _ = self.results(predictions, source)
    dump_results(results, self.path, self.output_format)
    return {}


@dataclasses.dataclass(frozen=True)
class TEMResultsWriter:
  """BSN-TEM's test output (``output_config=dict(out=tem_results_dir, output_format='csv')``):
  ``path/<video_name>.csv`` with columns ``action,start,end,tmin,tmax`` per video, the files
  BSN's proposal generation reads; computes no metric. ``video_result(predictions, i,
  video_info)`` gives video i's ``(video_name, rows)`` (the TEM task's)."""

  path: str
  video_result: Callable[[Mapping[str, Any], int, Mapping[str, Any]], tuple]
  predictor: str = "predict"
  writes_files = True  # only process 0 runs it

  def __call__(self, predictions, targets=None, source=None) -> dict[str, float]:
    from vjax.localization.results import dump_results as dump_localization  # pylint: disable=g-import-not-at-top
    infos = _video_infos(source, type(self).__name__)
    dump_localization([self.video_result(predictions, i, info) for i, info in enumerate(infos)],
                      self.path, "csv")
    return {}


# Localization metric names as MMAction2's configs spell them. 'AR@AN' is registered for
# every task; 'mAP' means AVA's frame mAP elsewhere in MMAction2, so a localization task
# builds its 'mAP' with ``build_localization``.
LOCALIZATION_EVALUATORS = {"AR@AN": ProposalAverageRecall, "mAP": DetectionMAP}


def build_localization(name: str, options: Mapping[str, Any] | None = None, **kwargs):
  """A localization evaluator by metric name; ``options`` is ``evaluation.metric_options``
  (its entry for ``name`` is used); ``kwargs``: ``key``, ``postprocess``, ``predictor``."""
  if name not in LOCALIZATION_EVALUATORS:
    raise KeyError(f"unknown localization metric {name!r}; known: "
                   f"{sorted(LOCALIZATION_EVALUATORS)}")
  return LOCALIZATION_EVALUATORS[name](dict((options or {}).get(name) or {}), **kwargs)


_FACTORIES: dict[str, Callable[[str, Mapping[str, Any]], Any]] = {
    **{m: lambda name, options: RecognitionMetric(name, options) for m in RECOGNITION_METRICS},
    "AR@AN": build_localization,
}


def register(name: str, factory: Callable[[str, Mapping[str, Any]], Any]) -> None:
  """Adds an evaluator name (a task module registers the ones its family brings)."""
  if name in _FACTORIES:
    raise KeyError(f"evaluator {name!r} is already registered")
  _FACTORIES[name] = factory


def build(name: str, options: Mapping[str, Any] | None = None):
  """The evaluator for metric ``name``; ``options`` is ``evaluation.metric_options``."""
  if name not in _FACTORIES:
    raise KeyError(f"unknown evaluation metric {name!r}; known: {sorted(_FACTORIES)}")
  return _FACTORIES[name](name, dict(options or {}))
