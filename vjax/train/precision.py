"""Mixed precision: the compute dtype a config asks for, and fp16 loss scaling as mmcv does it.

Policy (the same for every dtype): parameters, optimizer state, gradients and updates stay
float32 (flax's ``param_dtype``); convolutions and matmuls run in the compute dtype;
BatchNorm statistics and normalisation, softmaxes, the logits and the loss are float32.

``fp16=dict(loss_scale=...)`` is MMAction2's switch for float16 training (mmcv's
Fp16OptimizerHook). float16 keeps 5 exponent bits, so small gradients underflow to zero
unless the loss is multiplied by a scale before differentiation and the gradients divided
by it after. mmcv (PyTorch >= 1.6, torch.cuda.amp.GradScaler underneath) reads ``loss_scale``
as:

- a number: a static scale;
- ``'dynamic'``: GradScaler's defaults, start at 2**16, halve on overflow, double after
  2000 consecutive finite steps;
- a dict of GradScaler arguments (``init_scale``, ``growth_factor``, ``backoff_factor``,
  ``growth_interval``), or of mmcv's own LossScaler (``init_scale`` default 2**32, ``mode``
  'dynamic' | 'static', ``scale_factor``, ``scale_window`` default 1000; the scale never
  drops below 1), as mmcv builds with PyTorch < 1.6.

A step whose gradients are not finite changes neither the parameters nor the optimizer
state (GradScaler skips ``optimizer.step()``); the iteration still counts, so the lr
schedule moves on as mmcv's LrUpdaterHook does from ``runner.iter``, and the forward pass's
BatchNorm statistics are kept as PyTorch's forward already wrote them (unless they are
themselves not finite). mmcv's LossScaler in static mode never checks and would apply a
non-finite update; vjax skips it in every mode.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import optax

DTYPES = ("float32", "bfloat16", "float16")
MMCV_DEFAULT_LOSS_SCALE = 512.0  # Fp16OptimizerHook(loss_scale=512.): MMAction2's fp16=dict()
_GRAD_SCALER_KEYS = ("init_scale", "growth_factor", "backoff_factor", "growth_interval")
_LOSS_SCALER_KEYS = ("init_scale", "mode", "scale_factor", "scale_window")


class LossScaleState(NamedTuple):
  """The scale and the finite steps since it last changed (GradScaler's growth tracker)."""
  scale: jax.Array  # float32 scalar
  good_steps: jax.Array  # int32 scalar


@dataclasses.dataclass(frozen=True)
class LossScaler:
  """A static (``dynamic=False``) or dynamic loss scale; pure functions of its state."""

  init_scale: float
  dynamic: bool = True
  growth_factor: float = 2.0
  backoff_factor: float = 0.5
  growth_interval: int = 2000
  min_scale: float = 0.0  # mmcv's LossScaler: 1

  def init(self) -> LossScaleState:
    return LossScaleState(jnp.asarray(self.init_scale, jnp.float32), jnp.zeros((), jnp.int32))

  def update(self, state: LossScaleState, finite) -> LossScaleState:
    """The state after a step whose gradients were (not) ``finite``."""
    if not self.dynamic:
      return state
    good = jnp.where(finite, state.good_steps + 1, 0)
    grow = good >= self.growth_interval
    scale = jnp.where(finite, jnp.where(grow, state.scale * self.growth_factor, state.scale),
                      jnp.maximum(state.scale * self.backoff_factor, self.min_scale))
    return LossScaleState(scale.astype(jnp.float32), jnp.where(grow, 0, good).astype(jnp.int32))


def _positive_number(value, what: str) -> float:
  if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
    raise ValueError(f"fp16 {what} must be a positive number, got {value!r}")
  return float(value)


def _from_dict(cfg: Mapping[str, Any]) -> LossScaler | None:
  keys = set(cfg)
  legacy = keys & {"mode", "scale_factor", "scale_window"}
  if legacy:  # mmcv's LossScaler (PyTorch < 1.6)
    unknown = sorted(keys - set(_LOSS_SCALER_KEYS))
    if unknown:
      raise ValueError(f"fp16.loss_scale mixes mmcv LossScaler keys {sorted(legacy)} with "
                       f"{unknown}; LossScaler takes {list(_LOSS_SCALER_KEYS)}")
    mode = cfg.get("mode", "dynamic")
    if mode not in ("dynamic", "static"):
      raise ValueError(f"fp16.loss_scale mode must be 'dynamic' or 'static', got {mode!r}")
    factor = _positive_number(cfg.get("scale_factor", 2.0), "loss_scale.scale_factor")
    window = cfg.get("scale_window", 1000)
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
      raise ValueError(f"fp16 loss_scale.scale_window must be a positive int, got {window!r}")
    return LossScaler(_positive_number(cfg.get("init_scale", 2.0**32), "loss_scale.init_scale"),
                      dynamic=mode == "dynamic", growth_factor=factor,
                      backoff_factor=1 / factor, growth_interval=window, min_scale=1.0)
  unknown = sorted(keys - set(_GRAD_SCALER_KEYS))
  if unknown:
    raise ValueError(f"unknown fp16.loss_scale keys {unknown}; use GradScaler's "
                     f"{list(_GRAD_SCALER_KEYS)} or mmcv LossScaler's {list(_LOSS_SCALER_KEYS)}")
  interval = cfg.get("growth_interval", 2000)
  if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
    raise ValueError(f"fp16 loss_scale.growth_interval must be a positive int, got {interval!r}")
  return LossScaler(_positive_number(cfg.get("init_scale", 2.0**16), "loss_scale.init_scale"),
                    growth_factor=_positive_number(cfg.get("growth_factor", 2.0),
                                                   "loss_scale.growth_factor"),
                    backoff_factor=_positive_number(cfg.get("backoff_factor", 0.5),
                                                    "loss_scale.backoff_factor"),
                    growth_interval=interval)


def parse_loss_scale(value) -> LossScaler | None:
  """A LossScaler for an mmcv ``loss_scale`` (a number, a numeric string from the command
  line, 'dynamic' or a dict); None for '' (fp16 off)."""
  if hasattr(value, "to_dict"):
    value = value.to_dict()
  if isinstance(value, str):
    if value == "":
      return None
    if value == "dynamic":
      return LossScaler(2.0**16)
    try:
      value = float(value)
    except ValueError:
      raise ValueError(f"fp16.loss_scale must be a number, 'dynamic' or a dict, got {value!r} "
                       "(e.g. --config.fp16.loss_scale=512 or =dynamic)") from None
  if isinstance(value, Mapping):
    return _from_dict(value)
  if isinstance(value, bool) or not isinstance(value, (int, float)):
    raise ValueError(f"fp16.loss_scale must be a number, 'dynamic' or a dict, got {value!r}")
  return LossScaler(_positive_number(value, "loss_scale"), dynamic=False)


def loss_scaler(config) -> LossScaler | None:
  """The config's loss scaler (``fp16.loss_scale``), None when fp16 is off."""
  fp16 = config.get("fp16")
  if fp16 is None:
    return None
  unknown = sorted(set(fp16) - {"loss_scale"})
  if unknown:
    raise ValueError(f"unknown fp16 keys {unknown}; vjax reads fp16.loss_scale only")
  scaler = parse_loss_scale(fp16.get("loss_scale", ""))
  if scaler is not None:
    hook = (config.get("optimizer_config") or {}).get("type", "OptimizerHook")
    if hook != "OptimizerHook":
      raise ValueError(f"fp16 with optimizer_config type {hook!r} is not supported (MMAction2 "
                       "needs mmcv's GradientCumulativeFp16OptimizerHook for it); drop "
                       "cumulative_iters or train in bfloat16 (--config.dtype=bfloat16, no "
                       "loss scale needed)")
  return scaler


def compute_dtype(config) -> jnp.dtype:
  """The dtype convolutions and matmuls run in: ``config.dtype``, float16 with fp16 on."""
  name = str(config.get("dtype", "float32"))
  if name not in DTYPES:
    raise ValueError(f"dtype must be one of {DTYPES}, got {name!r}")
  scaled = loss_scaler(config) is not None
  if scaled and name == "bfloat16":
    raise ValueError("fp16.loss_scale is set but dtype='bfloat16': bfloat16 keeps float32's "
                     "range and needs no loss scale; unset fp16.loss_scale or use "
                     "dtype='float32' (fp16 then computes in float16)")
  if name == "float16" and not scaled:
    raise ValueError("dtype='float16' needs a loss scale against gradient underflow: set "
                     "fp16.loss_scale (a number such as 512, or 'dynamic'), or use "
                     "dtype='bfloat16'")
  return jnp.dtype("float16" if scaled else name)


# ------------------------------------------------------------------ inside the train step
def all_finite(tree) -> jax.Array:
  leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]
  return jnp.stack(leaves).all() if leaves else jnp.asarray(True)


def unscale(grads, scale):
  """Gradients of the scaled loss divided by the scale (in their own dtype, float32)."""
  inv = 1.0 / scale
  return jax.tree.map(lambda g: g * inv.astype(g.dtype), grads)


def keep_if(finite, new, old):
  """``new`` where ``finite``, else ``old``, leaf by leaf."""
  return jax.tree.map(lambda n, o: jnp.where(finite, n, o), new, old)


def skip_update_state(finite, new, old):
  """The optimizer state after a step skipped for non-finite gradients: ``old``, except the
  lr schedule's iteration count, which advances as mmcv's ``runner.iter`` does."""
  is_count = lambda x: isinstance(x, optax.ScaleByScheduleState)  # noqa: E731
  return jax.tree.map(lambda n, o: n if is_count(n) else keep_if(finite, n, o), new, old,
                      is_leaf=is_count)
