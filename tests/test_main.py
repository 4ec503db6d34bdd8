"""The main job end to end, as a user runs it: train, evaluate, resume, interrupt, test."""

import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import FAST_COMPILE_XLA_FLAGS, ROOT

CONFIG = "configs/slowfast_k400.py:synthetic"


def env(devices=1):
  e = dict(os.environ)
  # One CPU device in the child unless asked (the test process simulates 8).
  e["XLA_FLAGS"] = (FAST_COMPILE_XLA_FLAGS +
                    f" --xla_force_host_platform_device_count={devices}")
  return e


def args(workdir, data_dir, *extra):
  out = [sys.executable, "-m", "vjax.main", f"--config={CONFIG}", f"--workdir={workdir}",
         "--config.data.videos_per_device=4", "--config.data.test_videos_per_device=4",
         "--config.log_config.interval=2", "--config.evaluation.interval=1"]
  for split in ("train", "val", "test"):
    out += [f"--config.data.{split}.data_dir={data_dir}",
            f"--config.data.{split}.builder_config.preset=tiny"]
  return out + list(extra)


def run(cmd, timeout=600, devices=1):
  p = subprocess.run(cmd, cwd=ROOT, env=env(devices), capture_output=True, text=True,
                     timeout=timeout)
  assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-5000:]
  return p


def train_records(workdir):
  with open(os.path.join(workdir, "log.jsonl")) as f:
    return [json.loads(l) for l in f]


def test_unknown_override_names_the_closest_key(tmp_path):
  p = subprocess.run([sys.executable, "-m", "vjax.main", f"--config={CONFIG}",
                      f"--workdir={tmp_path}", "--config.optimzer.lr=0.1"],
                     cwd=ROOT, env=env(), capture_output=True, text=True, timeout=120)
  assert p.returncode != 0
  assert "--config.optimzer.lr: no such field" in p.stderr
  assert "optimizer.lr" in p.stderr


def test_kinetics_not_prepared_says_how_to_prepare(tmp_path):
  p = subprocess.run([sys.executable, "-m", "vjax.main", "--config=configs/slowfast_k400.py",
                      f"--workdir={tmp_path}"], cwd=ROOT, env=env(), capture_output=True,
                     text=True, timeout=300)
  assert p.returncode != 0
  assert "kinetics400_train_list_rawframes.txt" in p.stderr
  assert "tools/data" in p.stderr


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """One epoch of the synthetic SlowFast (6 steps on the tiny preset)."""
  root = tmp_path_factory.mktemp("main")
  workdir, data_dir = str(root / "work"), str(root / "tfds")
  # --test_last: MMAction2's --test-last, the test split on the last checkpoint afterwards.
  p = run(args(workdir, data_dir, "--config.total_epochs=1", "--test_last"))
  return workdir, data_dir, p


def test_test_last_tests_the_last_checkpoint_after_training(trained):
  workdir, _, p = trained
  line = next(l for l in p.stdout.splitlines() if l.startswith("Test results of the last"))
  assert os.path.join(workdir, "checkpoints", "6") in line and "top1_acc=" in line
  tested = [r for r in train_records(workdir) if "test/top1_acc" in r]
  assert len(tested) == 1 and tested[0]["step"] == 6


def test_console_shows_vjax_and_the_log_file_keeps_third_party_info(trained):
  workdir, _, p = trained
  console = p.stdout + p.stderr
  # orbax logs every save at INFO through absl; those lines go to the log file only.
  assert "checkpoint_manager.py" not in console and "I1" not in console.replace("\r", "\n")
  log = open(os.path.join(workdir, "vjax.log")).read()
  assert "checkpoint_manager.py" in log and "jax " in log
  assert f"logs (incl. third-party INFO) go to {os.path.join(workdir, 'vjax.log')}" in p.stdout
  # Besides progress bars, a handful of lines: vjax's messages, TFDS building the data.
  text = [l for l in console.replace("\r", "\n").splitlines()
          if l.strip() and "%|" not in l and "examples" not in l and "Shuffling" not in l]
  assert len(text) < 14, text


def test_train_evaluates_logs_and_checkpoints(trained):
  workdir, _, p = trained
  assert "Final val results: top1_acc=" in p.stdout
  records = train_records(workdir)
  train = [r for r in records if "train/loss" in r]
  val = [r for r in records if "val/top1_acc" in r]
  assert [r["step"] for r in train] == [2, 4, 6]
  assert all(k in train[0] for k in ("train/lr", "train/step_time", "train/data_time",
                                     "train/loss_cls", "train/grad_norm",
                                     "train/clips_per_s_per_device", "train/host_mem_gb"))
  assert val and {"val/top5_acc", "val/mean_class_accuracy"} <= set(val[-1])
  assert os.listdir(os.path.join(workdir, "checkpoints")) == ["6"]
  assert os.listdir(os.path.join(workdir, "best"))
  assert any(f.startswith("events.out.tfevents") for f in
             os.listdir(os.path.join(workdir, "tensorboard")))


def test_rerun_resumes_instead_of_starting_over(trained):
  workdir, data_dir, _ = trained
  before = len(train_records(workdir))
  run(args(workdir, data_dir, "--config.total_epochs=2"))
  new = [r for r in train_records(workdir)[before:] if "train/loss" in r]
  assert [r["step"] for r in new] == [8, 10, 12]
  assert "12" in os.listdir(os.path.join(workdir, "checkpoints"))


def test_a_one_device_checkpoint_resumes_on_four_devices_with_fsdp(tmp_path, trained):
  """Epoch 1 on one device; epoch 2 on 4 devices as data 2 x fsdp 2 with the parameters and
  optimizer state sharded (the same global batch of 4, now 1 video per device): the losses
  equal those of the one-device run going on (test_rerun_resumes_instead_of_starting_over,
  or the same continuation run here when that test did not run first)."""
  workdir, data_dir, _ = trained
  reference = {r["step"]: r["train/loss"] for r in train_records(workdir) if "train/loss" in r}
  if not {8, 10, 12} <= set(reference):
    other = str(tmp_path / "one_device")
    shutil.copytree(os.path.join(workdir, "checkpoints", "6"),
                    os.path.join(other, "checkpoints", "6"))
    run(args(other, data_dir, "--config.total_epochs=2"))
    reference = {r["step"]: r["train/loss"] for r in train_records(other) if "train/loss" in r}
  moved = str(tmp_path / "four_devices")
  shutil.copytree(os.path.join(workdir, "checkpoints", "6"), os.path.join(moved, "checkpoints", "6"))
  cmd = args(moved, data_dir, "--config.total_epochs=2", "--config.data.videos_per_device=1",
             "--config.mesh=(('data', 2), ('fsdp', 2), ('model', 1))",
             "--config.param_sharding=(('.*', 'fsdp'),)")
  p = run(cmd, devices=4)
  assert "Resumed from" in p.stdout + p.stderr
  assert "parameter arrays sharded" in p.stdout + p.stderr
  got = {r["step"]: r["train/loss"] for r in train_records(moved) if "train/loss" in r}
  assert sorted(got) == [8, 10, 12]
  for s in got:
    assert abs(got[s] - reference[s]) < 1e-4, (s, got[s], reference[s])


def test_test_mode_dumps_results_in_dataset_order(trained):
  workdir, data_dir, _ = trained
  out = os.path.join(workdir, "results.pkl")
  p = run(args(workdir, data_dir, "--mode=test", f"--config.test.out={out}"))
  assert "Final test results: top1_acc=" in p.stdout
  with open(out, "rb") as f:
    rows = pickle.load(f)
  assert len(rows) == 16 and rows[0].shape == (8,)  # tiny preset: 16 validation videos


def test_features_mode_writes_pooled_features_per_video(trained):
  workdir, data_dir, _ = trained
  out = os.path.join(workdir, "features.pkl")
  p = run(args(workdir, data_dir, "--mode=features", f"--config.test.out={out}"))
  # Tiny SlowFast: slow path 16 * 32 + fast path 2 * 32 channels, pooled and concatenated.
  assert f"Wrote 16 feature vectors of size 576 to {out}" in p.stdout
  with open(out, "rb") as f:
    rows = pickle.load(f)
  assert len(rows) == 16 and rows[0].shape == (576,)
  assert len({r.tobytes() for r in rows}) == 16  # one distinct vector per video


def test_sigterm_checkpoints_and_a_restart_resumes(tmp_path):
  workdir, data_dir = str(tmp_path / "work"), str(tmp_path / "tfds")
  cmd = args(workdir, data_dir, "--config.total_epochs=100", "--config.evaluation.interval=100",
             "--config.checkpoint_config.interval=100")
  proc = subprocess.Popen(cmd, cwd=ROOT, env=env(), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
  log = os.path.join(workdir, "log.jsonl")
  deadline = time.time() + 400
  while not (os.path.exists(log) and os.path.getsize(log)) and time.time() < deadline:
    assert proc.poll() is None, proc.communicate()
    time.sleep(0.5)
  proc.send_signal(signal.SIGTERM)
  out, err = proc.communicate(timeout=300)
  assert proc.returncode == 0, err[-3000:]
  assert "Interrupted: checkpoint saved at step" in out + err
  steps = [int(s) for s in os.listdir(os.path.join(workdir, "checkpoints"))]
  assert len(steps) == 1 and 2 <= steps[0] < 600


def test_sigkill_then_the_same_command_continues_bitwise(tmp_path, trained):
  """Checkpoints every iteration (saved asynchronously); SIGKILL lands wherever it lands, in
  a step or in a save, and the rerun's losses equal the uninterrupted run's step for step."""
  _, data_dir, _ = trained
  straight = train_records(trained[0])  # the same 6 steps, never interrupted
  workdir = str(tmp_path / "work")
  cmd = args(workdir, data_dir, "--config.total_epochs=1",
             "--config.checkpoint_config.by_epoch=false", "--config.checkpoint_config.interval=1",
             "--config.log_config.interval=1")
  proc = subprocess.Popen(cmd, cwd=ROOT, env=env(), stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
  log = os.path.join(workdir, "log.jsonl")
  deadline = time.time() + 400
  while time.time() < deadline and proc.poll() is None:
    if os.path.exists(log) and sum(1 for _ in open(log)) >= 3:
      break
    time.sleep(0.05)
  assert proc.poll() is None, "the run ended before it could be killed"
  proc.kill()
  proc.wait()
  run(cmd)
  losses = {}
  for r in train_records(workdir):  # a step redone after the kill logs again; last one wins
    if "train/loss" in r:
      losses[r["step"]] = r["train/loss"]
  # Other tests go on training in the fixture's workdir: its first 6 steps are the run.
  want = {r["step"]: r["train/loss"] for r in straight if "train/loss" in r and r["step"] <= 6}
  assert sorted(want) == [2, 4, 6]
  assert sorted(losses) == list(range(1, 7)) and all(losses[s] == want[s] for s in want), (
      losses, want)
