"""Optimizers and learning-rate schedules with MMAction2's (mmcv's) config names and semantics.

``optimizer=dict(type='SGD', lr, momentum, weight_decay, nesterov)`` follows torch.optim.SGD:
weight decay is added to the gradient before momentum. ``type='Adam'`` follows torch.optim.Adam
(L2 decay added to the gradient before the moments), ``type='AdamW'`` torch.optim.AdamW
(decoupled decay); both take ``amsgrad`` with torch's formula. ``optimizer_config.grad_clip``
clips the gradient by global norm first. ``optimizer_config=dict(
type='GradientCumulativeOptimizerHook', cumulative_iters=N)`` accumulates gradients over N
iterations as mmcv's hook does (``accumulate_gradients``).

``lr_config`` follows mmcv's LrUpdaterHook: a regular policy ('step', 'CosineAnnealing',
'fixed'), updated per epoch when ``by_epoch`` (the default), and an optional per-iteration
warmup ('linear', 'constant', 'exp'), all of the iteration count (with accumulation too).

Per-parameter lr and weight-decay multipliers follow mmcv's optimizer constructors:
``optimizer.paramwise_cfg`` of the default constructor (custom_keys, bias_lr_mult,
bias_decay_mult, norm_decay_mult, dwconv_decay_mult) and MMAction2's
``constructor='TSMOptimizerConstructor'`` (fc_lr5). They depend only on a parameter's path
and shape, so they are resolved at trace time from the tree the optimizer sees.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import traverse_util


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


def _torch_name(path: tuple) -> str:
  """A param's name as mmcv's constructors match ``custom_keys`` against it: the torch path from
  the model's root (mmcv unwraps MMDataParallel's ``.module`` first, so a key written with a
  leading dot, like TimeSformer's ``'.backbone.cls_token'``, matches nothing in MMAction2 either)."""
  from vjax.convert.mmaction2_checkpoint import TORCH_LEAF, canonical  # pylint: disable=g-import-not-at-top
  *modules, leaf = (str(p) for p in path)
  return canonical(modules + [TORCH_LEAF.get(("params", leaf), leaf)])


def _default_multipliers(paramwise: Mapping[str, Any], flat: Mapping[tuple, Any]):
  """(lr_mult, decay_mult) per path, as mmcv's DefaultOptimizerConstructor.add_params."""
  custom = paramwise.get("custom_keys", {}) or {}
  if not isinstance(custom, Mapping):  # [key, options] pairs: keys with dots, from ConfigDicts
    custom = {k: v for k, v in custom}
  keys = sorted(sorted(custom), key=len, reverse=True)  # longest first, ties alphabetical
  known = {"custom_keys", "bias_lr_mult", "bias_decay_mult", "norm_decay_mult",
           "dwconv_decay_mult", "bypass_duplicate"}
  unknown = sorted(set(paramwise) - known)
  if unknown:
    raise KeyError(f"Unsupported optimizer.paramwise_cfg keys {unknown}; expected some of "
                   f"{sorted(known)}")
  norm_modules = {path[:-1] for path in flat if path[-1] == "scale"}
  out = {}
  for path, leaf in flat.items():
    name = _torch_name(path)
    key = next((k for k in keys if k in name), None)
    if key is not None:
      out[path] = (custom[key].get("lr_mult", 1.0), custom[key].get("decay_mult", 1.0))
      continue
    is_norm = path[:-1] in norm_modules
    is_bias = path[-1] == "bias"
    lr = paramwise.get("bias_lr_mult", 1.0) if is_bias and not is_norm else 1.0
    # mmcv: Conv2d with in_channels == groups, i.e. one input channel per group. (A frozen
    # leaf seen inside the optimizer is an optax.MaskedNode, without shape: it gets no update.)
    shape = getattr(leaf, "shape", ())
    is_dwconv = path[-1] == "kernel" and len(shape) == 4 and shape[2] == 1
    if is_norm:
      decay = paramwise.get("norm_decay_mult", 1.0)
    elif is_dwconv:
      decay = paramwise.get("dwconv_decay_mult", 1.0)
    elif is_bias:
      decay = paramwise.get("bias_decay_mult", 1.0)
    else:
      decay = 1.0
    out[path] = (lr, decay)
  return out


def _tsm_multipliers(paramwise: Mapping[str, Any], flat: Mapping[tuple, Any]):
  """MMAction2's TSMOptimizerConstructor: conv/linear weights (1, 1), their biases (2, 0),
  norm parameters (1, 0); with ``fc_lr5`` the classifier (``cls_head.fc_cls``, the last linear
  layer of every model this constructor is used with) gets weight (5, 1) and bias (10, 0)."""
  if set(paramwise) - {"fc_lr5"}:
    raise KeyError(f"TSMOptimizerConstructor takes paramwise_cfg=dict(fc_lr5=...), got "
                   f"{sorted(paramwise)}")
  fc_lr5 = paramwise.get("fc_lr5", False)
  norm_modules = {path[:-1] for path in flat if path[-1] == "scale"}
  fc = [p for p in flat if p[:1] == ("cls_head",) and p[-2:-1] == ("fc_cls",)]
  if fc_lr5 and not fc:
    raise KeyError("TSMOptimizerConstructor with fc_lr5=True needs the head's classifier "
                   "cls_head.fc_cls; this model has none")
  out = {}
  for path in flat:
    leaf = path[-1]
    if path[:-1] in norm_modules:
      out[path] = (1.0, 0.0)
    elif leaf not in ("kernel", "bias"):
      raise ValueError(f"TSMOptimizerConstructor has no rule for parameter {'/'.join(path)} "
                       "(only conv, linear and norm layers); use the default constructor")
    elif fc_lr5 and path in fc:
      out[path] = (5.0, 1.0) if leaf == "kernel" else (10.0, 0.0)
    else:
      out[path] = (1.0, 1.0) if leaf == "kernel" else (2.0, 0.0)
  return out


CONSTRUCTORS = {"DefaultOptimizerConstructor": _default_multipliers,
                "TSMOptimizerConstructor": _tsm_multipliers}


def param_multipliers(opt_cfg: Mapping[str, Any], params) -> dict[tuple, tuple[float, float]]:
  """{param path: (lr_mult, decay_mult)} for ``params`` under ``optimizer``'s constructor."""
  constructor = opt_cfg.get("constructor", "DefaultOptimizerConstructor")
  if constructor not in CONSTRUCTORS:
    raise KeyError(f"Unsupported optimizer constructor {constructor!r}; use one of "
                   f"{sorted(CONSTRUCTORS)}")
  flat = traverse_util.flatten_dict(params)
  return CONSTRUCTORS[constructor](dict(opt_cfg.get("paramwise_cfg") or {}), flat)


def _by_group(which: int, opt_cfg: Mapping[str, Any], fn):
  """A transformation applying ``fn(update, param, mult)`` per leaf, with ``mult`` the
  leaf's lr (which=0) or decay (which=1) multiplier; leaves with multiplier 1 pass through
  unchanged unless ``fn`` needs them (weight decay always runs). Frozen leaves (masked out by
  ``make_optimizer``'s ``frozen_mask``, so ``optax.MaskedNode``) pass through as they are."""

  def update(updates, state, params=None):
    mults = param_multipliers(opt_cfg, updates)
    flat_u = traverse_util.flatten_dict(updates)
    flat_p = traverse_util.flatten_dict(params) if params is not None else {}
    out = {k: u if isinstance(u, optax.MaskedNode) else fn(u, flat_p.get(k), mults[k][which])
           for k, u in flat_u.items()}
    return traverse_util.unflatten_dict(out), state

  return optax.GradientTransformation(lambda _: optax.EmptyState(), update)


def _decayed_weights(wd: float, opt_cfg):
  """g + wd * decay_mult * p (torch's coupled decay for SGD, mmcv's per-group weight_decay)."""
  if not wd:
    return optax.identity()
  return _by_group(1, opt_cfg, lambda u, p, m: u if m == 0 else u + wd * m * p)


def _lr_multipliers(opt_cfg):
  return _by_group(0, opt_cfg, lambda u, p, m: u if m == 1 else u * m)


class ScaleByTorchAMSGradState(NamedTuple):
  count: jax.Array
  mu: Any
  nu: Any
  nu_max: Any


def scale_by_torch_amsgrad(b1: float, b2: float, eps: float) -> optax.GradientTransformation:
  """torch.optim.Adam/AdamW's ``amsgrad=True`` direction: the running maximum of the raw second
  moment, bias-corrected with the current step's factor,
  ``(m_t / (1 - b1^t)) / (sqrt(max_{s<=t} v_s) / sqrt(1 - b2^t) + eps)``. (optax's
  ``scale_by_amsgrad`` takes the maximum of the already corrected ``v_s / (1 - b2^s)``, which
  differs from torch while the correction changes.)"""

  def init(params):
    zeros = lambda: jax.tree.map(jnp.zeros_like, params)  # noqa: E731
    return ScaleByTorchAMSGradState(jnp.zeros([], jnp.int32), zeros(), zeros(), zeros())

  def update(updates, state, params=None):
    del params
    mu = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.mu, updates)
    nu = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, state.nu, updates)
    nu_max = jax.tree.map(jnp.maximum, state.nu_max, nu)
    count = optax.safe_int32_increment(state.count)
    t = count.astype(jnp.float32)
    bc1, bc2_sqrt = 1 - b1**t, jnp.sqrt(1 - b2**t)
    out = jax.tree.map(lambda m, v: ((m / bc1) / (jnp.sqrt(v) / bc2_sqrt + eps)).astype(m.dtype),
                       mu, nu_max)
    return out, ScaleByTorchAMSGradState(count, mu, nu, nu_max)

  return optax.GradientTransformation(init, update)


def _adam_direction(opt_cfg: dict):
  betas = opt_cfg.pop("betas", (0.9, 0.999))
  eps = opt_cfg.pop("eps", 1e-8)
  if opt_cfg.pop("amsgrad", False):
    return scale_by_torch_amsgrad(betas[0], betas[1], eps)
  return optax.scale_by_adam(b1=betas[0], b2=betas[1], eps=eps)


class AccumulateState(NamedTuple):
  """``iteration``: iterations seen (mmcv's ``runner.iter``); ``grads``: this group's gradient
  so far; ``grad_norm``: its global norm after the latest iteration (at a group's last
  iteration, the norm gradient clipping sees and mmcv logs)."""
  iteration: jax.Array
  grads: Any
  grad_norm: jax.Array
  inner_state: Any


def accumulate_gradients(inner: optax.GradientTransformation, cumulative_iters: int,
                         total_iters: int | None = None) -> optax.GradientTransformation:
  """mmcv 1.7's GradientCumulativeOptimizerHook around ``inner`` (clip, decay, momentum/Adam).

  Every iteration's gradient is divided by the loss factor (mmcv divides the loss: N, or in
  the last ``total_iters % N`` iterations of the run that remainder) and summed; ``inner`` runs
  on the sum, and the sum restarts from zero, after iterations ``i`` (0-based, counted over the
  whole run, across epochs) with ``(i + 1) % N == 0`` or ``i + 1 == total_iters``; other
  iterations return zero updates and leave ``inner``'s state alone. One ``lax.cond`` in the
  jitted step: no host sync. The sum is part of the state, so checkpoints resume mid-group
  exactly (mmcv loses a resumed run's partial group).
  """
  n = int(cumulative_iters)
  remainder = total_iters % n if total_iters else 0

  def init(params):
    return AccumulateState(iteration=jnp.zeros([], jnp.int32),
                           grads=jax.tree.map(jnp.zeros_like, params),
                           grad_norm=jnp.zeros([], jnp.float32), inner_state=inner.init(params))

  def update(updates, state, params=None):
    it = state.iteration
    emit = (it + 1) % n == 0
    factor = jnp.asarray(n, jnp.int32)
    if remainder:
      emit = emit | (it + 1 == total_iters)
      factor = jnp.where(it < total_iters - remainder, n, remainder)
    acc = jax.tree.map(lambda a, g: a + (g / factor.astype(g.dtype)).astype(a.dtype),
                       state.grads, updates)

    def step(acc, inner_state):
      out, inner_state = inner.update(acc, inner_state, params)
      return out, inner_state, jax.tree.map(jnp.zeros_like, acc)

    def hold(acc, inner_state):
      return jax.tree.map(jnp.zeros_like, acc), inner_state, acc

    out, inner_state, acc_next = jax.lax.cond(emit, step, hold, acc, state.inner_state)
    return out, AccumulateState(iteration=optax.safe_int32_increment(it), grads=acc_next,
                                grad_norm=optax.global_norm(acc).astype(jnp.float32),
                                inner_state=inner_state)

  return optax.GradientTransformation(init, update)


def accumulated_grad_norm(opt_state):
  """The ``grad_norm`` of ``accumulate_gradients``'s state in ``opt_state``; None without one."""
  found = [s for s in jax.tree.leaves(opt_state, is_leaf=lambda x: isinstance(x, AccumulateState))
           if isinstance(s, AccumulateState)]
  return found[0].grad_norm if found else None


def without_frozen(tx: optax.GradientTransformation, frozen_mask: Callable[[Any], Any]):
  """``tx`` for the parameters ``frozen_mask(params)`` leaves trainable (True = frozen; None =
  nothing frozen); frozen ones get zero updates and no optimizer state at all, and are left
  out of everything ``tx`` computes over the tree (the clipping norm, as PyTorch's
  ``requires_grad=False`` parameters have no gradient). With nothing frozen, ``tx`` as it is.

  The mask depends only on the tree's paths, so it is resolved at trace time; it is computed
  on the unboxed tree (``create_state`` initialises from logically partitioned params), which
  makes it a prefix of the boxed tree.
  """

  def mask_of(tree):
    mask = frozen_mask(nn.unbox(tree))
    return mask if mask is not None and any(jax.tree.leaves(mask)) else None

  def labels(tree):
    return jax.tree.map(lambda f: "frozen" if f else "trainable", mask_of(tree))

  parted = optax.partition({"trainable": tx, "frozen": optax.set_to_zero()}, labels)

  def init(params):
    return tx.init(params) if mask_of(params) is None else parted.init(params)

  def update(updates, state, params=None):
    if mask_of(updates) is None:
      return tx.update(updates, state, params)
    return parted.update(updates, state, params)

  return optax.GradientTransformation(init, update)


HOOKS = ("OptimizerHook", "GradientCumulativeOptimizerHook")


def make_optimizer(opt_cfg: Mapping[str, Any], opt_hook_cfg: Mapping[str, Any] | None, schedule,
                   *, total_iters: int | None = None,
                   frozen_mask: Callable[[Any], Any] | None = None):
  """optax transformation from MMAction2's ``optimizer`` and ``optimizer_config`` dicts.

  ``total_iters``: the run's length (mmcv's ``max_iters``), which places the last incomplete
  group of ``cumulative_iters``; ``frozen_mask(params)``: True for frozen parameters (see
  ``without_frozen``). ``schedule`` is evaluated at the number of ``update`` calls so far, i.e.
  every iteration, accumulation or not, as mmcv's LrUpdaterHook counts ``runner.iter``.
  """
  opt_cfg = dict(opt_cfg)
  hook = dict(opt_hook_cfg or {})
  groups = {k: opt_cfg.pop(k) for k in ("constructor", "paramwise_cfg") if k in opt_cfg}
  typ = opt_cfg.pop("type", "SGD")
  opt_cfg.pop("lr", None)
  hook_type = hook.pop("type", "OptimizerHook")
  if hook_type not in HOOKS:
    raise KeyError(f"Unsupported optimizer_config type {hook_type!r}; use one of {list(HOOKS)}")
  cumulative = hook.pop("cumulative_iters", 1) if hook_type == HOOKS[1] else 1
  if not isinstance(cumulative, int) or cumulative < 1:
    raise ValueError(f"cumulative_iters must be a positive int, got {cumulative!r}")
  clip = hook.pop("grad_clip", None)
  if hook.pop("detect_anomalous_params", False):
    raise ValueError("optimizer_config.detect_anomalous_params is not supported")
  if hook:
    raise KeyError(f"Unsupported {hook_type} arguments: {sorted(hook)}")
  parts = []
  if clip:
    if clip.get("norm_type", 2) != 2:
      raise ValueError("only grad_clip norm_type=2 (global L2 norm) is supported")
    parts.append(optax.clip_by_global_norm(clip["max_norm"]))
  if typ == "SGD":
    wd = opt_cfg.pop("weight_decay", 0.0)
    momentum = opt_cfg.pop("momentum", 0.0)
    # optax.trace(nesterov=True) is torch's: buf = m * buf + g; update = g + m * buf.
    nesterov = opt_cfg.pop("nesterov", False)
    parts.append(_decayed_weights(wd, groups))
    if momentum:
      parts.append(optax.trace(decay=momentum, nesterov=nesterov))
    elif nesterov:
      raise ValueError("SGD nesterov=True needs a momentum (as torch.optim.SGD)")
  elif typ == "Adam":
    # torch Adam: g' = g + wd_group * p, then the moments of g'; p -= lr_group * adam_dir.
    parts.append(_decayed_weights(opt_cfg.pop("weight_decay", 0.0), groups))
    parts.append(_adam_direction(opt_cfg))
  elif typ == "AdamW":
    # torch AdamW: p -= lr_group * (adam_direction + wd_group * p)
    parts.append(_adam_direction(opt_cfg))
    parts.append(_decayed_weights(opt_cfg.pop("weight_decay", 0.01), groups))
  else:
    raise KeyError(f"Unsupported optimizer type {typ!r}; use 'SGD', 'Adam' or 'AdamW'")
  if opt_cfg:
    raise KeyError(f"Unsupported {typ} arguments: {sorted(opt_cfg)}")
  # The lr (and the groups' lr multipliers, a product with it) scale last, outside the
  # accumulation: its count advances every iteration, so the step of a group uses the lr of
  # the group's last iteration, as mmcv's optimizer.step() does.
  tail = [optax.scale_by_learning_rate(schedule)]
  if groups:
    tail.append(_lr_multipliers(groups))
  if cumulative > 1:
    tx = optax.chain(accumulate_gradients(optax.chain(*parts), cumulative, total_iters), *tail)
  else:
    tx = optax.chain(*parts, *tail)
  return tx if frozen_mask is None else without_frozen(tx, frozen_mask)
