"""Shared pieces of the distributed-evaluation tests, and the per-process worker they launch.

    python -m tests.train.dist_eval_worker PORT PROCESS_ID NUM_PROCESSES LOCAL_DEVICES OUT.npz

Each worker process joins a ``jax.distributed`` job over gloo, evaluates a tiny TSN on an
in-memory dataset through ``Experiment.predict`` (reading only its own shard of every
global batch) and saves the scores, labels and metrics it ends up with.
"""

from __future__ import annotations

import sys

import numpy as np

# 3: one partial batch (with two processes, process 1 holds only padding); 13: a ragged last
# batch; 16: two full batches.
SIZES = (3, 13, 16)
GLOBAL_BATCH = 8
SAMPLE_SHAPE = (3, 16, 16, 3)  # segments, H, W, C
NUM_CLASSES = 5


class FakeSource:
  """``size`` videos; sample ``i`` depends only on ``i`` (any prefix is a smaller dataset).

  ``read`` records every index loaded, so a test can see which samples a process touched.
  """

  def __init__(self, size: int):
    self.size = size
    self.read: set[int] = set()

  def __len__(self) -> int:
    return self.size

  def __getitem__(self, index: int) -> dict:
    self.read.add(int(index))
    rng = np.random.default_rng([7, int(index)])
    return {"imgs": rng.integers(0, 256, SAMPLE_SHAPE, dtype=np.uint8),
            "label": int(index * 3 % NUM_CLASSES)}

  def describe(self, index: int) -> str:
    return f"fake video {index}"


def passthrough(results: dict, rng) -> dict:
  """The pipeline: samples are already model inputs."""
  del rng
  return results


def make_config(max_testing_views: int | None = None):
  from tests.models import tiny  # pylint: disable=g-import-not-at-top
  from vjax.config import default_config  # pylint: disable=g-import-not-at-top
  c = default_config()
  model = tiny.tsn(num_classes=NUM_CLASSES)
  if max_testing_views:
    model["test_cfg"] = dict(model["test_cfg"], max_testing_views=max_testing_views)
  c.model = model
  c.data.workers = 0
  c.evaluation.metric_options = dict(top_k_accuracy=dict(topk=(1, 3)))
  return c


def experiment(config, devices=None):
  """An Experiment, optionally on a subset of the devices; returns it, its state and eval step."""
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import optax  # pylint: disable=g-import-not-at-top
  from vjax.train import mesh as mesh_lib  # pylint: disable=g-import-not-at-top
  from vjax.train.loop import Experiment  # pylint: disable=g-import-not-at-top
  exp = Experiment(config, workdir="")
  if devices is not None:
    exp.mesh = mesh_lib.make_mesh(config.mesh, devices)
    exp.dp = mesh_lib.data_parallel_size(exp.mesh)
  state, shardings = exp.init_state(optax.identity(), jnp.zeros((1,) + SAMPLE_SHAPE))
  return exp, state, exp.make_eval_step(shardings)


def evaluate(exp, state, eval_step, size: int):
  """(scores, labels, metrics, indices read here) of ``Experiment.predict`` on FakeSource(size)."""
  from vjax.evaluation import evaluate_recognition  # pylint: disable=g-import-not-at-top
  source = FakeSource(size)
  with exp.mesh:
    preds, targets = exp.predict(state, eval_step, source, passthrough, GLOBAL_BATCH,
                                 desc="eval")
  scores, labels = preds["scores"], targets["label"]
  ev = exp.config.evaluation
  metrics = evaluate_recognition(scores, labels, list(ev.metrics),
                                 ev.metric_options.to_dict())
  return scores, labels, dict(metrics), sorted(source.read)


def main(argv):
  port, process_id, num_processes, local_devices, out = argv
  import jax  # pylint: disable=g-import-not-at-top
  jax.config.update("jax_num_cpu_devices", int(local_devices))
  jax.distributed.initialize(f"127.0.0.1:{port}", num_processes=int(num_processes),
                             process_id=int(process_id), initialization_timeout=120)
  exp, state, eval_step = experiment(make_config())
  saved = {"process_count": jax.process_count(), "device_count": jax.device_count()}
  for size in SIZES:
    scores, labels, metrics, read = evaluate(exp, state, eval_step, size)
    saved[f"scores{size}"], saved[f"labels{size}"] = scores, labels
    saved[f"read{size}"] = np.array(read, np.int64)
    saved[f"metrics{size}"] = np.array([metrics[k] for k in sorted(metrics)])
  np.savez(out, **saved)
  jax.distributed.shutdown()


if __name__ == "__main__":
  main(sys.argv[1:])
