"""Golden 2D -> 3D inflation by MMAction2 0.24.1 (``pretrained2d``), for vjax.convert.pretrained.

Runs ONLY in the reference virtualenv (tests/reference/setup_venv.sh); never imports vjax.
    /work/mmaction2-ref-venv/bin/python tests/reference/make_golden_inflate.py
writes tests/golden/inflate/. Each case draws a seeded 2D ResNet checkpoint in torchvision's
naming (golden_weights.py; ResNet-18 / ResNet-50 layouts at width 4, with a few entries
removed or reshaped so that MMAction2's skip paths run), saves it as a .pth, builds
MMAction2's ResNet3d (or a SlowFast whose slow pathway reads it) with
``pretrained=<that file>``, fills every parameter and statistic with NaN and runs
``inflate_weights``. Stored: the 2D checkpoint, the 3D tensors MMAction2 filled (the NaN
ones were not filled), every 3D key, and what its logger reported (modules not found, shape
mismatches, checkpoint entries not used).
"""

from __future__ import annotations

import ast
import json
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np

for _name, _alias in (('int', int), ('float', float), ('bool', bool), ('object', object)):
  if _name not in np.__dict__:
    setattr(np, _name, _alias)

import mmaction  # noqa: E402
import torch  # noqa: E402
from mmaction.models.backbones.resnet3d import ResNet3d  # noqa: E402
from mmaction.models.backbones.resnet3d_slowfast import ResNet3dSlowFast  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import golden_weights  # noqa: E402

SEED = 20240702
STAGES = dict(num_stages=3, spatial_strides=(1, 2, 2), temporal_strides=(1, 1, 1),
              dilations=(1, 1, 1), out_indices=(2,), stage_blocks=(1, 1, 1))


def torchvision_resnet(depth, base, stage_blocks, num_classes=10):
  """(key, shape) of a torchvision ResNet state dict at base width ``base``."""
  bottleneck = depth >= 50
  expansion = 4 if bottleneck else 1
  shapes = [('conv1.weight', (base, 3, 7, 7))]
  bn = lambda name, c: [(f'{name}.{leaf}', (c,)) for leaf in  # noqa: E731
                        ('weight', 'bias', 'running_mean', 'running_var')]
  shapes += bn('bn1', base)
  inplanes = base
  for i, n in enumerate(stage_blocks):
    planes = base * 2**i
    for j in range(n):
      p = f'layer{i + 1}.{j}'
      if bottleneck:
        convs = [(inplanes, 1), (planes, 3), (planes, 1)]
        outs = [planes, planes, planes * 4]
      else:
        convs = [(inplanes, 3), (planes, 3)]
        outs = [planes, planes]
      for k, ((cin, ks), cout) in enumerate(zip(convs, outs)):
        shapes.append((f'{p}.conv{k + 1}.weight', (cout, cin, ks, ks)))
        shapes += bn(f'{p}.bn{k + 1}', cout)
      if j == 0 and (i > 0 or inplanes != planes * expansion):
        shapes.append((f'{p}.downsample.0.weight', (planes * expansion, inplanes, 1, 1)))
        shapes += bn(f'{p}.downsample.1', planes * expansion)
      inplanes = planes * expansion
  shapes += [('fc.weight', (num_classes, inplanes)), ('fc.bias', (num_classes,))]
  return shapes


def checkpoint_2d(name, depth, drop=(), reshape=None):
  """The seeded 2D checkpoint: ``drop`` removes keys, ``reshape`` redraws keys at a shape."""
  state = {}
  for key, shape in torchvision_resnet(depth, 4, (2, 1, 1, 1)):
    if key in drop:
      continue
    shape = (reshape or {}).get(key, shape)
    state[key] = golden_weights.tensor(SEED, f'inflate/{name}/{key}', shape)
  state['bn1.num_batches_tracked'] = np.array(5, np.int64)
  return state


CASES = [
    # An I3D-style ResNet3d (basic blocks, mixed inflation, a non-local block): layer2.0's
    # first BN is absent from the checkpoint, layer3.0.conv2 has the wrong width.
    dict(name='resnet3d_r18', depth=18,
         drop=tuple(f'layer2.0.bn1.{k}' for k in ('weight', 'bias', 'running_mean',
                                                   'running_var')),
         reshape={'layer3.0.conv2.weight': (16, 8, 3, 3)},
         build=lambda path: ResNet3d(
             depth=18, pretrained=path, pretrained2d=True, base_channels=4,
             conv1_kernel=(5, 7, 7), inflate=(1, 0, (1,)), non_local=(0, 0, 1),
             non_local_cfg=dict(sub_sample=True, norm_cfg=dict(type='BN3d')), **STAGES),
         module=lambda model: model),
    # The slow pathway of a SlowFast (bottlenecks, laterals: stage inputs wider than 2D).
    dict(name='slowfast_slow_path', depth=50, drop=(), reshape=None,
         build=lambda path: ResNet3dSlowFast(
             pretrained=None, resample_rate=4, speed_ratio=4, channel_ratio=4,
             slow_pathway=dict(type='resnet3d', depth=50, pretrained=path, lateral=True,
                               base_channels=4, conv1_kernel=(1, 7, 7), inflate=(0, 1, 1),
                               **STAGES),
             fast_pathway=dict(type='resnet3d', depth=50, pretrained=None, lateral=False,
                               base_channels=1, conv1_kernel=(5, 7, 7), **STAGES)),
         module=lambda model: model.slow_path),
]


class Records(logging.Handler):
  def __init__(self):
    super().__init__(logging.DEBUG)
    self.messages = []

  def emit(self, record):
    self.messages.append(record.getMessage())


def run_case(case, tmp: Path, io: dict):
  name = case['name']
  state2d = checkpoint_2d(name, case['depth'], case['drop'], case['reshape'])
  path = tmp / f'{name}.pth'
  torch.save({k: torch.from_numpy(np.asarray(v)) for k, v in state2d.items()}, path)
  module = case['module'](case['build'](str(path)))
  with torch.no_grad():
    for t in list(module.parameters()) + list(module.buffers()):
      if t.is_floating_point():
        t.fill_(float('nan'))
  logger = logging.getLogger(f'inflate.{name}')
  logger.setLevel(logging.DEBUG)
  records = Records()
  logger.addHandler(records)
  module.inflate_weights(logger)
  missing, mismatched, unused = [], [], []
  for msg in records.messages:
    if msg.startswith('Module not exist in the state_dict_r2d: '):
      missing.append(msg.split(': ', 1)[1])
    elif msg.startswith('Weight shape mismatch for : '):
      mismatched.append(msg[len('Weight shape mismatch for : '):].split(' : ')[0])
    elif msg.startswith('These parameters in the 2d checkpoint are not loaded: '):
      unused = sorted(ast.literal_eval(msg.split(': ', 1)[1]))
  keys, filled = [], 0
  for key, value in module.state_dict().items():
    if key.endswith('num_batches_tracked'):
      continue
    v = value.numpy()
    keys.append([key, list(v.shape)])
    if not np.isnan(v).any():
      io[f'{name}/3d/{key}'] = v
      filled += 1
    else:
      assert np.isnan(v).all(), f'{key} partly filled'
  for key, value in state2d.items():
    io[f'{name}/2d/{key}'] = np.asarray(value)
  print(f'{name}: {filled} of {len(keys)} tensors filled; {len(missing)} modules not found, '
        f'{len(mismatched)} mismatched, {len(unused)} 2D entries unused')
  return dict(name=name, keys=keys, missing=sorted(missing), mismatched=sorted(mismatched),
              unused=unused)


def main():
  out = HERE.parent / 'golden' / 'inflate'
  out.mkdir(parents=True, exist_ok=True)
  io: dict[str, np.ndarray] = {}
  with tempfile.TemporaryDirectory() as tmp:
    records = [run_case(case, Path(tmp), io) for case in CASES]
  np.savez_compressed(out / 'inflate.npz', **io)
  meta = dict(seed=SEED, mmaction2=mmaction.__version__, torch=torch.__version__,
              generator='tests/reference/make_golden_inflate.py', cases=records)
  (out / 'inflate.json').write_text(json.dumps(meta, indent=1) + '\n')
  total = sum(f.stat().st_size for f in out.iterdir())
  print(f'wrote {out} ({total / 1024:.0f} KiB)')


if __name__ == '__main__':
  main()
