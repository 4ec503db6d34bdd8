"""MMAction2 config files -> vjax configs.

    python -m vjax.convert.mmaction2_config PATH.py --out configs/NAME.py

reads an MMAction2 config the way mmcv's ``Config.fromfile`` does, without mmcv: ``_base_``
files (a path or a list, relative to the file) are read first and merged, the file's own
dicts update theirs key by key (``_delete_=True`` replaces instead), lists and other values
replace, ``{{_base_.x}}`` takes a base's value. The written file is an ordinary vjax config:
``default_config()`` plus the converted fields. What changes on the way:

- ``model``: ``pretrained`` / ``pretrained2d`` / ``torchvision_pretrain`` stay; training
  loads (and for ``pretrained2d`` inflates) that checkpoint into the fresh backbone, from a
  local file: nothing is downloaded (vjax.convert.pretrained says where a ``torchvision://``
  or URL checkpoint must be). Top-level ``train_cfg`` / ``test_cfg`` of older configs move
  into ``model``.
- ``data``: ``videos_per_gpu`` -> ``videos_per_device``, ``workers_per_gpu`` -> ``workers``,
  ``test_dataloader.videos_per_gpu`` -> ``test_videos_per_device`` (else ``videos_per_gpu``,
  as MMAction2's test script). vjax normalises on the accelerator, so one ``Normalize``
  shared by every pipeline, followed only by layout ops, leaves the pipelines and becomes
  ``data.img_norm_cfg``; otherwise it stays on the host and ``img_norm_cfg`` is None.
- ``evaluation`` / ``checkpoint_config`` / ``log_config`` update vjax's defaults
  (``max_keep_ckpts`` -> ``max_to_keep``; ``save_best='auto'`` -> the first result key,
  as MMAction2's EvalHook picks it); ``runner.max_epochs`` -> ``total_epochs``.
- ``workflow``, ``precise_bn`` and ``omnisource`` carry over as they are (``data.train`` is then
  a list of sources); ``data.omni_videos_per_gpu`` -> ``data.omni_videos_per_device`` and
  ``data.train_ratio`` stay with them; so does ``multigrid``.
- ``fp16`` (any dict, even empty, turns float16 training on in MMAction2) ->
  ``fp16.loss_scale`` (mmcv's default 512. when absent); its other hook arguments are dropped.
- Keys vjax has no use for (``dist_params``, ``log_level``, ``work_dir``, the helper
  variables such as ``train_pipeline``...) are dropped and listed.
"""

from __future__ import annotations

import argparse
import ast
import copy
import dataclasses
import keyword
import os
import re
import sys
import types
from typing import Any, Mapping

import ml_collections

_BASE, _DELETE = "_base_", "_delete_"
_BASE_VAR = re.compile(r"\{\{\s*_base_\.([\w.]+)\s*\}\}")
_PREDEFINED = re.compile(r"\{\{\s*(fileDirname|fileBasename|fileBasenameNoExtension|"
                         r"fileExtname)\s*\}\}")
# Ops that only re-arrange or select arrays: Normalize may move past them to the device.
_LAYOUT_OPS = ("FormatShape", "FormatAudioShape", "Collect", "ToTensor", "ImageToTensor",
               "Transpose", "Rename")


# Models MMAction2 trains without an evaluation hook (BSN's TEM: its output feeds the PGM).
NO_METRIC_MODELS = ("TEM",)
# Top-level keys of MMAction2's localization configs that vjax keeps under the same names.
LOCALIZATION_KEYS = ("ann_file_train", "ann_file_val", "ann_file_test", "tem_results_dir",
                     "pgm_proposals_dir", "pgm_features_dir", "pgm_proposals_cfg",
                     "pgm_features_train_cfg", "pgm_features_test_cfg")


# ------------------------------------------------------------------ reading (mmcv semantics)
def _strip_delete(v):
  if isinstance(v, dict):
    return {k: _strip_delete(x) for k, x in v.items() if k != _DELETE}
  if isinstance(v, (list, tuple)):
    return type(v)(_strip_delete(x) for x in v)
  return v


def merge(child: Mapping, base: Mapping) -> dict:
  """``child`` over ``base``: dicts merge key by key unless the child's has ``_delete_=True``."""
  out = dict(base)
  for k, v in child.items():
    if isinstance(v, dict) and k in out and not v.get(_DELETE, False):
      if not isinstance(out[k], dict):
        raise TypeError(f"{k}={v} is a dict in the child config but a {type(out[k]).__name__} "
                        f"in its base; set {_DELETE}=True to replace it")
      out[k] = merge({a: b for a, b in v.items() if a != _DELETE}, out[k])
    else:
      out[k] = _strip_delete(v)
  return out


def _substitute(v, tokens: Mapping[str, str], base: Mapping):
  if isinstance(v, str) and v in tokens:
    for part in tokens[v].split("."):
      base = base[part]
    return copy.deepcopy(base)
  if isinstance(v, dict):
    return {k: _substitute(x, tokens, base) for k, x in v.items()}
  if isinstance(v, (list, tuple)):
    return type(v)(_substitute(x, tokens, base) for x in v)
  return v


def read_config(path: str) -> dict:
  """The fully merged MMAction2 config at ``path`` as a plain dict (runs the file's Python)."""
  path = os.path.abspath(os.path.expanduser(path))
  if not os.path.isfile(path):
    raise FileNotFoundError(f"MMAction2 config {path!r} not found")
  if not path.endswith(".py"):
    raise ValueError(f"{path}: only .py MMAction2 configs are supported")
  with open(path, encoding="utf-8") as f:
    text = f.read()
  stem, ext = os.path.splitext(os.path.basename(path))
  predefined = dict(fileDirname=os.path.dirname(path), fileBasename=os.path.basename(path),
                    fileBasenameNoExtension=stem, fileExtname=ext)
  text = _PREDEFINED.sub(lambda m: predefined[m.group(1)], text)
  tokens: dict[str, str] = {}

  def placeholder(m):
    token = f"__vjax_base_{len(tokens)}__"
    tokens[token] = m.group(1)
    return repr(token)

  text = _BASE_VAR.sub(placeholder, text)
  namespace: dict[str, Any] = {"__file__": path, "__name__": "__mmaction2_config__"}
  exec(compile(text, path, "exec"), namespace)  # pylint: disable=exec-used
  cfg = {k: v for k, v in namespace.items()
         if not k.startswith("__") and not isinstance(v, (types.ModuleType, types.FunctionType))}
  bases = cfg.pop(_BASE, None)
  if bases is None:
    if tokens:
      raise KeyError(f"{path} uses {{{{_base_.…}}}} but has no {_BASE}")
    return cfg
  base: dict = {}
  for name in [bases] if isinstance(bases, str) else list(bases):
    part = read_config(os.path.join(os.path.dirname(path), name))
    duplicate = base.keys() & part.keys()
    if duplicate:
      raise KeyError(f"{path}: keys defined by more than one base: {sorted(duplicate)}")
    base.update(part)
  return merge(_substitute(cfg, tokens, base), base)


# ------------------------------------------------------------------ MMAction2 -> vjax fields
@dataclasses.dataclass
class Conversion:
  """vjax fields to set on ``default_config()`` (dotted key, value), in order, and what changed."""
  fields: list[tuple[str, Any]] = dataclasses.field(default_factory=list)
  dropped: list[str] = dataclasses.field(default_factory=list)
  notes: list[str] = dataclasses.field(default_factory=list)


def _note_weight_sources(v, path: str, notes: list[str]) -> None:
  """Notes every ``pretrained`` checkpoint the model will read when training starts."""
  if isinstance(v, dict):
    for k, x in v.items():
      if k == "pretrained" and isinstance(x, str):
        notes.append(f"{path}.{k}={x!r} is loaded when training starts (unless load_from is "
                     "set), from a local file: vjax downloads nothing")
      else:
        _note_weight_sources(x, f"{path}.{k}", notes)


def _pipelines(split) -> list[list]:
  """Every ``pipeline`` list inside a data split (wrapper datasets nest them)."""
  if isinstance(split, dict):
    found = [split["pipeline"]] if isinstance(split.get("pipeline"), list) else []
    for k, v in split.items():
      if k != "pipeline":
        found += _pipelines(v)
    return found
  if isinstance(split, (list, tuple)):
    return [p for x in split for p in _pipelines(x)]
  return []


# Op names MMAction2's own configs use but 0.24.1 never registers, and what they meant.
OP_RENAMES = {
    # The raw-audio config asks for it; MMAction2 raises KeyError on it (issues #886, #1533,
    # where the maintainers point to MelSpectrogram).
    "MelLogSpectrogram": "MelSpectrogram",
}


def _rename_ops(splits: list, notes: list[str]) -> None:
  for p in (p for s in splits for p in _pipelines(s)):
    for op in p:
      new = OP_RENAMES.get(op.get("type"))
      if new:
        notes.append(f"pipeline op {op['type']} (not registered in MMAction2 0.24.1) runs as "
                     f"{new}")
        op["type"] = new


def _move_normalize(splits: list, notes: list[str]):
  """Takes the shared Normalize out of every pipeline; returns its img_norm_cfg (or None)."""
  pipelines = [p for s in splits for p in _pipelines(s)]
  found, why = [], None
  for p in pipelines:
    at = [i for i, op in enumerate(p) if op.get("type") == "Normalize"]
    if len(at) != 1:
      why = f"a pipeline has {len(at)} Normalize ops"
      break
    later = [op.get("type") for op in p[at[0] + 1:] if op.get("type") not in _LAYOUT_OPS]
    if later:
      why = f"Normalize is followed by {later}"
      break
    op = p[at[0]]
    found.append(dict(mean=[float(x) for x in op.get("mean", ())],
                      std=[float(x) for x in op.get("std", ())],
                      to_bgr=bool(op.get("to_bgr", False)),
                      adjust_magnitude=bool(op.get("adjust_magnitude", False))))
  if why is None and not found:
    why = "no pipeline has a Normalize op"
  elif why is None and any(f != found[0] for f in found):
    why = "the pipelines normalise differently"
  elif why is None and (found[0]["adjust_magnitude"] or len(found[0]["mean"]) != 3):
    why = "it is a Flow Normalize (on-device normalisation handles RGB only)"
  if why is not None:
    notes.append(f"data.img_norm_cfg=None, Normalize stays in the host pipelines: {why}")
    return None
  for p in pipelines:
    p[:] = [op for op in p if op.get("type") != "Normalize"]
  cfg = found[0]
  del cfg["adjust_magnitude"]
  return cfg


# BSN's PGM outputs that LoadProposals loads, one row per proposal.
_PROPOSAL_FIELDS = ("bsp_feature", "reference_temporal_iou", "tmin", "tmax", "tmin_score",
                    "tmax_score")


def pad_variable_fields(pipeline: list, notes: list[str] | None = None) -> list:
  """A localization pipeline made to batch with static shapes: MMAction2 marks the fields it
  cannot stack with ``ToDataContainer(stack=False)`` and collates them as lists; vjax pads
  them with ``PadTo`` before ``Collect`` and collects the mask (``gt_bbox`` -> ``gt_mask``,
  up to ``vjax.config.MAX_GT_SEGMENTS`` rows; LoadProposals' fields -> ``proposal_mask``, up to its
  ``top_k``). Other pipelines are returned unchanged."""
  from vjax.config import MAX_GT_SEGMENTS  # pylint: disable=g-import-not-at-top
  types = [op.get("type") for op in pipeline]
  if "Collect" not in types:
    return pipeline
  collect = dict(pipeline[types.index("Collect")])
  keys = list(collect["keys"])
  sizes, masks = {}, {}
  if "gt_bbox" in keys:
    sizes["gt_bbox"], masks["gt_bbox"] = MAX_GT_SEGMENTS, "gt_mask"
  if "LoadProposals" in types:
    top_k = pipeline[types.index("LoadProposals")]["top_k"]
    for k in _PROPOSAL_FIELDS:
      if k in keys:
        sizes[k], masks[k] = top_k, "proposal_mask"
  out = [op for op in pipeline if op.get("type") != "ToDataContainer"]
  if not sizes:
    return out
  collect["keys"] = keys + sorted(set(masks.values()) - set(keys))
  at = [op.get("type") for op in out].index("Collect")
  out[at] = collect
  out.insert(at, dict(type="PadTo", sizes=sizes, mask_keys=masks))
  if notes is not None:
    notes.append(f"{sorted(sizes)} padded by PadTo (masks {sorted(set(masks.values()))}) so "
                 "batches have static shapes")
  return out


def _pad_localization(splits: list, notes: list[str]) -> None:
  noted: list[str] = []
  for p in (p for s in splits for p in _pipelines(s)):
    p[:] = pad_variable_fields(p, noted)
  notes.extend(sorted(set(noted)))


def _data_fields(data: dict, conv: Conversion):
  data = copy.deepcopy(data)
  splits = {k: data.pop(k) for k in ("train", "val", "test") if k in data}
  _rename_ops(list(splits.values()), conv.notes)
  _pad_localization(list(splits.values()), conv.notes)
  norm = _move_normalize(list(splits.values()), conv.notes)
  out = []
  if "videos_per_gpu" in data:
    out.append(("data.videos_per_device", data.pop("videos_per_gpu")))
  test_loader = data.pop("test_dataloader", {}) or {}
  test_batch = test_loader.pop("videos_per_gpu", dict(out).get("data.videos_per_device"))
  if test_batch is not None:
    out.append(("data.test_videos_per_device", test_batch))
  conv.dropped += [f"data.test_dataloader.{k}" for k in test_loader]
  if "workers_per_gpu" in data:
    out.append(("data.workers", data.pop("workers_per_gpu")))
  if "omni_videos_per_gpu" in data:
    out.append(("data.omni_videos_per_device", list(data.pop("omni_videos_per_gpu"))))
  if "train_ratio" in data:
    out.append(("data.train_ratio", list(data.pop("train_ratio"))))
  out.append(("data.img_norm_cfg", norm))
  out += [(f"data.{k}", v) for k, v in splits.items()]
  conv.dropped += [f"data.{k}" for k in data]
  conv.fields += out


def _auto_best(evaluation: dict) -> str:
  """The first key MMAction2's evaluation returns: what EvalHook's save_best='auto' saves by."""
  metrics = evaluation.get("metrics", ["top_k_accuracy"])
  first = metrics if isinstance(metrics, str) else list(metrics)[0]
  if first != "top_k_accuracy":
    return first
  topk = (evaluation.get("metric_options") or {}).get("top_k_accuracy", {}).get("topk", (1, 5))
  return f"top{topk if isinstance(topk, int) else list(topk)[0]}_acc"


def _fp16_fields(fp16, conv: Conversion) -> None:
  """MMAction2 trains in float16 whenever the config has an ``fp16`` dict, even an empty one
  (mmcv's Fp16OptimizerHook, default ``loss_scale=512.``): -> ``fp16.loss_scale``."""
  from vjax.train import precision  # pylint: disable=g-import-not-at-top
  if fp16 is None:
    return
  fp16 = dict(fp16)
  scale = fp16.pop("loss_scale", precision.MMCV_DEFAULT_LOSS_SCALE)
  precision.parse_loss_scale(scale)  # a bad value fails here, naming the key
  conv.dropped += [f"fp16.{k}" for k in sorted(fp16)]
  conv.fields.append(("fp16.loss_scale", scale))


def convert(mm: Mapping[str, Any]) -> Conversion:
  """vjax fields for a merged MMAction2 config dict (``read_config``'s output)."""
  from vjax.config import default_config  # pylint: disable=g-import-not-at-top
  mm = copy.deepcopy(dict(mm))
  defaults = default_config()
  conv = Conversion()
  if "model" in mm:
    model = mm.pop("model")
    _note_weight_sources(model, "model", conv.notes)
    for key in ("train_cfg", "test_cfg"):
      if key in mm:
        value = mm.pop(key)
        model.setdefault(key, value)
    conv.fields.append(("model", model))
  if "data" in mm:
    _data_fields(mm.pop("data"), conv)
  if isinstance(((mm.get("optimizer") or {}).get("paramwise_cfg") or {}).get("custom_keys"),
                Mapping):
    # Keys such as '.backbone.cls_token' hold dots, which ConfigDict keys cannot: keep them
    # as [key, options] pairs, which vjax's optimizer reads the same way.
    pw = mm["optimizer"]["paramwise_cfg"]
    pw["custom_keys"] = [[k, dict(v)] for k, v in pw["custom_keys"].items()]
  for key in ("optimizer", "optimizer_config", "lr_config", "total_epochs", "multigrid"):
    if key in mm:
      conv.fields.append((key, mm.pop(key)))
  runner = mm.pop("runner", None)
  if runner:
    if runner.get("type", "EpochBasedRunner") != "EpochBasedRunner":
      conv.notes.append(f"runner {runner.get('type')!r} dropped: vjax trains by epochs")
    elif "max_epochs" in runner:
      conv.fields.append(("total_epochs", runner["max_epochs"]))
  if "workflow" in mm:
    conv.fields.append(("workflow", tuple(tuple(phase) for phase in mm.pop("workflow"))))
  if mm.get("precise_bn"):
    conv.fields.append(("precise_bn", merge(mm.pop("precise_bn"),
                                            defaults.precise_bn.to_dict())))
  if "omnisource" in mm:
    conv.fields.append(("omnisource", bool(mm.pop("omnisource"))))
  if "evaluation" not in mm and conv.fields and conv.fields[0][0] == "model" and (
      conv.fields[0][1].get("type") in NO_METRIC_MODELS):
    conv.fields.append(("evaluation.metrics", []))
    conv.fields.append(("evaluation.save_best", ""))
  if "evaluation" in mm:
    ev = dict(mm.pop("evaluation"))
    if isinstance(ev.get("metrics"), str):
      ev["metrics"] = [ev["metrics"]]
    if ev.get("save_best", "auto") == "auto":
      ev["save_best"] = _auto_best(ev)
    conv.fields.append(("evaluation", merge(ev, defaults.evaluation.to_dict())))
  if "checkpoint_config" in mm:
    ck = dict(mm.pop("checkpoint_config"))
    if "max_keep_ckpts" in ck:
      ck["max_to_keep"] = ck.pop("max_keep_ckpts")
    conv.fields.append(("checkpoint_config", merge(ck, defaults.checkpoint_config.to_dict())))
  if "log_config" in mm:
    conv.fields.append(("log_config", merge(mm.pop("log_config"),
                                            defaults.log_config.to_dict())))
  _fp16_fields(mm.pop("fp16", None), conv)
  output = mm.pop("output_config", None)
  if output:  # a localizer's result file (json) or TEM's result folder (csv)
    conv.fields.append(("test.out", output["out"]))
  for key in LOCALIZATION_KEYS:  # what BSN's proposal generation reads, kept as named
    if key in mm:
      conv.fields.append((key, mm.pop(key)))
  if "load_from" in mm:
    load_from = mm.pop("load_from") or ""
    if load_from:
      conv.notes.append(f"load_from={load_from!r} must be a vjax checkpoint directory; convert "
                        "an MMAction2 .pth with python -m vjax.convert.mmaction2_checkpoint")
    conv.fields.append(("load_from", load_from))
  conv.dropped = sorted(mm) + conv.dropped
  return conv


def _assign(cfg: ml_collections.ConfigDict, key: str, value) -> None:
  *parents, last = key.split(".")
  node = cfg
  for p in parents:
    node = node[p]
  node[last] = value


def to_config_dict(conv: Conversion) -> ml_collections.ConfigDict:
  from vjax.config import default_config  # pylint: disable=g-import-not-at-top
  cfg = default_config()
  for key, value in conv.fields:
    _assign(cfg, key, copy.deepcopy(value))
  return cfg


def load_mmaction2_config(path: str, *, verbose: bool = False) -> ml_collections.ConfigDict:
  """The vjax ConfigDict for the MMAction2 config file at ``path`` (nothing is written)."""
  conv = convert(read_config(path))
  if verbose:
    print_report(conv, path)
  return to_config_dict(conv)


def is_vjax_config(path: str) -> bool:
  """Whether a .py file is a vjax config (defines ``get_config``) rather than an MMAction2 one."""
  with open(path, encoding="utf-8") as f:
    tree = ast.parse(f.read(), path)
  return any(isinstance(n, ast.FunctionDef) and n.name == "get_config" for n in tree.body)


def load_any_config(config) -> ml_collections.ConfigDict:
  """A ConfigDict (returned as is), ``vjax_config.py[:arg]`` or an MMAction2 config path."""
  from vjax.config import load_config  # pylint: disable=g-import-not-at-top
  if isinstance(config, ml_collections.ConfigDict):
    return config
  spec = os.fspath(config)
  path, _, arg = spec.partition(":")
  if not os.path.isfile(path):
    raise FileNotFoundError(f"config file {path!r} not found")
  if is_vjax_config(path):
    return load_config(spec)
  if arg:
    raise ValueError(f"{path} is an MMAction2 config; it takes no ':{arg}' argument")
  return load_mmaction2_config(path)


# ------------------------------------------------------------------ writing the config file
def _is_kwarg(k) -> bool:
  return isinstance(k, str) and k.isidentifier() and not keyword.iskeyword(k)


def _inline(v) -> str:
  if isinstance(v, dict):
    if all(_is_kwarg(k) for k in v):
      return "dict(" + ", ".join(f"{k}={_inline(x)}" for k, x in v.items()) + ")"
    return "{" + ", ".join(f"{k!r}: {_inline(x)}" for k, x in v.items()) + "}"
  if isinstance(v, list):
    return "[" + ", ".join(_inline(x) for x in v) + "]"
  if isinstance(v, tuple):
    return "(" + ", ".join(_inline(x) for x in v) + ("," if len(v) == 1 else "") + ")"
  if v is None or isinstance(v, (bool, int, float, str)):
    return repr(v)
  raise TypeError(f"cannot write a {type(v).__name__} ({v!r}) into a config file")


def pyrepr(v, indent: int = 0, col: int | None = None, width: int = 100) -> str:
  """``v`` as Python source starting at column ``col``; one item per line (at ``indent + 4``)
  where the value would pass ``width``."""
  flat = _inline(v)
  col = indent if col is None else col
  if col + len(flat) <= width or not isinstance(v, (dict, list, tuple)) or not v:
    return flat
  inner = indent + 4
  if isinstance(v, dict) and all(_is_kwarg(k) for k in v):
    items = [f"{k}={pyrepr(x, inner, inner + len(k) + 1, width)}" for k, x in v.items()]
    start, end = "dict(", ")"
  elif isinstance(v, dict):
    items = [f"{k!r}: {pyrepr(x, inner, inner + len(repr(k)) + 2, width)}"
             for k, x in v.items()]
    start, end = "{", "}"
  else:
    items = [pyrepr(x, inner, inner, width) for x in v]
    start, end = ("[", "]") if isinstance(v, list) else ("(", ",)" if len(v) == 1 else ")")
  return start + "\n" + ",\n".join(" " * inner + it for it in items) + end


def render(conv: Conversion, source: str, name: str) -> str:
  """The text of a vjax config file that sets ``conv.fields`` on ``default_config()``."""
  lines = [f'"""{name}: MMAction2\'s {os.path.basename(source)}, converted by',
           "vjax.convert.mmaction2_config (running it again overwrites this file).",
           "",
           "Source: " + source.replace("\\", "/"),
           '"""',
           "",
           "from vjax.config import default_config",
           "",
           "",
           'def get_config(arg: str = ""):',
           "  if arg:",
           f'    raise ValueError(f"{name} takes no config argument, got {{arg!r}}")',
           "  c = default_config()"]
  for key, value in conv.fields:
    prefix = f"  c.{key} = "
    lines.append(prefix + pyrepr(value, indent=2, col=len(prefix)))
  lines.append("  return c")
  return "\n".join(lines) + "\n"


def print_report(conv: Conversion, source: str) -> None:
  if conv.dropped:
    print(f"{source}: dropped keys vjax does not use: {', '.join(conv.dropped)}")
  for note in conv.notes:
    print(f"{source}: {note}")


def write_config(source: str, out: str) -> Conversion:
  """Converts the MMAction2 config ``source`` and writes the vjax config file ``out``."""
  conv = convert(read_config(source))
  name = os.path.splitext(os.path.basename(out))[0]
  text = render(conv, source, name)
  os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
  with open(out, "w", encoding="utf-8") as f:
    f.write(text)
  return conv


def main(argv=None) -> Conversion:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("config", help="MMAction2 config .py (its _base_ files are read too)")
  parser.add_argument("--out", required=True, help="vjax config file to write, e.g. "
                      "configs/my_tsn.py")
  args = parser.parse_args(argv)
  conv = write_config(args.config, args.out)
  print_report(conv, args.config)
  print(f"Wrote {args.out}")
  return conv


if __name__ == "__main__":
  try:
    main(sys.argv[1:])
  except (FileNotFoundError, KeyError, TypeError, ValueError) as e:
    sys.exit(f"error: {e}")
