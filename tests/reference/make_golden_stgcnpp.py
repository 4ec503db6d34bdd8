"""Golden outputs of MMAction2 1.2.0's ``STGCN`` backbone (ST-GCN++ and its plain form) and Graph.

Runs ONLY in the reference virtualenv; never imports vjax. MMAction2 1.x needs mmcv 2 and
mmengine, while the reference venv holds 0.24.1 with mmcv 1.7, so this script loads just the
three 1.x modules the backbone is made of (``models/utils/graph.py``, ``gcn_utils.py``,
``models/backbones/stgcn.py``; they need only torch, ``mmcv.cnn``'s norm / activation builders
and ``mmengine.model``) from an unpacked 1.2.0 wheel, under a stub ``mmaction`` package:

    python -m pip download --no-deps -d /tmp/mm1 mmaction2==1.2.0
    (cd /tmp/mm1 && unzip -q mmaction2-1.2.0-py2.py3-none-any.whl 'mmaction/models/*')
    python -m pip install --no-deps --target /tmp/mm1/site mmengine==0.10.7 rich \\
        markdown-it-py mdurl pygments
    MMACTION1_SRC=/tmp/mm1 PYTHONPATH=/tmp/mm1/site \\
        /work/mmaction2-ref-venv/bin/python tests/reference/make_golden_stgcnpp.py

writes tests/golden/stgcnpp/ (about 60 KiB):

* ``graphs.npz``: ``Graph(layout, mode, max_hop).A`` for the layouts 'coco', 'openpose',
  'nturgb+d' and the modes 'spatial', 'binary_adj', 'stgcn_spatial' (max_hop 1 and 2).
* ``cases.json`` / ``io.npz``: backbones built by 1.x, ``init_weights()`` then every parameter
  and BatchNorm statistic replaced by a seeded draw (golden_weights.py; also the 'init'
  adjacency parameters ``gcn.i.gcn.A``; the fixed graph buffers of the 'importance' case are
  kept), run in eval mode and, for ``stgcnpp``, in train mode (batch statistics) on
  (N=2, M=2, T=12, V, C=3) skeletons with clip 0's second person zero:
  - ``stgcnpp``: ST-GCN++ (gcn_adaptive='init', gcn_with_res=True, tcn_type='mstcn'), coco
    'spatial', base_channels=16, num_stages=4, inflate/down stage 3 (16 channels over six
    branches: widths 6, 2, 2, 2, 2, 2), tcn_dropout=0.
  - ``stgcn_v1``: 1.x's defaults (gcn_adaptive='importance', unit_tcn), nturgb+d
    'stgcn_spatial' max_hop 2, data_bn_type='MVC', base_channels=8, num_stages=3,
    gcn_conv_pos='post'.
* ``keys.json``: the state-dict keys and shapes of the full ST-GCN++ of the NTU-60 2D config
  (coco 'spatial', defaults), as 1.x's ``init_weights`` leaves them, with the init checks
  (``A`` equals the graph; unit_tcn BN weights 1).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import types
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import golden_io  # noqa: E402
import golden_weights  # noqa: E402

SEED = 20250117
STGCNPP = dict(gcn_adaptive='init', gcn_with_res=True, tcn_type='mstcn')
CASES = [
    dict(name='stgcnpp', train=True,
         kwargs=dict(graph_cfg=dict(layout='coco', mode='spatial'), in_channels=3,
                     base_channels=16, num_stages=4, inflate_stages=[3], down_stages=[3],
                     **STGCNPP),
         input_shape=(2, 2, 12, 17, 3)),
    dict(name='stgcn_v1',
         kwargs=dict(graph_cfg=dict(layout='nturgb+d', mode='stgcn_spatial', max_hop=2),
                     in_channels=3, base_channels=8, num_stages=3, inflate_stages=[3],
                     down_stages=[3], data_bn_type='MVC', gcn_conv_pos='post'),
         input_shape=(2, 2, 12, 25, 3)),
]


def load_v1(src: Path):
  """1.x's graph, gcn_utils and stgcn modules under a stub ``mmaction`` package."""
  for name in ('mmaction', 'mmaction.models', 'mmaction.models.utils',
               'mmaction.models.backbones'):
    pkg = types.ModuleType(name)
    pkg.__path__ = [str(src / name.replace('.', '/'))]
    sys.modules[name] = pkg
  registry = types.ModuleType('mmaction.registry')
  registry.MODELS = types.SimpleNamespace(register_module=lambda *a, **k: (lambda cls: cls))
  sys.modules['mmaction.registry'] = registry

  def load(name):
    spec = importlib.util.spec_from_file_location(name, src / (name.replace('.', '/') + '.py'))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module

  graph = load('mmaction.models.utils.graph')
  gcn_utils = load('mmaction.models.utils.gcn_utils')
  utils = sys.modules['mmaction.models.utils']
  for m in (graph, gcn_utils):
    for k, v in vars(m).items():
      if not k.startswith('_'):
        setattr(utils, k, v)
  stgcn = load('mmaction.models.backbones.stgcn')
  return graph.Graph, stgcn.STGCN


def skeletons(case):
  x = golden_weights.inputs(SEED, case['name'], case['input_shape'])
  x[0, 1] = 0  # (N, M, T, V, C): clip 0's second person is padding
  return x.astype(np.float32)


def randomized(model, keep_buffers_a: bool):
  new = {}
  for key, value in model.state_dict().items():
    if key.endswith('num_batches_tracked') or (keep_buffers_a and key.endswith('.gcn.A')):
      new[key] = value
    else:
      new[key] = torch.from_numpy(golden_weights.tensor(SEED, key, tuple(value.shape)))
  model.load_state_dict(new, strict=True)
  return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def main():
  golden = golden_io.golden_dir(__doc__, 'stgcnpp')
  Graph, STGCN = load_v1(Path(os.environ['MMACTION1_SRC']))

  arrays = {}
  for layout in ('coco', 'openpose', 'nturgb+d'):
    for mode, hop in (('spatial', 1), ('binary_adj', 1), ('stgcn_spatial', 1),
                      ('stgcn_spatial', 2)):
      arrays[f'{layout}/{mode}/{hop}'] = Graph(layout, mode, hop).A.astype(np.float32)
  np.savez_compressed(golden / 'graphs.npz', **arrays)

  io, records = {}, []
  for case in CASES:
    torch.manual_seed(0)
    model = STGCN(**case['kwargs'])
    model.init_weights()
    adaptive_init = case['kwargs'].get('gcn_adaptive') == 'init'
    state = randomized(model, keep_buffers_a=not adaptive_init)
    x = skeletons(case)
    model.eval()
    with torch.no_grad():
      out = model(torch.from_numpy(x)).numpy()  # (N, M, C, T, V)
    name = case['name']
    io[f'{name}/input'] = x
    io[f'{name}/output'] = out.astype(np.float32)
    record = dict(name=name, seed=SEED, kwargs=case['kwargs'], output_shape=list(out.shape),
                  output_max_abs=float(np.abs(out).max()),
                  tensors=[[k, list(v.shape), golden_weights.checksum(v)]
                           for k, v in state.items() if not k.endswith('num_batches_tracked')])
    if case.get('train'):
      model.train()
      with torch.no_grad():
        io[f'{name}/train_output'] = model(torch.from_numpy(x)).numpy().astype(np.float32)
    records.append(record)
    print(f"{name}: output {tuple(out.shape)}, max |y| {record['output_max_abs']:.3g}, "
          f"{len(record['tensors'])} tensors")
  np.savez_compressed(golden / 'io.npz', **io)
  (golden / 'cases.json').write_text(json.dumps(golden_io.jsonable(records), indent=1) + '\n')

  torch.manual_seed(0)
  full = STGCN(graph_cfg=dict(layout='coco', mode='spatial'), **STGCNPP)
  full.init_weights()
  sd = full.state_dict()
  a = Graph('coco', 'spatial').A
  checks = dict(
      init_A_equals_graph=all(np.allclose(v.numpy(), a) for k, v in sd.items()
                              if k.endswith('.gcn.A')),
      unit_tcn_bn_weight_one=all(bool((v == 1).all()) for k, v in sd.items()
                                 if k.endswith('residual.bn.weight')),
      mstcn_branch_conv_bias_zero=all(bool((v == 0).all()) for k, v in sd.items()
                                      if k.endswith('.3.conv.bias')))
  keys = ',\n'.join(json.dumps([k, list(v.shape)]) for k, v in sd.items())
  (golden / 'keys.json').write_text(f'{{"checks": {json.dumps(checks)},\n"keys": [\n{keys}\n]}}\n')
  print(f'keys: {len(sd)} entries, checks {checks}')


if __name__ == '__main__':
  main()
