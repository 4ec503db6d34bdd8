"""Golden values for vjax.evaluation, computed by MMAction2 0.24.1 itself.

Runs ONLY in the reference virtualenv (tests/reference/setup_venv.sh); never imports vjax.
    /work/mmaction2-ref-venv/bin/python tests/reference/make_golden_metrics.py
writes tests/golden/metrics/: randomized inputs (fixed seed) and MMAction2's outputs.

Every output is recorded twice:
- 'raw':    MMAction2 as installed;
- 'stable': MMAction2 with numpy's default argsort made stable (kind='stable'), both the
            ``np.argsort`` calls and the ``ndarray.argsort`` method calls on its internal arrays.
numpy >= 1.25 on AVX-512 machines sorts with an unstable SIMD argsort even for 5 elements,
so where scores (or IoUs) tie, MMAction2's raw answer depends on the machine. vjax follows the
stable order; its tests compare against 'stable' everywhere, and the two columns agree wherever
nothing ties (the tests check that too).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import pickle
import runpy
import sys
import tempfile
from pathlib import Path

import numpy as np

# MMAction2 0.24.1 predates numpy 1.24, which removed these aliases.
for _name, _alias in (('int', int), ('float', float), ('bool', bool), ('object', object)):
  if _name not in np.__dict__:
    setattr(np, _name, _alias)

import mmaction  # noqa: E402
from mmaction.core.evaluation import accuracy as mm_acc  # noqa: E402
from mmaction.core.evaluation import ava_utils as mm_ava  # noqa: E402
from mmaction.core.evaluation import eval_detection as mm_det  # noqa: E402
from mmaction.core.evaluation.ava_evaluation import metrics as mm_ava_metrics  # noqa: E402
from mmaction.datasets.base import BaseDataset  # noqa: E402
import mmcv  # noqa: E402
from scipy.special import softmax as scipy_softmax  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / 'evaluation'))
import ava_files  # noqa: E402  (tests/evaluation/ava_files.py: official pbtxt layouts)
import golden_io  # noqa: E402
from golden_io import jsonable, returning_stable, stable_numpy, wrap  # noqa: E402

SEED = 20240501


# ------------------------------------------------------------------ stable-sort patching
STABLE_NP = stable_numpy(empty=returning_stable(np.empty))  # pairwise_temporal_iou's output
MODULES = (mm_acc, mm_ava_metrics)


def sorting(mode):
  return golden_io.sorting(MODULES, mode, STABLE_NP)


def both(fn):
  return golden_io.both(fn, MODULES, STABLE_NP)


def quantized(rng, n, c, levels):
  return (rng.integers(0, levels, size=(n, c)) / levels).astype(np.float32)


def recognition_cases(rng):
  cases = {}
  # Heavy ties, labels drawn from a subset (classes 8, 9 never true), all-equal rows.
  s = quantized(rng, 200, 10, 4)
  s[:10] = 0.25
  cases['ties_small'] = (s, rng.choice(8, size=200))
  # More than 16 classes (numpy's sort differs from stable there even without AVX-512).
  s = quantized(rng, 120, 40, 6)
  cases['ties_wide'] = (s, rng.choice([0, 3, 5, 7, 11, 13, 17, 19, 23, 31, 37], size=120))
  # Continuous scores: no ties anywhere.
  s = rng.standard_normal((100, 60)).astype(np.float32)
  cases['no_ties'] = (s, rng.integers(0, 60, size=100))
  # Argmax often on a class that is never a label (predicted-only classes in the mean).
  s = rng.random((80, 12)).astype(np.float32)
  s[::3, 11] += 2.0
  cases['predicted_only'] = (s, rng.integers(0, 6, size=80))
  return cases


class FakeDataset:
  """Just what BaseDataset.evaluate reads."""

  def __init__(self, labels, num_classes):
    self.video_infos = [dict(label=label) for label in labels]
    self.num_classes = num_classes
    self.label2array = BaseDataset.label2array

  def __len__(self):
    return len(self.video_infos)


def run_recognition(rng, arrays):
  out = {}
  for name, (scores, labels) in recognition_cases(rng).items():
    arrays[f'rec/{name}/scores'] = scores
    arrays[f'rec/{name}/labels'] = labels
    has_ties = any(len(np.unique(r)) < len(r) for r in scores)
    pred = np.argmax(scores, axis=1)
    second = rng.standard_normal((20, scores.shape[1])).astype(np.float32)
    arrays[f'rec/{name}/second'] = second
    results = list(scores)
    labels_list = [int(v) for v in labels]

    def compute(mode):
      ds = FakeDataset(labels_list, scores.shape[1])
      r = {
          'top_k_accuracy': mm_acc.top_k_accuracy(results, labels_list, (1, 2, 3, 5, 10)),
          'mean_class_accuracy': mm_acc.mean_class_accuracy(results, labels_list),
          'confusion_matrix': [
              mm_acc.confusion_matrix(pred.astype(np.int64), labels.astype(np.int64), n)
              for n in (None, 'true', 'pred', 'all')
          ],
          'label_set': np.unique(np.concatenate([pred, labels])),
          'top_k_classes': {
              m: [[int(i), float(v)] for i, v in mm_acc.top_k_classes(results, labels_list, 5, m)]
              for m in ('accurate', 'inaccurate')
          },
          'softmax': mm_acc.softmax(scores[:20].astype(np.float64)),
          'weighted': mm_acc.get_weighted_score([results[:20], list(second[:20])], [1.0, 0.5]),
          'evaluate_default': dict(BaseDataset.evaluate(ds, results)),
          'evaluate': dict(
              BaseDataset.evaluate(ds, results, metrics=['top_k_accuracy', 'mean_class_accuracy'],
                                   metric_options=dict(top_k_accuracy=dict(topk=(1, 3))))),
      }
      return r

    res = both(compute)
    # Sort-free outputs: identical in both modes, stored once in the npz.
    for key in ('softmax', 'weighted', 'confusion_matrix'):
      raw, stable = np.asarray(res['raw'].pop(key)), np.asarray(res['stable'].pop(key))
      assert np.array_equal(raw, stable)
      arrays[f'rec/{name}/{key}'] = stable
    ratios = [v for _, v in mm_acc.top_k_classes(results, labels_list, scores.shape[1] + 1)]
    out[name] = {'ties': bool(has_ties), 'ratio_ties': len(set(ratios)) < len(ratios), **res}
  return out


def multilabel_cases(rng):
  cases = {}
  # Ties; class 9 never positive (dropped by mAP); sample rows without positives (mmit NaN).
  s = quantized(rng, 60, 12, 5)
  y = (rng.random((60, 12)) < 0.25).astype(np.float32)
  y[:, 9] = 0
  cases['ties_with_empty'] = (s, y)
  # Every sample and every class has a positive; continuous scores.
  s = rng.random((50, 15)).astype(np.float32)
  y = (rng.random((50, 15)) < 0.3).astype(np.float32)
  y[np.arange(50), rng.integers(0, 15, size=50)] = 1
  y[rng.integers(0, 50, size=15), np.arange(15)] = 1
  cases['dense'] = (s, y)
  # Labels as class-index lists, through BaseDataset.evaluate's label2array.
  s = quantized(rng, 40, 8, 3)
  idx = [sorted(set(rng.integers(0, 8, size=rng.integers(1, 4)).tolist())) for _ in range(40)]
  cases['index_lists'] = (s, idx)
  return cases


def run_multilabel(rng, arrays):
  out = {}
  for name, (scores, labels) in multilabel_cases(rng).items():
    arrays[f'ml/{name}/scores'] = scores
    results = list(scores)
    if name == 'index_lists':
      flat = np.concatenate([np.asarray(v) for v in labels])
      arrays[f'ml/{name}/label_flat'] = flat
      arrays[f'ml/{name}/label_len'] = np.array([len(v) for v in labels])

      def compute(mode, labels=labels):
        ds = FakeDataset(labels, scores.shape[1])
        return dict(
            BaseDataset.evaluate(
                ds, results, metrics=['mean_average_precision', 'mmit_mean_average_precision']))
    else:
      arrays[f'ml/{name}/labels'] = labels

      def compute(mode, labels=labels):
        return {
            'mean_average_precision': mm_acc.mean_average_precision(results, list(labels)),
            'mmit_mean_average_precision': mm_acc.mmit_mean_average_precision(
                results, list(labels)),
        }

    with np.errstate(all='ignore'):
      out[name] = {'ties': name != 'dense', **both(compute)}
  return out


# ------------------------------------------------------------------ localization
def segments(rng, n, length=100.0, integer=True, zero_frac=0.15):
  start = rng.uniform(0, length * 0.8, size=n)
  dur = rng.uniform(0, length * 0.3, size=n)
  if integer:  # integer boundaries: IoUs hit exact fractions like 0.7, ties between gts
    start, dur = np.floor(start), np.floor(dur)
  dur[rng.random(n) < zero_frac] = 0.0
  return np.stack([start, start + dur], axis=1)


def run_pairwise(rng, arrays):
  out = {}
  cand = segments(rng, 30)
  targ = segments(rng, 25)
  cand[0], targ[0] = [10, 10], [10, 10]  # zero-length on zero-length: 0/0
  cases = {
      'f64': (cand, targ),
      'f32': (cand.astype(np.float32), targ.astype(np.float32)),
      'mixed': (segments(rng, 20, integer=False), segments(rng, 15, integer=False).astype(
          np.float32)),
      'single': (cand[3], targ),
      'int': (cand.astype(np.int64), targ.astype(np.int64)),
  }
  for name, (c, t) in cases.items():
    arrays[f'pair/{name}/candidates'] = c
    arrays[f'pair/{name}/targets'] = t
    with np.errstate(all='ignore'):
      iou, overlap = mm_acc.pairwise_temporal_iou(c, t, calculate_overlap_self=True)
      iou_only = mm_acc.pairwise_temporal_iou(c, t)
    assert np.array_equal(iou, iou_only, equal_nan=True)
    arrays[f'pair/{name}/iou'] = iou
    arrays[f'pair/{name}/overlap_self'] = overlap
    out[name] = {'shape': list(iou.shape), 'dtype': str(iou.dtype)}
  return out


def proposal_set(rng, num_videos, tie_levels):
  gt, props = {}, {}
  total = 0
  for v in range(num_videos):
    vid = f'video_{v:03d}'
    gt[vid] = segments(rng, int(rng.integers(1, 6)))
    k = int(rng.integers(0, 40)) if v else 0  # video_000 has no proposal at all
    p = segments(rng, k)
    # Many copies of the ground truth, slightly moved: IoUs around every threshold.
    if k:
      j = rng.integers(0, len(gt[vid]), size=k // 2)
      p[:k // 2] = gt[vid][j] + rng.integers(-3, 4, size=(k // 2, 2))
      p[:k // 2, 1] = np.maximum(p[:k // 2, 1], p[:k // 2, 0])
    score = (rng.integers(0, tie_levels, size=k) / tie_levels) if tie_levels else rng.random(k)
    props[vid] = np.concatenate([p, score[:, None]], axis=1) if k else np.zeros((0, 3))
    total += k
  return gt, props, total


def run_ar_an(rng, arrays):
  out = {}
  configs = {
      'ties_default': (12, 4, None),
      'ties_max5': (12, 4, 5),
      'ties_max100': (8, 3, 100),
      'no_ties_max10': (10, 0, 10),
  }
  for name, (num_videos, levels, max_avg) in configs.items():
    gt, props, total = proposal_set(rng, num_videos, levels)
    for vid in gt:
      arrays[f'arn/{name}/gt/{vid}'] = gt[vid]
      arrays[f'arn/{name}/proposals/{vid}'] = props[vid]

    def compute(mode, gt=gt, props=props, total=total, max_avg=max_avg):
      wrapped = {k: wrap(v, mode) for k, v in props.items()}
      recall, avg_recall, ppv, auc = mm_acc.average_recall_at_avg_proposals(
          gt, wrapped, total, max_avg_proposals=max_avg,
          temporal_iou_thresholds=np.linspace(0.5, 0.95, 10))
      arrays[f'arn/{name}/{mode}/recall'] = recall
      arrays[f'arn/{name}/{mode}/average_recall'] = avg_recall
      arrays[f'arn/{name}/{mode}/proposals_per_video'] = ppv
      return {'auc': auc}

    res = both(compute)
    out[name] = {'ties': bool(levels), 'total_num_proposals': total, 'max_avg_proposals': max_avg,
                 'video_ids': list(gt), **res}
  return out


def run_ap_tiou(rng):
  out = {}
  for name, levels in (('ties', 3), ('no_ties', 0)):
    gt, preds = {}, []
    for v in range(8):
      vid = f'vid{v}'
      gt[vid] = segments(rng, int(rng.integers(1, 5))).tolist()
      for _ in range(int(rng.integers(0, 10))):
        if rng.random() < 0.5:
          s, e = np.array(gt[vid][rng.integers(len(gt[vid]))]) + rng.integers(-4, 5, size=2)
          seg = [float(s), float(max(s, e))]
        else:
          seg = segments(rng, 1)[0].tolist()
        score = float(rng.integers(0, levels) / levels) if levels else float(rng.random())
        preds.append([vid, int(rng.integers(0, 3)), seg[0], seg[1], score])
    gt['vid0'].append(list(gt['vid0'][0]))  # duplicated ground truth: tied IoUs
    for _ in range(3):  # predictions on a video without ground truth
      preds.append(['ghost', 0, 1.0, 5.0, float(rng.random())])

    def compute(mode, gt=gt, preds=preds):
      pred_arr = np.array(preds)  # strings, as MMAction2 builds it from mixed rows
      return mm_acc.average_precision_at_temporal_iou(gt, pred_arr, np.linspace(0.5, 0.95, 10))

    out[name] = {'ties': True, 'ground_truth': gt, 'prediction': preds, **both(compute)}
  return out


def run_activitynet(rng, golden):
  labels = ['Jumping', 'Running', 'Cooking', 'Knitting', 'Rare']
  database, results = {}, {}
  for v in range(15):
    vid = f'{v:011d}'
    annos = []
    for seg in segments(rng, int(rng.integers(1, 4)), length=200.0):
      annos.append({'label': labels[int(rng.integers(0, 4))], 'segment': seg.tolist()})
    database['v_' + vid] = {'annotations': annos, 'duration': 200.0, 'subset': 'validation'}
    preds = []
    for _ in range(int(rng.integers(0, 8))):
      if annos and rng.random() < 0.6:
        a = annos[int(rng.integers(len(annos)))]
        s, e = np.array(a['segment']) + rng.integers(-8, 9, size=2)
        seg, label = [float(s), float(max(s, e))], a['label']
      else:
        seg, label = segments(rng, 1, length=200.0)[0].tolist(), labels[int(rng.integers(0, 4))]
      preds.append({'label': label, 'score': round(float(rng.random()), 1), 'segment': seg})
    results[vid] = preds
  database['v_' + 'x' * 11] = {'annotations': [{'label': labels[4], 'segment': [3.0, 9.0]}]}
  results['y' * 11] = [{'label': labels[0], 'score': 0.9, 'segment': [0.0, 50.0]}]
  gt_file, pred_file = golden / 'activitynet_gt.json', golden / 'activitynet_pred.json'
  gt_file.write_text(json.dumps(database, indent=0))  # MMAction2 reads the database dict
  pred_file.write_text(json.dumps({'version': 'VERSION 1.3', 'results': results}, indent=0))

  def compute(mode):
    out = {}
    for name, thr in (('default', np.linspace(0.5, 0.95, 10)), ('coarse', np.array([.1, .3, .5]))):
      ev = mm_det.ActivityNetLocalization(str(gt_file), str(pred_file), tiou_thresholds=thr)
      m_ap, avg = ev.evaluate()
      out[name] = {'mAP': m_ap, 'average_mAP': avg, 'ap': ev.ap, 'tiou_thresholds': thr}
    return out

  return {'ties': True, **both(compute)}


# ------------------------------------------------------------------ AVA
def random_box(rng):
  x1, y1 = rng.choice([0.0, rng.uniform(0, 0.7)], size=2)
  w, h = rng.uniform(0.05, 0.6, size=2)
  x2, y2 = min(x1 + w, 1.0), min(y1 + h, 1.0)  # clipped: many boxes end on the border
  return [x1, y1, x2, y2]


def jitter(rng, box, amount):
  b = np.clip(np.array(box) + rng.uniform(-amount, amount, size=4), 0, 1)
  return b.tolist()


def write_ava_inputs(rng, ava_dir):
  videos = ['-5KQ66BBWC4', '_145Aa_xkuE', 'zlVkeKC6Ha8', 'Ov0za6Xb1LM']
  gt_rows, det_rows, excluded = [], [], []
  ids = ava_files.AVA60_IDS + (2, 16, 21, 25)  # include some ids outside the 60-class list
  for vid in videos:
    for ts in range(902, 902 + 12):
      if rng.random() < 0.15:
        excluded.append((vid, ts))
      boxes = [random_box(rng) for _ in range(int(rng.integers(0, 4)))]
      for box in boxes:
        for action in rng.choice(ids, size=int(rng.integers(1, 4)), replace=False):
          gt_rows.append([vid, f'{ts:04d}', *[f'{v:.3f}' for v in box], int(action)])
          for _ in range(int(rng.integers(0, 3))):  # near and far detections of the same action
            d = jitter(rng, box, 0.02 if rng.random() < 0.6 else 0.2)
            det_rows.append([vid, f'{ts:04d}', *[f'{v:.3f}' for v in d], int(action),
                             f'{rng.integers(0, 20) / 20:.3f}'])
      for _ in range(int(rng.integers(0, 4))):  # unrelated detections, degenerate boxes too
        b = random_box(rng)
        if rng.random() < 0.2:
          b = [b[2], b[1], b[0], b[3]] if rng.random() < 0.5 else [b[0], b[1], b[0], b[3]]
        det_rows.append([vid, f'{ts:04d}', *[f'{v:.3f}' for v in b], int(rng.choice(ids)),
                         f'{rng.integers(0, 20) / 20:.3f}'])
  for ts in (950, 951):  # detections on frames without any ground truth
    det_rows.append([videos[0], f'{ts:04d}', '0.000', '0.000', '1.000', '1.000', 1, '0.700'])
  order = rng.permutation(len(det_rows))
  det_rows = [det_rows[i] for i in order]
  for name, rows in (('gt.csv', gt_rows), ('det.csv', det_rows), ('excluded.csv', excluded)):
    with open(ava_dir / name, 'w', newline='') as f:
      csv.writer(f).writerows(rows)


def run_ava(rng, golden):
  ava_dir = golden / 'ava'
  ava_dir.mkdir(exist_ok=True)
  write_ava_inputs(rng, ava_dir)
  out = {}
  with tempfile.TemporaryDirectory() as tmp:
    tmp = Path(tmp)
    label80 = ava_files.write_label_map(tmp / 'ava_action_list_v2.2.pbtxt', style='label')
    label60 = ava_files.write_label_map(
        tmp / 'ava_action_list_v2.2_for_activitynet_2019.pbtxt', ava_files.AVA60_IDS, 'item')
    custom = [0, 1, 4, 12, 17, 80]
    configs = {
        '80': (label80, True, None, True),
        '60': (label60, True, None, True),
        '60_no_exclusions': (label60, True, None, False),
        '80_custom': (label80, True, custom, True),
        '60_verbose_false': (label60, False, None, True),
    }
    for name, (label, verbose, cc, use_excl) in configs.items():

      def compute(mode, label=label, verbose=verbose, cc=cc, use_excl=use_excl):
        return mm_ava.ava_eval(str(ava_dir / 'det.csv'), 'mAP', label, str(ava_dir / 'gt.csv'),
                               str(ava_dir / 'excluded.csv') if use_excl else None,
                               verbose=verbose, custom_classes=cc)

      out[name] = {'ties': True, 'label_style': '80' if label == label80 else '60',
                   'verbose': verbose, 'custom_classes': cc, 'exclude': use_excl,
                   **both(compute)}
  return out


def run_results2csv(rng, golden):
  infos = [dict(video_id=f'vid{i}', timestamp=902 + i) for i in range(4)]
  results = []
  for _ in infos:
    per_class = []
    for _c in range(5):
      n = int(rng.integers(0, 3))
      boxes = rng.random((n, 4)).astype(np.float32)
      score = rng.random((n, 1)).astype(np.float32)
      per_class.append(np.concatenate([boxes, score], axis=1))
    results.append(per_class)
  ds = FakeDataset([0] * len(infos), 1)
  ds.video_infos = infos
  texts = {}
  with tempfile.TemporaryDirectory() as tmp:
    for name, cc in (('plain', None), ('custom', (0, 3, 7, 9, 20, 80))):
      path = os.path.join(tmp, f'{name}.csv')
      mm_ava.results2csv(ds, results, path, custom_classes=cc)
      texts[name] = open(path).read()
  arrays = {}
  for i, per_class in enumerate(results):
    for c, a in enumerate(per_class):
      arrays[f'r2c/{i}/{c}'] = a
  return {'infos': infos, 'custom': [0, 3, 7, 9, 20, 80], 'csv': texts}, arrays


# ------------------------------------------------------------------ score fusion tool
def run_fusion(rng, golden):
  """tools/analysis/report_accuracy.py on two result dumps (pickle and JSON)."""
  fusion = golden / 'fusion'
  fusion.mkdir(exist_ok=True)
  n, c = 60, 10
  labels = rng.integers(0, c, size=n)
  rgb = [(rng.standard_normal(c) * 2 + 3 * (np.arange(c) == y)).astype(np.float32) for y in labels]
  flow = [rng.standard_normal(c) * 4 + 2 * (np.arange(c) == y) for y in labels]
  with open(fusion / 'rgb.pkl', 'wb') as f:
    pickle.dump(rgb, f)
  (fusion / 'flow.json').write_text(json.dumps([v.tolist() for v in flow]))
  (fusion / 'videos.txt').write_text(''.join(f'some/dir/video_{i}.mp4 {y}\n'
                                             for i, y in enumerate(labels)))
  (fusion / 'rawframes.txt').write_text(''.join(f'rawframes/video_{i} {int(rng.integers(30, 300))}'
                                                f' {y}\n' for i, y in enumerate(labels)))
  tool = Path(mmaction.__file__).parent / '.mim' / 'tools' / 'analysis' / 'report_accuracy.py'
  configs = {
      'plain': ['--coefficients', '1', '1', '--datalist', 'videos.txt'],
      'weighted_softmax': ['--coefficients', '1', '1.5', '--apply-softmax', '--datalist',
                           'rawframes.txt'],
      'flow_only': ['--coefficients', '0', '1', '--datalist', 'videos.txt'],
  }
  out = {}
  for name, extra in configs.items():
    argv = ['report_accuracy.py', '--scores', str(fusion / 'rgb.pkl'), str(fusion / 'flow.json')]
    argv += [str(fusion / a) if a.endswith('.txt') else a for a in extra]
    saved, sys.argv = sys.argv, argv
    buf = io.StringIO()
    try:
      with contextlib.redirect_stdout(buf):
        runpy.run_path(str(tool), run_name='__main__')
    finally:
      sys.argv = saved
    # The same numbers at full precision, through the functions the tool calls.
    score_lists = [mmcv.load(p) for p in argv[2:4]]
    coeffs = [float(v) for v in extra[1:3]]
    if '--apply-softmax' in extra:
      score_lists = [[scipy_softmax(s) for s in scores] for scores in score_lists]
    fused = mm_acc.get_weighted_score(score_lists, coeffs)
    labels_txt = [int(x.strip().split()[-1]) for x in open(argv[-1]).readlines()]
    top1, top5 = mm_acc.top_k_accuracy(fused, labels_txt, (1, 5))
    out[name] = {'args': extra, 'stdout': buf.getvalue(), 'top1_acc': top1, 'top5_acc': top5,
                 'mean_class_accuracy': mm_acc.mean_class_accuracy(fused, labels_txt)}
  return out


# ------------------------------------------------------------------ main
def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--out', default=str(HERE.parent / 'golden' / 'metrics'))
  args = parser.parse_args()
  golden = Path(args.out)
  golden.mkdir(parents=True, exist_ok=True)
  rng = np.random.default_rng(SEED)

  arrays = {}
  recognition = {'recognition': run_recognition(rng, arrays),
                 'multilabel': run_multilabel(rng, arrays)}
  localization = {'pairwise': run_pairwise(rng, arrays), 'ar_an': run_ar_an(rng, arrays),
                  'ap_tiou': run_ap_tiou(rng), 'activitynet': run_activitynet(rng, golden)}
  ava = {'ava_eval': run_ava(rng, golden)}
  r2c, r2c_arrays = run_results2csv(rng, golden)
  arrays.update(r2c_arrays)
  ava['results2csv'] = r2c
  fusion = run_fusion(rng, golden)
  meta = {
      'seed': SEED,
      'mmaction2': mmaction.__version__,
      'numpy': np.__version__,
      'python': sys.version.split()[0],
      'generator': 'tests/reference/make_golden_metrics.py',
  }
  np.savez_compressed(golden / 'arrays.npz', **arrays)
  for name, payload in (('recognition', recognition), ('localization', localization),
                        ('ava', ava), ('fusion', fusion), ('meta', meta)):
    (golden / f'{name}.json').write_text(json.dumps(jsonable(payload)) + '\n')

  # How often MMAction2's raw answer depends on numpy's unstable sort (for the report).
  def differs(a, b):
    return json.dumps(jsonable(a)) != json.dumps(jsonable(b))  # NaN-safe

  report = []
  for name in localization['ar_an']:
    same = all(np.array_equal(arrays[f'arn/{name}/raw/{k}'], arrays[f'arn/{name}/stable/{k}'])
               for k in ('recall', 'average_recall', 'proposals_per_video'))
    report.append(f'{name} (AR@AN curves): raw {"==" if same else "!="} stable')
  for group in (recognition['recognition'], recognition['multilabel'], localization['ar_an'],
                localization['ap_tiou'], ava['ava_eval']):
    for name, case in group.items():
      report.append(f'{name}: raw {"!=" if differs(case["raw"], case["stable"]) else "=="} stable')
  report.append('activitynet: raw ' + ('!=' if differs(localization['activitynet']['raw'],
                                                      localization['activitynet']['stable'])
                                       else '==') + ' stable')
  print('\n'.join(report))
  total = sum(f.stat().st_size for f in golden.rglob('*') if f.is_file())
  print(f'wrote {golden} ({total / 1024:.0f} KiB)')


if __name__ == '__main__':
  main()
