"""Recognizers: backbone + head over a batch of views, as MMAction2's Recognizer2D/3D.

Both return per-view class scores shaped (N, V, num_classes); ``average_clips`` reduces the
view axis the way ``test_cfg.average_clips`` asks. Inputs are already normalised float
arrays, channels-last.
"""

from __future__ import annotations

from typing import Any, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp

from vjax.models.builder import MODELS
from vjax.models.losses import head_loss


def average_clips(scores, mode: str | None):
  """(N, V, K) per-view scores -> (N, K): 'prob' averages softmaxes, 'score' raw scores.

  ``None`` leaves scores unnormalised; with one view (every MMAction2 config that uses it:
  the 2D recognizers fold views into the segment consensus) it is MMAction2's identity.
  """
  if mode not in ("score", "prob", None):
    raise ValueError(f"average_clips must be 'score', 'prob' or None, got {mode!r}")
  if mode == "prob":
    scores = jax.nn.softmax(scores, axis=-1)
  return scores.mean(axis=1)


class _Recognizer(nn.Module):
  backbone: Mapping[str, Any]
  cls_head: Mapping[str, Any]
  neck: Mapping[str, Any] | None = None
  train_cfg: Mapping[str, Any] | None = None
  test_cfg: Mapping[str, Any] | None = None
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  def build_backbone(self):
    if self.neck is not None:
      raise NotImplementedError("necks (TPN) are not available in vjax yet")
    return MODELS.build(self.backbone, norm_groups=self.norm_groups, dtype=self.dtype,
                        name="backbone")

  def build_head(self):
    return MODELS.build(self.cls_head, dtype=self.dtype, name="cls_head")

  def loss(self, scores, labels, weights=None):
    """Mean classification loss of (N, V, K) scores; labels (N,) or (N, K), repeated per view."""
    n, v, k = scores.shape
    labels = jnp.repeat(labels, v, axis=0)
    if weights is not None:
      weights = jnp.repeat(weights, v, axis=0)
    return head_loss(self.cls_head, scores.reshape(n * v, k), labels, weights)

  def test_scores(self, scores):
    return average_clips(scores, (self.test_cfg or {}).get("average_clips", None))


@MODELS.register
class Recognizer3D(_Recognizer):
  """imgs (N, V, T, H, W, C): every view is a clip through a 3D backbone."""

  @nn.compact
  def __call__(self, imgs, train: bool = False):
    n, v = imgs.shape[:2]
    feat = self.build_backbone()(imgs.reshape((n * v,) + imgs.shape[2:]), train)
    scores = self.build_head()(feat, train)
    return scores.reshape(n, v, -1)


@MODELS.register
class Recognizer2D(_Recognizer):
  """imgs (N, S, H, W, C): S frames (segments x views) share one consensus, as in MMAction2."""

  @nn.compact
  def __call__(self, imgs, train: bool = False):
    n, s = imgs.shape[:2]
    feat = self.build_backbone()(imgs.reshape((n * s,) + imgs.shape[2:]), train)
    scores = self.build_head()(feat, num_segs=s, train=train)
    return scores.reshape(n, 1, -1)
