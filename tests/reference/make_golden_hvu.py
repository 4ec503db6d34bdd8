"""Golden values for vjax's multi-label / HVU side, computed by MMAction2 0.24.1 itself.

Runs ONLY in the reference virtualenv (tests/reference/setup_venv.sh); never imports vjax.
    /work/mmaction2-ref-venv/bin/python tests/reference/make_golden_hvu.py
writes tests/golden/hvu/ from inputs drawn with numpy.random.default_rng(SEED):
- ann_video.json, ann_rawframe.json: HVU annotation lists (inputs of HVUDataset);
- arrays.npz: loss inputs and LoadHVULabel / evaluate arrays;
- cases.json: loss configs with MMAction2's outputs (HVULoss and BCELossWithLogits, both
  through TSNHead.loss, i.e. BaseHead's multi_class label smoothing and its passing of the
  batch's ``mask`` / ``category_mask`` on to the loss), HVUDataset results, evaluate output;
- meta.json: seed and versions.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from pathlib import Path

import numpy as np

# MMAction2 0.24.1 predates numpy 1.24, which removed these aliases.
for _name, _alias in (('int', int), ('float', float), ('bool', bool), ('object', object)):
  if _name not in np.__dict__:
    setattr(np, _name, _alias)

import mmaction  # noqa: E402
import torch  # noqa: E402
from mmaction.core.evaluation import accuracy as mm_acc  # noqa: E402
from mmaction.datasets import HVUDataset  # noqa: E402
from mmaction.models import build_head  # noqa: E402

import golden_io  # noqa: E402
from golden_io import jsonable, stable_numpy  # noqa: E402

HERE = Path(__file__).resolve().parent
SEED = 20240815

CATEGORIES = ['action', 'attribute', 'concept', 'event', 'object', 'scene']
NUMS = [7, 3, 5, 2, 9, 4]
NUM_TAGS = sum(NUMS)

# HVULoss's 'individual' + with_mask branch builds the zero loss of a category missing from
# the whole batch with ``torch.tensor(.0).cuda()``; this CPU-only torch has no CUDA, so
# ``.cuda()`` returns the tensor itself (the value is what matters).
torch.Tensor.cuda = lambda self, *args, **kwargs: self


# ------------------------------------------------------------------ stable sorting (ties)
STABLE_NP = stable_numpy()


def sorting(mode):
  return golden_io.sorting((mm_acc,), mode, STABLE_NP)


# ------------------------------------------------------------------ annotations
def random_label(rng, p_annotated=0.7, extra=False):
  """One video's {category: tags}; some categories missing, a few empty lists and
  duplicate tags, sometimes a category outside the layout (ignored by MMAction2)."""
  label = {}
  for category, num in zip(CATEGORIES, NUMS):
    if rng.random() < p_annotated:
      k = int(rng.integers(0, 4)) if rng.random() < 0.1 else int(rng.integers(1, 4))
      tags = rng.integers(0, num, size=k).tolist()
      label[category] = tags
  if not label:
    label[CATEGORIES[int(rng.integers(len(CATEGORIES)))]] = [0]
  if extra:
    label['extra'] = [0, 100]
  return label


def annotations(rng, n):
  out = []
  for i in range(n):
    label = random_label(rng, extra=(i % 7 == 3))
    out.append({'filename': f'video_{i:03d}.mp4', 'label': label})
  return out


def rawframe_annotations(rng, n):
  return [{'frame_dir': f'frames_{i:03d}', 'total_frames': int(rng.integers(10, 300)),
           'label': random_label(rng)} for i in range(n)]


def load_hvu_labels(ann_file, data_prefix):
  ds = HVUDataset(ann_file, [dict(type='LoadHVULabel')], CATEGORIES, NUMS,
                  data_prefix=data_prefix)
  rows = [ds[i] for i in range(len(ds))]
  return ds, {k: np.stack([r[k].numpy() for r in rows]).astype(np.float32)
              for k in ('label', 'mask', 'category_mask')}


def plain_results(ds):
  """What HVUDataset hands its pipeline (pipeline=[])."""
  out = []
  for i in range(len(ds)):
    r = ds[i]
    out.append({k: r[k] for k in sorted(r)})
  return out


# ------------------------------------------------------------------ losses
def head(loss_cls, num_classes, eps):
  return build_head(dict(type='TSNHead', num_classes=num_classes, in_channels=8,
                         loss_cls=loss_cls, multi_class=True, label_smooth_eps=eps))


def hvu_batch(rng, n, drop=None):
  """A loss batch through LoadHVULabel's semantics (MMAction2's op, on random dicts)."""
  from mmaction.datasets.pipelines import LoadHVULabel
  op = LoadHVULabel()
  labels = []
  for _ in range(n):
    label = random_label(rng)
    if drop is not None:
      label.pop(drop, None)
      if not label:
        label['object'] = [1]
    labels.append(label)
  rows = [op(dict(label=lab, categories=CATEGORIES, category_nums=NUMS)) for lab in labels]
  batch = {k: np.stack([r[k].numpy() for r in rows]).astype(np.float32)
           for k in ('label', 'mask', 'category_mask')}
  batch['scores'] = (rng.standard_normal((n, NUM_TAGS)) * 2).astype(np.float32)
  return batch


def run_hvu_losses(rng, arrays):
  batches = {'mixed': hvu_batch(rng, 12), 'no_event': hvu_batch(rng, 10, drop='event')}
  for name, b in batches.items():
    for k, v in b.items():
      arrays[f'loss/{name}/{k}'] = v
  configs = []
  for loss_type in ('all', 'individual'):
    for with_mask in (False, True):
      for reduction in ('mean', 'sum'):
        configs.append((dict(loss_type=loss_type, with_mask=with_mask, reduction=reduction), 0.0))
  for with_mask in (False, True):
    configs.append((dict(loss_type='individual', with_mask=with_mask,
                         category_loss_weights=[1, 2, 0.5, 3, 1, 0], loss_weight=0.5), 0.0))
  configs.append((dict(loss_type='all', with_mask=True, loss_weight=2.0), 0.0))
  configs.append((dict(loss_type='all', with_mask=True), 0.1))
  configs.append((dict(loss_type='individual', with_mask=True, reduction='sum'), 0.2))
  cases = []
  for batch_name, b in batches.items():
    for cfg, eps in configs:
      loss_cls = dict(type='HVULoss', categories=CATEGORIES, category_nums=NUMS, **cfg)
      out = head(loss_cls, NUM_TAGS, eps).loss(
          torch.from_numpy(b['scores']), torch.from_numpy(b['label']),
          mask=torch.from_numpy(b['mask']), category_mask=torch.from_numpy(b['category_mask']))
      cases.append({'batch': batch_name, 'loss_cls': loss_cls, 'label_smooth_eps': eps,
                    'expected': {k: float(v) for k, v in out.items()}})
  return cases


def run_bce(rng, arrays):
  n, k = 16, 13
  scores = (rng.standard_normal((n, k)) * 2).astype(np.float32)
  labels = np.zeros((n, k), np.float32)
  for i in range(n):
    labels[i, rng.choice(k, size=int(rng.integers(1, 4)), replace=False)] = 1
  class_weight = rng.uniform(0.5, 2.0, size=k).round(4).tolist()
  arrays['bce/scores'], arrays['bce/labels'] = scores, labels
  configs = [
      (dict(), 0.0),
      (dict(loss_weight=160.0), 0.0),  # tsn_r101_1x1x5_50e_mmit_rgb
      (dict(class_weight=class_weight), 0.0),
      (dict(), 0.1),
      (dict(loss_weight=333.0, class_weight=class_weight), 0.2),
  ]
  cases = []
  for cfg, eps in configs:
    loss_cls = dict(type='BCELossWithLogits', **cfg)
    out = head(loss_cls, k, eps).loss(torch.from_numpy(scores), torch.from_numpy(labels))
    cases.append({'loss_cls': loss_cls, 'num_classes': k, 'label_smooth_eps': eps,
                  'expected': {key: float(v) for key, v in out.items()}})
  return cases


# ------------------------------------------------------------------ evaluate
def run_evaluate(rng, ds, arrays):
  n = len(ds)
  continuous = rng.standard_normal((n, NUM_TAGS)).astype(np.float32)
  tied = (rng.integers(0, 4, size=(n, NUM_TAGS)) / 4).astype(np.float32)
  arrays['eval/continuous'], arrays['eval/tied'] = continuous, tied
  out = {}
  for name, scores in (('continuous', continuous), ('tied', tied)):
    out[name] = {}
    for mode in ('raw', 'stable'):
      with sorting(mode), contextlib.redirect_stdout(io.StringIO()):
        out[name][mode] = dict(ds.evaluate(list(scores)))
  return out


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--out', default=str(HERE.parent / 'golden' / 'hvu'))
  args = parser.parse_args()
  golden = Path(args.out)
  golden.mkdir(parents=True, exist_ok=True)
  rng = np.random.default_rng(SEED)
  arrays = {}

  ann = annotations(rng, 40)
  (golden / 'ann_video.json').write_text(json.dumps(ann) + '\n')
  raw_ann = rawframe_annotations(rng, 4)
  (golden / 'ann_rawframe.json').write_text(json.dumps(raw_ann) + '\n')

  ds, loaded = load_hvu_labels(str(golden / 'ann_video.json'), 'data/hvu')
  for k, v in loaded.items():
    arrays[f'load/{k}'] = v
  video_results = plain_results(HVUDataset(str(golden / 'ann_video.json'), [], CATEGORIES,
                                           NUMS, data_prefix='data/hvu'))[:3]
  raw_ds = HVUDataset(str(golden / 'ann_rawframe.json'), [], CATEGORIES, NUMS,
                      filename_tmpl='img_{:05d}.jpg', data_prefix='data/hvu_frames',
                      start_index=1)
  rawframe_results = plain_results(raw_ds)

  cases = {
      'categories': CATEGORIES,
      'category_nums': NUMS,
      'hvu_loss': run_hvu_losses(rng, arrays),
      'bce': run_bce(rng, arrays),
      'dataset': {'video': {'data_prefix': 'data/hvu', 'results': video_results},
                  'rawframe': {'data_prefix': 'data/hvu_frames',
                               'filename_tmpl': 'img_{:05d}.jpg', 'start_index': 1,
                               'results': rawframe_results}},
      'evaluate': run_evaluate(rng, ds, arrays),
  }
  meta = {'seed': SEED, 'mmaction2': mmaction.__version__, 'torch': torch.__version__,
          'numpy': np.__version__, 'python': sys.version.split()[0],
          'generator': 'tests/reference/make_golden_hvu.py'}
  np.savez_compressed(golden / 'arrays.npz', **arrays)
  (golden / 'cases.json').write_text(json.dumps(jsonable(cases), indent=1) + '\n')
  (golden / 'meta.json').write_text(json.dumps(meta) + '\n')
  for name, res in cases['evaluate'].items():
    same = json.dumps(jsonable(res['raw'])) == json.dumps(jsonable(res['stable']))
    print(f'evaluate {name}: raw {"==" if same else "!="} stable')
  print(f'wrote {golden}: {len(cases["hvu_loss"])} HVULoss cases, {len(cases["bce"])} BCE '
        'cases')


if __name__ == '__main__':
  main()
