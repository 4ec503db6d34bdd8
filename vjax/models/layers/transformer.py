"""mmcv's config-driven transformer layers and MMAction2's divided space-time attentions.

MMAction2's TimeSformer builds its encoder from mmcv config dicts: a ``TransformerLayerSequence``
of ``BaseTransformerLayer``s, each running its ``operation_order`` ('self_attn', 'norm', 'ffn')
over attentions (mmcv ``MultiheadAttention``, ``DividedTemporalAttentionWithNorm``,
``DividedSpatialAttentionWithNorm``) and FFNs (``FFN``, ``FFNWithNorm``). The modules here read
the same dicts, with the same defaults, so a config's ``transformer_layers`` builds the same
network; submodule names are the state-dict names (``layers_0/attentions_1/attn``,
``ffns_0/layers_0_0``, ``norms_0``).

Tokens are batch-first (B, N, E) unless a layer says ``batch_first=False`` (mmcv's default,
which TimeSformer's configs override), and the residual dropouts (``DropPath``) drop per row
of the tensor they see, as mmcv's do: per (video, patch) in temporal attention, per
(video, frame) in spatial attention.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from vjax.models.layers.attention import MultiheadAttention
from vjax.models.layers.constrain import constrain
from vjax.models.layers.drop_path import drop_path
from vjax.models.layers.torch_init import torch_bias_init, torch_kernel_init


# ------------------------------------------------------------------ small pieces
def layer_norm(norm_cfg: Mapping[str, Any] | None, name: str, dtype: Any = jnp.float32):
  """mmcv ``build_norm_layer`` for ``type='LN'`` (torch LayerNorm; eps 1e-5 unless set)."""
  cfg = dict(norm_cfg or {"type": "LN"})
  typ = cfg.pop("type", None)
  if typ != "LN":
    raise ValueError(f"transformer norm_cfg type {typ!r} is not supported; use dict(type='LN')")
  eps = cfg.pop("eps", 1e-5)
  if not cfg.pop("requires_grad", True):
    raise ValueError("norm_cfg requires_grad=False is not supported for LayerNorm; freeze the "
                     "parameters with the optimizer instead")
  if cfg:
    raise ValueError(f"unsupported LN norm_cfg keys {sorted(cfg)}")
  return nn.LayerNorm(
      epsilon=eps, use_fast_variance=False, dtype=dtype,
      scale_init=nn.with_logical_partitioning(nn.initializers.ones, ("norm",)),
      bias_init=nn.with_logical_partitioning(nn.initializers.zeros, ("norm",)), name=name)


_DROP_DEFAULTS = {"DropPath": 0.1, "Dropout": 0.5}


def check_dropout_cfg(cfg: Mapping[str, Any] | None) -> None:
  if not cfg:
    return
  extra = set(cfg) - {"type", "drop_prob", "inplace"}
  if cfg.get("type") not in _DROP_DEFAULTS or extra:
    raise ValueError(f"dropout_layer {dict(cfg)} is not supported; use None, "
                     "dict(type='DropPath', drop_prob=p) or dict(type='Dropout', drop_prob=p)")


def residual_dropout(module: nn.Module, cfg: Mapping[str, Any] | None, x, train: bool):
  """mmcv ``build_dropout(cfg)(x)``: ``DropPath`` zeroes whole rows of ``x`` (axis 0, scaled
  by 1/keep), ``Dropout`` single elements; None and eval mode pass ``x`` through."""
  check_dropout_cfg(cfg)
  if not cfg or not train:
    return x
  rate = float(cfg.get("drop_prob", _DROP_DEFAULTS[cfg["type"]]))
  if rate == 0.0:
    return x
  if cfg["type"] == "DropPath":
    return drop_path(module, x, rate, train)
  keep = jax.random.bernoulli(module.make_rng("dropout"), 1.0 - rate, x.shape)
  return jnp.where(keep, x / (1.0 - rate), jnp.zeros_like(x))


def activation(act_cfg: Mapping[str, Any] | None):
  """mmcv ``build_activation_layer`` for the FFN activations: ReLU, or GELU (exact erf)."""
  typ = (act_cfg or {}).get("type")
  if typ == "ReLU":
    return nn.relu
  if typ == "GELU":
    return lambda x: nn.gelu(x, approximate=False)
  raise ValueError(f"FFN act_cfg type {typ!r} is not supported; use 'GELU' or 'ReLU'")


def torch_dense(features: int, fan_in: int, name: str, dtype, axes=("embed", "mlp")):
  """A Dense initialised as torch's ``nn.Linear`` (mmcv's Linear and FFN layers)."""
  return nn.Dense(features, dtype=dtype,
                  kernel_init=nn.with_logical_partitioning(torch_kernel_init, axes),
                  bias_init=nn.with_logical_partitioning(torch_bias_init(fan_in), axes[1:]),
                  name=name)


# ------------------------------------------------------------------ attentions
class ResidualMultiheadAttention(nn.Module):
  """mmcv ``MultiheadAttention``: ``identity + dropout_layer(proj_drop(attn(query)))``."""

  embed_dims: int
  num_heads: int
  attn_drop: float = 0.0
  proj_drop: float = 0.0
  dropout_layer: Mapping[str, Any] | None = None
  batch_first: bool = False
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, query, identity=None, train: bool = False):
    identity = query if identity is None else identity
    x = query if self.batch_first else jnp.swapaxes(query, 0, 1)
    out = MultiheadAttention(self.embed_dims, self.num_heads, self.attn_drop, dtype=self.dtype,
                             name="attn")(x, train)
    out = out if self.batch_first else jnp.swapaxes(out, 0, 1)
    out = nn.Dropout(self.proj_drop, deterministic=not train)(out)
    return identity + residual_dropout(self, self.dropout_layer, out, train)


def split_class_token(query, num_frames: int):
  """(B, 1 + P * T, E) -> class token (B, 1, E) and patch tokens (B, P * T, E)."""
  tokens = query[:, 1:]
  if tokens.shape[1] % num_frames:
    raise ValueError(f"{tokens.shape[1]} patch tokens are not a whole number of "
                     f"num_frames={num_frames} frames")
  return query[:, :1], tokens


class DividedTemporalAttentionWithNorm(nn.Module):
  """Attention across the frames of each patch, with its own pre-norm and ``temporal_fc``.

  Input (B, 1 + P * T, E), tokens after the class token in (patch, frame) order; the class
  token passes through unchanged. ``temporal_fc`` starts at zero, so a fresh layer is the
  identity (ViT weights can be loaded into the spatial part).
  """

  embed_dims: int
  num_heads: int
  num_frames: int
  attn_drop: float = 0.0
  proj_drop: float = 0.0
  dropout_layer: Mapping[str, Any] | None = None
  norm_cfg: Mapping[str, Any] | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, query, identity=None, train: bool = False):
    cls_token, tokens = split_class_token(query, self.num_frames)
    b, pt, m = tokens.shape
    t = self.num_frames
    x = layer_norm(self.norm_cfg, "norm", self.dtype)(tokens.reshape(b * pt // t, t, m))
    res = MultiheadAttention(self.embed_dims, self.num_heads, self.attn_drop, dtype=self.dtype,
                             name="attn")(x, train)
    res = nn.Dropout(self.proj_drop, deterministic=not train)(res)
    res = residual_dropout(self, self.dropout_layer, res, train)
    zeros = nn.initializers.zeros
    res = nn.Dense(m, dtype=self.dtype,
                   kernel_init=nn.with_logical_partitioning(zeros, ("heads", "embed")),
                   bias_init=nn.with_logical_partitioning(zeros, ("embed",)),
                   name="temporal_fc")(res)
    return jnp.concatenate([cls_token, tokens + res.reshape(b, pt, m)], axis=1)


class DividedSpatialAttentionWithNorm(nn.Module):
  """Attention across the patches of each frame, the class token joining every frame.

  The class token's per-frame results are averaged back into one token.
  """

  embed_dims: int
  num_heads: int
  num_frames: int
  attn_drop: float = 0.0
  proj_drop: float = 0.0
  dropout_layer: Mapping[str, Any] | None = None
  norm_cfg: Mapping[str, Any] | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, query, identity=None, train: bool = False):
    cls_token, tokens = split_class_token(query, self.num_frames)
    b, pt, m = tokens.shape
    t = self.num_frames
    p = pt // t
    frames = tokens.reshape(b, p, t, m).transpose(0, 2, 1, 3).reshape(b * t, p, m)
    cls_frames = jnp.broadcast_to(cls_token[:, None], (b, t, 1, m)).reshape(b * t, 1, m)
    x = layer_norm(self.norm_cfg, "norm", self.dtype)(
        jnp.concatenate([cls_frames, frames], axis=1))
    res = MultiheadAttention(self.embed_dims, self.num_heads, self.attn_drop, dtype=self.dtype,
                             name="attn")(x, train)
    res = nn.Dropout(self.proj_drop, deterministic=not train)(res)
    res = residual_dropout(self, self.dropout_layer, res, train)
    cls_res = res[:, 0].reshape(b, t, m).mean(axis=1, keepdims=True)
    patch_res = res[:, 1:].reshape(b, t, p, m).transpose(0, 2, 1, 3).reshape(b, pt, m)
    return query + jnp.concatenate([cls_res, patch_res], axis=1)


# mmcv type -> (module, defaults of the arguments the config may leave out).
ATTENTIONS = {
    "MultiheadAttention": (ResidualMultiheadAttention,
                           dict(dropout_layer=dict(type="Dropout", drop_prob=0.0))),
    "DividedTemporalAttentionWithNorm": (DividedTemporalAttentionWithNorm,
                                         dict(dropout_layer=dict(type="DropPath",
                                                                 drop_prob=0.1))),
    "DividedSpatialAttentionWithNorm": (DividedSpatialAttentionWithNorm,
                                        dict(dropout_layer=dict(type="DropPath",
                                                                drop_prob=0.1))),
}


# ------------------------------------------------------------------ feed-forward
class FFN(nn.Module):
  """mmcv ``FFN`` (``num_fcs`` Linears, activation and ``ffn_drop`` between them) plus the
  residual; with ``norm_cfg`` it is MMAction2's ``FFNWithNorm``, which normalises its input
  first and adds the un-normalised input back."""

  embed_dims: int = 256
  feedforward_channels: int = 1024
  num_fcs: int = 2
  act_cfg: Mapping[str, Any] | None = None  # None: mmcv's default ReLU
  ffn_drop: float = 0.0
  dropout_layer: Mapping[str, Any] | None = None
  add_identity: bool = True
  norm_cfg: Mapping[str, Any] | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, identity=None, train: bool = False):
    if self.num_fcs < 2:
      raise ValueError(f"FFN num_fcs must be at least 2, got {self.num_fcs}")
    act = activation(self.act_cfg or {"type": "ReLU"})
    out = x if self.norm_cfg is None else layer_norm(self.norm_cfg, "norm", self.dtype)(x)
    fan_in = self.embed_dims
    for i in range(self.num_fcs - 1):
      out = torch_dense(self.feedforward_channels, fan_in, f"layers_{i}_0", self.dtype)(out)
      out = constrain(out, (None,) * (out.ndim - 1) + ("mlp",))  # tensor-parallel hidden
      out = nn.Dropout(self.ffn_drop, deterministic=not train)(act(out))
      fan_in = self.feedforward_channels
    out = torch_dense(self.embed_dims, fan_in, f"layers_{self.num_fcs - 1}", self.dtype,
                      ("mlp", "embed"))(out)
    out = residual_dropout(self, self.dropout_layer,
                           nn.Dropout(self.ffn_drop, deterministic=not train)(out), train)
    if not self.add_identity:
      return out
    return (x if identity is None else identity) + out


FFNS = {"FFN": (FFN, {}), "FFNWithNorm": (FFN, dict(norm_cfg=dict(type="LN")))}

# Config keys mmcv accepts that change nothing here (initialisation is vjax's own).
_IGNORED = ("init_cfg",)


def _module_kwargs(kind: str, registry: Mapping, cfg: Mapping[str, Any]):
  """(module class, kwargs) for an mmcv attention/FFN config, its defaults filled in."""
  cfg = dict(cfg)
  typ = cfg.pop("type", None)
  if typ not in registry:
    raise ValueError(f"{kind} type {typ!r} is not supported; use one of {sorted(registry)}")
  cls, defaults = registry[typ]
  for key in _IGNORED:
    cfg.pop(key, None)
  if typ == "FFN":
    cfg.pop("norm_cfg", None)  # mmcv's FFN swallows unknown keyword arguments
  if kind == "ffn":  # mmcv's deprecated FFN spellings
    for old, new in (("dropout", "ffn_drop"), ("add_residual", "add_identity")):
      if old in cfg:
        cfg[new] = cfg.pop(old)
  elif typ == "MultiheadAttention" and "dropout" in cfg:  # deprecated: both its dropouts
    p = cfg.pop("dropout")
    cfg["attn_drop"] = p
    cfg["dropout_layer"] = dict(cfg.get("dropout_layer") or defaults["dropout_layer"],
                                drop_prob=p)
  fields = {f.name for f in dataclasses.fields(cls)} - {"parent", "name", "dtype"}
  unknown = set(cfg) - fields
  if unknown:
    raise ValueError(f"{typ} does not take {sorted(unknown)}; it takes {sorted(fields)}")
  return cls, {**defaults, **cfg}


# ------------------------------------------------------------------ layers
class BaseTransformerLayer(nn.Module):
  """mmcv ``BaseTransformerLayer``: runs ``operation_order`` over its attentions, FFNs and
  norms. A leading 'norm' makes it pre-norm: each attention/FFN then adds the identity saved
  before its norm; otherwise the modules add their own input (MMAction2's divided
  attentions and FFNWithNorm work only this way)."""

  attn_cfgs: Any = None
  ffn_cfgs: Any = None  # None: mmcv's default FFN(256, 1024, ReLU)
  operation_order: Sequence[str] | None = None
  norm_cfg: Mapping[str, Any] | None = None  # None: dict(type='LN')
  batch_first: bool = False
  init_cfg: Any = None  # accepted for configs; initialisation is vjax's
  dtype: Any = jnp.float32

  @nn.nowrap
  def plan(self):
    """[(op, module class or None, kwargs, name)] in ``operation_order``, validated as mmcv."""
    order = tuple(self.operation_order or ())
    if not order or not set(order) <= {"self_attn", "norm", "ffn", "cross_attn"}:
      raise ValueError(f"operation_order {order} must be a sequence of 'self_attn', 'norm' "
                       "and 'ffn'")
    if "cross_attn" in order:
      raise ValueError("cross_attn layers need a key and value; TimeSformer's encoder has none")
    pre_norm = order[0] == "norm"
    n_attn, n_ffn = order.count("self_attn"), order.count("ffn")
    attn_cfgs = self.attn_cfgs
    if isinstance(attn_cfgs, Mapping):
      attn_cfgs = [attn_cfgs] * n_attn
    if attn_cfgs is None or len(attn_cfgs) != n_attn:
      raise ValueError(f"{n_attn} attentions in operation_order {order} but attn_cfgs has "
                       f"{0 if attn_cfgs is None else len(attn_cfgs)}")
    ffn_cfgs = self.ffn_cfgs
    if ffn_cfgs is None:
      ffn_cfgs = dict(type="FFN", embed_dims=256, feedforward_channels=1024, num_fcs=2,
                      ffn_drop=0.0, act_cfg=dict(type="ReLU", inplace=True))
    if isinstance(ffn_cfgs, Mapping):
      ffn_cfgs = [ffn_cfgs] * n_ffn
    if len(ffn_cfgs) != n_ffn:
      raise ValueError(f"{n_ffn} FFNs in operation_order {order} but ffn_cfgs has "
                       f"{len(ffn_cfgs)}")
    attns = []
    for i, cfg in enumerate(attn_cfgs):
      cls, kw = _module_kwargs("attention", ATTENTIONS, cfg)
      batch_first = kw.pop("batch_first", self.batch_first)
      if batch_first != self.batch_first:
        raise ValueError(f"attention batch_first={batch_first} differs from the layer's "
                         f"batch_first={self.batch_first}")
      if cls is ResidualMultiheadAttention:
        kw["batch_first"] = batch_first
      elif batch_first:
        raise ValueError(f"{cfg['type']} reshapes (B, N, E) tokens itself; batch_first=True "
                         "would make its attention run across the wrong axis")
      if pre_norm and cls is not ResidualMultiheadAttention:
        raise ValueError(f"{cfg['type']} adds its own residual and cannot run in a pre-norm "
                         "layer (operation_order starting with 'norm')")
      attns.append((cls, kw, f"attentions_{i}"))
    embed_dims = attns[0][1]["embed_dims"]
    ffns = []
    for i, cfg in enumerate(ffn_cfgs):
      cls, kw = _module_kwargs("ffn", FFNS, dict(dict(type="FFN"), **cfg))
      kw.setdefault("embed_dims", embed_dims)
      if kw["embed_dims"] != embed_dims:
        raise ValueError(f"ffn embed_dims={kw['embed_dims']} differs from the attention's "
                         f"{embed_dims}")
      if pre_norm and kw.get("norm_cfg") is not None:
        raise ValueError("FFNWithNorm adds its own residual and cannot run in a pre-norm layer")
      ffns.append((cls, kw, f"ffns_{i}"))
    steps, counts = [], {"self_attn": 0, "ffn": 0, "norm": 0}
    for op in order:
      k = counts[op]
      counts[op] += 1
      if op == "self_attn":
        steps.append((op,) + attns[k])
      elif op == "ffn":
        steps.append((op,) + ffns[k])
      else:
        steps.append((op, None, {}, f"norms_{k}"))
    return pre_norm, steps

  @nn.compact
  def __call__(self, query, train: bool = False):
    pre_norm, steps = self.plan()
    identity = query
    for op, cls, kw, name in steps:
      if op == "norm":
        query = layer_norm(self.norm_cfg, name, self.dtype)(query)
        continue
      query = cls(**kw, dtype=self.dtype, name=name)(query, identity if pre_norm else None,
                                                     train=train)
      if op == "self_attn":
        identity = query
    return query


class TransformerLayerSequence(nn.Module):
  """mmcv ``TransformerLayerSequence``: ``num_layers`` layers named ``layers_{i}``; one
  layer config is repeated, a list gives one per layer."""

  transformerlayers: Any = None
  num_layers: int | None = None
  init_cfg: Any = None  # accepted for configs
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    cfgs = self.transformerlayers
    if isinstance(cfgs, Mapping):
      cfgs = [cfgs] * (self.num_layers or 0)
    if not cfgs or len(cfgs) != self.num_layers:
      raise ValueError(f"transformerlayers must be one layer config or a list of num_layers="
                       f"{self.num_layers} configs")
    fields = {f.name for f in dataclasses.fields(BaseTransformerLayer)} - {"parent", "name",
                                                                           "dtype"}
    for i, cfg in enumerate(cfgs):
      cfg = dict(cfg)
      typ = cfg.pop("type", "BaseTransformerLayer")
      if typ != "BaseTransformerLayer":
        raise ValueError(f"transformer layer type {typ!r} is not supported; use "
                         "'BaseTransformerLayer'")
      if set(cfg) - fields:
        raise ValueError(f"BaseTransformerLayer does not take {sorted(set(cfg) - fields)}; it "
                         f"takes {sorted(fields)}")
      x = BaseTransformerLayer(**cfg, dtype=self.dtype, name=f"layers_{i}")(x, train)
    return x


def build_transformer_layer_sequence(cfg: Mapping[str, Any], name: str,
                                     dtype: Any = jnp.float32) -> TransformerLayerSequence:
  """mmcv ``build_transformer_layer_sequence`` for ``type='TransformerLayerSequence'``."""
  cfg = dict(cfg)
  typ = cfg.pop("type", None)
  if typ != "TransformerLayerSequence":
    raise ValueError(f"transformer_layers type {typ!r} is not supported; use "
                     "'TransformerLayerSequence'")
  return TransformerLayerSequence(**cfg, dtype=dtype, name=name)
