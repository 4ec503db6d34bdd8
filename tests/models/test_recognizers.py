import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.models import tiny
from vjax.models import average_clips, build_model
from vjax.models.backbones.resnet3d_slowfast import temporal_resample


def init(model, x):
  return model.init({"params": jax.random.key(0), "dropout": jax.random.key(1)}, x)


def test_slowfast_output_shape_and_views():
  model = build_model(tiny.slowfast(num_classes=5))
  x = jnp.ones((2, 3, 16, 32, 32, 3))  # 2 videos x 3 views
  variables = init(model, x)
  scores = model.apply(variables, x)
  assert scores.shape == (2, 3, 5)
  assert model.test_scores(scores).shape == (2, 5)


def test_slowfast_pathway_widths_follow_mmaction2():
  # Full-size SlowFast R50: stage-1 of the slow path takes 64 + 2 * 64 / 8 = 80 channels
  # (lateral from the fast path), the head 2048 + 256 = 2304.
  model = build_model(dict(
      type="Recognizer3D",
      backbone=dict(type="ResNet3dSlowFast"),
      cls_head=dict(type="SlowFastHead", in_channels=2304, num_classes=400)))
  shapes = jax.eval_shape(lambda: init(model, jnp.zeros((1, 1, 32, 64, 64, 3))))["params"]
  slow = shapes["backbone"]["slow_path"]
  fast = shapes["backbone"]["fast_path"]
  assert slow["layer1_0"]["conv1"]["conv"]["kernel"].value.shape == (1, 1, 1, 80, 64)
  assert slow["conv1_lateral"]["conv"]["kernel"].value.shape == (5, 1, 1, 8, 16)
  assert slow["layer3_lateral"]["conv"]["kernel"].value.shape == (5, 1, 1, 128, 256)
  assert fast["conv1"]["conv"]["kernel"].value.shape == (5, 7, 7, 3, 8)
  assert shapes["cls_head"]["fc_cls"]["kernel"].value.shape == (2304, 400)
  # Slow pathway res2/res3 are not inflated (1x1x1 first conv), res4/res5 are (3x1x1).
  assert slow["layer2_0"]["conv1"]["conv"]["kernel"].value.shape[:3] == (1, 1, 1)
  assert slow["layer3_0"]["conv1"]["conv"]["kernel"].value.shape[:3] == (3, 1, 1)


def test_tsn_resnet50_parameter_count_matches_torchvision():
  # torchvision's ResNet-50 has 25,557,032 parameters with a 1000-way fc; TSN's 400-way
  # head removes 2048 * 600 + 600 of them.
  model = build_model(dict(type="Recognizer2D", backbone=dict(type="ResNet", depth=50),
                           cls_head=dict(type="TSNHead", num_classes=400, in_channels=2048)))
  shapes = jax.eval_shape(lambda: init(model, jnp.zeros((1, 3, 64, 64, 3))))["params"]
  count = sum(np.prod(p.value.shape) for p in jax.tree.leaves(
      shapes, is_leaf=lambda x: hasattr(x, "value")))
  assert count == 25_557_032 - 2048 * 600 - 600


def test_tsn_consensus_over_segments():
  model = build_model(tiny.tsn(num_classes=4))
  x = jax.random.normal(jax.random.key(2), (2, 3, 32, 32, 3))
  variables = init(model, x)
  scores = model.apply(variables, x)
  assert scores.shape == (2, 1, 4)
  # Segment order does not matter to an average consensus.
  permuted = model.apply(variables, x[:, ::-1])
  np.testing.assert_allclose(scores, permuted, rtol=1e-5, atol=1e-5)


def test_temporal_resample_matches_nearest_interpolation():
  x = jnp.arange(32)[None, :, None]
  # torch interpolate(mode='nearest', scale_factor=1/8) picks floor(i * 8), i < floor(32/8).
  np.testing.assert_array_equal(temporal_resample(x, 8)[0, :, 0], [0, 8, 16, 24])
  np.testing.assert_array_equal(temporal_resample(jnp.arange(30)[None, :, None], 8)[0, :, 0],
                                [0, 8, 16])
  assert temporal_resample(x, 1).shape == x.shape


def test_average_clips_modes():
  scores = jnp.array([[[1.0, 0.0], [3.0, 0.0]]])  # 1 sample, 2 views
  np.testing.assert_allclose(average_clips(scores, "score"), [[2.0, 0.0]])
  p1, p2 = jax.nn.softmax(jnp.array([1.0, 0.0])), jax.nn.softmax(jnp.array([3.0, 0.0]))
  np.testing.assert_allclose(average_clips(scores, "prob"), [(p1 + p2) / 2], rtol=1e-6)
  with pytest.raises(ValueError, match="average_clips"):
    average_clips(scores, "mean")


def test_batchnorm_train_updates_running_stats_eval_uses_them():
  model = build_model(tiny.tsn())
  x = jax.random.normal(jax.random.key(0), (2, 3, 32, 32, 3)) * 3 + 1
  variables = init(model, x)
  _, new = model.apply(variables, x, train=True, mutable=["batch_stats"],
                       rngs={"dropout": jax.random.key(0)})
  before = variables["batch_stats"]["backbone"]["conv1"]["bn"]
  after = new["batch_stats"]["backbone"]["conv1"]["bn"]
  assert not np.allclose(before["mean"], after["mean"])
  # Eval output depends only on running statistics: the batch composition does not matter.
  out_pair = model.apply(variables, x)
  out_single = model.apply(variables, x[:1])
  np.testing.assert_allclose(out_pair[:1], out_single, rtol=1e-5, atol=1e-5)


def test_unknown_model_type_names_closest():
  with pytest.raises(KeyError, match="ResNet3dSlowFast"):
    build_model(dict(type="ResNet3dSlowfast"))


def test_feature_extraction_returns_pooled_backbone_features():
  # MMAction2: 3D features are pooled to 1 per view (pathways concatenated) and averaged over
  # views; 2D features are pooled and averaged over every frame of the video.
  cfg = tiny.slowfast(num_classes=5)
  x = jax.random.normal(jax.random.key(2), (2, 3, 16, 32, 32, 3))
  model = build_model(cfg)
  variables = init(model, x)
  got = model.apply(variables, x, method=model.extract_features).mean(1)
  slow, fast = build_model(cfg["backbone"]).apply(
      {k: v["backbone"] for k, v in variables.items()}, x.reshape((6,) + x.shape[2:]))
  expected = jnp.concatenate([slow.mean((1, 2, 3)), fast.mean((1, 2, 3))], -1)
  expected = expected.reshape(2, 3, -1).mean(1)
  assert got.shape == (2, 16 * 32 + 2 * 32)
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
  # The plain forward still scores.
  assert model.apply(variables, x, train=True, rngs={"dropout": jax.random.key(0)},
                     mutable=["batch_stats"])[0].shape == (2, 3, 5)

  cfg2 = tiny.tsn(num_classes=5)
  x2 = jax.random.normal(jax.random.key(3), (2, 4, 32, 32, 3))
  model2 = build_model(cfg2)
  variables2 = init(model2, x2)
  got2 = model2.apply(variables2, x2, method=model2.extract_features).mean(1)
  fmap = build_model(cfg2["backbone"]).apply(
      {k: v["backbone"] for k, v in variables2.items()}, x2.reshape((8, 32, 32, 3)))
  np.testing.assert_allclose(got2, fmap.mean((1, 2)).reshape(2, 4, -1).mean(1), rtol=1e-5,
                             atol=1e-6)
