"""Sharding strategies side by side on one mesh: per-device memory of the compiled train step
and step time with the host syncing only at the log interval.

    .venv/bin/python benchmarks/scaling.py                       # 8 simulated CPU devices
    .venv/bin/python benchmarks/scaling.py --model timesformer_b --no-run   # memory only
    .venv/bin/python benchmarks/scaling.py --devices 4 --batch 8 --size 64 --steps 6

For each strategy (mesh shape + ``param_sharding``) the script builds the model from its
MMAction2 model dict, initialises the train state straight into its shardings, compiles the
train step ahead of time and prints XLA's memory analysis of that executable per device
(arguments = the local shards of params + optimizer state + batch; temporaries), next to
the bytes the shardings predict. With a run it then times ``--steps`` steps dispatched
back to back, fetching metrics every ``--log-every`` steps only (as the trainer does), and
the same steps with a fetch after every step, which shows what a per-step host sync costs.
On the CPU the devices are simulated (``--xla_force_host_platform_device_count``) and share
the machine's cores, so step times compare strategies, not hardware; the memory figures are
what each device of a real mesh would hold.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TIMESFORMER_B = dict(
    type='Recognizer3D',
    backbone=dict(type='TimeSformer', pretrained=None, num_frames=8, img_size=224,
                  patch_size=16, embed_dims=768, in_channels=3, dropout_ratio=0.,
                  transformer_layers=None, attention_type='divided_space_time',
                  norm_cfg=dict(type='LN', eps=1e-6)),
    cls_head=dict(type='TimeSformerHead', num_classes=400, in_channels=768),
    train_cfg=None, test_cfg=dict(average_clips='prob'))

# name -> (mesh axes, param_sharding); the batch is split over data x fsdp.
STRATEGIES = {
    'replicated': ((('data', -1), ('fsdp', 1), ('model', 1)), (('.*', 'replicate'),)),
    'fsdp': ((('data', 1), ('fsdp', -1), ('model', 1)), (('.*', 'fsdp'),)),
    'data2_fsdp': ((('data', 2), ('fsdp', -1), ('model', 1)), (('.*', 'fsdp'),)),
    'fsdp_model2': ((('data', 1), ('fsdp', -1), ('model', 2)), (('.*', 'logical+fsdp'),)),
}
RULES = (('mlp', 'model'), ('heads', 'model'), ('qkv', 'model'), ('conv_out', 'model'),
         ('embed', None), ('conv_in', None), ('norm', None), ('classes', None))


def _mib(n: float) -> str:
  return f'{n / 2**20:9.1f}'


def measure(model_cfg, optimizer, shape, batch, strategy, run, steps, log_every):
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import ml_collections  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from vjax.models import build_model  # pylint: disable=g-import-not-at-top
  from vjax.tasks import build_task  # pylint: disable=g-import-not-at-top
  from vjax.train import mesh as mesh_lib, optim, sharding  # pylint: disable=g-import-not-at-top
  from vjax.train import step as step_lib  # pylint: disable=g-import-not-at-top
  from vjax.train.state import create_state  # pylint: disable=g-import-not-at-top

  axes, placement = STRATEGIES[strategy]
  mesh = mesh_lib.make_mesh(axes)
  model = build_model(model_cfg)
  schedule = lambda step: jnp.asarray(optimizer['lr'], jnp.float32)  # noqa: E731
  tx = optim.make_optimizer(optimizer, dict(grad_clip=dict(max_norm=40, norm_type=2)), schedule)
  state, sh = create_state(model, tx, mesh, jnp.zeros((1,) + shape, jnp.float32), 0, RULES,
                           placement)
  rng = np.random.default_rng(0)
  host = dict(imgs=rng.integers(0, 256, (batch,) + shape, dtype=np.uint8),
              label=rng.integers(0, model_cfg['cls_head']['num_classes'], batch).astype(np.int32))
  data = mesh_lib.global_batch(mesh, host)
  task = build_task(ml_collections.ConfigDict(dict(model=model_cfg, data=dict(
      img_norm_cfg=dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]),
      videos_per_device=batch))))
  step = jax.jit(sharding.with_rules(step_lib.make_train_step(task, model, tx, schedule), mesh,
                                     RULES),
                 in_shardings=(sh, mesh_lib.batch_sharding(mesh)),
                 out_shardings=(sh, mesh_lib.replicated(mesh)), donate_argnums=(0,))
  t0 = time.perf_counter()
  compiled = step.lower(state, data).compile()  # explicit shardings: no mesh context needed
  out = dict(compile_s=time.perf_counter() - t0, mesh=dict(mesh.shape),
             state_bytes=sharding.bytes_per_device(state, sh),
             summary=sharding.describe(state.params, sh.params))
  mem = compiled.memory_analysis()
  out.update(args=mem.argument_size_in_bytes, temp=mem.temp_size_in_bytes)
  if run:
    box = [state]

    def steps_ms(fetch_every):
      times = []
      for _ in range(2):  # two rounds of ``steps``; the median step time of the second
        start, metrics = time.perf_counter(), None
        for i in range(steps):
          box[0], metrics = compiled(box[0], data)
          if (i + 1) % fetch_every == 0:
            jax.device_get(metrics['loss'])
        jax.block_until_ready(box[0])
        times.append((time.perf_counter() - start) * 1e3 / steps)
      return times[-1]

    steps_ms(log_every)  # warm-up round
    out['ms_log_interval'] = steps_ms(log_every)
    out['ms_every_step'] = steps_ms(1)
  return out


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--model', choices=('slowfast_r50_4x16', 'tsm_r50', 'timesformer_b'),
                      default='slowfast_r50_4x16')
  parser.add_argument('--strategies', nargs='+', choices=list(STRATEGIES),
                      default=list(STRATEGIES))
  parser.add_argument('--devices', type=int, default=8, help='simulated CPU devices')
  parser.add_argument('--batch', type=int, default=8, help='global batch (videos)')
  parser.add_argument('--size', type=int, default=64, help='input height = width (pixels)')
  parser.add_argument('--steps', type=int, default=4)
  parser.add_argument('--log-every', type=int, default=4)
  parser.add_argument('--no-run', action='store_true', help='compile and report memory only')
  args = parser.parse_args()
  os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') +
                             f' --xla_force_host_platform_device_count={args.devices}')
  sys.path.insert(0, str(ROOT))
  sys.path.insert(0, str(Path(__file__).resolve().parent))
  import jax  # pylint: disable=g-import-not-at-top
  from train_step import SPECS, vjax_input_shape  # pylint: disable=g-import-not-at-top

  if args.model == 'timesformer_b':
    model_cfg, optimizer = TIMESFORMER_B, dict(type='SGD', lr=0.005, momentum=0.9,
                                               weight_decay=1e-4, nesterov=True)
    shape = (1, 8, args.size, args.size, 3)
    model_cfg = dict(model_cfg, backbone=dict(model_cfg['backbone'], img_size=args.size))
  else:
    spec = SPECS[args.model]
    model_cfg, optimizer = spec['model'], spec['optimizer']
    shape = vjax_input_shape(spec, args.batch, args.size)[1:]
  print(f'{args.model}, global batch {args.batch}, {args.size}px, {len(jax.devices())} '
        f'{jax.default_backend()} devices; load average {os.getloadavg()[0]:.2f} '
        f'({os.cpu_count()} cores)')
  print(f'{"strategy":12} {"mesh":32} {"state MiB":>9} {"args MiB":>9} {"temp MiB":>9} '
        f'{"ms/step":>9} {"ms/step*":>9}   (* fetching metrics every step)')
  for name in args.strategies:
    r = measure(model_cfg, optimizer, shape, args.batch, name, not args.no_run, args.steps,
                args.log_every)
    timing = (f'{r["ms_log_interval"]:9.0f} {r["ms_every_step"]:9.0f}'
              if 'ms_log_interval' in r else f'{"-":>9} {"-":>9}')
    print(f'{name:12} {str(r["mesh"]):32} {_mib(r["state_bytes"])} {_mib(r["args"])} '
          f'{_mib(r["temp"])} {timing}   {r["summary"]}')
  print(f'load average after: {os.getloadavg()[0]:.2f}')


if __name__ == '__main__':
  main()
