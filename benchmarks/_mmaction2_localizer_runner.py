"""Times MMAction2 0.24.1's BMN / BSN-TEM training step; run by localizer_step.py.

Runs ONLY in the MMAction2 reference venv (tests/reference/setup_venv.sh); never imports vjax.
The step is the recognition runner's (``_mmaction2_train_step_runner.optimizer_step``:
``model.train_step`` then what mmcv's ``OptimizerHook`` does) on a localizer built by
``build_localizer`` from the same model dict. Its batch is what MMAction2's collate hands
the model: ``raw_feature`` ``(N, C, T)`` float32 on the device and ``gt_bbox`` a list of
per-video ``(K, 2)`` float64 tensors kept on the host (the configs' ``ToDataContainer``
marks it ``cpu_only``); ``forward`` turns those into labels on the host with numpy
(``generate_labels``), which is part of MMAction2's step and is timed with it.

The batch comes from ``--batch-file`` (an ``.npz`` written by localizer_step.py: padded
``gt_bbox`` with ``gt_mask``; the real rows of each video are taken), so both sides train on
the same numbers. ``--serve`` answers ``{"phase": "train", "steps": n}`` lines on stdin with
``{"ms": [...]}``; without it, prints one JSON line with the median of ``--repeat`` steps.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import warnings

import numpy as np

# First: it puts back the numpy aliases MMAction2 0.24.1 needs before mmaction is imported.
from _mmaction2_train_step_runner import as_tuples, optimizer_step, serve, timed

import mmcv  # noqa: E402
import torch  # noqa: E402
from mmcv.runner import build_optimizer  # noqa: E402

from mmaction.models import build_localizer  # noqa: E402


def load_batch(path: str, device: torch.device) -> dict:
  """The collated batch: features on ``device``, each video's real ground-truth rows as a
  float64 host tensor."""
  data = np.load(path)
  gt_bbox = [torch.from_numpy(np.asarray(b[m], np.float64))
             for b, m in zip(data['gt_bbox'], data['gt_mask'])]
  return dict(raw_feature=torch.from_numpy(np.asarray(data['raw_feature'], np.float32)).to(device),
              gt_bbox=gt_bbox)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--spec', required=True, help='JSON: model, optimizer, optimizer_config')
  parser.add_argument('--batch-file', required=True, help='.npz: raw_feature, gt_bbox, gt_mask')
  parser.add_argument('--threads', type=int, required=True)
  parser.add_argument('--warmup', type=int, default=1)
  parser.add_argument('--repeat', type=int, default=5)
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--device', default='cpu')
  parser.add_argument('--serve', action='store_true',
                      help='answer timing requests on stdin (see the module docstring)')
  args = parser.parse_args()

  warnings.filterwarnings('ignore')
  torch.set_num_threads(args.threads)
  torch.manual_seed(args.seed)
  spec = json.loads(args.spec)
  device = torch.device(args.device)
  model = build_localizer(mmcv.ConfigDict(as_tuples(spec['model']))).to(device)
  model.train()
  optimizer = build_optimizer(model, mmcv.ConfigDict(as_tuples(spec['optimizer'])))
  clip = (spec.get('optimizer_config') or {}).get('grad_clip')
  batch = load_batch(args.batch_file, device)
  sync = torch.cuda.synchronize if device.type == 'cuda' else (lambda: None)
  # A disabled GradScaler passes the loss and the step through, as in the recognition runner.
  train_step = optimizer_step(model, optimizer, batch, clip, contextlib.nullcontext,
                              torch.cuda.amp.GradScaler(enabled=False))

  info = dict(torch=torch.__version__, mmcv=mmcv.__version__, threads=torch.get_num_threads())
  if args.serve:
    serve(dict(train=train_step), sync, info)
    return
  train_ms = timed(train_step, args.warmup, args.repeat, sync)
  print(json.dumps(dict(train_ms=statistics.median(train_ms), train_all_ms=train_ms, **info)))


if __name__ == '__main__':
  main()
