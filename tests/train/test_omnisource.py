"""OmniSource joint training as MMAction2 0.24.1's OmniSourceRunner: a main source whose length
sets the epoch, auxiliary sources with their own batch sizes every ``train_ratio[0]``
iterations, one optimizer step per batch at the iteration's lr, per-source logs, exact resume.
The main source is the tiny synthetic video set, the auxiliary one a list of web images."""

from __future__ import annotations

import os

import cv2
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
import pytest

from tests.train.test_loop_options import data_dir, records, tiny_tsn  # noqa: F401
from vjax.train import loop
from vjax.train.omnisource import Plan, TrainData

NUM_IMAGES = 10
WEB_PIPELINE = [dict(type="ImageDecode"), dict(type="Resize", scale=(-1, 36)),
                dict(type="RandomResizedCrop"),
                dict(type="Resize", scale=(32, 32), keep_ratio=False),
                dict(type="Flip", flip_ratio=0.5), dict(type="FormatShape", input_format="NCHW"),
                dict(type="Collect", keys=["imgs", "label"], meta_keys=[])]


@pytest.fixture(scope="module")
def web_images(tmp_path_factory):
  """An ImageDataset list of NUM_IMAGES small JPEGs with labels 0..7."""
  root = tmp_path_factory.mktemp("web")
  rng = np.random.default_rng(0)
  lines = []
  for i in range(NUM_IMAGES):
    assert cv2.imwrite(str(root / f"{i}.jpg"), rng.integers(0, 256, (40, 48, 3), np.uint8))
    lines.append(f"{i}.jpg {i % 8}")
  (root / "web.txt").write_text("\n".join(lines) + "\n")
  return dict(type="ImageDataset", ann_file=str(root / "web.txt"), data_prefix=str(root),
              pipeline=WEB_PIPELINE)


def omni_config(data_dir, web, ratio, per_device, **overrides):  # noqa: F811
  """tiny_tsn (8 devices, main batch 8 = 3 iterations per epoch) with the web images as an
  auxiliary source."""
  d = tiny_tsn(data_dir, **overrides).to_dict()
  d["data"]["train"] = [d["data"]["train"], web]
  d["data"].update(omni_videos_per_device=per_device, train_ratio=ratio)
  d["omnisource"] = True
  return ml_collections.ConfigDict(d)


def test_plan_maps_optimizer_steps_to_iterations():
  plan = Plan((2, 1, 2))  # every 2nd iteration, 1 batch of aux0 then 2 of aux1
  # Iteration 0: steps 0 (main), 1-3 (aux); iteration 1: step 4; iteration 2: steps 5-8 ...
  expected = [0, 0, 0, 0, 1, 2, 2, 2, 2, 3, 4]
  assert [int(plan.iteration_of(s)) for s in range(11)] == expected
  assert [plan.iterations_done(s) for s in (0, 4, 5, 9, 10)] == [0, 1, 2, 3, 4]
  with pytest.raises(ValueError, match="inside an OmniSource iteration"):
    plan.iterations_done(2)
  assert [int(Plan().iteration_of(s)) for s in range(3)] == [0, 1, 2]


def test_sources_batch_sizes_ratio_and_state(data_dir, web_images):  # noqa: F811
  c = omni_config(data_dir, web_images, ratio=[2, 3], per_device=[1, 2])
  exp = loop.Experiment(c, "")
  data = TrainData(exp)
  assert data.batch_sizes == [8, 16] and data.iters_per_epoch == 3  # per device x 8 devices
  seen = [data.next(i) for i in range(3)]
  # Every 2nd iteration: the main batch, then 3 batches of the web images.
  assert [[s for s, _ in it] for it in seen] == [[""] + ["/aux0"] * 3, [""], [""] + ["/aux0"] * 3]
  for suffix, batch in seen[0]:
    n = 16 if suffix else 8
    assert batch["imgs"].shape == ((n, 1, 32, 32, 3) if suffix else (n, 3, 32, 32, 3))
    assert batch["label"].shape == (n,)
  state = data.get_state()
  resumed = TrainData(exp)
  resumed.set_state(state)
  for i in (3, 4):  # epoch 2 starts at iteration 3; its first aux batches come at iteration 4
    a, b = data.next(i), resumed.next(i)
    assert [s for s, _ in a] == [s for s, _ in b]
    for (_, x), (_, y) in zip(a, b):
      np.testing.assert_array_equal(x["imgs"], y["imgs"])
  assert data.aux_epoch == 1  # the auxiliary source restarted its shuffle for the new epoch
  data.close()
  resumed.close()
  with pytest.raises(ValueError, match="train_ratio=.*for each of the 2"):
    TrainData(loop.Experiment(omni_config(data_dir, web_images, [1], [1, 2]), ""))
  c = omni_config(data_dir, web_images, [1, 1], [1, 1])
  c.omnisource = False
  with pytest.raises(ValueError, match="set omnisource=True"):
    TrainData(loop.Experiment(c, ""))


@pytest.fixture(scope="module")
def omni_runs(data_dir, web_images, tmp_path_factory):  # noqa: F811
  """2 epochs (6 iterations) with 2 web-image batches per iteration, and a second run resumed
  from the first's checkpoint at iteration 4 (mid-epoch, mid-way through the aux shuffle)."""
  root = tmp_path_factory.mktemp("omni")
  straight, resumed = str(root / "straight"), str(root / "resumed")
  options = {"total_epochs": 2, "evaluation.interval": 2, "checkpoint_config.by_epoch": False,
             "checkpoint_config.max_to_keep": 10,
             "lr_config": dict(policy="fixed", warmup="linear", warmup_iters=6,
                               warmup_ratio=0.1)}
  loop.train_and_evaluate(omni_config(data_dir, web_images, [1, 2], [1, 2], **options),
                          straight)
  loop.train_and_evaluate(omni_config(
      data_dir, web_images, [1, 2], [1, 2],
      resume_from=os.path.join(straight, "checkpoints", "4"), **options), resumed)
  return straight, resumed


def logs(workdir):
  return {r["step"]: r for r in records(workdir) if "train/loss" in r}


def test_every_source_trains_and_logs_at_the_iterations_lr(omni_runs):
  straight, _ = omni_runs
  got = logs(straight)
  assert sorted(got) == [1, 2, 3, 4, 5, 6]
  for step, r in got.items():
    for key in ("loss", "loss_cls", "top1_acc", "grad_norm"):
      assert np.isfinite(r[f"train/{key}"]) and np.isfinite(r[f"train/{key}/aux0"])
    # mmcv's linear warmup by iteration (lr 0.02): every step of an iteration shares its lr.
    lr = 0.02 * (1 - (1 - (step - 1) / 6) * (1 - 0.1))
    np.testing.assert_allclose([r["train/lr"], r["train/lr/aux0"]], [lr, lr], rtol=1e-6)
  with ocp.StandardCheckpointer() as ckptr:
    final = ckptr.restore(os.path.join(straight, "checkpoints", "6", "state"))
  assert int(final["step"]) == 6 * 3  # one optimizer step per batch: main + 2 web batches


def test_resume_continues_every_source_exactly(omni_runs):
  straight, resumed = omni_runs
  a, b = logs(straight), logs(resumed)
  assert sorted(b) == [5, 6]
  for step in (5, 6):
    for key in ("train/loss", "train/loss/aux0", "train/grad_norm/aux0"):
      assert b[step][key] == a[step][key], (step, key)
