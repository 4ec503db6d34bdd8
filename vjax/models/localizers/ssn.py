"""SSN: MMAction2 0.24.1's Structured Segment Network localizer (``models/localizers/ssn.py``).

A 2D backbone embeds every sampled frame; a 7x7 spatial pooling (average or max) and dropout
turn its map into one feature per frame; ``SSNHead`` scores proposals from them. Inputs are
normalised floats, channels-last:

* ``forward_train(imgs, proposal_scale_factor, train)``: ``imgs`` (N, P, S, H, W, C), S frames
  (starting, course and ending segments) of each of P proposals per video ->
  ``{'activity_scores', 'completeness_scores', 'bbox_preds'}`` per proposal row (N x P);
* ``tick_scores(imgs)``: ``imgs`` (N, T, H, W, C), T frames (ticks) of a video or of a chunk of
  one -> the reorganised test fc's scores (N, T, D), the backbone run
  ``test_cfg.ssn.sampler.batch_size`` ticks at a time, as MMAction2's ``forward_test``;
* ``forward_test(imgs, relative_proposal_list, scale_factor_list, proposal_tick_list,
  reg_norm_consts)``: MMAction2's whole ``forward_test`` for one video (crops along axis 0,
  averaged), the test STPP pooling and de-normalised regression included.

``__call__(imgs, proposal_scale_factor=None, train)`` is ``forward_train`` with scale factors
and ``tick_scores`` without; either creates every parameter (MMAction2's module names:
``backbone``, ``cls_head.activity_fc`` ...). The losses are ``ssn_losses.ssn_loss_terms``.
"""

from __future__ import annotations

from typing import Any, Mapping

import flax.linen as nn
import jax.numpy as jnp

from vjax.models.builder import MODELS
from vjax.models.heads import ssn_head  # noqa: F401  (registers SSNHead)
from vjax.models.recognizers import _Recognizer


@MODELS.register
class SSN(_Recognizer):
  """MMAction2's ``SSN(backbone, cls_head, in_channels=3, spatial_type='avg',
  dropout_ratio=0.5, loss_cls=dict(type='SSNLoss'), train_cfg=None, test_cfg=None)``.

  The spatial pooling window is 7x7 as in MMAction2, or the whole map when it is smaller
  (MMAction2 needs 224-pixel frames; small test frames pool their whole map). It must leave a
  1x1 map, as MMAction2's head assumes.
  """

  in_channels: int = 3
  spatial_type: str | None = "avg"
  dropout_ratio: float = 0.5
  loss_cls: Mapping[str, Any] | None = None

  def max_testing_views(self) -> int | None:
    """Ticks per backbone call at test time: ``test_cfg.ssn.sampler.batch_size``."""
    sampler = ((self.test_cfg or {}).get("ssn") or {}).get("sampler") or {}
    size = sampler.get("batch_size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
      raise ValueError(f"test_cfg.ssn.sampler.batch_size must be a positive int, got {size!r}")
    return size

  def pool(self, x):
    """(B, h, w, C) backbone maps -> (B, C) after the 7x7 pooling."""
    if self.spatial_type in ("avg", "max"):
      window = (min(7, x.shape[1]), min(7, x.shape[2]))
      fn = nn.avg_pool if self.spatial_type == "avg" else nn.max_pool
      x = fn(x, window, strides=(1, 1), padding="VALID")
    if x.shape[1:3] != (1, 1):
      raise ValueError(f"SSN: the backbone map is {x.shape[1:3]} after spatial_type="
                       f"{self.spatial_type!r} pooling; the head needs 1x1 (MMAction2 feeds "
                       "224x224 frames, a 7x7 map)")
    return x.reshape(x.shape[0], x.shape[-1])

  def _frames(self, imgs):
    if imgs.shape[-1] != self.in_channels:
      raise ValueError(f"SSN(in_channels={self.in_channels}) got frames with {imgs.shape[-1]} "
                       "channels (channels-last)")
    return imgs

  @nn.compact
  def _apply(self, imgs, scale_factors, train: bool, output: str):
    backbone = self.build_backbone()
    head = self.build_head()
    imgs = self._frames(imgs)
    if output == "train":
      frames = imgs.reshape((-1,) + imgs.shape[-3:])
      x = self.pool(backbone(frames, train)).astype(jnp.float32)
      if self.dropout_ratio:
        x = nn.Dropout(self.dropout_ratio, deterministic=not train)(x)
      # The head groups the rows by its STPP's segments, as MMAction2's view(-1, S, C).
      activity, completeness, bbox = head(x, scale_factors, train=train)
      out = {"activity_scores": activity, "completeness_scores": completeness}
      if bbox is not None:
        out["bbox_preds"] = bbox
      return out
    n, t = imgs.shape[:2]
    feat = self.extract_feat(backbone, imgs, False)
    x = self.pool(feat).astype(jnp.float32)
    return head.test_fc(x).reshape(n, t, -1)

  def __call__(self, imgs, proposal_scale_factor=None, train: bool = False):
    if proposal_scale_factor is None:
      return self._apply(imgs, None, False, "ticks")
    return self._apply(imgs, proposal_scale_factor, train, "train")

  def forward_train(self, imgs, proposal_scale_factor, train: bool = True):
    return self._apply(imgs, proposal_scale_factor, train, "train")

  def tick_scores(self, imgs):
    return self._apply(imgs, None, False, "ticks")

  def extract_features(self, x):
    raise NotImplementedError("SSN has no feature_extraction mode")

  def forward_test(self, imgs, relative_proposal_list, scale_factor_list, proposal_tick_list,
                   reg_norm_consts):
    """MMAction2's ``forward_test`` for one video: ``imgs`` (crops, T, H, W, C); the others
    as ``SSNDataset`` gives them, optionally with a leading batch axis of 1. Returns
    ``relative_proposal_list``, ``activity_scores``, ``completeness_scores`` and
    ``bbox_preds`` ((P, K, 2) de-normalised, or None)."""
    scores = self.tick_scores(imgs).mean(axis=0)  # MMAction2 merges the crops
    squeeze = lambda a: a[0] if a.ndim == 3 else a  # noqa: E731
    ticks, factors = squeeze(proposal_tick_list), squeeze(scale_factor_list)
    stpp = ssn_head.test_pooling(self.cls_head)
    activity, completeness, bbox = stpp(scores, ticks, factors)
    if bbox is not None:
      consts = squeeze(reg_norm_consts)
      k = stpp.num_classes
      bbox = bbox.reshape(-1, k, 2)
      bbox = jnp.stack([bbox[..., 0] * consts[1, 0] + consts[0, 0],
                        bbox[..., 1] * consts[1, 1] + consts[0, 1]], axis=-1)
    return dict(relative_proposal_list=squeeze(relative_proposal_list),
                activity_scores=activity, completeness_scores=completeness, bbox_preds=bbox)
