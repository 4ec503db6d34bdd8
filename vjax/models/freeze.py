"""Parameters a model keeps fixed while training: MMAction2's ``frozen_stages``,
``partial_bn`` and ``norm_cfg.requires_grad=False``.

PyTorch freezes by ``requires_grad=False``: such parameters get no gradient, so the optimizer
neither moves nor decays them and gradient clipping does not count them. vjax expresses the
same as a boolean mask over the params tree (``Recognizer.frozen_mask``) that the train step
applies to gradients and updates. Paths are tuples of module names under the backbone, the
same names as MMAction2's state_dict keys (``layer1_0/conv1/bn/scale``).
"""

from __future__ import annotations

import re
from typing import Callable

import jax

Path = tuple[str, ...]

_STAGE = re.compile(r"layer(\d+)(?:_|$)")


def stage_of(path: Path) -> int | None:
  """0 for the stem (``conv1``), k for ``layer{k}`` and its blocks ``layer{k}_{j}``, else None."""
  if not path:
    return None
  if path[0] == "conv1":
    return 0
  m = _STAGE.match(path[0])
  if m:
    return int(m.group(1))
  return None


def is_norm_param(path: Path) -> bool:
  """Scale or bias of a ConvModule's BatchNorm (named ``bn`` as in mmcv)."""
  return len(path) >= 2 and path[-2] == "bn" and path[-1] in ("scale", "bias")


def mask(params, is_frozen: Callable[[Path], bool], prefix: Path = ()):
  """Bool pytree like ``params``: ``is_frozen(path below prefix)`` for leaves under ``prefix``."""

  def leaf(path, _):
    keys = tuple(str(k.key) for k in path if isinstance(k, jax.tree_util.DictKey))
    return keys[:len(prefix)] == prefix and is_frozen(keys[len(prefix):])

  return jax.tree_util.tree_map_with_path(leaf, params)
