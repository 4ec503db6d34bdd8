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


_FACTORIES: dict[str, Callable[[str, Mapping[str, Any]], Any]] = {
    **{m: lambda name, options: RecognitionMetric(name, options) for m in RECOGNITION_METRICS},
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
