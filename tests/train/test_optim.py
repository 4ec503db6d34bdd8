import json
import math
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from tests.conftest import ROOT
from vjax.convert.mmaction2_config import convert
from vjax.models import build_model
from vjax.train import optim
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


# ------------------------------------------------------------------ param groups (mmcv parity)
GROUPS = json.loads(Path(ROOT, "tests", "golden", "optim", "param_groups.json").read_text())


@pytest.mark.parametrize("name", list(GROUPS))
def test_param_multipliers_match_mmcv_constructors(name):
  # Golden: mmcv's build_optimizer on the MMAction2 model (tests/reference/make_golden_optim.py).
  case = GROUPS[name]
  model = build_model(dict(convert(dict(model=case["model"])).fields)["model"])
  x = jnp.zeros((1, 4, 32, 32, 3))
  params = jax.eval_shape(
      lambda: nn.unbox(model.init({"params": jax.random.key(0)}, x))["params"])
  mults = optim.param_multipliers(case["optimizer"], params)
  got = {"module." + optim._torch_name(path): list(m) for path, m in mults.items()}
  assert got == case["groups"]
  assert len({tuple(m) for m in got.values()}) >= 3  # the case exercises several groups


def test_sgd_applies_group_lr_and_decay_as_torch_param_groups():
  # torch SGD per group: g' = g + wd_g * p; buf = m * buf + g'; p -= lr_g * buf.
  params = {"backbone": {"conv1": {"conv": {"kernel": jnp.ones((1, 1, 2, 2))}},
                         "bn": {"scale": jnp.ones(2), "bias": jnp.ones(2)}},
            "cls_head": {"fc_cls": {"kernel": jnp.ones((2, 3)), "bias": jnp.ones(3)}}}
  grads = jax.tree.map(lambda p: 0.5 * jnp.ones_like(p), params)
  cfg = dict(type="SGD", lr=0.1, momentum=0.9, weight_decay=0.01,
             constructor="TSMOptimizerConstructor", paramwise_cfg=dict(fc_lr5=True))
  tx = make_optimizer(cfg, None, lambda _: 0.1)
  st, p = tx.init(params), params
  for _ in range(3):
    upd, st = tx.update(grads, st, p)
    p = optax.apply_updates(p, upd)
  groups = {("backbone", "conv1", "conv", "kernel"): (1, 1), ("backbone", "bn", "scale"): (1, 0),
            ("backbone", "bn", "bias"): (1, 0), ("cls_head", "fc_cls", "kernel"): (5, 1),
            ("cls_head", "fc_cls", "bias"): (10, 0)}
  for path, (lr_mult, decay_mult) in groups.items():
    w, buf = 1.0, 0.0
    for _ in range(3):
      buf = 0.9 * buf + 0.5 + 0.01 * decay_mult * w
      w -= 0.1 * lr_mult * buf
    leaf = p
    for k in path:
      leaf = leaf[k]
    np.testing.assert_allclose(leaf, w, rtol=1e-6, err_msg=str(path))


def test_adamw_group_multipliers_scale_decoupled_decay_and_step():
  # torch AdamW per group: p -= lr_g * (adam_dir + wd_g * p); adam_dir is +-1 on step one.
  params = {"a": {"kernel": jnp.full((2, 2), 2.0)}, "cls_token": jnp.full((3,), 2.0)}
  grads = jax.tree.map(jnp.ones_like, params)
  cfg = dict(type="AdamW", lr=0.1, weight_decay=0.5,
             paramwise_cfg=dict(custom_keys={"cls_token": dict(lr_mult=2.0, decay_mult=0.0)}))
  tx = make_optimizer(cfg, None, lambda _: 0.1)
  upd, _ = tx.update(grads, tx.init(params), params)
  np.testing.assert_allclose(upd["a"]["kernel"], -0.1 * (1 + 0.5 * 2.0), rtol=1e-5)
  np.testing.assert_allclose(upd["cls_token"], -0.1 * 2.0 * 1.0, rtol=1e-5)


def test_param_group_config_errors_name_the_problem():
  with pytest.raises(KeyError, match="Unsupported optimizer constructor 'Foo'"):
    optim.param_multipliers(dict(constructor="Foo"), {"a": {"kernel": jnp.ones((1, 1))}})
  with pytest.raises(KeyError, match="paramwise_cfg keys \\['bias_mult'\\]"):
    optim.param_multipliers(dict(paramwise_cfg=dict(bias_mult=2)), {"a": {"bias": jnp.ones(1)}})
  with pytest.raises(KeyError, match="needs the head's classifier"):
    optim.param_multipliers(dict(constructor="TSMOptimizerConstructor",
                                 paramwise_cfg=dict(fc_lr5=True)),
                            {"a": {"kernel": jnp.ones((1, 1))}})
  with pytest.raises(ValueError, match="no rule for parameter cls_token"):
    optim.param_multipliers(dict(constructor="TSMOptimizerConstructor"),
                            {"cls_token": jnp.ones(3)})


def test_custom_keys_with_dots_as_pairs_match_as_mmcv_does():
  # TimeSformer's config: keys with a leading dot (ConfigDict keys cannot hold dots, so vjax
  # configs give them as pairs) match nothing, since mmcv matches from the model's root.
  params = {"backbone": {"cls_token": jnp.ones(3), "norm": {"scale": jnp.ones(3)}}}
  pairs = [[".backbone.cls_token", dict(decay_mult=0.0)], ["norm", dict(lr_mult=3.0)]]
  mults = optim.param_multipliers(dict(paramwise_cfg=dict(custom_keys=pairs)), params)
  assert mults[("backbone", "cls_token")] == (1.0, 1.0)
  assert mults[("backbone", "norm", "scale")] == (3.0, 1.0)
  cfg = convert(dict(optimizer=dict(type="SGD", lr=0.1, paramwise_cfg=dict(
      custom_keys={".backbone.cls_token": dict(decay_mult=0.0)}))))
  assert dict(cfg.fields)["optimizer"]["paramwise_cfg"]["custom_keys"] == [
      [".backbone.cls_token", {"decay_mult": 0.0}]]
