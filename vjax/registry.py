"""Name -> constructor registries, so MMAction2-style ``dict(type=..., **kwargs)`` builds objects."""

from __future__ import annotations

import difflib
from typing import Any, Callable, Mapping


class Registry:
  """Maps MMAction2 type names to the vjax callables that build them."""

  def __init__(self, name: str):
    self.name = name
    self._items: dict[str, Callable[..., Any]] = {}

  def register(self, obj=None, *, name: str | None = None):
    """Decorator; registers ``obj`` under ``name`` (default: its ``__name__``)."""

    def add(o):
      key = name or o.__name__
      if key in self._items:
        raise KeyError(f"{key!r} is already registered in the {self.name} registry")
      self._items[key] = o
      return o

    return add(obj) if obj is not None else add

  def get(self, key: str) -> Callable[..., Any]:
    if key not in self._items:
      close = difflib.get_close_matches(key, self._items, n=3, cutoff=0.5)
      hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
      raise KeyError(
          f"Unknown {self.name} type {key!r}.{hint} Registered: {sorted(self._items)}")
    return self._items[key]

  def __contains__(self, key: str) -> bool:
    return key in self._items

  def keys(self):
    return sorted(self._items)

  def build(self, cfg: Mapping[str, Any], **extra) -> Any:
    """Builds ``cfg['type'](**rest, **extra)``; ``cfg`` may be a dict or a ConfigDict."""
    if not hasattr(cfg, "get") or "type" not in cfg:
      raise TypeError(f"{self.name} config must be a mapping with a 'type' key, got {cfg!r}")
    kwargs = to_dict(cfg)
    typ = kwargs.pop("type")
    kwargs.update(extra)
    return self.get(typ)(**kwargs)


def to_dict(cfg: Any) -> Any:
  """Recursively turns ConfigDicts (and FrozenConfigDicts) into plain dicts and lists into tuples."""
  if hasattr(cfg, "to_dict"):
    cfg = cfg.to_dict()
  if isinstance(cfg, Mapping):
    return {k: to_dict(v) for k, v in cfg.items()}
  if isinstance(cfg, list):
    return tuple(to_dict(v) for v in cfg)
  return cfg
