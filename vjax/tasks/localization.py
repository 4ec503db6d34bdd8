"""Temporal action proposal generation: BMN, and BSN's TEM and PEM stages (MMAction2's
``BaseTAPGenerator`` localizers) on the one trainer.

BMN and TEM read ``raw_feature`` (``LoadLocalizationFeature``'s ``(C, T)``, moved to
channels-last ``(T, C)`` on the device) and train on ``gt_bbox`` padded by ``PadTo`` with its
``gt_mask``; their labels are made on the device from the padded boxes
(``vjax.models.localizers.labels``), so a batch of videos with any number of actions is one
compiled step. PEM reads ``bsp_feature`` (``LoadProposals``, padded to ``top_k`` proposals
with ``proposal_mask``). Predictors return the networks' fixed-shape outputs; the evaluators
turn them into each video's proposal list on the host (``vjax.localization``), so AR@AN, the
detection mAP and the result files see what MMAction2's ``forward_test`` returns.

Reads from the model config: the localizer's own arguments (``temporal_dim``,
``boundary_ratio``, soft-NMS and ``post_process_top_k`` settings, ...); from the data config
nothing beyond the pipelines.
"""

from __future__ import annotations

from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from vjax.localization.proposals import (bmn_candidate_proposals, pem_proposals,
                                         post_processing, tem_results)
from vjax.models import build_model
from vjax.models.localizers import bmn as bmn_lib
from vjax.models.localizers import labels as labels_lib
from vjax.models.localizers import losses as losses_lib
from vjax.tasks.base import Task, sample_weights

_POST_PROCESSING = ("soft_nms_alpha", "soft_nms_low_threshold", "soft_nms_high_threshold",
                    "post_process_top_k")


def features_channels_last(raw_feature):
  """``(N, C, T)`` pipeline features (MMAction2's layout) -> float32 ``(N, T, C)``."""
  return jnp.swapaxes(raw_feature.astype(jnp.float32), 1, 2)


class _ProposalGenerator(Task):
  """What BMN, TEM and PEM share: the model type decides the task, the predict outputs are
  fixed-shape arrays, and the host turns one video's outputs into its proposal list."""

  model_type = ""
  metrics = ("AR@AN", "mAP")
  predict_output = "proposal_list"

  @classmethod
  def accepts(cls, model_cfg: Mapping[str, Any]) -> bool:
    return model_cfg.get("type") == cls.model_type

  def build_model(self, *, norm_groups=None, dtype=jnp.float32):
    del norm_groups  # no BatchNorm in these networks
    return build_model(self.model_cfg, dtype=dtype)

  def post_processing_args(self) -> dict:
    cfg = self.model_cfg
    return dict({k: cfg[k] for k in _POST_PROCESSING},
                feature_extraction_interval=cfg.get("feature_extraction_interval", 16))

  def rows(self, predictions, i: int) -> np.ndarray:
    """Video ``i``'s candidate rows ``[tmin, tmax, ..., score]`` for ``post_processing``."""
    raise NotImplementedError

  def proposals(self, predictions, i: int, video_info) -> list[dict]:
    """Video ``i``'s proposal list (seconds, best first), as MMAction2's ``forward_test``."""
    return post_processing(self.rows(predictions, i), video_info,
                           **self.post_processing_args())

  def video_result(self, predictions, i: int, video_meta) -> Any:
    """What MMAction2's ``forward_test`` returns for video ``i`` of ``predictions``:
    ``{'video_name', 'proposal_list'}``."""
    return {"video_name": video_meta["video_name"],
            "proposal_list": self.proposals(predictions, i, video_meta)}

  def evaluators(self, metrics, options=None):
    from vjax.evaluation import evaluators  # pylint: disable=g-import-not-at-top
    unknown = [m for m in metrics if m not in self.metrics]
    if unknown:
      raise KeyError(f"evaluation.metrics {unknown} are not supported by the {self.name} task; "
                     f"it supports {list(self.metrics)}")
    return [evaluators.build_localization(m, options, postprocess=self.proposals)
            for m in metrics]

  def prediction_writer(self, path: str, predictor: str = "predict"):
    """``output_config``: the proposal result JSON (MMAction2's ``dump_results``)."""
    from vjax.evaluation import evaluators  # pylint: disable=g-import-not-at-top
    return evaluators.ProposalResultsWriter(postprocess=self.proposals, path=path,
                                            predictor=predictor)

  def val_loss(self, model, variables, batch, key):
    total, log_vars, _ = self.loss(model, variables, batch, key)
    return total, log_vars


class _FeatureSequenceTask(_ProposalGenerator):
  """BMN and TEM: a ``raw_feature`` sequence in, labels from padded ``gt_bbox`` rows."""

  @property
  def input_keys(self) -> tuple[str, ...]:
    return ("raw_feature",)

  def sequence_shape(self) -> tuple[int, int]:
    """(temporal_dim, feature channels) of the model config."""
    raise NotImplementedError

  def init_inputs(self, sample=None) -> tuple:
    if sample is None:
      t, c = self.sequence_shape()
    else:
      c, t = np.asarray(sample["raw_feature"]).shape
    return (np.zeros((1, t, c), np.float32),)

  def preprocess(self, batch):
    batch = dict(batch)
    batch["raw_feature"] = features_channels_last(batch["raw_feature"])
    return batch

  def ground_truth(self, batch):
    """(gt_bbox (N, K, 2), gt_mask (N, K)); ``gt_mask`` is PadTo's (all True without it)."""
    if "gt_bbox" not in batch:
      raise KeyError(f"the {self.name} task trains on 'gt_bbox': end the train pipeline with "
                     "GenerateLocalizationLabels, PadTo(sizes=dict(gt_bbox=...), "
                     "mask_keys=dict(gt_bbox='gt_mask')) and Collect(keys=['raw_feature', "
                     "'gt_bbox', 'gt_mask'])")
    gt_bbox = batch["gt_bbox"].astype(jnp.float32)
    mask = batch.get("gt_mask")
    if mask is None:
      mask = jnp.ones(gt_bbox.shape[:2], bool)
    return gt_bbox, mask.astype(bool)


class BMNTask(_FeatureSequenceTask):
  """BMN: the boundary-matching confidence map plus start/end probabilities; ``BMNLoss``
  (TEM + PEM regression + PEM classification terms)."""

  name = "bmn"
  model_type = "BMN"

  def sequence_shape(self):
    return self.model_cfg["temporal_dim"], self.model_cfg["feat_dim"]

  def loss(self, model, variables, batch, key):
    x = self.preprocess(batch)["raw_feature"]
    confidence_map, start, end = model.apply(variables, x, train=True)
    gt_bbox, gt_mask = self.ground_truth(batch)
    t = self.model_cfg["temporal_dim"]
    gt_iou_map, gt_start, gt_end = labels_lib.bmn_labels(gt_bbox, gt_mask, t,
                                                           self.model_cfg["boundary_ratio"])
    weights = sample_weights(batch, x.shape[0])
    kwargs = {k: v for k, v in (self.model_cfg.get("loss_cls") or {}).items() if k != "type"}
    total, tem, pem_reg, pem_cls = losses_lib.bmn_loss(
        confidence_map.astype(jnp.float32), start.astype(jnp.float32),
        end.astype(jnp.float32), gt_iou_map, gt_start, gt_end,
        jnp.asarray(bmn_lib.bm_mask(t)), key=key, weights=weights, **kwargs)
    log_vars = {"tem_loss": tem, "pem_reg_loss": pem_reg, "pem_cls_loss": pem_cls}
    return total, log_vars, variables.get("batch_stats", {})

  def predictors(self):
    def predict(model, variables, batch):
      confidence_map, start, end = model.apply(
          variables, self.preprocess(batch)["raw_feature"], train=False)
      return {"confidence_map": confidence_map, "start": start, "end": end}
    return {"predict": predict}

  def rows(self, predictions, i):
    confidence_map = np.moveaxis(np.asarray(predictions["confidence_map"][i]), -1, 0)
    return bmn_candidate_proposals(predictions["start"][i], predictions["end"][i],
                                   confidence_map)


class TEMTask(_FeatureSequenceTask):
  """BSN's temporal evaluation module: action/start/end probabilities per step. It has no
  metric (MMAction2 logs its validation loss); its test output is the per-video CSV that
  BSN's proposal generation reads (``output_config=dict(out=tem_results_dir,
  output_format='csv')``, here ``test.out``)."""

  name = "tem"
  model_type = "TEM"
  metrics = ()

  def sequence_shape(self):
    return self.model_cfg["temporal_dim"], self.model_cfg["tem_feat_dim"]

  def loss(self, model, variables, batch, key):
    x = self.preprocess(batch)["raw_feature"]
    outputs = model.apply(variables, x, train=True).astype(jnp.float32)
    gt_bbox, gt_mask = self.ground_truth(batch)
    cfg = self.model_cfg
    labels = labels_lib.tem_labels(gt_bbox, gt_mask, cfg["temporal_dim"],
                                   cfg["boundary_ratio"])
    weights = sample_weights(batch, x.shape[0])
    terms = losses_lib.tem_loss_terms(outputs, labels, weights=weights,
                                      tem_match_threshold=cfg["tem_match_threshold"],
                                      loss_weight=cfg.get("loss_weight", 2))
    return sum(terms.values()), terms, variables.get("batch_stats", {})

  def predictors(self):
    def predict(model, variables, batch):
      return {"tem": model.apply(variables, self.preprocess(batch)["raw_feature"],
                                 train=False)}
    return {"predict": predict}

  def prediction_writer(self, path: str, predictor: str = "predict"):
    from vjax.evaluation import evaluators  # pylint: disable=g-import-not-at-top
    return evaluators.TEMResultsWriter(path, self.video_result, predictor=predictor)

  def video_result(self, predictions, i, video_meta):
    """``(video_name, (T, 5) rows action, start, end, tmin, tmax)``, as TEM's forward_test."""
    outputs = np.asarray(predictions["tem"][i])
    return video_meta["video_name"], tem_results(*np.moveaxis(outputs, -1, 0))


class PEMTask(_ProposalGenerator):
  """BSN's proposal evaluation module over PGM's BSP features: an IoU score per proposal,
  trained by PEM's sampled smooth-L1 regression; padded proposals (``proposal_mask``) are
  left out of the loss and the proposal lists."""

  name = "pem"
  model_type = "PEM"
  _PASSED_THROUGH = ("tmin", "tmax", "tmin_score", "tmax_score")

  @property
  def input_keys(self) -> tuple[str, ...]:
    return ("bsp_feature",)

  def init_inputs(self, sample=None) -> tuple:
    shape = ((1, self.model_cfg["pem_feat_dim"]) if sample is None
             else np.asarray(sample["bsp_feature"]).shape)
    return (np.zeros((1,) + tuple(shape), np.float32),)

  def preprocess(self, batch):
    batch = dict(batch)
    batch["bsp_feature"] = batch["bsp_feature"].astype(jnp.float32)
    return batch

  def proposal_mask(self, batch, shape):
    mask = batch.get("proposal_mask")
    return jnp.ones(shape, bool) if mask is None else mask.astype(bool)

  def loss(self, model, variables, batch, key):
    x = self.preprocess(batch)["bsp_feature"]
    b, p = x.shape[:2]
    scores = model.apply(variables, x, train=True).astype(jnp.float32).reshape(b, p)
    mask = self.proposal_mask(batch, (b, p))
    mask = mask & sample_weights(batch, b).astype(bool)[:, None]
    keys = ("pem_high_temporal_iou_threshold", "pem_low_temporal_iou_threshold",
            "pem_u_ratio_m", "pem_u_ratio_l")
    terms = losses_lib.pem_loss(scores, batch["reference_temporal_iou"].astype(jnp.float32),
                                mask, key=key, **{k: self.model_cfg[k] for k in keys})
    return terms["temporal_iou_loss"], terms, variables.get("batch_stats", {})

  def predictors(self):
    def predict(model, variables, batch):
      x = self.preprocess(batch)["bsp_feature"]
      b, p = x.shape[:2]
      out = {"pem": model.apply(variables, x, train=False).reshape(b, p),
             "proposal_mask": self.proposal_mask(batch, (b, p))}
      out.update({k: batch[k] for k in self._PASSED_THROUGH if k in batch})
      return out
    return {"predict": predict}

  def rows(self, predictions, i):
    missing = [k for k in self._PASSED_THROUGH if k not in predictions]
    if missing:
      raise KeyError(f"PEM's proposal lists need {missing} from the test pipeline: collect "
                     "LoadProposals' tmin, tmax, tmin_score and tmax_score")
    keep = np.asarray(predictions["proposal_mask"][i], bool)
    return pem_proposals(*(np.asarray(predictions[k][i])[keep]
                           for k in ("pem",) + self._PASSED_THROUGH))


LOCALIZATION_TASKS = (BMNTask, TEMTask, PEMTask)
