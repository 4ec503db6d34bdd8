"""mmcv's ``conv_cfg`` / ``norm_cfg`` / ``act_cfg`` dicts, read into ConvModule arguments.

MMAction2 backbones take these dicts; vjax supports the types its layers implement and says
so for the rest instead of building something else silently.
"""

from __future__ import annotations

from typing import Any, Mapping

CONV_TYPES = ("Conv", "Conv1d", "Conv2d", "Conv3d")
NORM_TYPES = ("BN", "BN1d", "BN2d", "BN3d", "SyncBN")
ACT_TYPES = {"ReLU": "relu", "ReLU6": "relu6"}


def check_conv_cfg(conv_cfg: Mapping[str, Any] | None) -> None:
  typ = (conv_cfg or {}).get("type", "Conv")
  if typ not in CONV_TYPES:
    raise ValueError(f"conv_cfg type {typ!r} is not supported; use one of {CONV_TYPES}")


def act_name(act_cfg: Mapping[str, Any] | None) -> str | None:
  """ConvModule's ``act`` for an mmcv ``act_cfg`` (None: no activation)."""
  if act_cfg is None:
    return None
  typ = act_cfg.get("type")
  if typ not in ACT_TYPES:
    raise ValueError(f"act_cfg type {typ!r} is not supported; use one of {sorted(ACT_TYPES)}")
  return ACT_TYPES[typ]


def norm_groups_for(norm_cfg: Mapping[str, Any] | None, norm_groups: int | None) -> int | None:
  """BatchNorm statistic groups: SyncBN is global (None), other BNs follow the recognizer."""
  typ = (norm_cfg or {}).get("type", "BN")
  if typ not in NORM_TYPES:
    raise ValueError(f"norm_cfg type {typ!r} is not supported; use one of {NORM_TYPES}")
  return None if typ == "SyncBN" else norm_groups


def norm_trainable(norm_cfg: Mapping[str, Any] | None) -> bool:
  """mmcv's ``norm_cfg.requires_grad``: False keeps the norm layers' scale and bias fixed."""
  return bool((norm_cfg or {}).get("requires_grad", True))
