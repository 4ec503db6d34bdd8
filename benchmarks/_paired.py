"""Paired vjax-vs-MMAction2 timing shared by train_step.py and localizer_step.py.

A side is anything with ``run(phase, steps) -> [ms, ...]`` and ``close()``: vjax's jitted
steps in this process, or MMAction2's runner as a ``--serve`` subprocess in the reference
venv (``Served``). ``paired`` alternates the sides round by round and records, per timed
block, whether other processes or the hypervisor took CPU meanwhile (``_cpu.Quiet``);
``summarize`` turns the rounds into medians and the MMAction2 / vjax ratio over the quiet
ones. ``wait_for_idle`` is the start-of-run gate: a figure only counts on an idle machine.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
from pathlib import Path

import _cpu

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REF_PYTHON = os.environ.get('MMACTION2_REF_PYTHON', '/work/mmaction2-ref-venv/bin/python')


def timed(fn, steps: int) -> list[float]:
  """Milliseconds of each of ``steps`` calls of ``fn``."""
  out = []
  for _ in range(steps):
    start = time.perf_counter()
    fn()
    out.append((time.perf_counter() - start) * 1e3)
  return out


class Served:
  """A runner subprocess answering one JSON line per request (``{"phase", "steps"}`` ->
  ``{"ms": [...]}``); its first line (once the model is built) is kept as ``info``."""

  def __init__(self, cmd: list[str], env: dict[str, str] | None = None):
    self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, cwd=str(ROOT), env=env)
    self.info = self._reply()

  def _reply(self) -> dict:
    line = self.proc.stdout.readline()
    if not line:
      raise RuntimeError(f'MMAction2 runner failed ({self.proc.wait()}):\n'
                         f'{self.proc.stderr.read()[-3000:]}')
    return json.loads(line)

  def run(self, phase: str, steps: int) -> list[float]:
    self.proc.stdin.write(json.dumps(dict(phase=phase, steps=steps)) + '\n')
    self.proc.stdin.flush()
    return self._reply()['ms']

  def close(self):
    self.proc.stdin.close()
    self.proc.wait(timeout=60)


def start_as_vjax_main() -> None:
  """Restarts this benchmark with the malloc settings ``python -m vjax.main`` runs under on the
  CPU (vjax/train/host_memory.py), so that its in-process vjax side is timed as users run it.
  Call first thing, before JAX starts."""
  from vjax.train.host_memory import reexec_for_cpu  # pylint: disable=g-import-not-at-top
  reexec_for_cpu()


def mmaction2_env(malloc: str) -> dict[str, str]:
  """The MMAction2 runner's environment: glibc's malloc defaults, as its tools/train.py runs
  (``malloc='default'``), or vjax.main's settings too (``'vjax'``)."""
  from vjax.train.host_memory import MALLOC_ENV  # pylint: disable=g-import-not-at-top
  env = {k: v for k, v in os.environ.items() if k not in MALLOC_ENV}
  return dict(env, **MALLOC_ENV) if malloc == 'vjax' else env


def malloc_line(malloc: str) -> str:
  """What the output says about the two sides' malloc settings."""
  from vjax.train.host_memory import MALLOC_ENV  # pylint: disable=g-import-not-at-top
  ours = ' '.join(f'{k}={os.environ[k]}' for k in MALLOC_ENV if k in os.environ) or 'defaults'
  theirs = ours if malloc == 'vjax' else "glibc's defaults"
  return f'malloc: vjax {ours} (as vjax.main on the CPU); MMAction2 {theirs}'


def check_ref_python(ref_python: str) -> None:
  """Refuses early when the reference venv's Python named by a path is missing."""
  if not Path(ref_python).exists() and '/' in ref_python:
    raise SystemExit(f'No Python at {ref_python} (tests/reference/setup_venv.sh builds '
                     'the reference venv), or pass --skip-mmaction2.')


def wait_for_idle(threads: int, wait_idle: float, allow_busy: bool) -> tuple[float, bool]:
  """Waits up to ``wait_idle`` s for the load average to drop below the idle mark on
  ``threads`` cores (not at all with ``allow_busy``); refuses to go on on a busy machine
  unless ``allow_busy``. Returns (load average at start, whether the start was busy)."""
  load = _cpu.wait_until_idle(threads, 0 if allow_busy else wait_idle)
  busy_start = load >= _cpu.IDLE_LOAD_PER_CORE * threads
  print(f'threads: {threads} (XLA CPU and torch.set_num_threads); load average {load:.2f} '
        'at start', flush=True)
  if busy_start and not allow_busy:
    raise SystemExit(f'Refusing to measure: the load average is {load:.2f} on {threads} '
                     f'cores (a figure counts below {_cpu.IDLE_LOAD_PER_CORE * threads:.1f}). '
                     'Stop what else runs, or pass --allow-busy to mark every figure BUSY.')
  if busy_start:
    print('!!! BUSY MACHINE: the figures below do not count !!!', flush=True)
  return load, busy_start


def paired(sides: dict, rounds: int, steps: int, warmup: int,
           phases: tuple[str, ...] = ('train', 'infer')) -> dict:
  """Alternates the sides over ``rounds``; per side and phase the rounds' medians and whether
  each round's block was busy."""
  for side in sides.values():
    for phase in phases:
      side.run(phase, warmup)
  names = list(sides)
  out = {name: {phase: dict(ms=[], busy=[], foreign=[], steal=[]) for phase in phases}
         for name in names}
  for r in range(rounds):
    order = names if r % 2 == 0 else names[::-1]
    for phase in phases:
      for name in order:
        with _cpu.Quiet() as quiet:
          ms = sides[name].run(phase, steps)
        rec = out[name][phase]
        rec['ms'].append(statistics.median(ms))
        rec['busy'].append(quiet.busy)
        rec['foreign'].append(quiet.foreign_cores)
        rec['steal'].append(quiet.steal)
  return out


def summarize(rec_v: dict, rec_m: dict) -> dict:
  """Median ms per side, and the MMAction2 / vjax ratio over the quiet rounds."""
  busy = [bv or bm for bv, bm in zip(rec_v['busy'], rec_m['busy'])]
  quiet = [i for i, b in enumerate(busy) if not b] or list(range(len(busy)))
  ratios = [rec_m['ms'][i] / rec_v['ms'][i] for i in quiet]
  return dict(vjax_ms=statistics.median(rec_v['ms'][i] for i in quiet),
              mm_ms=statistics.median(rec_m['ms'][i] for i in quiet),
              ratio=statistics.median(ratios), ratio_min=min(ratios), ratio_max=max(ratios),
              rounds=len(busy), busy_rounds=sum(busy), all_busy=all(busy),
              max_foreign=max(rec_v['foreign'] + rec_m['foreign']),
              max_steal=max(rec_v['steal'] + rec_m['steal']))


def summarize_one(rec: dict) -> dict:
  """One side alone (``--skip-mmaction2``): its median ms and busy rounds."""
  return dict(vjax_ms=statistics.median(rec['ms']), all_busy=all(rec['busy']),
              busy_rounds=sum(rec['busy']), rounds=len(rec['busy']))


def add_paired_arguments(parser) -> None:
  """The options every paired vjax-vs-MMAction2 benchmark takes: the reference Python, skipping
  MMAction2, the idle wait, running busy anyway, and a JSON dump of every measurement."""
  parser.add_argument('--ref-python', default=DEFAULT_REF_PYTHON,
                      help='the Python with torch, mmcv 1.x and mmaction2 0.24.1')
  parser.add_argument('--skip-mmaction2', action='store_true')
  parser.add_argument('--wait-idle', type=float, default=300,
                      help='seconds to wait for a quiet machine before refusing (CPU only)')
  parser.add_argument('--allow-busy', action='store_true',
                      help='run on a busy machine anyway; every figure is marked BUSY')
  parser.add_argument('--json-out', help='also write all measurements here')
  parser.add_argument('--mmaction2-malloc', choices=('default', 'vjax'), default='default',
                      help="MMAction2's glibc malloc settings: its defaults, as its tools run, "
                      "or vjax.main's (vjax/train/host_memory.py)")
