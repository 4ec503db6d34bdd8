"""Mini-batch blending (MMAction2's MixupBlending, CutmixBlending), done on device in the step.

MMAction2 blends each GPU's own mini-batch: one Beta(alpha, alpha) draw and one permutation per
GPU. Here the global batch is split into groups of ``group_size`` consecutive samples (the
per-device batch, so each group lives on one device and no pixels cross devices) and every
group gets its own draw and permutation. Labels become soft (N, num_classes) targets.

Images are channels-last: (N, V, H, W, C) for 2D recognizers, (N, V, T, H, W, C) for 3D.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp

Blending = Callable[[jax.Array, jax.Array, jax.Array], tuple[jax.Array, jax.Array]]


def _one_hot(labels, num_classes: int):
  if labels.ndim == 2:  # Already soft or multi-hot.
    return labels.astype(jnp.float32)
  return jax.nn.one_hot(labels, num_classes, dtype=jnp.float32)


def mixup(key, imgs, targets, alpha: float = 0.2):
  """``lam * x + (1 - lam) * x[perm]`` for images and targets, lam ~ Beta(alpha, alpha)."""
  k_lam, k_perm = jax.random.split(key)
  lam = jax.random.beta(k_lam, alpha, alpha)
  perm = jax.random.permutation(k_perm, imgs.shape[0])
  mixed = lam * imgs + (1 - lam) * imgs[perm]
  return mixed.astype(imgs.dtype), lam * targets + (1 - lam) * targets[perm]


def cutmix_box(key, height: int, width: int, lam):
  """A box of about (1 - lam) of the area with a uniform centre, clipped to the image.

  Same arithmetic as MMAction2 (sides truncated to int, half-sides floored), so the box for
  a given (lam, centre) is the one MMAction2 cuts. Returns (x1, y1, x2, y2) int32 scalars.
  """
  cut_rat = jnp.sqrt(1.0 - lam)
  cut_w = jnp.floor(width * cut_rat).astype(jnp.int32)
  cut_h = jnp.floor(height * cut_rat).astype(jnp.int32)
  k_x, k_y = jax.random.split(key)
  cx = jax.random.randint(k_x, (), 0, width)
  cy = jax.random.randint(k_y, (), 0, height)
  x1 = jnp.clip(cx - cut_w // 2, 0, width)
  y1 = jnp.clip(cy - cut_h // 2, 0, height)
  x2 = jnp.clip(cx + cut_w // 2, 0, width)
  y2 = jnp.clip(cy + cut_h // 2, 0, height)
  return x1, y1, x2, y2


def cutmix(key, imgs, targets, alpha: float = 0.2):
  """Pastes one box of a permuted sample into every sample; targets mix by the box's area."""
  k_lam, k_perm, k_box = jax.random.split(key, 3)
  lam = jax.random.beta(k_lam, alpha, alpha)
  perm = jax.random.permutation(k_perm, imgs.shape[0])
  height, width = imgs.shape[-3], imgs.shape[-2]
  x1, y1, x2, y2 = cutmix_box(k_box, height, width, lam)
  ys = jnp.arange(height)[:, None]
  xs = jnp.arange(width)[None, :]
  inside = (ys >= y1) & (ys < y2) & (xs >= x1) & (xs < x2)  # (H, W)
  mixed = jnp.where(inside[:, :, None], imgs[perm], imgs)
  area_lam = 1.0 - ((x2 - x1) * (y2 - y1)).astype(jnp.float32) / (height * width)
  return mixed, area_lam * targets + (1 - area_lam) * targets[perm]


BLENDINGS = {"MixupBlending": mixup, "CutmixBlending": cutmix}


def build_blending(cfg: Mapping[str, Any] | None, group_size: int) -> Blending | None:
  """The blending a model's ``train_cfg.blending`` asks for, or None.

  The returned ``blend(key, imgs, labels) -> (imgs, soft_targets)`` blends within groups of
  ``group_size`` samples (the per-device batch).
  """
  if not cfg:
    return None
  cfg = dict(cfg)
  typ = cfg.pop("type", None)
  if typ not in BLENDINGS:
    raise KeyError(f"Unknown blending type {typ!r}; supported: {sorted(BLENDINGS)}")
  if "num_classes" not in cfg:
    raise KeyError(f"{typ} needs num_classes, as in MMAction2: "
                   f"dict(type='{typ}', num_classes=400, alpha=0.2)")
  num_classes = int(cfg.pop("num_classes"))
  alpha = float(cfg.pop("alpha", 0.2))
  if cfg:
    raise TypeError(f"{typ} got unexpected arguments {sorted(cfg)}; it takes num_classes, alpha")
  if alpha <= 0:
    raise ValueError(f"{typ} alpha must be > 0, got {alpha}")
  fn = BLENDINGS[typ]

  def blend(key, imgs, labels):
    n = imgs.shape[0]
    if n % group_size:
      raise ValueError(f"batch of {n} is not a multiple of the blending group {group_size}")
    groups = n // group_size
    targets = _one_hot(labels, num_classes)
    keys = jax.random.split(key, groups)
    grouped = jax.vmap(lambda k, x, y: fn(k, x, y, alpha))(
        keys, imgs.reshape((groups, group_size) + imgs.shape[1:]),
        targets.reshape(groups, group_size, -1))
    return grouped[0].reshape(imgs.shape), grouped[1].reshape(n, -1)

  return blend
