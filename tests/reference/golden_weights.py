"""Seeded random weights and inputs for the model goldens, drawn alike in both environments.

Imported by make_golden_models.py (reference venv, numpy 1.26) and by vjax's parity test
(numpy 2.x): a full-size state dict is regenerated on both sides instead of being stored.
Each tensor has its own generator, seeded by (seed, crc32(name)), so a draw depends only on
the tensor's name and shape, never on the order tensors are visited. Only
``Generator.random`` (PCG64, 53-bit doubles) is used: its stream has not changed across numpy
releases. The goldens also store a checksum per tensor, so a drift would fail loudly.

The ranges keep scores of order 1 to 10 in eval mode, with BatchNorm statistics that do not
match the activations (as in a trained model): He-uniform kernels; BN scales in [0.5, 0.9),
below one because residual sums otherwise compound (scales near one gave ResNet-50 scores of
1e4); running means and variances that visibly shift and rescale every channel.
"""

from __future__ import annotations

import math
import zlib

import numpy as np


def uniform(seed: int, name: str, shape) -> np.ndarray:
  """Float64 draws in [0, 1) for tensor ``name``."""
  return np.random.default_rng([seed, zlib.crc32(name.encode())]).random(tuple(shape))


def tensor(seed: int, key: str, shape) -> np.ndarray:
  """The float32 value of state-dict entry ``key`` (a torch name) with ``shape``."""
  u = uniform(seed, key, shape)
  leaf = key.rsplit(".", 1)[-1]
  if leaf == "running_mean":
    v = (u - 0.5) * 0.4
  elif leaf == "running_var":
    v = 0.5 + u
  elif leaf == "weight" and len(shape) == 1:  # norm scale
    v = 0.5 + 0.4 * u
  elif leaf == "bias":
    v = (u - 0.5) * 0.2
  elif leaf == "weight":  # conv / linear kernel, torch layout (out, in, *kernel)
    fan_in = math.prod(shape[1:])
    v = (2 * u - 1) * math.sqrt(6 / fan_in)
  else:
    v = u - 0.5
  return v.astype(np.float32)


def inputs(seed: int, name: str, shape) -> np.ndarray:
  """A float32 model input in [-2, 2), about the range of normalised frames."""
  return (4 * uniform(seed, f"input/{name}", shape) - 2).astype(np.float32)


def checksum(a: np.ndarray) -> list[float]:
  """Sum and sum of squares in float64: what the goldens record per regenerated tensor."""
  a = np.asarray(a, np.float64)
  return [float(a.sum()), float((a * a).sum())]
