"""One training step and one inference forward: vjax (jitted) vs MMAction2 0.24.1, same model.

    .venv/bin/python benchmarks/train_step.py                        # both models, batch 2, 96 px
    .venv/bin/python benchmarks/train_step.py --model tsm_r50 --batch 1 --size 96 --repeat 3

Both sides build the model from the same MMAction2 model dict (TSM R50 1x1x8 and SlowFast R50
4x16x1, as in their Kinetics-400 configs, ``pretrained`` off), the same optimizer dicts
(``optimizer`` and ``optimizer_config.grad_clip``; TSM's ``TSMOptimizerConstructor`` with
``fc_lr5``) and one fixed random batch of ``--batch`` videos at ``--size`` x ``--size``:
* vjax: ``make_train_step`` (normalise uint8 on device, forward, loss, grads, clipping,
  optax update) and the recognition task's ``predict``, each ``jax.jit``-ed with explicit shardings on one
  device, as the trainer does, and compiled ahead of time (compile time reported apart).
* MMAction2: benchmarks/_mmaction2_train_step_runner.py in the reference venv (a subprocess):
  ``model.train_step`` + what mmcv's OptimizerHook does; inference ``forward_test`` under
  ``no_grad``. Its batch is already normalised float32, as its loader delivers it.
Times are the median of ``--repeat`` steps after ``--warmup`` untimed ones. On a CPU, torch
gets as many intra-op threads as XLA's CPU client uses (the CPUs this process may run on).
On a GPU, vjax also reports clips/s and MFU: XLA's cost-analysis FLOPs of the compiled step /
step time / the device's dense peak (``vjax.train.throughput.PEAK_FLOPS``); the CPU-only MMAction2 run is skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RUNNER = Path(__file__).resolve().parent / '_mmaction2_train_step_runner.py'
IMG_NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_bgr=False)

# MMAction2 0.24.1's configs: configs/_base_/models/{tsm_r50,slowfast_r50}.py with the
# optimizer settings of tsm_r50_1x1x8_50e_kinetics400_rgb.py (schedules/sgd_tsm_50e.py) and
# slowfast_r50_4x16x1_256e_kinetics400_rgb.py. ``clip`` is one sample's shape, channels first.
SPECS = {
    'tsm_r50': dict(
        kind='2d', clip=(8, 3),  # 8 segments x C, then H, W
        model=dict(
            type='Recognizer2D',
            backbone=dict(type='ResNetTSM', pretrained=None, depth=50, norm_eval=False,
                          shift_div=8),
            cls_head=dict(type='TSMHead', num_classes=400, in_channels=2048, spatial_type='avg',
                          consensus=dict(type='AvgConsensus', dim=1), dropout_ratio=0.5,
                          init_std=0.001, is_shift=True),
            train_cfg=None, test_cfg=dict(average_clips='prob')),
        optimizer=dict(type='SGD', constructor='TSMOptimizerConstructor',
                       paramwise_cfg=dict(fc_lr5=True), lr=0.01, momentum=0.9,
                       weight_decay=0.0001),
        optimizer_config=dict(grad_clip=dict(max_norm=20, norm_type=2))),
    'slowfast_r50_4x16': dict(
        kind='3d', clip=(1, 3, 32),  # 1 clip x C x 32 frames, then H, W
        model=dict(
            type='Recognizer3D',
            backbone=dict(
                type='ResNet3dSlowFast', pretrained=None, resample_rate=8, speed_ratio=8,
                channel_ratio=8,
                slow_pathway=dict(type='resnet3d', depth=50, pretrained=None, lateral=True,
                                  conv1_kernel=(1, 7, 7), dilations=(1, 1, 1, 1),
                                  conv1_stride_t=1, pool1_stride_t=1, inflate=(0, 0, 1, 1),
                                  norm_eval=False),
                fast_pathway=dict(type='resnet3d', depth=50, pretrained=None, lateral=False,
                                  base_channels=8, conv1_kernel=(5, 7, 7), conv1_stride_t=1,
                                  pool1_stride_t=1, norm_eval=False)),
            cls_head=dict(type='SlowFastHead', in_channels=2304, num_classes=400,
                          spatial_type='avg', dropout_ratio=0.5),
            train_cfg=None, test_cfg=dict(average_clips='prob')),
        optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.0001),
        optimizer_config=dict(grad_clip=dict(max_norm=40, norm_type=2))),
}

def mmaction2_input_shape(spec: dict, batch: int, size: int) -> tuple[int, ...]:
  """MMAction2's batch layout: (N, segments, C, H, W) for 2D, (N, clips, C, T, H, W) for 3D."""
  return (batch,) + tuple(spec['clip']) + (size, size)


def vjax_input_shape(spec: dict, batch: int, size: int) -> tuple[int, ...]:
  """The same batch channels-last: (N, S, H, W, C) for 2D, (N, V, T, H, W, C) for 3D."""
  if spec['kind'] == '2d':
    segments, channels = spec['clip']
    return (batch, segments, size, size, channels)
  clips, channels, frames = spec['clip']
  return (batch, clips, frames, size, size, channels)


def _median_ms(fn, warmup: int, repeat: int) -> tuple[float, list[float]]:
  for _ in range(warmup):
    fn()
  times = []
  for _ in range(repeat):
    start = time.perf_counter()
    fn()
    times.append((time.perf_counter() - start) * 1e3)
  return statistics.median(times), times


def time_vjax(spec: dict, batch: int, size: int, warmup: int, repeat: int, dtype: str,
              seed: int = 0) -> dict:
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import ml_collections  # pylint: disable=g-import-not-at-top
  from vjax.models import build_model  # pylint: disable=g-import-not-at-top
  from vjax.tasks import build_task  # pylint: disable=g-import-not-at-top
  from vjax.train import mesh as mesh_lib  # pylint: disable=g-import-not-at-top
  from vjax.train import optim  # pylint: disable=g-import-not-at-top
  from vjax.train import step as step_lib  # pylint: disable=g-import-not-at-top
  from vjax.train.state import create_state  # pylint: disable=g-import-not-at-top

  mesh = mesh_lib.make_mesh((('data', -1),), devices=jax.devices()[:1])
  model = build_model(spec['model'], dtype=jnp.dtype(dtype))
  lr = spec['optimizer']['lr']
  schedule = lambda step: jnp.asarray(lr, jnp.float32)  # noqa: E731  (constant: one step)
  tx = optim.make_optimizer(spec['optimizer'], spec['optimizer_config'], schedule)
  shape = vjax_input_shape(spec, batch, size)
  state, shardings = create_state(model, tx, mesh, jnp.zeros((1,) + shape[1:], jnp.float32),
                                  seed)
  rng = np.random.default_rng(seed)
  host = dict(imgs=rng.integers(0, 256, size=shape, dtype=np.uint8),
              label=rng.integers(0, spec['model']['cls_head']['num_classes'], size=batch,
                                 dtype=np.int32))
  data = mesh_lib.global_batch(mesh, host)
  bs, rep = mesh_lib.batch_sharding(mesh), mesh_lib.replicated(mesh)
  task = build_task(ml_collections.ConfigDict(dict(
      model=spec['model'], data=dict(img_norm_cfg=IMG_NORM, videos_per_device=batch))))
  train = jax.jit(step_lib.make_train_step(task, model, tx, schedule),
                  in_shardings=(shardings, bs), out_shardings=(shardings, rep),
                  donate_argnums=(0,))
  evaluate = jax.jit(lambda s, imgs: task.predict(model, {'params': s.params,
                                                          'batch_stats': s.batch_stats},
                                                  {'imgs': imgs}),
                     in_shardings=(shardings, bs), out_shardings=rep)
  start = time.perf_counter()
  train_c = train.lower(state, data).compile()
  eval_c = evaluate.lower(state, data['imgs']).compile()
  compile_s = time.perf_counter() - start
  box = [state]

  def train_step():
    box[0], metrics = train_c(box[0], data)
    jax.block_until_ready((box[0], metrics))

  def infer():
    jax.block_until_ready(eval_c(box[0], data['imgs']))

  train_ms, train_all = _median_ms(train_step, warmup, repeat)
  infer_ms, infer_all = _median_ms(infer, warmup, repeat)
  device = jax.devices()[0]
  return dict(train_ms=train_ms, train_all_ms=train_all, infer_ms=infer_ms,
              infer_all_ms=infer_all, compile_s=compile_s,
              train_flops=float(train_c.cost_analysis()['flops']),
              infer_flops=float(eval_c.cost_analysis()['flops']),
              backend=jax.default_backend(), device_kind=device.device_kind, jax=jax.__version__)


def time_mmaction2(python: str, spec: dict, batch: int, size: int, threads: int, warmup: int,
                   repeat: int) -> dict:
  payload = dict(model=spec['model'], optimizer=spec['optimizer'],
                 optimizer_config=spec['optimizer_config'],
                 input_shape=mmaction2_input_shape(spec, batch, size),
                 num_classes=spec['model']['cls_head']['num_classes'])
  cmd = [python, str(RUNNER), '--spec', json.dumps(payload), '--threads', str(threads),
         '--warmup', str(warmup), '--repeat', str(repeat)]
  proc = subprocess.run(cmd, capture_output=True, text=True, cwd=str(ROOT), check=False)
  lines = proc.stdout.strip().splitlines()
  if proc.returncode or not lines:
    raise RuntimeError(f'MMAction2 runner failed ({proc.returncode}): {" ".join(cmd)}\n'
                       f'{proc.stderr[-3000:]}')
  return json.loads(lines[-1])


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--model', nargs='+', choices=list(SPECS), default=list(SPECS))
  parser.add_argument('--batch', type=int, default=2, help='videos per step')
  parser.add_argument('--size', type=int, default=96, help='input height = width (pixels)')
  parser.add_argument('--repeat', type=int, default=3, help='timed steps (median reported)')
  parser.add_argument('--warmup', type=int, default=1, help='untimed steps after compiling')
  parser.add_argument('--dtype', choices=('float32', 'bfloat16'), default='float32',
                      help="vjax's compute dtype (MMAction2 runs float32)")
  parser.add_argument('--ref-venv', default=os.environ.get('MMACTION2_REF_VENV',
                                                          '/work/mmaction2-ref-venv'))
  parser.add_argument('--skip-mmaction2', action='store_true')
  parser.add_argument('--json-out', help='also write all measurements here')
  args = parser.parse_args()

  import jax  # pylint: disable=g-import-not-at-top
  on_cpu = jax.default_backend() == 'cpu'
  threads = len(os.sched_getaffinity(0))  # XLA's CPU client sizes its thread pool like this
  ref_python = str(Path(args.ref_venv) / 'bin' / 'python')
  run_mm = on_cpu and not args.skip_mmaction2
  if run_mm and not Path(ref_python).exists():
    raise SystemExit(f'No reference venv at {args.ref_venv} (tests/reference/setup_venv.sh '
                     'builds it), or pass --skip-mmaction2.')
  device = jax.devices()[0]
  print(f'vjax: jax {jax.__version__} on {jax.default_backend()} ({device.device_kind}), '
        f'dtype {args.dtype}; batch {args.batch}, {args.size}x{args.size} px; median of '
        f'{args.repeat} steps after {args.warmup} warm-up (compile excluded)')
  if on_cpu:
    print(f'threads: {threads} (XLA CPU and torch.set_num_threads); load average '
          f'{os.getloadavg()[0]:.2f} at start', flush=True)
  elif not args.skip_mmaction2:
    print('MMAction2 skipped: the reference venv runs torch on the CPU, vjax is on '
          f'{jax.default_backend()}', flush=True)

  rows = []
  for name in args.model:
    spec = SPECS[name]
    v = time_vjax(spec, args.batch, args.size, args.warmup, args.repeat, args.dtype)
    print(f'  vjax      {name}: train {v["train_ms"]:.0f} ms/step, inference '
          f'{v["infer_ms"]:.0f} ms (compile {v["compile_s"]:.0f} s; XLA: '
          f'{v["train_flops"] / 1e9:.1f} GFLOP/train step, {v["infer_flops"] / 1e9:.1f} '
          'GFLOP/inference)', flush=True)
    m = None
    if run_mm:
      m = time_mmaction2(ref_python, spec, args.batch, args.size, threads, args.warmup,
                         args.repeat)
      print(f'  MMAction2 {name}: train {m["train_ms"]:.0f} ms/step, inference '
            f'{m["infer_ms"]:.0f} ms (torch {m["torch"]}, {m["threads"]} threads)', flush=True)
    rows.append(dict(model=name, vjax=v, mmaction2=m))

  clips = lambda ms: args.batch / (ms / 1e3)  # noqa: E731
  print(f'\n{"model":18s} {"phase":6s} {"vjax ms":>9s} {"MMAction2 ms":>12s} {"vjax clips/s":>12s} '
        f'{"MMAction2 clips/s":>17s} {"vjax/MMAction2":>14s}')
  for r in rows:
    for phase in ('train', 'infer'):
      v = r['vjax'][f'{phase}_ms']
      m = r['mmaction2'][f'{phase}_ms'] if r['mmaction2'] else float('nan')
      print(f'{r["model"]:18s} {phase:6s} {v:9.0f} {m:12.0f} {clips(v):12.2f} {clips(m):17.2f} '
            f'{m / v:13.2f}x')
  print('vjax/MMAction2 = vjax clips/s / MMAction2 clips/s (above 1: vjax is faster).')
  if not on_cpu:
    from vjax.train.throughput import peak_flops  # pylint: disable=g-import-not-at-top
    peak = peak_flops(device.device_kind, args.dtype)
    for r in rows:
      v = r['vjax']
      for phase in ('train', 'infer'):
        achieved = v[f'{phase}_flops'] / (v[f'{phase}_ms'] / 1e3)
        mfu = (f'MFU {achieved / peak:.1%} of {peak / 1e12:.0f} TFLOP/s' if peak else
               f'MFU n/a: add {device.device_kind!r} to vjax.train.throughput.PEAK_FLOPS')
        print(f'{r["model"]:18s} {phase:6s} {clips(v[f"{phase}_ms"]):8.1f} clips/s, '
              f'{achieved / 1e12:.1f} TFLOP/s, {mfu}')
  else:
    print(f'load average at end: {os.getloadavg()[0]:.2f}')
  if args.json_out:
    Path(args.json_out).write_text(json.dumps(dict(args=vars(args), threads=threads, rows=rows),
                                              indent=1) + '\n')


if __name__ == '__main__':
  main()
