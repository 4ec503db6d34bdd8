"""One BMN / BSN-TEM training step: vjax (jitted) vs MMAction2 0.24.1, same model and batch.

    .venv/bin/python benchmarks/localizer_step.py                   # bmn and tem, configs' batch
    .venv/bin/python benchmarks/localizer_step.py --model bmn --rounds 7 --json-out bmn.json
    .venv/bin/python benchmarks/localizer_step.py --rounds 1 --steps 1 --batch 2 --allow-busy  # smoke

The models, optimizers and default batch sizes are those of configs/bmn_activitynet.py
(MMAction2's ``bmn_400x100_2x8_9e_activitynet_feature``: 8 videos per device) and
configs/bsn_tem_activitynet.py (``bsn_tem_400x100_1x16_20e_activitynet_feature``: 16): the
``bmn_400x100`` and ``bsn_tem`` model dicts, Adam at lr 1e-3 with weight decay 1e-4, no
gradient clipping. Both sides train on one random batch drawn here: ``raw_feature`` ``(N, 400,
100)`` float32 (the loader's ``(C, T)`` layout on both sides; vjax's task moves it to
channels-last ``(T, C)`` inside its step) and 1 to ``--max-segments`` ground-truth segments
per video in [0, 1] (float32 values, so MMAction2's float64 copies hold the same numbers).
* vjax: ``gt_bbox`` padded to the configs' ``PadTo`` rows (64) with ``gt_mask``;
  ``make_train_step`` (labels made on the device from the padded rows, forward, loss,
  gradients, Adam) ``jax.jit``-ed with explicit shardings on one device and compiled ahead of
  time (compile time reported apart).
* MMAction2: benchmarks/_mmaction2_localizer_runner.py (``--serve``) in the reference venv:
  ``gt_bbox`` as the list of per-video ``(K, 2)`` tensors its collate gives, ``model.train_step``
  (labels generated on the host with numpy inside ``forward``: part of its step) and what
  mmcv's OptimizerHook does.

Pairing, busy detection and the idle wait are train_step.py's (benchmarks/_paired.py): after
``--warmup`` untimed steps per side, ``--rounds`` rounds alternate the sides, each side's round
figure is the median of ``--steps`` steps, the ratio MMAction2 ms / vjax ms (above 1: vjax
faster) is taken per round over the rounds without foreign CPU or steal, and the table gives
its median with the lowest and highest round. torch gets as many threads as XLA's CPU client
uses. The script waits up to ``--wait-idle`` s for an idle machine and refuses otherwise
(``--allow-busy`` runs anyway and marks every figure BUSY).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _paired import (ROOT, Served, add_paired_arguments, check_ref_python, malloc_line,  # noqa: E402  pylint: disable=g-import-not-at-top
                     mmaction2_env, paired, start_as_vjax_main, summarize, summarize_one, timed,
                     wait_for_idle)

RUNNER = Path(__file__).resolve().parent / '_mmaction2_localizer_runner.py'
CONFIGS = {'bmn': 'configs/bmn_activitynet.py', 'tem': 'configs/bsn_tem_activitynet.py'}
PHASES = ('train',)


def load_spec(name: str) -> dict:
  """The model, optimizer, ground-truth padding and batch of ``name``'s config."""
  from vjax.config import MAX_GT_SEGMENTS, load_config  # pylint: disable=g-import-not-at-top
  from vjax.registry import to_dict  # pylint: disable=g-import-not-at-top
  config = load_config(str(ROOT / CONFIGS[name]))
  pad = [op['sizes']['gt_bbox'] for op in to_dict(config.data.train)['pipeline']
         if op['type'] == 'PadTo']
  return dict(config=config, model=to_dict(config.model), optimizer=to_dict(config.optimizer),
              optimizer_config=to_dict(config.optimizer_config),
              gt_rows=pad[0] if pad else MAX_GT_SEGMENTS,
              batch=int(config.data.videos_per_device))


def feature_shape(model: dict) -> tuple[int, int]:
  """(C, T): one video's ``raw_feature`` as ``LoadLocalizationFeature`` gives it."""
  channels = model['feat_dim'] if model['type'] == 'BMN' else model['tem_feat_dim']
  return channels, model['temporal_dim']


def make_batch(model: dict, batch: int, gt_rows: int, max_segments: int, seed: int) -> dict:
  """Random features and 1..``max_segments`` segments per video (normalised to [0, 1], as
  ``GenerateLocalizationLabels`` gives them), padded to ``gt_rows`` with ``gt_mask``."""
  rng = np.random.default_rng(seed)
  features = rng.standard_normal((batch,) + feature_shape(model), dtype=np.float32)
  gt_bbox = np.zeros((batch, gt_rows, 2), np.float32)
  gt_mask = np.zeros((batch, gt_rows), bool)
  for i in range(batch):
    k = int(rng.integers(1, max_segments + 1))
    centre = rng.uniform(0.1, 0.9, k)
    half = rng.uniform(0.02, 0.2, k)
    gt_bbox[i, :k, 0] = np.clip(centre - half, 0, 1)
    gt_bbox[i, :k, 1] = np.clip(centre + half, 0, 1)
    gt_mask[i, :k] = True
  return dict(raw_feature=features, gt_bbox=gt_bbox, gt_mask=gt_mask)


class Vjax:
  """The vjax side: the task's train step, jitted and compiled once."""

  def __init__(self, spec: dict, host_batch: dict, seed: int = 0):
    import jax  # pylint: disable=g-import-not-at-top
    import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
    from vjax.tasks import build_task  # pylint: disable=g-import-not-at-top
    from vjax.train import mesh as mesh_lib  # pylint: disable=g-import-not-at-top
    from vjax.train import optim  # pylint: disable=g-import-not-at-top
    from vjax.train import step as step_lib  # pylint: disable=g-import-not-at-top
    from vjax.train.state import create_state  # pylint: disable=g-import-not-at-top

    mesh = mesh_lib.make_mesh((('data', -1),), devices=jax.devices()[:1])
    task = build_task(spec['config'])
    model = task.build_model()
    lr = spec['optimizer']['lr']
    schedule = lambda step: jnp.asarray(lr, jnp.float32)  # noqa: E731  (constant: one step)
    tx = optim.make_optimizer(spec['optimizer'], spec['optimizer_config'], schedule)
    state, shardings = create_state(model, tx, mesh, task.init_inputs(), seed)
    data = mesh_lib.global_batch(mesh, host_batch)
    bs, rep = mesh_lib.batch_sharding(mesh), mesh_lib.replicated(mesh)
    train = jax.jit(step_lib.make_train_step(task, model, tx, schedule),
                    in_shardings=(shardings, bs), out_shardings=(shardings, rep),
                    donate_argnums=(0,), compiler_options=step_lib.compiler_options())
    start = time.perf_counter()
    lowered = train.lower(state, data)
    compiled = lowered.compile()
    self.compile_s = time.perf_counter() - start
    self.flops = float(lowered.cost_analysis()['flops'])
    box = [state]

    def train_step():
      box[0], metrics = compiled(box[0], data)
      jax.block_until_ready((box[0], metrics))

    self.step = train_step
    self.info = dict(jax=jax.__version__, backend=jax.default_backend(),
                     device_kind=jax.devices()[0].device_kind)

  def run(self, phase: str, steps: int) -> list[float]:
    assert phase == 'train', phase
    return timed(self.step, steps)

  def close(self):
    pass


class MMAction2(Served):
  """The MMAction2 side: the localizer runner as a server subprocess."""

  def __init__(self, python: str, spec: dict, batch_file: str, threads: int, device: str,
               env: dict[str, str] | None = None):
    payload = dict(model=spec['model'], optimizer=spec['optimizer'],
                   optimizer_config=spec['optimizer_config'])
    super().__init__([python, str(RUNNER), '--serve', '--spec', json.dumps(payload),
                      '--batch-file', batch_file, '--threads', str(threads), '--device', device], env)


def main():
  start_as_vjax_main()
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--model', nargs='+', choices=list(CONFIGS), default=list(CONFIGS))
  parser.add_argument('--batch', type=int,
                      help="videos per step (default: the config's, bmn 8 and tem 16)")
  parser.add_argument('--max-segments', type=int, default=4,
                      help='ground-truth segments per video: 1 to this many')
  parser.add_argument('--rounds', type=int, default=5, help='paired rounds (ratio: median)')
  parser.add_argument('--steps', type=int, default=3, help='timed steps per side and round')
  parser.add_argument('--warmup', type=int, default=1, help='untimed steps after compiling')
  parser.add_argument('--seed', type=int, default=0)
  add_paired_arguments(parser)
  args = parser.parse_args()

  import jax  # pylint: disable=g-import-not-at-top
  on_cpu = jax.default_backend() == 'cpu'
  threads = len(os.sched_getaffinity(0))  # XLA's CPU client sizes its thread pool like this
  run_mm = not args.skip_mmaction2
  if run_mm:
    check_ref_python(args.ref_python)
  device = jax.devices()[0]
  print(f'vjax: jax {jax.__version__} on {jax.default_backend()} ({device.device_kind}), '
        f'float32; {args.rounds} paired rounds of {args.steps} train steps per side after '
        f'{args.warmup} warm-up (compile excluded)')
  load_start, busy_start = None, False
  if on_cpu:
    print(malloc_line(args.mmaction2_malloc))
    load_start, busy_start = wait_for_idle(threads, args.wait_idle, args.allow_busy)

  rows = []
  with tempfile.TemporaryDirectory() as tmp:
    for name in args.model:
      spec = load_spec(name)
      batch = args.batch or spec['batch']
      host = make_batch(spec['model'], batch, spec['gt_rows'], args.max_segments,
                        args.seed)
      batch_file = str(Path(tmp) / f'{name}.npz')
      np.savez(batch_file, **host)
      v = Vjax(spec, host, args.seed)
      segments = host['gt_mask'].sum(1)
      print(f'  {name}: batch {batch}, raw_feature {host["raw_feature"].shape[1:]}, '
            f'{segments.min()}-{segments.max()} segments per video (padded to '
            f'{spec["gt_rows"]}); vjax compiled in {v.compile_s:.0f} s; XLA: '
            f'{v.flops / 1e9:.1f} GFLOP/train step', flush=True)
      sides = dict(vjax=v)
      if run_mm:
        sides['mmaction2'] = MMAction2(args.ref_python, spec, batch_file, threads,
                                       'cpu' if on_cpu else 'cuda',
                                       mmaction2_env(args.mmaction2_malloc))
      per_side = paired(sides, args.rounds, args.steps, args.warmup, PHASES)
      mm_info = sides['mmaction2'].info if run_mm else None
      for side in sides.values():
        side.close()
      rv = per_side['vjax']['train']
      s = summarize(rv, per_side['mmaction2']['train']) if run_mm else summarize_one(rv)
      s['all_busy'] = s['all_busy'] or busy_start
      rows.append(dict(model=name, batch=batch, segments=segments.tolist(),
                       compile_s=v.compile_s, flops=v.flops, vjax_info=v.info,
                       mmaction2_info=mm_info, raw=per_side, train=s))
      line = f'    train vjax {s["vjax_ms"]:7.0f} ms'
      if run_mm:
        line += (f'  MMAction2 {s["mm_ms"]:7.0f} ms  ratio {s["ratio"]:.2f}x '
                 f'[{s["ratio_min"]:.2f}-{s["ratio_max"]:.2f}]')
      print(line + f'  busy rounds {s["busy_rounds"]}/{s["rounds"]}'
            + ('  BUSY' if s['all_busy'] else ''), flush=True)

  load_end = os.getloadavg()[0] if on_cpu else None
  print(f'\n{"model":6s} {"batch":>5s} {"vjax ms":>8s} {"MMA2 ms":>8s} {"ratio":>6s} '
        f'{"spread":>11s} {"compile s":>9s} {"busy rounds":>11s}')
  for r in rows:
    s = r['train']
    m = s.get('mm_ms', float('nan'))
    ratio = s.get('ratio', float('nan'))
    spread = f'{s["ratio_min"]:.2f}-{s["ratio_max"]:.2f}' if 'ratio_min' in s else ''
    busy = f'{s["busy_rounds"]}/{s["rounds"]}'
    print(f'{r["model"]:6s} {r["batch"]:5d} {s["vjax_ms"]:8.0f} {m:8.0f} {ratio:5.2f}x '
          f'{spread:>11s} {r["compile_s"]:9.1f} {busy:>11s}'
          + ('  BUSY' if s['all_busy'] else ''))
  print('ratio = MMAction2 ms / vjax ms of one training step, median over the quiet paired '
        'rounds (above 1: vjax is faster); spread = lowest-highest round; compile = vjax\'s, '
        'not in the step.')
  if on_cpu:
    print(f'load average: {load_start:.2f} at start, {load_end:.2f} at end')
  if args.json_out:
    Path(args.json_out).write_text(json.dumps(dict(
        args=vars(args), threads=threads, load_start=load_start, load_end=load_end,
        busy_start=busy_start, rows=rows), indent=1) + '\n')


if __name__ == '__main__':
  main()
