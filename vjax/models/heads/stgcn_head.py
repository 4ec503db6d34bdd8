"""Skeleton GCN heads: pooling over frames and joints, mean over persons, a classifier.

``STGCNHead`` is MMAction2 0.24.1's (a 1x1-conv classifier), ``GCNHead`` MMAction2 1.x's (a
Linear one after dropout, scores softmaxed at test time by ``average_clips``)."""

from __future__ import annotations

from typing import Any, Mapping

import flax.linen as nn
import jax.numpy as jnp

from vjax.models.builder import MODELS
from vjax.models.heads.base import classifier
from vjax.models.layers.conv import Conv


def pool_persons(x, spatial_type: str, in_channels: int, num_person: int, name: str):
  """(N * num_person, T, V, C) -> (N, C): pooled over frames and joints, mean over persons."""
  if spatial_type == "avg":
    feat = x.mean(axis=(1, 2))
  elif spatial_type == "max":
    feat = x.max(axis=(1, 2))
  else:
    raise ValueError(f"{name} spatial_type must be 'avg' or 'max', got {spatial_type!r}")
  rows, c = feat.shape
  if c != in_channels:
    raise ValueError(f"{name} in_channels={in_channels} but the backbone gives {c}")
  if rows % num_person:
    raise ValueError(f"{name} num_person={num_person} does not divide the {rows} backbone "
                     "rows (clips x persons)")
  return feat.reshape(rows // num_person, num_person, c).mean(axis=1)


@MODELS.register
class STGCNHead(nn.Module):
  """The head of MMAction2's skeleton GCNs (STGCN, AGCN).

  Backbone rows are (clip, person) pairs: ``num_person`` consecutive rows are one clip, their
  pooled features are averaged, as MMAction2's ``view(N // num_person, num_person, ...)``.
  The classifier ``fc`` is a 1x1 Conv2d there, so its kernel is (1, 1, C, K) here (no
  dropout). ``loss_cls`` is read by the shared loss code.
  """

  num_classes: int
  in_channels: int
  loss_cls: Mapping[str, Any] | None = None  # None: CrossEntropyLoss
  spatial_type: str = "avg"
  num_person: int = 2
  init_std: float = 0.01
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    """x: (N * num_person, T, V, C) -> (N, num_classes)."""
    feat = pool_persons(x, self.spatial_type, self.in_channels, self.num_person, "STGCNHead")
    fc = Conv(self.num_classes, (1, 1), dtype=self.dtype,
              kernel_init=nn.with_logical_partitioning(nn.initializers.normal(self.init_std),
                                                       (None, None, "embed", "classes")),
              bias_init=nn.with_logical_partitioning(nn.initializers.zeros, ("classes",)),
              name="fc")
    return fc(feat[:, None, None, :])[:, 0, 0].astype(jnp.float32)


@MODELS.register
class GCNHead(nn.Module):
  """MMAction2 1.x's head of its skeleton GCNs (ST-GCN++, 1.x's STGCN/AGCN), whose
  checkpoints hold a Linear ``fc`` (K, C). 1.x takes M from its (N, M, C, T, V) features;
  vjax's rows are (clip, person) pairs, so ``num_person`` says how many rows make a clip.
  ``average_clips`` ('prob': softmax, 'score': raw, None) is applied by ``SkeletonGCN``'s
  ``test_scores``, as 1.x's ``predict``."""

  num_classes: int
  in_channels: int
  loss_cls: Mapping[str, Any] | None = None  # None: CrossEntropyLoss
  dropout: float = 0.0
  average_clips: str | None = "prob"
  num_person: int = 2
  init_std: float = 0.01
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    """x: (N * num_person, T, V, C) -> (N, num_classes)."""
    feat = pool_persons(x, "avg", self.in_channels, self.num_person, "GCNHead")
    return classifier(feat, self.num_classes, self.init_std, self.dropout, train, self.dtype,
                      name="fc")
