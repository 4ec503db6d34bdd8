"""What the make_golden_*.py reference scripts share (run in the MMAction2 reference venv).

* ``stable_numpy(**overrides)``: a copy of numpy whose ``argsort`` is stable (``kind='stable'``
  unless one is asked for), plus overrides (e.g. array constructors returning ``StableArray``,
  whose ``.argsort()`` is stable too). MMAction2's modules see it in place of numpy under
  ``sorting(modules, mode, stable_np)``, so goldens exist both for its own (unstable) tie order
  ('raw') and for the stable order vjax follows ('stable').
* ``jsonable``: torch / numpy values as plain JSON values.
* ``golden_dir(doc, name)``: the script's ``--out`` folder (default ``tests/golden/<name>``),
  emptied, so a rerun leaves exactly what it writes.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import types
from pathlib import Path

import numpy as np


class StableArray(np.ndarray):
  """ndarray whose .argsort() defaults to a stable sort (the result is a plain ndarray)."""

  def argsort(self, axis=-1, kind=None, order=None):
    return np.asarray(self).argsort(axis=axis, kind=kind or 'stable', order=order)


def stable_argsort(a, axis=-1, kind=None, order=None):
  return np.argsort(np.asarray(a), axis=axis, kind=kind or 'stable', order=order)


def returning_stable(fn):
  """``fn`` whose array result is a ``StableArray`` (for arrays later ``.argsort()``-ed)."""
  def wrapped(*args, **kwargs):
    return np.asarray(fn(*args, **kwargs)).view(StableArray)
  return wrapped


def stable_numpy(**overrides) -> types.ModuleType:
  module = types.ModuleType('numpy_stable_sort')
  module.__dict__.update(np.__dict__)
  module.argsort = stable_argsort
  module.__dict__.update(overrides)
  return module


@contextlib.contextmanager
def sorting(modules, mode: str, stable_np: types.ModuleType):
  """mode 'raw': ``modules`` untouched; 'stable': they see ``stable_np`` as ``np``."""
  saved = [m.np for m in modules]
  if mode == 'stable':
    for m in modules:
      m.np = stable_np
  try:
    yield
  finally:
    for m, old in zip(modules, saved):
      m.np = old


def wrap(x, mode: str):
  return np.asarray(x).view(StableArray) if mode == 'stable' else np.asarray(x)


def both(fn, modules, stable_np):
  """{'raw': fn('raw'), 'stable': fn('stable')}, each under its sorting mode, stdout muted."""
  out = {}
  for mode in ('raw', 'stable'):
    with sorting(modules, mode, stable_np), contextlib.redirect_stdout(io.StringIO()):
      out[mode] = fn(mode)
  return out


def jsonable(x):
  if isinstance(x, dict):
    return {str(k): jsonable(v) for k, v in x.items()}
  if isinstance(x, (list, tuple)):
    return [jsonable(v) for v in x]
  if type(x).__module__.startswith('torch') and hasattr(x, 'detach'):
    return jsonable(x.detach().cpu().numpy())
  if isinstance(x, np.ndarray):
    return jsonable(x.tolist())
  if isinstance(x, (np.floating, float)):
    return float(x)
  if isinstance(x, np.integer):
    return int(x)
  return x


def golden_dir(doc: str, name: str) -> Path:
  """Parses ``--out`` (default ``tests/golden/<name>``) and returns it, recreated empty."""
  parser = argparse.ArgumentParser(description=doc.splitlines()[0])
  parser.add_argument('--out', default=str(Path(__file__).resolve().parent.parent / 'golden' /
                                           name))
  golden = Path(parser.parse_args().out).resolve()
  if golden.exists():
    shutil.rmtree(golden)
  golden.mkdir(parents=True)
  return golden
