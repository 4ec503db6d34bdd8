"""The dataset registry and how a config's ``data.<split>`` becomes (source, pipeline).

A source is a plain picklable object with ``len(source)``, ``source[i] -> results dict`` in
MMAction2's key conventions, and ``describe(i)`` naming sample ``i`` in error messages;
``sample_weights()`` is optional (class-balanced draws), and so is ``sample(i, rng)`` for a
source that draws part of a sample itself (RawVideoDataset's clip), which the loader then
calls with the sample's rng instead of ``source[i]``.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from vjax.registry import Registry, to_dict

DATASETS = Registry("dataset")


def build_child(cfg):
  """A dataset object as is, or one built from a config dict ('' data_dir = TFDS default)."""
  if not hasattr(cfg, "get"):
    return cfg
  cfg = dict(to_dict(cfg))
  if "data_dir" in cfg:
    cfg["data_dir"] = cfg["data_dir"] or None
  return DATASETS.build(cfg)


def weights_of(dataset) -> np.ndarray | None:
  fn = getattr(dataset, "sample_weights", None)
  return fn() if fn is not None else None


def sample_from(dataset, index: int, rng):
  """``dataset.sample(index, rng)`` where the source draws, else ``dataset[index]``."""
  fn = getattr(dataset, "sample", None)
  return fn(index, rng) if fn is not None else dataset[index]


def describe_in(dataset, index: int) -> str:
  fn = getattr(dataset, "describe", None)
  return fn(index) if fn is not None else f"index {index} of {type(dataset).__name__}"


def _pop_pipelines(cfg: dict) -> list:
  """Removes ``pipeline`` from wrapped child configs (MMAction2 puts it there); returns them."""
  found = []
  children = [cfg.get("dataset"), *cfg.get("datasets", ())]
  for child in (c for c in children if isinstance(c, dict)):
    if child.get("pipeline") is not None:
      found.append(child["pipeline"])
    child.pop("pipeline", None)
    found.extend(_pop_pipelines(child))
  return found


def build_split(split_cfg) -> tuple[Any, list]:
  """A config's ``data.<split>`` entry -> (source, pipeline list); '' data_dir = TFDS default.

  The loader runs one pipeline over the whole source, so a wrapper's children may
  carry a ``pipeline`` (as in MMAction2 configs) only if it is the split's one.
  """
  cfg = copy.deepcopy(split_cfg.to_dict() if hasattr(split_cfg, "to_dict") else dict(split_cfg))
  pipeline = cfg.pop("pipeline", None)
  nested = _pop_pipelines(cfg)
  candidates = ([pipeline] if pipeline is not None else []) + nested
  if any(p != candidates[0] for p in candidates):
    raise ValueError(f"data split {cfg.get('type')}: its datasets have different pipelines; "
                     "vjax runs one pipeline per split, so give the split a single 'pipeline'")
  return build_child(cfg), list(candidates[0]) if candidates else []
