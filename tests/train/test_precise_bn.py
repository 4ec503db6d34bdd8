"""PreciseBN (MMAction2's precise_bn, fvcore's update_bn_stats): BN running statistics become
the plain mean over batches of each batch's mean and unbiased variance, computed in train mode
with fixed parameters; eval-mode BN layers keep theirs."""

from __future__ import annotations

import flax.linen as nn
import jax
import numpy as np
import optax

from vjax.models.layers.norm import BatchNorm
from vjax.train import mesh as mesh_lib
from vjax.train import precise_bn
from vjax.train.state import create_state

EPS = 1e-5


class TwoBN(nn.Module):
  """Dense -> BN -> relu -> Dense -> BN, and a third BN in eval mode (as ``norm_eval``)."""

  @nn.compact
  def __call__(self, x, train=False):
    h = BatchNorm(use_running_average=not train, epsilon=EPS, name="bn1")(
        nn.Dense(4, name="fc1")(x))
    h = nn.relu(h)
    h = BatchNorm(use_running_average=not train, epsilon=EPS, name="bn2")(
        nn.Dense(3, name="fc2")(h))
    return BatchNorm(use_running_average=True, name="frozen_bn")(h)


class ToyTask:
  """The one task method PreciseBN calls."""

  def batch_statistics(self, model, variables, batch, key):
    _, new = model.apply(variables, batch["x"], train=True, mutable=["batch_stats"])
    return new["batch_stats"]


def batch_moments(h):
  """What PyTorch's BN stores with momentum=1.0: the mean and the unbiased variance."""
  return h.mean(0), h.var(0, ddof=1)


def test_precise_bn_averages_each_batch_statistics():
  mesh = mesh_lib.make_mesh((("data", -1),), jax.devices()[:8])
  model = TwoBN()
  state, shardings = create_state(model, optax.sgd(0.1), mesh, np.zeros((1, 5), np.float32), 0)
  # Running statistics that must not leak into the result (PreciseBN uses no momentum).
  stale = jax.tree.map(lambda x: x + 7.0, state.batch_stats)
  state = state.replace(batch_stats=jax.device_put(stale, shardings.batch_stats))
  rng = np.random.default_rng(0)
  xs = [rng.normal(size=(16, 5)).astype(np.float32) * (i + 1) + i for i in range(3)]
  batches = [{"x": jax.device_put(x, mesh_lib.batch_sharding(mesh))} for x in xs]

  acc = precise_bn.make_accumulator(ToyTask(), model, mesh, shardings)
  with mesh:
    out = precise_bn.recompute(state, acc, batches).batch_stats

  p = jax.device_get(state.params)
  expected = {"bn1": [], "bn2": []}
  for x in xs:  # the forward by hand, each BN normalising with its batch's own statistics
    h1 = x @ p["fc1"]["kernel"] + p["fc1"]["bias"]
    m1, v1 = batch_moments(h1)
    expected["bn1"].append((m1, v1))
    y1 = (h1 - m1) / np.sqrt(h1.var(0) + EPS) * p["bn1"]["scale"] + p["bn1"]["bias"]
    h2 = np.maximum(y1, 0) @ p["fc2"]["kernel"] + p["fc2"]["bias"]
    expected["bn2"].append(batch_moments(h2))
  for name, moments in expected.items():
    np.testing.assert_allclose(out[name]["mean"], np.mean([m for m, _ in moments], 0),
                               rtol=1e-5, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(out[name]["var"], np.mean([v for _, v in moments], 0),
                               rtol=1e-5, atol=1e-6, err_msg=name)
  # An eval-mode BN (norm_eval) is not a training-mode layer: it keeps its statistics.
  np.testing.assert_array_equal(out["frozen_bn"]["mean"], stale["frozen_bn"]["mean"])
  np.testing.assert_array_equal(out["frozen_bn"]["var"], stale["frozen_bn"]["var"])
