"""The ``PIPELINES`` registry and ``Compose``: MMAction2-style data pipelines on numpy.

An op is a small class built from MMAction2's constructor arguments whose
``__call__(results, rng)`` updates and returns the ``results`` dict. Randomness
comes only from ``rng`` (a ``np.random.Generator``), so a pipeline run under a
seeded generator is reproducible. Frames are uint8, channels-last, stacked in one
``(N, H, W, C)`` array under ``results['imgs']``.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Mapping, Sequence

import numpy as np

# Importing the op modules registers their ops in PIPELINES.
from vjax.data import (ops_audio, ops_augment, ops_color, ops_decode,  # noqa: F401
                       ops_format, ops_imgaug, ops_labels, ops_localization, ops_pose,
                       ops_proposals, ops_sampling)
from vjax.data.ops_base import PIPELINES, as_rng, get_imgs, pair  # noqa: F401


def _takes_rng(op: Callable) -> bool:
  try:
    params = inspect.signature(op).parameters.values()
  except (TypeError, ValueError):
    return True
  positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
  return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)


class Compose:
  """Runs ops in order; each entry is a ``dict(type=..., **kwargs)`` or a callable.

  Callables that take only ``results`` (plain MMAction2-style custom ops) are
  called without ``rng``. An op returning ``None`` stops the pipeline and
  ``Compose`` returns ``None``.
  """

  def __init__(self, transforms: Sequence[Mapping[str, Any] | Callable]):
    self.transforms = []
    for t in transforms:
      op = PIPELINES.build(t) if isinstance(t, Mapping) or hasattr(t, "to_dict") else t
      if not callable(op):
        raise TypeError(f"Pipeline entries must be dicts with 'type' or callables, got {t!r}")
      self.transforms.append((op, _takes_rng(op)))

  def __call__(self, results: dict, rng: np.random.Generator | None = None) -> dict | None:
    rng = as_rng(rng)
    for op, takes_rng in self.transforms:
      results = op(results, rng) if takes_rng else op(results)
      if results is None:
        return None
    return results

  def __repr__(self) -> str:
    body = "".join(f"\n    {op!r}," for op, _ in self.transforms)
    return f"Compose([{body}\n])"
