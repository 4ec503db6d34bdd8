"""Optimizers and learning-rate schedules with MMAction2's (mmcv's) config names and semantics.

``optimizer=dict(type='SGD', lr, momentum, weight_decay)`` follows torch.optim.SGD: weight
decay is added to the gradient before momentum; ``optimizer_config.grad_clip`` clips the raw
gradient by global norm first. ``lr_config`` follows mmcv's LrUpdaterHook: a regular
policy ('step', 'CosineAnnealing', 'fixed'), updated per epoch when ``by_epoch`` (the
default), and an optional per-iteration warmup ('linear', 'constant', 'exp').
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import jax.numpy as jnp
import optax


def regular_lr(lr_cfg: Mapping[str, Any], base_lr: float, progress, max_progress):
  """The policy's lr at ``progress`` (epoch or iteration) out of ``max_progress``."""
  policy = lr_cfg.get("policy", "fixed")
  if policy == "fixed":
    return jnp.asarray(base_lr, jnp.float32)
  if policy == "step":
    steps = lr_cfg["step"]
    steps = [steps] if isinstance(steps, (int, float)) else list(steps)
    gamma = lr_cfg.get("gamma", 0.1)
    passed = sum(jnp.asarray(progress >= s, jnp.int32) for s in steps)
    lr = base_lr * gamma**passed
    if lr_cfg.get("min_lr") is not None:
      lr = jnp.maximum(lr, lr_cfg["min_lr"])
    return lr
  if policy == "CosineAnnealing":
    if lr_cfg.get("min_lr_ratio") is not None:
      target = base_lr * lr_cfg["min_lr_ratio"]
    else:
      target = lr_cfg.get("min_lr", 0.0)
    factor = jnp.minimum(progress / max_progress, 1.0)
    return target + (base_lr - target) * 0.5 * (jnp.cos(math.pi * factor) + 1)
  raise KeyError(f"Unsupported lr_config policy {policy!r}; use 'step', 'CosineAnnealing' or 'fixed'")


def make_schedule(lr_cfg: Mapping[str, Any], base_lr: float, *, iters_per_epoch: int,
                  total_iters: int):
  """optax schedule (step -> lr) equivalent to mmcv's LrUpdaterHook with this config."""
  lr_cfg = dict(lr_cfg)
  by_epoch = lr_cfg.get("by_epoch", True)
  warmup = lr_cfg.get("warmup")
  if warmup not in (None, "linear", "constant", "exp"):
    raise KeyError(f"Unsupported warmup {warmup!r}; use 'linear', 'constant' or 'exp'")
  warmup_iters = lr_cfg.get("warmup_iters", 0) or 0
  if lr_cfg.get("warmup_by_epoch"):
    warmup_iters *= iters_per_epoch
  ratio = lr_cfg.get("warmup_ratio", 0.1)
  total_epochs = max(total_iters // max(iters_per_epoch, 1), 1)

  def schedule(step):
    step = jnp.asarray(step)
    if by_epoch:
      lr = regular_lr(lr_cfg, base_lr, step // iters_per_epoch, total_epochs)
    else:
      lr = regular_lr(lr_cfg, base_lr, step, total_iters)
    if warmup is None or not warmup_iters:
      return lr
    k = step / warmup_iters
    if warmup == "linear":
      warm = lr * (1 - (1 - k) * (1 - ratio))
    elif warmup == "constant":
      warm = lr * ratio
    else:
      warm = lr * ratio**(1 - k)
    return jnp.where(step < warmup_iters, warm, lr)

  return schedule


def make_optimizer(opt_cfg: Mapping[str, Any], opt_hook_cfg: Mapping[str, Any] | None, schedule):
  """optax transformation from MMAction2's ``optimizer`` and ``optimizer_config`` dicts."""
  opt_cfg = dict(opt_cfg)
  typ = opt_cfg.pop("type", "SGD")
  opt_cfg.pop("lr", None)
  parts = []
  clip = (opt_hook_cfg or {}).get("grad_clip")
  if clip:
    if clip.get("norm_type", 2) != 2:
      raise ValueError("only grad_clip norm_type=2 (global L2 norm) is supported")
    parts.append(optax.clip_by_global_norm(clip["max_norm"]))
  if typ == "SGD":
    wd = opt_cfg.pop("weight_decay", 0.0)
    momentum = opt_cfg.pop("momentum", 0.0)
    nesterov = opt_cfg.pop("nesterov", False)
    if wd:
      parts.append(optax.add_decayed_weights(wd))
    parts.append(optax.sgd(schedule, momentum=momentum or None, nesterov=nesterov))
  elif typ == "AdamW":
    betas = opt_cfg.pop("betas", (0.9, 0.999))
    parts.append(optax.adamw(schedule, b1=betas[0], b2=betas[1], eps=opt_cfg.pop("eps", 1e-8),
                             weight_decay=opt_cfg.pop("weight_decay", 0.01)))
  else:
    raise KeyError(f"Unsupported optimizer type {typ!r}; use 'SGD' or 'AdamW'")
  if opt_cfg:
    raise KeyError(f"Unsupported {typ} arguments: {sorted(opt_cfg)}")
  return optax.chain(*parts)
