"""Test results end to end: ``--mode=test`` dumps scores in dataset order, and
``vjax.tools.eval_metric`` scores a dump against the config's test labels like MMAction2's
tools/analysis/eval_metric.py. Runs on the ``tiny`` preset of ``vjax_synthetic``."""

from __future__ import annotations

import pickle
import subprocess
import sys

import jax
import numpy as np
import optax
import pytest

from tests.conftest import ROOT
from tests.models import tiny
from vjax.config import load_config
from vjax.data.pipeline import Compose
from vjax.evaluation.evaluators import dump_results
from vjax.models import build_model
from vjax.tasks import build_task
from vjax.tools import eval_metric
from vjax.tools.report_accuracy import load_scores
from vjax.train import mesh as mesh_lib
from vjax.train import step as step_lib
from vjax.train.checkpoint import Checkpointer
from vjax.train.loop import evaluate_only
from vjax.train.state import create_state

CONFIG = f"{ROOT}/configs/tsn_k400.py:synthetic"
NUM_CLASSES = 8


def _config(data_dir):
  cfg = load_config(CONFIG)
  cfg.model = tiny.tsn(num_classes=NUM_CLASSES)  # the synthetic TSN, narrower: compiles faster
  cfg.data.test.data_dir = data_dir
  cfg.data.test.builder_config.preset = "tiny"
  cfg.data.test_videos_per_device = 1  # global batch 8 on the 8-device mesh: 2 batches
  return cfg


@pytest.fixture(scope="module")
def tested(tmp_path_factory):
  """One --mode=test pass (evaluate_only) from a saved checkpoint, dumped to results.pkl."""
  root = tmp_path_factory.mktemp("eval_metric")
  data_dir = str(root / "tfds")
  cfg = _config(data_dir)
  mesh = mesh_lib.make_mesh((("data", -1),), jax.devices()[:1])
  state, _ = create_state(build_model(cfg.model), optax.identity(), mesh,
                          np.zeros((1, 3, 32, 32, 3), np.float32), seed=3)
  ckpt = Checkpointer(str(root / "init"))
  ckpt.save(0, state, None, force=True)
  ckpt.wait()
  ckpt.close()
  cfg.test.out = str(root / "results.pkl")
  results = evaluate_only(cfg, str(root / "work"), split="test",
                          checkpoint=str(root / "init" / "checkpoints" / "0"))
  return cfg, state, results, root


def test_dump_is_in_dataset_order(tested):
  cfg, state, _, _ = tested
  rows = load_scores(cfg.test.out)
  source = eval_metric.build_test_dataset(cfg)
  assert len(rows) == len(source) == 16 and rows[0].shape == (NUM_CLASSES,)
  # Row i is video i's score: recompute every video directly, without the loader.
  pipeline = Compose(cfg.data.test.pipeline)
  imgs = np.stack([pipeline(dict(source[i]), np.random.default_rng(0))["imgs"]
                   for i in range(len(source))])
  task = build_task(cfg)
  expected = jax.jit(step_lib.make_predict_step(task, task.build_model()))(
      state, {"imgs": imgs})[0]["scores"]
  np.testing.assert_allclose(np.stack(rows), expected, rtol=0, atol=1e-5)
  # ...and no two videos score alike, so any reordering would have failed that check.
  gaps = np.abs(np.asarray(expected)[:, None] - np.asarray(expected)[None]).max(-1)
  assert gaps[~np.eye(len(rows), dtype=bool)].min() > 1e-4


def test_eval_metric_on_the_dump_matches_the_test_run(tested, capsys):
  cfg, _, results, root = tested
  got = eval_metric.main([CONFIG, cfg.test.out, "--eval", "top_k_accuracy",
                          "mean_class_accuracy", "--data-dir", cfg.data.test.data_dir,
                          "--cfg-options", "data.test.builder_config.preset=tiny"])
  assert got == pytest.approx(dict(results), abs=1e-12)
  assert set(got) == {"top1_acc", "top5_acc", "mean_class_accuracy"}  # config topk (1, 5)
  out = capsys.readouterr().out
  assert f"top1_acc\t{results['top1_acc']:.4f}" in out
  assert f"mean_class_accuracy: {results['mean_class_accuracy']:.4f}" in out
  # A JSON dump reads back the same.
  dump_results(np.stack(load_scores(cfg.test.out)), str(root / "results.json"))
  again = eval_metric.main([CONFIG, str(root / "results.json"), "--eval", "top_k_accuracy",
                            "mean_class_accuracy", "--data-dir", cfg.data.test.data_dir,
                            "--cfg-options", "data.test.builder_config.preset=tiny"])
  assert again == pytest.approx(got, abs=1e-7)


def test_eval_metric_command_line_with_known_labels(tested, tmp_path):
  cfg, _, _, _ = tested
  labels = np.array(eval_metric.dataset_labels(eval_metric.build_test_dataset(cfg)))
  # Right for the first 12 videos; the last 4 rank their label second (top-1 wrong, top-3 right).
  scores = np.zeros((len(labels), NUM_CLASSES), np.float32)
  scores[np.arange(len(labels)), labels] = 1.0
  scores[np.arange(12, len(labels)), (labels[12:] + 1) % NUM_CLASSES] = 2.0
  # MMAction2's mean class accuracy: over every class predicted or present; absent ones add 0.
  preds = scores.argmax(1)
  per_class = [(preds[labels == c] == c).mean() if (labels == c).any() else 0.0
               for c in np.unique(np.concatenate([preds, labels]))]
  with open(tmp_path / "known.pkl", "wb") as f:
    pickle.dump(list(scores), f)
  p = subprocess.run(
      [sys.executable, "-m", "vjax.tools.eval_metric", CONFIG, str(tmp_path / "known.pkl"),
       "--eval", "top_k_accuracy", "mean_class_accuracy", "--eval-options", "topk=(1,3)",
       "--cfg-options", "data.test.builder_config.preset=tiny",
       f"data.test.data_dir={cfg.data.test.data_dir}"],
      cwd=ROOT, capture_output=True, text=True, timeout=180)
  assert p.returncode == 0, p.stderr[-3000:]
  assert "\nEvaluating top_k_accuracy ...\ntop1_acc\t0.7500\ntop3_acc\t1.0000\n" in p.stdout
  assert "\nEvaluating mean_class_accuracy ...\nmean_acc\t" in p.stdout
  lines = [l for l in p.stdout.splitlines() if ": " in l]
  assert lines == ["top1_acc: 0.7500", "top3_acc: 1.0000",
                   f"mean_class_accuracy: {np.mean(per_class):.4f}"]
  # A result file for another test set is refused, naming both counts.
  with open(tmp_path / "short.pkl", "wb") as f:
    pickle.dump(list(scores[:5]), f)
  p = subprocess.run(
      [sys.executable, "-m", "vjax.tools.eval_metric", CONFIG, str(tmp_path / "short.pkl"),
       "--eval", "top_k_accuracy", "--data-dir", cfg.data.test.data_dir,
       "--cfg-options", "data.test.builder_config.preset=tiny"],
      cwd=ROOT, capture_output=True, text=True, timeout=180)
  assert p.returncode != 0
  assert "has 5 results but the test set has 16 videos" in p.stderr


def test_options_parse_like_mmaction2():
  cfg = load_config(CONFIG)
  assert eval_metric.eval_options(cfg, [("topk", "(1,3)")]) == {
      "top_k_accuracy": {"topk": (1, 3)}}
  assert eval_metric.eval_options(cfg, [("metric_options", "{'top_k_accuracy': {'topk': 2}}")]
                                  ) == {"top_k_accuracy": {"topk": 2}}
  with pytest.raises(ValueError, match="unknown evaluation option 'topkk'"):
    eval_metric.eval_options(cfg, [("topkk", "1")])
  eval_metric.apply_cfg_options(cfg, [("data.test.builder_config.preset", "tiny"),
                                      ("evaluation.interval", "3")])
  assert cfg.data.test.builder_config.preset == "tiny" and cfg.evaluation.interval == 3
  with pytest.raises(ValueError, match="did you mean data.test.data_dir"):
    eval_metric.apply_cfg_options(cfg, [("data.test.data_dirr", "/x")])
