"""mmcv's ``NonLocal3d`` (Wang et al. 2018) on channels-last (N, T, H, W, C) clips.

Every position attends to every (optionally spatially sub-sampled) position; the result goes
through ``conv_out`` and is added to the input. Submodule names are mmcv's: ``g``, ``theta``,
``phi``, ``conv_out``, ``concat_project``; with ``sub_sample`` the pooled branches are
Sequentials, so ``g`` and ``phi`` become ``g_0`` and ``phi_0``.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import flax.linen as nn
import jax.numpy as jnp

from vjax.models.layers.conv_module import ConvModule
from vjax.models.layers.mmcv_cfg import norm_groups_for

MODES = ("gaussian", "embedded_gaussian", "dot_product", "concatenation")


class NonLocal3d(nn.Module):
  in_channels: int | None = None  # read from the input; checked when given
  sub_sample: bool = False
  reduction: int = 2
  use_scale: bool = True
  conv_cfg: Mapping[str, Any] | None = None  # Conv3d only
  norm_cfg: Mapping[str, Any] | None = None  # norm on conv_out only, as mmcv
  mode: str = "embedded_gaussian"
  std: float = 0.01  # init_weights(std, zeros_init) arguments, as mmcv's kwargs
  zeros_init: bool = True
  norm_eval: bool = False
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    if self.mode not in MODES:
      raise ValueError(f"NonLocal3d mode must be one of {MODES}, got {self.mode!r}")
    conv_type = (self.conv_cfg or {}).get("type", "Conv3d")
    if conv_type not in ("Conv3d", "Conv"):
      raise ValueError(f"NonLocal3d supports conv_cfg type 'Conv3d', got {conv_type!r}")
    n, c = x.shape[0], x.shape[-1]
    if self.in_channels is not None and c != self.in_channels:
      raise ValueError(f"NonLocal3d in_channels={self.in_channels}, input has {c} channels")
    inter = max(c // self.reduction, 1)
    normal = nn.initializers.normal(self.std)

    def proj(name):
      return ConvModule(inter, (1, 1, 1), use_bias=True, norm=False, act=None,
                        kernel_init=normal, dtype=self.dtype, name=name)

    def pool(y):  # MaxPool3d((1, 2, 2)): spatial only, floor
      return nn.max_pool(y, (1, 2, 2), strides=(1, 2, 2), padding="VALID")

    def flat(y):
      return y.reshape((n, -1, y.shape[-1]))

    def sub(name):  # g and phi: pooled after the 1x1x1 conv when sub-sampling
      return (lambda y: pool(proj(f"{name}_0")(y))) if self.sub_sample else proj(name)

    g_x = flat(sub("g")(x))  # (n, THW', inter)
    if self.mode == "gaussian":
      theta_x = flat(x)
      phi_x = flat(pool(x) if self.sub_sample else x)
    else:
      theta_x = flat(proj("theta")(x))
      phi_x = flat(sub("phi")(x))

    if self.mode == "concatenation":
      q, k = theta_x.shape[1], phi_x.shape[1]
      pairs = jnp.concatenate([jnp.broadcast_to(theta_x[:, :, None], (n, q, k, inter)),
                               jnp.broadcast_to(phi_x[:, None], (n, q, k, inter))], axis=-1)
      pairwise = ConvModule(1, (1, 1), act="relu", norm=False, dtype=self.dtype,
                            name="concat_project")(pairs)[..., 0] / k
    else:
      pairwise = jnp.einsum("nqc,nkc->nqk", theta_x, phi_x)
      if self.mode == "embedded_gaussian" and self.use_scale:
        pairwise = pairwise / math.sqrt(theta_x.shape[-1])
      if self.mode == "dot_product":
        pairwise = pairwise / pairwise.shape[-1]
      else:
        pairwise = nn.softmax(pairwise.astype(jnp.float32), axis=-1).astype(x.dtype)

    y = jnp.einsum("nqk,nkc->nqc", pairwise, g_x).reshape(x.shape[:-1] + (inter,))
    with_norm = self.norm_cfg is not None
    if self.zeros_init:
      out_init, bn_zero = (normal, True) if with_norm else (nn.initializers.zeros, False)
    else:
      out_init, bn_zero = normal, False  # (mmcv draws the BN weight from N(0, std) here)
    y = ConvModule(c, (1, 1, 1), use_bias=not with_norm, norm=with_norm, act=None,
                   bn_zero_init=bn_zero, kernel_init=out_init,
                   norm_eps=float((self.norm_cfg or {}).get("eps", 1e-5)),
                   norm_groups=norm_groups_for(self.norm_cfg, self.norm_groups),
                   dtype=self.dtype, name="conv_out")(y, train, self.norm_eval)
    return x + y
