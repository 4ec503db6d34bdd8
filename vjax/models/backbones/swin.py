"""timm's Swin Transformer (Liu et al., 2021) as MMAction2 0.24.1 uses it
(``backbone.type='timm.swin_base_patch4_window7_224'``), channels-last input (N, H, W, C).

MMAction2 calls ``timm.create_model(NAME, num_classes=0, **kwargs)`` and then
``forward_features``, which in the timm of MMAction2 0.24.1's time (0.5.x, whose state-dict
layout its TSN-Swin checkpoint has) ends with the final LayerNorm and the mean over all
tokens: (N, C), reshaped to (N, C, 1, 1) for the head. This backbone returns that as
(N, 1, 1, C).

Structure and names are timm's: ``patch_embed`` (``proj``, a patch_size-strided conv, and
``norm``), optional ``absolute_pos_embed``, stages ``layers_{i}`` of ``blocks_{j}`` (pre-norm
window attention ``attn`` and MLP ``mlp``, stochastic depth) and, for all but the last stage,
``downsample`` (patch merging: 2x2 neighbours concatenated in timm's (0,0), (1,0), (0,1),
(1,1) order, ``norm``, then the bias-free ``reduction``), and the final ``norm``.
Window attention adds a learned ``relative_position_bias_table`` indexed by the relative
(dy, dx) of each token pair; odd blocks cyclically shift by half a window first and mask
(-100) the pairs that the shift brought together from different image regions. A stage
whose resolution is at most the window size uses one window of its full size, unshifted.

timm stores the pair -> table-row index (``relative_position_index``) and the shift masks
(``attn_mask``) as buffers in the state dict. They are functions of the geometry, so vjax
computes them here and its checkpoint import ignores them. Like timm's, the model is built
for one ``img_size`` and refuses other input sizes.
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from vjax.models.builder import MODELS
from vjax.models.layers.conv import Conv
from vjax.models.layers.torch_init import torch_bias_init, torch_kernel_init
from vjax.models.layers.drop_path import drop_path

# timm's trunc_normal_(std=.02) cuts at +-2 in absolute terms: a plain normal at this std.
normal_02 = nn.initializers.normal(0.02)

# (patch_size, window_size, embed_dim, depths, num_heads, default img_size) of timm 0.5's
# Swin variants; ``_in22k`` ones only differ in their classifier, which MMAction2 drops.
VARIANTS = {
    "swin_tiny_patch4_window7_224": (4, 7, 96, (2, 2, 6, 2), (3, 6, 12, 24), 224),
    "swin_small_patch4_window7_224": (4, 7, 96, (2, 2, 18, 2), (3, 6, 12, 24), 224),
    "swin_base_patch4_window7_224": (4, 7, 128, (2, 2, 18, 2), (4, 8, 16, 32), 224),
    "swin_base_patch4_window12_384": (4, 12, 128, (2, 2, 18, 2), (4, 8, 16, 32), 384),
    "swin_large_patch4_window7_224": (4, 7, 192, (2, 2, 18, 2), (6, 12, 24, 48), 224),
    "swin_large_patch4_window12_384": (4, 12, 192, (2, 2, 18, 2), (6, 12, 24, 48), 384),
}
VARIANTS.update({
    "swin_base_patch4_window7_224_in22k": VARIANTS["swin_base_patch4_window7_224"],
    "swin_base_patch4_window12_384_in22k": VARIANTS["swin_base_patch4_window12_384"],
    "swin_large_patch4_window7_224_in22k": VARIANTS["swin_large_patch4_window7_224"],
    "swin_large_patch4_window12_384_in22k": VARIANTS["swin_large_patch4_window12_384"],
})


def pair(v) -> tuple[int, int]:
  return (v, v) if isinstance(v, int) else tuple(v)


def dense(features: int, name: str, dtype, use_bias: bool = True):
  """A Linear initialised as timm's Swin does: normal(0.02) weights, zero bias."""
  return nn.Dense(features, use_bias=use_bias, dtype=dtype,
                  kernel_init=nn.with_logical_partitioning(normal_02, ("embed", "mlp")),
                  bias_init=nn.with_logical_partitioning(nn.initializers.zeros, ("mlp",)),
                  name=name)


def layer_norm(name: str, dtype):
  return nn.LayerNorm(epsilon=1e-5, use_fast_variance=False, dtype=dtype, name=name)


def relative_position_index(window: int) -> np.ndarray:
  """(window**2, window**2) row of the bias table for every (query, key) token pair: the
  pair's (dy, dx), each shifted to start at 0, as dy * (2 * window - 1) + dx."""
  ys, xs = np.meshgrid(np.arange(window), np.arange(window), indexing="ij")
  coords = np.stack([ys.ravel(), xs.ravel()])  # (2, N), row-major tokens
  rel = coords[:, :, None] - coords[:, None, :] + (window - 1)  # (2, N, N)
  return rel[0] * (2 * window - 1) + rel[1]


def to_windows(x, window: int):
  """(B, H, W, C) -> (B * nW, window**2, C), windows in row-major order per image."""
  b, h, w, c = x.shape
  x = x.reshape(b, h // window, window, w // window, window, c).transpose(0, 1, 3, 2, 4, 5)
  return x.reshape(-1, window * window, c)


def from_windows(x, window: int, h: int, w: int):
  """Inverse of ``to_windows``."""
  c = x.shape[-1]
  x = x.reshape(-1, h // window, w // window, window, window, c).transpose(0, 1, 3, 2, 4, 5)
  return x.reshape(-1, h, w, c)


def shift_mask(h: int, w: int, window: int, shift: int) -> np.ndarray:
  """(nW, window**2, window**2) additive mask of shifted-window attention: 0 for token pairs
  from the same region of the unshifted image, -100 for the others."""
  region = np.zeros((1, h, w, 1), np.float32)
  bounds = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
  label = 0
  for hs in bounds:
    for ws in bounds:
      region[:, hs, ws, :] = label
      label += 1
  ids = np.asarray(to_windows(region, window))[..., 0]  # (nW, N)
  return np.where(ids[:, None, :] != ids[:, :, None], -100.0, 0.0).astype(np.float32)


class WindowAttention(nn.Module):
  """Multi-head self-attention within each window, plus the relative position bias and an
  optional (nW, N, N) additive mask; input (B * nW, N, C)."""

  dim: int
  window: int
  num_heads: int
  qkv_bias: bool = True
  attn_drop: float = 0.0
  proj_drop: float = 0.0
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, mask=None, train: bool = False):
    bw, n, c = x.shape
    heads = self.num_heads
    head_dim = c // heads
    table = self.param("relative_position_bias_table",
                       nn.with_logical_partitioning(normal_02, (None, None)),
                       ((2 * self.window - 1) ** 2, heads), jnp.float32)
    qkv = dense(3 * c, "qkv", self.dtype, self.qkv_bias)(x)
    qkv = qkv.reshape(bw, n, 3, heads, head_dim).transpose(2, 0, 3, 1, 4)  # (3, B', h, N, d)
    q, k, v = qkv[0] * (head_dim ** -0.5), qkv[1], qkv[2]
    attn = jnp.einsum("bhqd,bhkd->bhqk", q, k)
    bias = table[relative_position_index(self.window).reshape(-1)].reshape(n, n, heads)
    attn = attn + bias.transpose(2, 0, 1)[None].astype(attn.dtype)
    if mask is not None:
      nw = mask.shape[0]
      attn = attn.reshape(bw // nw, nw, heads, n, n) + jnp.asarray(mask, attn.dtype)[None, :, None]
      attn = attn.reshape(bw, heads, n, n)
    attn = jax.nn.softmax(attn.astype(jnp.float32), axis=-1).astype(v.dtype)
    attn = nn.Dropout(self.attn_drop, deterministic=not train)(attn)
    out = jnp.einsum("bhqk,bhkd->bqhd", attn, v).reshape(bw, n, c)
    out = dense(c, "proj", self.dtype)(out)
    return nn.Dropout(self.proj_drop, deterministic=not train)(out)


class Mlp(nn.Module):
  """fc1 -> GELU (exact) -> dropout -> fc2 -> dropout."""

  hidden: int
  drop: float = 0.0
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    c = x.shape[-1]
    x = nn.gelu(dense(self.hidden, "fc1", self.dtype)(x), approximate=False)
    x = nn.Dropout(self.drop, deterministic=not train)(x)
    x = dense(c, "fc2", self.dtype)(x)
    return nn.Dropout(self.drop, deterministic=not train)(x)


class SwinBlock(nn.Module):
  """x + attn(norm1(x)) in (shifted) windows, then x + mlp(norm2(x)); tokens (B, H*W, C)."""

  resolution: tuple[int, int]
  num_heads: int
  window_size: int
  shift_size: int
  mlp_ratio: float = 4.0
  qkv_bias: bool = True
  drop: float = 0.0
  attn_drop: float = 0.0
  drop_path: float = 0.0
  dtype: Any = jnp.float32

  @nn.nowrap
  def geometry(self) -> tuple[int, int]:
    """(window, shift) as timm adjusts them: one unshifted window over a small stage."""
    if min(self.resolution) <= self.window_size:
      return min(self.resolution), 0
    if not 0 <= self.shift_size < self.window_size:
      raise ValueError(f"shift_size {self.shift_size} must be in [0, {self.window_size})")
    return self.window_size, self.shift_size

  @nn.compact
  def __call__(self, x, train: bool = False):
    h, w = self.resolution
    b, length, c = x.shape
    if length != h * w:
      raise ValueError(f"a Swin block for {h}x{w} tokens got {length}")
    window, shift = self.geometry()
    if h % window or w % window:
      raise ValueError(f"stage resolution {h}x{w} is not a multiple of the window size {window}")
    y = layer_norm("norm1", self.dtype)(x).reshape(b, h, w, c)
    if shift:
      y = jnp.roll(y, (-shift, -shift), axis=(1, 2))
    y = WindowAttention(c, window, self.num_heads, self.qkv_bias, self.attn_drop, self.drop,
                        self.dtype, name="attn")(
                            to_windows(y, window), shift_mask(h, w, window, shift) if shift
                            else None, train)
    y = from_windows(y, window, h, w)
    if shift:
      y = jnp.roll(y, (shift, shift), axis=(1, 2))
    x = x + drop_path(self, y.reshape(b, length, c), self.drop_path, train)
    y = Mlp(int(c * self.mlp_ratio), self.drop, self.dtype, name="mlp")(
        layer_norm("norm2", self.dtype)(x), train)
    return x + drop_path(self, y, self.drop_path, train)


class PatchMerging(nn.Module):
  """(B, H*W, C) -> (B, H/2*W/2, 2C): each 2x2 neighbourhood concatenated, normed, projected."""

  resolution: tuple[int, int]
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    h, w = self.resolution
    b, _, c = x.shape
    if h % 2 or w % 2:
      raise ValueError(f"patch merging needs an even resolution, got {h}x{w}")
    x = x.reshape(b, h, w, c)
    x = jnp.concatenate([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2],
                         x[:, 1::2, 1::2]], axis=-1).reshape(b, -1, 4 * c)
    x = layer_norm("norm", self.dtype)(x)
    return dense(2 * c, "reduction", self.dtype, use_bias=False)(x)


class SwinStage(nn.Module):
  """timm's ``BasicLayer``: ``blocks_{j}`` (odd ones shifted by half a window), then the
  ``downsample`` patch merging unless it is the last stage."""

  resolution: tuple[int, int]
  depth: int
  num_heads: int
  window_size: int
  mlp_ratio: float
  qkv_bias: bool
  drop: float
  attn_drop: float
  drop_paths: Sequence[float]
  downsample: bool
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    for j in range(self.depth):
      x = SwinBlock(self.resolution, self.num_heads, self.window_size,
                    0 if j % 2 == 0 else self.window_size // 2, self.mlp_ratio, self.qkv_bias,
                    self.drop, self.attn_drop, self.drop_paths[j], self.dtype,
                    name=f"blocks_{j}")(x, train)
    if self.downsample:
      x = PatchMerging(self.resolution, self.dtype, name="downsample")(x)
    return x


class PatchEmbed(nn.Module):
  """Non-overlapping patches projected to ``embed_dim`` (conv ``proj``), then ``norm``."""

  patch_size: tuple[int, int]
  embed_dim: int
  patch_norm: bool = True
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    fan_in = self.patch_size[0] * self.patch_size[1] * x.shape[-1]
    x = Conv(self.embed_dim, self.patch_size, strides=self.patch_size, padding="VALID",
                dtype=self.dtype,  # torch's default Conv2d initialisation, as timm leaves it
                kernel_init=nn.with_logical_partitioning(torch_kernel_init,
                                                         (None, None, "conv_in", "embed")),
                bias_init=nn.with_logical_partitioning(torch_bias_init(fan_in), ("embed",)),
                name="proj")(x)
    x = x.reshape(x.shape[0], -1, x.shape[-1])
    return layer_norm("norm", self.dtype)(x) if self.patch_norm else x


class SwinTransformer(nn.Module):
  """timm 0.5's ``SwinTransformer`` class with its arguments; see the module docstring.

  Configs name a timm model (``timm.swin_base_patch4_window7_224``), which fixes the
  architecture arguments; the class itself builds other sizes (tests use small ones).

  ``num_classes`` is overridden to 0 by MMAction2 (no head here); ``pretrained`` (timm's
  ImageNet download) is accepted for configs, vjax downloads nothing. ``drop_path_rate``
  rises linearly from 0 over all blocks, as in timm. ``use_checkpoint`` is accepted (remat is
  a jit-level choice in vjax). Only timm's default ``weight_init=''`` is implemented.
  """

  img_size: int | Sequence[int] = 224
  patch_size: int | Sequence[int] = 4
  in_chans: int = 3
  num_classes: int = 0
  embed_dim: int = 96
  depths: Sequence[int] = (2, 2, 6, 2)
  num_heads: Sequence[int] = (3, 6, 12, 24)
  window_size: int = 7
  mlp_ratio: float = 4.0
  qkv_bias: bool = True
  drop_rate: float = 0.0
  attn_drop_rate: float = 0.0
  drop_path_rate: float = 0.1
  ape: bool = False
  patch_norm: bool = True
  use_checkpoint: bool = False
  weight_init: str = ""
  pretrained: bool | str | None = False
  norm_groups: int | None = None  # no BatchNorm here; accepted from the recognizer
  dtype: Any = jnp.float32

  @nn.nowrap
  def grid(self) -> tuple[int, int]:
    (h, w), (ph, pw) = pair(self.img_size), pair(self.patch_size)
    return h // ph, w // pw

  @nn.compact
  def __call__(self, x, train: bool = False):
    if self.weight_init != "":
      raise NotImplementedError(f"weight_init={self.weight_init!r}: only timm's default '' is "
                                "implemented")
    if len(self.depths) != len(self.num_heads):
      raise ValueError(f"depths {self.depths} and num_heads {self.num_heads} differ in length")
    n, h, w, c = x.shape
    if (h, w) != pair(self.img_size):
      raise ValueError(f"input {h}x{w} does not match the model's img_size "
                       f"{pair(self.img_size)} (timm builds Swin for one input size)")
    if c != self.in_chans:
      raise ValueError(f"expected {self.in_chans} input channels, got {c}")
    drop = functools.partial(nn.Dropout, self.drop_rate, deterministic=not train)
    x = PatchEmbed(pair(self.patch_size), self.embed_dim, self.patch_norm, self.dtype,
                   name="patch_embed")(x.astype(self.dtype))
    gh, gw = self.grid()
    if self.ape:
      pos = self.param("absolute_pos_embed",
                       nn.with_logical_partitioning(normal_02, (None, None, "embed")),
                       (1, gh * gw, self.embed_dim), jnp.float32)
      x = x + pos.astype(x.dtype)
    x = drop()(x)

    rates = np.linspace(0, self.drop_path_rate, sum(self.depths)).tolist()
    first = 0
    for i, (depth, heads) in enumerate(zip(self.depths, self.num_heads)):
      x = SwinStage((gh // 2**i, gw // 2**i), depth, heads, self.window_size, self.mlp_ratio,
                    self.qkv_bias, self.drop_rate, self.attn_drop_rate,
                    tuple(rates[first:first + depth]), i < len(self.depths) - 1, self.dtype,
                    name=f"layers_{i}")(x, train)
      first += depth
    x = layer_norm("norm", self.dtype)(x)
    # timm's forward_features: the mean over tokens; MMAction2 reshapes it to (N, C, 1, 1).
    return x.mean(axis=1)[:, None, None, :]


def _named(variant: str):
  patch_size, window_size, embed_dim, depths, num_heads, img_size = VARIANTS[variant]

  def build(**kwargs):
    fixed = {"patch_size", "window_size", "embed_dim", "depths", "num_heads"} & set(kwargs)
    if fixed:
      # timm's model functions set these themselves; passing them again is a TypeError there.
      raise TypeError(f"timm.{variant} fixes {sorted(fixed)}")
    kwargs.setdefault("img_size", img_size)
    kwargs["num_classes"] = 0  # MMAction2 drops timm's classifier
    return SwinTransformer(patch_size=patch_size, window_size=window_size, embed_dim=embed_dim,
                           depths=depths, num_heads=num_heads, **kwargs)

  build.__name__ = build.__qualname__ = variant
  build.__doc__ = f"timm's ``{variant}`` (no classifier)."
  return build


for _variant in VARIANTS:
  MODELS.register(_named(_variant), name=f"timm.{_variant}")
