"""Times MMAction2 0.24.1's own training input pipeline; run by input_pipeline.py.

Runs ONLY in the MMAction2 reference venv (tests/reference/setup_venv.sh); never imports vjax.
Builds MMAction2's VideoDataset and DataLoader the way its tools/train.py does
(``setup_multi_processes``, ``build_dataloader``), so the numbers are what an MMAction2
training job's loader delivers on this machine. Prints one JSON line as its last output.
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings

import numpy as np

# MMAction2 0.24.1 predates numpy 1.24, which removed these aliases.
for _name, _alias in (('int', int), ('float', float), ('bool', bool), ('object', object)):
  if _name not in np.__dict__:
    setattr(np, _name, _alias)

import mmcv  # noqa: E402
from _cpu import tree_cpu_seconds  # noqa: E402  # benchmarks/, this script's folder
import torch  # noqa: E402
from mmaction.datasets import build_dataloader, build_dataset  # noqa: E402
from mmaction.utils import setup_multi_processes  # noqa: E402

IMG_NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_bgr=False)


def train_pipeline(name: str, decoder: str) -> list[dict]:
  """The MMAction2 config's train_pipeline (SlowFast 4x16x1 or TSN 1x1x3, video variant)."""
  init, decode = {'decord': ('DecordInit', 'DecordDecode'),
                  'pyav': ('PyAVInit', 'PyAVDecode')}[decoder]
  if name == 'slowfast':
    sample = dict(type='SampleFrames', clip_len=32, frame_interval=2, num_clips=1)
    crop = [dict(type='RandomResizedCrop')]
    fmt = 'NCTHW'
  elif name == 'tsn':
    sample = dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=3)
    crop = [dict(type='MultiScaleCrop', input_size=224, scales=(1, 0.875, 0.75, 0.66),
                 random_crop=False, max_wh_scale_gap=1)]
    fmt = 'NCHW'
  else:
    raise ValueError(name)
  return [dict(type=init), sample, dict(type=decode), dict(type='Resize', scale=(-1, 256)),
          *crop, dict(type='Resize', scale=(224, 224), keep_ratio=False),
          dict(type='Flip', flip_ratio=0.5), dict(type='Normalize', **IMG_NORM),
          dict(type='FormatShape', input_format=fmt),
          dict(type='Collect', keys=['imgs', 'label'], meta_keys=[]),
          dict(type='ToTensor', keys=['imgs', 'label'])]


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--ann-file', required=True)
  parser.add_argument('--data-prefix', required=True)
  parser.add_argument('--pipeline', choices=('slowfast', 'tsn'), required=True)
  parser.add_argument('--decoder', choices=('decord', 'pyav'), required=True)
  parser.add_argument('--workers', type=int, required=True)
  parser.add_argument('--batch-size', type=int, default=8)
  parser.add_argument('--batches', type=int, default=20)
  parser.add_argument('--warmup', type=int, default=3)
  parser.add_argument('--seed', type=int, default=0)
  args = parser.parse_args()

  warnings.filterwarnings('ignore')
  # What tools/train.py does first: fork start method, cv2 threads 0, OMP/MKL threads 1.
  setup_multi_processes(mmcv.Config(dict(data=dict(workers_per_gpu=args.workers))))
  video = dict(type='VideoDataset', ann_file=args.ann_file, data_prefix=args.data_prefix,
               pipeline=train_pipeline(args.pipeline, args.decoder), start_index=0)
  num_videos = len(build_dataset(dict(video)))
  # One pass of the loader covers warm-up and timed batches, as vjax's endless iterator does:
  # no worker restarts at epoch ends inside the measurement.
  needed = (args.warmup + args.batches) * args.batch_size
  dataset = build_dataset(dict(type='RepeatDataset', dataset=video,
                               times=math.ceil(needed / num_videos) + 1))
  # pin_memory=False: the benchmark machine has no GPU, and vjax's loader pins nothing either.
  loader = build_dataloader(dataset, videos_per_gpu=args.batch_size,
                            workers_per_gpu=args.workers, num_gpus=1, dist=False, shuffle=True,
                            seed=args.seed, drop_last=True, pin_memory=False)
  it = iter(loader)
  start = time.perf_counter()
  for _ in range(args.warmup):
    batch = next(it)
  warm, cpu_warm = time.perf_counter(), tree_cpu_seconds()
  for _ in range(args.batches):
    batch = next(it)
  end, cpu_end = time.perf_counter(), tree_cpu_seconds()
  imgs = batch['imgs']
  clips = args.batches * args.batch_size
  print(json.dumps(dict(
      clips_per_s=clips / (end - warm), time_s=end - warm,
      cpu_ms_per_clip=None if cpu_warm is None else (cpu_end - cpu_warm) / clips * 1e3,
      warmup_s=warm - start, batch_shape=list(imgs.shape), dtype=str(imgs.dtype),
      torch=torch.__version__, mmcv=mmcv.__version__)))


if __name__ == '__main__':
  main()
