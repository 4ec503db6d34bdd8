"""SSNHead: MMAction2 0.24.1's classification head of Structured Segment Networks, with its two
structured temporal pyramid poolings (STPP).

Training (``STPPTrain``): each proposal comes as ``sum(num_segments_list)`` frame features
(starting, course and ending stage); the course mean feeds ``activity_fc`` (K + 1 classes,
background first) and the stage pyramid feeds ``completeness_fc`` (K) and ``regressor_fc``
(K x (center, span)).

Testing (``STPPTest``): MMAction2 reorganises the three fc layers into one ``test_fc`` applied
to every sampled frame (tick) of the video, then pools the tick scores over each proposal's
stages. ``test_fc`` here is computed from the same parameters at call time, so a checkpoint
holds only ``activity_fc``, ``completeness_fc`` and ``regressor_fc`` (torch's names).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from vjax.localization.ssn import parse_stage_config
from vjax.models.builder import MODELS

# SSNHead's default consensus in MMAction2. Its keys are not STPPTrain's (MMAction2 would fail
# to build it); they read as stpp_stage and num_segments_list, standalong_classifier is unused.
DEFAULT_CONSENSUS = dict(type="STPPTrain", standalong_classifier=True, stpp_cfg=(1, 1, 1),
                         num_seg=(2, 5, 2))
_ALIASES = {"stpp_cfg": "stpp_stage", "num_seg": "num_segments_list"}


def _stages(stpp_stage) -> tuple[tuple[tuple[int, ...], int], ...]:
  if len(stpp_stage) != 3:
    raise ValueError(f"stpp_stage needs a starting, course and ending stage, got {stpp_stage}")
  return tuple(parse_stage_config(s) for s in stpp_stage)


@dataclasses.dataclass(frozen=True)
class STPPTrain:
  """Training STPP: ``(B, S, C)`` frame features of B proposals (S = sum of
  ``num_segments_list``) -> the course mean (B, C) and the pyramid (B, M x C); each part is
  the mean over its frames divided by its stage's part count, the starting and ending stages
  scaled by the proposal's scale factors."""

  stpp_stage: tuple = (1, (1, 2), 1)
  num_segments_list: tuple = (2, 5, 2)

  @property
  def num_multipliers(self) -> int:
    return sum(m for _, m in _stages(self.stpp_stage))

  def __call__(self, x, scale_factors):
    stages = _stages(self.stpp_stage)
    x0 = self.num_segments_list[0]
    x1 = x0 + self.num_segments_list[1]
    n = x1 + self.num_segments_list[2]
    x = x.reshape((-1, n, x.shape[-1]))
    scale_factors = scale_factors.reshape(-1, 2).astype(x.dtype)
    feats = []
    for (parts, multiplier), stage, scale in zip(
        stages, (x[:, :x0], x[:, x0:x1], x[:, x1:]),
        (scale_factors[:, 0], None, scale_factors[:, 1])):
      length = stage.shape[1]
      for p in parts:
        # torch.arange(0, length + 1e-5, length / p).int(): float32 values, truncated.
        ticks = [int(np.float32(i * (length / p))) for i in range(p + 1)]
        for i in range(p):
          part = stage[:, ticks[i]:ticks[i + 1]].mean(axis=1) / multiplier
          feats.append(part if scale is None else part * scale[:, None])
    return x[:, x0:x1].mean(axis=1), jnp.concatenate(feats, axis=1)


def _part_ticks(left, right, num_parts: int) -> list:
  """``STPPTest``'s part boundaries (``vjax.localization.ssn.part_ticks``) in float32: for
  stages of three or more parts a boundary can differ by one tick from MMAction2's, whose
  arange adds in float64; with one or two parts per stage they are the same."""
  left = left.astype(jnp.float32)
  step = (right.astype(jnp.float32) - left) / num_parts
  return [jnp.floor(left + i * step).astype(jnp.int32) for i in range(num_parts + 1)]


def _range_means(scores, lo, hi, num_ticks):
  """(P, D) means of ``scores`` (T, D) over rows ``[lo, hi)`` clipped to the first
  ``num_ticks``; NaN for an empty range, as torch."""
  lo, hi = jnp.clip(lo, 0, num_ticks), jnp.clip(hi, 0, num_ticks)
  t = jnp.arange(scores.shape[0])
  inside = (t[None] >= lo[:, None]) & (t[None] < hi[:, None])
  total = jnp.dot(inside.astype(scores.dtype), scores, precision=jax.lax.Precision.HIGHEST)
  return total / (hi - lo)[:, None].astype(scores.dtype)


@dataclasses.dataclass(frozen=True)
class STPPTest:
  """Test STPP on one video: the test fc's tick scores (T, D) -> per proposal the activity
  scores (mean over the course ticks) and the completeness / regression scores (each STPP
  part's mean over its ticks, scaled in the starting and ending stages, summed), as
  MMAction2's ``STPPTest`` (``vjax.localization.ssn.stpp_test_scores`` is the host version)."""

  num_classes: int
  use_regression: bool = True
  stpp_stage: tuple = (1, (1, 2), 1)

  @property
  def num_multipliers(self) -> int:
    return sum(m for _, m in _stages(self.stpp_stage))

  @property
  def feat_dim(self) -> int:
    per_part = self.num_classes + (2 * self.num_classes if self.use_regression else 0)
    return self.num_classes + 1 + self.num_multipliers * per_part

  def __call__(self, x, proposal_ticks, scale_factors, num_ticks=None):
    if x.shape[-1] != self.feat_dim:
      raise ValueError(f"STPPTest: test scores have {x.shape[-1]} columns, expected "
                       f"{self.feat_dim}")
    num_ticks = x.shape[0] if num_ticks is None else num_ticks
    ticks = proposal_ticks.astype(jnp.int32)
    scale = scale_factors.astype(x.dtype)
    k = self.num_classes
    act_len = k + 1
    activity = _range_means(x[:, :act_len], ticks[:, 1],
                            jnp.maximum(ticks[:, 1] + 1, ticks[:, 2]), num_ticks)
    stages = [parts for parts, _ in _stages(self.stpp_stage)]
    m = self.num_multipliers

    def pyramid(first: int, score_len: int):
      out = jnp.zeros((ticks.shape[0], score_len), x.dtype)
      offset = 0
      for s, parts in enumerate(stages):
        factor = (scale[:, 0] if s == 0 else scale[:, 1] if s == len(stages) - 1 else
                  jnp.ones_like(scale[:, 0]))
        left = ticks[:, s]
        right = jnp.maximum(ticks[:, s] + 1, ticks[:, s + 1])
        stage_used = (right > 0) & (left < num_ticks)
        for n in parts:
          bounds = _part_ticks(left, right, n)
          for i in range(n):
            lo, hi = bounds[i], bounds[i + 1]
            cols = x[:, first + offset * score_len:first + (offset + 1) * score_len]
            means = _range_means(cols, lo, hi, num_ticks) * factor[:, None]
            out = out + jnp.where((stage_used & (hi - lo >= 1))[:, None], means, 0.0)
            offset += 1
      return out

    completeness = pyramid(act_len, k)
    regression = pyramid(act_len + m * k, 2 * k) if self.use_regression else None
    return activity, completeness, regression


def build_consensus(cfg: Mapping[str, Any] | None, num_classes: int, use_regression: bool):
  """``consensus`` dict -> STPPTrain or STPPTest (MMAction2's type names and arguments)."""
  cfg = dict(DEFAULT_CONSENSUS if cfg is None else cfg)
  kind = cfg.pop("type", None)
  cfg.pop("standalong_classifier", None)
  cfg = {_ALIASES.get(k, k): v for k, v in cfg.items()}
  for key in ("stpp_stage", "num_segments_list"):
    if isinstance(cfg.get(key), list):
      cfg[key] = tuple(tuple(x) if isinstance(x, list) else x for x in cfg[key])
  if kind == "STPPTrain":
    cls = STPPTrain
  elif kind == "STPPTest":
    if cfg.pop("use_regression", use_regression) != use_regression:
      raise ValueError("STPPTest's use_regression must equal SSNHead's: its test fc has "
                       "regression rows exactly when the head regresses")
    cls, cfg = STPPTest, dict(cfg, num_classes=num_classes, use_regression=use_regression)
  else:
    raise KeyError(f"SSNHead consensus type must be 'STPPTrain' or 'STPPTest', got {kind!r}")
  known = {f.name for f in dataclasses.fields(cls)}
  unknown = sorted(set(cfg) - known)
  if unknown:
    raise TypeError(f"{kind} got unexpected arguments {unknown}; it takes {sorted(known)}")
  return cls(**cfg)


class _Linear(nn.Module):
  """torch ``nn.Linear`` (kernel (in, out), bias), with access to its arrays for ``test_fc``;
  initialised as mmcv's ``normal_init(std)`` (zero bias)."""

  in_features: int
  out_features: int
  init_std: float
  dtype: Any = jnp.float32

  def setup(self):
    self.kernel = self.param(
        "kernel", nn.with_logical_partitioning(nn.initializers.normal(self.init_std),
                                               ("embed", "classes")),
        (self.in_features, self.out_features))
    self.bias = self.param("bias", nn.with_logical_partitioning(nn.initializers.zeros,
                                                                ("classes",)),
                           (self.out_features,))

  def weights(self):
    return self.kernel, self.bias

  def __call__(self, x):
    y = jnp.dot(x.astype(self.dtype), self.kernel.astype(self.dtype))
    return (y + self.bias.astype(self.dtype)).astype(jnp.float32)


@MODELS.register
class SSNHead(nn.Module):
  """MMAction2's ``SSNHead`` (same arguments and defaults).

  ``__call__(x, proposal_scale_factor, train)``: training outputs from ``(B, S, C)`` frame
  features of B proposals (needs an ``STPPTrain`` consensus); ``test_fc(x)``: the reorganised
  fc on ``(..., C)`` tick features; ``stpp_test(...)``: the test pooling (the consensus's
  ``stpp_stage``, whichever form it has).
  """

  dropout_ratio: float = 0.8
  in_channels: int = 1024
  num_classes: int = 20
  consensus: Mapping[str, Any] | None = None
  use_regression: bool = True
  init_std: float = 0.001
  dtype: Any = jnp.float32

  def setup(self):
    self.stpp = build_consensus(self.consensus, self.num_classes, self.use_regression)
    m = self.stpp.num_multipliers
    k, c = self.num_classes, self.in_channels
    self.activity_fc = _Linear(c, k + 1, self.init_std, self.dtype)
    self.completeness_fc = _Linear(m * c, k, self.init_std, self.dtype)
    if self.use_regression:
      self.regressor_fc = _Linear(m * c, 2 * k, self.init_std, self.dtype)
    self.dropout = nn.Dropout(self.dropout_ratio)

  def __call__(self, x, proposal_scale_factor, train: bool = False):
    """x (B, S, C) -> activity (B, K + 1), completeness (B, K), bbox_preds (B, K, 2) or None."""
    if not isinstance(self.stpp, STPPTrain):
      raise ValueError("SSNHead with an STPPTest consensus (a test config) cannot train; use "
                       "the train config's STPPTrain")
    activity_feat, completeness_feat = self.stpp(x, proposal_scale_factor)
    if self.dropout_ratio:
      activity_feat = self.dropout(activity_feat, deterministic=not train)
      completeness_feat = self.dropout(completeness_feat, deterministic=not train)
    activity = self.activity_fc(activity_feat)
    completeness = self.completeness_fc(completeness_feat)
    bbox = (self.regressor_fc(completeness_feat).reshape(-1, self.num_classes, 2)
            if self.use_regression else None)
    return activity, completeness, bbox

  def test_fc(self, x):
    """MMAction2's ``prepare_test_fc`` + ``test_fc``: ``(..., C)`` -> ``(..., D)`` columns
    [activity (K + 1) | completeness per part (M x K) | regression per part (M x 2K)], the
    part biases divided by M."""
    m, c = self.stpp.num_multipliers, self.in_channels

    def per_part(fc):
      kernel, bias = fc.weights()
      out = kernel.shape[-1]
      return (kernel.reshape(m, c, out).transpose(1, 0, 2).reshape(c, m * out),
              jnp.tile(bias, m) / m)

    parts = [self.activity_fc.weights(), per_part(self.completeness_fc)]
    if self.use_regression:
      parts.append(per_part(self.regressor_fc))
    kernel = jnp.concatenate([k for k, _ in parts], axis=1)
    bias = jnp.concatenate([b for _, b in parts])
    y = jnp.dot(x.astype(self.dtype), kernel.astype(self.dtype))
    return (y + bias.astype(self.dtype)).astype(jnp.float32)



def test_pooling(head_cfg: Mapping[str, Any]) -> STPPTest:
  """The STPPTest of an SSNHead config's stages (its consensus in either form), with
  MMAction2's defaults for what the config leaves out."""
  num_classes = head_cfg.get("num_classes", 20)
  use_regression = head_cfg.get("use_regression", True)
  stpp = build_consensus(head_cfg.get("consensus"), num_classes, use_regression)
  return STPPTest(num_classes, use_regression, stpp.stpp_stage)
