"""Evaluate a saved test-result file (MMAction2's tools/analysis/eval_metric.py).

    python -m vjax.tools.eval_metric configs/tsn_k400.py results.pkl \
        --eval top_k_accuracy mean_class_accuracy [--eval-options topk=(1,3)] \
        [--cfg-options data.test.ann_file=... ] [--data-dir DIR]

CONFIG is a vjax config ``path[:arg]``; the labels come from its ``data.test`` dataset, in
dataset order, which is the order ``--mode=test --config.test.out=FILE`` dumps scores in.
RESULTS is that dump (.pkl/.pickle or .json). Metric options start from the config's
``evaluation.metric_options``; ``--eval-options`` adds ``topk=...`` (MMAction2's shorthand for
the top-k list) or a whole ``metric_options={...}``. ``--data-dir`` points a TFDS test set
(e.g. ``vjax_synthetic``) at the directory it was built in.
"""

from __future__ import annotations

import argparse
import ast
import copy
import sys
from typing import Any, Sequence

from vjax.evaluation.metrics import evaluate_recognition
from vjax.tools.report_accuracy import load_scores

_LOG_NAMES = {'mean_class_accuracy': 'mean_acc'}  # MMAction2's log line names


def parse_value(text: str, current: Any = None) -> Any:
  """A ``key=value`` value: a Python literal (``(1,3)``, ``5``, ``True``) else the raw text.

  A field that is a string in the config keeps the raw text, so ``preset=1`` stays ``'1'``.
  """
  if isinstance(current, str):
    return text
  try:
    return ast.literal_eval(text)
  except (ValueError, SyntaxError):
    return text


def split_pairs(pairs: Sequence[str] | None, flag: str) -> list[tuple[str, str]]:
  out = []
  for pair in pairs or ():
    key, sep, value = pair.partition('=')
    if not sep or not key:
      raise ValueError(f'{flag} expects key=value pairs, got {pair!r}')
    out.append((key, value))
  return out


def apply_cfg_options(config, pairs: Sequence[tuple[str, str]]):
  """Sets dotted ``key=value`` pairs on a ConfigDict; unknown keys name the closest ones."""
  from vjax.config import check_overrides  # pylint: disable=g-import-not-at-top
  check_overrides(config, [f'--config.{k}={v}' for k, v in pairs])
  for key, text in pairs:
    *parents, leaf = key.split('.')
    node = config
    for part in parents:
      node = node[part]
    node[leaf] = parse_value(text, node[leaf])
  return config


def eval_options(config, pairs: Sequence[tuple[str, str]]) -> dict:
  """metric_options from the config's evaluation section, updated by ``--eval-options``."""
  ev = config.get('evaluation') or {}
  options = ev.get('metric_options')
  options = copy.deepcopy(options.to_dict() if hasattr(options, 'to_dict') else options or {})
  for key, text in pairs:
    value = parse_value(text)
    if key == 'metric_options':
      if not isinstance(value, dict):
        raise ValueError(f'metric_options must be a dict literal, got {text!r}')
      options = value
    elif key == 'topk':  # MMAction2 folds stray kwargs into top_k_accuracy's options
      options = dict(options, top_k_accuracy=dict(options.get('top_k_accuracy', {}), topk=value))
    else:
      raise ValueError(f'unknown evaluation option {key!r}: use topk=... or metric_options={{...}}')
  return options


def build_test_dataset(config):
  """The config's ``data.test`` source, built the way the trainer builds it."""
  from vjax.data import sources  # pylint: disable=g-import-not-at-top
  return sources.build_split(config.data.test)[0]


def dataset_labels(dataset) -> list:
  """Ground truth in dataset order: ``video_infos`` labels (MMAction2's gt_labels) when the
  source has them, else each sample's ``label``."""
  infos = getattr(dataset, 'video_infos', None)
  if infos is not None:
    return [info['label'] for info in infos]
  return [dataset[i]['label'] for i in range(len(dataset))]


def format_log(results: dict[str, float], metrics: Sequence[str]) -> str:
  """MMAction2's evaluation log: ``Evaluating <metric> ...`` then ``name<TAB>value`` lines."""
  lines = []
  for metric in metrics:
    lines += ['', f'Evaluating {metric} ...']
    if metric == 'top_k_accuracy':
      keys = [k for k in results if k.startswith('top') and k.endswith('_acc')]
    else:
      keys = [metric]
    lines += [f'{_LOG_NAMES.get(k, k)}\t{results[k]:.4f}' for k in keys]
  return '\n'.join(lines)


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description='Evaluate metrics of saved test results')
  parser.add_argument('config', help='vjax config file, optionally path:arg')
  parser.add_argument('results', help='test results (.pkl, .pickle or .json)')
  parser.add_argument('--eval', nargs='+', required=True,
                      help='metrics: top_k_accuracy mean_class_accuracy mean_average_precision '
                      'mmit_mean_average_precision')
  parser.add_argument('--cfg-options', nargs='+', default=None,
                      help='config overrides key=value, e.g. data.test.data_dir=/tmp/tfds')
  parser.add_argument('--eval-options', nargs='+', default=None,
                      help='evaluation options key=value: topk=(1,3) or metric_options={...}')
  parser.add_argument('--data-dir', default=None,
                      help='shorthand for --cfg-options data.test.data_dir=DIR (TFDS datasets)')
  return parser.parse_args(argv)


def main(argv=None) -> dict[str, float]:
  from vjax.config import load_config  # pylint: disable=g-import-not-at-top
  args = parse_args(argv)
  config = load_config(args.config)
  pairs = split_pairs(args.cfg_options, '--cfg-options')
  if args.data_dir is not None:
    pairs.append(('data.test.data_dir', args.data_dir))
  apply_cfg_options(config, pairs)
  options = eval_options(config, split_pairs(args.eval_options, '--eval-options'))
  scores = load_scores(args.results)
  labels = dataset_labels(build_test_dataset(config))
  if len(scores) != len(labels):
    raise ValueError(f'{args.results} has {len(scores)} results but the test set has '
                     f'{len(labels)} videos; dump them with --mode=test on the same data.test')
  results = evaluate_recognition(scores, labels, metrics=args.eval, metric_options=options)
  print(format_log(results, args.eval))
  for key, value in results.items():
    print(f'{key}: {value:.4f}')
  return dict(results)


if __name__ == '__main__':
  try:
    main(sys.argv[1:])
  except (FileNotFoundError, KeyError, ValueError) as e:
    sys.exit(f'error: {e}')
