"""Hand-worked cases for vjax.evaluation.localization (answers derived on paper)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vjax.evaluation import (ActivityNetLocalization, average_precision_at_temporal_iou,
                             average_recall_at_avg_proposals, interpolated_precision_recall,
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
