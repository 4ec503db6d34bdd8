"""The ResNet3d family (ResNet3d, ResNet3dLayer, SlowOnly, SlowFast, CSN, R(2+1)D, I3DHead)
on tiny widths: argument checks, shapes, module paths and MMAction2's freezing semantics.
Numerical parity with MMAction2 is tests/convert/test_parity.py's job (the 3D goldens)."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vjax.models import build_model
from vjax.models.layers.conv2plus1d import Conv2plus1d, mid_channels

KEY = jax.random.key(0)
TINY = dict(depth=50, base_channels=4, stage_blocks=(1, 1, 1, 1))


def init(model, x, **kwargs):
  return nn.unbox(jax.jit(lambda x: model.init({"params": KEY, "dropout": KEY}, x, **kwargs))(x))


def train_stats(model, variables, x):
  """The batch statistics after one training-mode forward (jitted: eager is much slower)."""
  run = jax.jit(lambda v, x: model.apply(v, x, train=True, mutable=["batch_stats"])[1])
  return run(variables, x)["batch_stats"]


def abstract(model, x):
  return jax.eval_shape(lambda: init(model, x))


def out_shapes(cfg, x):
  model = build_model(cfg)
  v = abstract(model, x)
  return jax.tree.map(lambda a: a.shape, jax.eval_shape(lambda v: model.apply(v, x), v))


def flat(tree):
  return {"/".join(str(k.key) for k in p): v
          for p, v in jax.tree_util.tree_flatten_with_path(tree)[0]}


def rand(*shape, seed=1):
  return jax.random.normal(jax.random.key(seed), shape)


@pytest.mark.parametrize("cfg, error, match", [
    (dict(type="ResNet3d", depth=20), KeyError, "invalid depth 20 for ResNet3d"),
    (dict(type="ResNet3dCSN", depth=18), KeyError, r"invalid depth 18 for ResNet3dCSN.*50"),
    (dict(type="ResNet3dCSN", bottleneck_mode="xx", **TINY), ValueError, "'ip' or 'ir'"),
    (dict(type="ResNet3d", num_stages=3, out_indices=(2,), spatial_strides=(1, 2, 2),
          temporal_strides=(1, 1, 1), dilations=(1, 1, 1), **TINY), ValueError,
     r"stage_blocks \(1, 1, 1, 1\) needs num_stages=3"),
    (dict(type="ResNet3d", out_indices=(4,), **TINY), ValueError, "out_indices"),
    (dict(type="ResNet3d", spatial_strides=(1, 2), **TINY), ValueError,
     "need num_stages=4 entries"),
    (dict(type="ResNet3d", inflate=((1, 1), 1, 1, 1), **TINY), ValueError,
     "inflate of layer1 has 2 entries for its 1 blocks"),
    (dict(type="ResNet3d", non_local=(0, 0), **TINY), ValueError, "non_local=.* per stage"),
    (dict(type="ResNet3d", style="tf", **TINY), ValueError, "'pytorch' or 'caffe'"),
    (dict(type="ResNet3d", conv_cfg=dict(type="Conv2d"), **TINY), ValueError,
     "conv_cfg type 'Conv2d'"),
    (dict(type="ResNet3d", norm_cfg=dict(type="BN3d", momentum=0.01), **TINY), ValueError,
     r"norm_cfg keys \['momentum'\]"),
    (dict(type="ResNet3d", act_cfg=dict(type="GELU"), **TINY), ValueError, "act_cfg type"),
    (dict(type="ResNet3d", in_channels=2, **TINY), ValueError, "expects 2 input channels"),
    (dict(type="ResNet3dSlowOnly", lateral=True, **TINY), ValueError, "no lateral"),
    (dict(type="ResNet2Plus1d", conv_cfg=dict(type="Conv2plus1d"), **TINY), ValueError,
     "pretrained2d=False"),
    (dict(type="ResNet2Plus1d", pretrained2d=False, **TINY), ValueError,
     "conv_cfg=dict.type='Conv2plus1d'"),
    (dict(type="ResNet3dLayer", stage=4), ValueError, r"stage must be in \[0, 3\]"),
    (dict(type="ResNet3dSlowFast", slow_pathway=dict(depth=50)), TypeError, "'type' key"),
    (dict(type="ResNet3dSlowFast", slow_pathway=dict(type="x3d")), KeyError,
     "Unrecognized pathway type 'x3d'"),
])
def test_bad_arguments_name_the_problem(cfg, error, match):
  with pytest.raises(error, match=match):
    abstract(build_model(cfg), jnp.zeros((1, 4, 32, 32, 3)))


def test_resnet3d_stages_strides_and_pools():
  x = jnp.zeros((2, 8, 64, 64, 3))
  # conv1 /2 spatially, pool1 /2, pool2 halves T after res2 (before it is output, as in
  # MMAction2); res3-5 halve H, W.
  shapes = out_shapes(dict(type="ResNet3d", out_indices=(0, 1, 2, 3), **TINY), x)
  assert shapes == ((2, 4, 16, 16, 16), (2, 4, 8, 8, 32), (2, 4, 4, 4, 64), (2, 4, 2, 2, 128))
  # I3D's stem: temporal stride 2 in conv1 and pool1.
  i3d = dict(type="ResNet3d", conv1_kernel=(5, 7, 7), conv1_stride_t=2, pool1_stride_t=2,
             with_pool2=False, temporal_strides=(1, 1, 2, 1), **TINY)
  assert out_shapes(i3d, x) == (2, 1, 2, 2, 128)
  assert out_shapes(dict(i3d, with_pool1=False, depth=18), x) == (2, 2, 4, 4, 32)


def test_block_kernels_follow_inflation_and_style():
  x = jnp.zeros((1, 4, 32, 32, 3))
  p = flat(abstract(build_model(dict(type="ResNet3d", inflate=(1, 0, 1, 1), style="caffe",
                                     inflate_style="3x3x3", **TINY)), x)["params"])
  # 3x3x3: the middle conv is inflated; caffe: the stride sits on the first 1x1x1 conv.
  assert p["layer1_0/conv2/conv/kernel"].shape == (3, 3, 3, 4, 4)
  assert p["layer2_0/conv2/conv/kernel"].shape == (1, 3, 3, 8, 8)
  assert p["layer1_0/conv1/conv/kernel"].shape == (1, 1, 1, 4, 4)
  model = build_model(dict(type="ResNet3d", inflate=(1, (1,), 0, 0), depth=18,
                           base_channels=4, stage_blocks=(1, 1, 1, 1)))
  p = flat(abstract(model, x)["params"])
  assert p["layer1_0/conv1/conv/kernel"].shape == (3, 3, 3, 4, 4)
  assert p["layer3_0/conv2/conv/kernel"].shape == (1, 3, 3, 16, 16)
  assert "layer1_0/downsample/conv/kernel" not in p and "layer2_0/downsample/conv/kernel" in p


def test_zero_init_residual_zeroes_each_blocks_last_bn():
  x = jnp.zeros((1, 4, 32, 32, 3))
  small = dict(TINY, num_stages=2, out_indices=(1,), spatial_strides=(1, 2),
               temporal_strides=(1, 1), dilations=(1, 1), stage_blocks=(1, 1))
  p = init(build_model(dict(type="ResNet3d", **small)), x)["params"]
  assert not p["layer2_0"]["conv3"]["bn"]["scale"].any()
  assert (p["layer2_0"]["conv2"]["bn"]["scale"] == 1).all()
  p = init(build_model(dict(type="ResNet3d", zero_init_residual=False, **small)), x)["params"]
  assert (p["layer2_0"]["conv3"]["bn"]["scale"] == 1).all()


def test_slowonly_and_layer_shapes():
  x = jnp.zeros((1, 4, 32, 32, 3))
  slowonly = dict(type="ResNet3dSlowOnly", **TINY)
  assert out_shapes(slowonly, x) == (1, 4, 1, 1, 128)  # no temporal stride, no pool2
  p = flat(abstract(build_model(slowonly), x)["params"])
  assert p["conv1/conv/kernel"].shape[:3] == (1, 7, 7)
  assert p["layer2_0/conv1/conv/kernel"].shape[:3] == (1, 1, 1)
  assert p["layer3_0/conv1/conv/kernel"].shape[:3] == (3, 1, 1)
  # ResNet3dLayer: res4 of a ResNet-50 (MMAction2 fixes its widths at 64 base channels).
  layer = build_model(dict(type="ResNet3dLayer", depth=50, stage=3, spatial_stride=1,
                           temporal_stride=2, base_channels=4))
  y = jnp.zeros((1, 4, 4, 4, 1024))
  p = flat(abstract(layer, y)["params"])
  assert sorted({k.split("/")[0] for k in p}) == ["layer4_0", "layer4_1", "layer4_2"]
  assert p["layer4_0/downsample/conv/kernel"].shape == (1, 1, 1, 1024, 2048)
  assert out_shapes(dict(type="ResNet3dLayer", depth=50, stage=3, spatial_stride=1,
                         temporal_stride=2), y) == (1, 2, 4, 4, 2048)


def test_csn_blocks_are_channel_separated():
  x = jnp.zeros((1, 8, 32, 32, 3))
  for mode, names in (("ir", {"conv1", "conv2_0", "conv3", "downsample"}),
                      ("ip", {"conv1", "conv2_0", "conv2_1", "conv3", "downsample"})):
    model = build_model(dict(type="ResNet3dCSN", bottleneck_mode=mode, **TINY))
    p = abstract(model, x)["params"]
    assert set(p["layer2_0"]) == names
    depthwise = p["layer2_0"]["conv2_1" if mode == "ip" else "conv2_0"]["conv"]["kernel"]
    assert depthwise.shape == (3, 3, 3, 1, 8)  # groups = planes: one input channel each
    if mode == "ip":
      assert p["layer2_0"]["conv2_0"]["conv"]["kernel"].shape == (1, 1, 1, 8, 8)
  # Temporal strides (1, 2, 2, 2) by default; pool2 halves T once more.
  assert out_shapes(dict(type="ResNet3dCSN", **TINY), x) == (1, 1, 1, 1, 128)


def test_conv2plus1d_is_spatial_bn_relu_temporal():
  assert mid_channels(3, 64, (3, 7, 7)) == 83  # floor(3*3*64*49 / (3*49 + 3*64))
  assert mid_channels(64, 64, (3, 3, 3)) == 144
  conv = Conv2plus1d(6, (3, 3, 3), strides=(2, 1, 1), padding=((1, 1), (1, 1), (1, 1)),
                     use_bias=False)
  x = rand(2, 6, 8, 8, 4)
  v = init(conv, x)
  mid = mid_channels(4, 6, (3, 3, 3))
  assert v["params"]["conv_s"]["kernel"].shape == (1, 3, 3, 4, mid)
  assert v["params"]["conv_t"]["kernel"].shape == (3, 1, 1, mid, 6)
  v = jax.tree.map(lambda a: a, v)
  v["batch_stats"]["bn_s"]["mean"] = jnp.arange(mid, dtype=jnp.float32) / mid
  v["batch_stats"]["bn_s"]["var"] = 1 + jnp.arange(mid, dtype=jnp.float32) / mid
  got = conv.apply(v, x)

  def conv3d(y, k, strides, pads):
    return jax.lax.conv_general_dilated(y, k, strides, pads,
                                        dimension_numbers=("NDHWC", "DHWIO", "NDHWC"))

  s = conv3d(x, v["params"]["conv_s"]["kernel"], (1, 1, 1), ((0, 0), (1, 1), (1, 1)))
  stats = v["batch_stats"]["bn_s"]
  s = jnp.maximum((s - stats["mean"]) / jnp.sqrt(stats["var"] + 1e-5), 0)
  want = conv3d(s, v["params"]["conv_t"]["kernel"], (2, 1, 1), ((1, 1), (0, 0), (0, 0)))
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
  # As a ConvModule's conv (R(2+1)D), its BN trains with the module's train flag.
  model = build_model(dict(type="ResNet2Plus1d", pretrained2d=False,
                           conv_cfg=dict(type="Conv2plus1d"), depth=18, base_channels=4,
                           stage_blocks=(1, 1, 1, 1)))
  x = rand(1, 4, 32, 32, 3)
  v = init(model, x)
  assert v["params"]["conv1"]["conv"]["conv_s"]["kernel"].shape[:3] == (1, 7, 7)
  new = train_stats(model, v, x)
  assert not np.allclose(new["conv1"]["conv"]["bn_s"]["mean"],
                         v["batch_stats"]["conv1"]["conv"]["bn_s"]["mean"])


def test_i3d_head_pools_and_checks_its_input():
  head = build_model(dict(type="I3DHead", num_classes=5, in_channels=8, dropout_ratio=0.0))
  x = rand(2, 2, 3, 3, 8)
  v = init(head, x)
  np.testing.assert_allclose(head.apply(v, x),
                             x.mean((1, 2, 3)) @ v["params"]["fc_cls"]["kernel"], rtol=1e-5,
                             atol=1e-6)
  # No pooling: the map is flattened in PyTorch's (C, T, H, W) order.
  flat_head = build_model(dict(type="I3DHead", num_classes=5, in_channels=8 * 18,
                               spatial_type=None, dropout_ratio=0.0))
  v = init(flat_head, x)
  np.testing.assert_allclose(
      flat_head.apply(v, x),
      jnp.moveaxis(x, -1, 1).reshape(2, -1) @ v["params"]["fc_cls"]["kernel"], rtol=1e-5,
      atol=1e-6)
  with pytest.raises(ValueError, match="I3DHead in_channels=8 but the backbone gives 4"):
    init(head, rand(2, 2, 3, 3, 4))


def frozen_mask(cfg, x):
  model = build_model(dict(type="Recognizer3D", backbone=cfg,
                           cls_head=dict(type="I3DHead", num_classes=3, in_channels=1)))
  params = jax.eval_shape(lambda: init(build_model(dict(cfg)), x))["params"]
  return flat(model.frozen_mask({"backbone": params})["backbone"])


def frozen(mask):
  return {k for k, v in mask.items() if v}


def test_frozen_masks_follow_mmaction2():
  x = jnp.zeros((1, 4, 32, 32, 3))
  nl = dict(non_local=(0, 1, 0, 0), non_local_cfg=dict(norm_cfg=dict(type="BN3d")))
  m = frozen_mask(dict(type="ResNet3d", frozen_stages=1, **nl, **TINY), x)
  assert frozen(m) == {k for k in m if k.startswith(("conv1/", "layer1_0/"))}
  # requires_grad=False freezes the backbone's BatchNorms, not the non-local block's own.
  m = frozen_mask(dict(type="ResNet3d", norm_cfg=dict(type="BN3d", requires_grad=False), **nl,
                       **TINY), x)
  assert frozen(m) == {k for k in m if k.endswith(("bn/scale", "bn/bias"))
                       and "non_local_block" not in k}
  assert "layer2_0/non_local_block/conv_out/bn/scale" in m
  # CSN's bn_frozen fixes every BatchNorm, with norm_eval only.
  m = frozen_mask(dict(type="ResNet3dCSN", norm_eval=True, bn_frozen=True, **TINY), x)
  assert frozen(m) == {k for k in m if k.endswith(("bn/scale", "bn/bias"))}
  assert not frozen(frozen_mask(dict(type="ResNet3dCSN", bn_frozen=True, **TINY), x))
  m = frozen_mask(dict(type="ResNet3dLayer", depth=18, stage=1, all_frozen=True),
                  jnp.zeros((1, 4, 8, 8, 64)))
  assert all(m.values())


def slowfast_cfg(**slow):
  common = dict(type="resnet3d", depth=50, stage_blocks=(1, 1, 1, 1), conv1_stride_t=1,
                pool1_stride_t=1)
  return dict(type="ResNet3dSlowFast", resample_rate=4, speed_ratio=4, channel_ratio=8,
              slow_pathway=dict(common, lateral=True, base_channels=16, lateral_norm=True,
                                conv1_kernel=(1, 7, 7), inflate=(0, 0, 1, 1), **slow),
              fast_pathway=dict(common, lateral=False, base_channels=2,
                                conv1_kernel=(5, 7, 7)))


def test_slowfast_frozen_stages_freeze_their_laterals_not_the_stems():
  x = jnp.zeros((1, 16, 32, 32, 3))
  m = frozen_mask(slowfast_cfg(frozen_stages=1), x)
  assert frozen(m) == {k for k in m if k.startswith(("slow_path/conv1/", "slow_path/layer1_0/",
                                                     "slow_path/layer1_lateral/"))}
  # In training the frozen stage's BatchNorms (its lateral's too) keep their statistics.
  model = build_model(slowfast_cfg(frozen_stages=1))
  x = rand(2, 16, 32, 32, 3)
  v = init(model, x)
  old, new = flat(v["batch_stats"]["slow_path"]), flat(train_stats(model, v, x)["slow_path"])
  moved = {k.split("/")[0] for k in old if not np.array_equal(old[k], new[k])}
  assert moved == {"conv1_lateral", "layer2_lateral", "layer3_lateral", "layer2_0", "layer3_0",
                   "layer4_0"}


def test_slowfast_accepts_mmaction2_pathway_arguments():
  x = jnp.zeros((1, 1, 16, 32, 32, 3))
  cfg = slowfast_cfg(fusion_kernel=7, pretrained=None, pretrained2d=True)
  model = build_model(dict(type="Recognizer3D", backbone=dict(cfg, pretrained=None),
                           cls_head=dict(type="SlowFastHead", in_channels=512 + 64,
                                         num_classes=3)))
  p = flat(abstract(model, x)["params"])
  assert p["backbone/slow_path/conv1_lateral/conv/kernel"].shape == (7, 1, 1, 2, 4)
  assert "backbone/slow_path/layer1_lateral/bn/scale" in p  # lateral_norm
  assert "backbone/slow_path/layer4_lateral/conv/kernel" not in p
  assert jax.eval_shape(lambda: model.apply(init(model, x), x)).shape == (1, 1, 3)


def test_csn_recognizer_chunks_test_views_without_changing_scores():
  """ircsn configs test with max_testing_views: views go through the backbone in chunks."""
  cfg = dict(type="Recognizer3D",
             backbone=dict(type="ResNet3dCSN", with_pool2=False, **TINY),
             cls_head=dict(type="I3DHead", num_classes=3, in_channels=128),
             test_cfg=dict(average_clips="prob", max_testing_views=2))
  x = rand(1, 3, 4, 16, 16, 3)
  model, plain = build_model(cfg), build_model(dict(cfg, test_cfg=dict(average_clips="prob")))
  v = init(model, x)
  chunked = jax.jit(lambda v, x: model.apply(v, x))(v, x)
  np.testing.assert_allclose(chunked, jax.jit(lambda v, x: plain.apply(v, x))(v, x),
                             rtol=1e-5, atol=1e-5)
