"""Times MMAction2 0.24.1's training step and inference forward; run by train_step.py.

Runs ONLY in the MMAction2 reference venv (tests/reference/setup_venv.sh); never imports vjax.
The step is what an MMAction2 training iteration does once the batch is on the device:
``model.train_step`` (forward_train, the head's loss and ``_parse_losses``), then what mmcv's
``OptimizerHook`` does (``zero_grad``, ``backward``, ``clip_grad_norm_`` over the parameters
that have gradients, ``optimizer.step``). The optimizer comes from mmcv's ``build_optimizer``,
so TSM's ``TSMOptimizerConstructor`` builds its parameter groups as in training. Inference is
``model(imgs, return_loss=False)`` under ``torch.no_grad()`` (forward_test: scores averaged
as ``test_cfg`` says). Prints one JSON line as its last output.
"""

from __future__ import annotations

import argparse
import json
import statistics
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


def timed(fn, warmup: int, repeat: int) -> list[float]:
  """Milliseconds of each of ``repeat`` calls after ``warmup`` untimed ones."""
  for _ in range(warmup):
    fn()
  out = []
  for _ in range(repeat):
    start = time.perf_counter()
    fn()
    out.append((time.perf_counter() - start) * 1e3)
  return out


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--spec', required=True,
                      help='JSON: model, optimizer, optimizer_config, input_shape (NC... layout)')
  parser.add_argument('--threads', type=int, required=True)
  parser.add_argument('--warmup', type=int, default=1)
  parser.add_argument('--repeat', type=int, default=5)
  parser.add_argument('--seed', type=int, default=0)
  args = parser.parse_args()

  warnings.filterwarnings('ignore')
  torch.set_num_threads(args.threads)
  torch.manual_seed(args.seed)
  spec = json.loads(args.spec)
  # The recognizer's constructor initialises the weights (init_weights); it is not called again.
  model = build_model(mmcv.ConfigDict(as_tuples(spec['model'])))
  model.train()
  optimizer = build_optimizer(model, mmcv.ConfigDict(as_tuples(spec['optimizer'])))
  clip = (spec.get('optimizer_config') or {}).get('grad_clip')

  rng = np.random.default_rng(args.seed)
  shape = tuple(spec['input_shape'])  # (N, ...) as MMAction2's collated batch
  # What the loader hands over: normalised float32 images (Normalize runs on the host there).
  imgs = torch.from_numpy(rng.standard_normal(shape, dtype=np.float32))
  label = torch.from_numpy(rng.integers(0, spec['num_classes'], size=shape[0]))
  batch = dict(imgs=imgs, label=label)

  def train_step():
    outputs = model.train_step(batch, optimizer)
    optimizer.zero_grad()
    outputs['loss'].backward()
    if clip:
      params = [p for p in model.parameters() if p.requires_grad and p.grad is not None]
      clip_grad_norm_(params, max_norm=clip['max_norm'], norm_type=clip.get('norm_type', 2))
    optimizer.step()

  train_ms = timed(train_step, args.warmup, args.repeat)
  model.eval()

  def infer():
    with torch.no_grad():
      model(imgs, return_loss=False)

  infer_ms = timed(infer, args.warmup, args.repeat)
  print(json.dumps(dict(
      train_ms=statistics.median(train_ms), train_all_ms=train_ms,
      infer_ms=statistics.median(infer_ms), infer_all_ms=infer_ms,
      threads=torch.get_num_threads(), torch=torch.__version__, mmcv=mmcv.__version__)))


if __name__ == '__main__':
  main()
