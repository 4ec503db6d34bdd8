"""ST-GCN++ (Duan et al. 2022, pyskl), MMAction2 1.x's ``STGCN`` backbone, channels-last.

MMAction2 1.x replaced 0.24's ST-GCN by pyskl's configurable one; its ST-GCN++ configs set
``gcn_adaptive='init'`` (the adjacency is a parameter initialised from the graph),
``gcn_with_res=True`` (a residual around the graph convolution) and ``tcn_type='mstcn'`` (six
parallel temporal branches instead of one 9x1 convolution). vjax keeps 0.24's ``STGCN`` under
that name, so this one registers as ``STGCNPlusPlus`` with 1.x's arguments, and ST-GCN++'s
block options as defaults.

Input (N, M, T, V, C) as ``stgcn.STGCN``; output (N * M, T', V, C') rows in (clip, person)
order for ``GCNHead`` or ``STGCNHead`` (1.x returns (N, M, C', T', V)). Module names are 1.x's
(``gcn_4/tcn/branches_0_3/conv`` for ``gcn.4.tcn.branches.0.3.conv``), so its state dicts
import by name. The graph is 1.x's ``Graph(layout, mode, max_hop)``, which differs from
0.24's (other layout names and bones; 'spatial' is identity / inward / outward), so it is
computed here (``graph_v1``).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Mapping, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from vjax.models.backbones.stgcn import TemporalConv, batch_norm, data_norm, person_rows
from vjax.models.builder import MODELS
from vjax.models.layers.conv import Conv
from vjax.models.layers.conv_module import kaiming_fan_out
from vjax.models.layers.torch_init import torch_bias_init, torch_kernel_init
from vjax.models.skeleton.graph import hop_distance, links_matrix, normalize_digraph

# MMAction2 1.x's layouts: (num_node, inward (child, parent) pairs 0-based, center).
LAYOUTS_V1 = {
    "openpose": (18, ((4, 3), (3, 2), (7, 6), (6, 5), (13, 12), (12, 11), (10, 9), (9, 8),
                      (11, 5), (8, 2), (5, 1), (2, 1), (0, 1), (15, 0), (14, 0), (17, 15),
                      (16, 14)), 1),
    "nturgb+d": (25, tuple((i - 1, j - 1) for i, j in (
        (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9),
        (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17),
        (19, 18), (20, 19), (22, 8), (23, 8), (24, 12), (25, 12))), 20),
    "coco": (17, ((15, 13), (13, 11), (16, 14), (14, 12), (11, 5), (12, 6), (9, 7), (7, 5),
                  (10, 8), (8, 6), (5, 0), (6, 0), (1, 0), (3, 1), (2, 0), (4, 2)), 0),
}
MODES_V1 = ("spatial", "stgcn_spatial", "binary_adj")
MS_CFG = ((3, 1), (3, 2), (3, 3), (3, 4), ("max", 3), "1x1")
EPS = 1e-4


@functools.lru_cache(maxsize=None)
def _graph_v1(num_node: int, inward: tuple, center: int, mode: str, max_hop: int) -> np.ndarray:
  self_link = [(i, i) for i in range(num_node)]
  outward = [(j, i) for i, j in inward]
  if mode == "spatial":
    a = np.stack((links_matrix(self_link, num_node),
                  normalize_digraph(links_matrix(inward, num_node)),
                  normalize_digraph(links_matrix(outward, num_node))))
  elif mode == "binary_adj":
    a = links_matrix(list(inward) + outward, num_node)[None]
  else:  # 'stgcn_spatial': per hop, neighbours no closer to the centre / closer
    hop = hop_distance(num_node, self_link + list(inward), max_hop)
    norm = normalize_digraph((hop <= max_hop).astype(float))
    to_center = hop[:, center]
    no_closer = to_center[:, None] >= to_center[None, :]  # [j, i]: j at least as far as i
    parts = []
    for h in range(max_hop + 1):
      at_hop = hop == h
      parts.append(np.where(at_hop & no_closer, norm, 0.0))
      if h > 0:
        parts.append(np.where(at_hop & ~no_closer, norm, 0.0))
    a = np.stack(parts)
  a.setflags(write=False)
  return a


def graph_v1(graph_cfg: Mapping[str, Any]) -> np.ndarray:
  """MMAction2 1.x's ``Graph(**graph_cfg).A`` (K, V, V) float64: ``layout`` 'coco',
  'openpose', 'nturgb+d' or a dict (num_node, inward, center); ``mode`` 'spatial',
  'stgcn_spatial' or 'binary_adj'; ``max_hop`` (stgcn_spatial only)."""
  cfg = dict(graph_cfg)
  unknown = sorted(set(cfg) - {"layout", "mode", "max_hop"})
  if unknown:
    raise TypeError(f"graph_cfg keys {unknown} are not MMAction2 1.x Graph arguments (layout, "
                    "mode, max_hop); 0.24's 'strategy' graphs belong to STGCN / AGCN")
  layout, mode = cfg.get("layout", "coco"), cfg.get("mode", "spatial")
  if isinstance(layout, Mapping):
    missing = {"num_node", "inward", "center"} - set(layout)
    if missing:
      raise ValueError(f"a graph_cfg layout dict needs num_node, inward and center; "
                       f"missing {sorted(missing)}")
    spec = (int(layout["num_node"]), tuple(tuple(int(i) for i in e) for e in layout["inward"]),
            int(layout["center"]))
  elif layout in LAYOUTS_V1:
    spec = LAYOUTS_V1[layout]
  else:
    raise ValueError(f"graph layout {layout!r} is not one of MMAction2 1.x's "
                     f"{list(LAYOUTS_V1)} (or a dict)")
  if mode not in MODES_V1:
    raise ValueError(f"graph mode {mode!r} is not one of {list(MODES_V1)}")
  return _graph_v1(*spec, mode, int(cfg.get("max_hop", 1)))


def conv(features: int, kernel_t: int = 1, stride: int = 1, dilation: int = 1, *, name: str,
         kernel_init: Callable[..., Any] = torch_kernel_init, bias_init=None,
         fan_in: int = 0, dtype: Any = jnp.float32):
  """A torch ``Conv2d`` (kernel_t, 1) over (T, V) with bias, 1.x's temporal padding
  ``(k + (k - 1) (d - 1) - 1) // 2``; PyTorch's default initialisation unless given."""
  pad = (kernel_t + (kernel_t - 1) * (dilation - 1) - 1) // 2
  layer = TemporalConv if kernel_t > 1 else Conv
  bias_init = bias_init or torch_bias_init(fan_in)
  return layer(features, (kernel_t, 1), strides=(stride, 1), padding=((pad, pad), (0, 0)),
               kernel_dilation=(dilation, 1), use_bias=True, dtype=dtype,
               kernel_init=nn.with_logical_partitioning(kernel_init,
                                                        (None, None, "conv_in", "conv_out")),
               bias_init=nn.with_logical_partitioning(bias_init, ("conv_out",)), name=name)


def _check_norm_act(norm, act):
  norm_type = norm.get("type") if isinstance(norm, Mapping) else norm
  act_type = act.get("type") if isinstance(act, Mapping) else act
  if norm_type not in ("BN", "BN2d") or act_type != "ReLU":
    raise ValueError(f"STGCNPlusPlus supports norm 'BN' and act 'ReLU', got {norm!r}, {act!r}")


class UnitGCN(nn.Module):
  """1.x's ``unit_gcn``: a 1x1 conv and joint mixing by the K partitions of ``A`` (conv
  before the mixing for ``conv_pos='pre'``, after for 'post'), BN, optional residual, ReLU.
  ``adaptive``: 'init' learns ``A`` itself (from the graph), 'importance' a (K, V, V) scale
  ``PA`` (from ones), 'offset' an additive ``PA`` (from U(+-1e-6)), None keeps the graph."""

  features: int
  adaptive: str | None = "init"
  conv_pos: str = "pre"
  with_res: bool = True
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, graph_a: np.ndarray, train: bool = False):
    c = x.shape[-1]
    k = graph_a.shape[0]
    bn = lambda name: batch_norm(train, self.norm_groups, self.dtype, name)  # noqa: E731
    res = 0.0
    if self.with_res:
      res = x
      if c != self.features:
        res = bn("down_1")(conv(self.features, name="down_0", fan_in=c, dtype=self.dtype)(x))
    part = nn.with_logical_partitioning
    if self.adaptive == "init":
      a = self.param("A", part(lambda key, shape, dtype: jnp.asarray(graph_a, dtype),
                               (None, None, None)), graph_a.shape, jnp.float32)
    else:
      a = jnp.asarray(graph_a, jnp.float32)
      if self.adaptive == "importance":
        a = a * self.param("PA", part(nn.initializers.ones, (None, None, None)), a.shape,
                           jnp.float32)
      elif self.adaptive == "offset":
        pa_init = lambda key, shape, dtype: jax.random.uniform(key, shape, dtype, -1e-6, 1e-6)  # noqa: E731
        a = a + self.param("PA", part(pa_init, (None, None, None)), a.shape, jnp.float32)
      elif self.adaptive is not None:
        raise ValueError(f"gcn_adaptive must be None, 'init', 'offset' or 'importance', got "
                         f"{self.adaptive!r}")
    a = a.astype(self.dtype)
    if self.conv_pos == "pre":
      y = conv(self.features * k, name="conv", fan_in=c, dtype=self.dtype)(x)
      y = y.reshape(y.shape[:-1] + (k, self.features))  # torch's (K, C) channel order
      y = jnp.einsum("ntvkc,kvw->ntwc", y, a)
    elif self.conv_pos == "post":
      y = jnp.einsum("ntvc,kvw->ntwkc", x.astype(self.dtype), a)
      y = y.reshape(y.shape[:-2] + (k * c,))
      y = conv(self.features, name="conv", fan_in=k * c, dtype=self.dtype)(y)
    else:
      raise ValueError(f"gcn_conv_pos must be 'pre' or 'post', got {self.conv_pos!r}")
    return nn.relu(bn("bn")(y) + res)


class UnitTCN(nn.Module):
  """1.x's ``unit_tcn``: a (k, 1) conv (stride, dilation; Kaiming fan-out, as its init_cfg),
  BN unless ``norm`` is None, dropout."""

  features: int
  kernel_size: int = 9
  stride: int = 1
  dilation: int = 1
  norm: str | None = "BN"
  dropout: float = 0.0
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    y = conv(self.features, self.kernel_size, self.stride, self.dilation, name="conv",
             kernel_init=kaiming_fan_out, bias_init=nn.initializers.zeros, dtype=self.dtype)(x)
    if self.norm is not None:
      y = batch_norm(train, self.norm_groups, self.dtype, "bn")(y)
    if self.dropout:
      y = nn.Dropout(self.dropout, deterministic=not train)(y)
    return y


def mstcn_widths(features: int, num_branches: int, mid_channels: float | None):
  """(first branch, other branches) widths of ``mstcn``: an even split whose remainder goes
  to the first branch, or ``int(features * mid_channels)`` each."""
  if mid_channels is None:
    mid = features // num_branches
    return features - mid * (num_branches - 1), mid
  if not isinstance(mid_channels, float) or mid_channels <= 0:
    raise ValueError(f"tcn_mid_channels must be a positive float ratio, got {mid_channels!r}")
  mid = int(features * mid_channels)
  return mid, mid


class MSTCN(nn.Module):
  """1.x's ``mstcn``: parallel branches (``ms_cfg``: ``(k, d)`` = 1x1 conv, BN, ReLU, k x 1
  conv of dilation d; ``('max', k)`` = 1x1 conv, BN, ReLU, k x 1 max-pool; '1x1' = a strided
  1x1 conv), concatenated, then BN, ReLU, 1x1 conv (``transform``), BN, dropout."""

  features: int
  stride: int = 1
  mid_channels: float | None = None
  dropout: float = 0.0
  ms_cfg: Sequence[Any] = MS_CFG
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    c = x.shape[-1]
    bn = lambda name: batch_norm(train, self.norm_groups, self.dtype, name)  # noqa: E731
    first, mid = mstcn_widths(self.features, len(self.ms_cfg), self.mid_channels)
    outs = []
    for i, cfg in enumerate(self.ms_cfg):
      width = first if i == 0 else mid
      cfg = tuple(cfg) if isinstance(cfg, (list, tuple)) else cfg
      if cfg == "1x1":
        outs.append(conv(width, 1, self.stride, name=f"branches_{i}", fan_in=c,
                         dtype=self.dtype)(x))
        continue
      if not (isinstance(cfg, tuple) and len(cfg) == 2):
        raise ValueError(f"tcn_ms_cfg entries are (kernel, dilation), ('max', kernel) or "
                         f"'1x1', got {cfg!r}")
      y = conv(width, name=f"branches_{i}_0", fan_in=c, dtype=self.dtype)(x)
      y = nn.relu(bn(f"branches_{i}_1")(y))
      if cfg[0] == "max":  # torch's MaxPool2d((k, 1), (stride, 1), padding (1, 0))
        y = nn.max_pool(y, (int(cfg[1]), 1), strides=(self.stride, 1),
                        padding=((1, 1), (0, 0)))
      else:
        y = UnitTCN(width, int(cfg[0]), self.stride, int(cfg[1]), norm=None, dtype=self.dtype,
                    name=f"branches_{i}_3")(y, train)
      outs.append(y)
    y = jnp.concatenate(outs, axis=-1)
    y = nn.relu(bn("transform_0")(y))
    y = conv(self.features, name="transform_2", fan_in=y.shape[-1], dtype=self.dtype)(y)
    y = bn("bn")(y)
    if self.dropout:
      y = nn.Dropout(self.dropout, deterministic=not train)(y)
    return y


class STGCNPlusPlusBlock(nn.Module):
  """1.x's ``STGCNBlock``: ReLU(tcn(gcn(x)) + residual(x)); the residual is none, identity,
  or a strided 1x1 ``unit_tcn`` (``residual``)."""

  features: int
  stride: int = 1
  residual: bool = True
  options: Mapping[str, Any] | None = None  # gcn_* / tcn_* keywords
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, graph_a: np.ndarray, train: bool = False):
    opts = dict(self.options or {})
    gcn = {k[4:]: v for k, v in opts.items() if k.startswith("gcn_")}
    tcn = {k[4:]: v for k, v in opts.items() if k.startswith("tcn_")}
    c = x.shape[-1]
    common = dict(norm_groups=self.norm_groups, dtype=self.dtype)
    if not self.residual:
      res = 0.0
    elif c == self.features and self.stride == 1:
      res = x
    else:
      res = UnitTCN(self.features, 1, self.stride, name="residual", **common)(x, train)
    _check_norm_act(gcn.pop("norm", "BN"), gcn.pop("act", "ReLU"))
    y = UnitGCN(self.features, adaptive=gcn.pop("adaptive", "importance"),
                conv_pos=gcn.pop("conv_pos", "pre"), with_res=gcn.pop("with_res", False),
                name="gcn", **common)(x, graph_a, train)
    tcn_type = tcn.pop("type", "unit_tcn")
    if gcn:
      raise TypeError(f"unknown gcn_ options {sorted(gcn)}")
    if tcn_type == "mstcn":
      y = MSTCN(self.features, self.stride, mid_channels=tcn.pop("mid_channels", None),
                dropout=tcn.pop("dropout", 0.0), ms_cfg=tuple(tcn.pop("ms_cfg", MS_CFG)),
                name="tcn", **common)(y, train)
    elif tcn_type == "unit_tcn":
      y = UnitTCN(self.features, tcn.pop("kernel_size", 9), self.stride,
                  tcn.pop("dilation", 1), tcn.pop("norm", "BN"), tcn.pop("dropout", 0.0),
                  name="tcn", **common)(y, train)
    else:
      raise ValueError(f"tcn_type must be 'unit_tcn' or 'mstcn', got {tcn_type!r}")
    if tcn:
      raise TypeError(f"unknown tcn_ options {sorted(tcn)} for tcn_type {tcn_type!r}")
    return nn.relu(y + res)


def stage_plan(in_channels: int, base_channels: int, ch_ratio: float, num_stages: int,
               inflate_stages: Sequence[int], down_stages: Sequence[int]):
  """(in, out, stride, residual, stage index) per block, as 1.x's STGCN builds them: a first
  block in_channels -> base_channels (no residual) unless they are equal, then stages
  2..num_stages, widened by ``ch_ratio`` at ``inflate_stages``, stride 2 at
  ``down_stages``. The stage index picks the layer-wise option values."""
  plan = []
  if in_channels != base_channels:
    plan.append((in_channels, base_channels, 1, False, 0))
  inflate_times, width = 0, base_channels
  for i in range(2, num_stages + 1):
    if i in inflate_stages:
      inflate_times += 1
    out = int(base_channels * ch_ratio ** inflate_times + EPS)
    plan.append((width, out, 1 + (i in down_stages), True, i - 1))
    width = out
  return plan


@MODELS.register
class STGCNPlusPlus(nn.Module):
  """MMAction2 1.x's ``STGCN`` (pyskl's), defaulting to ST-GCN++'s blocks.

  ``data_bn_type``: 'VC' (BatchNorm over V * C, as 0.24), 'MVC' (over M * V * C: persons
  apart, needs ``num_person``) or anything else for none. The block options are 1.x's
  ``gcn_*`` (adaptive, conv_pos, with_res, norm, act) and ``tcn_*`` (type; ms_cfg,
  mid_channels, dropout for 'mstcn'; kernel_size, dilation, norm, dropout for 'unit_tcn')
  keywords; a list / tuple of ``num_stages`` values gives one per stage (the first block
  never takes ``tcn_dropout``). Only the keywords given are passed, so each block keeps
  1.x's own defaults for the rest (``gcn_adaptive='importance'``, ``tcn_type='unit_tcn'``
  there, which ``gcn_adaptive``, ``gcn_with_res`` and ``tcn_type`` here replace by
  ST-GCN++'s). ``pretrained`` is read at training start by ``vjax.convert.pretrained``.
  x: (N, M, T, V, C) -> (N * M, T', V, base_channels * ch_ratio ** len(inflate_stages)).
  """

  graph_cfg: Mapping[str, Any]
  in_channels: int = 3
  base_channels: int = 64
  data_bn_type: str = "VC"
  ch_ratio: float = 2
  num_person: int = 2
  num_stages: int = 10
  inflate_stages: Sequence[int] = (5, 8)
  down_stages: Sequence[int] = (5, 8)
  gcn_adaptive: Any = "init"
  gcn_with_res: Any = True
  gcn_conv_pos: Any = None
  gcn_norm: Any = None
  gcn_act: Any = None
  tcn_type: Any = "mstcn"
  tcn_ms_cfg: Any = None
  tcn_mid_channels: Any = None
  tcn_dropout: Any = None
  tcn_kernel_size: Any = None
  tcn_dilation: Any = None
  tcn_norm: Any = None
  pretrained: str | None = None
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  def _options(self) -> dict[str, Any]:
    names = ("gcn_adaptive", "gcn_with_res", "gcn_conv_pos", "gcn_norm", "gcn_act", "tcn_type",
             "tcn_ms_cfg", "tcn_mid_channels", "tcn_dropout", "tcn_kernel_size",
             "tcn_dilation", "tcn_norm")
    # None means "not given", except gcn_adaptive=None (1.x's fixed graph) and tcn_norm=None
    # cannot be told apart from that here: pass 'none' for them.
    opts = {n: getattr(self, n) for n in names if getattr(self, n) is not None}
    for n in ("gcn_adaptive", "tcn_norm"):
      if isinstance(opts.get(n), str) and opts[n].lower() == "none":
        opts[n] = None
    return opts

  def stage_options(self) -> list[dict[str, Any]]:
    """Each stage's gcn_/tcn_ keywords (1.x's ``lw_kwargs``)."""
    opts = self._options()
    stages = [dict(opts) for _ in range(self.num_stages)]
    for k, v in opts.items():
      if isinstance(v, (tuple, list)) and len(v) == self.num_stages:
        for i in range(self.num_stages):
          stages[i][k] = v[i]
    stages[0].pop("tcn_dropout", None)
    return stages

  @nn.compact
  def __call__(self, x, train: bool = False):
    a = graph_v1(self.graph_cfg)
    x = person_rows(x, self.in_channels, a.shape[1], "STGCNPlusPlus")
    if self.data_bn_type == "MVC":
      rows, t, v, c = x.shape
      if rows % self.num_person:
        raise ValueError(f"data_bn_type 'MVC' needs {self.num_person} persons (num_person) "
                         f"per clip, got {rows} rows")
      m = self.num_person
      y = x.reshape(rows // m, m, t, v * c).transpose(0, 2, 1, 3).reshape(rows // m, t, -1)
      y = batch_norm(train, self.norm_groups, self.dtype, "data_bn")(y.astype(self.dtype))
      x = y.reshape(rows // m, t, m, v, c).transpose(0, 2, 1, 3, 4).reshape(rows, t, v, c)
    else:
      x = data_norm(x, self.data_bn_type == "VC", train, self.norm_groups, self.dtype)
    stages = self.stage_options()
    plan = stage_plan(self.in_channels, self.base_channels, self.ch_ratio, self.num_stages,
                      tuple(self.inflate_stages), tuple(self.down_stages))
    for i, (_, out, stride, res, stage) in enumerate(plan):
      x = STGCNPlusPlusBlock(out, stride, res, stages[stage], self.norm_groups, self.dtype,
                             name=f"gcn_{i}")(x, a, train)
    return x
