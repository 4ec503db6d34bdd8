"""Golden outputs of MMAction2 0.24.1 recognizers, for vjax's checkpoint import and model parity.

Runs ONLY in the reference virtualenv (tests/reference/setup_venv.sh); never imports vjax.
    /work/mmaction2-ref-venv/bin/python tests/reference/make_golden_models.py
writes tests/golden/models/. For each case MMAction2 builds the recognizer from a model dict,
every parameter and BatchNorm statistic is replaced by a seeded random draw
(golden_weights.py), and ``forward_dummy`` runs in eval mode on a seeded random input
(channels-first, as MMAction2 takes it); cases marked ``forward='test'`` run
``forward_test`` instead (``test_cfg.average_clips=None``, so the scores are per view, and
``fcn_test`` takes its own path). Small cases store their state dict (``<case>.state.npz``,
the torch keys and float32 arrays as ``model.state_dict()`` has them) and input; the others
store only their output, tensor names, shapes and checksums (``cases.json``): vjax's test
redraws the weights and the input with golden_weights.py.

mmcv here is mmcv "lite" (no compiled ops), so ``mmcv.ops.tin_shift``, which ResNetTIN
imports when it runs, is provided by ``tin_shift`` below: a torch re-expression of mmcv's
CUDA kernel, not mmcv's own code.
"""

from __future__ import annotations

import argparse
import copy
import fcntl
import json
import sys
import types
from pathlib import Path

import numpy as np

# MMAction2 0.24.1 predates numpy 1.24, which removed these aliases.
for _name, _alias in (('int', int), ('float', float), ('bool', bool), ('object', object)):
  if _name not in np.__dict__:
    setattr(np, _name, _alias)

import mmaction  # noqa: E402
import mmcv  # noqa: E402
import torch  # noqa: E402
from mmaction.models import build_model  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import golden_weights  # noqa: E402
import golden_cases_3d_resnet  # noqa: E402
import golden_cases_3d_more  # noqa: E402

SEED = 20240701


def tin_shift(x, shift):
  """mmcv 1.7's ``tin_shift`` forward, re-expressed from its CUDA kernel (mmcv lite has none).

  x (N, T, C, HW), shift (N, G) integers: channel group g of frame t moves to frame
  t + shift[n, g]; frames shifted in from outside the clip are zero.
  """
  n, t, c, _ = x.shape
  g = shift.shape[1]
  out = torch.zeros_like(x)
  for b in range(n):
    for gi in range(g):
      s = int(shift[b, gi])
      group = slice(gi * c // g, (gi + 1) * c // g)
      for i in range(t):
        if 0 <= i + s < t:
          out[b, i + s, group] = x[b, i, group]
  return out


try:
  import mmcv.ops as _mmcv_ops  # noqa: E402
  _mmcv_ops.tin_shift = tin_shift
except Exception:  # mmcv lite: mmcv.ops needs the compiled extension
  _stub = types.ModuleType('mmcv.ops')
  _stub.tin_shift = tin_shift
  sys.modules['mmcv.ops'] = _stub


def tsn(depth, num_classes, in_channels, **backbone):
  return dict(
      type='Recognizer2D',
      backbone=dict(type='ResNet', pretrained=None, depth=depth, norm_eval=False, **backbone),
      cls_head=dict(type='TSNHead', num_classes=num_classes, in_channels=in_channels,
                    spatial_type='avg', consensus=dict(type='AvgConsensus', dim=1),
                    dropout_ratio=0.4, init_std=0.01),
      train_cfg=None,
      test_cfg=dict(average_clips=None))


def slowfast_small():
  """SlowFast R50 layout (bottlenecks, laterals, 3x1x1 inflation in res4/res5) at 1/16 width
  and one block per stage; tau = alpha = beta_inv = 4 (MMAction2's defaults are 8)."""
  common = dict(type='resnet3d', pretrained=None, depth=50, stage_blocks=(1, 1, 1, 1),
                conv1_stride_t=1, pool1_stride_t=1, norm_eval=False)
  return dict(
      type='Recognizer3D',
      backbone=dict(
          type='ResNet3dSlowFast', pretrained=None, resample_rate=4, speed_ratio=4,
          channel_ratio=4,
          slow_pathway=dict(common, lateral=True, base_channels=4, conv1_kernel=(1, 7, 7),
                            dilations=(1, 1, 1, 1), inflate=(0, 0, 1, 1)),
          fast_pathway=dict(common, lateral=False, base_channels=1, conv1_kernel=(5, 7, 7))),
      cls_head=dict(type='SlowFastHead', in_channels=4 * 32 + 1 * 32, num_classes=10,
                    spatial_type='avg', dropout_ratio=0.5),
      train_cfg=None,
      test_cfg=dict(average_clips='prob'))


def r2d(backbone, cls_head, neck=None, **test_cfg):
  """A Recognizer2D whose test returns per-view scores (``average_clips=None``)."""
  cfg = dict(type='Recognizer2D', backbone=dict(pretrained=None, norm_eval=False, **backbone),
             cls_head=cls_head, train_cfg=None,
             test_cfg=dict(average_clips=None, **test_cfg))
  if neck is not None:
    cfg['neck'] = neck
  return cfg


def tsm_head(num_classes, in_channels, num_segments, **kw):
  return dict(type='TSMHead', num_classes=num_classes, in_channels=in_channels,
              num_segments=num_segments, spatial_type='avg',
              consensus=dict(type='AvgConsensus', dim=1), dropout_ratio=0.5, init_std=0.001,
              **kw)


def tsm_r50(num_segments, **backbone):
  """ResNetTSM R50 (blockres shift by default) + TSMHead, 10 classes."""
  return r2d(dict(type='ResNetTSM', depth=50, num_segments=num_segments, shift_div=8,
                  **backbone),
             tsm_head(10, 2048, num_segments,
                      temporal_pool=backbone.get('temporal_pool', False)))


def tsm_nl(mode, sub_sample, use_scale, single=False):
  """TSM R50 with mmcv NonLocal3d after 2 blocks of res3 and 2 of res4 (one of them last);
  ``single``: one block (res3 block 0), for dot_product, whose unnormalised products overflow
  float32 in MMAction2 itself when four blocks compound on random weights."""
  layout = (((0, 0, 0), (1, 0, 0, 0), (0,) * 6, (0, 0, 0)) if single else
            ((0, 0, 0), (1, 0, 1, 0), (1, 0, 0, 0, 0, 1), (0, 0, 0)))
  return tsm_r50(4, non_local=layout,
                 non_local_cfg=dict(sub_sample=sub_sample, use_scale=use_scale,
                                    norm_cfg=dict(type='BN3d', requires_grad=True), mode=mode))


def tpn_tsm_r18(**test_cfg):
  """tpn_tsm_r50's layout on a TSM R18 (res4/res5: 256/512 channels) with a narrow TPN:
  64-channel temporal modulation and level fusion (MMAction2: 1024); the pyramid fusion's
  2048 outputs are fixed in MMAction2's TPN."""
  return r2d(dict(type='ResNetTSM', depth=18, out_indices=(2, 3), num_segments=8, shift_div=8),
             dict(type='TPNHead', num_classes=10, in_channels=2048, spatial_type='avg',
                  consensus=dict(type='AvgConsensus', dim=1), dropout_ratio=0.5,
                  init_std=0.01),
             neck=dict(type='TPN', in_channels=(256, 512), out_channels=64,
                       spatial_modulation_cfg=dict(in_channels=(256, 512), out_channels=512),
                       temporal_modulation_cfg=dict(downsample_scales=(8, 8)),
                       upsample_cfg=dict(scale_factor=(1, 1, 1)),
                       downsample_cfg=dict(downsample_scale=(1, 1, 1)),
                       level_fusion_cfg=dict(in_channels=(64, 64), mid_channels=(64, 64),
                                             out_channels=64,
                                             downsample_scales=((1, 1, 1), (1, 1, 1))),
                       aux_head_cfg=dict(out_channels=10, loss_weight=0.5)),
             **test_cfg)


def trn(relation_type):
  """TRNHead over 3 segments of a one-stage R18: with 3 segments TRNMultiScale keeps every
  relation of every scale (its np.random.choice only permutes the 3 pairs it sums)."""
  return r2d(dict(type='ResNet', depth=18, num_stages=1, strides=(2,), dilations=(1,),
                  out_indices=(0,), partial_bn=True),
             dict(type='TRNHead', num_classes=10, in_channels=64, num_segments=3,
                  relation_type=relation_type, hidden_dim=32, spatial_type='avg',
                  dropout_ratio=0.8, init_std=0.001))


def audio_r50():
  """ResNetAudio R50 at base width 8 (MMAction2: 32; feature 256) + AudioTSNHead."""
  return dict(type='AudioRecognizer',
              backbone=dict(type='ResNetAudio', depth=50, pretrained=None, base_channels=8,
                            in_channels=1, norm_eval=False),
              cls_head=dict(type='AudioTSNHead', num_classes=10, in_channels=256,
                            dropout_ratio=0.5, init_std=0.01),
              train_cfg=None, test_cfg=dict(average_clips=None))


# input_shape: 2D (N, segments, C, H, W); 3D (N, views, C, T, H, W); audio (N, views, 1, T, F).
# store: weights + input in the repo (small) or regenerated from the seed. MMAction2's 2D
# ResNet has a fixed width of 64 and ResNetTSM / ResNetTIN / TANet need all four stages (and
# TANet and non-local blocks need bottlenecks), so even their smallest models are 11 M to
# 24 M parameters: they are redrawn, and kept cheap by 32x32 or 64x64 inputs instead.
# forward: 'dummy' (forward_dummy) or 'test' (forward_test).
CASES = [
    dict(name='tsn_r50', model=tsn(50, 400, 2048), input_shape=(1, 2, 3, 224, 224),
         store=False),
    dict(name='tsn_r18_small',
         model=tsn(18, 10, 64, num_stages=1, strides=(2,), dilations=(1,), out_indices=(0,)),
         input_shape=(2, 3, 3, 32, 32), store=True),
    dict(name='slowfast_small', model=slowfast_small(), input_shape=(2, 1, 3, 8, 32, 32),
         store=True),
    # Full size: tsm_r50_1x1x8_50e_kinetics400_rgb's model (400 classes) at 224x224.
    dict(name='tsm_r50',
         model=r2d(dict(type='ResNetTSM', depth=50, num_segments=8, shift_div=8),
                   tsm_head(400, 2048, 8)),
         input_shape=(1, 8, 3, 224, 224), store=False, forward='test'),
    dict(name='tsm_r50_block_tpool',
         model=tsm_r50(4, shift_place='block', temporal_pool=True),
         input_shape=(2, 4, 3, 32, 32), store=False, forward='test'),
    dict(name='tsm_r50_nl_embedded_gaussian', model=tsm_nl('embedded_gaussian', True, True),
         input_shape=(1, 4, 3, 64, 64), store=False, forward='test'),
    dict(name='tsm_r50_nl_dot_product', model=tsm_nl('dot_product', False, False, single=True),
         input_shape=(1, 4, 3, 64, 64), store=False, forward='test'),
    dict(name='tsm_r50_nl_gaussian', model=tsm_nl('gaussian', True, False),
         input_shape=(1, 4, 3, 64, 64), store=False, forward='test'),
    dict(name='tsm_r50_nl_concatenation', model=tsm_nl('concatenation', False, True),
         input_shape=(1, 4, 3, 64, 64), store=False, forward='test'),
    dict(name='tin_r18',
         model=r2d(dict(type='ResNetTIN', depth=18, num_segments=4, shift_div=4),
                   tsm_head(10, 512, 4, is_shift=False)),
         input_shape=(2, 4, 3, 32, 32), store=False, forward='test'),
    dict(name='tanet_r50',
         model=r2d(dict(type='TANet', depth=50, num_segments=4, tam_cfg=dict()),
                   tsm_head(10, 2048, 4)),
         input_shape=(2, 4, 3, 32, 32), store=False, forward='test'),
    dict(name='mobilenet_v2_w05',
         model=r2d(dict(type='MobileNetV2', widen_factor=0.5),
                   dict(type='TSNHead', num_classes=10, in_channels=1280, spatial_type='avg',
                        consensus=dict(type='AvgConsensus', dim=1), dropout_ratio=0.4,
                        init_std=0.01)),
         input_shape=(2, 3, 3, 32, 32), store=False, forward='test'),
    dict(name='mobilenet_v2_tsm',
         model=r2d(dict(type='MobileNetV2TSM', num_segments=4, shift_div=8, is_shift=True),
                   tsm_head(10, 1280, 4)),
         input_shape=(2, 4, 3, 32, 32), store=False, forward='test'),
    dict(name='trn_single', model=trn('TRN'), input_shape=(2, 3, 3, 32, 32), store=False,
         forward='test'),
    dict(name='trn_multiscale', model=trn('TRNMultiScale'), input_shape=(2, 3, 3, 32, 32),
         store=False, forward='test'),
    dict(name='tpn_tsm_r18', model=tpn_tsm_r18(), input_shape=(1, 8, 3, 32, 32), store=False,
         forward='test'),
    # fcn_test: 16 frames = two clips of num_segments=8, each a view; flipped first.
    dict(name='tpn_tsm_r18_fcn_flip', model=tpn_tsm_r18(fcn_test=True, flip=True),
         input_shape=(1, 16, 3, 32, 32), store=False, forward='test'),
    dict(name='audio_r50_w8', model=audio_r50(), input_shape=(1, 2, 1, 32, 32), store=False,
         forward='test'),
] + golden_cases_3d_resnet.CASES + golden_cases_3d_more.CASES


def randomized(model, seed):
  """Replaces every parameter and BN statistic of ``model`` by golden_weights' draws."""
  state = model.state_dict()
  new = {}
  for key, value in state.items():
    if key.endswith('num_batches_tracked'):
      new[key] = value
    else:
      new[key] = torch.from_numpy(golden_weights.tensor(seed, key, tuple(value.shape)))
  model.load_state_dict(new, strict=True)
  return {k: v.numpy() for k, v in model.state_dict().items()}


def run_case(case, golden: Path, io: dict):
  model = build_model(copy.deepcopy(case['model']))
  model.eval()
  state = randomized(model, SEED)
  x = golden_weights.inputs(SEED, case['name'], case['input_shape'])
  with torch.no_grad():
    if case.get('forward', 'dummy') == 'test':
      out = np.asarray(model.forward_test(torch.from_numpy(x)))
    else:
      out = model.forward_dummy(torch.from_numpy(x))[0].numpy()
  name = case['name']
  io[f'{name}/output'] = out.astype(np.float32)
  record = dict(name=name, model=case['model'], input_shape=list(case['input_shape']),
                stored=case['store'], forward=case.get('forward', 'dummy'),
                output_shape=list(out.shape),
                output_max_abs=float(np.abs(out).max()), output_std=float(out.std()))
  if case['store']:
    np.savez_compressed(golden / f'{name}.state.npz', **state)
    io[f'{name}/input'] = x
  else:
    record['tensors'] = [[k, list(v.shape), golden_weights.checksum(v)]
                         for k, v in state.items() if not k.endswith('num_batches_tracked')]
    record['input_checksum'] = golden_weights.checksum(x)
  params = sum(v.size for k, v in state.items() if not k.endswith('num_batches_tracked'))
  print(f"{name}: {params} parameters + statistics, output {tuple(out.shape)}, "
        f"max |score| {record['output_max_abs']:.3g}, std {record['output_std']:.3g}")
  return record


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--out', default=str(HERE.parent / 'golden' / 'models'))
  parser.add_argument('--only', default='',
                      help='comma-separated case names: rerun just these and keep the others '
                           'from the existing goldens')
  args = parser.parse_args()
  golden = Path(args.out)
  golden.mkdir(parents=True, exist_ok=True)
  names = [n for n in args.only.split(',') if n]
  unknown = sorted(set(names) - {c['name'] for c in CASES})
  if unknown:
    raise SystemExit(f'unknown cases {unknown}')
  with open(golden / '.lock', 'w') as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)  # helpers may regenerate different cases at once
    io: dict[str, np.ndarray] = {}
    old = {}
    if names and (golden / 'cases.json').exists():
      io = dict(np.load(golden / 'io.npz'))
      old = {c['name']: c for c in json.loads((golden / 'cases.json').read_text())}
    records = []
    for case in CASES:
      if names and case['name'] not in names:
        if case['name'] in old:
          records.append(old[case['name']])
        continue
      for key in [k for k in io if k.startswith(case['name'] + '/')]:
        del io[key]
      torch.manual_seed(0)
      np.random.seed(0)  # TRNMultiScale's np.random.choice: a mere permutation with 3 segments
      records.append(run_case(case, golden, io))
    np.savez_compressed(golden / 'io.npz', **io)
    meta = {
        'seed': SEED,
        'mmaction2': mmaction.__version__,
        'mmcv': mmcv.__version__,
        'torch': torch.__version__,
        'numpy': np.__version__,
        'python': sys.version.split()[0],
        'generator': 'tests/reference/make_golden_models.py',
    }
    (golden / 'cases.json').write_text(json.dumps(records, separators=(',', ':')) + '\n')
    (golden / 'meta.json').write_text(json.dumps(meta, indent=1) + '\n')
  total = sum(f.stat().st_size for f in golden.rglob('*') if f.is_file() and f.name != '.lock')
  print(f'wrote {golden} ({total / 1024:.0f} KiB)')


if __name__ == '__main__':
  main()
