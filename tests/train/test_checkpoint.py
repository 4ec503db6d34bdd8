import os
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from tests.conftest import ROOT
from tests.models import tiny
from tests.train.test_step import NORM
from vjax.models import build_model
from vjax.train import mesh as mesh_lib
from vjax.train.checkpoint import Checkpointer, load_params
from vjax.train.state import abstract_state, create_state
from vjax.train.step import make_train_step


def setup(mesh):
  model = build_model(tiny.tsn(num_classes=5))
  tx = optax.chain(optax.add_decayed_weights(1e-4), optax.sgd(0.05, momentum=0.9))
  state, shardings = create_state(model, tx, mesh, jnp.zeros((1, 3, 32, 32, 3)), seed=0)
  bs = mesh_lib.batch_sharding(mesh)
  step = jax.jit(make_train_step(tiny.task(tiny.tsn(num_classes=5), NORM), model, tx,
                                 lambda s: 0.05),
                 in_shardings=(shardings, bs), out_shardings=(shardings, mesh_lib.replicated(mesh)))
  rng = np.random.default_rng(0)
  batch = {"imgs": jax.device_put(rng.integers(0, 256, (8, 3, 32, 32, 3), dtype=np.uint8), bs),
           "label": jax.device_put((np.arange(8) % 5).astype(np.int32), bs)}
  return state, shardings, step, batch


def test_save_restore_gives_identical_next_step(tmp_path):
  mesh = mesh_lib.make_mesh((("data", -1),), jax.devices()[:2])
  state, shardings, step, batch = setup(mesh)
  with mesh:
    for _ in range(2):
      state, _ = step(state, batch)
    ckpt = Checkpointer(str(tmp_path), max_to_keep=2)
    ckpt.save(2, state, {"step": 2, "note": "iterator"}, force=True)
    ckpt.wait()
    _, expected = step(state, batch)

    fresh, _, _, _ = setup(mesh)
    assert ckpt.latest_step() == 2
    restored, data_state = ckpt.restore(2, abstract_state(fresh, shardings))
    assert data_state == {"step": 2, "note": "iterator"}
    assert int(restored.step) == 2
    _, got = step(restored, batch)
  ckpt.close()
  assert float(got["loss"]) == float(expected["loss"])
  np.testing.assert_array_equal(np.asarray(got["grad_norm"]), np.asarray(expected["grad_norm"]))


def test_restore_onto_a_different_mesh(tmp_path):
  mesh2 = mesh_lib.make_mesh((("data", -1),), jax.devices()[:2])
  state, shardings, step, batch = setup(mesh2)
  ckpt = Checkpointer(str(tmp_path))
  ckpt.save(0, state, None, force=True)
  ckpt.wait()
  mesh8 = mesh_lib.make_mesh((("data", -1),), jax.devices()[:8])
  fresh8, shardings8, _, _ = setup(mesh8)
  restored, _ = ckpt.restore(0, abstract_state(fresh8, shardings8))
  ckpt.close()
  leaf = jax.tree.leaves(restored.params)[0]
  assert len(leaf.sharding.device_set) == 8
  jax.tree.map(np.testing.assert_array_equal, jax.device_get(restored.params),
               jax.device_get(state.params))


def test_best_checkpoint_keeps_the_best_metric(tmp_path):
  mesh = mesh_lib.make_mesh((("data", -1),), jax.devices()[:1])
  state, _, _, _ = setup(mesh)
  ckpt = Checkpointer(str(tmp_path), best_metric="top1_acc")
  assert ckpt.save_best(1, state, {"top1_acc": 0.3})
  assert ckpt.save_best(2, state, {"top1_acc": 0.5})
  assert not ckpt.save_best(3, state, {"top1_acc": 0.4})
  assert ckpt.best.all_steps() == [2]
  with pytest.raises(KeyError, match="save_best='top1_acc' is not among"):
    ckpt.save_best(4, state, {"mean_class_accuracy": 0.9})
  ckpt.close()


def test_load_from_rejects_a_mismatched_model(tmp_path):
  mesh = mesh_lib.make_mesh((("data", -1),), jax.devices()[:1])
  state, shardings, _, _ = setup(mesh)
  ckpt = Checkpointer(str(tmp_path))
  ckpt.save(0, state, None, force=True)
  ckpt.wait()
  ckpt.close()
  params, _ = load_params(str(tmp_path / "checkpoints" / "0"), abstract_state(state, shardings))
  jax.tree.map(np.testing.assert_array_equal, jax.device_get(params), jax.device_get(state.params))
  other = build_model(tiny.tsn(num_classes=7))
  other_state, other_sh = create_state(other, optax.sgd(0.1), mesh, jnp.zeros((1, 3, 32, 32, 3)),
                                       seed=0)
  with pytest.raises(ValueError, match=r"shape .*fc_cls.*\(64, 5\) vs model \(64, 7\)"):
    load_params(str(tmp_path / "checkpoints" / "0"), abstract_state(other_state, other_sh))
  with pytest.raises(FileNotFoundError, match="not a checkpoint directory"):
    load_params(str(tmp_path / "nope"), abstract_state(state, shardings))


_SAVER = """
import sys, time
sys.path.insert(0, {root!r})
import jax.numpy as jnp
from vjax.train.checkpoint import Checkpointer
ck = Checkpointer({workdir!r}, max_to_keep=5)
w = jnp.arange(16 * 2**20, dtype=jnp.float32)  # 64 MiB: a save takes a while
ck.save(1, {{"w": w}}, {{"step": 1}}, force=True)
ck.wait()
ck.save(2, {{"w": w * 2}}, {{"step": 2}}, force=True)  # asynchronous: returns at once
print("saving", flush=True)
time.sleep(120)
"""


def test_a_kill_during_a_save_leaves_the_previous_checkpoint_usable(tmp_path):
  """SIGKILL while step 2's save is being written: orbax's temporary directory is all it
  leaves, and the next start resumes from step 1, intact."""
  workdir = str(tmp_path)
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=1")
  proc = subprocess.Popen([sys.executable, "-c", _SAVER.format(root=ROOT, workdir=workdir)],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
  partial = os.path.join(workdir, "checkpoints", "2.orbax-checkpoint-tmp")
  deadline = time.time() + 300
  while not os.path.exists(partial) and time.time() < deadline and proc.poll() is None:
    time.sleep(0.002)
  assert os.path.exists(partial), "the save of step 2 was never seen in progress"
  proc.kill()
  proc.wait()
  assert not os.path.exists(os.path.join(workdir, "checkpoints", "2"))
  ckpt = Checkpointer(workdir)
  assert ckpt.latest_step() == 1
  abstract = {"w": jax.ShapeDtypeStruct((16 * 2**20,), jnp.float32,
                                        sharding=mesh_lib.replicated(mesh_lib.make_mesh(
                                            (("data", -1),), jax.devices()[:1])))}
  state, data = ckpt.restore(1, abstract)
  np.testing.assert_array_equal(np.asarray(state["w"]), np.arange(16 * 2**20, dtype=np.float32))
  assert data == {"step": 1}
  # A new save of step 2 over the debris works.
  ckpt.save(2, {"w": state["w"] * 3}, {"step": 2}, force=True)
  ckpt.wait()
  assert ckpt.latest_step() == 2
  ckpt.close()
