"""Golden values of MMAction2 0.24.1's CBFocalLoss (BABEL's class-balanced focal loss) on
random scores, for tests/models/test_cbfocal_loss.py. Run in the reference venv:

    /work/mmaction2-ref-venv/bin/python tests/reference/make_golden_cbfocal.py
"""

from __future__ import annotations

import json

import numpy as np

for _name, _type in (('int', int), ('float', float), ('bool', bool), ('object', object)):
  if not hasattr(np, _name):
    setattr(np, _name, _type)  # MMAction2 0.24.1 predates numpy 1.24

import torch  # noqa: E402
from golden_io import golden_dir  # noqa: E402
from mmaction.models.losses import CBFocalLoss  # noqa: E402

CASES = [dict(samples_per_cls=[10, 3, 50, 7, 1], gamma=2.0, loss_weight=0.7),
         dict(samples_per_cls=[10, 3, 50, 7, 1], gamma=0.0, loss_weight=1.0),
         dict(samples_per_cls=[100, 5, 20, 1000, 9], beta=0.99, gamma=1.0, loss_weight=1.0)]


def main():
  golden = golden_dir(__doc__, 'cbfocal')
  rng = np.random.default_rng(0)
  scores = (rng.normal(size=(6, 5)) * 2).astype(np.float32)
  labels = rng.integers(0, 5, 6)
  out = [float(CBFocalLoss(**case)(torch.tensor(scores), torch.tensor(labels)))
         for case in CASES]
  (golden / 'cases.json').write_text(json.dumps(dict(
      scores=scores.tolist(), labels=labels.tolist(), cases=CASES, losses=out), indent=1))


if __name__ == '__main__':
  main()
