"""Golden outputs of MMAction2 0.24.1 recognizers, for vjax's checkpoint import and model parity.

Runs ONLY in the reference virtualenv (tests/reference/setup_venv.sh); never imports vjax.
    /work/mmaction2-ref-venv/bin/python tests/reference/make_golden_models.py
writes tests/golden/models/. For each case MMAction2 builds the recognizer from a model dict,
every parameter and BatchNorm statistic is replaced by a seeded random draw
(golden_weights.py), and ``forward_dummy`` runs in eval mode on a seeded random input
(channels-first, as MMAction2 takes it). Small cases store their state dict
(``<case>.state.npz``, the torch keys and float32 arrays as ``model.state_dict()`` has them)
and input; the full-size TSN R50 stores only its output, its tensor names, shapes and
checksums (``cases.json``): vjax's test redraws the weights and the input with
golden_weights.py.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
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

SEED = 20240701


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


# input_shape: 2D (N, segments, C, H, W); 3D (N, views, C, T, H, W). store: weights + input
# in the repo (small) or regenerated from the seed (full size).
CASES = [
    dict(name='tsn_r50', model=tsn(50, 400, 2048), input_shape=(1, 2, 3, 224, 224),
         store=False),
    dict(name='tsn_r18_small',
         model=tsn(18, 10, 64, num_stages=1, strides=(2,), dilations=(1,), out_indices=(0,)),
         input_shape=(2, 3, 3, 32, 32), store=True),
    dict(name='slowfast_small', model=slowfast_small(), input_shape=(2, 1, 3, 8, 32, 32),
         store=True),
]


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
    out = model.forward_dummy(torch.from_numpy(x))[0].numpy()
  name = case['name']
  io[f'{name}/output'] = out.astype(np.float32)
  record = dict(name=name, model=case['model'], input_shape=list(case['input_shape']),
                stored=case['store'], output_shape=list(out.shape),
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
  args = parser.parse_args()
  golden = Path(args.out)
  golden.mkdir(parents=True, exist_ok=True)
  torch.manual_seed(0)
  io: dict[str, np.ndarray] = {}
  records = [run_case(case, golden, io) for case in CASES]
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
  total = sum(f.stat().st_size for f in golden.rglob('*') if f.is_file())
  print(f'wrote {golden} ({total / 1024:.0f} KiB)')


if __name__ == '__main__':
  main()
