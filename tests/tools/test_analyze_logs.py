"""analyze_logs: plot_curve draws the logged values (checked through the Figure's lines and the
written PNG), legends and errors; cal_train_time matches hand-computed step-time statistics."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from PIL import Image

from vjax.tools import analyze_logs

# A run of 18 steps, 6 steps per epoch, logged every 2 steps and evaluated every 6.
# step_time per epoch: epoch 1 (steps 2, 4, 6) = 1.0, 0.2, 0.4; epoch 2 (8, 10, 12) = 0.6,
# 0.5, 0.3; epoch 3 (14, 16, 18) = 0.8, 0.1, 0.3.
STEPS = [2, 4, 6, 8, 10, 12, 14, 16, 18]
STEP_TIMES = [1.0, 0.2, 0.4, 0.6, 0.5, 0.3, 0.8, 0.1, 0.3]
LOSSES = [2.0, 1.8, 1.5, 1.4, 1.2, 1.1, 0.9, 0.8, 0.7]
VAL_STEPS = [6, 12, 18]
TOP1 = [0.25, 0.5, 0.75]


def train_record(step, loss, step_time, per_epoch=6):
  return {"step": step, "time": 1.7e9 + step, "train/loss": loss, "train/loss_cls": loss,
          "train/lr": 0.01, "train/step_time": step_time, "train/data_time": 0.01,
          "train/epoch": step / per_epoch}


def records(loss_scale=1.0):
  out = []
  for s, t, l in zip(STEPS, STEP_TIMES, LOSSES):
    out.append(train_record(s, l * loss_scale, t))
    if s in VAL_STEPS:
      out.append({"step": s, "time": 1.7e9 + s, "val/top1_acc": TOP1[VAL_STEPS.index(s)],
                  "val/top5_acc": 1.0})
  return out


def write_log(path, recs, tail=""):
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text("".join(json.dumps(r) + "\n" for r in recs) + tail)
  return str(path)


@pytest.fixture
def two_logs(tmp_path):
  return (write_log(tmp_path / "run_a" / "log.jsonl", records()),
          write_log(tmp_path / "run_b" / "log.jsonl", records(loss_scale=0.5)))


def test_plot_curve_lines_hold_the_logged_values(two_logs):
  fig = analyze_logs.plot_curve(two_logs, ["loss", "top1_acc"], title="runs")
  ax = fig.axes[0]
  lines = ax.get_lines()
  assert len(lines) == 4  # (run_a, loss), (run_a, top1_acc), (run_b, loss), (run_b, top1_acc)
  np.testing.assert_array_equal(lines[0].get_xdata(), STEPS)
  np.testing.assert_allclose(lines[0].get_ydata(), LOSSES)
  np.testing.assert_array_equal(lines[1].get_xdata(), VAL_STEPS)
  np.testing.assert_allclose(lines[1].get_ydata(), TOP1)
  np.testing.assert_allclose(lines[2].get_ydata(), np.array(LOSSES) * 0.5)
  assert [t.get_text() for t in ax.get_legend().get_texts()] == [
      "run_a_loss", "run_a_top1_acc", "run_b_loss", "run_b_top1_acc"]
  assert ax.get_xlabel() == "step" and ax.get_ylabel() == "value" and ax.get_title() == "runs"


def test_plot_curve_epoch_axis_prefixed_keys_and_legend(tmp_path):
  log = write_log(tmp_path / "tsn.jsonl", records())
  fig = analyze_logs.plot_curve([log], ["val/top1_acc", "train/lr"], x="epoch",
                                legend=["acc", "lr"])
  ax = fig.axes[0]
  acc, lr = ax.get_lines()
  np.testing.assert_allclose(acc.get_xdata(), [1.0, 2.0, 3.0])  # steps 6, 12, 18 / 6
  np.testing.assert_allclose(lr.get_xdata(), np.array(STEPS) / 6)
  assert [t.get_text() for t in ax.get_legend().get_texts()] == ["acc", "lr"]
  assert ax.get_xlabel() == "epoch"
  # the stem names the legend when the file is not called log.jsonl
  fig = analyze_logs.plot_curve([log], ["loss"])
  assert fig.axes[0].get_legend().get_texts()[0].get_text() == "tsn_loss"
  assert fig.axes[0].get_ylabel() == "loss"


def test_resumed_run_replaces_steps_and_cut_last_line_is_skipped(tmp_path, capsys):
  # The run restarts from step 14: its 14/16/18 records replace the first run's.
  recs = records() + [train_record(14, 0.6, 0.2), train_record(16, 0.5, 0.2),
                      train_record(18, 0.4, 0.2)]
  log = write_log(tmp_path / "log.jsonl", recs, tail='{"step": 20, "time": 1')
  s = analyze_logs.series(analyze_logs.load_log(log), "train/loss")
  np.testing.assert_array_equal(s.steps, STEPS)
  np.testing.assert_allclose(s.values, LOSSES[:6] + [0.6, 0.5, 0.4])
  assert "unfinished last line" in capsys.readouterr().err


def test_cli_writes_png_with_the_curve(two_logs, tmp_path, capsys):
  out = tmp_path / "plots" / "curve.png"
  assert analyze_logs.main(["plot_curve", *two_logs, "--keys", "loss", "top1_acc",
                            "--out", str(out)]) == 0
  assert str(out) in capsys.readouterr().out
  img = np.asarray(Image.open(out).convert("RGB")).astype(int)
  assert img.shape == (500, 800, 3)  # FIGSIZE 8 x 5 inches at 100 dpi
  # the first line is drawn in matplotlib's first colour, tab:blue (31, 119, 180)
  blue = (np.abs(img - [31, 119, 180]).sum(-1) < 40).sum()
  assert blue > 300
  for ext, magic in (("pdf", b"%PDF"), ("svg", b"<?xml")):
    out = tmp_path / f"curve.{ext}"
    assert analyze_logs.main(["plot_curve", two_logs[0], "--keys", "loss", "--out",
                              str(out)]) == 0
    assert out.read_bytes().startswith(magic)


def test_cli_errors(two_logs, tmp_path, capsys, monkeypatch):
  assert analyze_logs.main(["plot_curve", two_logs[0], "--keys", "acc", "--out",
                            str(tmp_path / "x.png")]) == 1
  err = capsys.readouterr().err
  assert "no 'acc' or 'train/acc' or 'val/acc'" in err
  for k in ("train/loss", "train/step_time", "val/top1_acc", "val/top5_acc"):
    assert k in err
  assert not (tmp_path / "x.png").exists()

  assert analyze_logs.main(["plot_curve", *two_logs, "--keys", "loss", "--legend", "a",
                            "--out", str(tmp_path / "x.png")]) == 1
  assert "2 logs x 1 keys = 2 labels, got 1" in capsys.readouterr().err

  no_epoch = [{k: v for k, v in r.items() if k != "train/epoch"} for r in records()]
  log = write_log(tmp_path / "old.jsonl", no_epoch)
  assert analyze_logs.main(["plot_curve", log, "--keys", "loss", "--x", "epoch", "--out",
                            str(tmp_path / "x.png")]) == 1
  assert "--x epoch needs 'train/epoch'" in capsys.readouterr().err

  monkeypatch.delenv("DISPLAY", raising=False)
  monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
  if sys.platform.startswith("linux"):
    assert not analyze_logs._has_display()  # pylint: disable=protected-access
  monkeypatch.setattr(analyze_logs, "_has_display", lambda: False)
  assert analyze_logs.main(["plot_curve", two_logs[0], "--keys", "loss"]) == 1
  assert "pass --out" in capsys.readouterr().err


def test_cal_train_time_by_hand(tmp_path, capsys):
  recs = records()
  # Default: the first record of each epoch is left out:
  #   epoch 1 [0.2, 0.4] -> 0.3, epoch 2 [0.5, 0.3] -> 0.4, epoch 3 [0.1, 0.3] -> 0.2
  #   average = (0.2 + 0.4 + 0.5 + 0.3 + 0.1 + 0.3) / 6 = 1.8 / 6 = 0.3
  #   std of (0.3, 0.4, 0.2) = sqrt((0 + 0.01 + 0.01) / 3) = 0.08165
  t = analyze_logs.cal_train_time(recs)
  assert t.epochs == [1, 2, 3] and t.num_records == 6
  np.testing.assert_allclose(t.epoch_means, [0.3, 0.4, 0.2])
  assert (t.slowest, t.fastest) == (2, 3)
  np.testing.assert_allclose([t.mean, t.std], [0.3, np.sqrt(0.02 / 3)])
  # --include-outliers: epoch 1 1.6 / 3 = 0.5333, epoch 2 1.4 / 3 = 0.4667, epoch 3 1.2 / 3 = 0.4
  #   average = 4.2 / 9 = 0.4667; std = sqrt((0.0667^2 + 0 + 0.0667^2) / 3) = 0.05443
  t = analyze_logs.cal_train_time(recs, include_outliers=True)
  assert t.num_records == 9 and (t.slowest, t.fastest) == (1, 3)
  np.testing.assert_allclose(t.epoch_means, [1.6 / 3, 1.4 / 3, 1.2 / 3])
  np.testing.assert_allclose([t.mean, t.std], [4.2 / 9, np.sqrt(2 * (0.2 / 3) ** 2 / 3)])

  log = write_log(tmp_path / "log.jsonl", recs)
  assert analyze_logs.main(["cal_train_time", log]) == 0
  out = capsys.readouterr().out
  assert f"step time of {log}" in out
  assert "slowest epoch: 2, 0.4000 s/step" in out
  assert "fastest epoch: 3, 0.2000 s/step" in out
  assert "std of the epoch averages: 0.0816 s/step" in out
  assert "average step time: 0.3000 s/step" in out
  assert analyze_logs.main(["cal_train_time", log, "--include-outliers"]) == 0
  out = capsys.readouterr().out
  assert "slowest epoch: 1, 0.5333 s/step" in out and "average step time: 0.4667 s/step" in out


def test_cal_train_time_single_record_epochs_and_errors(tmp_path, capsys):
  # One record per epoch (logged every 6 steps): nothing to leave out, each is kept.
  recs = [train_record(6, 1.0, 0.5), train_record(12, 0.9, 0.3)]
  t = analyze_logs.cal_train_time(recs)
  np.testing.assert_allclose(t.epoch_means, [0.5, 0.3])
  np.testing.assert_allclose(t.mean, 0.4)
  log = write_log(tmp_path / "val_only.jsonl", [{"step": 6, "time": 0.0, "val/top1_acc": 0.5}])
  assert analyze_logs.main(["cal_train_time", log]) == 1
  assert "no 'train/step_time' records" in capsys.readouterr().err
