"""Fuse the test scores of several models and report accuracy (MMAction2's report_accuracy.py).

    python -m vjax.tools.report_accuracy --scores rgb.pkl flow.pkl --coefficients 1 1.5 \
        [--apply-softmax] --datalist data/ucf101/ucf101_val_split_1_videos.txt
    python -m vjax.tools.report_accuracy --scores j.pkl b.pkl jm.pkl bm.pkl \
        --coefficients 2 2 1 1 --datalist data/posec3d/ntu60_3d.pkl --split xsub_val

Score files are test-result dumps: a pickle (.pkl/.pickle) or JSON (.json) list, in dataset
order, of one score array per sample. Labels are the last field of each line of the annotation
list (``path label`` for videos, ``frame_dir total_frames label`` for raw frames), or the
records' ``label`` of a pose annotation ``.pkl`` (multi-stream skeleton fusion). With
``--apply-softmax`` each sample's scores are softmaxed over all its entries before weighting,
which makes models with differently scaled logits comparable. Prints mean class accuracy,
top-1 and top-5 accuracy of the weighted sum.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from vjax.data import safe_pickle
from vjax.evaluation.metrics import get_weighted_score, mean_class_accuracy, top_k_accuracy


def load_scores(path: str | Path) -> list[np.ndarray]:
  """One score array per sample from a .pkl/.pickle or .json result dump."""
  path = Path(path)
  suffix = path.suffix.lower()
  if suffix in ('.pkl', '.pickle'):
    data = safe_pickle.load(path)  # plain data only: a pickle cannot run code here
  elif suffix == '.json':
    data = json.loads(path.read_text())
  else:
    raise ValueError(f'{path}: score files must be .pkl, .pickle or .json')
  return [np.asarray(sample) for sample in data]


def read_labels(datalist: str | Path, split: str | None = None) -> list[int]:
  """The last whitespace-separated field of every non-empty line, as an int; for a pose
  annotation ``.pkl`` (skeleton models' test sets), its records' labels (of ``split``, for a
  file with a ``split`` dict, as the PoseC3D releases)."""
  if str(datalist).endswith('.pkl'):
    from vjax.data.sources.pose import PoseDataset  # pylint: disable=g-import-not-at-top
    return [int(info['label']) for info in PoseDataset(str(datalist), split=split).video_infos]
  with open(datalist) as f:
    return [int(line.split()[-1]) for line in f if line.strip()]


def softmax_all(scores: np.ndarray) -> np.ndarray:
  """Softmax over every entry of one sample's scores (scipy.special.softmax's default)."""
  e = np.exp(scores - np.max(scores))
  return e / e.sum()


def config_labels(config) -> list[int]:
  """The labels of a config's ``data.test`` samples, in dataset order."""
  from vjax.convert.mmaction2_config import load_any_config  # pylint: disable=g-import-not-at-top
  from vjax.data import sources  # pylint: disable=g-import-not-at-top
  source, _ = sources.build_split(load_any_config(config).data.test)
  return [int(np.asarray(source[i]['label']).reshape(-1)[0]) for i in range(len(source))]


def fuse(score_lists: Sequence[Sequence[np.ndarray]], coefficients: Sequence[float],
         apply_softmax: bool = False) -> list[np.ndarray]:
  if apply_softmax:
    score_lists = [[softmax_all(s) for s in scores] for scores in score_lists]
  return get_weighted_score(score_lists, list(coefficients))


def report(scores: Sequence[np.ndarray], labels: Sequence[int]) -> dict[str, float]:
  if len(scores) != len(labels):
    raise ValueError(f'{len(scores)} score rows but {len(labels)} labels in the data list')
  top1, top5 = top_k_accuracy(scores, labels, (1, 5))
  return {'mean_class_accuracy': mean_class_accuracy(scores, labels), 'top1_acc': top1,
          'top5_acc': top5}


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description='Fuse several score files and report accuracy')
  parser.add_argument('--scores', nargs='+', required=True, help='score files (.pkl or .json)')
  parser.add_argument('--coefficients', nargs='+', type=float, default=None,
                      help='weight of each score file (default: 1 for each)')
  labels = parser.add_mutually_exclusive_group(required=True)
  labels.add_argument('--datalist',
                      help='annotation list of the test set, or its pose annotation .pkl')
  labels.add_argument('--config',
                      help="a config (path.py[:arg]) whose data.test gives the labels (any "
                           "dataset, e.g. a TFDS one)")
  parser.add_argument('--split', default=None,
                      help="the .pkl's split (e.g. xsub_val) when it holds several")
  parser.add_argument('--apply-softmax', action='store_true',
                      help='softmax each sample before weighting')
  args = parser.parse_args(argv)
  if args.coefficients is None:
    args.coefficients = [1.0] * len(args.scores)
  if len(args.coefficients) != len(args.scores):
    parser.error(f'{len(args.scores)} score files but {len(args.coefficients)} coefficients')
  return args


def main(argv=None) -> dict[str, float]:
  args = parse_args(argv)
  fused = fuse([load_scores(path) for path in args.scores], args.coefficients,
               args.apply_softmax)
  labels = (config_labels(args.config) if args.config else
            read_labels(args.datalist, args.split))
  result = report(fused, labels)
  print(f"Mean Class Accuracy: {result['mean_class_accuracy']:.04f}")
  print(f"Top 1 Accuracy: {result['top1_acc']:.04f}")
  print(f"Top 5 Accuracy: {result['top5_acc']:.04f}")
  return result


if __name__ == '__main__':
  main(sys.argv[1:])
