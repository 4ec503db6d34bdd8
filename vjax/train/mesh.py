"""The device mesh and the few sharding rules the trainer needs.

One code path from one CPU to a pod: the batch is sharded over the data-parallel axes,
parameters follow logical-axis rules (replicated unless a rule maps a logical axis to a
mesh axis), and everything goes through ``jax.jit`` with explicit shardings.
"""

from __future__ import annotations

import math
from typing import Sequence

import flax.linen as nn
import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

BATCH_AXES = ("data", "fsdp")


def make_mesh(axes: Sequence[tuple[str, int]], devices=None) -> Mesh:
  """Builds a mesh from ``(('data', -1), ('fsdp', 1), ('model', 1))``; one -1 fills the rest."""
  devices = list(jax.devices() if devices is None else devices)
  names = tuple(a for a, _ in axes)
  sizes = [int(s) for _, s in axes]
  if sizes.count(-1) > 1:
    raise ValueError(f"mesh {axes}: at most one axis may be -1")
  known = math.prod(s for s in sizes if s != -1)
  if -1 in sizes:
    if len(devices) % known:
      raise ValueError(f"mesh {axes}: {len(devices)} devices are not divisible by {known}")
    sizes[sizes.index(-1)] = len(devices) // known
  if math.prod(sizes) != len(devices):
    raise ValueError(f"mesh {axes} needs {math.prod(sizes)} devices, {len(devices)} are available")
  return Mesh(np.asarray(devices).reshape(sizes), names)


def data_axes(mesh: Mesh) -> tuple[str, ...]:
  return tuple(a for a in BATCH_AXES if a in mesh.axis_names)


def data_parallel_size(mesh: Mesh) -> int:
  return math.prod(mesh.shape[a] for a in data_axes(mesh))


def batch_sharding(mesh: Mesh) -> NamedSharding:
  """Leading (batch) dimension split over the data axes, the rest replicated."""
  return NamedSharding(mesh, P(data_axes(mesh)))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def state_shardings(mesh: Mesh, abstract_boxed_state, rules: Sequence[tuple[str, str | None]]):
  """NamedShardings for a (boxed, logically annotated) state from logical-axis rules."""
  specs = nn.get_partition_spec(abstract_boxed_state)
  return nn.logical_to_mesh_sharding(specs, mesh, tuple(rules))


def global_batch(mesh: Mesh, local_batch: dict) -> dict:
  """Process-local numpy arrays -> global ``jax.Array``s sharded over the data axes."""
  sharding = batch_sharding(mesh)
  return {k: jax.make_array_from_process_local_data(sharding, np.asarray(v))
          for k, v in local_batch.items()}
