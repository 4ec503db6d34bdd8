"""Temporal action detection with MMAction2's SSN (Structured Segment Networks) on THUMOS14.

Reads from the model config: ``cls_head`` (classes, STPP stages, ``use_regression``),
``train_cfg.ssn`` (the sampler's proposals per video, the loss weights), ``test_cfg.ssn`` and
the backbone's ``pretrained``; from the data config ``img_norm_cfg``.

Batches (``SSNDataset`` + ``SampleProposalFrames``): training ``imgs`` (N, P, S, H, W, C) (P
proposals per video, S segments each) with ``proposal_scale_factor`` (N, P, 2) as model
inputs and ``proposal_type``, ``proposal_labels``, ``reg_targets`` as loss targets; testing
``imgs`` (N, T, H, W, C), T ticks of a chunk of a video (padded, ``tick_mask``). The predictor
returns the reorganised test fc's scores per tick, (N, T, D); the evaluators put each video's
chunks together, pool them over its proposals (STPPTest) and compute MMAction2's THUMOS14
``mAP@0.10`` ... ``mAP@0.90``; a test run's ``test.out`` writes MMAction2's per-video results.
One crop per tick at test time, as MMAction2's SSN configs (``CenterCrop``); MMAction2 averages
"crops" over its batch axis of one video, which a chunked batch of several has no use for.
"""

from __future__ import annotations

from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from vjax.data import ops_proposals  # noqa: F401  (registers SampleProposalFrames)
from vjax.data.sources import ssn as ssn_source  # noqa: F401  (registers SSNDataset)
from vjax.localization import ssn as ssn_utils
from vjax.models import build_model
from vjax.models.heads.ssn_head import test_pooling
from vjax.models.localizers.ssn_losses import ssn_loss_terms
from vjax.registry import to_dict
from vjax.tasks.base import Task
from vjax.tasks.recognition import normalize

# Frame size of the stand-in input when no data is given: MMAction2's 224 crops.
_STAND_IN_SIZE = 224


def _crop_size(config) -> int:
  """The frame size the config's test (else val, train) pipeline crops to, or 224."""
  for split in ("test", "val", "train"):
    ops = (config.data.get(split) or {}).get("pipeline") or []
    for op in ops:
      if op.get("type") in ("CenterCrop", "RandomCrop") and op.get("crop_size"):
        size = op["crop_size"]
        return int(size if isinstance(size, int) else size[0])
  return _STAND_IN_SIZE


class SSNTask(Task):
  """SSN: proposal classification (activity), completeness and boundary regression."""

  name = "ssn"
  metrics = ("mAP",)
  predict_output = "tick_scores"

  @classmethod
  def accepts(cls, model_cfg: Mapping[str, Any]) -> bool:
    return model_cfg.get("type") == "SSN"

  def __init__(self, config):
    super().__init__(config)
    norm = config.data.get("img_norm_cfg")
    self.norm_cfg = to_dict(norm) if norm else None
    self.head_cfg = dict(self.model_cfg["cls_head"])
    self.train_cfg = self.model_cfg.get("train_cfg")
    loss = (self.model_cfg.get("loss_cls") or {}).get("type", "SSNLoss")
    if loss != "SSNLoss":
      raise ValueError(f"SSN's loss_cls must be SSNLoss, got {loss!r}")
    self.stpp = test_pooling(self.head_cfg)
    self.in_channels = self.model_cfg.get("in_channels", 3)
    self.crop_size = _crop_size(config)

  def build_model(self, *, norm_groups=None, dtype=jnp.float32):
    return build_model(self.model_cfg, norm_groups=norm_groups, dtype=dtype)

  @property
  def input_keys(self) -> tuple[str, ...]:
    return ("imgs", "proposal_scale_factor")

  def init_inputs(self, sample=None) -> tuple:
    """Training samples give (imgs, proposal_scale_factor); test samples and no sample give
    tick frames (imgs only), which create the same parameters."""
    if sample is not None and "proposal_scale_factor" in sample:
      return tuple(np.zeros((1,) + np.shape(sample[k]), np.float32) for k in self.input_keys)
    if sample is not None:
      return (np.zeros((1,) + np.shape(sample["imgs"]), np.float32),)
    size = self.crop_size
    return (np.zeros((1, 1, size, size, self.in_channels), np.float32),)

  def pretrained(self, abstract_variables):
    from vjax.convert import pretrained  # pylint: disable=g-import-not-at-top
    if not pretrained.wants_pretrained(self.model_cfg):
      return None
    return pretrained.pretrained_variables(self.model_cfg, abstract_variables)

  # ---- device --------------------------------------------------------------------------

  def preprocess(self, batch):
    batch = dict(batch)
    batch["imgs"] = normalize(batch["imgs"], self.norm_cfg)
    return batch

  def loss(self, model, variables, batch, key):
    return self._loss(model, variables, batch, key, train=True)

  def val_loss(self, model, variables, batch, key):
    return self._loss(model, variables, batch, key, train=False)[:2]

  def _loss(self, model, variables, batch, key, train: bool):
    if not self.train_cfg:
      raise ValueError("SSN training needs model.train_cfg (MMAction2's train_cfg=dict(ssn=...))")
    b = self.preprocess(batch)
    if train:
      outputs, new_vars = model.apply(variables, b["imgs"], b["proposal_scale_factor"],
                                      rngs={"dropout": key}, mutable=["batch_stats"],
                                      method=model.forward_train)
      batch_stats = new_vars["batch_stats"]
    else:
      outputs = model.apply(variables, b["imgs"], b["proposal_scale_factor"], False,
                            method=model.forward_train)
      batch_stats = variables["batch_stats"]
    outputs = jax.tree.map(lambda a: a.astype(jnp.float32), outputs)
    types = batch["proposal_type"]
    valid = batch.get("valid")
    weights = None if valid is None else jnp.broadcast_to(valid[:, None], types.shape)
    terms = ssn_loss_terms(outputs["activity_scores"], outputs["completeness_scores"],
                           outputs.get("bbox_preds"), types, batch["proposal_labels"],
                           batch["reg_targets"], self.train_cfg, weights)
    total = sum(v for k, v in terms.items() if "loss" in k)
    return total, terms, batch_stats

  def batch_statistics(self, model, variables, batch, key):
    b = self.preprocess(batch)
    _, new_vars = model.apply(variables, b["imgs"], b["proposal_scale_factor"],
                              rngs={"dropout": key}, mutable=["batch_stats"],
                              method=model.forward_train)
    return new_vars["batch_stats"]

  def predictors(self):
    def tick_scores(model, variables, batch):
      return {"tick_scores": model.apply(variables, self.preprocess(batch)["imgs"],
                                         method=model.tick_scores)}
    return {"predict": tick_scores}

  def forward_test(self, model, variables, inputs) -> dict:
    """MMAction2's ``SSN.forward_test`` for one video: ``inputs`` as SSNDataset's test
    sample gives them (``imgs`` uint8 (crops, T, H, W, C), ``relative_proposal_list``,
    ``scale_factor_list``, ``proposal_tick_list``, ``reg_norm_consts``)."""
    inputs = dict(inputs)
    imgs = self.preprocess({"imgs": inputs.pop("imgs")})["imgs"]
    return model.apply(variables, imgs, **inputs, method=model.forward_test)

  # ---- host ----------------------------------------------------------------------------

  def _head(self) -> dict:
    return dict(num_classes=self.stpp.num_classes, stpp_stage=self.stpp.stpp_stage,
                use_regression=self.stpp.use_regression)

  def evaluators(self, metrics, options=None):
    unknown = [m for m in metrics if m not in self.metrics]
    if unknown:
      raise KeyError(f"evaluation.metrics {unknown} are not supported by the {self.name} task; "
                     f"it supports {list(self.metrics)}")
    return [ssn_utils.SSNDetectionMAP(options=dict(options or {}), **self._head())
            for _ in metrics]

  def prediction_writer(self, path: str, predictor: str = "predict"):
    if predictor != "predict":
      raise ValueError(f"the SSN task writes its test results, not {predictor!r}")
    return ssn_utils.SSNResultsWriter(path, **self._head())
