"""Golden values for vjax's localizer networks, training labels and losses (MMAction2 0.24.1).

Runs ONLY in the reference virtualenv (tests/reference/setup_venv.sh); never imports vjax.
    /work/mmaction2-ref-venv/bin/python tests/reference/make_golden_localizers.py
writes tests/golden/localizers/ (arrays.npz, cases.json, meta.json) from inputs drawn with
numpy.random.default_rng(SEED) and tests/reference/golden_weights.py.

Cases (keys of arrays.npz start with the group name):
- masks: BMN's ``sample_mask`` (as MMAction2 stores it, ``(T, S * D * T)``) and ``bm_mask``
  for small configs, one with ``boundary_ratio=0.5`` whose first samples fall exactly on -1
  (MMAction2 truncates toward zero there); the 100 x 32 x 3 config of
  ``bmn_400x100_2x8_9e_activitynet_feature`` as checksums in cases.json (128 MB).
- bmn / tem / pem: each network's ``_forward`` in eval mode on a seeded input with seeded
  weights, the state dict as MMAction2 saves it (``<group>/state/<torch key>``, BMN's
  ``sample_mask`` included). Kernels are ``golden_weights.tensor`` draws; the layers whose
  outputs MMAction2 scales by a fixed ratio before a sigmoid (TEM's conv3 by 0.01, PEM's fc1
  and fc2 by 0.1) get weights scaled up by its inverse (``SCALE``), so the probabilities
  spread over (0, 1) instead of sitting at 0.5 (the script asserts std > 0.1).
- labels: ``BMN.generate_labels`` and ``TEM.generate_labels`` for 4 videos with 1, 3, 2 and 5
  ground-truth segments (float64 tensors, as the pipeline's ``ToTensor`` gives them), also
  stored padded to 6 rows with a mask.
- blr: ``BinaryLogisticRegressionLoss`` (ratio inside the range, clipped at either end, no
  positives, non-default threshold / range / eps).
- bmn_loss: ``BMNLoss`` on random predictions with the labels above, and on a map with more
  high-IoU entries than medium / low ones (its selection then takes every entry);
  ``torch.rand_like`` returns stored uniforms (``u_medium``, ``u_low``).
- tem_loss: ``TEM.forward_train`` (its ``_forward`` returning stored outputs) with the labels
  above, default and non-default ``tem_match_threshold`` / ``loss_weight``.
- pem_loss: ``PEM.forward_train`` (``_forward`` returning stored outputs) on 3 videos with 7,
  4 and 6 proposals (also stored padded to 7 with a mask); ``torch.rand`` returns stored
  uniforms; run twice with different uniforms (the selection cancels out of MMAction2's
  value), and once without any proposal above the high threshold (MMAction2: NaN).
"""

from __future__ import annotations

import argparse
import contextlib
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
from mmaction.models import build_localizer, build_loss  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import golden_weights  # noqa: E402
from golden_io import jsonable  # noqa: E402

SEED = 20241001
POST = dict(soft_nms_alpha=0.4, soft_nms_low_threshold=0.5, soft_nms_high_threshold=0.9,
            post_process_top_k=100)
BMN_CFG = dict(type='BMN', temporal_dim=16, boundary_ratio=0.5, num_samples=4,
               num_samples_per_bin=2, feat_dim=16, hidden_dim_1d=16, hidden_dim_2d=8,
               hidden_dim_3d=16, **POST)
TEM_CFG = dict(type='TEM', temporal_dim=16, boundary_ratio=0.1, tem_feat_dim=12,
               tem_hidden_dim=16, tem_match_threshold=0.5)
PEM_CFG = dict(type='PEM', pem_feat_dim=32, pem_hidden_dim=16, pem_u_ratio_m=1,
               pem_u_ratio_l=2, pem_high_temporal_iou_threshold=0.6,
               pem_low_temporal_iou_threshold=0.2, soft_nms_alpha=0.75,
               soft_nms_low_threshold=0.65, soft_nms_high_threshold=0.9, post_process_top_k=100)
MASK_CASES = {  # name: (temporal_dim, boundary_ratio, num_samples, num_samples_per_bin)
    't16': (16, 0.5, 4, 2),
    't9_r025': (9, 0.25, 3, 3),
    't7_r0': (7, 0.0, 2, 1),
}
FULL_MASK = (100, 0.5, 32, 3)
# Inverse of the ratio MMAction2 multiplies these layers' outputs by before a sigmoid; BMN's
# last 2D conv widened too (its logits have a std of 0.3 otherwise).
SCALE = {'bmn': {'x_2d_p.6.weight': 5.},
         'tem': {'conv3.weight': 100., 'conv3.bias': 100.},
         'pem': {'fc1.weight': 10., 'fc1.bias': 10., 'fc2.weight': 10., 'fc2.bias': 10.}}


def as_np(t):
  return t.detach().cpu().numpy()


@contextlib.contextmanager
def patched(obj, name, values):
  """``obj.name`` returns the next of ``values`` (as float32 tensors) on each call."""
  queue = list(values)
  original = getattr(obj, name)

  def fake(*args, **kwargs):
    return torch.from_numpy(np.asarray(queue.pop(0), np.float32))

  setattr(obj, name, fake)
  try:
    yield queue
  finally:
    setattr(obj, name, original)
  assert not queue, f'{name}: {len(queue)} draws unused'


def checksums(a):
  a = np.asarray(a, np.float64).ravel()
  ramp = np.arange(a.size, dtype=np.float64) % 1000 / 1000
  return {'sum': float(a.sum()), 'sum_sq': float((a * a).sum()),
          'ramp': float((a * ramp).sum()), 'nonzero': int(np.count_nonzero(a))}


# ------------------------------------------------------------------ masks
def run_masks(arrays):
  out = {}
  for name, (t, ratio, s, nb) in MASK_CASES.items():
    model = build_localizer(dict(BMN_CFG, temporal_dim=t, boundary_ratio=ratio, num_samples=s,
                                 num_samples_per_bin=nb))
    arrays[f'masks/{name}/sample_mask'] = as_np(model.sample_mask)
    arrays[f'masks/{name}/bm_mask'] = as_np(model.bm_mask)
    out[name] = {'temporal_dim': t, 'boundary_ratio': ratio, 'num_samples': s,
                 'num_samples_per_bin': nb}
  t, ratio, s, nb = FULL_MASK
  model = build_localizer(dict(BMN_CFG, temporal_dim=t, boundary_ratio=ratio, num_samples=s,
                               num_samples_per_bin=nb, hidden_dim_1d=4, hidden_dim_2d=2,
                               hidden_dim_3d=2))
  full = as_np(model.sample_mask)
  out['full'] = {'temporal_dim': t, 'boundary_ratio': ratio, 'num_samples': s,
                 'num_samples_per_bin': nb, 'shape': list(full.shape),
                 'checksums': checksums(full), 'bm_mask': checksums(as_np(model.bm_mask))}
  return out


# ------------------------------------------------------------------ networks
def seeded_state(model, group, skip=()):
  state = {}
  for key, value in model.state_dict().items():
    if key in skip:
      state[key] = as_np(value)
      continue
    drawn = golden_weights.tensor(SEED, f'{group}.{key}', tuple(value.shape))
    state[key] = drawn * np.float32(SCALE.get(group, {}).get(key, 1.))
  model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
  return state


# The layers before each network's sigmoids: their drawn bias is shifted by minus the mean
# of their output on the golden input (per channel), so the logits centre on 0 (after ReLUs
# every input is positive, and random kernels alone put them at -3 or +3).
CENTRE = {'bmn': ('x_1d_s.2', 'x_1d_e.2', 'x_2d_p.6'), 'tem': ('conv3',), 'pem': ('fc2',)}


def centre_logits(model, group, state, x):
  captured = {}
  modules = dict(model.named_modules())
  hooks = [modules[name].register_forward_hook(
      lambda mod, args, out, name=name: captured.__setitem__(name, as_np(out)))
           for name in CENTRE[group]]
  with torch.no_grad():
    model._forward(torch.from_numpy(x))
  for hook in hooks:
    hook.remove()
  for name, out in captured.items():
    channel_axis = 1 if out.ndim > 2 else -1
    axes = tuple(i for i in range(out.ndim) if i != channel_axis % out.ndim)
    state[f'{name}.bias'] = (state[f'{name}.bias'] - out.mean(axis=axes)).astype(np.float32)
  model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})


def run_network(arrays, group, cfg, input_shape, skip=()):
  model = build_localizer(dict(cfg)).eval()
  state = seeded_state(model, group, skip)
  x = golden_weights.inputs(SEED, group, input_shape)
  centre_logits(model, group, state, x)
  for key, value in state.items():
    arrays[f'{group}/state/{key}'] = value
  arrays[f'{group}/input'] = x
  with torch.no_grad():
    outputs = model._forward(torch.from_numpy(x))
  outputs = outputs if isinstance(outputs, tuple) else (outputs,)
  stats = {}
  for name, value in zip(OUTPUT_NAMES[group], outputs):
    value = as_np(value)
    arrays[f'{group}/{name}'] = value
    stats[name] = {'shape': list(value.shape), 'std': float(value.std()),
                   'min': float(value.min()), 'max': float(value.max())}
    assert value.std() > 0.1, f'{group}/{name}: outputs do not spread ({value.std():.3f})'
  return {'model': cfg, 'input_shape': list(input_shape), 'outputs': stats}


OUTPUT_NAMES = {'bmn': ('confidence_map', 'start', 'end'), 'tem': ('output',),
                'pem': ('output',)}


# ------------------------------------------------------------------ labels
GT_COUNTS = (1, 3, 2, 5)
GT_PAD = 6


def ground_truth(rng):
  """Normalised [start, end] rows per video, clipped to [0, 1] as GenerateLocalizationLabels
  clips them: some touch 0 or 1, some are shorter than a snippet."""
  videos = []
  for i, k in enumerate(GT_COUNTS):
    start = rng.uniform(-0.1, 0.9, k)
    length = rng.choice([0.03, 0.1, 0.3, 0.6], k) * rng.uniform(0.5, 1.5, k)
    rows = np.stack([start, start + length], axis=1)
    if i == 3:
      rows[0] = [0.0, rows[0, 1] - rows[0, 0]]
    videos.append(np.clip(rows, 0, 1))
  return videos


def padded(videos, width):
  bbox = np.zeros((len(videos), width, 2))
  mask = np.zeros((len(videos), width), bool)
  for i, rows in enumerate(videos):
    bbox[i, :len(rows)] = rows
    bbox[i, len(rows):] = [0.25, 0.75]  # padding that would change every score if counted
    mask[i, :len(rows)] = True
  return bbox, mask


def run_labels(rng, arrays):
  videos = ground_truth(rng)
  bbox, mask = padded(videos, GT_PAD)
  arrays['labels/gt_bbox'], arrays['labels/gt_mask'] = bbox, mask
  tensors = [torch.from_numpy(v) for v in videos]
  bmn = build_localizer(dict(BMN_CFG))
  tem = build_localizer(dict(TEM_CFG))
  for group, model in (('bmn', bmn), ('tem', tem)):
    for name, value in zip(('0', '1', '2'), model.generate_labels(tensors)):
      arrays[f'labels/{group}/{name}'] = as_np(value)
  return {'gt_counts': list(GT_COUNTS), 'pad': GT_PAD,
          'bmn': {'temporal_dim': BMN_CFG['temporal_dim'],
                  'boundary_ratio': BMN_CFG['boundary_ratio']},
          'tem': {'temporal_dim': TEM_CFG['temporal_dim'],
                  'boundary_ratio': TEM_CFG['boundary_ratio']}}


# ------------------------------------------------------------------ losses
def run_blr(rng, arrays):
  loss = build_loss(dict(type='BinaryLogisticRegressionLoss'))
  score = rng.uniform(0.01, 0.99, (3, 16)).astype(np.float32)
  label = rng.random((3, 16)).astype(np.float32)
  few = np.full((3, 16), 0.2, np.float32)
  few[1, 4] = 0.8
  many = rng.uniform(0.55, 1.0, (3, 16)).astype(np.float32)
  many[0, 0] = 0.1
  cases = {
      'basic': (label, {}),
      'few_positives': (few, {}),        # ratio 48, clipped to 21
      'many_positives': (many, {}),      # ratio 48 / 47, clipped to 1.05
      'no_positives': (np.full((3, 16), 0.5, np.float32), {}),  # 0.5 is not above 0.5
      'options': (label, dict(threshold=0.7, ratio_range=(1.2, 10), eps=1e-4)),
  }
  arrays['blr/score'] = score
  out = {}
  for name, (lab, kwargs) in cases.items():
    arrays[f'blr/{name}/label'] = lab
    value = loss(torch.from_numpy(score), torch.from_numpy(lab), **kwargs)
    out[name] = {'kwargs': kwargs, 'loss': float(value)}
  return out


def run_bmn_loss(rng, arrays):
  loss = build_loss(dict(type='BMNLoss'))
  t = BMN_CFG['temporal_dim']
  bm_mask = build_localizer(dict(BMN_CFG)).bm_mask
  n = len(GT_COUNTS)
  many = rng.uniform(0.0, 1.0, (n, t, t)).astype(np.float32)
  many = np.where(rng.random((n, t, t)) < 0.6, rng.uniform(0.71, 1.0, (n, t, t)),
                  many).astype(np.float32)
  gts = {'labels': tuple(arrays[f'labels/bmn/{i}'] for i in range(3)),
         'many_high': (many,) + tuple(arrays[f'labels/bmn/{i}'] for i in (1, 2))}
  out = {}
  for name, gt in gts.items():
    for variant, weights in (('default', {}),
                             ('weighted', dict(weight_tem=2.0, weight_pem_reg=5.0,
                                               weight_pem_cls=0.5))):
      key = f'bmn_loss/{name}/{variant}'
      pred_bm = rng.uniform(0.02, 0.98, (n, 2, t, t)).astype(np.float32)
      pred_start, pred_end = (rng.uniform(0.02, 0.98, (n, t)).astype(np.float32)
                              for _ in range(2))
      u_medium, u_low = (rng.random((n, t, t)).astype(np.float32) for _ in range(2))
      for k, v in (('pred_bm', pred_bm), ('pred_start', pred_start), ('pred_end', pred_end),
                   ('u_medium', u_medium), ('u_low', u_low)):
        arrays[f'{key}/{k}'] = v
      arrays[f'{key}/gt_iou_map'] = gt[0]
      with patched(torch, 'rand_like', [u_medium, u_low]):
        values = loss(torch.from_numpy(pred_bm), torch.from_numpy(pred_start),
                      torch.from_numpy(pred_end), *(torch.from_numpy(g) for g in gt), bm_mask,
                      **weights)
      gt_map = gt[0] * as_np(bm_mask)
      counts = {'high': int((gt_map > 0.7).sum()),
                'medium': int(((gt_map <= 0.7) & (gt_map > 0.3)).sum()),
                'low': int((((gt_map <= 0.3) & (gt_map > 0)) * as_np(bm_mask)).sum())}
      out[f'{name}/{variant}'] = {'kwargs': weights, 'counts': counts,
                                  'losses': [float(v) for v in values]}
  assert out['labels/default']['counts']['high'] < out['labels/default']['counts']['medium']
  assert out['many_high/default']['counts']['high'] > out['many_high/default']['counts']['low']
  return out


def run_tem_loss(rng, arrays):
  n, t = len(GT_COUNTS), TEM_CFG['temporal_dim']
  labels = [torch.from_numpy(arrays[f'labels/tem/{i}']) for i in range(3)]
  out = {}
  for name, kwargs in (('default', {}), ('options', dict(tem_match_threshold=0.4,
                                                         loss_weight=1.5))):
    model = build_localizer(dict(TEM_CFG, **kwargs))
    output = rng.uniform(0.02, 0.98, (n, 3, t)).astype(np.float32)
    arrays[f'tem_loss/{name}/output'] = output
    model._forward = lambda x, o=output: torch.from_numpy(o)
    losses = model.forward_train(torch.zeros(n, TEM_CFG['tem_feat_dim'], t), *labels)
    out[name] = {'kwargs': {'tem_match_threshold': model.match_threshold,
                            'loss_weight': model.loss_weight},
                 'losses': {k: float(v) for k, v in losses.items()}}
  return out


PEM_COUNTS = (7, 4, 6)


def run_pem_loss(rng, arrays):
  model = build_localizer(dict(PEM_CFG))
  width = max(PEM_COUNTS)
  total = sum(PEM_COUNTS)
  mask = np.zeros((len(PEM_COUNTS), width), bool)
  for i, p in enumerate(PEM_COUNTS):
    mask[i, :p] = True
  arrays['pem_loss/mask'] = mask
  out = {}
  for name in ('mixed', 'no_high'):
    top = 1.0 if name == 'mixed' else 0.6
    iou = np.zeros((len(PEM_COUNTS), width), np.float32)
    iou[mask] = rng.uniform(0.0, top, total)
    iou[~mask] = 0.9  # padding that would count as high if it were counted
    output = rng.uniform(0.02, 0.98, (len(PEM_COUNTS), width)).astype(np.float32)
    arrays[f'pem_loss/{name}/reference_temporal_iou'] = iou
    arrays[f'pem_loss/{name}/output'] = output
    model._forward = lambda x, o=output[mask][:, None]: torch.from_numpy(o)
    features = [torch.zeros(p, PEM_CFG['pem_feat_dim']) for p in PEM_COUNTS]
    references = [torch.from_numpy(iou[i, :p]) for i, p in enumerate(PEM_COUNTS)]
    runs = []
    for draw in range(2):
      u_medium, u_low = (rng.random((len(PEM_COUNTS), width)).astype(np.float32)
                         for _ in range(2))
      arrays[f'pem_loss/{name}/{draw}/u_medium'] = u_medium
      arrays[f'pem_loss/{name}/{draw}/u_low'] = u_low
      with patched(torch, 'rand', [u_medium[mask], u_low[mask]]):
        losses = model.forward_train(features, references)
      runs.append({k: float(v) for k, v in losses.items()})
    out[name] = {'losses': runs, 'high': int((iou[mask] > 0.6).sum())}
  assert out['mixed']['high'] > 0 and out['no_high']['high'] == 0
  return out


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--out', default=str(HERE.parent / 'golden' / 'localizers'))
  args = parser.parse_args()
  golden = Path(args.out)
  golden.mkdir(parents=True, exist_ok=True)
  rng = np.random.default_rng(SEED)
  torch.manual_seed(0)
  arrays = {}
  cases = {
      'masks': run_masks(arrays),
      'bmn': run_network(arrays, 'bmn', BMN_CFG, (2, BMN_CFG['feat_dim'], 16),
                         skip=('sample_mask',)),
      'tem': run_network(arrays, 'tem', TEM_CFG, (2, TEM_CFG['tem_feat_dim'], 16)),
      'pem': run_network(arrays, 'pem', PEM_CFG, (2, 5, PEM_CFG['pem_feat_dim'])),
      'labels': run_labels(rng, arrays),
  }
  cases['blr'] = run_blr(rng, arrays)
  cases['bmn_loss'] = run_bmn_loss(rng, arrays)
  cases['tem_loss'] = run_tem_loss(rng, arrays)
  cases['pem_loss'] = run_pem_loss(rng, arrays)
  meta = {'seed': SEED, 'mmaction2': mmaction.__version__, 'mmcv': mmcv.__version__,
          'torch': torch.__version__, 'numpy': np.__version__,
          'python': sys.version.split()[0],
          'generator': 'tests/reference/make_golden_localizers.py'}
  np.savez_compressed(golden / 'arrays.npz', **arrays)
  (golden / 'cases.json').write_text(json.dumps(jsonable(cases), indent=1) + '\n')
  (golden / 'meta.json').write_text(json.dumps(meta) + '\n')
  for group in ('bmn', 'tem', 'pem'):
    print(group, {k: round(v['std'], 3) for k, v in cases[group]['outputs'].items()})
  print('bmn_loss', {k: v['losses'] for k, v in cases['bmn_loss'].items()})
  print('pem_loss', {k: v['losses'] for k, v in cases['pem_loss'].items()})
  size = sum(f.stat().st_size for f in golden.rglob('*') if f.is_file())
  print(f'wrote {golden}: {size / 1024:.0f} KiB')


if __name__ == '__main__':
  main()
