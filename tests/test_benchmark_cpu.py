"""benchmarks/_cpu.py: the per-clip CPU figures of input_pipeline.py count worker processes."""

from __future__ import annotations

import multiprocessing as mp
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
_cpu = pytest.importorskip("_cpu")


def _burn(seconds: float, done) -> None:
  while time.process_time() < seconds:
    pass
  done.set()
  time.sleep(30)  # stay alive (and counted) until the parent terminates us


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_tree_cpu_seconds_counts_live_children():
  before = _cpu.tree_cpu_seconds()
  own_before = time.process_time()
  ctx = mp.get_context("spawn")
  done = ctx.Event()
  child = ctx.Process(target=_burn, args=(0.5, done))
  child.start()
  try:
    assert done.wait(60)
    after = _cpu.tree_cpu_seconds()
    child_alone = _cpu.tree_cpu_seconds(child.pid)
  finally:
    child.terminate()
    child.join()
  own = time.process_time() - own_before
  assert child_alone >= 0.45  # its own busy loop (clock ticks are 10 ms)
  assert after - before >= own + 0.45
  assert _cpu.tree_cpu_seconds(child.pid) is None  # gone: nothing to read


def _burn_and_exit(seconds: float) -> None:
  while time.process_time() < seconds:
    pass


def _sleep(seconds: float) -> None:
  time.sleep(seconds)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_tree_cpu_seconds_keeps_children_that_exited():
  before = _cpu.tree_cpu_seconds()
  child = mp.get_context("spawn").Process(target=_burn_and_exit, args=(0.5,))
  child.start()
  child.join()  # waited for: its CPU time moves into ours (cutime)
  assert _cpu.tree_cpu_seconds() - before >= 0.45


def _spin(started, seconds: float) -> None:
  started.set()
  end = time.process_time() + seconds
  while time.process_time() < end:
    pass


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="needs Linux /proc")
def test_quiet_flags_cpu_used_outside_the_measured_tree():
  ctx = mp.get_context("spawn")
  measured = ctx.Process(target=_sleep, args=(30,))  # the "benchmark": idle
  measured.start()
  started = ctx.Event()
  other = ctx.Process(target=_spin, args=(started, 30.0))  # someone else: one busy core
  other.start()
  try:
    assert started.wait(60)  # timed once it burns, not while it imports
    with _cpu.Quiet(root=measured.pid) as quiet:
      time.sleep(1.0)
  finally:
    for p in (measured, other):
      p.terminate()
      p.join()
  # The other process had one core to itself for the whole 1 s block (2 cores here).
  assert quiet.foreign_cores > 0.5
  assert quiet.busy
  busy, steal, total = _cpu.system_cpu_seconds()
  assert 0 <= steal <= total and 0 < busy <= total
