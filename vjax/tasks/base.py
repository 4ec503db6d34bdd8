"""The seam between one trainer and many model families.

A task owns what is specific to a family (recognition, multi-label tagging, localization,
skeletons, detection): the model it builds, the example inputs that shape initialisation,
on-device preprocessing, the loss as a total plus named terms, predict functions with fixed
output shapes, the evaluators it supports and the model-config keys it reads. The trainer
(``vjax.train.loop``) owns the mesh, optimizer, schedule, step loop, evaluation scheduling,
checkpoints and logs, and calls only the methods below; demos, export and ``vjax.inference``
call the same ``predict``.

Batches are dicts of fixed-shape arrays whose keys the pipeline's ``Collect`` chose (variable
fields padded with a mask by a pipeline op). Evaluation batches also carry the loader's
``valid`` (False on padding rows) and ``index`` (dataset index). Everything except the
task's ``input_keys`` is handed back to the host evaluators as targets.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from vjax.registry import to_dict

# A predict function: (model, variables, batch) -> {name: (N, ...) array}, jitted by callers.
PredictFn = Callable[[nn.Module, Mapping[str, Any], Mapping[str, jax.Array]], dict]


def sample_weights(batch, n: int):
  """Per-sample loss weights: the loader's ``valid`` flags, or all ones (training batches)."""
  valid = batch.get("valid")
  return jnp.ones((n,), bool) if valid is None else valid


class Task:
  """Base task. Subclasses set ``name``, ``metrics`` (evaluator names they support) and
  implement ``build_model``, ``init_inputs``, ``loss`` and ``predictors``."""

  name = "task"
  metrics: tuple[str, ...] = ()
  # The output of ``predict`` a test run writes to ``test.out``, one row per sample.
  predict_output = "scores"

  @classmethod
  def accepts(cls, model_cfg: Mapping[str, Any]) -> bool:
    """Whether this task serves ``model_cfg`` when the config names no task."""
    return False

  def __init__(self, config):
    self.config = config
    self.model_cfg = dict(to_dict(config.model))

  # ---- model ---------------------------------------------------------------------------

  def build_model(self, *, norm_groups: int | None = None, dtype=jnp.float32) -> nn.Module:
    raise NotImplementedError

  @property
  def input_keys(self) -> tuple[str, ...]:
    """Batch keys the model reads; the rest are targets for losses and evaluators."""
    raise NotImplementedError

  def init_inputs(self, sample: Mapping[str, Any] | None = None) -> tuple:
    """Positional model inputs for ``model.init``: a batch of one, float32 zeros shaped like
    ``sample`` (one pipeline output); without a sample, shaped from the config alone."""
    raise NotImplementedError

  def init_variables(self, model: nn.Module, rngs, inputs: tuple):
    return model.init(rngs, *inputs, train=False)

  def frozen_mask(self, model: nn.Module, params):
    """Bool tree like ``params``: True where the config freezes a parameter; None if none."""
    mask_fn = getattr(model, "frozen_mask", None)
    mask = mask_fn(params) if mask_fn is not None else None
    return mask if mask is not None and any(jax.tree.leaves(mask)) else None

  def pretrained(self, abstract_variables) -> tuple[dict, Any] | None:
    """``{(collection, *path): array}`` of pretrained weights the model config names, with a
    load report; None when it names none."""
    return None

  # ---- device --------------------------------------------------------------------------

  def preprocess(self, batch: Mapping[str, jax.Array]) -> dict:
    """On-device preprocessing of a batch (uint8 crosses the wire; normalise here)."""
    return dict(batch)

  def loss(self, model: nn.Module, variables, batch, key) -> tuple[jax.Array, dict, Any]:
    """``(total, log_vars, new batch_stats)``. ``log_vars`` holds every named loss term (and
    batch metrics such as ``top1_acc``), as MMAction2 logs them; ``key`` is this step's
    PRNG key (dropout, on-device augmentation)."""
    raise NotImplementedError

  def batch_statistics(self, model: nn.Module, variables, batch, key):
    """The ``batch_stats`` a train-mode forward of ``batch`` leaves, with no loss: what
    PreciseBN averages (``vjax.train.precise_bn``). By default the loss's forward."""
    return self.loss(model, variables, batch, key)[2]

  def val_loss(self, model: nn.Module, variables, batch, key) -> tuple[jax.Array, dict]:
    """``(total, log_vars)`` of ``batch`` in eval mode (running BN statistics, no dropout):
    MMAction2's ``val_step`` under ``model.eval()``, which ``workflow``'s val phase runs."""
    raise NotImplementedError(f"the {self.name} task computes no validation loss; remove the "
                              "('val', n) phase from config.workflow")

  def predictors(self) -> dict[str, PredictFn]:
    """Named predict functions with fixed output shapes; ``'predict'`` is the main one."""
    raise NotImplementedError

  def predict(self, model, variables, batch) -> dict:
    return self.predictors()["predict"](model, variables, batch)

  # ---- host ----------------------------------------------------------------------------

  def evaluators(self, metrics: Sequence[str], options: Mapping[str, Any] | None = None):
    """Evaluators for ``evaluation.metrics`` (each a name this task supports)."""
    from vjax.evaluation import evaluators  # pylint: disable=g-import-not-at-top
    unknown = [m for m in metrics if m not in self.metrics]
    if unknown:
      raise KeyError(f"evaluation.metrics {unknown} are not supported by the {self.name} task; "
                     f"it supports {list(self.metrics)}")
    return [evaluators.build(m, options or {}) for m in metrics]

  def prediction_writer(self, path: str, predictor: str = "predict"):
    """The evaluator that writes one predictor's main output per sample to ``path`` (a .pkl
    or .json list, as MMAction2's ``--out``) and computes no metric."""
    from vjax.evaluation import evaluators  # pylint: disable=g-import-not-at-top
    key = self.predict_output if predictor == "predict" else predictor
    return evaluators.SavePredictions(path, key=key, predictor=predictor)

  def test_predictor(self) -> str:
    """The predictor a test run reports (``'predict'``; recognition's feature-extraction
    configs make it ``'features'``)."""
    return "predict"


def zeros_like_sample(sample: Mapping[str, Any], keys: Sequence[str]) -> tuple:
  """float32 zero batches of one shaped like ``sample[k]`` for each of ``keys``."""
  return tuple(np.zeros((1,) + np.asarray(sample[k]).shape, np.float32) for k in keys)
