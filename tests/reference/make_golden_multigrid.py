"""Golden multigrid schedules from MMAction2 0.24.1's LongShortCycleHook and
RelativeStepLrUpdaterHook (run in the reference venv; see README.md).

    /work/mmaction2-ref-venv/bin/python tests/reference/make_golden_multigrid.py

For each case: the long-cycle schedule ``[(lr step index, [batch factor, frames, size],
end epoch), ...]``, the trained epochs (``max_epochs * epoch_factor``), and the lr of every
epoch as RelativeStepLrUpdaterHook gives it (epoch-based progress, its 34-epoch warm-up).
"""

import json
import os
import types

import numpy as np

for _name, _alias in (("int", int), ("float", float), ("bool", bool), ("object", object)):
  if _name not in np.__dict__:
    setattr(np, _name, _alias)

import torch  # noqa: E402
from mmcv import Config  # noqa: E402
from mmcv.runner.hooks.lr_updater import StepLrUpdaterHook  # noqa: E402

from mmaction.utils.multigrid import LongShortCycleHook  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "golden", "multigrid", "schedules.json")

CASES = {
    # slowfast_multigrid_r50_8x8x1_358e_kinetics400_rgb: step [94, 154, 196], 239 epochs.
    "shipped": dict(step=[94, 154, 196], max_epochs=239, clip_len=32, crop=224, short=True,
                    epoch_factor=1.5, base_lr=0.1, gamma=0.1),
    "long_only": dict(step=[94, 154, 196], max_epochs=239, clip_len=32, crop=224, short=False,
                      epoch_factor=1.5, base_lr=0.1, gamma=0.1),
    # A small schedule (what the tests train): 8 frames at 32 px.
    "small": dict(step=[4, 6], max_epochs=8, clip_len=8, crop=32, short=True,
                  epoch_factor=1.0, base_lr=0.01, gamma=0.1),
}


def golden(case):
  cfg = Config(dict(
      data=dict(videos_per_gpu=2, train=dict(pipeline=[
          dict(type="SampleFrames", clip_len=case["clip_len"], frame_interval=2, num_clips=1),
          dict(type="Resize", scale=(-1, 256)),
          dict(type="Resize", scale=(case["crop"], case["crop"]), keep_ratio=False)])),
      multigrid=dict(long_cycle=True, short_cycle=case["short"],
                     epoch_factor=case["epoch_factor"],
                     long_cycle_factors=[[0.25, 0.7071], [0.5, 0.7071], [0.5, 1], [1, 1]],
                     short_cycle_factors=[0.5, 0.7071],
                     default_s=(case["crop"], case["crop"]))))
  lr_hook = StepLrUpdaterHook(step=case["step"], gamma=case["gamma"])
  lr_hook.base_lr = [case["base_lr"]]
  optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=case["base_lr"])
  runner = types.SimpleNamespace(hooks=[lr_hook], max_epochs=case["max_epochs"],
                                 _max_epochs=case["max_epochs"], epoch=0, iter=0,
                                 optimizer=optimizer)
  hook = LongShortCycleHook(cfg)
  hook.before_run(runner)  # builds the schedule, swaps in RelativeStepLrUpdaterHook
  rel = runner.hooks[0]
  lrs = []
  for epoch in range(runner._max_epochs):
    runner.epoch = epoch
    lrs.append(rel.get_lr(runner, case["base_lr"]))
  phases = [hook._get_schedule(e) for e in range(runner._max_epochs)]
  return dict(case, schedule=[[s[0], list(s[1]), s[2]] for s in hook.schedule],
              epochs=runner._max_epochs, lr_steps=rel.steps, lr_values=rel.lrs, lrs=lrs,
              phases=[list(p) for p in phases])


def main():
  out = {name: golden(case) for name, case in CASES.items()}
  os.makedirs(os.path.dirname(OUT), exist_ok=True)
  with open(OUT, "w") as f:
    json.dump(out, f, indent=1)
  for name, g in out.items():
    print(name, g["epochs"], g["schedule"])


if __name__ == "__main__":
  main()
