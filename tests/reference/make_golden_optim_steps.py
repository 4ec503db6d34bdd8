"""Golden optimizer trajectories from torch.optim and mmcv 1.7's runner.

Runs ONLY in the reference virtualenv (tests/reference/setup_venv.sh); never imports vjax.
    /work/mmaction2-ref-venv/bin/python tests/reference/make_golden_optim_steps.py
writes tests/golden/optim/steps.npz and steps.json:

* ``optimizers``: torch.optim.Adam / AdamW / SGD on three parameters (``a.weight``, ``a.bias``,
  ``b.weight``) in two param groups, as mmcv's default constructor builds them for
  ``paramwise_cfg=dict(bias_lr_mult=2.0, bias_decay_mult=0.5)`` (``a.bias``: lr x2, weight decay
  x0.5), fed a fixed sequence of gradients (``p.grad`` set by hand); the parameters after every
  step are recorded.
* ``runner``: mmcv's EpochBasedRunner training ``fc`` (Linear(6, 3), cross-entropy; no
  BatchNorm) for 2 epochs of 5 batches with ``GradientCumulativeOptimizerHook(cumulative_iters=4,
  grad_clip=...)``, a by-epoch step lr policy with a per-iteration linear warmup, and
  ``bias_lr_mult=2.0``: 10 iterations, so groups end at iterations 3 and 7, and the last two
  iterations form an incomplete group (loss divided by 2, stepped at the last iteration). Per
  iteration: the groups' lr when the iteration runs, the parameters after it, the loss, and
  the grad_norm mmcv logs at the iterations that step.
"""

import json
import sys
from pathlib import Path

import numpy as np

for _name, _alias in (('int', int), ('float', float), ('bool', bool), ('object', object)):
  if _name not in np.__dict__:
    setattr(np, _name, _alias)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from mmcv.runner import EpochBasedRunner, Hook, build_optimizer  # noqa: E402
from mmcv.utils import get_logger  # noqa: E402

HERE = Path(__file__).resolve().parent
STEPS = 6

OPTIMIZERS = {
    'adam': dict(type='Adam', lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1),
    'adam_amsgrad': dict(type='Adam', lr=0.01, betas=(0.8, 0.9), eps=1e-8, weight_decay=0.1,
                         amsgrad=True),
    'adamw_amsgrad': dict(type='AdamW', lr=0.01, betas=(0.8, 0.9), eps=1e-8, weight_decay=0.05,
                          amsgrad=True),
    'sgd_nesterov': dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True),
}
PARAMWISE = dict(bias_lr_mult=2.0, bias_decay_mult=0.5)


def optimizer_cases(rng, out, meta):
  shapes = {'a.weight': (3, 4), 'a.bias': (3,), 'b.weight': (5,)}
  init = {k: rng.normal(size=s).astype(np.float32) for k, s in shapes.items()}
  # Gradient magnitudes that rise and fall, so AMSGrad's running maximum matters.
  scale = np.array([3.0, 1.0, 0.5, 2.0, 0.2, 1.5], np.float32)
  grads = {k: np.stack([rng.normal(size=s).astype(np.float32) * scale[t] for t in range(STEPS)])
           for k, s in shapes.items()}
  for k in shapes:
    out[f'init/{k}'] = init[k]
    out[f'grads/{k}'] = grads[k]
  for name, cfg in OPTIMIZERS.items():
    cfg = dict(cfg)
    cls = getattr(torch.optim, cfg.pop('type'))
    params = {k: torch.nn.Parameter(torch.from_numpy(v.copy())) for k, v in init.items()}
    lr, wd = cfg.pop('lr'), cfg.pop('weight_decay')
    groups = [dict(params=[params['a.weight'], params['b.weight']], lr=lr, weight_decay=wd),
              dict(params=[params['a.bias']], lr=lr * PARAMWISE['bias_lr_mult'],
                   weight_decay=wd * PARAMWISE['bias_decay_mult'])]
    opt = cls(groups, **cfg)
    traj = {k: [] for k in shapes}
    for t in range(STEPS):
      for k, p in params.items():
        p.grad = torch.from_numpy(grads[k][t].copy())
      opt.step()
      for k, p in params.items():
        traj[k].append(p.detach().numpy().copy())
    for k in shapes:
      out[f'{name}/{k}'] = np.stack(traj[k])
  meta['optimizers'] = dict(steps=STEPS, paramwise_cfg=PARAMWISE, configs=OPTIMIZERS)


class Fc(torch.nn.Module):

  def __init__(self):
    super().__init__()
    self.fc = torch.nn.Linear(6, 3)

  def train_step(self, data_batch, optimizer):
    loss = F.cross_entropy(self.fc(data_batch['x']), data_batch['y'])
    return dict(loss=loss, log_vars=dict(loss=loss.item()), num_samples=len(data_batch['y']))


class Record(Hook):
  """Runs after the lr hook (before_train_iter) and after the optimizer hook (after_train_iter)."""

  def __init__(self):
    self.lr, self.params, self.loss, self.grad_norm = [], [], [], []
    self.seen = 0

  def before_train_iter(self, runner):
    self.lr.append([g['lr'] for g in runner.optimizer.param_groups])

  def after_train_iter(self, runner):
    fc = runner.model.fc
    self.params.append(dict(weight=fc.weight.detach().numpy().copy(),
                            bias=fc.bias.detach().numpy().copy()))
    self.loss.append(runner.outputs['log_vars']['loss'])
    norms = runner.log_buffer.val_history.get('grad_norm', [])  # appended when it steps
    self.grad_norm.append(float(norms[-1]) if len(norms) > self.seen else None)
    self.seen = len(norms)


RUNNER = dict(
    epochs=2, iters_per_epoch=5, batch_size=2,
    optimizer_config=dict(type='GradientCumulativeOptimizerHook', cumulative_iters=4,
                          grad_clip=dict(max_norm=0.3, norm_type=2)),
    lr_config=dict(policy='step', step=[1], gamma=0.1, warmup='linear', warmup_iters=3,
                   warmup_ratio=0.1),
    optimizers=dict(
        sgd=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.01,
                 paramwise_cfg=dict(bias_lr_mult=2.0)),
        adam=dict(type='Adam', lr=0.01, weight_decay=0.01, paramwise_cfg=dict(bias_lr_mult=2.0))),
)


def runner_cases(rng, out, meta, workdir):
  n = RUNNER['epochs'] * RUNNER['iters_per_epoch']
  b = RUNNER['batch_size']
  x = rng.normal(size=(RUNNER['iters_per_epoch'], b, 6)).astype(np.float32) * 3
  y = rng.integers(0, 3, size=(RUNNER['iters_per_epoch'], b)).astype(np.int64)
  torch.manual_seed(0)
  init = Fc()
  out['runner/x'], out['runner/y'] = x, y
  out['runner/init/weight'] = init.fc.weight.detach().numpy().copy()
  out['runner/init/bias'] = init.fc.bias.detach().numpy().copy()
  batches = [dict(x=torch.from_numpy(x[i]), y=torch.from_numpy(y[i]))
             for i in range(RUNNER['iters_per_epoch'])]
  meta['runner'] = dict(RUNNER, iters=n)
  for name, opt_cfg in RUNNER['optimizers'].items():
    model = Fc()
    model.load_state_dict(init.state_dict())
    optimizer = build_optimizer(model, opt_cfg)
    runner = EpochBasedRunner(model, optimizer=optimizer, work_dir=str(workdir),
                              logger=get_logger('golden'), max_epochs=RUNNER['epochs'])
    runner.register_training_hooks(lr_config=dict(RUNNER['lr_config']),
                                   optimizer_config=dict(RUNNER['optimizer_config']))
    record = Record()
    runner.register_hook(record, priority='LOW')
    runner.run([batches], [('train', 1)])
    assert len(record.lr) == n
    out[f'runner/{name}/lr'] = np.asarray(record.lr, np.float64)
    out[f'runner/{name}/weight'] = np.stack([p['weight'] for p in record.params])
    out[f'runner/{name}/bias'] = np.stack([p['bias'] for p in record.params])
    out[f'runner/{name}/loss'] = np.asarray(record.loss, np.float64)
    out[f'runner/{name}/grad_norm'] = np.asarray(
        [np.nan if g is None else g for g in record.grad_norm], np.float64)


def main():
  import tempfile  # pylint: disable=g-import-not-at-top
  golden = HERE.parent / 'golden' / 'optim'
  golden.mkdir(parents=True, exist_ok=True)
  rng = np.random.default_rng(20240611)
  out, meta = {}, {}
  optimizer_cases(rng, out, meta)
  with tempfile.TemporaryDirectory() as workdir:
    runner_cases(rng, out, meta, workdir)
  np.savez(golden / 'steps.npz', **out)
  (golden / 'steps.json').write_text(json.dumps(meta, indent=1) + '\n')
  print(sorted(out), file=sys.stderr)


if __name__ == '__main__':
  main()
