"""X3D, C3D and TimeSformer: architecture numbers against MMAction2's, argument checks,
freezing, and the transformer pieces against independent numpy arithmetic. Scores against
MMAction2 itself are in tests/convert/test_parity.py (x3d_*, c3d*, timesformer_*)."""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from tests.models import tiny
from tests.models.test_zoo2d import KEY, apply, changed, init, rand
from vjax.convert.mmaction2_checkpoint import convert_state_dict
from vjax.convert.mmaction2_config import convert
from vjax.models import build_model
from vjax.models.backbones.timesformer import default_layers
from vjax.models.layers.attention import MultiheadAttention
from vjax.models.layers.transformer import (DividedTemporalAttentionWithNorm,
                                            residual_dropout)
from vjax.train import step as step_lib
from vjax.train.state import TrainState


def param_shapes(model, x):
  tree = jax.eval_shape(lambda: init(model, x))["params"]
  return {"/".join(str(k.key) for k in p): v.shape
          for p, v in jax.tree_util.tree_flatten_with_path(tree)[0]}


# ---------------------------------------------------------------- X3D
# MMAction2 0.24.1's X3D built in the reference venv: base width, blocks per stage,
# (planes, block output, SE bottleneck) of each stage's first block, output channels, and
# the number of parameters (``sum(p.numel() for p in model.parameters())``, BN statistics
# excluded). S and M are configs/_base_/models/x3d.py; L and XL are the X3D paper's
# networks in MMAction2's parameterisation (base width 24: XL's 2.9x of 12 is gamma_w 1.45).
X3D_REFERENCE = {
    "S/M": (dict(gamma_w=1, gamma_b=2.25, gamma_d=2.2), 24, [3, 5, 11, 7],
            [(54, 24, 8), (108, 48, 8), (216, 96, 16), (432, 192, 32)], 432, 2089986),
    "L": (dict(gamma_w=1, gamma_b=2.25, gamma_d=5.0), 24, [5, 10, 25, 15],
          [(54, 24, 8), (108, 48, 8), (216, 96, 16), (432, 192, 32)], 432, 4449096),
    "XL": (dict(gamma_w=1.45, gamma_b=2.25, gamma_d=5.0), 32, [5, 10, 25, 15],
           [(72, 32, 8), (144, 64, 16), (288, 128, 24), (576, 256, 40)], 576, 7719552),
}


@pytest.mark.parametrize("size", list(X3D_REFERENCE))
def test_x3d_widths_depths_and_size_match_mmaction2(size):
  gammas, base, blocks, stages, out, n_params = X3D_REFERENCE[size]
  model = build_model(dict(type="X3D", **gammas))
  assert model.feat_dim == out
  shapes = param_shapes(model, jnp.zeros((1, 4, 32, 32, 3)))
  assert shapes["conv1_s/conv/kernel"] == (1, 3, 3, 3, base)
  assert shapes["conv1_t/conv/kernel"] == (5, 1, 1, 1, base)  # depthwise
  for i, (n, (planes, outplanes, squeeze)) in enumerate(zip(blocks, stages)):
    names = {k.split("/")[0] for k in shapes if k.startswith(f"layer{i + 1}_")}
    assert names == {f"layer{i + 1}_{j}" for j in range(n)}
    first = f"layer{i + 1}_0"
    assert shapes[f"{first}/conv1/conv/kernel"][-1] == planes
    assert shapes[f"{first}/conv2/conv/kernel"] == (3, 3, 3, 1, planes)
    assert shapes[f"{first}/conv3/conv/kernel"][-1] == outplanes
    assert shapes[f"{first}/se_module/fc1/kernel"][-1] == squeeze
    assert f"{first}/downsample/conv/kernel" in shapes
    # se_style='half': blocks 0, 2, 4, ... only.
    assert f"layer{i + 1}_1/se_module/fc1/kernel" not in shapes
  assert shapes["conv5/conv/kernel"] == (1, 1, 1, stages[-1][1], out)
  assert sum(math.prod(s) for s in shapes.values()) == n_params


@pytest.mark.parametrize("kwargs, match", [
    (dict(se_style="quarter"), "se_style"),
    (dict(num_stages=5, spatial_strides=(2,) * 5), "num_stages"),
    (dict(spatial_strides=(2, 2)), "spatial_strides"),
    (dict(se_ratio=0), "se_ratio"),
    (dict(frozen_stages=5), "frozen_stages"),
    (dict(act_cfg=dict(type="Tanh")), "act_cfg"),
    (dict(in_channels=2), "in_channels"),
])
def test_x3d_rejects_bad_arguments(kwargs, match):
  with pytest.raises(ValueError, match=match):
    param_shapes(build_model(dict(type="X3D", **kwargs)), jnp.zeros((1, 4, 32, 32, 3)))


def test_x3d_head_pools_then_two_layers():
  head = build_model(dict(type="X3DHead", num_classes=3, in_channels=8, spatial_type="max",
                          fc1_bias=True, dropout_ratio=0.0))
  x = rand(2, 2, 3, 3, 8)
  v = init(head, x)
  p = v["params"]
  assert p["fc1"]["kernel"].shape == (8, 2048) and "bias" in p["fc1"]
  expected = (jax.nn.relu(x.max(axis=(1, 2, 3)) @ p["fc1"]["kernel"] + p["fc1"]["bias"]) @
              p["fc2"]["kernel"] + p["fc2"]["bias"])
  np.testing.assert_allclose(apply(head, v, x), expected, rtol=1e-4, atol=1e-5)
  assert "bias" not in init(build_model(dict(type="X3DHead", num_classes=3, in_channels=8)),
                            x)["params"]["fc1"]
  with pytest.raises(ValueError, match="feat_dim"):
    init(build_model(dict(type="X3DHead", num_classes=3, in_channels=16)), x)
  with pytest.raises(ValueError, match="spatial_type"):
    init(build_model(dict(type="X3DHead", num_classes=3, in_channels=8, spatial_type="sum")), x)


def small_x3d(**backbone):
  return dict(type="Recognizer3D",
              backbone=dict(type="X3D", gamma_w=0.5, gamma_b=1.5, gamma_d=1, num_stages=2,
                            spatial_strides=(2, 2), **backbone),
              cls_head=dict(type="X3DHead", num_classes=3, in_channels=48, dropout_ratio=0.0),
              test_cfg=dict(average_clips="score"))


def test_x3d_frozen_stages_keep_stem_and_stages_fixed():
  cfg = small_x3d(frozen_stages=1)
  model = build_model(cfg)
  x = jnp.asarray(np.random.default_rng(0).integers(0, 255, (2, 1, 2, 16, 16, 3)), jnp.uint8)
  variables = init(model, x.astype(jnp.float32))
  tx = optax.sgd(0.1, momentum=0.9)
  state = TrainState(step=jnp.zeros((), jnp.int32), params=variables["params"],
                     batch_stats=variables["batch_stats"],
                     opt_state=tx.init(variables["params"]), rng=jax.random.key_data(KEY))
  step = jax.jit(step_lib.make_train_step(tiny.task(cfg), model, tx, lambda s: 0.1))
  new, _ = step(state, {"imgs": x, "label": jnp.array([0, 2])})
  moved = changed(state.params["backbone"], new.params["backbone"])
  assert moved == {"layer2_0", "layer2_1", "conv5"}
  # The stem's and layer1's BatchNorms run in eval mode: their statistics stay too.
  assert changed(state.batch_stats["backbone"], new.batch_stats["backbone"]) == moved


def test_x3d_norm_eval_and_frozen_norms():
  model = build_model(small_x3d(norm_eval=True))
  x = rand(2, 1, 2, 16, 16, 3) * 2 + 1
  variables = init(model, x)
  out, new = apply(model, variables, x, train=True, mutable=["batch_stats"])
  assert not changed(variables["batch_stats"]["backbone"], new["batch_stats"]["backbone"])
  np.testing.assert_allclose(out, apply(model, variables, x), rtol=1e-5, atol=1e-5)
  model = build_model(small_x3d(norm_cfg=dict(type="BN3d", requires_grad=False)))
  mask = model.frozen_mask(variables["params"])["backbone"]
  assert mask["layer1_0"]["conv2"]["bn"]["scale"] and mask["conv1_t"]["bn"]["bias"]
  assert not mask["layer1_0"]["conv2"]["conv"]["kernel"]
  assert not mask["layer1_0"]["se_module"]["fc1"]["kernel"]


# ---------------------------------------------------------------- C3D
def test_c3d_geometry_flatten_order_and_errors():
  model = build_model(dict(type="C3D", out_dim=512, dropout_ratio=0.0))
  shapes = param_shapes(model, jnp.zeros((1, 16, 16, 16, 3)))
  assert [k for k in shapes if k.endswith("kernel")] == [
      f"conv{n}/conv/kernel" for n in ("1a", "2a", "3a", "3b", "4a", "4b", "5a", "5b")
  ] + ["fc6/kernel", "fc7/kernel"]
  assert shapes["conv1a/conv/bias"] == (64,) and shapes["fc6/kernel"] == (512, 4096)
  # The default out_dim is MMAction2's 16x112x112 clip: 512 x 1 x 4 x 4.
  default = build_model(dict(type="C3D"))
  assert param_shapes(default, jnp.zeros((1, 16, 112, 112, 3)))["fc6/kernel"] == (8192, 4096)
  with pytest.raises(ValueError, match="out_dim=2048"):
    param_shapes(default, jnp.zeros((1, 16, 32, 32, 3)))
  bn = param_shapes(build_model(dict(type="C3D", out_dim=512, norm_cfg=dict(type="BN3d"))),
                    jnp.zeros((1, 16, 16, 16, 3)))
  assert "conv1a/conv/bias" not in bn and bn["conv1a/bn/scale"] == (64,)


# ---------------------------------------------------------------- TimeSformer
def timesformer(attention_type, **kw):
  return dict(type="Recognizer3D",
              backbone=dict(dict(type="TimeSformer", num_frames=2, img_size=16, patch_size=8,
                                 embed_dims=16, num_heads=2, num_transformer_layers=2,
                                 attention_type=attention_type), **kw),
              cls_head=dict(type="TimeSformerHead", num_classes=3, in_channels=16),
              test_cfg=dict(average_clips=None))


LAYER0 = {
    "divided_space_time": {"attentions_0/attn/in_proj/kernel", "attentions_0/attn/out_proj/kernel",
                           "attentions_0/temporal_fc/kernel", "attentions_0/norm/scale",
                           "attentions_1/attn/in_proj/kernel", "attentions_1/attn/out_proj/kernel",
                           "attentions_1/norm/scale", "ffns_0/norm/scale",
                           "ffns_0/layers_0_0/kernel", "ffns_0/layers_1/kernel"},
    "joint_space_time": {"attentions_0/attn/in_proj/kernel", "attentions_0/attn/out_proj/kernel",
                         "norms_0/scale", "norms_1/scale", "ffns_0/layers_0_0/kernel",
                         "ffns_0/layers_1/kernel"},
}
LAYER0["space_only"] = LAYER0["joint_space_time"]


@pytest.mark.parametrize("attention_type", list(LAYER0))
def test_timesformer_shapes_per_attention_type(attention_type):
  model = build_model(timesformer(attention_type))
  x = rand(2, 1, 2, 16, 16, 3)
  v = init(model, x)
  assert apply(model, v, x).shape == (2, 1, 3)
  bb = v["params"]["backbone"]
  assert bb["pos_embed"].shape == (1, 5, 16) and bb["cls_token"].shape == (1, 1, 16)
  assert bb["patch_embed"]["projection"]["kernel"].shape == (8, 8, 3, 16)
  assert ("time_embed" in bb) == (attention_type != "space_only")
  layer0 = {"/".join(str(k.key) for k in p) for p, _ in
            jax.tree_util.tree_flatten_with_path(bb["transformer_layers"]["layers_0"])[0]}
  assert {k for k in layer0 if k.endswith("kernel") or k.endswith("scale")} == \
      LAYER0[attention_type]
  assert bb["transformer_layers"]["layers_0"]["attentions_0"]["attn"]["in_proj"][
      "kernel"].shape == (16, 48)
  assert set(bb["transformer_layers"]) == {"layers_0", "layers_1"}


def test_timesformer_single_frame_joint_equals_space_only():
  """With one frame, joint space-time attention sees exactly the frame's tokens; with the
  (zero-initialised) time embedding it is space-only attention on the same weights."""
  x = rand(2, 1, 1, 16, 16, 3)
  joint = build_model(timesformer("joint_space_time", num_frames=1))
  v = init(joint, x)
  space = build_model(timesformer("space_only", num_frames=1))
  vs = {"params": {"backbone": {k: w for k, w in v["params"]["backbone"].items()
                                if k != "time_embed"}, "cls_head": v["params"]["cls_head"]}}
  np.testing.assert_allclose(apply(joint, v, x), apply(space, vs, x), rtol=1e-5, atol=1e-5)


def test_timesformer_rejects_bad_inputs_and_configs():
  x = rand(1, 1, 2, 16, 16, 3)
  with pytest.raises(ValueError, match="attention_type"):
    init(build_model(timesformer("divided")), x)
  with pytest.raises(ValueError, match="num_frames=2"):
    init(build_model(timesformer("divided_space_time")), rand(1, 1, 3, 16, 16, 3))
  with pytest.raises(ValueError, match="resize"):
    init(build_model(timesformer("joint_space_time")), rand(1, 1, 2, 24, 24, 3))
  with pytest.raises(ValueError, match="divisible"):
    init(build_model(timesformer("space_only", img_size=20)), x)
  layers = default_layers("divided_space_time", 16, 2, 2, 1)
  prenorm = dict(layers, transformerlayers=[dict(layers["transformerlayers"][0],
                                                 operation_order=("norm", "self_attn",
                                                                  "self_attn", "ffn"))])
  with pytest.raises(ValueError, match="pre-norm"):
    init(build_model(timesformer("divided_space_time", transformer_layers=prenorm,
                                 num_transformer_layers=1)), x)
  bad_key = default_layers("joint_space_time", 16, 2, 2, 1)
  bad_key["transformerlayers"][0]["attn_cfgs"][0]["kdim"] = 8
  with pytest.raises(ValueError, match="kdim"):
    init(build_model(timesformer("joint_space_time", transformer_layers=bad_key)), x)


def test_custom_transformer_layers_build_from_mmcv_dicts():
  """A user's ``transformer_layers`` runs as given: here ReLU FFNs with three Linears."""
  layers = default_layers("joint_space_time", 16, 2, 2, 2)
  for cfg in layers["transformerlayers"]:
    cfg["ffn_cfgs"] = dict(cfg["ffn_cfgs"], num_fcs=3, act_cfg=dict(type="ReLU"))
  model = build_model(timesformer("joint_space_time", transformer_layers=layers))
  x = rand(1, 1, 2, 16, 16, 3)
  ffn = init(model, x)["params"]["backbone"]["transformer_layers"]["layers_1"]["ffns_0"]
  assert set(ffn) == {"layers_0_0", "layers_1_0", "layers_2"}
  assert ffn["layers_1_0"]["kernel"].shape == (64, 64)


def test_multihead_attention_matches_torch_formula_from_a_torch_state_dict():
  """torch's in_proj_weight rows are q, k, v, each head's rows contiguous; the importer's
  rule must land them where vjax's split expects them."""
  e, h, n = 8, 2, 5
  rng = np.random.default_rng(0)
  torch_sd = {"attn.in_proj_weight": rng.normal(size=(3 * e, e)).astype(np.float32),
              "attn.in_proj_bias": rng.normal(size=(3 * e,)).astype(np.float32),
              "attn.out_proj.weight": rng.normal(size=(e, e)).astype(np.float32),
              "attn.out_proj.bias": rng.normal(size=(e,)).astype(np.float32)}

  class Wrap(nn.Module):
    @nn.compact
    def __call__(self, x):
      return MultiheadAttention(e, h, name="attn")(x)

  x = rng.normal(size=(2, n, e)).astype(np.float32)
  target = jax.eval_shape(lambda: Wrap().init(KEY, x))
  variables, report = convert_state_dict(torch_sd, target)
  assert report.loaded == 4
  w, b = torch_sd["attn.in_proj_weight"], torch_sd["attn.in_proj_bias"]
  q, k, v = ((x @ w[i * e:(i + 1) * e].T + b[i * e:(i + 1) * e]) for i in range(3))
  d = e // h
  heads = []
  for j in range(h):
    s = q[..., j * d:(j + 1) * d] @ np.swapaxes(k[..., j * d:(j + 1) * d], 1, 2) / np.sqrt(d)
    s = np.exp(s - s.max(-1, keepdims=True))
    heads.append((s / s.sum(-1, keepdims=True)) @ v[..., j * d:(j + 1) * d])
  expected = (np.concatenate(heads, -1) @ torch_sd["attn.out_proj.weight"].T +
              torch_sd["attn.out_proj.bias"])
  np.testing.assert_allclose(Wrap().apply(variables, x), expected, rtol=1e-4, atol=1e-4)


def test_divided_temporal_attention_starts_as_identity():
  """MMAction2 zero-initialises temporal_fc so that image (ViT) weights start a video model."""
  layer = DividedTemporalAttentionWithNorm(16, 2, num_frames=3,
                                           dropout_layer=dict(type="DropPath", drop_prob=0.1))
  x = rand(2, 1 + 4 * 3, 16)
  v = layer.init(KEY, x)
  np.testing.assert_array_equal(layer.apply(v, x), x)


def test_drop_path_drops_whole_rows_and_rescales():
  class Drop(nn.Module):
    @nn.compact
    def __call__(self, x, train):
      return residual_dropout(self, dict(type="DropPath", drop_prob=0.5), x, train)

  x = jnp.ones((64, 3, 4))
  out = np.asarray(Drop().apply({}, x, True, rngs={"dropout": KEY}))
  rows = out.reshape(64, -1)
  assert set(np.unique(rows)) <= {0.0, 2.0}
  assert all(len(set(r)) == 1 for r in rows)  # a row is dropped or kept whole
  assert 10 < (rows[:, 0] == 0).sum() < 54
  np.testing.assert_array_equal(Drop().apply({}, x, False), x)


def test_timesformer_trains_with_stochastic_depth():
  model = build_model(timesformer("divided_space_time", dropout_ratio=0.1))
  x = rand(2, 1, 2, 16, 16, 3)
  v = init(model, x)
  run = jax.jit(lambda v, x, k: model.apply(v, x, train=True, rngs={"dropout": k}))
  a, b = run(v, x, jax.random.key(1)), run(v, x, jax.random.key(2))
  assert np.isfinite(a).all() and not np.allclose(a, b)


# ---------------------------------------------------------------- full-size configs
VIT_B = "https://download.openmmlab.com/mmaction/recognition/timesformer/vit_base_patch16_224.pth"


def timesformer_k400(attention_type):
  """The model of configs/recognition/timesformer/timesformer_*_8x32x1_15e_kinetics400_rgb.py."""
  return dict(type="Recognizer3D",
              backbone=dict(type="TimeSformer", pretrained=VIT_B, num_frames=8, img_size=224,
                            patch_size=16, embed_dims=768, in_channels=3, dropout_ratio=0.,
                            transformer_layers=None, attention_type=attention_type,
                            norm_cfg=dict(type="LN", eps=1e-6)),
              cls_head=dict(type="TimeSformerHead", num_classes=400, in_channels=768),
              train_cfg=None, test_cfg=dict(average_clips="prob"))


# (model, clip (T, H, W), parameters of MMAction2's model built from the config file in the
# reference venv: sum(p.numel() for p in model.parameters())).
FULL_SIZE = {
    "x3d_s_13x6x1": (dict(type="Recognizer3D",
                          backbone=dict(type="X3D", gamma_w=1, gamma_b=2.25, gamma_d=2.2),
                          cls_head=dict(type="X3DHead", in_channels=432, num_classes=400,
                                        spatial_type="avg", dropout_ratio=0.5, fc1_bias=False),
                          train_cfg=None, test_cfg=dict(average_clips="prob")),
                     (13, 160, 160), 3794322),
    "c3d_sports1m_16x1x1": (dict(
        type="Recognizer3D",
        backbone=dict(type="C3D", pretrained="https://download.openmmlab.com/mmaction/"
                      "recognition/c3d/c3d_sports1m_pretrain_20201016-dcc47ddc.pth",
                      style="pytorch", conv_cfg=dict(type="Conv3d"), norm_cfg=None,
                      act_cfg=dict(type="ReLU"), dropout_ratio=0.5, init_std=0.005),
        cls_head=dict(type="I3DHead", num_classes=101, in_channels=4096, spatial_type=None,
                      dropout_ratio=0.5, init_std=0.01),
        train_cfg=None, test_cfg=dict(average_clips="score")), (16, 112, 112), 78409573),
    "timesformer_divST": (timesformer_k400("divided_space_time"), (8, 224, 224), 121566352),
    "timesformer_jointST": (timesformer_k400("joint_space_time"), (8, 224, 224), 86112400),
    "timesformer_spaceOnly": (timesformer_k400("space_only"), (8, 224, 224), 86106256),
}


@pytest.mark.parametrize("name", list(FULL_SIZE))
def test_full_size_configs_convert_and_match_mmaction2_size(name):
  model_cfg, clip, n_params = FULL_SIZE[name]
  model = build_model(dict(convert(dict(model=model_cfg)).fields)["model"])
  shapes = param_shapes(model, jnp.zeros((1, 1) + clip + (3,)))
  assert sum(math.prod(s) for s in shapes.values()) == n_params


def test_image_checkpoint_fills_both_divided_attentions():
  """MMAction2 starts divided space-time attention from a ViT: its one attention (and the norm
  before it) fills both the temporal and the spatial attention."""
  vit = {"transformer_layers.layers.0.norms.0.weight": 1,
         "transformer_layers.layers.0.norms.1.weight": 2,
         "transformer_layers.layers.0.attentions.0.attn.in_proj_weight": 3, "cls_token": 4}
  cfg = dict(type="TimeSformer", num_frames=2, img_size=16, patch_size=8)
  got = build_model(cfg).image_checkpoint_state(vit)
  assert got == {"transformer_layers.layers.0.attentions.0.norm.weight": 1,
                 "transformer_layers.layers.0.attentions.1.norm.weight": 1,
                 "transformer_layers.layers.0.ffns.0.norm.weight": 2,
                 "transformer_layers.layers.0.attentions.0.attn.in_proj_weight": 3,
                 "transformer_layers.layers.0.attentions.1.attn.in_proj_weight": 3,
                 "cls_token": 4}
  joint = build_model(dict(cfg, attention_type="joint_space_time"))
  assert joint.image_checkpoint_state(vit) == vit
