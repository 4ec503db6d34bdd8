"""SkeletonGCN: a skeleton GCN backbone (STGCN, AGCN, ST-GCN++) + STGCNHead (or 1.x's
GCNHead), as MMAction2's recognizer.

It follows the recognizer interface of ``vjax.models.recognizers`` so the Recognition task
drives it like the others. Input: one skeleton clip per video, (N, M, T, V, C) channels-last
(MMAction2's ``keypoint`` (N, C, T, V, M) with its axes moved); there is no view axis, and
every output has one view: scores (N, 1, num_classes).
"""

from __future__ import annotations

import flax.linen as nn

from vjax.models.builder import MODELS
from vjax.models.recognizers import _Recognizer, average_clips


@MODELS.register
class SkeletonGCN(_Recognizer):
  """MMAction2's SkeletonGCN. ``forward_test`` there returns the head's scores as they are
  (no softmax, ``test_cfg`` unread), so ``test_scores`` does the same; the configs set
  ``train_cfg`` and ``test_cfg`` to None."""

  @nn.compact
  def _apply(self, x, train: bool, output: str):
    if self.neck is not None:
      raise ValueError("SkeletonGCN has no neck (MMAction2's takes backbone and cls_head)")
    if x.ndim != 5:
      raise ValueError(f"SkeletonGCN expects skeletons (N, M, T, V, C), got shape "
                       f"{tuple(x.shape)}")
    n, m = x.shape[:2]
    feat = self.build_backbone()(x, train)  # (N * M, T', V, C)
    head = None if output == "features" else self.build_head()
    if head is None:
      # Pooled over frames and joints, averaged over persons: the head's features.
      pooled = feat.mean(axis=(1, 2))
      return pooled.reshape(n, m, -1).mean(axis=1)[:, None]
    scores = head(feat, train=train)[:, None]
    return self._outputs(scores, None, output)

  def test_scores(self, scores):
    """(N, 1, K) -> (N, K) per the head's ``average_clips`` (its config's, else its class
    default): 1.x's GCNHead softmaxes ('prob'); 0.24.1's STGCNHead has none, so its scores
    pass unchanged (its forward_test ignores average_clips)."""
    if scores.shape[1] != 1:
      raise ValueError(f"SkeletonGCN scores one view per clip, got {scores.shape[1]}")
    head = dict(self.cls_head or {})
    default = getattr(MODELS.get(head["type"]), "average_clips", None) if head else None
    return average_clips(scores, head.get("average_clips", default))
