"""The device mesh and the batch's place on it.

One code path from one CPU to a pod: the batch is sharded over the data-parallel axes
(``data`` and ``fsdp``), parameters are placed by ``vjax.train.sharding``, and everything
goes through ``jax.jit`` with explicit shardings.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

BATCH_AXES = ("data", "fsdp")


def _sizes(axes: Sequence[tuple[str, int]], num_devices: int) -> list[int]:
  sizes = [int(s) for _, s in axes]
  if sizes.count(-1) > 1:
    raise ValueError(f"mesh {axes}: at most one axis may be -1")
  known = math.prod(s for s in sizes if s != -1)
  if -1 in sizes:
    if num_devices % known:
      raise ValueError(f"mesh {axes}: {num_devices} devices are not divisible by {known}")
    sizes[sizes.index(-1)] = num_devices // known
  if math.prod(sizes) != num_devices:
    raise ValueError(f"mesh {axes} needs {math.prod(sizes)} devices, {num_devices} are available")
  return sizes


def _slice_grid(devices, shape):
  """One slice's devices in ``shape``: topology-aware on TPU, in id order elsewhere."""
  if devices[0].platform == "tpu":
    from jax.experimental import mesh_utils  # pylint: disable=g-import-not-at-top
    return mesh_utils.create_device_mesh(shape, devices=devices, allow_split_physical_axes=True)
  return np.asarray(devices).reshape(shape)


def make_mesh(axes: Sequence[tuple[str, int]], devices=None, dcn: Sequence[tuple[str, int]] = (),
              slice_of: Callable[[Any], int] | None = None) -> Mesh:
  """Builds a mesh from ``(('data', -1), ('fsdp', 1), ('model', 1))``; one -1 fills the rest.

  ``dcn`` (multi-slice TPU pods): how many slices each axis spans, e.g. ``(('data', 2),)``;
  that axis's outer factor then runs across slices (over the data-centre network) and the
  rest within a slice (over ICI), so only the gradient all-reduce crosses slices.
  ``slice_of(device)`` names a device's slice (TPU's ``slice_index`` by default).
  """
  devices = list(jax.devices() if devices is None else devices)
  names = tuple(a for a, _ in axes)
  sizes = _sizes(axes, len(devices))
  dcn = dict(dcn or ())
  unknown = set(dcn) - set(names)
  if unknown:
    raise ValueError(f"mesh_dcn names {sorted(unknown)}, which are not mesh axes {names}")
  outer = [int(dcn.get(n, 1)) for n in names]
  if math.prod(outer) == 1:
    return Mesh(_slice_grid(devices, sizes), names)
  slice_of = slice_of or (lambda d: d.slice_index)
  slices: dict[int, list] = {}
  for d in devices:
    slices.setdefault(slice_of(d), []).append(d)
  if len(slices) != math.prod(outer):
    raise ValueError(f"mesh_dcn {tuple(dcn.items())} spans {math.prod(outer)} slices, the "
                     f"devices form {len(slices)}")
  bad = [n for n, s, o in zip(names, sizes, outer) if s % o]
  if bad:
    raise ValueError(f"mesh axes {bad}: their sizes {sizes} are not divisible by mesh_dcn")
  inner = [s // o for s, o in zip(sizes, outer)]
  grids = np.stack([_slice_grid(slices[k], inner) for k in sorted(slices)])
  grids = grids.reshape(outer + inner)  # (dcn axes..., ici axes...)
  n = len(names)
  order = [ax for k in range(n) for ax in (k, n + k)]  # each axis: slice factor outermost
  return Mesh(grids.transpose(order).reshape(sizes), names)


def data_axes(mesh: Mesh) -> tuple[str, ...]:
  return tuple(a for a in BATCH_AXES if a in mesh.axis_names)


def data_parallel_size(mesh: Mesh) -> int:
  return math.prod(mesh.shape[a] for a in data_axes(mesh))


def batch_sharding(mesh: Mesh) -> NamedSharding:
  """Leading (batch) dimension split over the data axes, the rest replicated."""
  return NamedSharding(mesh, P(data_axes(mesh)))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def global_batch(mesh: Mesh, local_batch: dict) -> dict:
  """Process-local numpy arrays -> global ``jax.Array``s sharded over the data axes."""
  sharding = batch_sharding(mesh)
  return {k: jax.make_array_from_process_local_data(sharding, np.asarray(v))
          for k, v in local_batch.items()}
