"""TRNHead (Zhou et al. 2018): frame features -> ``hidden_dim``, then a relation module
scores ordered frame tuples of each video."""

from __future__ import annotations

import itertools
from typing import Any, Mapping, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from vjax.models.builder import MODELS
from vjax.models.heads.base import classifier, spatial_pool
from vjax.models.layers.torch_init import torch_bias_init, torch_kernel_init


def _mlp(x, hidden: int, num_classes: int, prefix: str, dtype):
  """MMAction2's Sequential(ReLU, Linear, ReLU, Linear): submodules ``{prefix}_1``/``_3``."""
  x = nn.relu(x)
  x = nn.Dense(hidden, kernel_init=torch_kernel_init, bias_init=torch_bias_init(x.shape[-1]),
               dtype=dtype, name=f"{prefix}_1")(x)
  x = nn.relu(x)
  return nn.Dense(num_classes, kernel_init=torch_kernel_init, bias_init=torch_bias_init(hidden),
                  dtype=dtype, name=f"{prefix}_3")(x)


class RelationModule(nn.Module):
  """All segments as one ordered tuple through an MLP (bottleneck 512)."""

  hidden_dim: int
  num_segments: int
  num_classes: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    return _mlp(x.reshape((x.shape[0], -1)), 512, self.num_classes, "classifier", self.dtype)


class RelationModuleMultiScale(nn.Module):
  """Sum over scales ``num_segments .. 2`` of an MLP (bottleneck 256) per scale applied to
  frame tuples of that size: all frames at the top scale, ``min(3, C(n, scale))`` tuples
  drawn without replacement (one draw per batch, as MMAction2) at the others.

  MMAction2 draws with numpy's global RNG in training and testing alike. vjax draws from
  the ``dropout`` stream in training and from a fixed key at test time, so evaluation is
  reproducible; with ``num_segments <= 3`` every tuple is used and nothing is drawn.
  """

  hidden_dim: int
  num_segments: int
  num_classes: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    scales = range(self.num_segments, 1, -1)
    key = self.make_rng("dropout") if train else jax.random.key(0)
    total = 0
    for i, scale in enumerate(scales):
      relations = np.array(list(itertools.combinations(range(self.num_segments), scale)))
      picks = min(3, len(relations))
      if picks < len(relations):
        key, sub = jax.random.split(key)
        chosen = jnp.asarray(relations)[jax.random.choice(sub, len(relations), (picks,),
                                                          replace=False)]
      else:
        chosen = jnp.asarray(relations)
      tuples = x[:, chosen].reshape((x.shape[0], picks, scale * x.shape[-1]))
      total = total + _mlp(tuples, 256, self.num_classes, f"fc_fusion_scales_{i}",
                           self.dtype).sum(axis=1)
    return total


RELATIONS = {"TRN": RelationModule, "TRNMultiScale": RelationModuleMultiScale}


@MODELS.register
class TRNHead(nn.Module):
  num_classes: int
  in_channels: int
  num_segments: int = 8
  loss_cls: Mapping[str, Any] | None = None
  spatial_type: str = "avg"
  relation_type: str = "TRNMultiScale"
  hidden_dim: int = 256
  dropout_ratio: float = 0.8
  init_std: float = 0.001
  multi_class: bool = False
  label_smooth_eps: float = 0.0
  topk: Sequence[int] | int = (1, 5)
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, num_segs: int | None = None, train: bool = False):
    """x: (N * num_segments, H, W, C) -> (N, num_classes); ``num_segs`` is unused, as in
    MMAction2: rows group by ``num_segments``."""
    if self.relation_type not in RELATIONS:
      raise ValueError(f"Unknown relation_type {self.relation_type!r}; use one of "
                       f"{sorted(RELATIONS)}")
    feat = classifier(spatial_pool(x, self.spatial_type), self.hidden_dim, self.init_std,
                      self.dropout_ratio, train, self.dtype)
    feat = feat.reshape((-1, self.num_segments, self.hidden_dim))
    relation = RELATIONS[self.relation_type](self.hidden_dim, self.num_segments,
                                             self.num_classes, self.dtype, name="consensus")
    return relation(feat, train).astype(jnp.float32)
