"""Activation sharding constraints by logical axis names, active only while a trainer sets them.

Tensor-parallel layers (TimeSformer's attention heads and MLP) tell XLA how their
intermediate activations should be laid out: ``constrain(x, ("batch", None, "heads", None))``.
The trainer maps logical names to mesh axes for the duration of tracing
(``activation_sharding(mesh, rules)``); outside it (plain inference, tests without a mesh)
``constrain`` is the identity. ``None`` leaves a dimension to XLA, and a dimension its mesh
axes do not divide is left unconstrained too.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from typing import Sequence

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

_ACTIVE: contextvars.ContextVar = contextvars.ContextVar("vjax_activation_sharding",
                                                         default=None)


@contextlib.contextmanager
def activation_sharding(mesh: Mesh, rules: Sequence[tuple[str, object]]):
  """Within: ``constrain`` maps logical names through ``rules`` onto ``mesh``."""
  token = _ACTIVE.set((mesh, dict(rules)))
  try:
    yield
  finally:
    _ACTIVE.reset(token)


def constrain(x, names: Sequence[str | None]):
  active = _ACTIVE.get()
  if active is None:
    return x
  mesh, rules = active
  if len(names) != x.ndim:
    raise ValueError(f"constrain: {len(names)} names for a rank-{x.ndim} array")
  spec = []
  for dim, name in zip(x.shape, names):
    target = rules.get(name) if name else None
    axes = () if target is None else ((target,) if isinstance(target, str) else tuple(target))
    size = math.prod(mesh.shape[a] for a in axes)
    spec.append(target if axes and size > 1 and dim % size == 0 else P.UNCONSTRAINED)
  if all(s is P.UNCONSTRAINED for s in spec):
    return x
  return jax.lax.with_sharding_constraint(x, NamedSharding(mesh, P(*spec)))
