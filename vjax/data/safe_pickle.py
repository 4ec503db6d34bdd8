"""Reading pickles that users hand to vjax (pose annotations, Kinetics-pose keypoint files,
feature pickles, result dumps) without letting them run code.

``pickle.load`` calls whatever function a file names: a downloaded ``.pkl`` can run
``os.system`` the moment it is read. Everything vjax reads from pickles is plain data
(numpy arrays, numbers, strings, dicts and lists, as ``mmcv.dump`` writes them), so
``load``/``loads`` go through an ``Unpickler`` whose ``find_class`` admits only what
rebuilds such data: numpy arrays, dtypes and scalars (under both numpy 1's ``numpy.core``
and numpy 2's ``numpy._core`` names), ``collections.OrderedDict``/``defaultdict``, and the
builtin containers and scalars. Any other global is refused with a
``pickle.UnpicklingError`` that names it and the file. Writing stays ``pickle.dump``.
"""

from __future__ import annotations

import _compat_pickle
import builtins
import collections
import io
import os
import pickle
from typing import Any, BinaryIO

import numpy as np

_BUILTINS = frozenset({"dict", "list", "tuple", "set", "frozenset", "bytes", "bytearray", "str",
                       "int", "float", "complex", "bool", "slice", "range"})
_COLLECTIONS = {"OrderedDict": collections.OrderedDict,
                "defaultdict": collections.defaultdict}
# numpy's array / scalar reconstruction helpers: pickle name -> (numpy 2 home, numpy 1 home).
_NUMPY_HELPERS = {
    ("multiarray", "_reconstruct"): ("numpy._core.multiarray", "numpy.core.multiarray"),
    ("multiarray", "scalar"): ("numpy._core.multiarray", "numpy.core.multiarray"),
    ("numeric", "_frombuffer"): ("numpy._core.numeric", "numpy.core.numeric"),
}
# Python < 3 pickles of bytes (protocol 2, which mmcv.dump uses) hold latin-1 text.
_BYTES_ENCODINGS = frozenset({"latin1", "latin_1", "latin-1", "iso-8859-1", "iso8859-1",
                              "l1", "ascii", "utf-8", "utf8"})

_WHY = ("vjax reads pickles with a restricted unpickler that only rebuilds numpy arrays, "
        "dtypes and scalars, OrderedDict/defaultdict and builtin containers and scalars, "
        "because any other global a pickle names is called while loading and could run "
        "arbitrary code (e.g. os.system)")
_FIX = ("if the file is trusted, rewrite its content as plain data (numpy arrays, dicts, "
        "lists, numbers, strings) and dump it again")


def _encode_bytes(text: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
  """``_codecs.encode`` as protocol-2 pickles use it for ``bytes`` (latin-1 text only)."""
  if not isinstance(text, str) or str(encoding).lower() not in _BYTES_ENCODINGS:
    raise pickle.UnpicklingError(
        f"_codecs.encode with encoding {encoding!r}: only the text encodings pickle uses for "
        f"bytes are allowed; {_WHY}")
  return text.encode(encoding, errors)


def _numpy_helper(module: str, name: str):
  parts = module.split(".")
  if len(parts) != 3 or parts[0] != "numpy" or parts[1] not in ("core", "_core"):
    return None
  homes = _NUMPY_HELPERS.get((parts[2], name))
  if homes is None:
    return None
  import importlib  # pylint: disable=g-import-not-at-top
  for home in homes:  # numpy 2's own module first: numpy.core is a deprecated shim there
    try:
      return getattr(importlib.import_module(home), name)
    except (ImportError, AttributeError):
      continue
  return None


def allowed_global(module: str, name: str):
  """The object a pickle may name as ``module.name``, or None if it is not admitted."""
  if module == "builtins" and name in _BUILTINS:
    return getattr(builtins, name)
  if module == "collections" and name in _COLLECTIONS:
    return _COLLECTIONS[name]
  if module == "_codecs" and name == "encode":
    return _encode_bytes
  if module == "numpy":
    if name in ("ndarray", "dtype"):
      return getattr(np, name)
    obj = getattr(np, name, None)
    if isinstance(obj, type) and issubclass(obj, np.generic):  # scalar types, e.g. np.float32
      return obj
    return None
  return _numpy_helper(module, name)


class RestrictedUnpickler(pickle.Unpickler):
  """An ``Unpickler`` that refuses every global ``allowed_global`` does not admit."""

  def __init__(self, file: BinaryIO, source: str = "<bytes>"):
    super().__init__(file)
    self.source = source

  def find_class(self, module: str, name: str):
    # Protocol < 3 pickles written by Python 3 name Python 2's modules (__builtin__.xrange
    # for range); map them back as pickle's own find_class does.
    if (module, name) in _compat_pickle.NAME_MAPPING:
      module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    elif module in _compat_pickle.IMPORT_MAPPING:
      module = _compat_pickle.IMPORT_MAPPING[module]
    obj = allowed_global(module, name)
    if obj is None:
      raise pickle.UnpicklingError(
          f"{self.source}: refusing to load '{module}.{name}' from this pickle: {_WHY}; "
          f"{_FIX}.")
    return obj


def _load(file: BinaryIO, source: str) -> Any:
  try:
    return RestrictedUnpickler(file, source).load()
  except pickle.UnpicklingError as e:
    if str(e).startswith(source):
      raise
    raise pickle.UnpicklingError(f"{source}: not a readable pickle: {e}") from None
  except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
          OverflowError, MemoryError, UnicodeDecodeError) as e:
    raise pickle.UnpicklingError(
        f"{source}: not a readable pickle ({type(e).__name__}: {e})") from None


def loads(data: bytes, source: str = "<bytes>") -> Any:
  """The plain data pickled in ``data``; ``source`` names it in errors (e.g. its file)."""
  return _load(io.BytesIO(data), source)


def load(path_or_file) -> Any:
  """The plain data in a pickle file (a path or a binary file object)."""
  if isinstance(path_or_file, (str, os.PathLike)):
    path = os.fspath(path_or_file)
    with open(path, "rb") as f:
      return _load(f, path)
  return _load(path_or_file, str(getattr(path_or_file, "name", "<file>")))
