"""Plots metric curves and summarises step times of vjax training logs (MMAction2's
``tools/analysis/analyze_logs.py``, on the ``WORKDIR/log.jsonl`` that vjax's trainer writes).

    python -m vjax.tools.analyze_logs plot_curve LOG.jsonl [LOG2.jsonl ...] --keys loss top1_acc
        [--x step|epoch] [--legend L1 L2 ...] [--title T] [--style whitegrid] [--backend B]
        [--out curve.png|.pdf|.svg]
    python -m vjax.tools.analyze_logs cal_train_time LOG.jsonl [LOG2.jsonl ...] [--include-outliers]

Each line of ``log.jsonl`` is one JSON record ``{"step", "time", "train/loss", "train/lr",
"train/step_time", "train/epoch", ...}`` (a train log interval) or ``{"step", "time",
"val/top1_acc", ...}`` (an evaluation). A key may be given with its prefix (``val/top1_acc``,
``test/top1_acc``) or without; without, ``train/KEY`` is looked up first, then ``val/KEY``.
When a resumed run logs a step again, its records replace the earlier ones from that step on.

``plot_curve`` draws one line per (log, key) against the step, or against the epoch with
``--x epoch`` (evaluation records get their epoch from the train records' ``step / epoch``).
The legend defaults to ``{name}_{key}``, where name is the log's stem, or its directory's name
for the usual ``log.jsonl``. ``--out`` renders headless, the format following the extension;
without it the plot is shown, which needs a display.

``cal_train_time`` groups the train records by epoch (epoch ``e`` holds the steps with
``e - 1 < train/epoch <= e``) and prints the average of ``train/step_time`` (the wall time of
the logged step), the slowest and the fastest epoch by their average, and the standard
deviation of the epoch averages. As in MMAction2, the first record of each epoch is treated as
an outlier and left out, except with ``--include-outliers`` or when it is the epoch's only one.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np

PREFIXES = ("train/", "val/")
# MMAction2 names seaborn's styles; matplotlib ships them as "seaborn-v0_8-<name>".
SEABORN_STYLES = ("dark", "darkgrid", "white", "whitegrid", "ticks")
NON_INTERACTIVE = {"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"}
FIGSIZE = (8.0, 5.0)  # inches; 800 x 500 pixels at the default 100 dpi
DPI = 100


def load_log(path: str | os.PathLike) -> list[dict]:
  """The records of a ``log.jsonl``; a cut-off last line (a run killed mid-write) is skipped."""
  with open(path) as f:
    lines = [(i, line) for i, line in enumerate(f, 1) if line.strip()]
  records = []
  for n, (lineno, line) in enumerate(lines):
    try:
      record = json.loads(line)
    except json.JSONDecodeError as e:
      if n == len(lines) - 1:
        print(f"warning: {path}:{lineno}: skipping the unfinished last line", file=sys.stderr)
        break
      raise ValueError(f"{path}:{lineno}: not a JSON record ({e})") from None
    if not isinstance(record, dict) or "step" not in record:
      raise ValueError(f"{path}:{lineno}: not a vjax log record (no 'step')")
    records.append(record)
  return records


def available_keys(records: Sequence[dict]) -> list[str]:
  """The numeric metric keys of a log, in order of first appearance."""
  keys = {}
  for r in records:
    for k, v in r.items():
      if k not in ("step", "time") and _is_number(v):
        keys[k] = None
  return list(keys)


def resolve_key(records: Sequence[dict], key: str, path: str = "log") -> str:
  """``key`` as logged: itself if present, else ``train/key`` then ``val/key``."""
  present = available_keys(records)
  candidates = [key] if "/" in key else [key] + [p + key for p in PREFIXES]
  for k in candidates:
    if k in present:
      return k
  looked = " or ".join(repr(k) for k in candidates)
  raise KeyError(f"{path}: no {looked}; the log has {', '.join(present) or 'no metrics'}")


class Series(NamedTuple):
  steps: np.ndarray  # int
  values: np.ndarray  # float
  epochs: np.ndarray | None  # float; None when the log has no train/epoch


def series(records: Sequence[dict], key: str) -> Series:
  """The values of one logged key by step; a record whose step is not after the previous
  one (a resumed run) drops the earlier points from that step on."""
  steps, values = [], []
  for r in records:
    if key not in r or not _is_number(r[key]):
      continue
    s = int(r["step"])
    while steps and steps[-1] >= s:
      steps.pop()
      values.pop()
    steps.append(s)
    values.append(float(r[key]))
  steps_arr = np.asarray(steps, np.int64)
  per_epoch = steps_per_epoch(records)
  epochs = None if per_epoch is None else steps_arr / per_epoch
  return Series(steps_arr, np.asarray(values, np.float64), epochs)


def steps_per_epoch(records: Sequence[dict]) -> float | None:
  """``step / train/epoch`` of the last train record that has an epoch, else None."""
  for r in reversed(records):
    e = r.get("train/epoch")
    if _is_number(e) and e > 0:
      return int(r["step"]) / float(e)
  return None


def log_names(paths: Sequence[str]) -> list[str]:
  """Legend names: the file's stem, or its directory's name for ``log.jsonl``; the path
  without extension where those collide."""
  names = []
  for p in paths:
    p = Path(p)
    parent = p.resolve().parent.name
    names.append(parent if p.stem == "log" and parent else p.stem)
  if len(set(names)) < len(names):
    names = [str(Path(p).with_suffix("")) for p in paths]
  return names


def curves(logs: Sequence[str], keys: Sequence[str], x: str = "step"
           ) -> list[tuple[np.ndarray, np.ndarray]]:
  """The (x, y) data of every (log, key), logs outermost; KeyError for a key a log lacks."""
  if x not in ("step", "epoch"):
    raise ValueError(f"--x must be 'step' or 'epoch', not {x!r}")
  if not keys:
    raise ValueError("--keys: give at least one key")
  data = []
  for path in logs:
    records = load_log(path)
    for key in keys:
      s = series(records, resolve_key(records, key, path))
      if x == "epoch" and s.epochs is None:
        raise ValueError(f"{path}: --x epoch needs 'train/epoch' in the log; use --x step")
      data.append((s.epochs if x == "epoch" else s.steps, s.values))
  return data


def legend_labels(logs: Sequence[str], keys: Sequence[str],
                  legend: Sequence[str] | None = None) -> list[str]:
  if legend is None:
    return [f"{name}_{key}" for name in log_names(logs) for key in keys]
  if len(legend) != len(logs) * len(keys):
    raise ValueError(f"--legend needs one label per (log, key): {len(logs)} logs x "
                     f"{len(keys)} keys = {len(logs) * len(keys)} labels, got {len(legend)}")
  return list(legend)


def plot_curve(logs: Sequence[str], keys: Sequence[str], *, legend: Sequence[str] | None = None,
               title: str | None = None, x: str = "step", style: str | None = "whitegrid",
               fig=None):
  """Draws one line per (log, key) on ``fig`` (a new ``matplotlib.figure.Figure`` if None)
  and returns the figure; the lines are ``fig.axes[0].get_lines()`` in (log, key) order."""
  labels = legend_labels(logs, keys, legend)
  return draw(curves(logs, keys, x), labels, x_label=x,
              y_label=keys[0] if len(keys) == 1 else "value", title=title, style=style, fig=fig)


def draw(data: Sequence[tuple[np.ndarray, np.ndarray]], labels: Sequence[str], *,
         x_label: str = "step", y_label: str = "value", title: str | None = None,
         style: str | None = "whitegrid", fig=None):
  import matplotlib.style  # pylint: disable=g-import-not-at-top
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top

  with matplotlib.style.context(_style_name(style)):
    if fig is None:
      fig = Figure(figsize=FIGSIZE, dpi=DPI)
    ax = fig.add_subplot()
    for (xs, ys), label in zip(data, labels):
      marker = "o" if len(xs) <= 30 else None  # sparse series (evaluations): show the points
      ax.plot(xs, ys, label=label, linewidth=1.2, marker=marker, markersize=3.5)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    if title is not None:
      ax.set_title(title)
    ax.grid(True, alpha=0.4)
    ax.legend()
    fig.tight_layout()
  return fig


def _style_name(style: str | None) -> str:
  import matplotlib.style  # pylint: disable=g-import-not-at-top
  if style is None or style == "default":
    return "default"
  if style in matplotlib.style.available:
    return style
  for name in (f"seaborn-v0_8-{style}", f"seaborn-{style}"):
    if style in SEABORN_STYLES and name in matplotlib.style.available:
      return name
  styles = ", ".join(SEABORN_STYLES + tuple(sorted(matplotlib.style.available)))
  raise ValueError(f"--style {style!r}: not a matplotlib style; use one of {styles}")


class TrainTime(NamedTuple):
  mean: float  # s/step over the records kept
  num_records: int  # records kept
  epochs: list[int]
  epoch_means: list[float]
  slowest: int  # epoch number
  fastest: int
  std: float  # population std of the epoch means


def cal_train_time(records: Sequence[dict], include_outliers: bool = False,
                   path: str = "log") -> TrainTime:
  """Step-time statistics of a log (see the module docstring for the rule)."""
  steps = series(records, "train/step_time")
  if not len(steps.steps):
    raise ValueError(f"{path}: no 'train/step_time' records; is it a training log?")
  epoch_of = {}
  per_epoch = steps_per_epoch(records)
  for r in records:
    if _is_number(r.get("train/epoch")):
      epoch_of[int(r["step"])] = float(r["train/epoch"])
  by_epoch: dict[int, list[float]] = {}
  for s, t in zip(steps.steps.tolist(), steps.values.tolist()):
    e = epoch_of.get(s, s / per_epoch if per_epoch else 1.0)
    by_epoch.setdefault(max(1, math.ceil(e)), []).append(t)
  kept = {e: (ts if include_outliers or len(ts) == 1 else ts[1:]) for e, ts in by_epoch.items()}
  epochs = sorted(kept)
  means = [float(np.mean(kept[e])) for e in epochs]
  times = [t for e in epochs for t in kept[e]]
  return TrainTime(mean=float(np.mean(times)), num_records=len(times), epochs=epochs,
                   epoch_means=means, slowest=epochs[int(np.argmax(means))],
                   fastest=epochs[int(np.argmin(means))], std=float(np.std(means)))


def format_train_time(path: str, t: TrainTime, include_outliers: bool) -> str:
  rule = "all records" if include_outliers else "first record of each epoch left out"
  by_epoch = dict(zip(t.epochs, t.epoch_means))
  return "\n".join([
      f"----- step time of {path} -----",
      f"epochs {t.epochs[0]}-{t.epochs[-1]}, {t.num_records} step times ({rule})",
      f"slowest epoch: {t.slowest}, {by_epoch[t.slowest]:.4f} s/step on average",
      f"fastest epoch: {t.fastest}, {by_epoch[t.fastest]:.4f} s/step on average",
      f"std of the epoch averages: {t.std:.4f} s/step",
      f"average step time: {t.mean:.4f} s/step",
  ])


def _is_number(v: Any) -> bool:
  return isinstance(v, (int, float)) and not isinstance(v, bool)


def _has_display() -> bool:
  if sys.platform.startswith("linux"):
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
  return True


def _show(data, labels, kw, backend) -> int:
  import matplotlib  # pylint: disable=g-import-not-at-top
  if not _has_display() and not (backend or "").startswith("module://"):
    print("analyze_logs: no display to show the plot on; pass --out curve.png (or .pdf/.svg)",
          file=sys.stderr)
    return 1
  if backend is not None:
    matplotlib.use(backend)
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  if plt.get_backend().lower() in NON_INTERACTIVE:
    print(f"analyze_logs: matplotlib backend {plt.get_backend()!r} cannot show a window; pass "
          "--out curve.png (or .pdf/.svg)", file=sys.stderr)
    return 1
  draw(data, labels, **kw, fig=plt.figure(figsize=FIGSIZE, dpi=DPI))
  plt.show()
  return 0


def _save(fig, out: str, backend: str | None):
  """Writes the figure, the format following the extension. ``backend`` renders it only when
  it is a file backend (agg, cairo, pdf, pgf, ps, svg); an interactive one (for showing)
  leaves the file to matplotlib's default renderer."""
  import matplotlib.rcsetup  # pylint: disable=g-import-not-at-top
  if backend is not None:
    try:
      matplotlib.rcsetup.validate_backend(backend)
    except ValueError:
      raise ValueError(f"--backend {backend!r}: not a matplotlib backend") from None
    if backend.lower() not in NON_INTERACTIVE and not backend.startswith("module://"):
      backend = None
  os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
  try:
    fig.savefig(out, backend=backend and backend.lower())
  except ImportError as e:
    raise ValueError(f"--backend {backend}: {e}") from None


def parse_args(argv=None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(prog="python -m vjax.tools.analyze_logs",
                                   description="Analyse vjax log.jsonl training logs.")
  sub = parser.add_subparsers(dest="task", required=True)
  plot = sub.add_parser("plot_curve", help="plot metric curves of one or more logs")
  plot.add_argument("json_logs", nargs="+", help="log.jsonl files")
  plot.add_argument("--keys", nargs="+", default=["top1_acc"],
                    help="metrics to plot, with or without the train/ or val/ prefix")
  plot.add_argument("--x", choices=("step", "epoch"), default="step", help="x axis")
  plot.add_argument("--title", help="figure title")
  plot.add_argument("--legend", nargs="+", help="one label per (log, key), logs outermost")
  plot.add_argument("--backend", help="matplotlib backend (for showing, or to render --out)")
  plot.add_argument("--style", default="whitegrid",
                    help="matplotlib style, or a seaborn style name (dark, darkgrid, white, "
                    "whitegrid, ticks)")
  plot.add_argument("--out", help="image to write (.png, .pdf, .svg, ...); shows it if absent")
  time_ = sub.add_parser("cal_train_time", help="average step time of one or more logs")
  time_.add_argument("json_logs", nargs="+", help="log.jsonl files")
  time_.add_argument("--include-outliers", action="store_true",
                     help="keep the first step time of every epoch in the averages")
  return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
  args = parse_args(argv)
  try:
    if args.task == "cal_train_time":
      for path in args.json_logs:
        t = cal_train_time(load_log(path), args.include_outliers, path)
        print(format_train_time(path, t, args.include_outliers) + "\n")
      return 0
    data = curves(args.json_logs, args.keys, args.x)
    labels = legend_labels(args.json_logs, args.keys, args.legend)
    _style_name(args.style)
    kw = dict(x_label=args.x, y_label=args.keys[0] if len(args.keys) == 1 else "value",
              title=args.title, style=args.style)
    if args.out is None:
      return _show(data, labels, kw, args.backend)
    fig = draw(data, labels, **kw)
    _save(fig, args.out, args.backend)
    print(f"saved the curves to {args.out}")
    return 0
  except (ValueError, KeyError, OSError) as e:
    msg = e.args[0] if isinstance(e, KeyError) and e.args else e
    print(f"analyze_logs: error: {msg}", file=sys.stderr)
    return 1


if __name__ == "__main__":
  sys.exit(main())
