"""Orbax checkpoints: the last N (``checkpoints/``) and the best by a metric (``best/``).

A checkpoint holds the whole train state and the data iterator's state, so a preempted run
resumes exactly. Orbax writes into a temporary directory and renames it when complete: a
crash never leaves a half-written checkpoint that resume would pick up.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import orbax.checkpoint as ocp


class Checkpointer:
  """``save`` every interval, ``save_best`` on improvement, ``restore_latest`` on start."""

  def __init__(self, workdir: str, *, max_to_keep: int = 3, best_metric: str | None = None,
               best_mode: str = "max"):
    self.best_metric = best_metric
    root = os.path.abspath(workdir)
    self.last = ocp.CheckpointManager(
        os.path.join(root, "checkpoints"),
        options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True),
        item_names=("state", "data"))
    self.best = None
    if best_metric:
      self.best = ocp.CheckpointManager(
          os.path.join(root, "best"),
          options=ocp.CheckpointManagerOptions(
              max_to_keep=1, create=True, best_fn=lambda m: m[best_metric], best_mode=best_mode),
          item_names=("state", "data"))

  @staticmethod
  def _args(state, data_state):
    return ocp.args.Composite(state=ocp.args.StandardSave(state),
                              data=ocp.args.JsonSave(data_state if data_state is not None else {}))

  def save(self, step: int, state, data_state: Any = None, force: bool = False):
    if step in self.last.all_steps():
      return
    self.last.save(step, args=self._args(state, data_state), force=force)

  def save_best(self, step: int, state, metrics: dict[str, float], data_state: Any = None) -> bool:
    """Saves when ``metrics[best_metric]`` beats every kept best; returns whether it did."""
    if self.best is None:
      return False
    if self.best_metric not in metrics:
      raise KeyError(f"save_best={self.best_metric!r} is not among the evaluation results "
                     f"{sorted(metrics)}; set evaluation.save_best to one of them")
    before = self.best.best_step()
    if step in self.best.all_steps():
      return False
    self.best.save(step, args=self._args(state, data_state), metrics=metrics, force=True)
    self.best.wait_until_finished()
    return self.best.best_step() != before

  def latest_step(self) -> int | None:
    return self.last.latest_step()

  def restore(self, step: int, abstract_state, manager: str = "last"):
    mngr = self.last if manager == "last" else self.best
    out = mngr.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(abstract_state), data=ocp.args.JsonRestore()))
    return out["state"], (out["data"] or None)

  def wait(self):
    self.last.wait_until_finished()
    if self.best is not None:
      self.best.wait_until_finished()

  def close(self):
    self.last.close()
    if self.best is not None:
      self.best.close()


def restore_from(path: str, abstract_state):
  """(state, data iterator state) of another run's checkpoint step directory
  (``WORKDIR/checkpoints/STEP``), MMAction2's ``resume_from``: the whole train state,
  optimizer, step and data position included, unlike ``load_from``."""
  path = os.path.abspath(path)
  root, name = os.path.split(path.rstrip("/"))
  if not (os.path.isdir(path) and name.isdigit()):
    raise FileNotFoundError(f"resume_from={path!r} is not a checkpoint step directory; give "
                            "one such as OTHER_WORKDIR/checkpoints/1000")
  manager = ocp.CheckpointManager(root, item_names=("state", "data"))
  try:
    out = manager.restore(int(name), args=ocp.args.Composite(
        state=ocp.args.StandardRestore(abstract_state), data=ocp.args.JsonRestore()))
  finally:
    manager.close()
  return out["state"], (out["data"] or None)


def load_params(path: str, abstract_state):
  """Params and BN statistics of a vjax checkpoint (``load_from``), placed like ``abstract_state``.

  Shapes and tree structure must match the model; a mismatch is an error that lists the keys.
  """
  path = os.path.abspath(path)
  item = os.path.join(path, "state") if os.path.isdir(os.path.join(path, "state")) else path
  if not os.path.isdir(item):
    raise FileNotFoundError(f"load_from={path!r} is not a checkpoint directory; give a vjax "
                            "checkpoint step directory such as WORKDIR/checkpoints/1000")
  with ocp.StandardCheckpointer() as ckptr:
    full = ckptr.restore(item)
  out = {}
  for key in ("params", "batch_stats"):
    target = getattr(abstract_state, key)
    if key not in full:
      raise KeyError(f"checkpoint {item} has no {key!r}; it is not a vjax train-state checkpoint")
    want = {jax.tree_util.keystr(p): t for p, t in jax.tree_util.tree_leaves_with_path(target)}
    have = {jax.tree_util.keystr(p): a for p, a in jax.tree_util.tree_leaves_with_path(full[key])}
    problems = [f"missing {k}" for k in want if k not in have]
    problems += [f"unexpected {k}" for k in have if k not in want]
    problems += [f"shape {k}: checkpoint {have[k].shape} vs model {want[k].shape}"
                 for k in want if k in have and have[k].shape != want[k].shape]
    if problems:
      raise ValueError(f"load_from={path}: {key} do not match the model:\n  " + "\n  ".join(problems))
    out[key] = jax.tree.map(lambda a, t: jax.device_put(a.astype(t.dtype), t.sharding),
                            full[key], target)
  return out["params"], out["batch_stats"]
