"""Test-time view aggregation as MMAction2's recognizers do it: ``average_clips`` modes on
hand-computed values, several score rows per video from a 2D head, and ``max_testing_views``
chunking that leaves scores unchanged."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.models import tiny
from vjax.models import average_clips, build_model


def _init(model, x):
  return model.init({"params": jax.random.key(0), "dropout": jax.random.key(1)}, x)


def test_average_clips_by_hand():
  scores = jnp.array([[[1.0, 0.0, -1.0], [3.0, 1.0, 2.0]],
                      [[0.0, 0.0, 0.0], [2.0, 0.0, 0.0]]])  # 2 videos x 2 views x 3 classes
  np.testing.assert_allclose(average_clips(scores, "score"),
                             [[2.0, 0.5, 0.5], [1.0, 0.0, 0.0]])
  e = np.exp
  p_a = np.array([e(1), 1, e(-1)]) / (e(1) + 1 + e(-1))
  p_b = np.array([e(3), e(1), e(2)]) / (e(3) + e(1) + e(2))
  p_d = np.array([e(2), 1, 1]) / (e(2) + 2)
  np.testing.assert_allclose(average_clips(scores, "prob"),
                             [(p_a + p_b) / 2, (np.full(3, 1 / 3) + p_d) / 2], rtol=1e-6)
  one_view = scores[:, :1]
  np.testing.assert_array_equal(average_clips(one_view, None), scores[:, 0])
  with pytest.raises(ValueError, match="one row per view"):
    average_clips(scores, None)
  with pytest.raises(ValueError, match="'score', 'prob' or None"):
    average_clips(scores, "mean")


def test_test_cfg_requires_average_clips_and_rejects_unimplemented_modes():
  scores = jnp.ones((1, 2, 3))
  with pytest.raises(KeyError, match="average_clips"):
    build_model(dict(tiny.tsn(), test_cfg=dict(max_testing_views=2))).test_scores(scores)
  with pytest.raises(NotImplementedError, match="fcn_test"):
    build_model(dict(tiny.tsn(), test_cfg=dict(average_clips="prob",
                                                fcn_test=True))).test_scores(scores)


def test_2d_head_with_several_rows_per_video_averages_them_as_crops():
  # Identity consensus: one score row per frame, which MMAction2 averages as num_crops.
  cfg = dict(tiny.tsn(num_classes=4), test_cfg=dict(average_clips="prob"))
  cfg["cls_head"] = dict(cfg["cls_head"], consensus=dict(type="Identity"))
  model = build_model(cfg)
  x = jax.random.normal(jax.random.key(3), (2, 3, 16, 16, 3))
  variables = _init(model, x)
  scores = np.asarray(model.apply(variables, x))
  assert scores.shape == (2, 3, 4)
  # Each row is that frame alone: video 1, frame 2 equals the frame run as its own video.
  np.testing.assert_allclose(scores[1, 2], np.asarray(model.apply(variables, x[1:, 2:]))[0, 0],
                             rtol=1e-5, atol=1e-6)
  probs = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
  np.testing.assert_allclose(model.test_scores(jnp.asarray(scores)), probs.mean(1), rtol=1e-5)


@pytest.mark.parametrize("kind", ["3d", "2d"])
def test_max_testing_views_does_not_change_scores(kind):
  if kind == "3d":  # SlowFast: a tuple of features; 5 views in chunks of 2 (last one padded)
    cfg = tiny.slowfast(num_classes=5)
    x = jax.random.normal(jax.random.key(0), (2, 5, 8, 16, 16, 3))
  else:  # TSN: 5 frames per video in chunks of 2 through the 2D backbone
    cfg = tiny.tsn(num_classes=5)
    x = jax.random.normal(jax.random.key(0), (2, 5, 16, 16, 3))
  plain = build_model(cfg)
  chunked = build_model(dict(cfg, test_cfg=dict(cfg["test_cfg"], max_testing_views=2)))
  variables = _init(plain, x[:1])
  # Same parameter tree: a checkpoint serves both, and the chunked path initialises alike.
  assert jax.tree.structure(_init(chunked, x[:1])) == jax.tree.structure(variables)
  apply_plain = jax.jit(lambda v, x: plain.test_scores(plain.apply(v, x)))
  apply_chunked = jax.jit(lambda v, x: chunked.test_scores(chunked.apply(v, x)))
  # The chunked path really loops: one while loop over ceil(5 / 2) chunks.
  assert "while" in apply_chunked.lower(variables, x).as_text()
  np.testing.assert_allclose(apply_chunked(variables, x), apply_plain(variables, x),
                             rtol=1e-5, atol=1e-5)
  with pytest.raises(ValueError, match="max_testing_views must be a positive int"):
    build_model(dict(cfg, test_cfg=dict(cfg["test_cfg"], max_testing_views=0))).apply(
        variables, x)
