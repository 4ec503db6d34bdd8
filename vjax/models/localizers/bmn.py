"""BMN (Lin et al., 2019), MMAction2's boundary-matching network, on channels-last features.

Input ``(N, T, C)`` snippet features (T = ``temporal_dim``, C = ``feat_dim``); output
``(confidence_map (N, D, T, 2), start (N, T), end (N, T))`` after MMAction2's sigmoids, where
the map is indexed ``[duration - 1, start]`` (MMAction2's ``(N, 2, D, T)`` moved channels-last:
channel 0 the regression confidence, 1 the classification one).

The boundary-matching layer samples every proposal (start, duration) at ``num_samples`` points
by linear interpolation between snippets, a fixed linear map given by ``interp1d_mask``;
MMAction2 then applies ``x_3d_p.0``, a Conv3d whose kernel spans exactly those samples. No
nonlinearity sits between the two, so vjax contracts the features with the conv kernel first
(over channels) and then with the sampling mask (over snippets and samples) in one dot: at the
100 x 400 config this is a third of the multiply-adds of MMAction2's order and never builds its
(N, C, 32, 100, 100) sampled tensor (330 MB per video at C = 256). The mask is a numpy constant
of the config; MMAction2 keeps it as a frozen parameter, ``sample_mask``, whose checkpoint
entry the importer skips and ``check_sample_mask`` compares with the config's.
"""

from __future__ import annotations

import functools
from typing import Any, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from vjax.models.builder import MODELS
from vjax.models.layers.conv import Conv
from vjax.models.layers.torch_init import torch_bias_init, torch_kernel_init


@functools.lru_cache(maxsize=4)
def interp1d_mask(temporal_dim: int, boundary_ratio: float, num_samples: int,
                  num_samples_per_bin: int) -> np.ndarray:
  """MMAction2's boundary-matching sampling mask as ``(T, num_samples, D, T)`` float32.

  ``mask[t, s, d, u]`` is the weight of snippet ``t`` in sample ``s`` of the proposal starting
  at snippet ``u`` and lasting ``d + 1`` snippets (zero for proposals past the end), i.e.
  MMAction2's ``sample_mask`` before its ``view(T, -1)``. Each proposal is widened by
  ``boundary_ratio`` of its length on both sides and cut into ``num_samples`` bins of
  ``num_samples_per_bin`` evenly spaced points, each point splitting its weight between the
  snippets below and above it. Computed in float64 with MMAction2's operations and
  accumulation order, including its truncation toward zero (a point in (-1, 0) puts its whole
  weight on snippet 0). Cached and read-only: the 100-snippet config is 128 MB.
  """
  t, nb = temporal_dim, num_samples_per_bin
  duration, start = np.meshgrid(np.arange(t), np.arange(t), indexing="ij")  # (D, T)
  valid = start + duration < t
  centre_len = duration.astype(np.float64) + 1
  seg_tmin = start - centre_len * boundary_ratio
  seg_tmax = (start + duration) + centre_len * boundary_ratio
  step = (seg_tmax - seg_tmin) / (num_samples * nb - 1.0)
  mask = np.zeros((t, num_samples, t, t), np.float32)
  for b in range(num_samples):
    acc = np.zeros((t, t, t), np.float64)  # (snippet, duration, start)
    for k in range(nb):
      point = seg_tmin + step * (b * nb + k)
      frac, whole = np.modf(point)  # truncation, as math.modf
      for index, weight in ((whole.astype(np.int64), 1 - frac),
                            (np.ceil(point).astype(np.int64), frac)):
        ok = valid & (index >= 0) & (index <= t - 1)
        d, u = np.nonzero(ok)
        acc[index[ok], d, u] += weight[ok]  # one entry per (d, u): no repeated targets
    mask[:, b] = acc * (1.0 / nb)
  mask.flags.writeable = False
  return mask


def bm_mask(temporal_dim: int) -> np.ndarray:
  """``(D, T)`` float32: 1 where the proposal ``[start, start + duration + 1]`` ends inside
  the video (``start + duration < T``), MMAction2's ``bm_mask``."""
  duration, start = np.meshgrid(np.arange(temporal_dim), np.arange(temporal_dim), indexing="ij")
  return (start + duration < temporal_dim).astype(np.float32)


def check_sample_mask(state_dict: Mapping[str, Any], model: "BMN") -> None:
  """Raises if an MMAction2 state dict's ``sample_mask`` (which the importer skips) is not the
  mask ``model``'s config gives: the checkpoint then comes from a BMN with another
  ``boundary_ratio`` or sampling, which the layer shapes alone do not reveal."""
  stored = state_dict.get("sample_mask")
  if stored is None:
    return
  t = model.temporal_dim
  expected = interp1d_mask(t, model.boundary_ratio, model.num_samples,
                           model.num_samples_per_bin).reshape(t, -1)
  stored = np.asarray(stored)
  if stored.shape != expected.shape or not np.allclose(stored, expected, rtol=0, atol=1e-6):
    raise ValueError(
        f"the checkpoint's BMN sample_mask {stored.shape} differs from the one of this config "
        f"(temporal_dim={t}, boundary_ratio={model.boundary_ratio}, num_samples="
        f"{model.num_samples}, num_samples_per_bin={model.num_samples_per_bin}): use the "
        "config the checkpoint was trained with")


def _conv(features: int, kernel, fan_in: int, dtype, name: str, groups: int = 1):
  """A biased convolution with PyTorch's default initialisation (MMAction2 keeps it)."""
  pad = tuple((k // 2, k // 2) for k in kernel)
  return Conv(features, kernel, padding=pad, feature_group_count=groups,
              kernel_init=torch_kernel_init, bias_init=torch_bias_init(fan_in), dtype=dtype,
              name=name)


class BoundaryMatchingConv(nn.Module):
  """The boundary-matching layer followed by ``x_3d_p.0`` (a Conv3d with kernel
  ``(num_samples, 1, 1)``): ``(N, T, C)`` -> ``(N, D, T, features)``, before the ReLU.

  Holds the Conv3d's parameters in PyTorch's layout moved channels-last,
  ``(num_samples, 1, 1, C, features)``, so checkpoints import by name.
  """
  features: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, mask: np.ndarray):
    """x: (N, T, C); mask: (T, S, D, T), ``interp1d_mask``."""
    s, c = mask.shape[1], x.shape[-1]
    kernel = self.param("kernel", torch_kernel_init, (s, 1, 1, c, self.features), jnp.float32)
    bias = self.param("bias", torch_bias_init(s * c), (self.features,), jnp.float32)
    n, t = x.shape[:2]
    d, u = mask.shape[2:]
    x = x.astype(self.dtype)
    # Channels first (small: N x T x S x features), then snippets and samples in one dot
    # against the (T * S, D * T) mask: this layout is the one XLA's CPU dot reads in place
    # (with the mask as (D * T, T * S) it transposes the constant while compiling).
    per_sample = jnp.einsum("ntc,sco->ntso", x, kernel.reshape(s, c, -1).astype(self.dtype))
    y = _sample(mask, per_sample.reshape(n, t * s, -1))
    return y.reshape(n, d, u, -1) + bias.astype(self.dtype)


_TRANSPOSED: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # id -> (mask, its transpose)


def _transposed(mask: np.ndarray) -> np.ndarray:
  """The ``(D * T, T * S)`` transpose of a ``(T, S, D, T)`` mask, contiguous and read-only;
  kept for the last few masks (``interp1d_mask`` hands out the same cached arrays)."""
  kept = _TRANSPOSED.get(id(mask))
  if kept is None or kept[0] is not mask:
    t, s = mask.shape[:2]
    out = np.ascontiguousarray(mask.reshape(t * s, -1).T)
    out.flags.writeable = False
    if len(_TRANSPOSED) >= 4:
      _TRANSPOSED.pop(next(iter(_TRANSPOSED)))
    kept = _TRANSPOSED[id(mask)] = (mask, out)
  return kept[1]


def _sample(mask: np.ndarray, v):
  """``(N, T * S, F)`` -> ``(N, D * T, F)`` through the ``(T * S, D * T)`` mask, with a
  gradient that reads the mask's transpose computed once in numpy: left to itself XLA
  transposes the 128 MB constant while compiling every train step (constant folding, over a
  second at the 100-snippet config)."""
  t, s = mask.shape[:2]
  forward = mask.reshape(t * s, -1)

  @jax.custom_vjp
  def sample(v):
    return jnp.einsum("jk,njo->nko", jnp.asarray(forward, v.dtype), v)

  def fwd(v):
    return sample(v), None

  def bwd(_, g):
    return (jnp.einsum("kj,nko->njo", jnp.asarray(_transposed(mask), g.dtype), g),)

  sample.defvjp(fwd, bwd)
  return sample(v)


@MODELS.register
class BMN(nn.Module):
  """MMAction2's ``BMN`` network (``_forward``); its argument names and defaults.

  The post-processing arguments (``soft_nms_*``, ``post_process_top_k``,
  ``feature_extraction_interval``) are read by the task's proposal building
  (``vjax.localization``); ``loss_cls`` (None: ``dict(type='BMNLoss')``, the only one) by its
  loss (``vjax.models.localizers.losses.bmn_loss``).
  """
  temporal_dim: int
  boundary_ratio: float
  num_samples: int
  num_samples_per_bin: int
  feat_dim: int
  soft_nms_alpha: float
  soft_nms_low_threshold: float
  soft_nms_high_threshold: float
  post_process_top_k: int
  feature_extraction_interval: int = 16
  loss_cls: Mapping[str, Any] | None = None
  hidden_dim_1d: int = 256
  hidden_dim_2d: int = 128
  hidden_dim_3d: int = 512
  norm_groups: int | None = None  # accepted from build_model; BMN has no norm layers
  dtype: Any = jnp.float32

  def check_state_dict(self, state_dict) -> None:
    """Called by the checkpoint import (``vjax.convert.load``) with the MMAction2 state dict."""
    check_sample_mask(state_dict, self)

  @nn.compact
  def __call__(self, x, train: bool = False):
    """x: (N, T, C) -> (confidence_map (N, D, T, 2), start (N, T), end (N, T))."""
    del train  # no dropout, no norm
    if x.ndim != 3 or x.shape[1:] != (self.temporal_dim, self.feat_dim):
      raise ValueError(f"BMN expects (N, temporal_dim={self.temporal_dim}, "
                       f"feat_dim={self.feat_dim}) features, got {x.shape}")
    h1, h2, h3, dt = self.hidden_dim_1d, self.hidden_dim_2d, self.hidden_dim_3d, self.dtype
    x = x.astype(dt)
    x = nn.relu(_conv(h1, (3,), self.feat_dim // 4 * 3, dt, "x_1d_b_0", groups=4)(x))
    base = nn.relu(_conv(h1, (3,), h1 // 4 * 3, dt, "x_1d_b_2", groups=4)(x))

    def boundary(prefix):
      y = nn.relu(_conv(h1, (3,), h1 // 4 * 3, dt, f"{prefix}_0", groups=4)(base))
      y = _conv(1, (1,), h1, dt, f"{prefix}_2")(y)
      return nn.sigmoid(y[..., 0].astype(jnp.float32))

    start, end = boundary("x_1d_s"), boundary("x_1d_e")

    y = nn.relu(_conv(h1, (3,), h1 * 3, dt, "x_1d_p_0")(base))
    mask = interp1d_mask(self.temporal_dim, self.boundary_ratio, self.num_samples,
                         self.num_samples_per_bin)
    y = nn.relu(BoundaryMatchingConv(h3, dtype=dt, name="x_3d_p_0")(y, mask))
    y = nn.relu(_conv(h2, (1, 1), h3, dt, "x_2d_p_0")(y))
    y = nn.relu(_conv(h2, (3, 3), h2 * 9, dt, "x_2d_p_2")(y))
    y = nn.relu(_conv(h2, (3, 3), h2 * 9, dt, "x_2d_p_4")(y))
    y = _conv(2, (1, 1), h2, dt, "x_2d_p_6")(y)
    return nn.sigmoid(y.astype(jnp.float32)), start, end
