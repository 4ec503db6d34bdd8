"""2s-AGCN (Shi et al. 2019), MMAction2's ``AGCN`` backbone, channels-last.

Same input, layout and ten-block plan as ``stgcn.STGCN`` ((N, M, T, V, C) ->
(N * M, ceil(T / 4), V, 256)); the graph convolution is adaptive: for each of three
partitions, the fixed ``A[i]`` plus a learnt offset ``PA[i]`` plus a per-sample
joint-affinity matrix (softmax over embedded-Gaussian similarities of two 1x1 embeddings),
then a 1x1 conv per partition. Joint
and bone streams are the same model on different inputs (``JointToBone``). MMAction2's
initialisers in this module call mmcv helpers on bare tensors, which leave them untouched,
so every conv here starts from PyTorch's default and every BN from (1, 0), as there.
"""

from __future__ import annotations

from typing import Any, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp

from vjax.models.backbones.stgcn import (BLOCKS, TEMPORAL_KERNEL, batch_norm, conv, data_norm,
                                         person_rows, residual)
from vjax.models.builder import MODELS
from vjax.models.layers.torch_init import torch_bias_init, torch_kernel_init
from vjax.models.skeleton.graph import adjacency

NUM_SUBSET = 3


def torch_conv(features: int, fan_in: int, kernel_t: int = 1, stride: int = 1, *, name: str,
               dtype: Any):
  """A Conv2d with PyTorch's default initialisation."""
  return conv(features, kernel_t, stride, name=name, dtype=dtype, kernel_init=torch_kernel_init,
              bias_init=torch_bias_init(fan_in))


class Conv1x1Params(nn.Module):
  """A ``torch_conv`` 1x1's parameters (same names, shapes, initialisers), returned rather than
  applied, so that several convs over one input run as one matrix product."""

  features: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, in_features: int):
    kernel = self.param("kernel", nn.with_logical_partitioning(
        torch_kernel_init, (None, None, "conv_in", "conv_out")),
                        (1, 1, in_features, self.features), jnp.float32)
    bias = self.param("bias", nn.with_logical_partitioning(torch_bias_init(in_features),
                                                           ("conv_out",)),
                      (self.features,), jnp.float32)
    return kernel[0, 0].astype(self.dtype), bias.astype(self.dtype)


class AdaptiveGraphConv(nn.Module):
  """MMAction2's AGCN ``ConvTemporalGraphical`` (module name ``gcn``) with its per-partition
  convs batched: the six embeddings as one product, the three partitions mixed over joints in
  one einsum and projected by the three ``conv_d`` in one product. Parameters keep MMAction2's
  per-partition names."""

  features: int
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, adj, train: bool = False):
    n, t, v, c = x.shape
    if adj.shape[0] not in (1, NUM_SUBSET):
      raise ValueError(f"AGCN mixes {NUM_SUBSET} graph partitions; graph_cfg gives "
                       f"{adj.shape[0]} (use strategy 'agcn', 'spatial' or 'uniform')")
    pa = self.param("PA", nn.with_logical_partitioning(nn.initializers.constant(1e-6),
                                                       (None, None, None)),
                    (NUM_SUBSET, v, v), jnp.float32)
    a = (adj + pa).astype(self.dtype)
    inter = self.features // 4
    parts = range(NUM_SUBSET)
    emb = [Conv1x1Params(inter, self.dtype, name=f"conv_{s}_{i}")(c) for s in "ab" for i in parts]
    proj = [Conv1x1Params(self.features, self.dtype, name=f"conv_d_{i}")(c) for i in parts]
    e = x.reshape(-1, c) @ jnp.concatenate([k for k, _ in emb], 1)
    e = (e + jnp.concatenate([b for _, b in emb])).reshape(n, t, v, 2, NUM_SUBSET, inter)
    # (N, K, V, V) affinities of joints v (rows) and w per partition, normalised over v as
    # MMAction2's softmax(dim=-2), scaled by the embedding size inter * T.
    att = jnp.einsum("ntvkc,ntwkc->nkvw", e[:, :, :, 0], e[:, :, :, 1]) / (inter * t)
    att = jax.nn.softmax(att.astype(jnp.float32), axis=2).astype(self.dtype) + a
    mixed = jnp.einsum("ntvc,nkvw->ntwkc", x, att).reshape(-1, NUM_SUBSET * c)
    y = mixed @ jnp.concatenate([k for k, _ in proj], 0)
    y = y.reshape(n, t, v, self.features) + sum(b for _, b in proj)
    y = batch_norm(train, self.norm_groups, self.dtype, "bn")(y)
    if c != self.features:
      down = torch_conv(self.features, c, name="down_0", dtype=self.dtype)(x)
      x = batch_norm(train, self.norm_groups, self.dtype, "down_1")(down)
    return nn.relu(y + x)


class AGCNBlock(nn.Module):
  """gcn -> 9x1 temporal conv, BN, dropout -> + residual -> ReLU."""

  features: int
  stride: int = 1
  residual: bool = True
  dropout: float = 0.0
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, adj, train: bool = False):
    c = x.shape[-1]
    res = residual(x, self.features, self.stride, self.residual, train, self.norm_groups,
                   self.dtype, kernel_init=torch_kernel_init, bias_init=torch_bias_init(c))
    y = AdaptiveGraphConv(self.features, self.norm_groups, self.dtype, name="gcn")(x, adj, train)
    y = torch_conv(self.features, self.features * TEMPORAL_KERNEL, TEMPORAL_KERNEL, self.stride,
                   name="tcn_0", dtype=self.dtype)(y)
    y = batch_norm(train, self.norm_groups, self.dtype, "tcn_1")(y)
    if self.dropout:
      y = nn.Dropout(self.dropout, deterministic=not train)(y)
    return nn.relu(y + res)


@MODELS.register
class AGCN(nn.Module):
  """MMAction2's AGCN: ``data_bn`` and ten ``agcn_networks`` blocks (STGCN's widths and
  strides, the first without residual). ``dropout`` is MMAction2's block keyword (its
  ``**kwargs``), applied in every block but the first; ``pretrained`` is read at training
  start by ``vjax.convert.pretrained``. x: (N, M, T, V, C) -> (N * M, T', V, 256).
  """

  in_channels: int
  graph_cfg: Mapping[str, Any]
  data_bn: bool = True
  pretrained: str | None = None
  dropout: float = 0.0
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    a = jnp.asarray(adjacency(self.graph_cfg), jnp.float32)
    x = person_rows(x, self.in_channels, a.shape[1], "AGCN")
    x = data_norm(x, self.data_bn, train, self.norm_groups, self.dtype)
    for i, (features, stride) in enumerate(BLOCKS):
      x = AGCNBlock(features, stride, residual=i > 0, dropout=self.dropout if i else 0.0,
                    norm_groups=self.norm_groups, dtype=self.dtype,
                    name=f"agcn_networks_{i}")(x, a, train)
    return x
