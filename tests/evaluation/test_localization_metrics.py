"""vjax.evaluation.localization: hand-worked cases (answers derived on paper) and, for the
ActivityNetDataset.evaluate layer and the localization evaluators, parity with MMAction2 0.24.1
(tests/golden/localization, tests/reference/make_golden_localization.py)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from vjax.evaluation import (ActivityNetLocalization, assign_top1_labels,
                             average_precision_at_temporal_iou, average_recall_at_avg_proposals,
                             detection_map, evaluate_proposals, interpolated_precision_recall,
                             pairwise_temporal_iou)


def test_pairwise_temporal_iou_by_hand():
  candidates = np.array([[0., 10.], [5., 15.]])
  targets = np.array([[0., 10.], [10., 20.], [3., 3.]])
  iou, overlap = pairwise_temporal_iou(candidates, targets, calculate_overlap_self=True)
  # [0,10]&[5,15]: intersection 5, union 15. Touching segments and a zero-length target: 0.
  np.testing.assert_allclose(iou, [[1, 1 / 3], [0, 1 / 3], [0, 0]], rtol=1e-6)
  np.testing.assert_allclose(overlap, [[1, .5], [0, .5], [0, 0]], rtol=1e-6)
  assert iou.dtype == np.float32 and iou.shape == (3, 2)
  # One candidate gives one IoU per target; zero-length on zero-length is 0/0.
  single = pairwise_temporal_iou(np.array([3., 3.]), targets)
  assert single.shape == (3,)
  assert single[0] == 0 and single[1] == 0 and np.isnan(single[2])
  # Columns after start and end (a proposal score) do not enter the IoU.
  np.testing.assert_array_equal(pairwise_temporal_iou(np.array([5., 15., .9]), targets),
                                iou[:, 1])
  np.testing.assert_array_equal(
      pairwise_temporal_iou(np.c_[candidates, [.9, .1]], targets), iou)
  with pytest.raises(ValueError, match='Dimension'):
    pairwise_temporal_iou(candidates, np.array([0., 1.]))


def test_average_recall_by_hand():
  gt = {'v': np.array([[0., 10.], [20., 30.]])}
  proposals = {'v': np.array([[0, 10, .9], [21, 30, .8], [50, 60, .7], [0, 9, .6]])}
  recall, avg, per_video, auc = average_recall_at_avg_proposals(
      gt, proposals, 4, max_avg_proposals=4, temporal_iou_thresholds=np.array([.5, .95]))
  # AN point j (1..100) keeps floor(4 j / 100) proposals: 0 below j=25, then 1, 2 (j>=50), ...
  # IoU 0.5: proposal 1 finds gt 0, proposal 2 ([21,30], IoU .9) gt 1.
  # IoU 0.95: only gt 0 is ever found.
  expected_05 = np.r_[np.zeros(24), np.full(25, .5), np.ones(51)]
  expected_95 = np.r_[np.zeros(24), np.full(76, .5)]
  np.testing.assert_allclose(recall, [expected_05, expected_95])
  np.testing.assert_allclose(avg, (expected_05 + expected_95) / 2)
  np.testing.assert_allclose(per_video, np.arange(1, 101) * .04)
  # Trapezoids over x step .04: .01 + 24 * .02 + .025 + 50 * .03 = 2.015, over width 4.
  assert auc == pytest.approx(100 * 2.015 / 4)


def test_average_recall_tied_scores_keep_the_later_proposal():
  gt = {'v': np.array([[20., 30.]])}
  proposals = {'v': np.array([[0, 10, .5], [20, 30, .5]])}
  # One proposal kept (ratio 1/2); equal scores rank the higher index first -> [20, 30] kept.
  recall, *_ = average_recall_at_avg_proposals(gt, proposals, 2, max_avg_proposals=1,
                                               temporal_iou_thresholds=np.array([.5]))
  assert recall[0, -1] == 1.0


def test_average_recall_compares_float32_iou_with_float32_threshold():
  # IoU 7/10 is stored as float32(0.7) < 0.7; numpy 1.x (MMAction2's) compared it with
  # float32(0.7), so it is a hit. numpy 2 promotion would call it a miss.
  gt = {'v': np.array([[0., 10.]])}
  proposals = {'v': np.array([[0., 7., 1.]])}
  recall, *_ = average_recall_at_avg_proposals(gt, proposals, 1,
                                               temporal_iou_thresholds=np.array([0.7]))
  assert recall[0, -1] == 1.0


def test_average_recall_video_without_proposals_counts_its_ground_truth():
  gt = {'a': np.array([[0., 10.]]), 'b': np.array([[0., 10.], [20., 30.]])}
  proposals = {'a': np.array([[0., 10., 1.]]), 'b': np.zeros((0, 3))}
  recall, *_ = average_recall_at_avg_proposals(gt, proposals, 1,
                                               temporal_iou_thresholds=np.array([.5]))
  assert recall[0, -1] == pytest.approx(1 / 3)


def test_interpolated_precision_recall_by_hand():
  # Envelope of precision [1, .5, 2/3] at recall [.5, .5, 1]: 1 up to recall .5, then 2/3.
  assert interpolated_precision_recall(np.array([1, .5, 2 / 3]),
                                       np.array([.5, .5, 1.])) == pytest.approx(.5 + 1 / 3)


def test_average_precision_at_temporal_iou_by_hand():
  gt = {'v1': [[0., 10.], [20., 30.]]}
  prediction = [
      ['v1', 0, 0., 10., .9],  # IoU 1 with gt 0: hit
      ['v1', 0, 0., 10., .8],  # gt 0 taken, gt 1 IoU 0: miss
      ['v1', 0, 21., 30., .7],  # IoU .9 with gt 1: hit at .5, miss at .95
      ['v2', 0, 0., 1., .95],  # no ground truth in v2: miss
  ]
  # Order .95 .9 .8 .7. At .5: precision 0 .5 1/3 .5, recall 0 .5 .5 1 -> AP .5 * .5 + .5 * .5.
  # At .95: hits only at .9 -> recall .5 with envelope .5 -> AP .25.
  ap = average_precision_at_temporal_iou(gt, prediction, np.array([.5, .95]))
  assert ap.dtype == np.float32
  np.testing.assert_allclose(ap, [.5, .25], rtol=1e-6)
  np.testing.assert_array_equal(average_precision_at_temporal_iou(gt, [], np.array([.5])), [0.])


def test_activitynet_localization_by_hand(tmp_path):
  gt = {
      'v_aaa': {'annotations': [{'label': 'A', 'segment': [0, 10]},
                                {'label': 'B', 'segment': [20, 30]}]},
      'v_bbb': {'annotations': [{'label': 'A', 'segment': [5, 15]}]},
  }
  pred = {'results': {
      'aaa': [{'label': 'A', 'score': .9, 'segment': [0, 10]},
              {'label': 'B', 'score': .5, 'segment': [0, 10]}],
      'bbb': [{'label': 'A', 'score': .8, 'segment': [5, 14]}],
      'ccc': [{'label': 'A', 'score': .95, 'segment': [0, 10]}],
  }}
  (tmp_path / 'gt.json').write_text(json.dumps(gt))
  (tmp_path / 'pred.json').write_text(json.dumps(pred))
  ev = ActivityNetLocalization(str(tmp_path / 'gt.json'), str(tmp_path / 'pred.json'),
                               tiou_thresholds=np.array([.5, .95]))
  assert ev.activity_index == {'A': 0, 'B': 1}
  assert {g['video-id'] for g in ev.ground_truth} == {'aaa', 'bbb'}  # 'v_' prefix dropped
  m_ap, average = ev.evaluate()
  # Class A, order ccc(.95, no gt) aaa(.9, IoU 1) bbb(.8, IoU .9):
  #   at .5 precision 0 .5 2/3, recall 0 .5 1 -> AP 2/3; at .95 only aaa hits -> AP .25.
  # Class B: its one prediction misses -> AP 0.
  np.testing.assert_allclose(ev.ap, [[2 / 3, 0], [.25, 0]])
  np.testing.assert_allclose(m_ap, [1 / 3, .125])
  assert average == pytest.approx((1 / 3 + .125) / 2)

  pred['results']['aaa'].append({'label': 'C', 'score': .1, 'segment': [0, 1]})
  (tmp_path / 'pred.json').write_text(json.dumps(pred))
  with pytest.raises(KeyError, match="'C'"):
    ActivityNetLocalization(str(tmp_path / 'gt.json'), str(tmp_path / 'pred.json'))
  with pytest.raises(IOError):
    ActivityNetLocalization(None, str(tmp_path / 'pred.json'))


# ------------------------------------------------------------------ ActivityNetDataset.evaluate
GOLDEN = Path(__file__).resolve().parents[1] / 'golden' / 'localization'
CASES = json.loads((GOLDEN / 'cases.json').read_text())
ARRAYS = dict(np.load(GOLDEN / 'arrays.npz'))


def golden_results():
  """The proposal lists MMAction2 evaluated and dumped (best first, 'score' then 'segment')."""
  results = []
  for name in CASES['dataset']['videos']:
    rows = ARRAYS[f'evaluate/proposals/{name}']
    results.append({'video_name': name, 'proposal_list': [
        {'score': float(r[2]), 'segment': [float(r[0]), float(r[1])]} for r in rows]})
  return results


def golden_video_infos():
  database = json.loads((GOLDEN / 'anet_anno.json').read_text())
  return [dict(info, video_name=name) for name, info in database.items()]


OPTIONS = {
    'default': None,
    'custom': {'AR@AN': dict(max_avg_proposals=10, temporal_iou_thresholds=[0.3, 0.5, 0.7])},
    'partial_options': {'AR@AN': dict(max_avg_proposals=50)},
}


@pytest.mark.parametrize('case', sorted(OPTIONS))
def test_evaluate_proposals_parity(case):
  expected = CASES['dataset']['evaluate'][case]
  got = evaluate_proposals(golden_results(), golden_video_infos(), 'AR@AN', OPTIONS[case])
  assert list(got) == list(expected) == ['auc', 'AR@1', 'AR@5', 'AR@10', 'AR@100']
  for key, value in expected.items():
    assert got[key] == pytest.approx(value, abs=1e-6)


def test_evaluate_proposals_by_hand():
  infos = [{'video_name': 'v_a', 'annotations': [{'segment': [0, 10], 'label': 'A'},
                                                   {'segment': [20, 30], 'label': 'A'}]}]
  results = [{'video_name': 'v_a', 'proposal_list': [
      {'score': .9, 'segment': [0., 10.]}, {'score': .5, 'segment': [20., 29.]}]}]
  got = evaluate_proposals(results, infos, metric_options={
      'AR@AN': {'max_avg_proposals': 2, 'temporal_iou_thresholds': [.5, .95]}})
  # AN point j of 100 keeps floor(2 j / 100) proposals: none below j = 50, then the first
  # ([0, 10]: gt 0 at both thresholds), both at j = 100 ([20, 29], IoU .9: gt 1 at .5 only).
  assert got['AR@1'] == got['AR@5'] == got['AR@10'] == 0
  assert got['AR@100'] == pytest.approx((1 + .5) / 2)
  # Trapezoids over x step .02: one rise to .5 (at j = 50) and one to .75 (at j = 100).
  expected_auc = 100 * (.02 * .25 + 49 * .02 * .5 + .02 * .625) / 2
  assert got['auc'] == pytest.approx(expected_auc)
  with pytest.raises(KeyError, match='not supported'):
    evaluate_proposals(results, infos, 'mAP')
  with pytest.raises(ValueError, match='length'):
    evaluate_proposals(results * 2, infos)
  with pytest.raises(TypeError):
    evaluate_proposals(results[0], infos)


class _Source:

  def __init__(self, video_infos):
    self.video_infos = video_infos


def test_proposal_evaluators_match_mmaction2(tmp_path):
  from vjax.evaluation import evaluators
  results, infos = golden_results(), golden_video_infos()
  source = _Source(infos)
  # 'AR@AN' by name, with options from evaluation.metric_options; lists or (k, 3) rows.
  ev = evaluators.build('AR@AN', OPTIONS['custom'])
  as_lists = {'proposal_list': [r['proposal_list'] for r in results]}
  as_rows = {'proposal_list': [ARRAYS[f'evaluate/proposals/{n}'] for n in
                               CASES['dataset']['videos']]}
  for predictions in (as_lists, as_rows):
    got = ev(predictions, {}, source)
    for key, value in CASES['dataset']['evaluate']['custom'].items():
      assert got[key] == pytest.approx(value, abs=1e-6)
  # A task that predicts raw outputs post-processes them per video.
  calls = []

  def postprocess(predictions, index, info):
    calls.append(info['video_name'])
    return predictions['raw'][index]

  ev = evaluators.build_localization('AR@AN', None, postprocess=postprocess)
  got = ev({'raw': as_rows['proposal_list']}, {}, source)
  assert calls == CASES['dataset']['videos']
  assert got['auc'] == pytest.approx(CASES['dataset']['evaluate']['default']['auc'], abs=1e-6)
  # Localization 'mAP': proposals labelled by the video-level top-1 class, as report_map.py.
  ev = evaluators.build_localization('mAP', {'mAP': {
      'classification': str(GOLDEN / 'cls_results.json')}})
  got = ev(as_lists, {}, source)
  expected = CASES['report_map']
  np.testing.assert_allclose([got[f'mAP@{t:.2f}'] for t in np.linspace(.5, .95, 10)],
                             expected['mAP'], atol=1e-6)
  assert got['average_mAP'] == pytest.approx(expected['average_mAP'], abs=1e-6)
  with pytest.raises(KeyError, match='classification'):
    evaluators.build_localization('mAP')(as_lists, {}, source)
  with pytest.raises(TypeError, match='video_infos'):
    evaluators.build('AR@AN')(as_lists, {}, object())
  # output_config: the proposal JSON, byte for byte as MMAction2 dumps it.
  writer = evaluators.ProposalResultsWriter(path=str(tmp_path / 'out' / 'results.json'))
  assert writer(as_lists, {}, source) == {}
  assert hashlib.sha256((tmp_path / 'out' / 'results.json').read_bytes()).hexdigest() == \
      CASES['dataset']['dump_sha256']


def test_assign_top1_labels_keeps_the_later_of_tied_classes():
  proposals = {'a': [{'score': .5, 'segment': [0, 1]},
                     {'label': 'own', 'score': .4, 'segment': [1, 2]}]}
  classes = {'a': [{'label': 'x', 'score': .9}, {'label': 'y', 'score': .9},
                   {'label': 'z', 'score': .1}]}
  got = assign_top1_labels(proposals, classes)
  assert got == {'a': [{'label': 'y', 'score': .5, 'segment': [0, 1]},
                       {'label': 'own', 'score': .4, 'segment': [1, 2]}]}
  assert list(got['a'][0]) == ['label', 'score', 'segment']
  with pytest.raises(KeyError, match="'b'"):
    assign_top1_labels({'b': []}, classes)


def test_detection_map_takes_loaded_dicts(tmp_path):
  gt = {'v_aaa': {'annotations': [{'label': 'A', 'segment': [0, 10]}]}}
  pred = {'results': {'aaa': [{'label': 'A', 'score': .9, 'segment': [0, 10]}]}}
  m_ap, average = detection_map(gt, pred, np.array([.5, .95]))
  np.testing.assert_allclose(m_ap, [1, 1])
  assert average == 1.0
