"""Golden per-parameter lr/weight-decay multipliers from mmcv's optimizer constructors.

Runs ONLY in the reference virtualenv (tests/reference/setup_venv.sh); never imports vjax.
    /work/mmaction2-ref-venv/bin/python tests/reference/make_golden_optim.py
writes tests/golden/optim/param_groups.json: for each case, MMAction2 builds the model, wraps
it as its training code does (MMDataParallel; mmcv's constructor unwraps ``.module`` again, so
``custom_keys`` match names from the model's root) and runs ``build_optimizer``; every
parameter's group lr and weight decay, divided by the base values, is recorded under its
wrapped torch name.
"""

import json
import sys
from pathlib import Path

import numpy as np

for _name, _alias in (('int', int), ('float', float), ('bool', bool), ('object', object)):
  if _name not in np.__dict__:
    setattr(np, _name, _alias)

import torch  # noqa: E402
from mmaction.models import build_model  # noqa: E402
from mmcv.runner import build_optimizer  # noqa: E402
import mmaction.core  # noqa: E402,F401  (registers TSMOptimizerConstructor)

HERE = Path(__file__).resolve().parent
BASE_LR, BASE_WD = 0.01, 1e-4


class Wrapped(torch.nn.Module):
  """Stands for MMDataParallel: the optimizer is built on the wrapped model."""

  def __init__(self, module):
    super().__init__()
    self.module = module


def tsm_r18(head='TSMHead'):
  return dict(
      type='Recognizer2D',
      backbone=dict(type='ResNetTSM', pretrained=None, depth=18, num_segments=4, shift_div=8,
                    norm_eval=False),
      cls_head=dict(type=head, num_classes=5, in_channels=512, num_segments=4,
                    spatial_type='avg', consensus=dict(type='AvgConsensus', dim=1),
                    dropout_ratio=0.5, init_std=0.001),
      train_cfg=None, test_cfg=dict(average_clips='prob'))


def mobilenet_tsm():
  return dict(
      type='Recognizer2D',
      backbone=dict(type='MobileNetV2TSM', pretrained=None, num_segments=4, shift_div=8,
                    widen_factor=0.5, is_shift=True),
      cls_head=dict(type='TSMHead', num_classes=5, in_channels=1280, num_segments=4,
                    spatial_type='avg', consensus=dict(type='AvgConsensus', dim=1),
                    dropout_ratio=0.5, init_std=0.001),
      train_cfg=None, test_cfg=dict(average_clips='prob'))


CASES = [
    dict(name='tsm_fc_lr5', model=tsm_r18(),
         optimizer=dict(type='SGD', constructor='TSMOptimizerConstructor',
                        paramwise_cfg=dict(fc_lr5=True), lr=BASE_LR, momentum=0.9,
                        weight_decay=BASE_WD)),
    dict(name='tsm_no_fc_lr5', model=tsm_r18(),
         optimizer=dict(type='SGD', constructor='TSMOptimizerConstructor',
                        paramwise_cfg=dict(fc_lr5=False), lr=BASE_LR, momentum=0.9,
                        weight_decay=BASE_WD)),
    dict(name='default_paramwise', model=mobilenet_tsm(),
         optimizer=dict(type='SGD', lr=BASE_LR, momentum=0.9, weight_decay=BASE_WD,
                        paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.5,
                                           bias_lr_mult=2.0, dwconv_decay_mult=0.25,
                                           custom_keys={'.backbone.conv1': dict(lr_mult=0.1),
                                                        'backbone.conv1.': dict(lr_mult=0.2),
                                                        'fc_cls': dict(lr_mult=3.0,
                                                                       decay_mult=0.0)}))),
]


def groups(case):
  model = Wrapped(build_model(case['model']))
  optimizer = build_optimizer(model, case['optimizer'])
  names = {id(p): n for n, p in model.named_parameters()}
  out = {}
  for group in optimizer.param_groups:
    for p in group['params']:
      out[names[id(p)]] = [group['lr'] / BASE_LR, group['weight_decay'] / BASE_WD]
  assert len(out) == len(names), 'every parameter is in exactly one group'
  return out


def main():
  golden = HERE.parent / 'golden' / 'optim'
  golden.mkdir(parents=True, exist_ok=True)
  result = {c['name']: dict(model=c['model'], optimizer=c['optimizer'], groups=groups(c))
            for c in CASES}
  (golden / 'param_groups.json').write_text(json.dumps(result, indent=0) + '\n')
  print({k: len(v['groups']) for k, v in result.items()}, file=sys.stderr)


if __name__ == '__main__':
  main()
