"""torch.optim's Adam, AdamW(amsgrad) and SGD(nesterov) with mmcv's param groups, as
MMAction2 0.24.1 configs use them.

Goldens: tests/golden/optim/steps.{npz,json}, written by torch.optim and mmcv's runner
(tests/reference/make_golden_optim_steps.py)."""

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from tests.conftest import ROOT
from vjax.train.optim import make_optimizer

GOLDEN = Path(ROOT, "tests", "golden", "optim")
STEPS = np.load(GOLDEN / "steps.npz")
META = json.loads((GOLDEN / "steps.json").read_text())

# torch name -> vjax path (elementwise optimizers: the arrays keep torch's layout).
PATHS = {"a.weight": ("a", "kernel"), "a.bias": ("a", "bias"), "b.weight": ("b", "kernel")}


def nest(flat):
  out = {}
  for (module, leaf), v in flat.items():
    out.setdefault(module, {})[leaf] = v
  return out


@pytest.mark.parametrize("name", list(META["optimizers"]["configs"]))
def test_optimizers_match_torch_with_param_groups(name):
  # torch.optim.<type> with the two param groups mmcv's default constructor builds for
  # paramwise_cfg=dict(bias_lr_mult=2, bias_decay_mult=0.5), fed the same gradients.
  cfg = dict(META["optimizers"]["configs"][name], paramwise_cfg=META["optimizers"]["paramwise_cfg"])
  if "betas" in cfg:
    cfg["betas"] = tuple(cfg["betas"])
  tx = make_optimizer(cfg, None, lambda _: cfg["lr"])
  params = nest({PATHS[k]: jnp.asarray(STEPS[f"init/{k}"]) for k in PATHS})
  state = tx.init(params)
  update = jax.jit(tx.update)
  for t in range(META["optimizers"]["steps"]):
    grads = nest({PATHS[k]: jnp.asarray(STEPS[f"grads/{k}"][t]) for k in PATHS})
    updates, state = update(grads, state, params)
    params = optax.apply_updates(params, updates)
    for k, (module, leaf) in PATHS.items():
      # float32 both sides; measured max abs difference 6e-8 over the six steps.
      np.testing.assert_allclose(params[module][leaf], STEPS[f"{name}/{k}"][t], rtol=0,
                                 atol=1e-6, err_msg=f"{name} {k} step {t}")


def test_torch_nesterov_formula():
  # torch.optim.SGD(nesterov=True), dampening 0: buf = m * buf + g'; p -= lr * (g' + m * buf),
  # with g' = g + wd * p (buf starts at g' on the first step, the same as from zero).
  tx = make_optimizer(dict(type="SGD", lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True),
                      None, lambda _: 0.1)
  p, st = {"w": jnp.array([1.0, -2.0])}, None
  st = tx.init(p)
  w, buf = np.array([1.0, -2.0]), np.zeros(2)
  for g in ([0.5, 0.25], [-1.0, 2.0], [0.1, 0.3]):
    upd, st = tx.update({"w": jnp.array(g)}, st, p)
    p = optax.apply_updates(p, upd)
    gp = np.array(g) + 0.01 * w
    buf = 0.9 * buf + gp
    w = w - 0.1 * (gp + 0.9 * buf)
    np.testing.assert_allclose(p["w"], w, rtol=1e-6)


def test_adam_and_nesterov_config_errors():
  sched = lambda _: 0.1  # noqa: E731
  with pytest.raises(KeyError, match="Unsupported Adam arguments: \\['maximize'\\]"):
    make_optimizer(dict(type="Adam", lr=0.1, maximize=True), None, sched)
  with pytest.raises(ValueError, match="nesterov=True needs a momentum"):
    make_optimizer(dict(type="SGD", lr=0.1, nesterov=True), None, sched)
