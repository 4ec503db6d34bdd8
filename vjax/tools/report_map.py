"""Detection mAP of an ActivityNet proposal file (MMAction2's tools/analysis/report_map.py).

    python -m vjax.tools.report_map --proposal work_dirs/bmn/results.json \
        [--gt data/ActivityNet/anet_anno_val.json] [--cls cuhk17_top1] \
        [--cls-results cuhk_anet17_pred.json] [--det-output det_result.json]

The proposals (a localizer's ``output_config`` JSON) carry no class. ``cuhk17_top1`` gives
every proposal of a video the top-1 class of the video-level classification results of
CUHK's ActivityNet 2017 entry, writes the labelled detections to ``--det-output`` and prints
ActivityNet's detection mAP at tIoU 0.5:0.05:0.95 and its average. MMAction2 downloads the
classification file into the working directory when it is missing; vjax reads
``--cls-results`` and says where to get it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from vjax.evaluation.localization import assign_top1_labels, detection_map
from vjax.localization.results import load_proposal_file

CUHK17_URL = 'https://download.openmmlab.com/mmaction/localization/cuhk_anet17_pred.json'


def cuhk17_top1(proposal: dict, classification_file: str) -> dict:
  """The proposal file's content with each proposal labelled by its video's top-1 class."""
  if not os.path.exists(classification_file):
    raise FileNotFoundError(f'{classification_file} not found: download CUHK\'s ActivityNet '
                            f'2017 classification results from {CUHK17_URL}')
  classification = load_proposal_file(classification_file)['results']
  return dict(proposal, results=assign_top1_labels(proposal['results'], classification))


CLS_FUNCS = {'cuhk17_top1': cuhk17_top1}


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description='Report detection mAP for ActivityNet '
                                   'proposal file')
  parser.add_argument('--proposal', type=str, required=True, help='proposal file')
  parser.add_argument('--gt', type=str, default='data/ActivityNet/anet_anno_val.json',
                      help='groundtruth file')
  parser.add_argument('--cls', type=str, default='cuhk17_top1', choices=sorted(CLS_FUNCS),
                      help='the way to assign label for each proposal')
  parser.add_argument('--cls-results', type=str, default='cuhk_anet17_pred.json',
                      help=f'video-level classification results ({CUHK17_URL})')
  parser.add_argument('--det-output', type=str, default='det_result.json',
                      help='the path to store detection results')
  return parser.parse_args(argv)


def main(argv=None) -> tuple[np.ndarray, float]:
  args = parse_args(argv)
  detections = CLS_FUNCS[args.cls](load_proposal_file(args.proposal), args.cls_results)
  parent = os.path.dirname(os.path.abspath(args.det_output))
  os.makedirs(parent, exist_ok=True)
  with open(args.det_output, 'w') as f:
    json.dump(detections, f)
  m_ap, average_m_ap = detection_map(args.gt, args.det_output, np.linspace(0.5, 0.95, 10))
  print('[RESULTS] Performance on ActivityNet detection task.\n'
        f'mAP: {m_ap}\nAverage-mAP: {average_m_ap}')
  return m_ap, average_m_ap


if __name__ == '__main__':
  main(sys.argv[1:])
