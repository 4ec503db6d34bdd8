"""ActivityNet annotations for the localizers (MMAction2's
tools/data/activitynet/process_annotations.py).

    python -m vjax.tools.process_activitynet_annotations [--data-root data/ActivityNet]

Reads BSN's ``video_info_new.csv`` (columns ``video, numFrame, seconds, fps, rfps, subset,
featureFrame``) and ``anet_anno_action.json`` (``{video: {duration_second, duration_frame,
annotations, feature_frame}}``), both from MMAction2's ``download_feature_annotations.sh``,
adds each video's ``fps`` and ``rfps`` and writes ``anet_anno_{train,val,test,full}.json``
(subsets ``training``, ``validation``, ``testing``; ``full``: every video of the csv), the
annotation files of ``ActivityNetDataset``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys

SUBSETS = {'training': 'train', 'validation': 'val', 'testing': 'test'}


def read_video_info(info_file: str) -> list[list[str]]:
  """The csv's rows after its header line."""
  with open(info_file, newline='') as f:
    rows = [row for row in csv.reader(f)]
  return [row for row in rows[1:] if row]


def process(info_file: str, ann_file: str) -> dict[str, dict]:
  """``{'train' | 'val' | 'test' | 'full': {video: info with fps and rfps}}``."""
  with open(ann_file) as f:
    database = json.load(f)
  out = {'train': {}, 'val': {}, 'test': {}, 'full': {}}
  for row in read_video_info(info_file):
    name = row[0]
    if name not in database:
      raise KeyError(f'{info_file}: video {name!r} is not in {ann_file}')
    info = database[name]
    info['fps'] = float(row[3])
    info['rfps'] = float(row[4])
    out['full'][name] = info
    if row[5] in SUBSETS:
      out[SUBSETS[row[5]]][name] = info
  return out


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description='Write anet_anno_{train,val,test,full}.json')
  parser.add_argument('--data-root', default='data/ActivityNet',
                      help='folder of the inputs and (by default) the outputs')
  parser.add_argument('--info-file', default=None,
                      help='video info csv (default: DATA_ROOT/video_info_new.csv)')
  parser.add_argument('--ann-file', default=None,
                      help='annotation json (default: DATA_ROOT/anet_anno_action.json)')
  parser.add_argument('--out-dir', default=None, help='output folder (default: DATA_ROOT)')
  return parser.parse_args(argv)


def main(argv=None) -> dict[str, dict]:
  args = parse_args(argv)
  info_file = args.info_file or os.path.join(args.data_root, 'video_info_new.csv')
  ann_file = args.ann_file or os.path.join(args.data_root, 'anet_anno_action.json')
  out_dir = args.out_dir or args.data_root
  subsets = process(info_file, ann_file)
  print(f"full subset video numbers: {len(read_video_info(info_file))}")
  os.makedirs(out_dir, exist_ok=True)
  for subset in ('train', 'val', 'test', 'full'):
    with open(os.path.join(out_dir, f'anet_anno_{subset}.json'), 'w') as f:
      json.dump(subsets[subset], f)
  return subsets


if __name__ == '__main__':
  main(sys.argv[1:])
