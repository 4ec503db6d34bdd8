"""flops: parameter counts and conv FLOPs match hand formulas; the CLI reads all config forms."""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import ml_collections
import pytest

from tests.models import tiny
from vjax.models.layers.conv_module import ConvModule
from vjax.tools import flops

_VJAX_CONFIG = '''
from vjax.config import default_config
from tests.models import tiny

def get_config(arg=""):
  if arg:
    raise ValueError(f"unknown config argument {arg!r}; use ''")
  c = default_config()
  c.model = tiny.tsn()
  return c
'''
_MMACTION2_CONFIG = '''
model = dict(
    type="Recognizer2D",
    backbone=dict(type="ResNet", depth=18, base_channels=8, pretrained="torchvision://resnet18"),
    cls_head=dict(type="TSNHead", num_classes=7, in_channels=64, dropout_ratio=0.4),
    test_cfg=dict(average_clips=None))
'''


def resnet18_tsn_params(c: int, num_classes: int, in_channels: int = 3) -> int:
  """ResNet-18 (BasicBlock, base width c) + a linear head, by formula: convs have no bias,
  every BN has a scale and a bias."""
  total = 7 * 7 * in_channels * c + 2 * c  # stem conv + bn
  inplanes = c
  for i in range(4):
    p = c * 2**i
    for b in range(2):
      cin = inplanes if b == 0 else p
      total += 9 * cin * p + 2 * p + 9 * p * p + 2 * p
      if b == 0 and (i > 0 or cin != p):  # stride-2 stages downsample with a 1x1 conv + bn
        total += cin * p + 2 * p
    inplanes = p
  return total + 8 * c * num_classes + num_classes


def test_param_count_matches_formula():
  cfg = ml_collections.ConfigDict(dict(model=tiny.tsn(num_classes=5)))
  result = flops.complexity(cfg, (2, 3, 32, 32))
  assert result.params == resnet18_tsn_params(8, 5) == 177_037  # also summed by hand
  assert result.input_shape == (1, 2, 32, 32, 3)
  assert result.flops > 0 and result.macs == result.flops / 2


def test_audio_recognizer_takes_nctf():
  model = dict(type="AudioRecognizer",
               backbone=dict(type="ResNet", depth=18, in_channels=1, base_channels=8),
               cls_head=dict(type="AudioTSNHead", num_classes=5, in_channels=64),
               test_cfg=dict(average_clips="prob"))
  result = flops.complexity(ml_collections.ConfigDict(dict(model=model)), (1, 1, 32, 16))
  assert result.input_shape == (1, 1, 32, 16, 1)
  assert result.params == resnet18_tsn_params(8, 5, in_channels=1)


@pytest.mark.parametrize("pad", [0, 1])
def test_conv_flops_match_analytic(pad):
  h, w, k, cin, cout = 16, 12, 3, 8, 16
  conv = ConvModule(cout, (k, k), padding=pad, norm=False, act=None)
  x = jax.ShapeDtypeStruct((1, h, w, cin), jnp.float32)
  variables = jax.eval_shape(conv.init, jax.random.key(0), x)
  got = flops.xla_flops(conv.apply, variables, x)
  ho, wo = h + 2 * pad - k + 1, w + 2 * pad - k + 1
  analytic = 2 * k * k * cin * cout * ho * wo
  # XLA counts only the taps that land inside the image: k*H - pad*(pad+1) per axis.
  valid_taps = (k * ho - pad * (pad + 1)) * (k * wo - pad * (pad + 1))
  assert got == 2 * cin * cout * valid_taps
  assert got == pytest.approx(analytic, rel=0.1 if pad else 0)


def _fields(out: str) -> dict[str, float]:
  found = {k: float(v) for k, v in re.findall(r"^(FLOPs|MACs|Params): ([\d.]+) [GM]", out, re.M)}
  found["param_count"] = int(re.search(r"\((\d+) trainable parameters", out).group(1))
  return found


def test_cli_vjax_and_mmaction2_configs_agree(tmp_path, capsys):
  vjax_cfg = tmp_path / "tiny_tsn.py"
  vjax_cfg.write_text(_VJAX_CONFIG)
  mm_cfg = tmp_path / "tsn_mmaction2.py"
  mm_cfg.write_text(_MMACTION2_CONFIG)

  result = flops.main([f"--config={vjax_cfg}", "--shape", "2,3,32,32",
                       "--config.model.cls_head.num_classes=7"])
  out = capsys.readouterr().out
  fields = _fields(out)
  assert "Input shape: (2, 3, 32, 32)" in out and "(1, 2, 32, 32, 3)" in out
  assert fields["param_count"] == result.params == resnet18_tsn_params(8, 7)  # override applied
  assert fields["FLOPs"] == pytest.approx(result.flops / 1e9, abs=1e-3)
  assert fields["MACs"] == pytest.approx(fields["FLOPs"] / 2, abs=1e-3)
  assert fields["Params"] == pytest.approx(result.params / 1e6, abs=1e-3)

  same = flops.main([f"--config={mm_cfg}", "--shape", "2", "3", "32", "32"])
  assert (same.flops, same.params) == (result.flops, result.params)


def test_default_shapes_follow_get_flops():
  assert flops.input_shapes("2d") == ((1, 3, 340, 256), (1, 1, 340, 256, 3))
  assert flops.input_shapes("2d", (224,)) == ((1, 3, 224, 224), (1, 1, 224, 224, 3))
  assert flops.input_shapes("2d", num_segments=8) == ((8, 3, 340, 256), (1, 8, 340, 256, 3))
  assert flops.input_shapes("3d") == ((1, 3, 32, 340, 256), (1, 1, 32, 340, 256, 3))
  assert flops.input_shapes("audio") == ((1, 1, 128, 80), (1, 1, 128, 80, 1))
  with pytest.raises(ValueError, match=r"3D recognizer takes --shape N,C,T,H,W"):
    flops.input_shapes("3d", (3, 32, 224, 224))
  with pytest.raises(ValueError, match=r"multiple of it, e.g. 8,3,224,224"):
    flops.input_shapes("2d", (3, 3, 224, 224), num_segments=8)


def test_cli_errors_are_clear(tmp_path, capsys):
  cfg = tmp_path / "tiny_tsn.py"
  cfg.write_text(_VJAX_CONFIG)
  with pytest.raises(SystemExit, match=r"unknown config argument 'bogus'"):
    flops.main([f"--config={cfg}:bogus"])
  with pytest.raises(SystemExit, match=r"--config\.model\.backbone\.deptth: no such field in the "
                     r"config; did you mean model\.backbone\.depth"):
    flops.main([f"--config={cfg}", "--config.model.backbone.deptth=18"])
  with pytest.raises(SystemExit, match=r"--shape takes integers"):
    flops.main([f"--config={cfg}", "--shape", "2x3"])
  with pytest.raises(SystemExit, match=r"flops supports Recognizer2D, Recognizer3D, "
                     r"AudioRecognizer; this config's model is 'BMN'"):
    flops.main([f"--config={cfg}", "--config.model.type=BMN"])
  with pytest.raises(SystemExit):  # argparse: usage error, exit code 2
    flops.main([f"--config={cfg}", "--shpae", "1"])
  assert "unrecognized arguments: --shpae" in capsys.readouterr().err
