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
  """(N, V, K) per-view scores -> (N, K), as MMAction2's ``average_clip``.

  'score' averages raw scores over views, 'prob' averages per-view softmaxes. ``None``
  passes scores through: MMAction2 then returns one row per view, which matches its dataset
  only with one view per video (2D consensus heads fold every frame into one score), so
  several views with ``None`` are an error here instead of an unasked-for mean.
  """
  if mode not in ("score", "prob", None):
    raise ValueError(f"average_clips must be 'score', 'prob' or None, got {mode!r}")
  if mode is None:
    if scores.shape[1] != 1:
      raise ValueError(f"average_clips=None with {scores.shape[1]} views per video: MMAction2 "
                       "would return one row per view, which no longer lines up with the "
                       "dataset; set test_cfg.average_clips to 'score' or 'prob'")
    return scores[:, 0]
  if mode == "prob":
    scores = jax.nn.softmax(scores, axis=-1)
  return scores.mean(axis=1)


def _chunk_views(imgs, chunk: int):
  """(N, V, ...) -> (ceil(V / chunk), N, chunk, ...); the last chunk is zero-padded."""
  n, v = imgs.shape[:2]
  k = -(-v // chunk)
  pad = [(0, 0), (0, k * chunk - v)] + [(0, 0)] * (imgs.ndim - 2)
  imgs = jnp.pad(imgs, pad).reshape((n, k, chunk) + imgs.shape[2:])
  return jnp.moveaxis(imgs, 1, 0)


def _unchunk_views(feat, n: int, v: int):
  """(k, N * chunk, ...) backbone features per chunk -> (N * V, ...), padding dropped."""
  k, rows = feat.shape[:2]
  feat = feat.reshape((k, n, rows // n) + feat.shape[2:])
  feat = jnp.moveaxis(feat, 0, 1).reshape((n, -1) + feat.shape[3:])[:, :v]
  return feat.reshape((n * v,) + feat.shape[2:])


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

  def max_testing_views(self) -> int | None:
    views = (self.test_cfg or {}).get("max_testing_views")
    if views is not None and (isinstance(views, bool) or not isinstance(views, int) or views < 1):
      raise ValueError(f"test_cfg.max_testing_views must be a positive int, got {views!r}")
    return views

  def extract_feat(self, backbone, imgs, train: bool):
    """Backbone features of all N*V views of ``imgs`` (N, V, ...), rows in (video, view) order.

    At test time ``test_cfg.max_testing_views`` bounds activation memory: views go through
    the backbone that many per video at a time, in a sequential scan with shared weights.
    Views are independent at test time (BN uses running statistics), so scores are unchanged.
    """
    n, v = imgs.shape[:2]
    chunk = self.max_testing_views()
    if train or chunk is None or chunk >= v or self.is_initializing():
      return backbone(imgs.reshape((n * v,) + imgs.shape[2:]), train)

    def body(mdl, carry, x):
      return carry, mdl(x.reshape((-1,) + x.shape[2:]), False)

    scan = nn.scan(body, variable_broadcast=True, split_rngs={"params": False})
    _, feats = scan(backbone, None, _chunk_views(imgs, chunk))
    return jax.tree.map(lambda f: _unchunk_views(f, n, v), feats)

  def test_scores(self, scores):
    """(N, V, K) -> (N, K) per ``test_cfg.average_clips``, which MMAction2 requires."""
    cfg = self.test_cfg or {}
    for key in ("fcn_test", "feature_extraction"):
      if cfg.get(key):
        raise NotImplementedError(f"test_cfg.{key} is not implemented in vjax")
    if "average_clips" not in cfg:
      raise KeyError("test_cfg must define 'average_clips' ('score', 'prob' or None), as in "
                     "MMAction2")
    return average_clips(scores, cfg["average_clips"])


@MODELS.register
class Recognizer3D(_Recognizer):
  """imgs (N, V, T, H, W, C): every view is a clip through a 3D backbone."""

  @nn.compact
  def __call__(self, imgs, train: bool = False):
    n, v = imgs.shape[:2]
    feat = self.extract_feat(self.build_backbone(), imgs, train)
    scores = self.build_head()(feat, train)
    return scores.reshape(n, v, -1)


@MODELS.register
class Recognizer2D(_Recognizer):
  """imgs (N, S, H, W, C): S frames (segments x crops) go to the head's consensus.

  An averaging consensus returns one score row per video (V = 1); a head returning several
  rows per video gives V = rows / N views, MMAction2's automatic ``num_crops``.
  ``max_testing_views`` chunks the S frames through the backbone (MMAction2 0.24.1 reads it
  for 3D recognizers only; here it is the same memory bound, scores unchanged).
  """

  @nn.compact
  def __call__(self, imgs, train: bool = False):
    n, s = imgs.shape[:2]
    feat = self.extract_feat(self.build_backbone(), imgs, train)
    scores = self.build_head()(feat, num_segs=s, train=train)
    return scores.reshape(n, -1, scores.shape[-1])
