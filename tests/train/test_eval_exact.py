"""Distributed evaluation counts every sample exactly once and matches one device: on the
simulated 8-device mesh, on two local JAX processes, and with a broken iterator it refuses to
report. Also ``evaluation.save_best`` on a key other than top1_acc."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest

from tests.conftest import ROOT
from tests.train import dist_eval_worker as w
from vjax.evaluation import evaluate_recognition
from vjax.train import step as step_lib
from vjax.train.checkpoint import Checkpointer


@pytest.fixture(scope="module")
def reference():
  """Scores of the first max(SIZES) samples from one jitted call on one device (no loader)."""
  exp, state, _ = w.experiment(w.make_config(), jax.devices()[:1])
  source = w.FakeSource(max(w.SIZES))
  imgs = np.stack([source[i]["imgs"] for i in range(len(source))])
  labels = np.array([source[i]["label"] for i in range(len(source))])
  scores = jax.jit(step_lib.make_predict_step(exp.task, exp.model))(
      state, {"imgs": imgs})[0]["scores"]
  return state, np.asarray(scores), labels


@pytest.fixture(scope="module")
def one_device():
  return w.experiment(w.make_config(), jax.devices()[:1])


@pytest.fixture(scope="module")
def eight_devices():
  # Frames also go through the backbone in chunks of 2 (of 3): sharded chunking is exact too.
  return w.experiment(w.make_config(max_testing_views=2), jax.devices()[:8])


def _metrics(scores, labels):
  return dict(evaluate_recognition(scores, labels, ["top_k_accuracy", "mean_class_accuracy"],
                                   {"top_k_accuracy": {"topk": (1, 3)}}))


@pytest.mark.parametrize("size", w.SIZES)
def test_eight_devices_match_one_device_sample_for_sample(size, reference, one_device,
                                                         eight_devices):
  ref_state, ref_scores, ref_labels = reference
  (exp1, state1, step1), (exp8, state8, step8) = one_device, eight_devices
  assert exp8.dp == 8 and exp1.dp == 1
  jax.tree.map(np.testing.assert_array_equal, jax.device_get(state8.params),
               jax.device_get(ref_state.params))
  s1, l1, m1, _ = w.evaluate(exp1, state1, step1, size)
  s8, l8, m8, read = w.evaluate(exp8, state8, step8, size)
  assert read == list(range(size))
  # Dataset order, nothing dropped or repeated: row i is sample i's own score.
  assert s8.shape == s1.shape == (size, w.NUM_CLASSES)
  np.testing.assert_array_equal(l8, ref_labels[:size])
  np.testing.assert_array_equal(l1, ref_labels[:size])
  np.testing.assert_allclose(s1, ref_scores[:size], rtol=0, atol=1e-6)
  np.testing.assert_allclose(s8, ref_scores[:size], rtol=0, atol=1e-6)
  assert m8 == m1 == _metrics(ref_scores[:size], ref_labels[:size])


def test_a_duplicated_batch_is_refused(eight_devices, monkeypatch):
  from vjax.data import loader as data_loader
  make = data_loader.make_eval_iterator

  def repeat_first_batch(*args, **kwargs):
    batches = list(make(*args, **kwargs))
    return iter([batches[0]] + batches[:-1])

  monkeypatch.setattr(data_loader, "make_eval_iterator", repeat_first_batch)
  with pytest.raises(RuntimeError, match="saw 16 samples of 13"):
    w.evaluate(*eight_devices, 13)


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


# Global batch 8 = 4 rows per process: process 0 holds positions 0-3, 8-11, process 1 4-7,
# 12-15. With 3 videos process 1 has only padding and loads one real sample (1) as filler.
SHARD_READS = {3: ([0, 1, 2], [1]), 13: ([0, 1, 2, 3, 8, 9, 10, 11], [4, 5, 6, 7, 12]),
               16: ([0, 1, 2, 3, 8, 9, 10, 11], [4, 5, 6, 7, 12, 13, 14, 15])}


def test_two_processes_match_one_device(tmp_path, reference):
  _, ref_scores, ref_labels = reference
  env = dict(os.environ)
  # Each worker makes its own 2 CPU devices; keep the tests' cheap-compile flags only.
  env["XLA_FLAGS"] = " ".join(f for f in env.get("XLA_FLAGS", "").split()
                              if "device_count" not in f)
  port = _free_port()
  procs = [subprocess.Popen(
      [sys.executable, "-m", "tests.train.dist_eval_worker", str(port), str(i), "2", "2",
       str(tmp_path / f"proc{i}.npz")], cwd=ROOT, env=env, stdout=subprocess.PIPE,
      stderr=subprocess.STDOUT, text=True) for i in range(2)]
  logs = []
  try:
    for p in procs:
      logs.append(p.communicate(timeout=300)[0])
  finally:
    for p in procs:  # gloo deadlocks only yield to SIGKILL
      if p.poll() is None:
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
  for p, log in zip(procs, logs):
    assert p.returncode == 0, log[-4000:]
  for i in range(2):
    out = np.load(tmp_path / f"proc{i}.npz")
    assert int(out["process_count"]) == 2 and int(out["device_count"]) == 4
    for size in w.SIZES:
      np.testing.assert_array_equal(out[f"read{size}"], SHARD_READS[size][i])
      np.testing.assert_array_equal(out[f"labels{size}"], ref_labels[:size])
      np.testing.assert_allclose(out[f"scores{size}"], ref_scores[:size], rtol=0, atol=1e-6)
      expected = _metrics(ref_scores[:size], ref_labels[:size])
      np.testing.assert_array_equal(out[f"metrics{size}"],
                                    [expected[k] for k in sorted(expected)])


def test_save_best_on_mean_class_accuracy(tmp_path, one_device):
  from vjax.config import default_config
  cfg = default_config()
  cfg.evaluation.save_best = "mean_class_accuracy"
  exp, state, _ = one_device
  ckpt = Checkpointer(str(tmp_path), best_metric=cfg.evaluation.save_best)
  scores = np.eye(3)[[0, 1, 2, 2]]
  good = evaluate_recognition(scores, [0, 1, 2, 2])  # mean_class_accuracy 1.0
  worse = evaluate_recognition(scores, [0, 1, 2, 0])  # 0.5; top1_acc 0.75
  better_top1_only = dict(worse, top1_acc=1.0)
  assert ckpt.save_best(1, state, worse)
  assert ckpt.save_best(2, state, good)
  assert not ckpt.save_best(3, state, better_top1_only)  # judged by mean_class_accuracy alone
  assert ckpt.best.best_step() == 2 and ckpt.best.all_steps() == [2]
  ckpt.close()
