"""What the XLA CPU flags vjax sets buy: compile time and step time, each flag set apart.

    .venv/bin/python benchmarks/xla_flags.py                       # SlowFast + I3D, batch 2, 96 px
    .venv/bin/python benchmarks/xla_flags.py --model x3d_m --rounds 3

The test suite runs with ``--xla_backend_optimization_level=0`` (compile-bound tiny models);
``make demo`` and the trainer use XLA's defaults, and the trainer compiles its step with
``vjax.train.step.compiler_options()``. For each flag set this script starts a fresh process
(XLA reads XLA_FLAGS once), compiles train_step.py's train step and inference for the model, and
times them; the flag sets alternate over ``--rounds`` rounds, and the table gives the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _cpu  # noqa: E402  pylint: disable=g-import-not-at-top

FLAG_SETS = {
    'default': '',
    'fast-compile': '--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true',
    'O0 only': '--xla_backend_optimization_level=0',
    'no-expensive-llvm only': '--xla_llvm_disable_expensive_passes=true',
    # XLA's experimental XNNPACK (YNN) path for convolutions and matrix products.
    'ynn conv+dot': ('--xla_cpu_experimental_ynn_fusion_type='
                     'LIBRARY_FUSION_TYPE_INDIVIDUAL_CONVOLUTION,LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT'),
}


def child(model: str, batch: int, size: int, steps: int) -> None:
  import train_step  # pylint: disable=g-import-not-at-top
  v = train_step.Vjax(train_step.resolve(model), batch, size, 'float32')
  v.run('train', 1)
  v.run('infer', 1)
  print(json.dumps(dict(compile_s=v.compile_s,
                        train_ms=statistics.median(v.run('train', steps)),
                        infer_ms=statistics.median(v.run('infer', steps)))))


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--model', nargs='+', default=['slowfast_r50_4x16', 'i3d_r50'])
  parser.add_argument('--batch', type=int, default=2)
  parser.add_argument('--size', type=int, default=96)
  parser.add_argument('--steps', type=int, default=3)
  parser.add_argument('--rounds', type=int, default=2)
  parser.add_argument('--flags', nargs='+', choices=list(FLAG_SETS), default=list(FLAG_SETS))
  parser.add_argument('--child', help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.child:
    child(args.child, args.batch, args.size, args.steps)
    return
  cores = len(os.sched_getaffinity(0))
  print(f'load average {_cpu.wait_until_idle(cores, 300):.2f} at start; {args.rounds} rounds, '
        'flag sets alternating', flush=True)
  results = {(m, f): [] for m in args.model for f in args.flags}
  for r in range(args.rounds):
    names = args.flags if r % 2 == 0 else args.flags[::-1]
    for model in args.model:
      for name in names:
        env = dict(os.environ, XLA_FLAGS=FLAG_SETS[name], TF_CPP_MIN_LOG_LEVEL='3')
        with _cpu.Quiet(os.getpid()) as quiet:
          out = subprocess.run([sys.executable, __file__, '--child', model, '--batch',
                                str(args.batch), '--size', str(args.size), '--steps',
                                str(args.steps)], env=env, capture_output=True, text=True,
                               check=True)
        res = json.loads(out.stdout.strip().splitlines()[-1])
        res['busy'] = quiet.busy
        results[(model, name)].append(res)
        print(f'  round {r}: {model:18s} {name:22s} compile {res["compile_s"]:5.1f} s, train '
              f'{res["train_ms"]:6.0f} ms, inference {res["infer_ms"]:5.0f} ms'
              + ('  BUSY' if quiet.busy else ''), flush=True)
  print(f'\n{"model":18s} {"XLA flags":22s} {"compile s":>9s} {"train ms":>9s} {"infer ms":>9s}')
  for (model, name), runs in results.items():
    med = lambda k: statistics.median(x[k] for x in runs)  # noqa: E731
    print(f'{model:18s} {name:22s} {med("compile_s"):9.1f} {med("train_ms"):9.0f} '
          f'{med("infer_ms"):9.0f}' + ('  BUSY' if any(x['busy'] for x in runs) else ''))
  print(f'load average at end: {os.getloadavg()[0]:.2f}')


if __name__ == '__main__':
  main()
