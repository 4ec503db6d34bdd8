"""MMAction2 0.24.1 / mmcv 1.7 optimizer options: torch's Adam, AdamW(amsgrad) and SGD(nesterov)
with param groups, mmcv's GradientCumulativeOptimizerHook, and frozen parameters without
optimizer state.

Goldens: tests/golden/optim/steps.{npz,json}, written by torch.optim and mmcv's runner
(tests/reference/make_golden_optim_steps.py)."""

import json
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from tests.conftest import ROOT
from vjax.tasks.base import Task
from vjax.train import mesh as mesh_lib
from vjax.train import optim
from vjax.train.optim import make_optimizer, make_schedule
from vjax.train.state import TrainState, create_state
from vjax.train.step import make_train_step

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
      # float32 both sides; measured max abs difference 4.8e-7 (SGD nesterov, AdamW amsgrad).
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


# ----------------------------------------------------------------------- gradient accumulation
class Fc(nn.Module):
  """torch.nn.Linear(6, 3) named ``fc``: no BatchNorm, so accumulation is exact."""

  @nn.compact
  def __call__(self, x, train=False):
    return nn.Dense(3, name="fc")(x)


class FcTask:
  """The two task methods the train step calls: cross-entropy of ``fc(x)`` against ``y``."""

  def loss(self, model, variables, batch, key):
    logits = model.apply({"params": variables["params"]}, batch["x"])
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"]).mean()
    return loss, {}, variables["batch_stats"]

  def frozen_mask(self, model, params):
    return None


def fc_state(tx, weight, bias):
  params = {"fc": {"kernel": jnp.asarray(weight).T, "bias": jnp.asarray(bias)}}
  return TrainState(step=jnp.zeros((), jnp.int32), params=params, batch_stats={},
                    opt_state=tx.init(params), rng=jax.random.key_data(jax.random.key(0)))


@pytest.mark.parametrize("name", list(META["runner"]["optimizers"]))
def test_cumulative_iters_match_mmcv_runner(name):
  # mmcv's EpochBasedRunner, GradientCumulativeOptimizerHook(cumulative_iters=4, grad_clip),
  # lr warmup per iteration + step per epoch, 2 epochs x 5 iterations: groups end at
  # iterations 3 and 7 (across the epoch boundary); 8-9 are an incomplete group whose losses
  # are divided by 2 and which steps at the last iteration.
  run = META["runner"]
  iters_per_epoch, total = run["iters_per_epoch"], run["iters"]
  opt_cfg = dict(run["optimizers"][name])
  schedule = make_schedule(run["lr_config"], opt_cfg["lr"], iters_per_epoch=iters_per_epoch,
                           total_iters=total)
  tx = make_optimizer(opt_cfg, run["optimizer_config"], schedule, total_iters=total)
  state = fc_state(tx, STEPS["runner/init/weight"], STEPS["runner/init/bias"])
  step = jax.jit(make_train_step(FcTask(), Fc(), tx, schedule))
  golden = {k: STEPS[f"runner/{name}/{k}"] for k in ("lr", "weight", "bias", "loss", "grad_norm")}
  n = run["optimizer_config"]["cumulative_iters"]
  before = state.params
  for i in range(total):
    b = i % iters_per_epoch
    batch = {"x": jnp.asarray(STEPS["runner/x"][b]), "y": jnp.asarray(STEPS["runner/y"][b])}
    state, metrics = step(state, batch)
    # The lr this iteration runs with (mmcv: set by LrUpdaterHook.before_train_iter from
    # runner.iter); the bias group's is twice it (bias_lr_mult), checked through the params.
    np.testing.assert_allclose(metrics["lr"], golden["lr"][i, 0], rtol=1e-6, err_msg=f"lr {i}")
    np.testing.assert_allclose(metrics["loss"], golden["loss"][i], rtol=1e-5, err_msg=f"loss {i}")
    if not np.isnan(golden["grad_norm"][i]):  # a group's last iteration: the pre-clip norm
      np.testing.assert_allclose(metrics["grad_norm"], golden["grad_norm"][i], rtol=1e-5)
      assert golden["grad_norm"][i] > run["optimizer_config"]["grad_clip"]["max_norm"]
    np.testing.assert_allclose(state.params["fc"]["kernel"].T, golden["weight"][i], rtol=0,
                               atol=2e-6, err_msg=f"weight after iteration {i}")
    np.testing.assert_allclose(state.params["fc"]["bias"], golden["bias"][i], rtol=0, atol=2e-6,
                               err_msg=f"bias after iteration {i}")
    steps_now = (i + 1) % n == 0 or i + 1 == total
    assert steps_now != jax.tree.all(jax.tree.map(jnp.array_equal, before, state.params)), i
    before = state.params
  assert int(state.step) == total
  assert optim.accumulated_grad_norm(state.opt_state) is not None


@pytest.mark.parametrize("opt_cfg", [
    dict(type="SGD", lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True,
         paramwise_cfg=dict(bias_lr_mult=2.0)),
    dict(type="Adam", lr=0.01, weight_decay=0.01),
    dict(type="AdamW", lr=0.01, weight_decay=0.05, amsgrad=True),
], ids=["sgd_nesterov", "adam", "adamw_amsgrad"])
def test_micro_steps_equal_one_step_on_the_concatenated_batch(opt_cfg):
  # Without BatchNorm, N micro-batches of B (each loss a mean over B, divided by N) give the
  # gradient of the mean over the N*B batch; clipping (active here) applies to that sum.
  n, b, groups = 4, 2, 2
  rng = np.random.default_rng(0)
  x = rng.normal(size=(groups, n * b, 6)).astype(np.float32) * 3
  y = rng.integers(0, 3, size=(groups, n * b)).astype(np.int32)
  w0, b0 = rng.normal(size=(3, 6)).astype(np.float32), rng.normal(size=3).astype(np.float32)
  schedule = make_schedule(dict(policy="fixed"), opt_cfg["lr"], iters_per_epoch=1,
                           total_iters=1)
  clip = dict(grad_clip=dict(max_norm=0.3, norm_type=2))

  def run(hook_cfg, batches, total):
    tx = make_optimizer(opt_cfg, hook_cfg, schedule, total_iters=total)
    state = fc_state(tx, w0, b0)
    step = jax.jit(make_train_step(FcTask(), Fc(), tx, schedule))
    norms = []
    for batch in batches:
      state, metrics = step(state, batch)
      norms.append(float(metrics["grad_norm"]))
    return state.params, norms

  big, big_norms = run(clip, [{"x": x[g], "y": y[g]} for g in range(groups)], groups)
  micro = [{"x": x[g, i * b:(i + 1) * b], "y": y[g, i * b:(i + 1) * b]}
           for g in range(groups) for i in range(n)]
  acc, acc_norms = run(dict(type="GradientCumulativeOptimizerHook", cumulative_iters=n, **clip),
                       micro, groups * n)
  assert min(big_norms) > 0.3  # clipping is active
  # The logged norm at a group's last micro-step is the accumulated gradient's.
  np.testing.assert_allclose(acc_norms[n - 1::n], big_norms, rtol=1e-5)
  for path in (("fc", "kernel"), ("fc", "bias")):
    # float32 summation order differs (measured max difference 7.5e-9).
    np.testing.assert_allclose(acc[path[0]][path[1]], big[path[0]][path[1]], rtol=0, atol=1e-6)


def test_optimizer_config_options_and_errors():
  sched = lambda _: 0.1  # noqa: E731
  # MMAction2's usual optimizer_config: grad_clip only (None allowed), no type.
  for hook in (dict(grad_clip=None), dict(type="OptimizerHook", grad_clip=dict(max_norm=1.0)),
               None):
    tx = make_optimizer(dict(type="SGD", lr=0.1), hook, sched)
    assert optim.accumulated_grad_norm(tx.init({"w": jnp.ones(2)})) is None
  tx = make_optimizer(dict(type="SGD", lr=0.1), dict(type="GradientCumulativeOptimizerHook",
                                                     cumulative_iters=1), sched)
  assert optim.accumulated_grad_norm(tx.init({"w": jnp.ones(2)})) is None  # plain SGD
  with pytest.raises(KeyError, match="Unsupported OptimizerHook arguments: \\['cumulative_iters"):
    make_optimizer(dict(type="SGD", lr=0.1), dict(cumulative_iters=2), sched)
  with pytest.raises(KeyError, match="optimizer_config type 'Fp16OptimizerHook'"):
    make_optimizer(dict(type="SGD", lr=0.1), dict(type="Fp16OptimizerHook"), sched)
  with pytest.raises(ValueError, match="positive int"):
    make_optimizer(dict(type="SGD", lr=0.1), dict(type="GradientCumulativeOptimizerHook",
                                                  cumulative_iters=0), sched)


# --------------------------------------------------------------------------- frozen parameters
class Tiny(nn.Module):
  """Logically partitioned params (as X3D's, TimeSformer's), so create_state sees boxes; the
  stem and ``mid``'s bias are frozen."""

  @nn.compact
  def __call__(self, x, train=False):
    dense = lambda f, name: nn.Dense(  # noqa: E731
        f, name=name, kernel_init=nn.with_logical_partitioning(
            nn.initializers.lecun_normal(), ("embed", "mlp")))
    h = nn.relu(dense(8, "stem")(x.reshape(x.shape[0], -1)))
    h = nn.relu(dense(8, "mid")(h))
    return nn.Dense(3, name="head")(h)

  def frozen_mask(self, params):
    return {module: {leaf: module == "stem" or (module, leaf) == ("mid", "bias")
                     for leaf in leaves} for module, leaves in params.items()}


class TinyTask(FcTask):
  frozen_mask = Task.frozen_mask

  def loss(self, model, variables, batch, key):
    return super().loss(model, variables, dict(batch, x=batch["imgs"]), key)


def array_bytes(tree):
  return sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(tree))


@pytest.mark.parametrize("type_, cumulative, per_param", [
    ("Adam", 1, 2), ("SGD", 1, 1), ("SGD", 2, 2)])
def test_frozen_params_have_no_optimizer_state_and_stay_bit_identical(type_, cumulative,
                                                                       per_param):
  # per_param: arrays of the parameter's size the state keeps per trainable parameter (Adam:
  # mu, nu; SGD: momentum; with accumulation also the accumulated gradient).
  model, task = Tiny(), TinyTask()
  mesh = mesh_lib.make_mesh((("data", -1),), jax.devices()[:2])
  opt_cfg = dict(type=type_, lr=0.05, weight_decay=0.1, paramwise_cfg=dict(bias_lr_mult=2.0),
                 **(dict(momentum=0.9) if type_ == "SGD" else {}))
  hook = dict(type="GradientCumulativeOptimizerHook", cumulative_iters=cumulative,
              grad_clip=dict(max_norm=0.5))
  sched = lambda _: 0.05  # noqa: E731
  x = jnp.zeros((1, 4, 3))
  rng = np.random.default_rng(0)
  batch = {"imgs": rng.normal(size=(4, 4, 3)).astype(np.float32) * 3,
           "y": np.array([0, 1, 2, 0], np.int32)}

  def train(frozen_mask):
    tx = make_optimizer(opt_cfg, hook, sched, total_iters=4, frozen_mask=frozen_mask)
    state, shardings = create_state(model, tx, mesh, x, seed=0)
    bs = mesh_lib.batch_sharding(mesh)
    step = jax.jit(make_train_step(task, model, tx, sched), in_shardings=(shardings, bs),
                   out_shardings=(shardings, mesh_lib.replicated(mesh)))
    start = state
    with mesh:
      for _ in range(4):
        state, metrics = step(state, {k: jax.device_put(v, bs) for k, v in batch.items()})
    return start, state, metrics

  start, masked, metrics = train(lambda p: task.frozen_mask(model, p))
  _, unmasked, metrics_unmasked = train(None)  # the step still zeroes and keeps frozen leaves
  flat = jax.tree_util.tree_flatten_with_path(start.params)[0]
  frozen = {jax.tree_util.keystr(k) for k, _ in flat
            if "stem" in jax.tree_util.keystr(k) or "['mid']['bias']" == jax.tree_util.keystr(k)}
  assert len(frozen) == 3
  trainable_bytes = sum(v.size * 4 for k, v in flat if jax.tree_util.keystr(k) not in frozen)
  scalars = [x for x in jax.tree.leaves(masked.opt_state) if x.ndim == 0]
  assert array_bytes(masked.opt_state) == per_param * trainable_bytes + array_bytes(scalars)
  assert array_bytes(unmasked.opt_state) > array_bytes(masked.opt_state)
  for (path, before), after, other in zip(flat, jax.tree.leaves(masked.params),
                                          jax.tree.leaves(unmasked.params)):
    key = jax.tree_util.keystr(path)
    if key in frozen:
      np.testing.assert_array_equal(after, before, err_msg=key)
      np.testing.assert_array_equal(other, before, err_msg=key)
    else:
      assert not np.array_equal(after, before), key
      np.testing.assert_allclose(after, other, rtol=0, atol=1e-7, err_msg=key)
  # Clipping and the logged norm count the trainable gradients only, as without the mask.
  np.testing.assert_allclose(metrics["grad_norm"], metrics_unmasked["grad_norm"], rtol=1e-6)


def test_checkpoint_mid_group_with_frozen_params_resumes_exactly(tmp_path):
  # The accumulated gradient is part of the state (mmcv drops a resumed run's partial group);
  # frozen leaves are empty nodes in the optimizer state and survive the round trip.
  from vjax.train.checkpoint import Checkpointer, load_params  # pylint: disable=g-import-not-at-top
  from vjax.train.state import abstract_state  # pylint: disable=g-import-not-at-top
  model, task = Tiny(), TinyTask()
  mesh = mesh_lib.make_mesh((("data", -1),), jax.devices()[:2])
  sched = lambda s: 0.05 * (1 + s)  # noqa: E731
  tx = make_optimizer(dict(type="Adam", lr=0.05, weight_decay=0.1),
                      dict(type="GradientCumulativeOptimizerHook", cumulative_iters=3,
                           grad_clip=dict(max_norm=0.5)), sched, total_iters=5,
                      frozen_mask=lambda p: task.frozen_mask(model, p))
  state, shardings = create_state(model, tx, mesh, jnp.zeros((1, 4, 3)), seed=0)
  bs = mesh_lib.batch_sharding(mesh)
  step = jax.jit(make_train_step(task, model, tx, sched), in_shardings=(shardings, bs),
                 out_shardings=(shardings, mesh_lib.replicated(mesh)))
  rng = np.random.default_rng(1)
  batches = [{"imgs": jax.device_put(rng.normal(size=(4, 4, 3)).astype(np.float32), bs),
              "y": jax.device_put(rng.integers(0, 3, 4).astype(np.int32), bs)} for _ in range(5)]
  ckpt = Checkpointer(str(tmp_path))
  with mesh:
    for i, batch in enumerate(batches):
      if i == 2:  # after two of a group's three iterations
        ckpt.save(i, state, None, force=True)
        ckpt.wait()
      state, _ = step(state, batch)
    fresh, _ = create_state(model, tx, mesh, jnp.zeros((1, 4, 3)), seed=1)
    resumed, _ = ckpt.restore(2, abstract_state(fresh, shardings))
    assert jnp.any(optim.accumulated_grad_norm(resumed.opt_state) > 0)
    for batch in batches[2:]:
      resumed, _ = step(resumed, batch)
  jax.tree.map(np.testing.assert_array_equal, jax.device_get(resumed), jax.device_get(state))
  # load_from reads the params of such a checkpoint whatever the optimizer state's layout.
  params, _ = load_params(str(tmp_path / "checkpoints" / "2"), abstract_state(fresh, shardings))
  jax.tree.map(np.testing.assert_array_equal, jax.device_get(params),
               jax.device_get(ckpt.restore(2, abstract_state(fresh, shardings))[0].params))
  ckpt.close()


def test_recognizer_frozen_stages_get_no_optimizer_state():
  # A real model: X3D (logically partitioned params) with frozen_stages=1, the task's mask.
  from tests.models import tiny  # pylint: disable=g-import-not-at-top
  from tests.models.test_zoo3d_more import small_x3d  # pylint: disable=g-import-not-at-top
  from vjax.models import build_model  # pylint: disable=g-import-not-at-top
  cfg = small_x3d(frozen_stages=1)
  model, task = build_model(cfg), tiny.task(cfg)
  tx = make_optimizer(dict(type="SGD", lr=0.1, momentum=0.9, weight_decay=1e-4),
                      dict(grad_clip=dict(max_norm=40)), lambda _: 0.1,
                      frozen_mask=lambda p: task.frozen_mask(model, p))
  mesh = mesh_lib.make_mesh((("data", -1),), jax.devices()[:1])
  state, _ = create_state(model, tx, mesh, jnp.zeros((1, 1, 2, 16, 16, 3)), seed=0)
  mask = task.frozen_mask(model, state.params)
  frozen = [p for p, f in zip(jax.tree.leaves(state.params), jax.tree.leaves(mask)) if f]
  trainable = [p for p, f in zip(jax.tree.leaves(state.params), jax.tree.leaves(mask)) if not f]
  assert frozen and trainable
  # One momentum buffer per trainable parameter, none for the frozen ones; and the lr count.
  scalars = [x for x in jax.tree.leaves(state.opt_state) if x.ndim == 0]
  assert len(scalars) == 1
  assert array_bytes(state.opt_state) == array_bytes(trainable) + array_bytes(scalars)
