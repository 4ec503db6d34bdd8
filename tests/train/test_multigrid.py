"""Multigrid: MMAction2's long-cycle schedule and lrs (goldens from its own hooks, made by
tests/reference/make_golden_multigrid.py), PySlowFast's short cycle, and training through
the trainer with each batch shape compiled once and an exact resume."""

import json
import os

import pytest

from vjax.train import multigrid

GOLDEN = json.load(open(os.path.join(os.path.dirname(__file__), "..", "golden", "multigrid",
                                     "schedules.json")))
FACTORS = [[0.25, 0.7071], [0.5, 0.7071], [0.5, 1], [1, 1]]


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_schedule_and_lrs_equal_mmaction2(name):
  g = GOLDEN[name]
  mg = dict(long_cycle=True, short_cycle=g["short"], epoch_factor=g["epoch_factor"],
            long_cycle_factors=FACTORS, short_cycle_factors=[0.5, 0.7071])
  schedule, epochs = multigrid.long_cycle_schedule(mg, g["clip_len"], g["crop"], g["step"],
                                                   g["max_epochs"])
  assert epochs == g["epochs"]
  assert [[s, list(shape), end] for s, shape, end in schedule] == g["schedule"]
  assert [list(multigrid.shape_at(schedule, e)) for e in range(epochs)] == g["phases"]
  lrs = multigrid.epoch_lrs(schedule, g["base_lr"], g["gamma"], epochs)
  assert lrs == pytest.approx(g["lrs"], rel=1e-12)


def test_short_cycle_follows_pyslowfast():
  mg = dict(short_cycle=True, short_cycle_factors=[0.5, 0.7071])
  # At the full 224 px: crops 112 and 158 in 4x and 2x batches, then the base shape.
  assert multigrid.short_cycle(mg, 1, 224, 224) == [(4, 112), (2, 158), (1, 224)]
  # At the 158 px phase of batch factor 4: (158/112)^2 = 1.99 -> 2x, (158/158.4)^2 -> 1x.
  assert multigrid.short_cycle(mg, 4, 158, 224) == [(8, 112), (4, 158), (4, 158)]
  assert multigrid.short_cycle({}, 4, 158, 224) == [(4, 158)]


def test_phase_pipeline_keeps_the_clip_span():
  pipe = [dict(type="SampleFrames", clip_len=32, frame_interval=2, num_clips=1),
          dict(type="Resize", scale=(-1, 256)),
          dict(type="Resize", scale=(224, 224), keep_ratio=False)]
  out = multigrid.phase_pipeline(pipe, 8, 158)
  assert out[0] == dict(type="SampleFrames", clip_len=8, frame_interval=8, num_clips=1)
  assert out[1]["scale"] == (-1, 256) and out[2]["scale"] == (158, 158)
  assert pipe[0]["clip_len"] == 32  # the config's own pipeline is untouched


# ------------------------------------------------------------------ through the trainer
from tests.conftest import ROOT  # noqa: E402
from vjax.config import load_config  # noqa: E402
from vjax.data import prepare_synthetic  # noqa: E402
from vjax.train import loop  # noqa: E402
from vjax.train.logging import log_to_workdir  # noqa: E402
import logging as std_logging  # noqa: E402
import numpy as np  # noqa: E402
import shutil  # noqa: E402


def _config(data_dir, **extra):
  c = load_config(f"{ROOT}/configs/slowfast_k400.py:synthetic,multigrid")
  for split in ("train", "val", "test"):
    c.data[split].data_dir = data_dir
    c.data[split].builder_config = dict(preset="tiny", num_train=56)
  c.data.videos_per_device = 1  # x 8 devices: base global batch 8
  c.data.test_videos_per_device = 2
  c.log_config.interval = 1
  c.evaluation.interval = 100
  c.bn_stats = "per_device"  # MMAction2's per-GPU BN, with per-device batches that vary
  c.total_epochs = 2  # x 1.5 = 3 epochs
  # 16 frames at 23 px, then at 32 px: short cycles [32, 16, 16] and [32, 16, 8] videos.
  c.multigrid.long_cycle_factors = [[1, 0.7071], [1, 1]]
  c.lr_config.step = [1]
  c.checkpoint_config.by_epoch = False
  c.checkpoint_config.interval = 1
  c.checkpoint_config.max_to_keep = 100
  for k, v in extra.items():
    c[k] = v
  return c


def _records(workdir):
  with open(os.path.join(workdir, "log.jsonl")) as f:
    return [json.loads(line) for line in f if '"train/loss"' in line]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
  root = tmp_path_factory.mktemp("multigrid")
  data_dir = str(root / "tfds")
  prepare_synthetic(data_dir, "tiny", num_train=56)
  workdir = str(root / "work")
  c = _config(data_dir)
  source, _ = loop.Experiment(c, workdir).source("train")
  plan = multigrid.make_plan(c, source, 8)
  log_file = log_to_workdir(workdir)  # INFO records (the compile messages) to vjax.log
  try:
    loop.train_and_evaluate(c, workdir)
  finally:
    root = std_logging.getLogger()
    for h in [h for h in root.handlers if getattr(h, "baseFilename", None) == log_file]:
      root.removeHandler(h)
      h.close()
  return data_dir, workdir, plan


def test_plan_follows_the_schedule(straight):
  _, _, plan = straight
  # Two long-cycle shapes ([t, 0.7071 s] and the full) in stage 0, the full one in the
  # fine-tuning stage: (batch factor, frames, size) per epoch, from long_cycle_schedule.
  mg = dict(long_cycle=True, short_cycle=True, epoch_factor=1.5,
            long_cycle_factors=[[1, 0.7071], [1, 1]], short_cycle_factors=[0.5, 0.7071])
  schedule, epochs = multigrid.long_cycle_schedule(mg, 16, 32, [1], 2)
  assert epochs == 3 and plan.shapes == [multigrid.shape_at(schedule, e) for e in range(3)]
  for (b, t, s), cycle in zip(plan.shapes, plan.cycles):
    assert cycle == [(8 * k, size) for k, size in multigrid.short_cycle(mg, b, s, 32)]
  # Each epoch takes whole batches while the 56 videos last (drop_last).
  for e, cycle in enumerate(plan.cycles):
    n = plan.epoch_starts[e + 1] - plan.epoch_starts[e]
    used = sum(cycle[i % len(cycle)][0] for i in range(n))
    assert used <= 56 < used + cycle[n % len(cycle)][0]


def test_batches_have_the_planned_shapes(straight):
  _, _, plan = straight
  per_epoch = []
  for e in range(len(plan.cycles)):
    shapes = set()
    for step in range(plan.epoch_starts[e], plan.epoch_starts[e + 1]):
      batch = plan.batch(int(step))
      shapes.add(batch["imgs"].shape)
      _, t, _ = plan.shapes[e]
      gb, size = plan.cycles[e][(step - plan.epoch_starts[e]) % len(plan.cycles[e])]
      assert batch["imgs"].shape == (gb, 1, t, size, size, 3)
      assert batch["label"].shape == (gb,)
    per_epoch.append(shapes)
  # The first epoch's long cycle stops at 23 px, the last one's reaches the full 32 px.
  assert max(s[3] for s in per_epoch[0]) == 23 and max(s[3] for s in per_epoch[-1]) == 32


def test_trains_every_planned_step_with_each_shape_compiled_once(straight):
  _, workdir, plan = straight
  recs = _records(workdir)
  assert [r["step"] for r in recs] == list(range(1, plan.total_iters + 1))
  # lr per step: its epoch's multigrid lr.
  for r in recs:
    epoch = plan.epoch_of(r["step"] - 1)
    assert r["train/lr"] == pytest.approx(plan.epoch_lr[epoch], rel=1e-6)
  distinct = {(plan.shapes[plan.epoch_of(s)][1], plan.cycles[plan.epoch_of(s)][
      (s - plan.epoch_starts[plan.epoch_of(s)]) % len(plan.cycles[plan.epoch_of(s)])])
              for s in range(plan.total_iters)}
  log = open(os.path.join(workdir, "vjax.log")).read()
  assert log.count("Compiled the train step for batch") == len(distinct)
  assert all(np.isfinite(r["train/loss"]) for r in recs)


def test_resume_mid_schedule_continues_exactly(straight, tmp_path):
  data_dir, workdir, plan = straight
  k = int(plan.epoch_starts[1]) + 1  # inside the second epoch, mid short cycle
  resumed = str(tmp_path / "resumed")
  shutil.copytree(os.path.join(workdir, "checkpoints", str(k)),
                  os.path.join(resumed, "checkpoints", str(k)))
  loop.train_and_evaluate(_config(data_dir), resumed)
  want = {r["step"]: r["train/loss"] for r in _records(workdir)}
  got = {r["step"]: r["train/loss"] for r in _records(resumed)}
  assert sorted(got) == list(range(k + 1, plan.total_iters + 1))
  assert all(got[s] == want[s] for s in got), (got, want)


@pytest.mark.parametrize("batch", [16, 48])
def test_per_device_batchnorm_holds_for_any_batch_size(batch):
  """Multigrid's batches vary; with bn_stats='per_device' each of the 8 devices still
  normalises by its own rows' statistics (as MMAction2's per-GPU BN) at every size."""
  import jax  # pylint: disable=g-import-not-at-top
  from vjax.models.layers.norm import BatchNorm  # pylint: disable=g-import-not-at-top
  from vjax.train import mesh as mesh_lib  # pylint: disable=g-import-not-at-top
  mesh = mesh_lib.make_mesh((("data", -1),))
  x = np.random.default_rng(batch).normal(2.0, 3.0, (batch, 3, 4, 5)).astype(np.float32)
  x[: batch // 8] += 10.0  # device 0's rows differ, so global statistics would show
  bn = BatchNorm(num_groups=8, momentum=0.0)  # running stats = this batch's
  variables = bn.init(jax.random.key(0), x[:8])
  fn = jax.jit(lambda v, x: bn.apply(v, x, mutable=["batch_stats"]),
               in_shardings=(mesh_lib.replicated(mesh), mesh_lib.batch_sharding(mesh)))
  y, updates = fn(variables, x)
  # By hand: each device's contiguous batch // 8 rows, normalised over (rows, 3, 4).
  for d, rows in enumerate(np.split(x, 8)):
    mean, var = rows.mean((0, 1, 2)), rows.var((0, 1, 2))
    np.testing.assert_allclose(np.asarray(y)[d * batch // 8:(d + 1) * batch // 8],
                               (rows - mean) / np.sqrt(var + 1e-5), atol=1e-4)
  count = batch // 8 * 12
  want_var = np.mean([r.var((0, 1, 2)) * count / (count - 1) for r in np.split(x, 8)], 0)
  np.testing.assert_allclose(updates["batch_stats"]["var"], want_var, rtol=1e-5)


def test_the_multigrid_config_is_mmaction2s():
  """configs/slowfast_k400.py:8x8,multigrid against the shipped
  slowfast_multigrid_r50_8x8x1_358e_kinetics400_rgb, read by vjax's config converter."""
  import importlib.util  # pylint: disable=g-import-not-at-top
  from vjax.convert.mmaction2_config import load_any_config  # pylint: disable=g-import-not-at-top
  spec = importlib.util.find_spec("mmaction")
  path = os.path.join(spec.submodule_search_locations[0], ".mim", "configs", "recognition",
                      "slowfast", "slowfast_multigrid_r50_8x8x1_358e_kinetics400_rgb.py")
  theirs = load_any_config(path)
  ours = load_config(f"{ROOT}/configs/slowfast_k400.py:8x8,multigrid")
  mg = ours.multigrid.to_dict()
  mg["default_s"] = list(mg["default_s"])
  want = theirs.multigrid.to_dict()
  want["default_s"] = list(want["default_s"])
  assert mg == want
  assert list(ours.lr_config.step) == list(theirs.lr_config.step)
  assert ours.total_epochs == theirs.total_epochs == 239
  assert ours.model.backbone.slow_pathway.lateral_norm
  assert ours.model.backbone.slow_pathway.fusion_kernel == 7
  assert ours.precise_bn.to_dict() == theirs.precise_bn.to_dict()
  train = [op["type"] for op in ours.data.train.pipeline]
  assert train[:3] == ["SampleFrames", "RawFrameDecode", "Resize"]
