"""ST-GCN (Yan et al. 2018), MMAction2's ``STGCN`` backbone, channels-last.

Input: skeleton sequences (N, M, T, V, C): N clips, M persons, T frames, V joints, C
coordinates (x, y, score or x, y, z); MMAction2's ``(N, C, T, V, M)`` with its axes moved.
Persons are folded into the batch, ``(N * M, T, V, C)``, rows in (clip, person) order as
MMAction2's ``view(n * m, ...)``; the output is that layout, ``(N * M, ceil(T / 4), V, 256)``
(two blocks stride 2 in time).

Each block is a graph convolution (a 1x1 conv to K partitions, mixed over joints by the
graph's ``A`` (K, V, V) in one einsum) and a temporal convolution (9x1 over frames), with a
residual. Module names are MMAction2's (``st_gcn_networks_3/tcn_2``, ``edge_importance_0``),
so its state dicts import by name; its ``A`` buffer is recomputed from ``graph_cfg``.
``agcn.py`` reuses the input normalisation, the residual and the layer helpers.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from vjax.models.builder import MODELS
from vjax.models.layers import BatchNorm
from vjax.models.layers import conv as conv_lib
from vjax.models.layers.conv import Conv
from vjax.models.layers.conv_module import kaiming_fan_out
from vjax.models.skeleton.graph import adjacency

# (out channels, temporal stride) of the ten blocks of STGCN and AGCN.
BLOCKS = ((64, 1), (64, 1), (64, 1), (64, 1), (128, 2), (128, 1), (128, 1), (256, 2),
          (256, 1), (256, 1))
TEMPORAL_KERNEL = 9


def _temporal_conv1d(lhs, rhs, window_strides, padding):
  """A (kt, 1) channels-last 2D convolution as a 1D one over time with the joints folded into
  the batch: (N, T, V, C) -> (N * V, T, C), XLA's 1D convolution, and back."""
  n, t, v, c = lhs.shape
  x = jnp.transpose(lhs, (0, 2, 1, 3)).reshape(n * v, t, c)
  y = lax.conv_general_dilated(x, rhs[:, 0], tuple(window_strides[:1]), tuple(padding[:1]),
                               dimension_numbers=("NWC", "WIO", "NWC"))
  return jnp.transpose(y.reshape((n, v) + y.shape[1:]), (0, 2, 1, 3))


def temporal_conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None,
                                  rhs_dilation=None, dimension_numbers=None,
                                  feature_group_count=1, batch_group_count=1, precision=None,
                                  preferred_element_type=None):
  """The 9x1 temporal convolutions on the CPU as 1D convolutions over (N * V) rows
  (``_temporal_conv1d``), forward and backward by XLA's own 1D convolution and its gradient.
  For 32 rows x 300 frames x 17 joints x 64 channels, fwd+bwd takes 303 ms where XLA's 2D
  form with a stacked-taps backward took 596 ms and XLA's 2D backward alone 4.1 s
  (benchmarks/temporal_conv.py). When the output has fewer frames than the kernel has taps,
  XLA's CPU 1D convolution (or its input gradient) falls off a cliff: 400 rows x 8 frames x
  256 channels, kernel 9, took 992 ms forward and 1780 ms for the input gradient, against 28
  and 42 ms as one matrix product over the stacked taps, which ``conv_lib.fold_conv`` does
  (at 16 output frames and more XLA's 1D convolution is the faster). Other kernels, other
  backends and multi-device meshes take ``Conv``'s own path."""
  plain = (feature_group_count == 1 and batch_group_count == 1 and precision is None
           and preferred_element_type is None and not any(d != 1 for d in lhs_dilation or ())
           and not any(d != 1 for d in rhs_dilation or ()) and not isinstance(padding, str))
  if (plain and lhs.ndim == 4 and rhs.shape[0] > 1 and rhs.shape[1] == 1
      and tuple(window_strides)[1] == 1 and tuple(padding[1]) == (0, 0)
      and jax.default_backend() == "cpu" and not conv_lib._under_multi_device_mesh()
      and lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
      == conv_lib._CHANNELS_LAST_2D):
    strides, pads = tuple(window_strides), tuple(map(tuple, padding))
    kt = rhs.shape[0]
    if (lhs.shape[1] + sum(pads[0]) - kt) // strides[0] + 1 < kt:  # output frames < taps
      y = conv_lib.fold_conv(lhs[..., None, :], rhs[:, :, None], strides + (1,),
                             pads + ((0, 0),), (1, 1, 1))
      return y[..., 0, :]
    return _temporal_conv1d(lhs, rhs, strides, pads)
  return conv_lib.conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation,
                                       rhs_dilation, dimension_numbers, feature_group_count,
                                       batch_group_count, precision, preferred_element_type)


class TemporalConv(Conv):
  """``Conv`` (same parameters) whose (kt, 1) kernels take the CPU path above."""

  conv_general_dilated: object = temporal_conv_general_dilated


def conv(features: int, kernel_t: int = 1, stride: int = 1, *, name: str,
         kernel_init: Callable[..., Any] = kaiming_fan_out,
         bias_init: Callable[..., Any] = nn.initializers.zeros, dtype: Any = jnp.float32):
  """A torch ``Conv2d`` over (T, V) with bias: ``kernel_t`` x 1, stride and 'same' padding in
  time only (MMAction2's ``((k - 1) // 2, 0)``)."""
  pad = (kernel_t - 1) // 2
  layer = TemporalConv if kernel_t > 1 else Conv
  return layer(features, (kernel_t, 1), strides=(stride, 1), padding=((pad, pad), (0, 0)),
               use_bias=True, dtype=dtype,
               kernel_init=nn.with_logical_partitioning(kernel_init,
                                                        (None, None, "conv_in", "conv_out")),
               bias_init=nn.with_logical_partitioning(bias_init, ("conv_out",)), name=name)


def batch_norm(train: bool, norm_groups: int | None, dtype: Any, name: str) -> BatchNorm:
  """torch's BatchNorm1d/2d defaults (eps 1e-5, momentum 0.1)."""
  return BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5,
                   num_groups=norm_groups, dtype=dtype, name=name)


def person_rows(x, in_channels: int, num_node: int, owner: str):
  """(N, M, T, V, C) -> (N * M, T, V, C), checked against the backbone's configuration."""
  if x.ndim != 5:
    raise ValueError(f"{owner} expects skeletons (N, M, T, V, C), got shape {tuple(x.shape)}")
  n, m, t, v, c = x.shape
  if v != num_node or c != in_channels:
    raise ValueError(f"{owner} expects {num_node} joints (graph_cfg) with {in_channels} "
                     f"channels (in_channels), got (N, M, T, V, C) = {tuple(x.shape)}")
  return x.reshape(n * m, t, v, c)


def data_norm(x, enabled: bool, train: bool, norm_groups: int | None, dtype: Any):
  """MMAction2's ``data_bn``: BatchNorm1d over V * C channels (joint-major, as its
  ``(N * M, V * C, T)`` view), statistics over clips, persons and frames."""
  x = x.astype(dtype)
  if not enabled:
    return x
  rows, t, v, c = x.shape
  y = batch_norm(train, norm_groups, dtype, "data_bn")(x.reshape(rows, t, v * c))
  return y.reshape(rows, t, v, c)


def residual(x, features: int, stride: int, enabled: bool, train: bool,
             norm_groups: int | None, dtype: Any, **conv_kwargs):
  """The block's shortcut: none, identity, or a strided 1x1 conv + BN (``residual_0/1``)."""
  if not enabled:
    return 0.0
  if x.shape[-1] == features and stride == 1:
    return x
  y = conv(features, 1, stride, name="residual_0", dtype=dtype, **conv_kwargs)(x)
  return batch_norm(train, norm_groups, dtype, "residual_1")(y)


class ConvTemporalGraphical(nn.Module):
  """A 1x1 conv to K * features channels, then joint mixing by each partition of ``A``."""

  features: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, adj):
    k = adj.shape[0]
    y = conv(self.features * k, name="conv", dtype=self.dtype)(x)
    y = y.reshape(y.shape[:-1] + (k, self.features))  # torch's (K, C) channel order
    return jnp.einsum("ntvkc,kvw->ntwc", y, adj.astype(y.dtype))


class STGCNBlock(nn.Module):
  """gcn -> BN, ReLU, 9x1 temporal conv, BN, dropout -> + residual -> ReLU."""

  features: int
  stride: int = 1
  residual: bool = True
  dropout: float = 0.0
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, adj, train: bool = False):
    bn = lambda name: batch_norm(train, self.norm_groups, self.dtype, name)  # noqa: E731
    res = residual(x, self.features, self.stride, self.residual, train, self.norm_groups,
                   self.dtype)
    y = ConvTemporalGraphical(self.features, dtype=self.dtype, name="gcn")(x, adj)
    y = nn.relu(bn("tcn_0")(y))
    y = conv(self.features, TEMPORAL_KERNEL, self.stride, name="tcn_2", dtype=self.dtype)(y)
    y = bn("tcn_3")(y)
    if self.dropout:
      y = nn.Dropout(self.dropout, deterministic=not train)(y)
    return nn.relu(y + res)


@MODELS.register
class STGCN(nn.Module):
  """MMAction2's STGCN: ``data_bn``, ten ``st_gcn_networks`` blocks (64, 64, 64, 64, 128/2,
  128, 128, 256/2, 256, 256; the first without residual) and, with
  ``edge_importance_weighting``, a learnt (K, V, V) scale of ``A`` per block.

  ``dropout`` is MMAction2's block keyword (its ``**kwargs``), applied in every block but the
  first. ``pretrained`` is read at training start by ``vjax.convert.pretrained``.
  x: (N, M, T, V, C) -> (N * M, T', V, 256).
  """

  in_channels: int
  graph_cfg: Mapping[str, Any]
  edge_importance_weighting: bool = True
  data_bn: bool = True
  pretrained: str | None = None
  dropout: float = 0.0
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    a = jnp.asarray(adjacency(self.graph_cfg), jnp.float32)
    x = person_rows(x, self.in_channels, a.shape[1], "STGCN")
    x = data_norm(x, self.data_bn, train, self.norm_groups, self.dtype)
    for i, (features, stride) in enumerate(BLOCKS):
      adj = a
      if self.edge_importance_weighting:
        adj = a * self.param(f"edge_importance_{i}",
                             nn.with_logical_partitioning(nn.initializers.ones,
                                                          (None, None, None)),
                             a.shape, jnp.float32)
      x = STGCNBlock(features, stride, residual=i > 0, dropout=self.dropout if i else 0.0,
                     norm_groups=self.norm_groups, dtype=self.dtype,
                     name=f"st_gcn_networks_{i}")(x, adj, train)
    return x
