"""vjax recognizers reproduce MMAction2 0.24.1's scores from MMAction2 state dicts.

The goldens (tests/golden/models, written by tests/reference/make_golden_models.py in the
reference venv) hold MMAction2's ``forward_dummy`` output in eval mode for seeded random
weights, random BatchNorm statistics and a random input. Here the state dict goes through
vjax's importer (strict: every key must map) and the vjax model runs on the same input,
moved channels-last. Cases whose weights are not stored (the full-size TSN R50 and TSM R50,
and the 2D zoo cases, whose MMAction2 backbones are 11 M to 24 M parameters at their smallest)
redraw their weights and input from the seed. vjax returns per-view scores (N, V, K), which
is what MMAction2's ``forward_dummy`` and ``forward_test`` with ``average_clips=None`` give.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.convert import golden
from vjax.convert.mmaction2_checkpoint import convert_state_dict
from vjax.models import build_model

# float32 on both sides, different conv algorithms (torch CPU vs XLA CPU). Measured max |diff| /
# max(1, max |score|): tsn_r50 1.2e-6 (scores up to 17), tsn_r18_small 1.9e-7, slowfast_small
# 3.3e-7, tsm_r50 3.1e-7, tsm_r50_block_tpool 1.1e-6, non-local embedded_gaussian 2.7e-6,
# gaussian 2.2e-5 (scores up to 66; softmax over unscaled products), concatenation 2.2e-7,
# tin_r18 5.3e-7, tanet_r50 5.6e-7, mobilenet_v2 1.5e-7 / tsm 1.2e-7, trn 3.0e-7 /
# multiscale 1.4e-7, tpn 9.8e-7 / fcn flip 1.2e-6, audio 3.7e-7; 3D: i3d_r50 1.1e-6 and
# non-local 8.1e-7 to 1.4e-6, slowfast_r50_4x16 1.3e-6, 8x8 4.8e-7, slowonly 3.5e-7, ir/ip-CSN
# 7.7e-7 / 1.1e-6, r2plus1d_r34 6.6e-7, resnet3d r18 2.3e-7 / caffe 3x3x3 2.9e-7 / layer
# 1.6e-7, x3d_s 2.8e-7, x3d_m 4.3e-7, x3d_args 7.4e-7, c3d 2.2e-6, c3d_bn_small 2.4e-7,
# timesformer divST 9.6e-7, jointST 1.3e-6, spaceOnly 7.6e-7.
RTOL = 1e-4


def vjax_scores(case):
  model = build_model(golden.vjax_model_cfg(case))
  x = jnp.asarray(golden.channels_last(golden.channels_first_input(case)))
  key = jax.random.key(0)
  target = jax.eval_shape(lambda: nn.unbox(model.init({"params": key, "dropout": key}, x)))
  variables, report = convert_state_dict(golden.state_dict(case), target)
  assert report.loaded == len(jax.tree.leaves(target))
  scores = jax.jit(lambda v, x: model.apply(v, x, train=False))(variables, x)
  return np.asarray(scores).reshape(-1, scores.shape[-1])


def test_goldens_come_from_mmaction2_and_stay_small():
  assert golden.META["mmaction2"] == "0.24.1"
  total = sum(f.stat().st_size for f in golden.GOLDEN.rglob("*") if f.is_file())
  assert total < 3 * 1024 * 1024
  assert not golden.CASES["tsn_r50"]["stored"] and not golden.CASES["tsm_r50"]["stored"]
  # 53 convs, 53 BNs x 4 tensors, the fc weight and bias (num_batches_tracked is not drawn);
  # TSM's shift has no weights.
  assert len(golden.CASES["tsn_r50"]["tensors"]) == 53 + 53 * 4 + 2
  assert len(golden.CASES["tsm_r50"]["tensors"]) == 53 + 53 * 4 + 2


@pytest.mark.parametrize("name", list(golden.CASES))
def test_scores_match_mmaction2(name):
  case = golden.CASES[name]
  # MMAction2's fcn_test keeps the pooled (1, 1, 1) axes: (views, K, 1, 1, 1)
  expected = golden.output(case).reshape(golden.output(case).shape[0], -1)
  got = vjax_scores(case)
  assert got.shape == expected.shape
  scale = max(1.0, float(np.abs(expected).max()))
  diff = float(np.abs(got - expected).max())
  print(f"{name}: max |diff| {diff:.3g}, max |score| {scale:.3g}, ratio {diff / scale:.3g}")
  assert diff <= RTOL * scale, f"{name}: max |vjax - MMAction2| = {diff:.3g} (scale {scale:.3g})"
  # Random weights must still give scores that tell the classes apart.
  assert expected.std() > 0.1
