"""What every pipeline op module shares: the ``PIPELINES`` registry and small array helpers.

Op modules import from here and register themselves; ``vjax.data.pipeline`` imports the op
modules and builds ``Compose`` on the registry, so nothing imports in a circle.
"""

from __future__ import annotations

import numpy as np

from vjax.registry import Registry

PIPELINES = Registry("pipeline op")


def as_rng(rng: np.random.Generator | None) -> np.random.Generator:
  """``rng`` itself, or a fresh unseeded generator when the caller gave none."""
  return rng if rng is not None else np.random.default_rng()


def get_imgs(results: dict) -> np.ndarray:
  """``results['imgs']`` as one stacked array (lists from MMAction2-style ops are stacked)."""
  imgs = results["imgs"]
  if not isinstance(imgs, np.ndarray):
    imgs = np.stack(imgs) if len(imgs) else np.zeros((0, 0, 0, 0), np.uint8)
    results["imgs"] = imgs
  return imgs


def pair(x) -> tuple:
  """``x`` as a 2-tuple: an int ``n`` becomes ``(n, n)``."""
  if isinstance(x, (int, np.integer)):
    return (int(x), int(x))
  x = tuple(x)
  if len(x) != 2:
    raise ValueError(f"Expected an int or a pair, got {x!r}")
  return x
