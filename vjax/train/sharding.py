"""Where each parameter lives: ordered regex rules over parameter paths, each naming tactics.

``config.param_sharding`` is a sequence of ``(regex, tactics)``; the first rule whose regex
matches the whole '/'-joined path (``backbone/layer1_0/conv1/conv/kernel``) places that
parameter, and a parameter no rule matches is replicated. ``tactics`` is ``'replicate'`` or a
``+``-chain applied left to right, each sharding dimensions the previous ones left free:

- ``logical``: model parallelism by the logical axes the model annotates
  (``nn.with_logical_partitioning``: ``embed``, ``mlp``, ``heads``, ``qkv``, ``conv_out``, ...)
  mapped to mesh axes by ``config.sharding_rules``;
- ``fsdp(axis='fsdp', min_size_mb=0)``: ZeRO-3 style, the largest free dimension divisible
  by the axis size, for parameters of at least ``min_size_mb`` (small ones are not worth the
  all-gathers). ``axis`` may be a tuple of mesh axes.

A dimension that the mesh axis size does not divide stays unsharded. Optimizer state follows
its parameter (same path, same shape); BatchNorm statistics, the step and the PRNG key are
replicated. The same rules, with ``batch`` mapped to the data axes, drive the activation
constraints models place with ``vjax.models.layers.constrain`` (TimeSformer's heads and MLP).
"""

from __future__ import annotations

import ast
import math
import re
from typing import Any, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from vjax.models.layers.constrain import activation_sharding
from vjax.train import mesh as mesh_lib

_TACTICS = ("replicate", "logical", "fsdp")


def parse_tactics(text: str) -> list[tuple[str, dict[str, Any]]]:
  """``'logical+fsdp(axis="fsdp", min_size_mb=1)'`` -> [('logical', {}), ('fsdp', {...})]."""
  out = []
  for part in str(text).split("+"):
    part = part.strip()
    m = re.fullmatch(r"(\w+)(?:\((.*)\))?", part, re.S)
    if not m or m.group(1) not in _TACTICS:
      raise ValueError(f"param_sharding tactic {part!r} is not one of {_TACTICS}; write e.g. "
                       "'replicate', 'logical', 'fsdp(axis=\"fsdp\", min_size_mb=1)' or "
                       "'logical+fsdp'")
    kwargs = {}
    if m.group(2) and m.group(2).strip():
      call = ast.parse(f"f({m.group(2)})", mode="eval").body
      if call.args:
        raise ValueError(f"tactic {part!r}: give its arguments by name (axis=..., min_size_mb=...)")
      try:
        kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
      except ValueError as e:
        raise ValueError(f"tactic {part!r}: arguments must be literals") from e
    allowed = {"replicate": set(), "logical": set(), "fsdp": {"axis", "min_size_mb"}}[m.group(1)]
    if set(kwargs) - allowed:
      raise ValueError(f"tactic {m.group(1)} takes {sorted(allowed) or 'no arguments'}, "
                       f"got {sorted(kwargs)}")
    out.append((m.group(1), kwargs))
  if any(n == "replicate" for n, _ in out) and len(out) > 1:
    raise ValueError(f"'replicate' cannot be chained with other tactics: {text!r}")
  return out


def _axis_size(mesh: Mesh, axis) -> int:
  axes = (axis,) if isinstance(axis, str) else tuple(axis)
  missing = [a for a in axes if a not in mesh.shape]
  if missing:
    raise ValueError(f"sharding axis {missing} is not a mesh axis {tuple(mesh.axis_names)}")
  return math.prod(mesh.shape[a] for a in axes)


def _used(spec: list) -> set:
  out = set()
  for s in spec:
    out.update((s,) if isinstance(s, str) else (s or ()))
  return out


def _apply_logical(spec, shape, logical, mesh, rules):
  if logical is None:
    return spec
  mapping = dict(rules)
  for d, name in enumerate(logical):
    target = mapping.get(name) if name else None
    if spec[d] is not None or target is None:
      continue
    axes = (target,) if isinstance(target, str) else tuple(target)
    if _used(spec) & set(axes):
      continue
    size = _axis_size(mesh, axes)
    if size > 1 and shape[d] % size == 0:
      spec[d] = target
  return spec


def _apply_fsdp(spec, shape, itemsize, mesh, axis="fsdp", min_size_mb=0.0):
  size = _axis_size(mesh, axis)
  axes = (axis,) if isinstance(axis, str) else tuple(axis)
  if size == 1 or math.prod(shape) * itemsize < min_size_mb * 2**20 or _used(spec) & set(axes):
    return spec
  free = [d for d in range(len(shape)) if spec[d] is None and shape[d] % size == 0]
  if free:
    best = max(free, key=lambda d: (shape[d], d))  # the largest; ties: the last (channels)
    spec[best] = axis
  return spec


def param_spec(path: str, shape, dtype, logical, strategy, mesh: Mesh, rules) -> P:
  """The PartitionSpec of one parameter under the first strategy rule matching ``path``."""
  for pattern, tactics in strategy:
    if re.fullmatch(pattern, path):
      break
  else:
    return P()
  spec: list = [None] * len(shape)
  for name, kwargs in parse_tactics(tactics):
    if name == "logical":
      spec = _apply_logical(spec, shape, logical, mesh, rules)
    elif name == "fsdp":
      spec = _apply_fsdp(spec, shape, np.dtype(dtype).itemsize, mesh, **kwargs)
  while spec and spec[-1] is None:
    spec.pop()
  return P(*spec)


def _dict_path(path) -> tuple:
  return tuple(k.key for k in path if isinstance(k, jax.tree_util.DictKey))


def param_specs(abstract_params, logical_specs, strategy, mesh: Mesh, rules):
  """PartitionSpecs for a params tree; ``logical_specs``: flax's logical PartitionSpecs of the
  same tree (``nn.get_partition_spec`` of the boxed params), or None."""
  logical = {}
  if logical_specs is not None:
    for path, spec in jax.tree_util.tree_leaves_with_path(
        logical_specs, is_leaf=lambda x: isinstance(x, P)):
      logical[_dict_path(path)] = tuple(spec) if isinstance(spec, P) else None

  def leaf(path, x):
    names = logical.get(_dict_path(path))
    if names is not None:
      names = tuple(names) + (None,) * (len(x.shape) - len(names))
    return param_spec(jax.tree_util.keystr(path, simple=True, separator="/"), x.shape, x.dtype, names, strategy, mesh, rules)

  return jax.tree_util.tree_map_with_path(leaf, abstract_params)


def state_shardings(mesh: Mesh, abstract_state, logical_param_specs, strategy, rules):
  """NamedShardings for a TrainState: params by the strategy, each optimizer-state leaf like
  the parameter at its path (when the shapes agree), everything else (step, key, BN
  statistics, fp16 loss scale) replicated."""
  specs = param_specs(abstract_state.params, logical_param_specs, strategy, mesh, rules)
  by_path = {}
  for (path, x), spec in zip(jax.tree_util.tree_leaves_with_path(abstract_state.params),
                             jax.tree.leaves(specs, is_leaf=lambda s: isinstance(s, P))):
    by_path[_dict_path(path)] = (tuple(x.shape), spec)

  def opt_leaf(path, x):
    found = by_path.get(_dict_path(path))
    if found is not None and found[0] == tuple(getattr(x, "shape", ())):
      return NamedSharding(mesh, found[1])
    return NamedSharding(mesh, P())

  rep = NamedSharding(mesh, P())
  return abstract_state.replace(
      step=rep, rng=rep,
      params=jax.tree.map(lambda s: NamedSharding(mesh, s), specs,
                          is_leaf=lambda s: isinstance(s, P)),
      batch_stats=jax.tree.map(lambda _: rep, abstract_state.batch_stats),
      loss_scale=jax.tree.map(lambda _: rep, abstract_state.loss_scale),
      opt_state=jax.tree_util.tree_map_with_path(opt_leaf, abstract_state.opt_state))


def activation_rules(mesh: Mesh, rules: Sequence) -> tuple:
  """Logical-axis rules for activation constraints: ``batch`` over the data axes, then the
  parameter rules (so ``heads``/``mlp`` follow wherever ``sharding_rules`` put them)."""
  return (("batch", mesh_lib.data_axes(mesh)),) + tuple(tuple(r) for r in rules)


def with_rules(fn, mesh: Mesh, rules: Sequence):
  """``fn`` traced with the activation constraints of ``rules`` active (see
  ``vjax.models.layers.constrain``)."""
  act = activation_rules(mesh, rules)

  def wrapped(*args, **kwargs):
    with activation_sharding(mesh, act):
      return fn(*args, **kwargs)

  return wrapped


def bytes_per_device(abstract_tree, shardings) -> int:
  """Bytes of one device's shards of a tree: what XLA's memory analysis should report."""
  total = 0
  for x, s in zip(jax.tree.leaves(abstract_tree), jax.tree.leaves(shardings)):
    total += math.prod(s.shard_shape(x.shape)) * np.dtype(x.dtype).itemsize
  return total


def describe(abstract_params, shardings) -> str:
  """A one-line summary: how many parameters are sharded and the per-device fraction."""
  leaves = list(zip(jax.tree.leaves(abstract_params), jax.tree.leaves(shardings)))
  full = sum(math.prod(x.shape) for x, _ in leaves)
  local = sum(math.prod(s.shard_shape(x.shape)) for x, s in leaves)
  sharded = sum(1 for x, s in leaves if s.shard_shape(x.shape) != tuple(x.shape))
  return (f"{sharded}/{len(leaves)} parameter arrays sharded; each device holds "
          f"{local / max(full, 1):.1%} of {full:,} parameters")
