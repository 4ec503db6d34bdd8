"""Pretrained backbone weights at training start: MMAction2's ``backbone.pretrained``.

MMAction2 backbones load ``pretrained`` in ``init_weights``; vjax does the same once, when
training starts from scratch (``load_from`` wins when both are set), from local files only:

- where it comes from (``resolve_checkpoint``): a local ``.pth``/``.pt``/``.npz``/
  ``.safetensors`` path; ``torchvision://NAME`` and ``http(s)://`` URLs are looked up where
  torch hub (and so MMAction2) caches them, ``$TORCH_HOME/hub/checkpoints`` (default
  ``~/.cache/torch/hub/checkpoints``). Nothing is downloaded: a missing file is an error
  that says where to put it.
- how it maps (``pretrained_variables``): ResNet3d-family backbones with ``pretrained2d``
  (ResNet3d's default) inflate a 2D ResNet in torchvision naming (``inflate_2d``, MMAction2's
  ``inflate_weights``); otherwise, and for a SlowFast's own ``pretrained``, the checkpoint is
  an MMAction2 backbone state dict loaded by name. 2D ResNets (TSN, TSM, TIN, TANet) with
  ``torchvision_pretrain`` rename torchvision's keys first (``torchvision_to_mmaction2``)
  and match the modules MMAction2 had before wrapping them (shift, non-local, temporal pool).

As in MMAction2, what does not match is reported, not an error; a checkpoint of which
nothing matches is an error.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import re
from typing import Any, Mapping
from urllib.parse import urlparse

import numpy as np
from flax import traverse_util
from flax.core import meta

from vjax.convert.mmaction2_checkpoint import Rule, canonical, convert_state_dict, load_state_dict

Path = tuple[str, ...]

# The files mmcv's ``torchvision://`` names download (torch hub keeps the URL's basename).
TORCHVISION_FILES = {
    "resnet18": "resnet18-f37072fd.pth",
    "resnet34": "resnet34-b627a593.pth",
    "resnet50": "resnet50-0676ba61.pth",
    "resnet101": "resnet101-63fe2227.pth",
    "resnet152": "resnet152-394f9c45.pth",
}


# ------------------------------------------------------------------ finding the file
def torch_hub_checkpoints() -> str:
  """torch hub's checkpoint cache: ``$TORCH_HOME/hub/checkpoints`` (torch's default home is
  ``$XDG_CACHE_HOME/torch``, else ``~/.cache/torch``)."""
  home = os.environ.get("TORCH_HOME") or os.path.join(
      os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache"), "torch")
  return os.path.join(os.path.expanduser(home), "hub", "checkpoints")


def resolve_checkpoint(source: str) -> str:
  """The local file behind a ``pretrained`` value; FileNotFoundError says where it must be."""
  cache = torch_hub_checkpoints()
  if source.startswith(("torchvision://", "modelzoo://")):
    name = source.split("://", 1)[1]
    found = sorted(glob.glob(os.path.join(glob.escape(cache), f"{name}-*.pth")))
    found += [p for p in (os.path.join(cache, name + e) for e in (".pth", ".npz", ".safetensors"))
              if os.path.isfile(p)]
    if len(found) == 1:
      return found[0]
    if found:
      raise ValueError(f"pretrained={source!r}: several candidates in {cache}: {found}; set "
                       "pretrained to the path of the one to use")
    expected = TORCHVISION_FILES.get(name, f"{name}-<hash>.pth")
    raise FileNotFoundError(
        f"pretrained={source!r}: {expected} is not in {cache} and vjax downloads nothing. "
        f"Put torchvision's {name} ImageNet checkpoint there (set TORCH_HOME to use another "
        "cache), or set pretrained to a local .pth/.npz/.safetensors path")
  if source.startswith(("http://", "https://")):
    path = os.path.join(cache, os.path.basename(urlparse(source).path))
    if os.path.isfile(path):
      return path
    raise FileNotFoundError(f"pretrained={source!r}: vjax downloads nothing; download it to "
                            f"{path} (torch hub's cache, where MMAction2 keeps it) or set "
                            "pretrained to a local path")
  if "://" in source:
    raise ValueError(f"pretrained={source!r}: {source.split('://')[0]}:// names cannot be "
                     "resolved offline; download the checkpoint and set pretrained to its path")
  path = os.path.abspath(os.path.expanduser(source))
  if not os.path.isfile(path):
    raise FileNotFoundError(f"pretrained={source!r}: no such file ({path})")
  return path


# ------------------------------------------------------------------ renaming (torchvision)
_TV_BN = re.compile(r"^(layer\d+\.\d+\.)bn(\d+)\.(.+)$")
_TV_CONV = re.compile(r"^(layer\d+\.\d+\.conv\d+)\.(weight|bias)$")
_TV_DOWN = re.compile(r"^(layer\d+\.\d+\.downsample)\.([01])\.(.+)$")


def torchvision_to_mmaction2(state: Mapping[str, Any]) -> dict[str, Any]:
  """torchvision ResNet keys -> MMAction2 ResNet keys (its ConvModule layout), as
  MMAction2's ResNet reads ``torchvision://`` checkpoints: ``conv1`` -> ``conv1.conv``,
  ``bn1`` -> ``conv1.bn``, ``layerX.Y.convZ`` -> ``layerX.Y.convZ.conv``, ``layerX.Y.bnZ`` ->
  ``layerX.Y.convZ.bn``, ``downsample.0`` / ``.1`` -> ``downsample.conv`` / ``.bn``. Other keys
  (``fc.*``) are kept."""
  out = {}
  for key, value in state.items():
    if key.startswith("conv1."):
      new = "conv1.conv." + key[len("conv1."):]
    elif key.startswith("bn1."):
      new = "conv1.bn." + key[len("bn1."):]
    elif m := _TV_CONV.match(key):
      new = f"{m[1]}.conv.{m[2]}"
    elif m := _TV_BN.match(key):
      new = f"{m[1]}conv{m[2]}.bn.{m[3]}"
    elif m := _TV_DOWN.match(key):
      new = f"{m[1]}.{'conv' if m[2] == '0' else 'bn'}.{m[3]}"
    else:
      new = key
    out[new] = value
  return out


# ------------------------------------------------------------------ inflation (2D -> 3D)
@dataclasses.dataclass
class LoadReport:
  """What a pretrained load did. Names are torch names (the checkpoint's, or for ``missing``
  of an inflation the 2D module names MMAction2 looked up and did not find)."""
  source: str = ""
  path: str = ""
  loaded: list[str] = dataclasses.field(default_factory=list)  # vjax variable paths
  missing: list[str] = dataclasses.field(default_factory=list)
  mismatched: list[str] = dataclasses.field(default_factory=list)
  unused: list[str] = dataclasses.field(default_factory=list)

  def merge(self, other: "LoadReport", prefix: str) -> None:
    self.loaded += [f"{prefix}/{p}" for p in other.loaded]
    for field in ("missing", "mismatched", "unused"):
      getattr(self, field).extend(f"{prefix}: {p}" for p in getattr(other, field))

  def summary(self) -> str:
    lines = [f"{self.source} ({self.path}): loaded {len(self.loaded)} arrays"]
    for title, items in (("not in the checkpoint", self.missing),
                         ("shape mismatch, skipped", self.mismatched),
                         ("checkpoint entries not used", self.unused)):
      if items:
        lines.append(f"  {title} ({len(items)}): " + ", ".join(items))
    return "\n".join(lines)


def _flat(tree) -> dict[Path, Any]:
  return traverse_util.flatten_dict(meta.unbox(tree)) if tree else {}


def inflate_2d(state2d: Mapping[str, Any], target: Mapping[str, Any], *, pathway: bool = False):
  """A 2D ResNet state dict (torchvision names) inflated into a 3D backbone's variables.

  ``target`` is the backbone's ``{'params': ..., 'batch_stats': ...}`` (arrays or
  ShapeDtypeStructs). Returns ``({(collection, *path): array}, LoadReport)`` for what was
  filled; the rest keeps its initial value. As MMAction2's ``inflate_weights``: every
  ConvModule ``layerX.Y.convZ`` reads ``layerX.Y.convZ`` / ``layerX.Y.bnZ`` (a downsample reads
  ``downsample.0`` / ``.1``); a conv kernel is repeated over the temporal kernel size and
  divided by it; BatchNorm weights and statistics are copied. In a SlowFast pathway
  (``pathway=True``) the laterals are skipped and a conv with more input channels than the
  2D one (a lateral's extra channels) gets zeros for them; in a plain ResNet3d a shape that
  differs is skipped.
  """
  params, stats = _flat(target.get("params")), _flat(target.get("batch_stats"))
  state = {k: np.asarray(v) for k, v in state2d.items()}
  out: dict[Path, np.ndarray] = {}
  report, used = LoadReport(), set()
  modules = sorted({p[:-2] for p in params if p[-2:] == ("conv", "kernel")} |
                   {p[:-3] for p in params if p[-3:] == ("conv", "conv_s", "kernel")})

  def put(collection, path, value):
    out[(collection,) + path] = value.astype(np.float32)
    report.loaded.append("/".join((collection,) + path))

  for module in modules:
    name = canonical(module)
    if pathway and "lateral" in name:
      continue
    if "downsample" in name:
      conv2d, bn2d = name + ".0", name + ".1"
    else:
      conv2d, bn2d = name, name.replace("conv", "bn")
    kernel_path = module + ("conv", "kernel")
    if conv2d + ".weight" not in state:
      report.missing.append(conv2d)
    elif kernel_path not in params:
      report.mismatched.append(f"{conv2d}: {name} is a Conv2plus1d, not an inflatable conv")
    else:
      w = state[conv2d + ".weight"].astype(np.float32)  # (out, in, kh, kw)
      want = tuple(params[kernel_path].shape)  # (kt, kh, kw, in, out)
      kt, in3 = want[0], want[3]
      if pathway and w.ndim == 4 and in3 > w.shape[1]:
        w = np.concatenate([w, np.zeros((w.shape[0], in3 - w.shape[1]) + w.shape[2:], w.dtype)],
                           axis=1)
      if w.ndim != 4 or (w.shape[0], w.shape[1], w.shape[2], w.shape[3]) != (
          want[4], want[3], want[1], want[2]):
        report.mismatched.append(f"{conv2d}.weight: 2D {tuple(state[conv2d + '.weight'].shape)}"
                                 f", 3D kernel (t, h, w, in, out) {want}")
      else:
        put("params", kernel_path,
            np.broadcast_to(w.transpose(2, 3, 1, 0)[None], want) / np.float32(kt))
        used.add(conv2d + ".weight")
        bias_path = module + ("conv", "bias")
        if bias_path in params:
          if conv2d + ".bias" in state:
            put("params", bias_path, state[conv2d + ".bias"])
            used.add(conv2d + ".bias")
          else:
            report.missing.append(conv2d + ".bias")
    if bn2d + ".weight" not in state:
      report.missing.append(bn2d)
      continue
    for leaf, torch_leaf in (("scale", "weight"), ("bias", "bias")):
      path = module + ("bn", leaf)
      key = f"{bn2d}.{torch_leaf}"
      if path not in params or key not in state:
        report.mismatched.append(f"{key}: no {'checkpoint entry' if path in params else 'BN'}")
        break
      if state[key].shape != tuple(params[path].shape):
        report.mismatched.append(f"{key}: 2D {state[key].shape}, 3D {tuple(params[path].shape)}")
        break
      put("params", path, state[key])
      used.add(key)
    else:
      for leaf, torch_leaf in (("mean", "running_mean"), ("var", "running_var")):
        path, key = module + ("bn", leaf), f"{bn2d}.{torch_leaf}"
        if key in state and path in stats:
          if state[key].shape == tuple(stats[path].shape):
            put("batch_stats", path, state[key])
            used.add(key)
          else:
            report.mismatched.append(f"{key}: 2D {state[key].shape}, 3D "
                                     f"{tuple(stats[path].shape)}")
      if bn2d + ".num_batches_tracked" in state:
        used.add(bn2d + ".num_batches_tracked")
  report.unused = sorted(set(state) - used)
  return out, report


# ------------------------------------------------------------------ loading by name
_WRAPPERS = ("net", "net2", "block")  # TSM shift / temporal pool, TIN interlace, non-local


def _unwrapped(key: str) -> str:
  """The name a 2D ResNet module had before MMAction2 wrapped it (TSM, TIN, TANet load their
  ``pretrained`` first, then wrap): ``layer1.0.conv1.conv.net.weight`` ->
  ``layer1.0.conv1.conv.weight``, ``layer2.net.0.conv1...`` -> ``layer2.0.conv1...``."""
  return ".".join(p for p in key.split(".") if p not in _WRAPPERS)


def load_by_name(state: Mapping[str, Any], target: Mapping[str, Any], *,
                 unwrap: bool = False):
  """An MMAction2 backbone state dict loaded by name, like ``load_checkpoint(strict=False)``:
  returns ``({(collection, *path): array}, LoadReport)`` for what matched in name and shape.
  Keys under ``backbone.`` (a whole recognizer's checkpoint) are read without the prefix."""
  state = dict(state)
  if any(k.startswith("backbone.") for k in state):
    state = {k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")}
  # Without unwrapping, the importer's own RULES (e.g. attention's fused in_proj) apply.
  rules = [Rule(".*", torch_key=_unwrapped)] if unwrap else None
  variables, rep = convert_state_dict(state, target, strict=False, rules=rules)
  out = {k: v for k, v in traverse_util.flatten_dict(variables).items()
         if isinstance(v, np.ndarray)}
  report = LoadReport(loaded=["/".join(k) for k in out], missing=rep.missing,
                      mismatched=rep.mismatched, unused=rep.unexpected)
  return out, report


# ------------------------------------------------------------------ per backbone
def _sub(target: Mapping[str, Any], name: str) -> dict:
  return {c: t[name] for c, t in target.items() if isinstance(t, Mapping) and name in t}


def _load(source: str, target, *, inflate: bool, pathway: bool = False, unwrap: bool = False,
          torchvision: bool = False, rewrite=None):
  path = resolve_checkpoint(source)
  state = load_state_dict(path)
  if rewrite is not None:
    state = rewrite(state)
  if inflate:
    arrays, report = inflate_2d(state, target, pathway=pathway)
  else:
    arrays, report = load_by_name(torchvision_to_mmaction2(state) if torchvision else state,
                                  target, unwrap=unwrap)
  report.source, report.path = source, path
  if not arrays:
    raise ValueError(f"pretrained={source!r} ({path}): nothing in it matches the backbone; "
                     f"is it the right checkpoint?\n{report.summary()}")
  return arrays, report


def backbone_variables(cfg: Mapping[str, Any], target: Mapping[str, Any]):
  """The arrays ``cfg``'s ``pretrained`` (and its pathways') give the backbone variables
  ``target`` (``{'params': ..., 'batch_stats': ...}`` of the backbone alone).

  Returns ``({(collection, *path): array}, LoadReport | None)``; ``({}, None)`` when the
  config names no checkpoint.
  """
  # pylint: disable=g-import-not-at-top
  # Imported here: vjax.convert stays importable without building the model zoo.
  from vjax.models import build_model
  from vjax.models.backbones.resnet import ResNet
  from vjax.models.backbones.resnet3d import ResNet3d, ResNet3dLayer
  from vjax.models.backbones.resnet3d_slowfast import ResNet3dPathway, ResNet3dSlowFast
  from vjax.models.backbones.timesformer import TimeSformer
  # pylint: enable=g-import-not-at-top

  backbone = build_model(cfg)  # unbound: only its configuration is read
  source = getattr(backbone, "pretrained", None)
  if source is True:  # torchvision./timm. backbones: "download the library's ImageNet weights"
    raise ValueError(f"{cfg['type']}: pretrained=True asks the backbone's library to download "
                     "its ImageNet weights, and vjax downloads nothing; download them and set "
                     "pretrained to the local .pth/.npz/.safetensors file, or set "
                     "pretrained=False (or load_from) to start without them")
  if source is not None and not isinstance(source, str):
    raise TypeError(f"{cfg['type']}: pretrained must be a str or None, got {source!r}")

  if isinstance(backbone, ResNet3dSlowFast):
    if source:  # a whole SlowFast checkpoint; strict in MMAction2
      arrays, report = _load(source, target, inflate=False)
      if report.missing or report.mismatched:
        raise ValueError(f"pretrained={source!r} does not fit the SlowFast backbone "
                         f"(MMAction2 loads it strictly):\n{report.summary()}")
      return arrays, report
    arrays, report = {}, None
    for which in ("slow", "fast"):
      kwargs = backbone.pathway_kwargs(which)
      path_source = kwargs.get("pretrained")
      if not path_source:
        continue
      sub = _sub(target, f"{which}_path")
      part, rep = _load(path_source, sub, inflate=kwargs.get("pretrained2d", True),
                        pathway=True)
      arrays.update({(k[0], f"{which}_path") + k[1:]: v for k, v in part.items()})
      report = report or LoadReport(source=f"{which}_pathway.pretrained")
      report.merge(rep, f"{which}_path")
    return arrays, report

  if not source:
    return {}, None
  if isinstance(backbone, (ResNet3d, ResNet3dLayer)):
    inflate = bool(backbone.pretrained2d)
    conv_type = (backbone.conv_cfg or {}).get("type")
    if inflate and conv_type == "Conv2plus1d":
      raise ValueError(f"{cfg['type']}: pretrained2d=True cannot inflate a 2D checkpoint into "
                       "Conv2plus1d convs; set pretrained2d=False for a 3D checkpoint")
    return _load(source, target, inflate=inflate,
                 pathway=isinstance(backbone, ResNet3dPathway))
  if isinstance(backbone, ResNet):
    return _load(source, target, inflate=False, unwrap=True,
                 torchvision=bool(backbone.torchvision_pretrain))
  if isinstance(backbone, TimeSformer):  # an image (ViT) checkpoint, rewritten as MMAction2 does
    return _load(source, target, inflate=False, rewrite=backbone.image_checkpoint_state)
  return _load(source, target, inflate=False)


def pretrained_variables(model_cfg: Mapping[str, Any], target: Mapping[str, Any]):
  """The arrays a recognizer config's ``backbone.pretrained`` gives its variables.

  ``target``: the recognizer's ``{'params': ..., 'batch_stats': ...}`` (arrays or
  ShapeDtypeStructs). Returns ``({(collection, 'backbone', *path): array}, LoadReport |
  None)``; only filled variables are in the dict.
  """
  from vjax.registry import to_dict  # pylint: disable=g-import-not-at-top
  backbone_cfg = to_dict(model_cfg).get("backbone")
  if not backbone_cfg:
    return {}, None
  arrays, report = backbone_variables(backbone_cfg, _sub(target, "backbone"))
  return {(k[0], "backbone") + k[1:]: v for k, v in arrays.items()}, report


def wants_pretrained(model_cfg: Mapping[str, Any]) -> bool:
  """Whether the config names a checkpoint for its backbone (or a SlowFast pathway)."""
  from vjax.registry import to_dict  # pylint: disable=g-import-not-at-top
  backbone = to_dict(model_cfg).get("backbone") or {}
  return any((isinstance(b.get("pretrained"), str) and b.get("pretrained"))
             or b.get("pretrained") is True
             for b in (backbone, backbone.get("slow_pathway") or {},
                       backbone.get("fast_pathway") or {}) if isinstance(b, Mapping))
