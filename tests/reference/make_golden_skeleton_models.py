"""Golden outputs of MMAction2 0.24.1's skeleton models: Graph, STGCN, AGCN, PoseC3D.

Runs ONLY in the reference virtualenv (tests/reference/setup_venv.sh); never imports vjax.
    /work/mmaction2-ref-venv/bin/python tests/reference/make_golden_skeleton_models.py
writes tests/golden/skeleton_models/ (about 100 KiB):

* ``graphs.npz`` / ``graphs.json``: ``Graph(layout, strategy, max_hop, dilation).A`` for
  every layout and strategy at (max_hop, dilation) = (1, 1), (2, 1), (3, 2); the combinations
  MMAction2 refuses (the 'agcn' strategy on layouts without directed links) record the error.
* model cases (``cases.json``, outputs and skeleton inputs in ``io.npz``): MMAction2 builds
  the model from its dict, every parameter and BatchNorm statistic is replaced by a seeded
  draw (golden_weights.py; the graph buffer ``backbone.A`` is kept: it is the graph), and
  ``forward(return_loss=False)`` runs in eval mode. Weights are not stored: vjax's test
  redraws them by name from the seed and checks the recorded checksums.
  - ``stgcn_coco``: STGCN, 'coco' layout, 'spatial' strategy, 2D keypoints + score (C=3).
  - ``stgcn_ntu``: STGCN, 'ntu-rgb+d' layout, 'spatial' strategy, 3D joints.
  - ``agcn_joint`` / ``agcn_bone``: AGCN, 'ntu-rgb+d', 'agcn' strategy, on 3D joints and on
    the bones MMAction2's ``JointToBone`` makes of them (same model, same draws).
  The skeleton input is (N=2, C, T=12, V, M=2), clip 0's second person all zeros as
  ``FormatGCNInput`` pads, clip 1 with two persons. ``stgcn_coco`` also runs
  ``forward(return_loss=True)`` in train mode (labels 3 and 7): its ``loss_cls``, the head's
  scores and every BatchNorm running statistic after that step (``train_stats.npz``).
  - ``posec3d``: the PoseC3D NTU keypoint/limb configs' Recognizer3D (ResNet3dSlowOnly with
    in_channels=17, base_channels=32, three stages (4, 6, 3), conv1/pool1 stride 1, inflate
    (0, 1, 1), spatial strides 2, temporal (1, 1, 2)) + I3DHead (512 -> 10 classes) with
    ``average_clips=None`` (per-view scores), on 1 clip x 2 views of 17 x 8 x 32 x 32
    heatmaps in [0, 1) (redrawn by the test from the seed: too big to store).
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path

import numpy as np

for _name, _alias in (('int', int), ('float', float), ('bool', bool), ('object', object)):
  if _name not in np.__dict__:
    setattr(np, _name, _alias)

import mmaction  # noqa: E402
import mmcv  # noqa: E402
import torch  # noqa: E402
from mmaction.datasets.pipelines import JointToBone  # noqa: E402
from mmaction.models import build_model  # noqa: E402
from mmaction.models.skeleton_gcn.utils import Graph  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import golden_weights  # noqa: E402

SEED = 20241017
LAYOUTS = ('openpose-18', 'openpose-25', 'ntu-rgb+d', 'ntu_edge', 'coco')
STRATEGIES = ('uniform', 'distance', 'spatial', 'agcn')
HOPS = ((1, 1), (2, 1), (3, 2))
NUM_CLASSES = 10


def gcn(backbone, num_classes=NUM_CLASSES):
  return dict(type='SkeletonGCN', backbone=backbone,
              cls_head=dict(type='STGCNHead', num_classes=num_classes, in_channels=256,
                            loss_cls=dict(type='CrossEntropyLoss')),
              train_cfg=None, test_cfg=None)


def stgcn(layout):
  return gcn(dict(type='STGCN', in_channels=3, edge_importance_weighting=True,
                  graph_cfg=dict(layout=layout, strategy='spatial')))


AGCN = gcn(dict(type='AGCN', in_channels=3, graph_cfg=dict(layout='ntu-rgb+d', strategy='agcn')))

POSEC3D = dict(
    type='Recognizer3D',
    backbone=dict(type='ResNet3dSlowOnly', depth=50, pretrained=None, in_channels=17,
                  base_channels=32, num_stages=3, out_indices=(2,), stage_blocks=(4, 6, 3),
                  conv1_stride_s=1, pool1_stride_s=1, inflate=(0, 1, 1),
                  spatial_strides=(2, 2, 2), temporal_strides=(1, 1, 2), dilations=(1, 1, 1)),
    cls_head=dict(type='I3DHead', in_channels=512, num_classes=NUM_CLASSES, spatial_type='avg',
                  dropout_ratio=0.5),
    train_cfg=dict(),
    test_cfg=dict(average_clips=None))

# input: (N, C, T, V, M) skeletons ('bone': JointToBone of the joints), or PoseC3D's
# (N, views, K, T, H, W) heatmaps.
CASES = [
    dict(name='stgcn_coco', model=stgcn('coco'), input_shape=(2, 3, 12, 17, 2), train=True),
    dict(name='stgcn_ntu', model=stgcn('ntu-rgb+d'), input_shape=(2, 3, 12, 25, 2)),
    dict(name='agcn_joint', model=AGCN, input_shape=(2, 3, 12, 25, 2)),
    dict(name='agcn_bone', model=AGCN, input_shape=(2, 3, 12, 25, 2), bone=True),
    dict(name='posec3d', model=POSEC3D, input_shape=(1, 2, 17, 8, 32, 32), heatmaps=True),
]
TRAIN_LABELS = np.array([3, 7])
# golden_weights draws, rescaled where a GCN tensor has its own scale: (regex on the torch
# key, scale, offset). AGCN's graph offsets PA start at 1e-6 and STGCN's edge importances at
# 1; AGCN sums three conv_d branches per block. Drawn as they are, the AGCN scores reach 4e3.
RESCALE = [[r'\.PA$', 0.02, 0.0], [r'\.edge_importance\.\d+$', 1.0, 1.0],
           [r'\.conv_d\.\d\.weight$', 1 / 3, 0.0]]


def drawn(key, shape):
  """golden_weights' draw for ``key``, rescaled per RESCALE (the test does the same)."""
  v = golden_weights.tensor(SEED, key, shape)
  for pattern, scale, offset in RESCALE:
    if re.search(pattern, key):
      v = (v * np.float32(scale) + np.float32(offset)).astype(np.float32)
  return v


def graphs(golden: Path):
  arrays, records = {}, []
  for layout in LAYOUTS:
    for strategy in STRATEGIES:
      for max_hop, dilation in HOPS:
        key = f'{layout}/{strategy}/{max_hop}/{dilation}'
        try:
          arrays[key] = Graph(layout, strategy, max_hop, dilation).A
          records.append(dict(key=key, shape=list(arrays[key].shape)))
        except Exception as e:  # noqa: BLE001  (MMAction2 raises AttributeError here)
          records.append(dict(key=key, error=type(e).__name__))
  np.savez_compressed(golden / 'graphs.npz', **arrays)
  (golden / 'graphs.json').write_text(
      '[\n' + ',\n'.join(json.dumps(r) for r in records) + '\n]\n')
  print(f'graphs: {len(arrays)} adjacencies, {len(records) - len(arrays)} refused')


def skeletons(case):
  """(N, C, T, V, M) float32; clip 0's second person is zero padding."""
  x = golden_weights.inputs(SEED, case['name'].split('_')[0] + '_skeleton', case['input_shape'])
  x[0, ..., 1] = 0
  if case.get('bone'):
    bone = JointToBone(dataset='nturgb+d')
    for i in range(x.shape[0]):
      kp = np.ascontiguousarray(x[i].transpose(3, 1, 2, 0))  # M T V C
      x[i] = bone(dict(keypoint=kp))['keypoint'].transpose(3, 1, 2, 0)
  return x.astype(np.float32)


def heatmaps(case):
  return golden_weights.uniform(SEED, f"input/{case['name']}", case['input_shape']).astype(
      np.float32)


def randomized(model):
  """Every parameter and BN statistic drawn by name; the graph buffer ``A`` kept."""
  new = {}
  for key, value in model.state_dict().items():
    if key.endswith('num_batches_tracked') or key == 'backbone.A':
      new[key] = value
    else:
      new[key] = torch.from_numpy(drawn(key, tuple(value.shape)))
  model.load_state_dict(new, strict=True)
  return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def run_case(case, io, train_stats):
  torch.manual_seed(0)
  model = build_model(copy.deepcopy(case['model']))
  state = randomized(model)
  name = case['name']
  x = heatmaps(case) if case.get('heatmaps') else skeletons(case)
  model.eval()
  with torch.no_grad():
    out = np.asarray(model(torch.from_numpy(x), return_loss=False))
  io[f'{name}/output'] = out.astype(np.float32)
  record = dict(name=name, model=case['model'], input_shape=list(case['input_shape']),
                output_shape=list(out.shape), output_max_abs=float(np.abs(out).max()),
                output_std=float(out.std()),
                tensors=[[k, list(v.shape), golden_weights.checksum(v)] for k, v in state.items()
                         if not k.endswith('num_batches_tracked') and k != 'backbone.A'],
                input_checksum=golden_weights.checksum(x))
  if case.get('heatmaps'):
    record['input'] = 'uniform'
  else:
    io[f'{name}/input'] = x
  if case.get('train'):
    model.train()
    captured = {}
    model.cls_head.register_forward_hook(lambda m, i, o: captured.setdefault('score', o))
    losses = model(torch.from_numpy(x), torch.from_numpy(TRAIN_LABELS), return_loss=True)
    record['train_labels'] = TRAIN_LABELS.tolist()
    record['train_loss_cls'] = float(losses['loss_cls'])
    io[f'{name}/train_score'] = captured['score'].detach().numpy().astype(np.float32)
    for k, v in model.state_dict().items():
      if k.endswith(('running_mean', 'running_var')):
        train_stats[f'{name}/{k}'] = v.numpy().astype(np.float32)
  params = sum(v.size for k, v in state.items() if not k.endswith('num_batches_tracked'))
  print(f"{name}: {params} parameters + statistics, output {tuple(out.shape)}, max |score| "
        f"{record['output_max_abs']:.3g}, std {record['output_std']:.3g}"
        + (f", train loss {record['train_loss_cls']:.4g}" if case.get('train') else ''))
  return record


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--out', default=str(HERE.parent / 'golden' / 'skeleton_models'))
  args = parser.parse_args()
  golden = Path(args.out)
  golden.mkdir(parents=True, exist_ok=True)
  graphs(golden)
  io, train_stats = {}, {}
  records = [run_case(case, io, train_stats) for case in CASES]
  np.savez_compressed(golden / 'io.npz', **io)
  np.savez_compressed(golden / 'train_stats.npz', **train_stats)
  (golden / 'cases.json').write_text(json.dumps(records, separators=(',', ':')) + '\n')
  meta = dict(seed=SEED, rescale=RESCALE, mmaction2=mmaction.__version__, mmcv=mmcv.__version__,
              torch=torch.__version__, numpy=np.__version__, python=sys.version.split()[0],
              generator='tests/reference/make_golden_skeleton_models.py')
  (golden / 'meta.json').write_text(json.dumps(meta, indent=1) + '\n')
  total = sum(f.stat().st_size for f in golden.rglob('*') if f.is_file())
  print(f'wrote {golden} ({total / 1024:.0f} KiB)')


if __name__ == '__main__':
  main()
