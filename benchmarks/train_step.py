"""One training step and one inference forward: vjax (jitted) vs MMAction2 0.24.1, same model.

    .venv/bin/python benchmarks/train_step.py                      # every RGB model, batch 2, 96 px
    .venv/bin/python benchmarks/train_step.py --model i3d_r50 x3d_m --rounds 7
    .venv/bin/python benchmarks/train_step.py --model c3d --rounds 1 --steps 1 --allow-busy  # smoke
    .venv/bin/python benchmarks/train_step.py --model stgcn_2d agcn_3d posec3d --batch 2  # skeleton
    python3 benchmarks/train_step.py --ref-python python3 --dtype bfloat16   # on a GPU machine

Both sides build the model from the same MMAction2 model dict (as its Kinetics-400 configs,
UCF101 for C3D; ``pretrained`` off), the same optimizer dicts (``optimizer`` and
``optimizer_config.grad_clip``; TSM's ``TSMOptimizerConstructor`` with ``fc_lr5``) and one
fixed random batch of ``--batch`` videos at ``--size`` x ``--size`` (C3D: 112, its fc layers'):
* vjax: ``make_train_step`` (normalise uint8 on device, forward, loss, grads, clipping,
  optax update) and the recognition task's ``predict``, each ``jax.jit``-ed with explicit
  shardings on one device, as the trainer does, and compiled ahead of time (compile time
  reported apart).
* MMAction2: benchmarks/_mmaction2_train_step_runner.py (``--serve``) in the reference venv, a
  subprocess that builds the model once: ``model.train_step`` + what mmcv's OptimizerHook does;
  inference ``forward_test`` under ``no_grad``. Its batch is already normalised float32, as
  its loader delivers it.

Paired repeats: after ``--warmup`` untimed steps of each phase on each side, ``--rounds``
rounds alternate the sides (vjax first in even rounds, MMAction2 first in odd ones); in each
round each side runs ``--steps`` steps of a phase and its median is that round's figure. The
ratio MMAction2 ms / vjax ms (above 1: vjax faster) is taken per round, and the table gives
its median with the lowest and highest round. On a CPU, torch gets as many intra-op threads
as XLA's CPU client uses (the CPUs this process may run on).
The pairing, the busy accounting and the idle wait are in benchmarks/_paired.py (shared with
localizer_step.py).

Busy machines: before starting, the script waits up to ``--wait-idle`` seconds for the load
average to drop below 0.75 per core and refuses to run otherwise (``--allow-busy`` runs anyway
and marks every figure BUSY). Each timed block records the CPU other processes used and the
hypervisor's steal meanwhile (benchmarks/_cpu.py); a round with a busy block is left out of the
ratio and counted, and a model whose every round was busy is marked BUSY.

On a GPU, ``--ref-python`` names a Python with CUDA torch, mmcv and mmaction2 (MMAction2 then
runs there too; with ``--dtype bfloat16`` it runs its own mixed precision, float16 autocast with
a dynamic GradScaler, since MMAction2 0.24.1's heads fail on bfloat16 tensors), and the output
adds clips/s and MFU for both sides: XLA's cost-analysis FLOPs of the vjax step's HLO before
optimisation (the same model, so the same work for MMAction2) / step time / the device's dense
peak (``vjax.train.throughput.PEAK_FLOPS``).

Skeleton models (``--model stgcn_2d agcn_3d posec3d``; not in the default set) take their
model, optimizer and default batch from vjax's configs/stgcn_ntu60.py:2d,
configs/agcn_ntu60.py:joint and configs/posec3d_ntu60.py:keypoint, whose dicts are MMAction2's
(SGD Nesterov lr 0.1, weight decay 1e-4, no clipping for the GCNs; SGD lr 0.2, weight decay
3e-4, clipping at 40 for PoseC3D). The GCNs' input is ``keypoint`` as ``FormatGCNInput`` leaves
it, ``(N, C, T, V, M)`` float32 (300 frames as ``PaddingWithLoop``, 2 people) on both sides;
vjax's skeleton task moves it to channels-last on the device, inside its step. PoseC3D's is
``imgs``, float heatmap volumes (17 keypoints, 48 frames at 56 x 56 as its training pipeline
crops), ``(N, 1, K, T, H, W)`` for MMAction2 and ``(N, 1, T, H, W, K)`` for vjax, neither
normalised. ``--size`` does not apply to them; ``--batch`` defaults to the configs' videos per
device (ST-GCN 16, 2s-AGCN 12) except PoseC3D's, 4 instead of 16: a step at 16 takes tens of
seconds per side on a 2-core CPU (pass ``--batch 16`` on a GPU).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _paired import (ROOT, Served, add_paired_arguments, check_ref_python, malloc_line,  # noqa: E402  pylint: disable=g-import-not-at-top
                     mmaction2_env, paired, start_as_vjax_main, summarize, summarize_one, timed,
                     wait_for_idle)

RUNNER = Path(__file__).resolve().parent / '_mmaction2_train_step_runner.py'
IMG_NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_bgr=False)
SGD_CLIP40 = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001),
                  optimizer_config=dict(grad_clip=dict(max_norm=40, norm_type=2)))
TEST_PROB = dict(train_cfg=None, test_cfg=dict(average_clips='prob'))


def _resnet3d_head(in_channels: int, num_classes: int = 400, **kw) -> dict:
  return dict(type='I3DHead', num_classes=num_classes, in_channels=in_channels,
              spatial_type='avg', dropout_ratio=0.5, init_std=0.01, **kw)


# MMAction2 0.24.1's configs: configs/_base_/models/<model>.py with the optimizer settings of
# the named training config. ``clip`` is one sample's shape, channels first: (segments, C)
# for 2D, (clips, C, frames) for 3D. ``size`` fixes a model's input size.
SPECS = {
    # tsm_r50_1x1x8_50e_kinetics400_rgb.py (schedules/sgd_tsm_50e.py)
    'tsm_r50': dict(
        kind='2d', clip=(8, 3),
        model=dict(
            type='Recognizer2D',
            backbone=dict(type='ResNetTSM', pretrained=None, depth=50, norm_eval=False,
                          shift_div=8),
            cls_head=dict(type='TSMHead', num_classes=400, in_channels=2048, spatial_type='avg',
                          consensus=dict(type='AvgConsensus', dim=1), dropout_ratio=0.5,
                          init_std=0.001, is_shift=True),
            **TEST_PROB),
        optimizer=dict(type='SGD', constructor='TSMOptimizerConstructor',
                       paramwise_cfg=dict(fc_lr5=True), lr=0.01, momentum=0.9,
                       weight_decay=0.0001),
        optimizer_config=dict(grad_clip=dict(max_norm=20, norm_type=2))),
    # slowfast_r50_4x16x1_256e_kinetics400_rgb.py
    'slowfast_r50_4x16': dict(
        kind='3d', clip=(1, 3, 32),
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
            **TEST_PROB),
        optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.0001),
        optimizer_config=dict(grad_clip=dict(max_norm=40, norm_type=2))),
    # i3d_r50_32x2x1_100e_kinetics400_rgb.py (schedules/sgd_100e.py)
    'i3d_r50': dict(
        kind='3d', clip=(1, 3, 32),
        model=dict(
            type='Recognizer3D',
            backbone=dict(type='ResNet3d', pretrained2d=False, pretrained=None, depth=50,
                          conv1_kernel=(5, 7, 7), conv1_stride_t=2, pool1_stride_t=2,
                          conv_cfg=dict(type='Conv3d'), norm_eval=False,
                          inflate=((1, 1, 1), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0), (0, 1, 0)),
                          zero_init_residual=False),
            cls_head=_resnet3d_head(2048), **TEST_PROB),
        **SGD_CLIP40),
    # x3d_m_16x5x1_facebook_kinetics400_rgb.py (a test-only config: SGD as I3D's)
    'x3d_m': dict(
        kind='3d', clip=(1, 3, 16),
        model=dict(
            type='Recognizer3D', backbone=dict(type='X3D', gamma_w=1, gamma_b=2.25, gamma_d=2.2),
            cls_head=dict(type='X3DHead', in_channels=432, num_classes=400, spatial_type='avg',
                          dropout_ratio=0.5, fc1_bias=False),
            **TEST_PROB),
        **SGD_CLIP40),
    # r2plus1d_r34_8x8x1_180e_kinetics400_rgb.py; SyncBN -> BN3d (one process: same numbers)
    'r2plus1d_r34': dict(
        kind='3d', clip=(1, 3, 8),
        model=dict(
            type='Recognizer3D',
            backbone=dict(type='ResNet2Plus1d', depth=34, pretrained=None, pretrained2d=False,
                          norm_eval=False, conv_cfg=dict(type='Conv2plus1d'),
                          norm_cfg=dict(type='BN3d', requires_grad=True, eps=1e-3),
                          conv1_kernel=(3, 7, 7), conv1_stride_t=1, pool1_stride_t=1,
                          inflate=(1, 1, 1, 1), spatial_strides=(1, 2, 2, 2),
                          temporal_strides=(1, 2, 2, 2), zero_init_residual=False),
            cls_head=_resnet3d_head(512), **TEST_PROB),
        optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.0001),
        optimizer_config=dict(grad_clip=dict(max_norm=40, norm_type=2))),
    # c3d_sports1m_16x1x1_45e_ucf101_rgb.py: 16 frames at 112 x 112 (its fc6 expects that)
    'c3d': dict(
        kind='3d', clip=(1, 3, 16), size=112,
        model=dict(
            type='Recognizer3D',
            backbone=dict(type='C3D', pretrained=None, style='pytorch',
                          conv_cfg=dict(type='Conv3d'), norm_cfg=None,
                          act_cfg=dict(type='ReLU'), dropout_ratio=0.5, init_std=0.005),
            cls_head=dict(type='I3DHead', num_classes=101, in_channels=4096, spatial_type=None,
                          dropout_ratio=0.5, init_std=0.01),
            train_cfg=None, test_cfg=dict(average_clips='score')),
        optimizer=dict(type='SGD', lr=0.001, momentum=0.9, weight_decay=0.0005),
        optimizer_config=dict(grad_clip=dict(max_norm=40, norm_type=2))),
    # Skeleton models: model, optimizer, input normalisation and batch from vjax's config
    # (``config``: path:arg; its model dict is MMAction2's). ``kind='gcn'``'s ``clip`` is one
    # sample's ``keypoint`` as FormatGCNInput leaves it, (C, T, V, M): T = PaddingWithLoop's
    # clip_len, M = num_person.
    # stgcn_80e_ntu60_xsub_keypoint: HRNet's 17 COCO keypoints, (x, y, score)
    'stgcn_2d': dict(kind='gcn', clip=(3, 300, 17, 2), config='configs/stgcn_ntu60.py:2d'),
    # 2sagcn_80e_ntu60_xsub_keypoint_3d: the Kinect's 25 joints, (x, y, z)
    'agcn_3d': dict(kind='gcn', clip=(3, 300, 25, 2), config='configs/agcn_ntu60.py:joint'),
    # slowonly_r50_u48_240e_ntu60_xsub_keypoint: 17 heatmaps, 48 frames at its training crop
    # (56 px); batch 4, not the config's 16 (see the module docstring)
    'posec3d': dict(kind='3d', clip=(1, 17, 48), size=56, batch=4,
                    config='configs/posec3d_ntu60.py:keypoint'),
}
SKELETON = ('stgcn_2d', 'agcn_3d', 'posec3d')
PHASES = ('train', 'infer')


def resolve(name: str) -> dict:
  """``SPECS[name]`` with the model, optimizer, ``img_norm_cfg`` and ``batch`` of its vjax
  config filled in where it names one; the others normalise uint8 RGB as IMG_NORM."""
  spec = dict(SPECS[name])
  if 'config' not in spec:
    return dict(spec, img_norm_cfg=IMG_NORM)
  from vjax.config import load_config  # pylint: disable=g-import-not-at-top
  from vjax.registry import to_dict  # pylint: disable=g-import-not-at-top
  path, _, arg = spec['config'].partition(':')
  config = load_config(f'{ROOT / path}:{arg}')
  norm = config.data.get('img_norm_cfg')
  return dict(spec, model=to_dict(config.model), optimizer=to_dict(config.optimizer),
              optimizer_config=to_dict(config.optimizer_config),
              img_norm_cfg=to_dict(norm) if norm else None,
              batch=spec.get('batch', int(config.data.videos_per_device)))


def input_key(spec: dict) -> str:
  return 'keypoint' if spec['kind'] == 'gcn' else 'imgs'


def input_size(spec: dict, size: int) -> int:
  return spec.get('size', size)


def mmaction2_input_shape(spec: dict, batch: int, size: int) -> tuple[int, ...]:
  """MMAction2's batch layout: (N, segments, C, H, W) for 2D, (N, clips, C, T, H, W) for 3D,
  (N, C, T, V, M) for GCNs."""
  if spec['kind'] == 'gcn':
    return (batch,) + tuple(spec['clip'])
  size = input_size(spec, size)
  return (batch,) + tuple(spec['clip']) + (size, size)


def vjax_input_shape(spec: dict, batch: int, size: int) -> tuple[int, ...]:
  """The same batch channels-last, as the model takes it: (N, S, H, W, C) for 2D,
  (N, V, T, H, W, C) for 3D, (N, M, T, V, C) for GCNs."""
  if spec['kind'] == 'gcn':
    channels, frames, joints, persons = spec['clip']
    return (batch, persons, frames, joints, channels)
  size = input_size(spec, size)
  if spec['kind'] == '2d':
    segments, channels = spec['clip']
    return (batch, segments, size, size, channels)
  clips, channels, frames = spec['clip']
  return (batch, clips, frames, size, size, channels)


def vjax_host_input(spec: dict, batch: int, size: int, rng) -> np.ndarray:
  """What vjax's loader hands over: uint8 channels-last frames where the task normalises
  them, float32 heatmaps where it does not, and ``keypoint`` in the pipeline's (N, C, T, V, M)
  (the skeleton task moves it to channels-last on the device)."""
  if spec['kind'] == 'gcn':
    return rng.standard_normal(mmaction2_input_shape(spec, batch, size), dtype=np.float32)
  shape = vjax_input_shape(spec, batch, size)
  if spec['img_norm_cfg'] is None:
    return rng.random(shape, dtype=np.float32)
  return rng.integers(0, 256, size=shape, dtype=np.uint8)


class Vjax:
  """The vjax side: the train step and inference, jitted and compiled once."""

  def __init__(self, spec: dict, batch: int, size: int, dtype: str, seed: int = 0):
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
    key = input_key(spec)
    host = {key: vjax_host_input(spec, batch, size, rng),
            'label': rng.integers(0, spec['model']['cls_head']['num_classes'], size=batch,
                                  dtype=np.int32)}
    data = mesh_lib.global_batch(mesh, host)
    bs, rep = mesh_lib.batch_sharding(mesh), mesh_lib.replicated(mesh)
    task = build_task(ml_collections.ConfigDict(dict(
        model=spec['model'], data=dict(img_norm_cfg=spec['img_norm_cfg'],
                                       videos_per_device=batch))))
    train = jax.jit(step_lib.make_train_step(task, model, tx, schedule),
                    in_shardings=(shardings, bs), out_shardings=(shardings, rep),
                    donate_argnums=(0,), compiler_options=step_lib.compiler_options())
    evaluate = jax.jit(lambda s, x: task.predict(model, {'params': s.params,
                                                         'batch_stats': s.batch_stats},
                                                 {key: x}),
                       in_shardings=(shardings, bs), out_shardings=rep,
                       compiler_options=step_lib.compiler_options())
    start = time.perf_counter()
    lowered = dict(train=train.lower(state, data), infer=evaluate.lower(state, data[key]))
    train_c, eval_c = lowered['train'].compile(), lowered['infer'].compile()
    self.compile_s = time.perf_counter() - start
    # Counted on the HLO before XLA optimises it: after, a GPU's convolutions are cuDNN calls
    # that its cost analysis counts as nothing.
    self.flops = {k: float(v.cost_analysis()['flops']) for k, v in lowered.items()}
    box = [state]

    def train_step():
      box[0], metrics = train_c(box[0], data)
      jax.block_until_ready((box[0], metrics))

    def infer():
      jax.block_until_ready(eval_c(box[0], data[key]))

    self.steps = dict(train=train_step, infer=infer)
    self.info = dict(jax=jax.__version__, backend=jax.default_backend(),
                     device_kind=jax.devices()[0].device_kind)

  def run(self, phase: str, steps: int) -> list[float]:
    return timed(self.steps[phase], steps)

  def close(self):
    pass


class MMAction2(Served):
  """The MMAction2 side: the runner as a server subprocess holding the built model."""

  def __init__(self, python: str, spec: dict, batch: int, size: int, threads: int,
               device: str, autocast: str | None, env: dict[str, str] | None = None):
    payload = dict(model=spec['model'], optimizer=spec['optimizer'],
                   optimizer_config=spec['optimizer_config'],
                   input_key=input_key(spec),
                   input_shape=mmaction2_input_shape(spec, batch, size),
                   num_classes=spec['model']['cls_head']['num_classes'])
    super().__init__([python, str(RUNNER), '--serve', '--spec', json.dumps(payload),
                      '--threads', str(threads), '--device', device]
                     + (['--autocast', autocast] if autocast else []), env)


def main():
  start_as_vjax_main()
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--model', nargs='+', choices=list(SPECS),
                      default=[m for m in SPECS if m not in SKELETON],
                      help=f'default: every model but the skeleton ones ({", ".join(SKELETON)})')
  parser.add_argument('--batch', type=int,
                      help="videos per step (default 2; skeleton models: their configs', "
                      'PoseC3D 4)')
  parser.add_argument('--size', type=int, default=96,
                      help='input height = width (pixels; not for skeleton models)')
  parser.add_argument('--rounds', type=int, default=5, help='paired rounds (ratio: median)')
  parser.add_argument('--steps', type=int, default=3, help='timed steps per side and round')
  parser.add_argument('--warmup', type=int, default=1, help='untimed steps after compiling')
  parser.add_argument('--dtype', choices=('float32', 'bfloat16'), default='float32',
                      help="vjax's compute dtype (MMAction2: float32, or torch.autocast "
                      'bfloat16 on a GPU)')
  add_paired_arguments(parser)
  args = parser.parse_args()

  import jax  # pylint: disable=g-import-not-at-top
  on_cpu = jax.default_backend() == 'cpu'
  threads = len(os.sched_getaffinity(0))  # XLA's CPU client sizes its thread pool like this
  run_mm = not args.skip_mmaction2
  if run_mm:
    check_ref_python(args.ref_python)
  device = jax.devices()[0]
  specs = {name: resolve(name) for name in args.model}
  batches = {name: args.batch or spec.get('batch', 2) for name, spec in specs.items()}
  shown = (f'batch {batches[args.model[0]]}' if len(set(batches.values())) == 1
           else 'batch per model')
  if any(name not in SKELETON for name in specs):  # --size is not theirs
    shown += f', {args.size}x{args.size} px'
  print(f'vjax: jax {jax.__version__} on {jax.default_backend()} ({device.device_kind}), '
        f'dtype {args.dtype}; {shown}; {args.rounds} paired rounds of {args.steps} steps per '
        f'side after {args.warmup} warm-up (compile excluded)')
  busy_start = False
  if on_cpu:
    print(malloc_line(args.mmaction2_malloc))
    _, busy_start = wait_for_idle(threads, args.wait_idle, args.allow_busy)

  rows = []
  for name in args.model:
    spec, batch = specs[name], batches[name]
    v = Vjax(spec, batch, args.size, args.dtype)
    shape = ''
    if 'config' in spec:  # the layout MMAction2 gets
      shape = (f'{input_key(spec)} {mmaction2_input_shape(spec, batch, args.size)}, '
               f'{spec["config"]}; ')
    print(f'  {name}: {shape}vjax compiled in {v.compile_s:.0f} s; XLA: '
          f'{v.flops["train"] / 1e9:.1f} GFLOP/train step, {v.flops["infer"] / 1e9:.1f} '
          'GFLOP/inference', flush=True)
    sides = dict(vjax=v)
    if run_mm:
      sides['mmaction2'] = MMAction2(
          args.ref_python, spec, batch, args.size, threads,
          'cpu' if on_cpu else 'cuda', None if args.dtype == 'float32' else 'float16',
          mmaction2_env(args.mmaction2_malloc))
    per_side = paired(sides, args.rounds, args.steps, args.warmup, PHASES)
    mm_info = sides['mmaction2'].info if run_mm else None
    for side in sides.values():
      side.close()
    row = dict(model=name, batch=batch, compile_s=v.compile_s, flops=v.flops, vjax_info=v.info,
               mmaction2_info=mm_info, raw=per_side, phases={})
    for phase in PHASES:
      rv = per_side['vjax'][phase]
      if run_mm:
        row['phases'][phase] = summarize(rv, per_side['mmaction2'][phase])
      else:
        row['phases'][phase] = summarize_one(rv)
      s = row['phases'][phase]
      s['all_busy'] = s['all_busy'] or busy_start
      line = f'    {phase:5s} vjax {s["vjax_ms"]:7.0f} ms'
      if run_mm:
        line += (f'  MMAction2 {s["mm_ms"]:7.0f} ms  ratio {s["ratio"]:.2f}x '
                 f'[{s["ratio_min"]:.2f}-{s["ratio_max"]:.2f}]')
      line += f'  busy rounds {s["busy_rounds"]}/{s["rounds"]}'
      print(line + ('  BUSY' if s['all_busy'] else ''), flush=True)
    rows.append(row)

  clips = lambda r, ms: r['batch'] / (ms / 1e3)  # noqa: E731
  print(f'\n{"model":18s} {"phase":6s} {"vjax ms":>8s} {"MMA2 ms":>8s} {"vjax clips/s":>12s} '
        f'{"MMA2 clips/s":>12s} {"ratio":>6s} {"spread":>11s}')
  for r in rows:
    for phase in PHASES:
      s = r['phases'][phase]
      m = s.get('mm_ms', float('nan'))
      ratio = s.get('ratio', float('nan'))
      spread = (f'{s["ratio_min"]:.2f}-{s["ratio_max"]:.2f}' if 'ratio_min' in s else '')
      print(f'{r["model"]:18s} {phase:6s} {s["vjax_ms"]:8.0f} {m:8.0f} '
            f'{clips(r, s["vjax_ms"]):12.2f} {clips(r, m):12.2f} {ratio:5.2f}x {spread:>11s}'
            + ('  BUSY' if s['all_busy'] else ''))
  print('ratio = MMAction2 ms / vjax ms, median over the quiet paired rounds (above 1: vjax is '
        'faster); spread = lowest-highest round.')
  if not on_cpu:
    from vjax.train.throughput import peak_flops  # pylint: disable=g-import-not-at-top
    peak = peak_flops(device.device_kind, args.dtype)
    for r in rows:
      for phase in PHASES:
        s = r['phases'][phase]
        for side, key in (('vjax', 'vjax_ms'), ('MMAction2', 'mm_ms')):
          if key not in s:
            continue
          achieved = r['flops'][phase] / (s[key] / 1e3)
          mfu = (f'MFU {achieved / peak:.1%} of {peak / 1e12:.0f} TFLOP/s' if peak else
                 f'MFU n/a: add {device.device_kind!r} to vjax.train.throughput.PEAK_FLOPS')
          print(f'{r["model"]:18s} {phase:6s} {side:9s} {clips(r, s[key]):8.1f} clips/s, '
                f'{achieved / 1e12:.1f} TFLOP/s, {mfu}')
  else:
    print(f'load average at end: {os.getloadavg()[0]:.2f}')
  if args.json_out:
    Path(args.json_out).write_text(json.dumps(dict(args=vars(args), threads=threads, rows=rows),
                                              indent=1) + '\n')


if __name__ == '__main__':
  main()
