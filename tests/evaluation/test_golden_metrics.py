"""Parity with MMAction2 0.24.1 on randomized inputs (tests/golden/metrics, written by
tests/reference/make_golden_metrics.py in the reference venv; nothing here needs that venv).

Each golden output exists as 'raw' (MMAction2 as installed) and 'stable' (MMAction2 with numpy's
argsort made stable). vjax must equal 'stable' to 1e-6 everywhere; 'raw' differs only where
scores or IoUs tie and numpy's unstable sort picks another order (checked below).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ava_files import AVA60_IDS, write_label_map
from vjax.evaluation import (ActivityNetLocalization, average_precision_at_temporal_iou,
                             average_recall_at_avg_proposals, ava_eval, confusion_matrix,
                             evaluate_recognition, get_weighted_score, mean_average_precision,
                             mean_class_accuracy, mmit_mean_average_precision,
                             pairwise_temporal_iou, results2csv, softmax, top_k_accuracy,
                             top_k_classes)

GOLDEN = Path(__file__).resolve().parents[1] / 'golden' / 'metrics'
ARRAYS = dict(np.load(GOLDEN / 'arrays.npz'))
RECOGNITION = json.loads((GOLDEN / 'recognition.json').read_text())
LOCALIZATION = json.loads((GOLDEN / 'localization.json').read_text())
AVA = json.loads((GOLDEN / 'ava.json').read_text())
ATOL = 1e-6


def close(actual, expected):
  np.testing.assert_allclose(np.asarray(actual, dtype=float), np.asarray(expected, dtype=float),
                             rtol=0, atol=ATOL, equal_nan=True)


def test_golden_files_come_from_mmaction2_0_24_1():
  meta = json.loads((GOLDEN / 'meta.json').read_text())
  assert meta['mmaction2'] == '0.24.1'
  total = sum(f.stat().st_size for f in GOLDEN.rglob('*') if f.is_file())
  assert total < 400 * 1024


# ------------------------------------------------------------------ recognition
@pytest.mark.parametrize('case', sorted(RECOGNITION['recognition']))
def test_recognition_parity(case):
  golden = RECOGNITION['recognition'][case]['stable']
  scores, labels = ARRAYS[f'rec/{case}/scores'], ARRAYS[f'rec/{case}/labels']
  close(top_k_accuracy(list(scores), labels.tolist(), (1, 2, 3, 5, 10)),
        golden['top_k_accuracy'])
  close(mean_class_accuracy(list(scores), labels.tolist()), golden['mean_class_accuracy'])

  pred = np.argmax(scores, axis=1)
  for normalize, expected in zip((None, 'true', 'pred', 'all'),
                                 ARRAYS[f'rec/{case}/confusion_matrix']):
    got = confusion_matrix(pred, labels, normalize)
    assert got.shape == expected.shape
    close(got, expected)

  # MMAction2 names a class by its position among the labels present; vjax by its id.
  label_set = np.asarray(golden['label_set'])
  for mode in ('accurate', 'inaccurate'):
    got = top_k_classes(list(scores), labels.tolist(), 5, mode)
    expected = golden['top_k_classes'][mode]
    assert [c for c, _ in got] == [int(label_set[pos]) for pos, _ in expected]
    close([v for _, v in got], [v for _, v in expected])

  close(softmax(scores[:20].astype(np.float64)), ARRAYS[f'rec/{case}/softmax'])
  second = ARRAYS[f'rec/{case}/second']
  close(get_weighted_score([list(scores[:20]), list(second)], [1.0, 0.5]),
        ARRAYS[f'rec/{case}/weighted'])


@pytest.mark.parametrize('case', sorted(RECOGNITION['recognition']))
def test_evaluate_recognition_matches_base_dataset_evaluate(case):
  golden = RECOGNITION['recognition'][case]['stable']
  scores, labels = ARRAYS[f'rec/{case}/scores'], ARRAYS[f'rec/{case}/labels'].tolist()
  got = evaluate_recognition(scores, labels, metrics='top_k_accuracy')
  assert list(got) == list(golden['evaluate_default'])  # top1_acc, top5_acc
  close(list(got.values()), list(golden['evaluate_default'].values()))
  got = evaluate_recognition(list(scores), labels,
                             metric_options={'top_k_accuracy': {'topk': (1, 3)}})
  assert list(got) == list(golden['evaluate']) == ['top1_acc', 'top3_acc', 'mean_class_accuracy']
  close(list(got.values()), list(golden['evaluate'].values()))


@pytest.mark.parametrize('case', sorted(RECOGNITION['multilabel']))
def test_multilabel_parity(case):
  golden = RECOGNITION['multilabel'][case]['stable']
  scores = ARRAYS[f'ml/{case}/scores']
  if case == 'index_lists':
    flat, lengths = ARRAYS[f'ml/{case}/label_flat'], ARRAYS[f'ml/{case}/label_len']
    labels = [part.tolist() for part in np.split(flat, np.cumsum(lengths)[:-1])]
    got = evaluate_recognition(
        list(scores), labels, metrics=['mean_average_precision', 'mmit_mean_average_precision'])
    assert list(got) == list(golden)
    close(list(got.values()), list(golden.values()))
    return
  labels = ARRAYS[f'ml/{case}/labels']
  close(mean_average_precision(list(scores), list(labels)), golden['mean_average_precision'])
  close(mmit_mean_average_precision(list(scores), list(labels)),
        golden['mmit_mean_average_precision'])


# ------------------------------------------------------------------ localization
@pytest.mark.parametrize('case', sorted(LOCALIZATION['pairwise']))
def test_pairwise_temporal_iou_parity(case):
  candidates = ARRAYS[f'pair/{case}/candidates']
  targets = ARRAYS[f'pair/{case}/targets']
  iou, overlap = pairwise_temporal_iou(candidates, targets, calculate_overlap_self=True)
  expected_iou = ARRAYS[f'pair/{case}/iou']
  assert iou.dtype == expected_iou.dtype == np.float32
  assert iou.shape == expected_iou.shape == tuple(LOCALIZATION['pairwise'][case]['shape'])
  np.testing.assert_array_equal(np.isnan(iou), np.isnan(expected_iou))
  close(iou, expected_iou)
  close(overlap, ARRAYS[f'pair/{case}/overlap_self'])
  close(pairwise_temporal_iou(candidates, targets), expected_iou)


@pytest.mark.parametrize('case', sorted(LOCALIZATION['ar_an']))
def test_average_recall_at_avg_proposals_parity(case):
  spec = LOCALIZATION['ar_an'][case]
  gt = {vid: ARRAYS[f'arn/{case}/gt/{vid}'] for vid in spec['video_ids']}
  proposals = {vid: ARRAYS[f'arn/{case}/proposals/{vid}'] for vid in spec['video_ids']}
  recall, avg_recall, per_video, auc = average_recall_at_avg_proposals(
      gt, proposals, spec['total_num_proposals'], max_avg_proposals=spec['max_avg_proposals'],
      temporal_iou_thresholds=np.linspace(0.5, 0.95, 10))
  close(recall, ARRAYS[f'arn/{case}/stable/recall'])
  close(avg_recall, ARRAYS[f'arn/{case}/stable/average_recall'])
  close(per_video, ARRAYS[f'arn/{case}/stable/proposals_per_video'])
  close(auc, spec['stable']['auc'])


@pytest.mark.parametrize('case', sorted(LOCALIZATION['ap_tiou']))
def test_average_precision_at_temporal_iou_parity(case):
  spec = LOCALIZATION['ap_tiou'][case]
  got = average_precision_at_temporal_iou(spec['ground_truth'], spec['prediction'],
                                          np.linspace(0.5, 0.95, 10))
  assert got.dtype == np.float32
  close(got, spec['stable'])


def test_activitynet_localization_parity():
  golden = LOCALIZATION['activitynet']['stable']
  for name, thresholds in (('default', None), ('coarse', [.1, .3, .5])):
    kwargs = {} if thresholds is None else {'tiou_thresholds': np.array(thresholds)}
    evaluator = ActivityNetLocalization(str(GOLDEN / 'activitynet_gt.json'),
                                        str(GOLDEN / 'activitynet_pred.json'), **kwargs)
    m_ap, average_m_ap = evaluator.evaluate()
    close(evaluator.tiou_thresholds, golden[name]['tiou_thresholds'])
    close(m_ap, golden[name]['mAP'])
    close(average_m_ap, golden[name]['average_mAP'])
    close(evaluator.ap, golden[name]['ap'])
  # Classes are numbered in order of first appearance in the ground-truth file.
  first_seen = {}
  for info in json.loads((GOLDEN / 'activitynet_gt.json').read_text()).values():
    for anno in info['annotations']:
      first_seen.setdefault(anno['label'], len(first_seen))
  assert evaluator.activity_index == first_seen


# ------------------------------------------------------------------ AVA
@pytest.fixture
def label_files(tmp_path):
  return {
      '80': write_label_map(tmp_path / 'ava_action_list_v2.2.pbtxt', style='label'),
      '60': write_label_map(tmp_path / 'ava_action_list_v2.2_for_activitynet_2019.pbtxt',
                            AVA60_IDS, style='item'),
  }


@pytest.mark.parametrize('case', sorted(AVA['ava_eval']))
def test_ava_eval_parity(case, label_files):
  spec = AVA['ava_eval'][case]
  ava_dir = GOLDEN / 'ava'
  got = ava_eval(str(ava_dir / 'det.csv'), 'mAP', label_files[spec['label_style']],
                 str(ava_dir / 'gt.csv'), str(ava_dir / 'excluded.csv') if spec['exclude'] else None,
                 verbose=spec['verbose'], custom_classes=spec['custom_classes'])
  assert list(got) == ['mAP@0.5IOU']
  if case == '60_verbose_false':
    # MMAction2 skips excluded frames only when verbose; vjax always does, so its answer is
    # MMAction2's verbose one, and MMAction2's non-verbose one is its no-exclusion answer.
    close(got['mAP@0.5IOU'], AVA['ava_eval']['60']['stable']['mAP@0.5IOU'])
    assert spec['stable'] == AVA['ava_eval']['60_no_exclusions']['stable']
    assert spec['stable'] != AVA['ava_eval']['60']['stable']
  else:
    assert list(got) == list(spec['stable'])
    close(got['mAP@0.5IOU'], spec['stable']['mAP@0.5IOU'])


def test_results2csv_parity(tmp_path):
  spec = AVA['results2csv']
  results = []
  for i in range(len(spec['infos'])):
    results.append([ARRAYS[f'r2c/{i}/{c}'] for c in range(5)])

  class Dataset:
    video_infos = spec['infos']

  for name, custom in (('plain', None), ('custom', tuple(spec['custom']))):
    out = tmp_path / f'{name}.csv'
    results2csv(Dataset(), results, str(out), custom_classes=custom)
    assert out.read_text() == spec['csv'][name]
  # A plain list of infos works as the dataset too.
  results2csv(spec['infos'], results, str(tmp_path / 'list.csv'))
  assert (tmp_path / 'list.csv').read_text() == spec['csv']['plain']


# ------------------------------------------------------------------ the goldens themselves
def _tie_free_cases():
  groups = [RECOGNITION['recognition'], RECOGNITION['multilabel'], LOCALIZATION['ar_an'],
            LOCALIZATION['ap_tiou'], AVA['ava_eval']]
  for group in groups:
    for name, case in group.items():
      yield name, case


def test_raw_and_stable_mmaction2_agree_without_ties():
  checked = 0
  for name, case in _tie_free_cases():
    if not case['ties']:
      raw, stable = dict(case['raw']), dict(case['stable'])
      if case.get('ratio_ties'):  # equal per-class recalls: top_k_classes order is a tie too
        raw.pop('top_k_classes'), stable.pop('top_k_classes')
      assert json.dumps(raw) == json.dumps(stable), name
      checked += 1
  for case in LOCALIZATION['ar_an']:
    if not LOCALIZATION['ar_an'][case]['ties']:
      for key in ('recall', 'average_recall', 'proposals_per_video'):
        np.testing.assert_array_equal(ARRAYS[f'arn/{case}/raw/{key}'],
                                      ARRAYS[f'arn/{case}/stable/{key}'])
  assert checked >= 4
  # And ties do change MMAction2's raw answer in these inputs: the stable order is a choice.
  assert RECOGNITION['recognition']['ties_small']['raw'] != RECOGNITION['recognition'][
      'ties_small']['stable']
