"""TSN's custom backbones: torchvision's DenseNet, mmcls's ResNeXt and timm's Swin Transformer.

MMAction2 0.24.1 builds ``backbone.type='torchvision.NAME' / 'mmcls.NAME' / 'timm.NAME'``
from those libraries. The goldens (tests/golden/custom_backbones, written by
tests/reference/make_golden_custom_backbones.py in the reference venv with torchvision
0.28.0, mmcls 0.25.0 and timm 0.5.4) hold, for seeded weights and inputs, what MMAction2's
Recognizer2D hands to its TSNHead and the scores it returns; the state dicts go through
vjax's importer strictly, so every key of the reference's state dict must map. The three
configs of ``configs/recognition/tsn/custom_backbones`` are read from the mmaction2 package
(``pip install --no-deps mmaction2==0.24.1``; skipped without it) and go through
``init_recognizer`` with a checkpoint holding the reference recognizer's keys and shapes,
which must import strictly into backbones of the reference's parameter count. The
full-size forward parity redraws 155 M weights (about 30 s).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.reference import golden_weights
from vjax.convert.mmaction2_checkpoint import convert_state_dict
from vjax.convert.mmaction2_config import convert, load_any_config
from vjax.inference import init_recognizer
from vjax.models import build_model
from vjax.models.backbones.resnext import ResNeXt, avg_pool_ceil
from vjax.models.backbones.swin import (SwinTransformer, relative_position_index,
                                        shift_mask)
from vjax.models.builder import MODELS

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "custom_backbones"
META = json.loads((GOLDEN / "meta.json").read_text())
CASES = {c["name"]: c for c in json.loads((GOLDEN / "cases.json").read_text())}
IO = dict(np.load(GOLDEN / "io.npz"))
SMALL = [n for n, c in CASES.items() if c["kind"] == "small"]
FULL = [n for n, c in CASES.items() if c["kind"] == "full"]
KEY = jax.random.key(0)

# float32 on both sides (torch CPU vs XLA CPU). Measured max |diff| / max(1, max |value|),
# head input / scores: densenet_small 3.3e-7 / 1.9e-7, resnext_small 4.8e-7 / 3.3e-7,
# resnext_small_v1d 9.0e-7 / 2.2e-7, swin_small 6.3e-7 / 6.8e-7, swin_small_ape 3.0e-7 /
# 2.7e-7; full size (pooled head input): dense161 1.8e-7 / 8.6e-7, rn101_32x4d 4.2e-7 /
# 9.9e-7 (scores up to 115), swin_base 2.8e-7 / 1.2e-6.
RTOL = 1e-4


# ------------------------------------------------------------------ golden helpers
def state_dict(case) -> dict[str, np.ndarray]:
  """The reference state dict: drawn tensors redrawn (and checksummed), buffers as zeros
  (vjax reads none of them: BN counters and Swin's index / mask buffers are ignored)."""
  state, drift = {}, []
  for key, shape, dtype, checksum in case["tensors"]:
    if checksum is None:
      state[key] = np.zeros(shape, dtype)
      continue
    state[key] = golden_weights.tensor(META["seed"], key, shape)
    if not np.allclose(golden_weights.checksum(state[key]), checksum, rtol=1e-9, atol=1e-9):
      drift.append(key)
  assert not drift, f"golden_weights no longer draws what the reference venv drew: {drift[:5]}"
  return state


def golden_input(case) -> np.ndarray:
  """The (N, S, C, H, W) input MMAction2 ran on, moved channels-last: (N, S, H, W, C)."""
  x = golden_weights.inputs(META["seed"], case["name"], case["input_shape"])
  assert np.allclose(golden_weights.checksum(x), case["input_checksum"], rtol=1e-9)
  return np.moveaxis(x, 2, -1)


def sub_state(state, prefix: str) -> dict:
  return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def abstract_init(model, x):
  return jax.eval_shape(lambda: nn.unbox(model.init({"params": KEY, "dropout": KEY}, x)))


def import_strict(state, target):
  variables, report = convert_state_dict(state, target)  # strict: raises on any mismatch
  assert report.loaded == len(jax.tree.leaves(target))
  return variables


def relative_error(got, expected) -> float:
  got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
  assert got.shape == expected.shape, (got.shape, expected.shape)
  return float(np.abs(got - expected).max()) / max(1.0, float(np.abs(expected).max()))


def channels_last(x):
  return np.moveaxis(x, 1, -1)


# ------------------------------------------------------------------ the goldens
def test_goldens_come_from_the_reference_and_stay_small():
  assert META["mmaction2"] == "0.24.1"
  assert META["timm"] == "0.5.4" and META["mmcls"] == "0.25.0"
  assert META["torchvision"].startswith("0.28.0")
  total = sum(f.stat().st_size for f in GOLDEN.rglob("*") if f.is_file())
  assert total < 1024 * 1024
  assert sorted(FULL) == ["tsn_dense161", "tsn_rn101_32x4d", "tsn_swin_base"]


def count(tree) -> int:
  return sum(int(np.prod(v.shape)) for v in jax.tree.leaves(tree))


def small_scores(case):
  """vjax's (head input, scores, backbone parameter count) for a small case."""
  state = state_dict(case)
  x = jnp.asarray(golden_input(case))
  if case["timm_swin"] is None:  # a registered type: the whole vjax Recognizer2D
    model = build_model(dict(convert(dict(model=case["model"])).fields)["model"])
    variables = import_strict(state, abstract_init(model, x))
    is_backbone = lambda mdl, method: mdl.name == "backbone" and method == "__call__"  # noqa
    run = jax.jit(lambda v, x: model.apply(v, x, train=False, capture_intermediates=is_backbone,
                                           mutable=["intermediates"]))
    scores, extra = run(variables, x)
    feat = extra["intermediates"]["backbone"]["__call__"][0]
    return feat, scores.reshape(-1, scores.shape[-1]), count(variables["params"]["backbone"])
  # timm's named Swins fix their sizes: the reference swapped in timm's class at a small
  # size, so here the backbone class and the head are built apart, with the same weights.
  backbone = SwinTransformer(**case["timm_swin"])
  head = MODELS.build(case["model"]["cls_head"])
  frames = x.reshape((-1,) + x.shape[2:])
  bb_vars = import_strict(sub_state(state, "backbone."), abstract_init(backbone, frames))
  feat0 = jax.eval_shape(lambda v: backbone.apply(v, frames), bb_vars)
  segs = x.shape[1]
  head_target = jax.eval_shape(
      lambda: nn.unbox(head.init({"params": KEY}, jnp.zeros(feat0.shape), segs)))
  head_vars = import_strict(sub_state(state, "cls_head."), head_target)

  @jax.jit
  def run(bv, hv, frames):
    feat = backbone.apply(bv, frames)
    return feat, head.apply(hv, feat, segs)

  return run(bb_vars, head_vars, frames) + (count(bb_vars["params"]),)


@pytest.mark.parametrize("name", SMALL)
def test_small_cases_match_mmaction2(name):
  case = CASES[name]
  feat, scores, n_params = small_scores(case)
  expected_feat = channels_last(IO[f"{name}/head_input"])
  expected_scores = IO[f"{name}/scores"]
  feat_err = relative_error(feat, expected_feat)
  score_err = relative_error(scores, expected_scores)
  print(f"{name}: head input rel. error {feat_err:.3g}, scores {score_err:.3g}")
  assert feat_err <= RTOL and score_err <= RTOL
  assert expected_scores.std() > 0.1  # random weights still tell the classes apart
  assert n_params == case["backbone_params"]


# ------------------------------------------------------------------ the real configs
def mmaction2_configs() -> Path | None:
  spec = importlib.util.find_spec("mmaction")
  if spec is None or not spec.submodule_search_locations:
    return None
  path = Path(list(spec.submodule_search_locations)[0]) / ".mim" / "configs"
  return path if path.is_dir() else None


def config_path(name: str) -> Path:
  configs = mmaction2_configs()
  if configs is None:
    pytest.skip("the mmaction2 0.24.1 package is not installed (pip install --no-deps "
                "mmaction2==0.24.1): its configs are read from mmaction/.mim/configs")
  return configs / CASES[name]["config"]


@pytest.mark.parametrize("name", FULL)
def test_configs_init_with_a_checkpoint_of_their_keys(name, tmp_path):
  """init_recognizer(config, checkpoint) on the shipped config, with a checkpoint holding
  the reference recognizer's keys and shapes (zeros, as an .npz): every key imports
  strictly, and the backbone has the reference's parameter count (the metafile's count
  minus the head's)."""
  case = CASES[name]
  path = config_path(name)
  ckpt = tmp_path / f"{name}.npz"
  np.savez_compressed(ckpt, **{k: np.zeros(s, d) for k, s, d, _ in case["tensors"]})
  rec = init_recognizer(str(path), str(ckpt))
  assert rec.config.model.backbone.type == case["backbone"]["type"]
  assert rec.report.loaded == len(jax.tree.leaves(rec.variables))
  assert count(rec.variables["params"]["backbone"]) == case["backbone_params"]
  assert rec.variables["params"]["cls_head"]["fc_cls"]["kernel"].shape[1] == 400


def test_swin_config_is_timm_swin_base_at_224():
  config = load_any_config(str(config_path("tsn_swin_base")))
  model = build_model(config.model)
  x = jnp.zeros((1, 1, 224, 224, 3))
  target = abstract_init(model, x)
  attn = target["params"]["backbone"]["layers_2"]["blocks_17"]["attn"]
  assert attn["relative_position_bias_table"].shape == (13 * 13, 16)
  assert target["params"]["backbone"]["norm"]["scale"].shape == (1024,)
  assert jax.eval_shape(lambda v: model.apply(v, x), target).shape == (1, 1, 400)
  # timm builds Swin for one input size, and so does vjax.
  with pytest.raises(ValueError, match="img_size"):
    jax.eval_shape(lambda v: model.apply(v, jnp.zeros((1, 1, 256, 256, 3))), target)


@pytest.mark.parametrize("name", FULL)
def test_full_size_configs_match_mmaction2(name):
  case = CASES[name]
  assert f"{name}/scores" in IO, "goldens written with --no-full-forward: regenerate them"
  model = build_model(load_any_config(str(config_path(name))).model)
  x = jnp.asarray(golden_input(case))
  variables = import_strict(state_dict(case), abstract_init(model, x))
  is_backbone = lambda mdl, method: mdl.name == "backbone" and method == "__call__"  # noqa
  scores, extra = jax.jit(lambda v, x: model.apply(
      v, x, train=False, capture_intermediates=is_backbone, mutable=["intermediates"]))(
          variables, x)
  feat = extra["intermediates"]["backbone"]["__call__"][0].mean(axis=(1, 2))
  feat_err = relative_error(feat, IO[f"{name}/head_input_mean"])
  score_err = relative_error(scores.reshape(-1, 400), IO[f"{name}/scores"])
  print(f"{name}: pooled head input rel. error {feat_err:.3g}, scores {score_err:.3g}")
  assert feat_err <= RTOL and score_err <= RTOL


# ------------------------------------------------------------------ arguments and pieces
def test_named_models_fix_their_architecture():
  with pytest.raises(TypeError, match="embed_dim"):
    MODELS.build(dict(type="timm.swin_base_patch4_window7_224", embed_dim=96))
  with pytest.raises(TypeError, match="growth_rate"):
    MODELS.build(dict(type="torchvision.densenet161", growth_rate=32))
  swin = MODELS.build(dict(type="timm.swin_base_patch4_window7_224", num_classes=400,
                           drop_path_rate=0.2))
  assert (swin.embed_dim, swin.depths, swin.num_heads, swin.window_size) == (
      128, (2, 2, 18, 2), (4, 8, 16, 32), 7)
  assert swin.num_classes == 0 and swin.drop_path_rate == 0.2  # MMAction2 forces 0 classes
  dense = MODELS.build(dict(type="torchvision.densenet121", drop_rate=0.1))
  assert (dense.growth_rate, tuple(dense.block_config), dense.num_init_features) == (
      32, (6, 12, 24, 16), 64)


def test_relative_position_index_and_shift_mask():
  idx = relative_position_index(2)
  # tokens (0,0) (0,1) (1,0) (1,1); row (dy + 1) * 3 + (dx + 1) for dy, dx = q - k
  assert idx.tolist() == [[4, 3, 1, 0], [5, 4, 2, 1], [7, 6, 4, 3], [8, 7, 5, 4]]
  mask = shift_mask(4, 4, 2, 1)  # 4 windows of 2x2
  assert mask.shape == (4, 4, 4)
  assert not mask[0].any()  # the top-left window lies in one region
  assert (mask[3] == -100).sum() == 12  # the bottom-right one straddles four regions


def test_avg_pool_ceil_counts_only_covered_elements():
  x = jnp.arange(25.0).reshape(1, 5, 5, 1)
  out = np.asarray(avg_pool_ceil(x, 2))[0, :, :, 0]
  assert out.shape == (3, 3)
  assert out[0, 0] == (0 + 1 + 5 + 6) / 4 and out[2, 2] == 24 and out[0, 2] == (4 + 9) / 2


def test_resnext_arguments_and_freezing():
  with pytest.raises(ValueError, match="single feature map"):
    jax.eval_shape(lambda: ResNeXt(depth=50, out_indices=(2, 3), stem_channels=8,
                                   base_channels=8).init(KEY, jnp.zeros((1, 32, 32, 3))))
  with pytest.raises(KeyError, match="depth"):
    jax.eval_shape(lambda: ResNeXt(depth=18).init(KEY, jnp.zeros((1, 32, 32, 3))))
  frozen = ResNeXt(depth=50, frozen_stages=1, norm_cfg=dict(type="BN", requires_grad=False))
  assert frozen.is_frozen(("conv1", "kernel")) and frozen.is_frozen(("layer1_0", "conv2",
                                                                      "kernel"))
  assert not frozen.is_frozen(("layer2_0", "conv2", "kernel"))
  assert frozen.is_frozen(("layer3_1", "bn2", "scale"))  # requires_grad=False
  assert not ResNeXt(depth=50).is_frozen(("layer3_1", "bn2", "scale"))


def test_train_mode_draws_dropout_and_stochastic_depth():
  """A training forward per family (BN on batch statistics; DenseNet's dropout, ResNeXt's
  and Swin's stochastic depth, Swin's dropouts) is finite and changes with the 'dropout'
  stream only."""
  x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 32, 32, 3)), jnp.float32)
  models = [
      MODELS.build(dict(type="torchvision.DenseNet", growth_rate=4, block_config=(1, 1),
                        num_init_features=8, bn_size=2, drop_rate=0.5)),
      ResNeXt(depth=50, groups=2, width_per_group=2, stem_channels=4, base_channels=4,
              num_stages=1, strides=(1,), dilations=(1,), out_indices=(0,),
              drop_path_rate=0.5, zero_init_residual=False),  # else the branches start at 0
      SwinTransformer(img_size=32, patch_size=4, embed_dim=8, depths=(2,), num_heads=(2,),
                      window_size=4, drop_rate=0.1, attn_drop_rate=0.1, drop_path_rate=0.5),
  ]
  for model in models:
    run = jax.jit(lambda key, model=model: model.init_with_output(
        {"params": KEY, "dropout": key}, x, train=True)[0])
    a, b = run(jax.random.key(1)), run(jax.random.key(2))
    assert np.isfinite(np.asarray(a)).all() and not np.allclose(a, b)
