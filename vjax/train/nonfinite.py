"""NaN/inf losses (``config.nonfinite``): 'raise' stops training and names the first step whose
loss or gradients were not finite; 'skip' leaves such steps' updates out (the train step keeps
params, optimizer state and BN statistics) and counts them.

The train step flags every step (``step.NONFINITE``). A tiny jitted fold keeps the first
flagged step and the count on the device, so the host reads two scalars only where it syncs
anyway (log time, before evaluation and checkpoints): no extra sync per step, and the step is
named exactly even when it fell between log intervals.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from vjax.train import mesh as mesh_lib
from vjax.train.logging import say
from vjax.train.step import NONFINITE

MODES = ("raise", "skip")
STATE_KEY = "nonfinite_skipped"  # the skip count, kept in the checkpoint's data state


def check_mode(mode: str) -> str:
  if mode not in MODES:
    raise ValueError(f"config.nonfinite must be 'raise' (stop at a NaN/inf loss) or 'skip' "
                     f"(leave such steps out), got {mode!r}")
  return mode


def _fold(first, first_loss, count, flag, loss, where):
  """``first``: (step, source) of the first flagged step, (-1, -1) while there is none."""
  new = (first[0] < 0) & flag
  return (jnp.where(new, where, first), jnp.where(new, loss, first_loss),
          count + flag.astype(jnp.int32))


class NonfiniteWatch:
  """Folds each step's flag into device scalars; ``check`` reads them and raises or reports.

  ``sources`` name the batches of an iteration (OmniSource: '' and '/aux0', ...), so the
  message says which source's step it was; ``skipped`` is the count a resumed run starts from.
  """

  def __init__(self, mode: str, mesh, sources=("",), skipped: int = 0):
    self.mode = check_mode(mode)
    self.sources = tuple(sources)
    rep = mesh_lib.replicated(mesh)
    self._first = jax.device_put(np.array([-1, -1], np.int32), rep)
    self._first_loss = jax.device_put(np.float32(0), rep)
    self._count = jax.device_put(np.int32(0), rep)
    self._fold = jax.jit(_fold, out_shardings=(rep, rep, rep))
    self._before = int(skipped)
    self._reported = 0

  def note(self, metrics, step: int, source: str = "") -> None:
    """After step ``step`` (1-based, the log's numbering) of ``source`` was dispatched."""
    where = np.array([step, self.sources.index(source)], np.int32)
    self._first, self._first_loss, self._count = self._fold(
        self._first, self._first_loss, self._count, metrics[NONFINITE], metrics["loss"], where)

  def check(self) -> int:
    """Raises FloatingPointError at a flagged step under 'raise'; returns the number of steps
    skipped so far (this run's and those before a resume) under 'skip'."""
    first, loss, count = jax.device_get((self._first, self._first_loss, self._count))
    count = int(count)
    if count and self.mode == "raise":
      step, source = int(first[0]), self.sources[int(first[1])]
      what = f" (the {source.strip('/')} source's batch)" if source else ""
      raise FloatingPointError(
          f"non-finite loss or gradients at step {step}{what}: loss {float(loss)}. Lower the "
          "lr or clip gradients (optimizer_config.grad_clip), check the data, or set "
          "config.nonfinite='skip' to leave such steps out")
    if count > self._reported:
      say("Skipped %d step(s) with a non-finite loss or gradients so far (first: step %d)",
          self._before + count, int(first[0]))
      self._reported = count
    return self._before + count
