"""Action recognition (MMAction2's Recognizer2D / Recognizer3D / AudioRecognizer), single-label
and multi-label (``multi_class=True`` heads, HVU's multi-category tags).

Reads from the model config: ``cls_head`` (its ``loss_cls``, ``multi_class``,
``label_smooth_eps``), TPN's ``neck.aux_head_cfg`` (``loss_aux``), ``train_cfg.blending``
(Mixup/CutMix on device), ``test_cfg`` (``average_clips``, ``feature_extraction``) and the
backbone's ``pretrained``; from the data config, ``img_norm_cfg`` and ``videos_per_device``
(blending groups). Inputs are ``imgs`` (``audios`` for AudioRecognizer), uint8 or float,
channels-last, views first.
"""

from __future__ import annotations

from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from vjax.data import video_inputs
from vjax.data.pipeline import Compose
from vjax.models import build_model
from vjax.models.heads.base import cls_loss
from vjax.models.losses import HVU_CATEGORIES, HVU_CATEGORY_NUMS, hvu_loss_terms
from vjax.models.necks.tpn import aux_loss
from vjax.registry import to_dict
from vjax.tasks.base import Task, sample_weights, zeros_like_sample
from vjax.train.blending import build_blending

_BLEND_STREAM = 1  # Derives the blending key from the step's key, apart from dropout's.
RECOGNIZERS = ("Recognizer2D", "Recognizer3D", "AudioRecognizer")
# Missing audio features stand in as this map, as LoadAudioFeature pads a missing file.
_STAND_IN_AUDIO_FEATURES = (640, 80)


def normalize(imgs, norm_cfg: Mapping[str, Any] | None):
  """uint8 channels-last -> float32, ``(x - mean) / std`` per channel (MMAction2 Normalize)."""
  x = imgs.astype(jnp.float32)
  if not norm_cfg:
    return x
  if norm_cfg.get("to_bgr"):
    x = x[..., ::-1]
  mean = jnp.asarray(norm_cfg["mean"], jnp.float32)
  std = jnp.asarray(norm_cfg["std"], jnp.float32)
  return (x - mean) / std


def top1_accuracy(scores, labels, weights):
  """Batch top-1 for logging; per-view scores are averaged first."""
  pred = scores.mean(axis=1).argmax(-1)
  hard = labels if labels.ndim == 1 else labels.argmax(-1)
  w = weights.astype(jnp.float32)
  return ((pred == hard) * w).sum() / jnp.maximum(w.sum(), 1.0)


def _per_view(x, views: int):
  return x if x is None or views == 1 else jnp.repeat(x, views, axis=0)


class Recognition(Task):
  """Single-label recognition: cross-entropy (or the head's ``loss_cls``), top-k metrics."""

  name = "recognition"
  metrics = ("top_k_accuracy", "mean_class_accuracy", "mean_average_precision",
             "mmit_mean_average_precision")
  # Batch fields a head's loss takes besides the label (HVULoss's masks).
  loss_fields: tuple[str, ...] = ()

  @classmethod
  def accepts(cls, model_cfg: Mapping[str, Any]) -> bool:
    return model_cfg.get("type") in RECOGNIZERS

  def __init__(self, config):
    super().__init__(config)
    norm = config.data.get("img_norm_cfg")
    self.norm_cfg = to_dict(norm) if norm else None
    self.head_cfg = self.model_cfg.get("cls_head")
    self.test_cfg = self.model_cfg.get("test_cfg") or {}
    blend_cfg = (self.model_cfg.get("train_cfg") or {}).get("blending")
    self.blending = build_blending(blend_cfg, config.data.get("videos_per_device", 1))

  def build_model(self, *, norm_groups=None, dtype=jnp.float32):
    return build_model(self.model_cfg, norm_groups=norm_groups, dtype=dtype)

  @property
  def input_keys(self) -> tuple[str, ...]:
    return ("audios",) if self.model_cfg["type"] == "AudioRecognizer" else ("imgs",)

  def init_inputs(self, sample=None) -> tuple:
    return zeros_like_sample(self.stand_in_sample() if sample is None else sample,
                             self.input_keys)

  def stand_in_sample(self) -> dict:
    """One sample of the val (else test) pipeline on a zero input of the split's modality:
    an RGB or 2-channel Flow video, a zero audio-feature map or a silent waveform; no data
    is read."""
    split = video_inputs.split_config(self.config, ("val", "test"))
    ops = split.get("pipeline") or []
    if video_inputs.is_pose_pipeline(ops):  # PoseC3D's heatmap volumes, the GCNs' poses
      return Compose(ops)(self.stand_in_pose(ops), np.random.default_rng(0))
    first = ops[0]["type"] if ops else None
    common = dict(total_frames=300, label=-1, start_index=split.get("start_index", 1),
                  modality="Audio")
    if first == "LoadAudioFeature":
      data = dict(common, audios=np.zeros(_STAND_IN_AUDIO_FEATURES, np.float32),
                  length=_STAND_IN_AUDIO_FEATURES[0])
    elif first == "AudioDecodeInit":
      rate = ops[0].get("sample_rate", 16000) or 16000
      data = dict(common, audios=np.zeros(10 * rate, np.float32), length=10 * rate,
                  sample_rate=rate)
    else:
      video = video_inputs.stand_in_video(split.get("modality", "RGB"))
      return video_inputs.pipeline_results(self.config, video, split)
    return Compose(ops[1:])(data, np.random.default_rng(0))

  def stand_in_pose(self, ops) -> dict:
    """A 2D pose sample with the keypoints GeneratePoseTarget draws (COCO's 17 unless its
    skeletons or left/right keypoints name more)."""
    used = [17]
    for op in ops:
      if op["type"] == "GeneratePoseTarget":
        pairs = [i for limb in op.get("skeletons") or () for i in limb]
        used += [i + 1 for i in pairs + list(op.get("left_kp") or ()) +
                 list(op.get("right_kp") or ())]
    return video_inputs.stand_in_pose(max(used))

  def pretrained(self, abstract_variables):
    from vjax.convert import pretrained  # pylint: disable=g-import-not-at-top
    if not pretrained.wants_pretrained(self.model_cfg):
      return None
    return pretrained.pretrained_variables(self.model_cfg, abstract_variables)

  # ---- device --------------------------------------------------------------------------

  def preprocess(self, batch):
    batch = dict(batch)
    if "imgs" in batch:
      batch["imgs"] = normalize(batch["imgs"], self.norm_cfg)
    elif "audios" in batch:
      batch["audios"] = batch["audios"].astype(jnp.float32)
    return batch

  def loss(self, model, variables, batch, key):
    return self._loss(model, variables, batch, key, train=True)

  def val_loss(self, model, variables, batch, key):
    # MMAction2's val_step calls forward(return_loss=True), which blends too.
    return self._loss(model, variables, batch, key, train=False)[:2]

  def _loss(self, model, variables, batch, key, train: bool):
    x = self.preprocess(batch)[self.input_keys[0]]
    labels = batch["label"]
    weights = sample_weights(batch, labels.shape[0])
    if self.blending is not None:
      x, labels = self.blending(jax.random.fold_in(key, _BLEND_STREAM), x, labels)
    if train:
      outputs, new_vars = model.apply(variables, x, rngs={"dropout": key},
                                      mutable=["batch_stats"], method=model.forward_train)
      batch_stats = new_vars["batch_stats"]
    else:
      outputs = model.apply(variables, x, False, method=model.forward_train)
      batch_stats = variables["batch_stats"]
    # Losses and metrics in float32 whatever the compute dtype (the heads' logits already are).
    outputs = jax.tree.map(lambda a: a.astype(jnp.float32), outputs)
    scores = outputs["cls_score"]
    terms = self.loss_terms(outputs, labels, weights, batch)
    # MMAction2's rule: the total sums the terms named '*loss*'; the others are logged only.
    total = sum(v for k, v in terms.items() if "loss" in k)
    log_vars = dict(terms)
    log_vars.update(self.batch_metrics(scores, labels, weights))
    return total, log_vars, batch_stats

  def batch_statistics(self, model, variables, batch, key):
    # MMAction2's PreciseBN runs forward_test in train mode: no mixup/cutmix.
    x = self.preprocess(batch)[self.input_keys[0]]
    _, new_vars = model.apply(variables, x, rngs={"dropout": key}, mutable=["batch_stats"],
                              method=model.forward_train)
    return new_vars["batch_stats"]

  def loss_terms(self, outputs, labels, weights, batch) -> dict:
    """``loss_cls`` of (N, V, K) scores (labels and fields repeated per view), plus TPN's
    ``loss_aux``: MMAction2's loss names."""
    scores = outputs["cls_score"]
    n, v, k = scores.shape
    fields = {f: _per_view(batch[f], v) for f in self.loss_fields if f in batch}
    terms = self.head_loss_terms(scores.reshape(n * v, k), _per_view(labels, v),
                                 _per_view(weights, v), fields)
    if "aux_cls_score" in outputs:
      terms["loss_aux"] = aux_loss(self.model_cfg["neck"]["aux_head_cfg"],
                                   outputs["aux_cls_score"], labels, weights)
    return terms

  def head_loss_terms(self, scores, labels, weights, fields) -> dict:
    """The head's named loss terms for (rows, K) scores: ``loss_cls``."""
    return {"loss_cls": cls_loss(self.head_cfg, scores, labels, weights, **fields)}

  def batch_metrics(self, scores, labels, weights) -> dict:
    return {"top1_acc": top1_accuracy(scores, labels, weights)}

  def predictors(self):
    key = self.input_keys[0]

    def scores(model, variables, batch):
      x = self.preprocess(batch)[key]
      return {"scores": model.test_scores(model.apply(variables, x, train=False))}

    def features(model, variables, batch):
      x = self.preprocess(batch)[key]
      feats = model.apply(variables, x, method=model.extract_features)
      return {"features": feats.mean(axis=1)}  # MMAction2 averages them over views

    return {"predict": features if self.head_cfg is None else scores, "features": features}

  def test_predictor(self) -> str:
    if self.head_cfg is None or self.test_cfg.get("feature_extraction"):
      return "features"
    return "predict"


def _loss_type(head_cfg) -> str | None:
  return ((head_cfg or {}).get("loss_cls") or {}).get("type")


class MultiLabelRecognition(Recognition):
  """Multi-label tagging: ``multi_class=True`` heads with BCE (MMiT, single-category HVU) or
  ``HVULoss`` over tag categories with per-tag and per-category masks (whole HVU). Labels
  are many-hot rows; metrics are the mAPs (per category for HVU, keyed ``{category}_mAP``)."""

  name = "multilabel"
  metrics = ("mean_average_precision", "mmit_mean_average_precision")
  loss_fields = ("mask", "category_mask")

  @classmethod
  def accepts(cls, model_cfg) -> bool:
    head = model_cfg.get("cls_head") or {}
    return super().accepts(model_cfg) and (
        bool(head.get("multi_class")) or _loss_type(head) in ("BCELossWithLogits", "HVULoss"))

  def batch_metrics(self, scores, labels, weights) -> dict:
    return {}  # MMAction2 logs no accuracy for multi-class heads

  def _hvu_layout(self) -> tuple[tuple, tuple] | None:
    """(categories, category_nums) of an HVULoss head (its defaults: MMAction2's six)."""
    if _loss_type(self.head_cfg) != "HVULoss":
      return None
    cfg = self.head_cfg["loss_cls"]
    return (tuple(cfg.get("categories", HVU_CATEGORIES)),
            tuple(cfg.get("category_nums", HVU_CATEGORY_NUMS)))

  def head_loss_terms(self, scores, labels, weights, fields) -> dict:
    """HVULoss logs its per-category terms too (``{category}_LOSS``, ``_LOSS_weight`` with
    ``loss_type='individual'``), as MMAction2 does; only ``loss_cls`` enters the total."""
    if self._hvu_layout() is None:
      return super().head_loss_terms(scores, labels, weights, fields)
    kwargs = dict(self.head_cfg["loss_cls"])
    kwargs.pop("type")
    smooth = self.head_cfg.get("label_smooth_eps", 0.0) if self.head_cfg.get("multi_class") else 0.0
    return hvu_loss_terms(scores, labels, num_classes=self.head_cfg["num_classes"],
                          label_smooth_eps=smooth, weights=weights, **fields, **kwargs)

  def evaluators(self, metrics, options=None):
    layout = self._hvu_layout()
    if layout is None or "mean_average_precision" not in metrics:
      return super().evaluators(metrics, options)
    from vjax.evaluation import evaluators  # pylint: disable=g-import-not-at-top
    rest = [m for m in metrics if m != "mean_average_precision"]
    return [evaluators.HVUCategoryMAP(*layout)] + super().evaluators(rest, options)
