"""Times MMAction2 0.24.1's training step and inference forward; run by train_step.py.

Runs ONLY in the MMAction2 reference venv (tests/reference/setup_venv.sh); never imports vjax.
The step is what an MMAction2 training iteration does once the batch is on the device:
``model.train_step`` (forward_train, the head's loss and ``_parse_losses``), then what mmcv's
``OptimizerHook`` does (``zero_grad``, ``backward``, ``clip_grad_norm_`` over the parameters
that have gradients, ``optimizer.step``). The optimizer comes from mmcv's ``build_optimizer``,
so TSM's ``TSMOptimizerConstructor`` builds its parameter groups as in training. Inference is
``model(x, return_loss=False)`` under ``torch.no_grad()`` (forward_test: scores averaged
as ``test_cfg`` says). The input is the spec's ``input_key``: ``imgs`` for recognizers
(PoseC3D's heatmap volumes too), ``keypoint`` ``(N, C, T, V, M)`` for ``SkeletonGCN``.
Prints one JSON line as its last output.

With ``--serve`` it builds the model once, then answers requests on stdin, one JSON line each
(``{"phase": "train" | "infer", "steps": n}``), with ``{"ms": [...]}``: train_step.py
alternates it with vjax in paired repeats. ``--device cuda`` times on a GPU (synchronising
before reading the clock); ``--autocast float16`` is mmcv's Fp16OptimizerHook on torch >= 1.6:
forward under ``torch.autocast(float16)``, a dynamic GradScaler, gradients unscaled before
clipping. (bfloat16 autocast fails in MMAction2 0.24.1's heads, which call ``.numpy()`` on the
scores.)

localizer_step.py's runner (_mmaction2_localizer_runner.py) imports ``as_tuples``,
``optimizer_step`` and ``serve`` from here, so both time the same optimizer step.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
import warnings

import numpy as np

# MMAction2 0.24.1 predates numpy 1.24, which removed these aliases.
for _name, _alias in (('int', int), ('float', float), ('bool', bool), ('object', object)):
  if _name not in np.__dict__:
    setattr(np, _name, _alias)

import mmcv  # noqa: E402
import torch  # noqa: E402
from mmcv.runner import build_optimizer  # noqa: E402
from torch.nn.utils import clip_grad_norm_  # noqa: E402

import mmaction.core  # noqa: E402,F401  (registers TSMOptimizerConstructor)
from mmaction.models import build_model  # noqa: E402


def as_tuples(v):
  """JSON lists back to the tuples an MMAction2 config file writes (kernel sizes, strides)."""
  if isinstance(v, dict):
    return {k: as_tuples(x) for k, x in v.items()}
  if isinstance(v, list):
    return tuple(as_tuples(x) for x in v)
  return v


def timed(fn, warmup: int, repeat: int, sync=lambda: None) -> list[float]:
  """Milliseconds of each of ``repeat`` calls after ``warmup`` untimed ones."""
  for _ in range(warmup):
    fn()
  sync()
  out = []
  for _ in range(repeat):
    start = time.perf_counter()
    fn()
    sync()
    out.append((time.perf_counter() - start) * 1e3)
  return out


def optimizer_step(model, optimizer, batch: dict, clip: dict | None, autocast, scaler):
  """One training iteration on ``batch`` as mmcv's runner and OptimizerHook (or, with a
  scaler, Fp16OptimizerHook) run it: a closure of no arguments."""

  def train_step():
    model.train()
    with autocast():
      outputs = model.train_step(batch, optimizer)
    optimizer.zero_grad()
    scaler.scale(outputs['loss']).backward()
    scaler.unscale_(optimizer)
    if clip:
      params = [p for p in model.parameters() if p.requires_grad and p.grad is not None]
      clip_grad_norm_(params, max_norm=clip['max_norm'], norm_type=clip.get('norm_type', 2))
    scaler.step(optimizer)
    scaler.update()

  return train_step


def serve(steps: dict, sync, info: dict) -> None:
  """Prints ``info`` as the ready line, then times ``steps[phase]`` per request on stdin."""
  print(json.dumps(dict(ready=True, **info)), flush=True)
  for line in sys.stdin:
    request = json.loads(line)
    ms = timed(steps[request['phase']], 0, request['steps'], sync)
    print(json.dumps(dict(ms=ms)), flush=True)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--spec', required=True,
                      help='JSON: model, optimizer, optimizer_config, input_key (default imgs), '
                      'input_shape (NC... layout)')
  parser.add_argument('--threads', type=int, required=True)
  parser.add_argument('--warmup', type=int, default=1)
  parser.add_argument('--repeat', type=int, default=5)
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--device', default='cpu')
  parser.add_argument('--autocast', choices=('float16',),
                      help='mixed precision as mmcv\'s Fp16OptimizerHook (see above)')
  parser.add_argument('--serve', action='store_true',
                      help='answer timing requests on stdin (see the module docstring)')
  args = parser.parse_args()

  warnings.filterwarnings('ignore')
  torch.set_num_threads(args.threads)
  torch.manual_seed(args.seed)
  spec = json.loads(args.spec)
  # The recognizer's constructor initialises the weights (init_weights); it is not called again.
  device = torch.device(args.device)
  model = build_model(mmcv.ConfigDict(as_tuples(spec['model']))).to(device)
  model.train()
  optimizer = build_optimizer(model, mmcv.ConfigDict(as_tuples(spec['optimizer'])))
  clip = (spec.get('optimizer_config') or {}).get('grad_clip')

  rng = np.random.default_rng(args.seed)
  shape = tuple(spec['input_shape'])  # (N, ...) as MMAction2's collated batch
  # What the loader hands over: normalised float32 images (Normalize runs on the host there),
  # heatmaps or keypoints, all float32.
  inputs = torch.from_numpy(rng.standard_normal(shape, dtype=np.float32)).to(device)
  label = torch.from_numpy(rng.integers(0, spec['num_classes'], size=shape[0])).to(device)
  batch = {spec.get('input_key', 'imgs'): inputs, 'label': label}
  sync = torch.cuda.synchronize if device.type == 'cuda' else (lambda: None)
  autocast = (lambda: torch.autocast(device.type, dtype=getattr(torch, args.autocast))
              if args.autocast else contextlib.nullcontext())

  scaler = torch.cuda.amp.GradScaler(enabled=bool(args.autocast))
  train_step = optimizer_step(model, optimizer, batch, clip, autocast, scaler)

  def infer():
    model.eval()
    with torch.no_grad(), autocast():
      model(inputs, return_loss=False)

  if args.serve:
    serve(dict(train=train_step, infer=infer), sync,
          dict(torch=torch.__version__, mmcv=mmcv.__version__, threads=torch.get_num_threads()))
    return
  train_ms = timed(train_step, args.warmup, args.repeat, sync)
  infer_ms = timed(infer, args.warmup, args.repeat, sync)
  print(json.dumps(dict(
      train_ms=statistics.median(train_ms), train_all_ms=train_ms,
      infer_ms=statistics.median(infer_ms), infer_all_ms=infer_ms,
      threads=torch.get_num_threads(), torch=torch.__version__, mmcv=mmcv.__version__)))


if __name__ == '__main__':
  main()
