"""MMAction2 (PyTorch) state dicts -> vjax variables; a CLI writes a ``load_from`` checkpoint.

    python -m vjax.convert.mmaction2_checkpoint --config=CONFIG[:arg] --checkpoint=X.pth \\
        --out=DIR [--no-strict] [--allow-pickle]

then train or test with ``--config.load_from=DIR``. ``CONFIG`` is a vjax config or an
MMAction2 config file (converted on the fly); ``X`` is a ``.pth``/``.pt`` (needs torch), ``.npz``
or ``.safetensors`` file.

vjax modules carry MMAction2's module names (``layer1_0`` is torch's ``layer1.0``) and keep
arrays channels-last, so an import is a rename plus a transpose. The model's own variables
drive it, so a new backbone needs no table: each variable names the torch key it reads
(``kernel`` and ``scale`` read ``weight``; batch_stats ``mean``/``var`` read ``running_mean``/
``running_var``) and kernels change layout by rank (conv ``(out, in, *k)`` -> ``(*k, in, out)``,
linear ``(out, in)`` -> ``(in, out)``). ``RULES`` holds the exceptions, should a module need
one. The import is strict by default: a torch key that nothing reads, a variable that nothing
fills and a shape that disagrees are one error listing all of them, because a checkpoint of a
slightly different model must not load half-way unnoticed.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import re
import sys
from typing import Any, Callable, Mapping, NamedTuple, Sequence

import numpy as np
from flax import traverse_util
from flax.core import meta

# Torch keys no vjax variable stands for: BatchNorm's update counter (vjax uses a fixed momentum).
IGNORED_KEYS = [r"(^|\.)num_batches_tracked$"]
# timm Swin's buffers, functions of the window geometry that vjax computes itself: the
# token-pair -> bias-table-row index of each window attention and the shifted blocks' masks.
IGNORED_KEYS += [r"(^|\.)attn\.relative_position_index$", r"(^|\.)blocks\.\d+\.attn_mask$"]
# BMN's boundary-matching ``sample_mask``, a frozen parameter in MMAction2: a function of the
# config (temporal_dim, boundary_ratio, num_samples, num_samples_per_bin) that vjax computes
# (vjax.models.localizers.bmn.interp1d_mask; tests/models/test_localizers.py checks it equals
# MMAction2's) instead of storing 128 MB per checkpoint.
IGNORED_KEYS += [r"^sample_mask$"]
# STGCN's and AGCN's graph buffer ``A`` (K, V, V): a function of ``graph_cfg`` that vjax
# computes (vjax.models.skeleton.graph; tests/models/test_skeleton_models.py checks it equals
# MMAction2's for every layout and strategy). A checkpoint of another graph still fails on
# the shapes of data_bn, edge_importance, PA or the gcn convs.
IGNORED_KEYS += [r"^(backbone\.)?A$"]
# MMAction2 1.x's unit_gcn keeps its graph as a buffer ``gcn.i.gcn.A`` unless it learns it
# (gcn_adaptive='init', where the same key is the parameter vjax loads): vjax computes the
# fixed graph (vjax.models.backbones.stgcnpp.graph_v1), so such a buffer may go unused.
UNUSED_KEYS = [r"(^|\.)gcn\.\d+\.gcn\.A$"]

# vjax (collection, leaf name) -> torch parameter/buffer name; other leaves keep their name.
TORCH_LEAF = {
    ("params", "kernel"): "weight",
    ("params", "scale"): "weight",
    ("batch_stats", "mean"): "running_mean",
    ("batch_stats", "var"): "running_var",
}


class Rule(NamedTuple):
  """An exception to the default mapping, for the vjax variables whose path matches.

  ``pattern`` is searched in the variable's path (``params/backbone/layer1_0/conv1/conv/kernel``);
  ``torch_key`` turns the default torch key (``backbone.layer1.0.conv1.conv.weight``) into the
  right one; ``convert`` replaces the default layout change (it receives the torch array).
  """
  pattern: str
  torch_key: Callable[[str], str] | None = None
  convert: Callable[[np.ndarray], np.ndarray] | None = None


# TSN, SlowFast, the 2D zoo, X3D and C3D map by name and shape alone. torch's
# nn.MultiheadAttention (TimeSformer's ``attn``) keeps its fused q/k/v projection as two bare
# parameters, ``in_proj_weight`` (3E, E) and ``in_proj_bias``, where vjax has a Dense
# ``in_proj``: the default transpose gives its (E, 3E) kernel, only the names differ.
RULES: list[Rule] = [
    Rule(r"(^|/)attn/in_proj/(kernel|bias)$",
         torch_key=lambda k: re.sub(r"\.in_proj\.(weight|bias)$", r".in_proj_\1", k)),
]

_INDEX = re.compile(r"_(\d+)(?=_|$)")


def canonical(parts: Sequence[str]) -> str:
  """One spelling for a module path on both sides: ``layer1_0`` and ``layer1.0`` -> ``layer1.0``.

  Flax names cannot contain dots, so vjax writes torch's list indices with an underscore;
  applying the same rewrite to torch's own names keeps names like ``level_fusion_1`` matching.
  """
  return ".".join(_INDEX.sub(r".\1", p) for p in parts)


def torch_layout(leaf: str, array: np.ndarray) -> np.ndarray:
  """A torch array in vjax's layout: kernels become channels-last, everything else is kept."""
  if leaf != "kernel" or array.ndim < 2:
    return array
  return array.transpose(tuple(range(2, array.ndim)) + (1, 0))


@dataclasses.dataclass
class Report:
  """What did not map: torch keys nothing read, vjax variables nothing filled, bad shapes."""
  unexpected: list[str] = dataclasses.field(default_factory=list)
  missing: list[str] = dataclasses.field(default_factory=list)
  mismatched: list[str] = dataclasses.field(default_factory=list)
  loaded: int = 0

  def problems(self) -> list[str]:
    return ([f"unexpected torch key {k}" for k in self.unexpected] +
            [f"missing {k}" for k in self.missing] +
            [f"shape {k}" for k in self.mismatched])


def convert_state_dict(state_dict: Mapping[str, Any], target: Mapping[str, Any], *,
                       strict: bool = True, rules: Sequence[Rule] | None = None):
  """MMAction2 ``state_dict`` -> vjax variables shaped like ``target``; returns (variables, Report).

  ``target`` is the model's variables tree (``{'params': ..., 'batch_stats': ...}``) of arrays
  or ``jax.ShapeDtypeStruct`` (``jax.eval_shape`` of ``model.init``); converted arrays take
  its dtypes. ``strict=True`` raises a ValueError listing every problem; with
  ``strict=False`` the variables that did not map keep ``target``'s leaf, and the Report lists
  them.
  """
  rules = RULES if rules is None else rules
  ignored = [re.compile(p) for p in IGNORED_KEYS]
  by_canon: dict[str, str] = {}
  for key in state_dict:
    if any(p.search(key) for p in ignored):
      continue
    c = canonical(key.split("."))
    if c in by_canon:
      raise ValueError(f"torch keys {by_canon[c]!r} and {key!r} both read as {c!r}")
    by_canon[c] = key

  report, used, out = Report(), set(), {}
  for path, want in traverse_util.flatten_dict(meta.unbox(target)).items():
    collection, *modules, leaf = path
    name = "/".join(str(p) for p in path)
    rule = next((r for r in rules if re.search(r.pattern, name)), None)
    key = canonical(modules + [TORCH_LEAF.get((collection, leaf), leaf)])
    if rule is not None and rule.torch_key is not None:
      key = canonical(rule.torch_key(key).split("."))
    found = by_canon.get(key)
    out[path] = want
    if found is None:
      report.missing.append(f"{name} (torch key {key})")
      continue
    used.add(found)
    array = np.asarray(state_dict[found])
    converted = rule.convert(array) if rule is not None and rule.convert else torch_layout(leaf,
                                                                                          array)
    if converted.shape != tuple(want.shape):
      report.mismatched.append(f"{name} <- {found}: torch {tuple(array.shape)} -> "
                               f"{tuple(converted.shape)}, vjax wants {tuple(want.shape)}")
      continue
    out[path] = np.ascontiguousarray(converted).astype(want.dtype)
    report.loaded += 1
  unused_ok = ignored + [re.compile(p) for p in UNUSED_KEYS]
  report.unexpected = [k for k in state_dict
                       if k not in used and not any(p.search(k) for p in unused_ok)]
  if strict and report.problems():
    raise ValueError(f"the checkpoint does not match the model ({len(report.problems())} "
                     "problems; strict=False / --no-strict loads what matches):\n  " +
                     "\n  ".join(report.problems()))
  return traverse_util.unflatten_dict(out), report


# ------------------------------------------------------------------ reading checkpoint files
def _torch_state(path: str, allow_pickle: bool) -> dict:
  try:
    import torch  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ImportError(f"reading {path} needs PyTorch: pip install torch (or save the state dict "
                      "as .npz or .safetensors, which vjax reads without it)") from e
  try:
    ckpt = torch.load(path, map_location="cpu", weights_only=not allow_pickle)
  except pickle.UnpicklingError as e:
    raise ValueError(f"{path} holds objects besides tensors (often numpy values in 'meta'), "
                     "which torch.load refuses by default; if you trust the file, pass "
                     "allow_pickle=True (--allow-pickle)") from e

  def to_numpy(v):
    if isinstance(v, torch.Tensor):
      v = v.detach().cpu()
      return (v.float() if v.dtype == torch.bfloat16 else v).numpy()
    return v

  if isinstance(ckpt, Mapping) and isinstance(ckpt.get("state_dict"), Mapping):
    ckpt = ckpt["state_dict"]
  return {k: to_numpy(v) for k, v in ckpt.items()}


def load_state_dict(path: str, *, allow_pickle: bool = False) -> dict[str, np.ndarray]:
  """torch key -> numpy array from a ``.pth``/``.pt``, ``.npz`` or ``.safetensors`` file.

  MMAction2's ``{'state_dict': ..., 'meta': ...}`` wrapping and DataParallel's ``module.``
  prefix are removed, as MMAction2's ``load_checkpoint`` removes them.
  """
  if not os.path.isfile(path):
    raise FileNotFoundError(f"checkpoint {path!r} not found")
  ext = os.path.splitext(path)[1].lower()
  if ext in (".pth", ".pt"):
    state = _torch_state(path, allow_pickle)
  elif ext == ".npz":
    with np.load(path, allow_pickle=False) as f:
      state = {k: f[k] for k in f.files}
  elif ext == ".safetensors":
    from safetensors.numpy import load_file  # pylint: disable=g-import-not-at-top
    state = load_file(path)
  else:
    raise ValueError(f"checkpoint {path!r}: expected .pth, .pt, .npz or .safetensors")
  bad = [k for k, v in state.items() if not isinstance(v, np.ndarray)]
  if bad:
    raise ValueError(f"{path}: entries that are not arrays: {bad}")
  if state and all(k.startswith("module.") for k in state):
    state = {k[len("module."):]: v for k, v in state.items()}
  return state


def save_variables(variables: Mapping[str, Any], out_dir: str) -> str:
  """Writes ``{'params', 'batch_stats'}`` to ``out_dir/state``, where ``load_from`` reads them.

  ``vjax.train.checkpoint.load_params(out_dir, ...)`` restores this like a train-state
  checkpoint's ``state`` item, of which it only reads these two collections.
  """
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
  path = os.path.join(os.path.abspath(out_dir), "state")
  if os.path.exists(path):
    raise FileExistsError(f"{path} exists; remove it or choose another --out")
  tree = {"params": variables["params"], "batch_stats": variables.get("batch_stats", {})}
  with ocp.StandardCheckpointer() as ckptr:
    ckptr.save(path, tree)
    ckptr.wait_until_finished()
  return os.path.dirname(path)


if __name__ == "__main__":
  # The command lives with the code that builds models (vjax.convert.load), which imports
  # this module's converter; this module imports nothing of vjax's models or tasks.
  from vjax.convert.load import run_cli  # pylint: disable=g-import-not-at-top
  run_cli(sys.argv[1:])
