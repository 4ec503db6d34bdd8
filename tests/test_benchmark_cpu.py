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
