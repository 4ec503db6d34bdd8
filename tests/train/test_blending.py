import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from tests.models import tiny
from vjax.models import build_model
from vjax.train import mesh as mesh_lib
from vjax.train.blending import build_blending
from vjax.train.state import create_state
from vjax.train.step import make_train_step

K = 10


def _batch(n=8, shape=(1, 3, 6, 7, 3), seed=0):
  """Distinct labels so every soft target row names which sample was mixed in."""
  rng = np.random.default_rng(seed)
  return (jnp.asarray(rng.normal(size=(n,) + shape), jnp.float32),
          jnp.asarray(rng.permutation(K)[:n], jnp.int32))


def _partner(targets, labels, i):
  """(own weight, partner index) read off sample i's soft target."""
  row = np.asarray(targets[i])
  lab = np.asarray(labels)
  own = row[lab[i]]
  others = [j for j in range(len(lab)) if j != i and row[lab[j]] > 0]
  return own, (others[0] if others else i)


@pytest.mark.parametrize("typ", ["MixupBlending", "CutmixBlending"])
def test_soft_targets_are_distributions_over_the_batch_labels(typ):
  imgs, labels = _batch()
  blend = build_blending(dict(type=typ, num_classes=K, alpha=1.0), group_size=8)
  _, targets = blend(jax.random.key(3), imgs, labels)
  assert targets.shape == (8, K)
  np.testing.assert_allclose(np.asarray(targets).sum(1), 1.0, atol=1e-6)
  unused = np.setdiff1d(np.arange(K), np.asarray(labels))
  assert np.all(np.asarray(targets)[:, unused] == 0)


def test_mixup_images_mix_by_the_target_weights():
  imgs, labels = _batch()
  blend = build_blending(dict(type="MixupBlending", num_classes=K, alpha=1.0), group_size=8)
  mixed, targets = blend(jax.random.key(1), imgs, labels)
  lams = set()
  for i in range(8):
    own, j = _partner(targets, labels, i)
    lams.add(round(float(own), 5) if j != i else None)
    want = own * imgs[i] + (1 - own) * imgs[j] if j != i else imgs[i]
    np.testing.assert_allclose(mixed[i], want, atol=1e-5)
  assert len(lams - {None}) <= 2  # One lam per group (lam and 1 - lam only if it is 0.5).


def test_cutmix_pastes_one_box_and_weights_by_its_area():
  imgs, labels = _batch(shape=(1, 2, 12, 16, 3))
  blend = build_blending(dict(type="CutmixBlending", num_classes=K, alpha=1.0), group_size=8)
  for seed in range(4):
    mixed, targets = blend(jax.random.key(seed), imgs, labels)
    changed = np.asarray(jnp.any(mixed != imgs, axis=(1, 2, 5)))  # (N, H, W)
    box = changed.any(0)
    if not box.any():
      continue
    ys, xs = np.nonzero(box)
    area = (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)
    assert box.sum() == area  # A rectangle.
    for i in range(8):
      own, j = _partner(targets, labels, i)
      if j == i:
        continue
      np.testing.assert_allclose(own, 1 - area / (12 * 16), atol=1e-6)
      inside = box[None, None, :, :, None]
      np.testing.assert_array_equal(mixed[i], np.where(inside[0], imgs[j], imgs[i]))


@pytest.mark.parametrize("typ", ["MixupBlending", "CutmixBlending"])
def test_blending_stays_within_per_device_groups(typ):
  imgs, labels = _batch()
  blend = build_blending(dict(type=typ, num_classes=K, alpha=1.0), group_size=2)
  for seed in range(5):
    _, targets = blend(jax.random.key(seed), imgs, labels)
    for i in range(8):
      _, j = _partner(targets, labels, i)
      assert j // 2 == i // 2


@pytest.mark.parametrize("typ", ["MixupBlending", "CutmixBlending"])
def test_sharded_blending_equals_single_device(typ):
  imgs, labels = _batch()
  blend = build_blending(dict(type=typ, num_classes=K, alpha=0.4), group_size=2)
  one = jax.jit(blend)(jax.random.key(7), imgs, labels)
  mesh = mesh_lib.make_mesh((("data", -1),), jax.devices()[:4])
  bs = mesh_lib.batch_sharding(mesh)
  with mesh:
    four = jax.jit(blend, in_shardings=(None, bs, bs))(jax.random.key(7), imgs, labels)
  for a, b in zip(one, four):
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_build_blending_errors():
  assert build_blending(None, 8) is None
  with pytest.raises(KeyError, match="CutmixBlending"):
    build_blending(dict(type="Cutmix", num_classes=3), 8)
  with pytest.raises(KeyError, match="num_classes"):
    build_blending(dict(type="MixupBlending"), 8)
  with pytest.raises(TypeError, match="beta"):
    build_blending(dict(type="MixupBlending", num_classes=3, beta=1), 8)


def test_train_step_with_mixup_trains():
  model_cfg = dict(tiny.slowfast(dropout_ratio=0.0),
                   train_cfg=dict(blending=dict(type="MixupBlending", num_classes=5, alpha=0.2)))
  model = build_model(model_cfg)
  tx = optax.sgd(0.05, momentum=0.9)
  mesh = mesh_lib.make_mesh((("data", -1),), jax.devices()[:1])
  shape = (1, 16, 32, 32, 3)
  state, shardings = create_state(model, tx, mesh, jnp.zeros((1,) + shape), seed=0)
  task = tiny.task(model_cfg, videos_per_device=4)  # blends within groups of 4
  assert task.blending is not None
  step = jax.jit(make_train_step(task, model, tx, lambda s: 0.05))
  rng = np.random.default_rng(0)
  batch = {"imgs": jnp.asarray(rng.integers(0, 256, (8,) + shape), jnp.uint8) / 64,
           "label": jnp.asarray(np.arange(8) % 5, jnp.int32)}
  losses = []
  for _ in range(6):
    state, metrics = step(state, batch)
    losses.append(float(metrics["loss"]))
  assert np.all(np.isfinite(losses))
  assert losses[-1] < losses[0], losses
