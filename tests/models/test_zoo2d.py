"""2D-family models (TSM, TIN, TANet, MobileNetV2(TSM), audio ResNet, TPN, TRN) and
MMAction2's freezing semantics, on tiny widths and resolutions.

Numerical checks are computed independently here: numpy re-implementations of the
temporal ops, or an equivalent path through the same weights.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from tests.models import tiny
from vjax.models import build_model
from vjax.models.layers.non_local import NonLocal3d
from vjax.models.layers.tam import TAM
from vjax.models.layers.temporal_shift import temporal_shift
from vjax.models.layers.tin_shift import linear_sampler, tin_shift
from vjax.models.heads.base import cls_loss as head_loss
from vjax.train import step as step_lib
from vjax.train.state import TrainState

KEY = jax.random.key(0)


def init(model, *args, **kwargs):
  """Variables of ``model``, unboxed; jitted (eager init compiles every initializer apart)."""
  return nn.unbox(jax.jit(lambda *a: model.init({"params": KEY, "dropout": KEY}, *a, **kwargs))(
      *args))


def apply(model, variables, *args, train=False, mutable=False, **kwargs):
  """``model.apply``, jitted: eager apply compiles every op apart, several times slower."""
  run = jax.jit(lambda v, a, kw: model.apply(v, *a, train=train, mutable=mutable, **kw))
  return run(variables, args, kwargs)


def paths(tree):
  return {"/".join(str(k.key) for k in p)
          for p, _ in jax.tree_util.tree_flatten_with_path(tree)[0]}


def shapes(model, *inputs):
  """Parameter shapes by path, traced only (no compile)."""
  tree = jax.eval_shape(lambda: init(model, *inputs))["params"]
  return {"/".join(str(k.key) for k in p): v.shape
          for p, v in jax.tree_util.tree_flatten_with_path(tree)[0]}


def rand(*shape, seed=1):
  return jax.random.normal(jax.random.key(seed), shape)


def tsm(num_classes=5, segments=4, backbone=None, head=None):
  return dict(type="Recognizer2D",
              backbone=dict(dict(type="ResNetTSM", depth=18, base_channels=8,
                                 num_segments=segments), **(backbone or {})),
              cls_head=dict(dict(type="TSMHead", num_classes=num_classes, in_channels=64,
                                 num_segments=segments, dropout_ratio=0.0), **(head or {})),
              test_cfg=dict(average_clips="score"))


def backbone_features(cfg, variables, imgs):
  """The recognizer's backbone alone on (N, S, ...) inputs -> per-frame features."""
  backbone = build_model(cfg["backbone"])
  sub = {k: v["backbone"] for k, v in variables.items() if "backbone" in v}
  return apply(backbone, sub, imgs.reshape((-1,) + imgs.shape[2:]))


# ---------------------------------------------------------------- temporal shift (TSM)


def numpy_shift(x, segments, div):
  """TSM's shift written per frame: channels [0, f) read the next segment, [f, 2f) the
  previous one, zeros past the clip ends; the rest stay."""
  x = np.asarray(x)
  out = x.copy()
  f = x.shape[-1] // div
  for v in range(x.shape[0] // segments):
    for t in range(segments):
      i = v * segments + t
      out[i, ..., :f] = x[i + 1, ..., :f] if t + 1 < segments else 0
      out[i, ..., f:2 * f] = x[i - 1, ..., f:2 * f] if t > 0 else 0
  return out


@pytest.mark.parametrize("div", [4, 8])
def test_temporal_shift_matches_numpy(div):
  x = rand(2 * 3, 2, 2, 16)  # 2 videos x 3 segments
  np.testing.assert_array_equal(temporal_shift(x, 3, div), numpy_shift(x, 3, div))
  # Exactly 2 / div of the channels move.
  moved = np.any(np.asarray(temporal_shift(x, 3, div)) != np.asarray(x), axis=(0, 1, 2))
  assert moved.sum() == 2 * (16 // div)


def test_tsm_folds_frames_into_clips_of_num_segments():
  cfg = tsm()
  model = build_model(cfg)
  x = rand(2, 8, 32, 32, 3)  # 2 videos x 2 clips x 4 segments
  variables = init(model, x)
  scores = apply(model, variables, x)
  assert scores.shape == (2, 2, 5)  # one row per clip of num_segments frames
  assert model.test_scores(scores).shape == (2, 5)
  # Shifts stay inside a clip: changing clip 1 of video 0 leaves clip 0 and video 1 alone.
  changed = apply(model, variables, x.at[0, 4:].set(rand(4, 32, 32, 3, seed=7)))
  np.testing.assert_allclose(changed[0, 0], scores[0, 0], rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(changed[1], scores[1], rtol=1e-5, atol=1e-5)
  assert not np.allclose(changed[0, 1], scores[0, 1], atol=1e-4)
  # ... and inside a clip they do mix frames: frame 1 of a clip reaches frame 0's row.
  frames = backbone_features(cfg, variables, x)
  moved = backbone_features(cfg, variables, x.at[0, 1].add(1.0))
  assert not np.allclose(frames[0], moved[0], atol=1e-5)
  np.testing.assert_allclose(frames[4:], moved[4:], rtol=1e-5, atol=1e-5)


def test_tsm_shift_places_follow_mmaction2_paths():
  x = jnp.zeros((1, 2, 32, 32, 3))
  blockres = shapes(build_model(tsm(segments=2)), x)
  assert blockres["backbone/layer1_0/conv1/conv/net/kernel"] == (3, 3, 8, 8)
  assert "backbone/layer1_0/conv1/conv/kernel" not in blockres
  assert "backbone/layer1_0/conv2/conv/kernel" in blockres
  block = shapes(build_model(tsm(segments=2, backbone=dict(shift_place="block"))), x)
  assert block["backbone/layer1_0/net/conv1/conv/kernel"] == (3, 3, 8, 8)
  assert block["backbone/layer2_0/net/downsample/bn/scale"] == (16,)
  # ResNet-101 shifts every other block ("n_round" 2); layer3 has 23 blocks.
  deep = shapes(build_model(tsm(segments=2, backbone=dict(depth=101),
                                head=dict(in_channels=256))), x)
  assert "backbone/layer3_0/conv1/conv/net/kernel" in deep
  assert "backbone/layer3_1/conv1/conv/kernel" in deep
  assert "backbone/layer3_22/conv1/conv/net/kernel" in deep


def test_tsm_temporal_pool_halves_segments():
  cfg = tsm(backbone=dict(temporal_pool=True), head=dict(temporal_pool=True))
  model = build_model(cfg)
  x = rand(1, 4, 32, 32, 3)
  variables = init(model, x)
  assert "layer2" in variables["params"]["backbone"]
  assert "net_0" in variables["params"]["backbone"]["layer2"]
  feats = backbone_features(cfg, variables, x)
  assert feats.shape == (2, 1, 1, 64)  # 4 frames max-pooled (3, stride 2) to 2
  assert apply(model, variables, x).shape == (1, 1, 5)


def test_tsm_non_local_blocks():
  nl = dict(sub_sample=True, use_scale=False, norm_cfg=dict(type="BN3d", requires_grad=True),
            mode="embedded_gaussian")
  cfg = tsm(backbone=dict(depth=50, num_stages=2, out_indices=(1,), strides=(1, 2),
                          dilations=(1, 1), non_local=((0, 0, 0), (1, 0, 1, 0)),
                          non_local_cfg=nl),
            head=dict(in_channels=64))
  model = build_model(cfg)
  x = rand(1, 4, 16, 16, 3)
  variables = init(model, x)
  got = paths(variables["params"]["backbone"])
  assert "layer2_0/block/conv1/conv/net/kernel" in got
  assert "layer2_0/non_local_block/g_0/conv/kernel" in got
  assert "layer2_0/non_local_block/phi_0/conv/bias" in got
  assert "layer2_0/non_local_block/theta/conv/kernel" in got
  assert "layer2_0/non_local_block/conv_out/bn/scale" in got
  assert "layer2_1/conv1/conv/net/kernel" in got
  assert "layer1_0/conv1/conv/net/kernel" in got  # no non-local in stage 1
  assert apply(model, variables, x).shape == (1, 1, 5)


def numpy_non_local(x, p):
  """Embedded-gaussian non-local with spatial sub-sampling, written out in numpy."""
  x = np.asarray(x, np.float64)
  n, t, h, w, c = x.shape

  def proj(name, y):
    return y @ np.asarray(p[name]["conv"]["kernel"])[0, 0, 0] + np.asarray(p[name]["conv"]["bias"])

  def pool(y):
    return y.reshape(n, t, h // 2, 2, w // 2, 2, -1).max(axis=(3, 5))

  g = pool(proj("g_0", x)).reshape(n, -1, c // 2)
  phi = pool(proj("phi_0", x)).reshape(n, -1, c // 2)
  theta = proj("theta", x).reshape(n, -1, c // 2)
  logits = theta @ phi.transpose(0, 2, 1) / np.sqrt(c // 2)
  attn = np.exp(logits - logits.max(-1, keepdims=True))
  attn /= attn.sum(-1, keepdims=True)
  y = (attn @ g).reshape(n, t, h, w, c // 2)
  return x + proj("conv_out", y)


def test_non_local_matches_numpy_and_starts_as_identity():
  x = rand(2, 2, 4, 4, 8)
  block = NonLocal3d(sub_sample=True)
  params = init(block, x)["params"]
  np.testing.assert_allclose(apply(block, {"params": params}, x), x, atol=1e-6)  # zeros_init
  params["conv_out"]["conv"]["kernel"] = rand(1, 1, 1, 4, 8, seed=3)
  np.testing.assert_allclose(apply(block, {"params": params}, x), numpy_non_local(x, params),
                             rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------- TIN


def numpy_roll_shift(x, shift):
  """out[n, t, ..., c] = x[n, t - shift[n, group(c)]], zero outside."""
  x = np.asarray(x)
  out = np.zeros_like(x)
  groups = shift.shape[1]
  per = x.shape[-1] // groups
  for n in range(x.shape[0]):
    for g in range(groups):
      s = int(shift[n, g])
      rolled = np.roll(x[n, ..., g * per:(g + 1) * per], s, axis=0)
      if s > 0:
        rolled[:s] = 0
      elif s < 0:
        rolled[s:] = 0
      out[n, ..., g * per:(g + 1) * per] = rolled
  return out


def test_tin_shift_with_integer_offsets_is_a_zero_filled_roll():
  x = rand(2, 5, 3, 3, 8)
  shift = np.array([[1, -2, 0, 6], [-1, 3, 2, -5]])
  np.testing.assert_array_equal(tin_shift(x, jnp.asarray(shift)), numpy_roll_shift(x, shift))
  # Integer offsets through the interpolating sampler are the same plain shift.
  np.testing.assert_allclose(linear_sampler(x, jnp.asarray(shift, jnp.float32)),
                             numpy_roll_shift(x, shift), atol=1e-6)


def test_tin_fractional_offset_interpolates_and_has_a_gradient():
  x = rand(1, 6, 2, 2, 4)  # one channel per group
  offset = jnp.array([[0.25, -1.5, 2.0, 0.0]])
  # Each group mixes the two integer shifts around its offset: floor with weight
  # 1 - frac, floor + 1 with weight frac.
  lower = numpy_roll_shift(x, np.array([[0, -2, 2, 0]]))
  upper = numpy_roll_shift(x, np.array([[1, -1, 3, 1]]))
  frac = np.array([0.25, 0.5, 0.0, 0.0])
  np.testing.assert_allclose(jax.jit(linear_sampler)(x, offset), (1 - frac) * lower + frac * upper,
                             rtol=1e-5, atol=1e-6)
  grad = jax.jit(jax.grad(lambda o: (linear_sampler(x, o) * x).sum()))(offset)
  assert np.all(np.isfinite(grad)) and np.abs(grad).sum() > 0


def test_tin_backbone_paths_and_shapes():
  cfg = dict(type="Recognizer2D",
             backbone=dict(type="ResNetTIN", depth=18, base_channels=16, num_segments=4,
                           num_stages=2, out_indices=(1,), strides=(1, 2), dilations=(1, 1)),
             cls_head=dict(type="TSMHead", num_classes=3, in_channels=32, num_segments=4,
                           dropout_ratio=0.0),
             test_cfg=dict(average_clips="prob"))
  model = build_model(cfg)
  x = rand(1, 4, 32, 32, 3)
  variables = init(model, x)
  conv1 = variables["params"]["backbone"]["layer1_0"]["conv1"]["conv"]
  folds = 16 // 4
  assert conv1["net2"]["kernel"].shape == (3, 3, 16, 16)
  assert conv1["net1"]["offset_net"]["conv"]["kernel"].shape == (3, folds, 1)
  assert conv1["net1"]["offset_net"]["fc1"]["kernel"].shape == (4, 4)
  np.testing.assert_allclose(conv1["net1"]["offset_net"]["fc2"]["bias"], [0.5108] * 2)
  assert conv1["net1"]["weight_net"]["conv"]["kernel"].shape == (3, folds, 2)
  np.testing.assert_array_equal(conv1["net1"]["weight_net"]["conv"]["bias"], [0, 0])
  assert apply(model, variables, x).shape == (1, 1, 3)


# ---------------------------------------------------------------- TANet / TAM


def numpy_tam(x, p, segments, eps=1e-5):
  """TAM in eval mode with fresh BatchNorm statistics (mean 0, var 1, scale 1, bias 0)."""
  x = np.asarray(x, np.float64)
  n, h, w, c = x.shape
  b = n // segments
  v = x.reshape(b, segments, h, w, c)
  pooled = v.mean(axis=(2, 3))  # (b, t, c)
  g = pooled.transpose(0, 2, 1).reshape(b * c, segments) @ np.asarray(p["G_0"]["kernel"])
  g = np.maximum(g / np.sqrt(1 + eps), 0) @ np.asarray(p["G_3"]["kernel"])
  kernel = np.exp(g) / np.exp(g).sum(-1, keepdims=True)  # (b * c, 3)
  kernel = kernel.reshape(b, c, 3)
  k0 = np.asarray(p["L_0"]["kernel"])  # (3, c, c // 4)
  padded = np.pad(pooled, ((0, 0), (1, 1), (0, 0)))
  local = sum(padded[:, i:i + segments] @ k0[i] for i in range(3))
  local = np.maximum(local / np.sqrt(1 + eps), 0) @ np.asarray(p["L_3"]["kernel"])[0]
  v = v / (1 + np.exp(-local))[:, :, None, None, :]
  vp = np.pad(v, ((0, 0), (1, 1), (0, 0), (0, 0), (0, 0)))
  y = np.zeros_like(v)
  for t in range(segments):
    for i in range(3):  # cross-correlation: out[t] = sum_i k[i] * x[t - 1 + i]
      y[:, t] += vp[:, t + i] * kernel[:, None, None, :, i]
  return y.reshape(n, h, w, c)


def test_tam_matches_numpy():
  x = rand(2 * 4, 3, 3, 8)
  tam = TAM(num_segments=4)
  variables = init(tam, x)
  params = variables["params"]
  params["G_3"]["kernel"] = params["G_3"]["kernel"] * 30  # a peaked, non-uniform kernel
  np.testing.assert_allclose(apply(tam, variables, x), numpy_tam(x, params, 4),
                             rtol=1e-4, atol=1e-5)


def test_tanet_paths_and_per_video_independence():
  cfg = dict(type="Recognizer2D",
             backbone=dict(type="TANet", depth=50, base_channels=8, num_segments=4,
                           num_stages=1, out_indices=(0,), strides=(1,), dilations=(1,)),
             cls_head=dict(type="TSNHead", num_classes=3, in_channels=32, dropout_ratio=0.0),
             test_cfg=dict(average_clips=None))
  model = build_model(cfg)
  x = rand(2, 4, 16, 16, 3)
  variables = init(model, x)
  p = variables["params"]["backbone"]["layer1_0"]
  assert p["block"]["conv1"]["conv"]["kernel"].shape == (1, 1, 8, 8)
  assert p["block"]["downsample"]["conv"]["kernel"].shape == (1, 1, 8, 32)
  assert p["tam"]["G_0"]["kernel"].shape == (4, 8)
  assert p["tam"]["G_1"]["scale"].shape == (8,)
  assert p["tam"]["G_3"]["kernel"].shape == (8, 3)
  assert p["tam"]["L_0"]["kernel"].shape == (3, 8, 2)
  assert p["tam"]["L_3"]["kernel"].shape == (1, 2, 8)
  scores = apply(model, variables, x)
  assert scores.shape == (2, 1, 3)
  np.testing.assert_allclose(apply(model, variables, x[1:]), scores[1:], rtol=1e-5, atol=1e-5)
  with pytest.raises(NotImplementedError, match="Bottleneck"):
    init(build_model(dict(cfg, backbone=dict(cfg["backbone"], depth=18))), x)


# ---------------------------------------------------------------- MobileNetV2


def test_mobilenet_v2_stages_and_tsm_shift_places():
  model = build_model(dict(type="MobileNetV2TSM", widen_factor=0.25, num_segments=2,
                           out_indices=(1, 7)))
  x = rand(2, 32, 32, 3)
  variables = init(model, x)
  p = variables["params"]
  assert p["conv1"]["conv"]["kernel"].shape == (3, 3, 3, 8)
  # layer1_0: expand_ratio 1, so no expand conv and no shift; conv_0 is the depthwise 3x3.
  assert p["layer1_0"]["conv_0"]["conv"]["kernel"].shape == (3, 3, 1, 8)
  # layer2_0 has no shortcut (stride 2): unshifted; layer2_1 has one: its expand conv shifts.
  assert "conv" in p["layer2_0"]["conv_0"]
  assert p["layer2_1"]["conv_0"]["net"]["conv"]["kernel"].shape == (1, 1, 8, 48)
  assert p["layer2_1"]["conv_1"]["conv"]["kernel"].shape == (3, 3, 1, 48)
  assert p["conv2"]["conv"]["kernel"].shape == (1, 1, 80, 1280)
  out1, out7 = apply(model, variables, x)
  assert out1.shape == (2, 8, 8, 8) and out7.shape == (2, 1, 1, 1280)
  # ReLU6 caps activations.
  assert float(out7.max()) <= 6.0
  plain = shapes(build_model(dict(type="MobileNetV2", widen_factor=0.25)), x)
  assert "layer2_1/conv_0/conv/kernel" in plain


# ---------------------------------------------------------------- audio


def test_audio_recognizer_with_resnet_audio():
  cfg = dict(type="AudioRecognizer",
             backbone=dict(type="ResNetAudio", depth=50, pretrained=None, base_channels=4,
                           num_stages=2, factorize=(1, 0)),
             cls_head=dict(type="AudioTSNHead", num_classes=4, in_channels=32,
                           dropout_ratio=0.0),
             test_cfg=dict(average_clips="prob"))
  model = build_model(cfg)
  x = rand(2, 3, 32, 16, 1)  # 2 videos x 3 clips of (time, frequency) spectrograms
  variables = init(model, x)
  p = variables["params"]["backbone"]
  assert p["conv1"]["conv"]["conv_1"]["conv"]["kernel"].shape == (9, 1, 1, 4)
  assert p["conv1"]["conv"]["conv_2"]["conv"]["kernel"].shape == (1, 9, 1, 4)
  assert p["conv1"]["bn"]["scale"].shape == (4,)
  # Factorised stage: conv2 is ConvAudio ('concat', so conv3 reads 2 x planes).
  assert p["layer1_0"]["conv2"]["conv"]["conv_1"]["conv"]["kernel"].shape == (3, 1, 4, 4)
  assert p["layer1_0"]["conv3"]["conv"]["kernel"].shape == (1, 1, 8, 16)
  # Unfactorised stage: a plain 3x3 conv without norm.
  assert p["layer2_0"]["conv2"]["conv"]["kernel"].shape == (3, 3, 8, 8)
  assert "bn" not in p["layer2_0"]["conv2"]
  np.testing.assert_array_equal(p["layer1_0"]["conv3"]["bn"]["scale"], 0)  # zero_init_residual
  scores = apply(model, variables, x)
  assert scores.shape == (2, 3, 4)
  assert model.test_scores(scores).shape == (2, 4)


# ---------------------------------------------------------------- TPN


def tpn_neck(aux_classes=6, scales=(8, 8), in_channels=(128, 256)):
  return dict(type="TPN", in_channels=in_channels, out_channels=128,
              spatial_modulation_cfg=dict(in_channels=in_channels, out_channels=in_channels[1]),
              temporal_modulation_cfg=dict(downsample_scales=scales),
              upsample_cfg=dict(scale_factor=(1, 1, 1)),
              downsample_cfg=dict(downsample_scale=(1, 1, 1)),
              level_fusion_cfg=dict(in_channels=(128, 128), mid_channels=(128, 128),
                                    out_channels=256, downsample_scales=((1, 1, 1), (1, 1, 1))),
              aux_head_cfg=dict(out_channels=aux_classes, loss_weight=0.5))


def tpn_tsm(test_cfg=None):
  return dict(type="Recognizer2D",
              backbone=dict(type="ResNetTSM", depth=18, base_channels=32, num_segments=8,
                            out_indices=(2, 3)),
              neck=tpn_neck(),
              cls_head=dict(type="TPNHead", num_classes=6, in_channels=2048, dropout_ratio=0.5),
              test_cfg=test_cfg or dict(average_clips="prob"))


def test_tpn_with_tsm_paths_aux_loss_and_fcn_test():
  model = build_model(tpn_tsm())
  x = rand(2, 8, 32, 32, 3)
  variables = init(model, x)
  got = paths(variables["params"]["neck"])
  for name in ["spatial_modulation/spatial_modulation_0_0/conv/kernel",
               "temporal_modulation_ops_0/conv/conv/kernel",
               "temporal_modulation_ops_1/conv/conv/kernel",
               "level_fusion_1/downsamples_0/conv/conv/kernel",
               "level_fusion_1/downsamples_1/conv/bn/scale",
               "level_fusion_2/fusion_conv/conv/kernel", "downsample_ops_0/conv/conv/kernel",
               "pyramid_fusion/bn/bias", "aux_head/conv/conv/kernel", "aux_head/fc/kernel"]:
    assert name in got, name
  neck = variables["params"]["neck"]
  # Temporal modulation: grouped (3, 1, 1) conv from the top level's channels (MMAction2).
  assert neck["temporal_modulation_ops_0"]["conv"]["conv"]["kernel"].shape == (3, 1, 1, 8, 128)
  assert neck["level_fusion_1"]["downsamples_0"]["conv"]["conv"]["kernel"].shape == (
      1, 1, 1, 4, 128)
  assert neck["pyramid_fusion"]["conv"]["kernel"].shape == (1, 1, 1, 512, 2048)
  assert neck["aux_head"]["fc"]["kernel"].shape == (256, 6)

  scores = apply(model, variables, x)
  assert scores.shape == (2, 1, 6)
  # The train forward returns the auxiliary head's scores; the loss adds 0.5 x their
  # cross-entropy as MMAction2's loss_aux.
  labels = jnp.array([1, 4])
  outputs, _ = jax.jit(lambda v: model.apply(v, x, rngs={"dropout": KEY},
                                             mutable=["batch_stats"],
                                             method=model.forward_train))(variables)
  train_scores, aux = outputs["cls_score"], outputs["aux_cls_score"]
  assert aux.shape == (2, 6)
  main = optax.softmax_cross_entropy_with_integer_labels(train_scores[:, 0], labels).mean()
  aux_ce = optax.softmax_cross_entropy_with_integer_labels(aux, labels).mean()
  terms = tiny.task(tpn_tsm()).loss_terms(outputs, labels, jnp.ones(2, bool), {})
  np.testing.assert_allclose(terms["loss_cls"] + terms["loss_aux"], main + 0.5 * aux_ce,
                             rtol=1e-5)

  # Fully-convolutional test: each clip of num_segments frames is a view; one clip scores
  # as the plain test path does, and flip equals flipping the input.
  fcn = build_model(tpn_tsm(dict(average_clips="prob", fcn_test=True)))
  two_clips = jnp.concatenate([x[:1], x[1:]], axis=1)  # 1 video x 16 frames
  fcn_scores = apply(fcn, variables, two_clips)
  assert fcn_scores.shape == (1, 2, 6)
  np.testing.assert_allclose(fcn_scores[0], scores[:, 0], rtol=1e-4, atol=1e-5)
  assert fcn.test_scores(fcn_scores).shape == (1, 6)
  flip = build_model(tpn_tsm(dict(average_clips="prob", fcn_test=True, flip=True)))
  np.testing.assert_allclose(apply(flip, variables, two_clips[:, :, :, ::-1]), fcn_scores,
                             rtol=1e-4, atol=1e-5)


def test_tpn_with_3d_backbone():
  cfg = dict(type="Recognizer3D",
             backbone=dict(type="ResNet3d", depth=50, stage_blocks=(1, 1, 1, 1), base_channels=8,
                           out_indices=(2, 3), conv1_kernel=(1, 7, 7), inflate=(0, 0, 1, 1)),
             neck=tpn_neck(aux_classes=5, scales=(4, 4)),
             cls_head=dict(type="TPNHead", num_classes=5, in_channels=2048),
             test_cfg=dict(average_clips="prob"))
  model = build_model(cfg)
  x = rand(1, 2, 8, 32, 32, 3)  # 1 video x 2 clips
  variables = init(model, x)
  assert apply(model, variables, x).shape == (1, 2, 5)


def test_tpn_head_rejected_without_fcn_mode():
  cfg = dict(type="Recognizer2D", backbone=dict(type="ResNet", depth=18, base_channels=8),
             cls_head=dict(type="TSNHead", num_classes=3, in_channels=64),
             test_cfg=dict(average_clips="prob", fcn_test=True))
  with pytest.raises(NotImplementedError, match="fcn_test"):
    build_model(cfg).test_scores(jnp.ones((1, 1, 3)))


# ---------------------------------------------------------------- TRN


def trn(relation_type, segments):
  return dict(type="TRNHead", num_classes=4, in_channels=16, num_segments=segments,
              relation_type=relation_type, hidden_dim=8, dropout_ratio=0.0)


def test_trn_relation_modules():
  x = rand(2 * 4, 2, 2, 16)
  head = build_model(trn("TRNMultiScale", 4))
  variables = init(head, x)
  p = variables["params"]["consensus"]
  assert p["fc_fusion_scales_0_1"]["kernel"].shape == (4 * 8, 256)
  assert p["fc_fusion_scales_1_1"]["kernel"].shape == (3 * 8, 256)
  assert p["fc_fusion_scales_2_3"]["kernel"].shape == (256, 4)
  assert variables["params"]["fc_cls"]["kernel"].shape == (16, 8)
  out = apply(head, variables, x)
  assert out.shape == (2, 4)
  np.testing.assert_array_equal(out, apply(head, variables, x))  # fixed draw at test time
  # Training draws 3 of the 4 triples per batch: different keys, different sums.
  draw = jax.jit(lambda k: head.apply(variables, x, train=True, rngs={"dropout": k}))
  draws = {float(draw(jax.random.key(s))[0, 0]) for s in range(6)}
  assert len(draws) > 1
  # With 3 segments every tuple is used: nothing is drawn, train == test.
  x3 = rand(2 * 3, 2, 2, 16)
  head3 = build_model(trn("TRNMultiScale", 3))
  v3 = init(head3, x3)
  np.testing.assert_allclose(apply(head3, v3, x3, train=True, rngs={"dropout": KEY}),
                             apply(head3, v3, x3), rtol=1e-5, atol=1e-6)

  single = build_model(trn("TRN", 4))
  vs = init(single, x)
  assert vs["params"]["consensus"]["classifier_1"]["kernel"].shape == (4 * 8, 512)
  assert vs["params"]["consensus"]["classifier_3"]["kernel"].shape == (512, 4)
  # TRN's MLP sees relu(features) in segment order.
  feat = x.mean(axis=(1, 2)) @ vs["params"]["fc_cls"]["kernel"] + vs["params"]["fc_cls"]["bias"]
  c = vs["params"]["consensus"]
  h = jax.nn.relu(jax.nn.relu(feat.reshape(2, -1)) @ c["classifier_1"]["kernel"] +
                  c["classifier_1"]["bias"])
  np.testing.assert_allclose(apply(single, vs, x),
                             h @ c["classifier_3"]["kernel"] + c["classifier_3"]["bias"],
                             rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- freezing


def tsn(backbone=None):
  return dict(type="Recognizer2D",
              backbone=dict(type="ResNet", depth=18, base_channels=8, **(backbone or {})),
              cls_head=dict(type="TSNHead", num_classes=3, in_channels=64, dropout_ratio=0.0),
              test_cfg=dict(average_clips=None))


def one_sgd_step(model_cfg, x):
  model = build_model(model_cfg)
  variables = init(model, x)
  tx = optax.chain(optax.add_decayed_weights(1e-2), optax.sgd(0.1, momentum=0.9))
  state = TrainState(step=jnp.zeros((), jnp.int32), params=variables["params"],
                     batch_stats=variables["batch_stats"], opt_state=tx.init(variables["params"]),
                     rng=jax.random.key_data(KEY))
  step = jax.jit(step_lib.make_train_step(tiny.task(model_cfg), model, tx, lambda s: 0.1))
  new_state, _ = step(state, {"imgs": x, "label": jnp.array([0, 2])})
  return state, new_state


def changed(before, after):
  return {k for k in before if not all(
      np.array_equal(a, b) for a, b in zip(jax.tree.leaves(before[k]), jax.tree.leaves(after[k])))}


def test_frozen_stages_keep_params_and_statistics():
  x = jnp.asarray(np.random.default_rng(0).integers(0, 255, (2, 2, 32, 32, 3)), jnp.uint8)
  before, after = one_sgd_step(tsn(dict(frozen_stages=1)), x)
  moved = changed(before.params["backbone"], after.params["backbone"])
  assert moved == {"layer2_0", "layer2_1", "layer3_0", "layer3_1", "layer4_0", "layer4_1"}
  assert changed(before.params, after.params) == {"backbone", "cls_head"}
  # Frozen stages run their BatchNorms in eval mode: statistics stay too.
  stats = changed(before.batch_stats["backbone"], after.batch_stats["backbone"])
  assert stats == moved


def test_norm_eval_keeps_batch_stats_and_uses_them():
  model = build_model(tsn(dict(norm_eval=True)))
  x = rand(2, 2, 32, 32, 3) * 3 + 1
  variables = init(model, x)
  out, new = apply(model, variables, x, train=True, mutable=["batch_stats"])
  for a, b in zip(jax.tree.leaves(variables["batch_stats"]), jax.tree.leaves(new["batch_stats"])):
    np.testing.assert_array_equal(a, b)
  np.testing.assert_allclose(out, apply(model, variables, x), rtol=1e-5, atol=1e-5)


def test_partial_bn_trains_only_the_first_batchnorm():
  model = build_model(tsn(dict(partial_bn=True)))
  x = rand(2, 2, 32, 32, 3) * 3 + 1
  variables = init(model, x)
  _, new = apply(model, variables, x, train=True, mutable=["batch_stats"])
  assert changed(variables["batch_stats"]["backbone"], new["batch_stats"]["backbone"]) == {"conv1"}
  mask = model.frozen_mask(variables["params"])["backbone"]
  assert not mask["conv1"]["bn"]["scale"] and not mask["conv1"]["conv"]["kernel"]
  assert mask["layer1_0"]["conv1"]["bn"]["scale"] and mask["layer4_0"]["downsample"]["bn"]["bias"]
  assert not mask["layer1_0"]["conv1"]["conv"]["kernel"]
  assert not any(jax.tree.leaves(model.frozen_mask(variables["params"])["cls_head"]))


def test_frozen_masks_of_other_backbones():
  def mask(cfg, x):
    model = build_model(cfg)
    return model.frozen_mask(jax.eval_shape(lambda: init(model, x))["params"])["backbone"]

  x = jnp.zeros((1, 2, 32, 32, 3))
  m = mask(tsn(dict(norm_cfg=dict(type="BN2d", requires_grad=False))), x)
  assert m["layer3_1"]["conv2"]["bn"]["scale"] and not m["layer3_1"]["conv2"]["conv"]["kernel"]
  m = mask(dict(type="Recognizer2D",
                backbone=dict(type="MobileNetV2TSM", widen_factor=0.25, num_segments=2,
                              frozen_stages=8),
                cls_head=dict(type="TSMHead", num_classes=3, in_channels=1280, num_segments=2)),
           x)
  assert all(jax.tree.leaves(m))
  m = mask(tsm(segments=2, backbone=dict(frozen_stages=2, temporal_pool=True),
               head=dict(temporal_pool=True)), x)
  assert all(jax.tree.leaves(m["layer2"])) and not any(jax.tree.leaves(m["layer3_0"]))
  m = mask(dict(type="Recognizer2D",
                backbone=dict(type="TANet", depth=50, base_channels=8, num_segments=4,
                              num_stages=1, out_indices=(0,), strides=(1,), dilations=(1,),
                              partial_bn=True),
                cls_head=dict(type="TSNHead", num_classes=3, in_channels=32)),
           jnp.zeros((1, 4, 16, 16, 3)))
  # partial_bn freezes BatchNorm2d only; TAM's BatchNorm1d keeps training.
  assert m["layer1_0"]["block"]["conv2"]["bn"]["scale"]
  assert not m["layer1_0"]["tam"]["G_1"]["scale"]


def test_label_smoothing_applies_to_multi_class_heads_only():
  scores = rand(4, 5)
  labels = jnp.array([0, 1, 2, 3])
  plain = head_loss(dict(num_classes=5), scores, labels)
  assert head_loss(dict(num_classes=5, label_smooth_eps=0.2), scores, labels) == plain
  onehot = jax.nn.one_hot(labels, 5)
  smoothed = head_loss(dict(num_classes=5, label_smooth_eps=0.2, multi_class=True), scores,
                       onehot)
  np.testing.assert_allclose(
      smoothed, optax.softmax_cross_entropy(scores, onehot * 0.8 + 0.04).mean(), rtol=1e-6)


def test_max_testing_views_must_keep_whole_clips_for_temporal_backbones():
  cfg = dict(tsm(), test_cfg=dict(average_clips="score", max_testing_views=3))
  with pytest.raises(ValueError, match="multiple of the backbone's num_segments=4"):
    init(build_model(cfg), jnp.zeros((1, 8, 32, 32, 3)))


def test_train_step_logs_every_loss_term():
  # TPN's auxiliary loss comes back from the train forward explicitly; the step logs each
  # term under MMAction2's name and their sum as the loss.
  cfg = dict(tpn_tsm(), cls_head=dict(tpn_tsm()["cls_head"], dropout_ratio=0.0))
  model = build_model(cfg)
  x = jnp.asarray(np.random.default_rng(1).integers(0, 255, (2, 8, 32, 32, 3)), jnp.uint8)
  params = init(model, x)
  tx = optax.sgd(0.1)
  state = TrainState(step=jnp.zeros((), jnp.int32), params=params["params"],
                     batch_stats=params["batch_stats"], opt_state=tx.init(params["params"]),
                     rng=jax.random.key_data(KEY))
  _, metrics = jax.jit(step_lib.make_train_step(tiny.task(cfg), model, tx, lambda s: 0.1))(
      state, {"imgs": x, "label": jnp.array([0, 1])})
  assert {"loss", "loss_cls", "loss_aux", "top1_acc", "grad_norm", "lr"} <= set(metrics)
  assert float(metrics["loss_aux"]) > 0
  np.testing.assert_allclose(metrics["loss"], metrics["loss_cls"] + metrics["loss_aux"],
                             rtol=1e-6)
