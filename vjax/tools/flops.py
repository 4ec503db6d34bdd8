"""FLOPs and parameter count of a config's recognizer (MMAction2's tools/analysis/get_flops.py).

    python -m vjax.tools.flops --config=configs/slowfast_k400.py[:arg] [--shape 1,3,32,224,224] \
        [--config.model.backbone.resample_rate=4]

``--config`` is a vjax config (``path.py[:arg]``) or an MMAction2 config .py (converted on the
fly, as ``init_recognizer`` accepts it); ``--config.a.b=value`` overrides a field. ``--shape``
is MMAction2's ``--shape`` (channels first, commas or spaces) with its defaults: 2D recognizers
``(1, 3, 340, 256)``, one frame (a backbone that mixes ``num_segments`` frames, TSM/TIN/TANet,
gets ``num_segments`` of them: MMAction2's one-frame default fails there); 3D recognizers
``(1, 3, 32, 340, 256)``, N clips x C x T x H x W; audio recognizers, which MMAction2's tool
rejects, ``(1, 1, 128, 80)``, N x C x T x F (``AudioFeatureSelector``'s 128 frames of 80 mel
bins). As there, the whole shape is one video (the frames of a 2D shape are its segments) and
the forward is ``forward_dummy``'s: per-view scores, no ``test_cfg`` chunking or fcn test.

FLOPs come from XLA's cost analysis of the compiled eval forward (1 multiply-add = 2 FLOPs);
MACs = FLOPs / 2 is the figure to hold against MMAction2, whose ``Flops`` (mmcv's
``get_model_complexity_info``) and model-zoo "GFLOPs" count multiply-adds. The two counters
disagree by a few percent: XLA skips multiply-adds on zero padding and counts every element-wise
op (BN, ReLU, residual adds) once per element; mmcv counts every kernel tap and adds one per
element for BN, activations and pooling only. Params are the trainable parameters (mmcv's
count), without batch-norm statistics. Nothing is computed: the model is traced and compiled
from shapes alone.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from vjax.convert.mmaction2_config import load_any_config
from vjax.models import MODELS, build_model
from vjax.registry import to_dict
from vjax.tools.eval_metric import apply_cfg_options, split_pairs

KINDS = {"Recognizer2D": "2d", "Recognizer3D": "3d", "AudioRecognizer": "audio"}
DEFAULT_SHAPES = {"2d": (1, 3, 340, 256), "3d": (1, 3, 32, 340, 256), "audio": (1, 1, 128, 80)}
# The MMAction2 shape each kind takes and the vjax input it becomes (a batch of one video).
_LAYOUTS = {"2d": ("S, C, H, W", "(1, S, H, W, C)"), "3d": ("N, C, T, H, W", "(1, N, T, H, W, C)"),
            "audio": ("N, C, T, F", "(1, N, T, F, C)")}


@dataclasses.dataclass
class Complexity:
  model_type: str
  mmaction2_shape: tuple[int, ...]  # MMAction2's input_shape (channels first)
  input_shape: tuple[int, ...]  # the vjax model input it corresponds to (channels last)
  flops: float  # XLA's count; MACs = flops / 2
  params: int

  @property
  def macs(self) -> float:
    return self.flops / 2


def count_params(params) -> int:
  """Number of scalars in a parameter tree (arrays or ShapeDtypeStructs)."""
  return int(sum(math.prod(x.shape) for x in jax.tree.leaves(params)))


def xla_flops(fn: Callable[..., Any], *args) -> float:
  """FLOPs XLA's cost analysis assigns to the compiled ``jax.jit(fn)(*args)``.

  ``args`` may be ShapeDtypeStructs: only compilation happens.
  """
  cost = jax.jit(fn).lower(*args).compile().cost_analysis()
  if not cost or "flops" not in cost:
    raise RuntimeError(f"XLA's cost analysis on {jax.default_backend()} reported no flops: {cost}")
  return float(cost["flops"])


def parse_shape(values: Sequence[str] | None) -> tuple[int, ...] | None:
  """``['1,3,32,224,224']`` or ``['1', '3', ...]`` -> a tuple of ints."""
  if not values:
    return None
  parts = [p for v in values for p in v.replace(",", " ").split()]
  try:
    shape = tuple(int(p) for p in parts)
  except ValueError:
    raise ValueError(f"--shape takes integers, e.g. 1,3,32,224,224; got {' '.join(values)!r}")
  if not shape or any(s < 1 for s in shape):
    raise ValueError(f"--shape sizes must be positive, got {shape}")
  return shape


def input_shapes(kind: str, shape: tuple[int, ...] | None = None,
                 num_segments: int | None = None) -> tuple[tuple[int, ...], tuple[int, ...]]:
  """(MMAction2 input_shape, vjax model input shape) for a recognizer kind ('2d', '3d', 'audio').

  As in get_flops.py, one value is a square image and two are (H, W), with the default's
  count and channels (``num_segments`` frames for 2D backbones that mix that many); otherwise
  the shape is the kind's full layout.
  """
  default = DEFAULT_SHAPES[kind]
  lead = (num_segments, default[1]) if kind == "2d" and num_segments else default[:2]
  if shape is None:
    shape = lead + default[2:]
  elif len(shape) in (1, 2) and kind != "3d":
    shape = lead + (shape * 2 if len(shape) == 1 else shape)
  layout = _LAYOUTS[kind][0]
  if len(shape) != len(default):
    raise ValueError(f"a {kind.upper()} recognizer takes --shape {layout.replace(' ', '')} "
                     f"(MMAction2's channels-first layout, e.g. {','.join(map(str, default))}), "
                     f"got {','.join(map(str, shape))}")
  views, channels, rest = shape[0], shape[1], shape[2:]
  if kind == "2d" and num_segments and views % num_segments:
    raise ValueError(f"this backbone mixes frames in groups of num_segments={num_segments}; "
                     f"--shape needs a frame count (first value) that is a multiple of it, "
                     f"e.g. {num_segments},{','.join(map(str, shape[1:]))}")
  return shape, (1, views) + rest + (channels,)


def _num_segments(backbone_cfg) -> int | None:
  return getattr(MODELS.build(backbone_cfg), "num_segments", None)  # unbound: config only


def complexity(config, shape: tuple[int, ...] | None = None) -> Complexity:
  """FLOPs and parameters of ``config.model``'s eval forward on one video of ``shape``."""
  model_cfg = dict(to_dict(config.model))
  kind = KINDS.get(model_cfg.get("type"))
  if kind is None:
    raise ValueError(f"flops supports {', '.join(KINDS)}; this config's model is "
                     f"{model_cfg.get('type')!r}")
  model_cfg["test_cfg"] = None  # forward_dummy: no view chunking, no fcn test
  segments = _num_segments(model_cfg["backbone"]) if kind == "2d" else None
  mm_shape, in_shape = input_shapes(kind, shape, segments)
  model = build_model(model_cfg)
  x = jax.ShapeDtypeStruct(in_shape, jnp.float32)

  def init(inputs):
    key = jax.random.key(0)
    return model.init({"params": key, "dropout": key}, inputs, train=False)

  variables = nn.unbox(jax.eval_shape(init, x))
  flops = xla_flops(lambda v, imgs: model.apply(v, imgs, train=False), variables, x)
  return Complexity(model_type=model_cfg["type"], mmaction2_shape=mm_shape, input_shape=in_shape,
                    flops=flops, params=count_params(variables["params"]))


def format_report(c: Complexity, source: str = "") -> str:
  layout = _LAYOUTS[KINDS[c.model_type]]
  return "\n".join([
      "=" * 30,
      f"Config: {source} ({c.model_type})" if source else f"Model: {c.model_type}",
      f"Input shape: {c.mmaction2_shape} (MMAction2 get_flops, {layout[0]}) = vjax input "
      f"{c.input_shape} {layout[1]}",
      f"FLOPs: {c.flops / 1e9:.3f} G  (XLA cost analysis of the jitted eval forward; "
      "1 multiply-add = 2 FLOPs)",
      f"MACs: {c.macs / 1e9:.3f} G  (FLOPs / 2: compare with MMAction2 get_flops' \"Flops\" and "
      "its model-zoo GFLOPs, which count multiply-adds)",
      f"Params: {c.params / 1e6:.3f} M ({c.params} trainable parameters, BN statistics not "
      "counted)",
      "=" * 30,
  ])


def main(argv: Sequence[str] | None = None) -> Complexity:
  parser = argparse.ArgumentParser(
      prog="python -m vjax.tools.flops", allow_abbrev=False,
      description="FLOPs (XLA) and MACs (FLOPs / 2, MMAction2's unit) and parameters of a "
      "config's recognizer; any --config.a.b=value overrides that config field.")
  parser.add_argument("--config", required=True,
                      help="vjax config path.py[:arg], or an MMAction2 config .py")
  parser.add_argument("--shape", nargs="+",
                      help="MMAction2's input shape, channels first: 2D S,C,H,W (or H or H,W), "
                      "3D N,C,T,H,W, audio N,C,T,F; default: MMAction2's get_flops default")
  args, rest = parser.parse_known_args(argv)
  unknown = [a for a in rest if not a.startswith("--config.")]
  if unknown:
    parser.error(f"unrecognized arguments: {' '.join(unknown)}")
  try:
    config = load_any_config(args.config)
    pairs = split_pairs([a[len("--config."):] for a in rest], "--config.KEY=VALUE")
    apply_cfg_options(config, pairs)
    result = complexity(config, parse_shape(args.shape))
  except (ValueError, KeyError, TypeError, FileNotFoundError) as e:
    sys.exit(f"error: {e.args[0] if isinstance(e, KeyError) and e.args else e}")
  print(format_report(result, args.config))
  return result


if __name__ == "__main__":
  main()
