import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from vjax.train.optim import make_optimizer, make_schedule


def test_step_policy_with_linear_warmup_matches_mmcv_formula():
  # mmcv: regular lr per epoch; warmup per iteration: lr * (1 - (1 - i/W) * (1 - ratio)).
  s = make_schedule(dict(policy="step", step=[2, 4], warmup="linear", warmup_iters=5,
                         warmup_ratio=0.1), 0.1, iters_per_epoch=10, total_iters=60)
  assert math.isclose(float(s(0)), 0.1 * 0.1, rel_tol=1e-6)
  assert math.isclose(float(s(2)), 0.1 * (1 - (1 - 2 / 5) * 0.9), rel_tol=1e-6)
  assert math.isclose(float(s(5)), 0.1, rel_tol=1e-6)
  assert math.isclose(float(s(19)), 0.1, rel_tol=1e-6)
  assert math.isclose(float(s(20)), 0.01, rel_tol=1e-6)   # epoch 2
  assert math.isclose(float(s(45)), 0.001, rel_tol=1e-5)  # epoch 4


def test_cosine_by_epoch_with_warmup_by_epoch():
  s = make_schedule(dict(policy="CosineAnnealing", min_lr=0, warmup="linear",
                         warmup_by_epoch=True, warmup_iters=2), 0.4,
                    iters_per_epoch=10, total_iters=100)
  # Warmup lasts 2 epochs = 20 iterations, on top of the epoch-wise cosine value.
  cos_epoch1 = 0.4 * 0.5 * (1 + math.cos(math.pi * 1 / 10))
  assert math.isclose(float(s(15)), cos_epoch1 * (1 - (1 - 15 / 20) * 0.9), rel_tol=1e-5)
  cos_epoch5 = 0.4 * 0.5 * (1 + math.cos(math.pi * 5 / 10))
  assert math.isclose(float(s(55)), cos_epoch5, rel_tol=1e-5)
  assert math.isclose(float(s(59)), cos_epoch5, rel_tol=1e-5)  # constant within an epoch


def test_sgd_matches_torch_update_rule():
  # torch.optim.SGD: g' = clip(g) + wd * p; buf = m * buf + g'; p -= lr * buf.
  params = {"w": jnp.array([1.0, -2.0])}
  grads = {"w": jnp.array([30.0, 40.0])}  # norm 50 -> clipped to 40
  tx = make_optimizer(dict(type="SGD", lr=0.1, momentum=0.9, weight_decay=0.01),
                      dict(grad_clip=dict(max_norm=40, norm_type=2)), lambda _: 0.1)
  st = tx.init(params)
  p = params
  buf = np.zeros(2)
  pw = np.array([1.0, -2.0])
  for _ in range(2):
    upd, st = tx.update(grads, st, p)
    p = optax.apply_updates(p, upd)
    g = np.array([30.0, 40.0]) * 40 / 50 + 0.01 * pw
    buf = 0.9 * buf + g
    pw = pw - 0.1 * buf
  np.testing.assert_allclose(p["w"], pw, rtol=1e-6)


def test_unknown_optimizer_and_policy_are_clear_errors():
  with pytest.raises(KeyError, match="Unsupported optimizer type 'Adagrad'"):
    make_optimizer(dict(type="Adagrad", lr=0.1), None, lambda _: 0.1)
  with pytest.raises(KeyError, match="Unsupported SGD arguments"):
    make_optimizer(dict(type="SGD", lr=0.1, momentun=0.9), None, lambda _: 0.1)
  s = make_schedule(dict(policy="poly"), 0.1, iters_per_epoch=1, total_iters=1)
  with pytest.raises(KeyError, match="policy 'poly'"):
    s(0)
