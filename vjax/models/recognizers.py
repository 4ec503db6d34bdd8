"""Recognizers: backbone (+ neck) + head over a batch of views, as MMAction2's Recognizer2D,
Recognizer3D and AudioRecognizer.

Entry points, all on already normalised float inputs, channels-last:

* ``__call__(x, train)``: per-view class scores (N, V, num_classes) (pooled features
  (N, V, C) for a model built without ``cls_head``, as MMAction2's feature-extraction configs);
* ``forward_train(x)``: the train-mode outputs the losses need, ``{'cls_score', 'aux_cls_score'
  (TPN)}``, explicitly rather than through sown intermediates;
* ``extract_features(x)``: pooled backbone (+ neck) features (N, V, C), MMAction2's
  ``feature_extraction``;
* ``test_scores``: (N, V, K) -> (N, K) per ``test_cfg.average_clips``.

The losses are pure functions next to their heads (``heads.base.cls_loss``,
``necks.tpn.aux_loss``); ``vjax.tasks`` combines them.
"""

from __future__ import annotations

import inspect
from typing import Any, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp

from vjax.models import freeze
from vjax.models.builder import MODELS


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
  cls_head: Mapping[str, Any] | None = None
  neck: Mapping[str, Any] | None = None
  train_cfg: Mapping[str, Any] | None = None
  test_cfg: Mapping[str, Any] | None = None
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  def build_backbone(self):
    return MODELS.build(self.backbone, norm_groups=self.norm_groups, dtype=self.dtype,
                        name="backbone")

  def build_neck(self):
    if self.neck is None:
      return None
    return MODELS.build(self.neck, norm_groups=self.norm_groups, dtype=self.dtype, name="neck")

  def build_head(self):
    if self.cls_head is None:
      return None
    return MODELS.build(self.cls_head, dtype=self.dtype, name="cls_head")

  def __call__(self, x, train: bool = False):
    """Per-view scores (N, V, K); without a ``cls_head``, pooled features (N, V, C)."""
    return self._apply(x, train, "scores")

  def forward_train(self, x, train: bool = True):
    """The outputs losses need: ``cls_score`` (N, V, K) and, with TPN's auxiliary head,
    ``aux_cls_score`` (rows = N * views); ``train=False`` runs them in eval mode (running BN
    statistics, no dropout) for a validation loss."""
    return self._apply(x, train, "train")

  def extract_features(self, x):
    """Pooled backbone (+ neck) features (N, V, C) in test mode (no head), as MMAction2's
    ``feature_extraction`` returns them before averaging over views."""
    return self._apply(x, False, "features")

  def _apply(self, x, train: bool, output: str):
    raise NotImplementedError

  @staticmethod
  def _outputs(scores, aux, output: str):
    if output != "train":
      return scores
    return {"cls_score": scores} if aux is None else {"cls_score": scores, "aux_cls_score": aux}

  @nn.nowrap
  def frozen_mask(self, params):
    """Bool tree like ``params``: True where MMAction2 sets ``requires_grad=False``
    (the backbone's ``frozen_stages``, ``partial_bn``, ``norm_cfg.requires_grad``)."""
    backbone = MODELS.build(self.backbone)  # unbound: only its configuration is read
    is_frozen = getattr(backbone, "is_frozen", None)
    if is_frozen is None:
      return jax.tree.map(lambda _: False, params)
    return freeze.mask(params, is_frozen, prefix=("backbone",))

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
    if "average_clips" not in cfg:
      raise KeyError("test_cfg must define 'average_clips' ('score', 'prob' or None), as in "
                     "MMAction2")
    return average_clips(scores, cfg["average_clips"])


def _as_clips(feat, num_segs: int) -> tuple:
  """Backbone frame features (N * S, H, W, C), one or a tuple, -> (N', num_segs, H, W, C)
  clips: channels-last for MMAction2's ``reshape(-1, num_segs, ...).transpose(1, 2)``."""
  feats = feat if isinstance(feat, tuple) else (feat,)
  return tuple(f.reshape((-1, num_segs) + f.shape[1:]) for f in feats)


def _pooled(feat, n: int):
  """Backbone features of N*V rows, one array or a tuple (SlowFast's pathways), each
  (rows, ..., C) -> (N, V, sum C): every axis between rows and channels averaged away
  (MMAction2's adaptive average pooling to 1), pathways concatenated."""
  feats = feat if isinstance(feat, tuple) else (feat,)
  pooled = [f.mean(axis=tuple(range(1, f.ndim - 1))) if f.ndim > 2 else f for f in feats]
  out = jnp.concatenate(pooled, axis=-1)
  return out.reshape(n, -1, out.shape[-1])


def _check_fcn_head(head_cfg: Mapping[str, Any]) -> None:
  """MMAction2 calls ``cls_head(x, fcn_test=True)``; only heads with that mode can."""
  head = MODELS.get(head_cfg["type"])
  if "fcn_test" not in inspect.signature(head.__call__).parameters:
    raise NotImplementedError(f"test_cfg.fcn_test needs a head with an fcn_test mode (TPNHead); "
                              f"{head_cfg['type']} has none")


@MODELS.register
class Recognizer3D(_Recognizer):
  """imgs (N, V, T, H, W, C): every view is a clip through a 3D backbone (and neck).

  MMAction2's Recognizer3D has no fully-convolutional test; ``test_cfg.fcn_test`` is ignored
  here as there.
  """

  @nn.compact
  def _apply(self, imgs, train: bool, output: str):
    n, v = imgs.shape[:2]
    feat = self.extract_feat(self.build_backbone(), imgs, train)
    neck, aux = self.build_neck(), None
    if neck is not None:
      feat, aux = neck(feat if isinstance(feat, tuple) else (feat,), train)
    head = None if output == "features" else self.build_head()
    if head is None:
      return _pooled(feat, n)  # (N, V, C): per-view features
    scores = head(feat, train=train)
    return self._outputs(scores.reshape(n, v, -1), aux, output)


@MODELS.register
class Recognizer2D(_Recognizer):
  """imgs (N, S, H, W, C): S frames (segments x crops) go to the head's consensus.

  An averaging consensus returns one score row per video (V = 1); a head returning several
  rows per video gives V = rows / N views, MMAction2's automatic ``num_crops``.
  ``max_testing_views`` chunks the S frames through the backbone (MMAction2 0.24.1 reads it
  for 3D recognizers only; here it is the same memory bound, scores unchanged).

  With a neck (TPN) the S frames of each video are one clip for it, and the head sees one
  segment. ``test_cfg.fcn_test`` tests fully convolutionally: clips of ``test_cfg.num_segs``
  (default: the backbone's ``num_segments``) frames, optionally ``flip``-ped, each scored
  by the head's ``fcn_test`` mode; every clip is a view.
  """

  @nn.compact
  def _apply(self, imgs, train: bool, output: str):
    n, s = imgs.shape[:2]
    backbone, neck = self.build_backbone(), self.build_neck()
    head = None if output == "features" else self.build_head()
    if head is not None and output == "scores" and not train and (
        (self.test_cfg or {}).get("fcn_test")):
      return self.fcn_test_scores(backbone, neck, head, imgs)
    chunk, segments = self.max_testing_views(), getattr(backbone, "num_segments", None)
    if chunk and segments and chunk < s and chunk % segments:
      # Temporal backbones (TSM, TIN, TANet) mix the frames of each num_segments group.
      raise ValueError(f"test_cfg.max_testing_views={chunk} must be a multiple of the "
                       f"backbone's num_segments={segments}")
    feat = self.extract_feat(backbone, imgs, train)
    num_segs, aux = s, None
    if neck is not None:
      feat, aux = neck(_as_clips(feat, s), train)
      if feat.shape[1] == 1:  # MMAction2 squeezes a length-1 time axis
        feat = feat[:, 0]
      num_segs = 1
    if head is None:
      # MMAction2 averages the features of all S frames (segments and crops) of a video.
      return _pooled(feat, n).mean(axis=1, keepdims=True)
    scores = head(feat, num_segs=num_segs, train=train)
    return self._outputs(scores.reshape(n, -1, scores.shape[-1]), aux, output)

  def test_scores(self, scores):
    if (self.test_cfg or {}).get("fcn_test"):
      _check_fcn_head(self.cls_head)
    return super().test_scores(scores)

  def fcn_test_scores(self, backbone, neck, head, imgs):
    _check_fcn_head(self.cls_head)
    num_segs = self.test_cfg.get("num_segs", getattr(backbone, "num_segments", None))
    if num_segs is None:
      raise ValueError(f"test_cfg.fcn_test needs test_cfg.num_segs: {type(backbone).__name__} "
                       "has no num_segments")
    if self.test_cfg.get("flip", False):
      imgs = jnp.flip(imgs, axis=-2)  # width
    clips = _as_clips(self.extract_feat(backbone, imgs, False), num_segs)
    if neck is not None:
      x, _ = neck(clips, False)
    elif len(clips) == 1:
      x = clips[0]
    else:
      raise ValueError("test_cfg.fcn_test without a neck needs one backbone output")
    scores = head(x, fcn_test=True)
    return scores.reshape(imgs.shape[0], -1, scores.shape[-1])


@MODELS.register
class AudioRecognizer(_Recognizer):
  """audios (N, V, T, F, C): every view is a spectrogram clip through a 2D backbone."""

  @nn.compact
  def _apply(self, audios, train: bool, output: str):
    if output == "features" or self.cls_head is None:
      raise NotImplementedError("MMAction2's AudioRecognizer has no feature_extraction mode")
    n, v = audios.shape[:2]
    feat = self.extract_feat(self.build_backbone(), audios, train)
    scores = self.build_head()(feat, train=train)
    return self._outputs(scores.reshape(n, v, -1), None, output)
