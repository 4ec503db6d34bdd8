"""Hand-worked cases for vjax.evaluation.metrics: answers derived from the definitions on paper,
independent of the MMAction2 goldens (test_golden_metrics.py)."""

from __future__ import annotations

import numpy as np
import pytest

from vjax.evaluation import (confusion_matrix, evaluate_recognition, get_weighted_score,
                             mean_average_precision, mean_class_accuracy,
                             mmit_mean_average_precision, softmax, top_k_accuracy, top_k_classes)

# 4 samples, 3 classes.
#   sample 0: label 0, ranking 0 > 2 > 1   -> top1 hit
#   sample 1: label 1, ranking 2 > 1 > 0   -> top1 miss, top2 hit
#   sample 2: label 2, ranking 0 > 1 > 2   -> miss until top3
#   sample 3: label 1, ranking 1 > 0 > 2   -> top1 hit
SCORES = np.array([[0.9, 0.0, 0.1], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1], [0.2, 0.7, 0.1]])
LABELS = [0, 1, 2, 1]


def test_top_k_accuracy_by_hand():
  assert top_k_accuracy(SCORES, LABELS, (1, 2, 3)) == [0.5, 0.75, 1.0]
  assert top_k_accuracy(list(SCORES), np.array(LABELS), topk=(1,)) == [0.5]


def test_top_k_accuracy_ties_rank_higher_class_first():
  # All-equal scores: descending order with ties highest index first is 2, 1, 0.
  scores = np.zeros((3, 3))
  assert top_k_accuracy(scores, [2, 1, 0], (1, 2, 3)) == [1 / 3, 2 / 3, 1.0]
  # Label 0 ties with class 1 for the top score: class 1 ranks first, so a top-1 miss.
  assert top_k_accuracy([[0.5, 0.5, 0.0]], [0], (1, 2)) == [0.0, 1.0]


def test_mean_class_accuracy_by_hand():
  # argmax predictions: [0, 2, 0, 1]. Recall: class0 1/1, class1 1/2, class2 0/1.
  assert mean_class_accuracy(SCORES, LABELS) == pytest.approx((1 + 0.5 + 0) / 3)


def test_mean_class_accuracy_counts_predicted_only_classes_as_zero():
  # labels {0}; predictions 0 and 3 -> classes seen {0, 3}; recall 0: 1/2, 3: 0 (never true).
  scores = np.array([[1.0, 0, 0, 0], [0, 0, 0, 1.0]])
  assert mean_class_accuracy(scores, [0, 0]) == pytest.approx(0.25)
  # argmax takes the first maximum on ties: [0.5, 0.5] predicts class 0.
  assert mean_class_accuracy([[0.5, 0.5]], [0]) == 1.0


def test_confusion_matrix_by_hand():
  pred, real = [0, 2, 0, 1], [0, 1, 2, 1]
  expected = np.array([[1, 0, 0], [0, 1, 1], [1, 0, 0]])  # rows true, cols pred
  np.testing.assert_array_equal(confusion_matrix(pred, real), expected)
  np.testing.assert_allclose(confusion_matrix(pred, real, 'true'),
                             [[1, 0, 0], [0, .5, .5], [1, 0, 0]])
  np.testing.assert_allclose(confusion_matrix(pred, real, 'pred'),
                             [[.5, 0, 0], [0, 1, 1], [.5, 0, 0]])
  np.testing.assert_allclose(confusion_matrix(pred, real, 'all'), expected / 4)
  # Only labels that occur get a row: {3, 7} -> 2x2; a column of zeros normalizes to 0, not NaN.
  np.testing.assert_array_equal(confusion_matrix([3, 3], [3, 7], 'pred'), [[.5, 0], [.5, 0]])
  with pytest.raises(ValueError, match='normalize'):
    confusion_matrix(pred, real, 'rows')
  with pytest.raises(TypeError, match='integers'):
    confusion_matrix([0.5], [1])


def test_top_k_classes_by_hand():
  # Recall per class: 0 -> 1.0, 1 -> 0.5, 2 -> 0.0.
  assert top_k_classes(SCORES, LABELS, k=2) == [(0, 1.0), (1, 0.5)]
  assert top_k_classes(SCORES, LABELS, k=2, mode='inaccurate') == [(2, 0.0), (1, 0.5)]
  # Class ids, not positions: labels {2, 5}, both always right.
  scores = np.eye(6)[[2, 5]]
  assert top_k_classes(scores, [2, 5], k=1) == [(5, 1.0)]
  assert top_k_classes(scores, [2, 5], k=1, mode='inaccurate') == [(2, 1.0)]


def test_mean_average_precision_by_hand():
  # Class 0: scores .9 .8 .7 .6 with positives at ranks 1 and 3 -> AP = (1 + 2/3) / 2.
  # Class 1: ranked .6(-) .4(+) .3(-) .1(+) -> AP = (1/2 + 2/4) / 2 = 0.5.
  # Class 2: no positive -> dropped.
  scores = np.array([[.9, .6, .0], [.8, .4, .0], [.7, .3, .0], [.6, .1, .0]])
  labels = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 1, 0]])
  assert mean_average_precision(scores, list(labels)) == pytest.approx(((1 + 2 / 3) / 2 + .5) / 2)
  assert np.isnan(mean_average_precision(scores, np.zeros_like(labels)))


def test_average_precision_ties_form_one_threshold():
  # Scores tie (.5, .5): one threshold with precision 1/2 and recall 1 -> AP 0.5, whatever the
  # order inside the tie.
  assert mean_average_precision([[.5], [.5]], [[1], [0]]) == pytest.approx(.5)
  assert mean_average_precision([[.5], [.5]], [[0], [1]]) == pytest.approx(.5)
  # Only entries equal to 1 count as positives.
  assert mean_average_precision([[.9], [.1]], [[2], [1]]) == pytest.approx(.5)


def test_mmit_mean_average_precision_by_hand():
  # Sample 0: .9(+) .5(-) .1(+) -> (1 + 2/3) / 2 ; sample 1: .2(-) .8(+) .3(-) -> 1.
  scores = [np.array([.9, .5, .1]), np.array([.2, .8, .3])]
  labels = [np.array([1, 0, 1]), np.array([0, 1, 0])]
  assert mmit_mean_average_precision(scores, labels) == pytest.approx(((1 + 2 / 3) / 2 + 1) / 2)
  # A sample without positives has undefined AP and, as in MMAction2, makes the mean NaN.
  assert np.isnan(mmit_mean_average_precision(scores, [labels[0], np.zeros(3)]))


def test_get_weighted_score_and_softmax():
  a = [np.array([1., 2.]), np.array([3., 4.])]
  b = [np.array([10., 0.]), np.array([0., 10.])]
  fused = get_weighted_score([a, b], [1., .5])
  assert isinstance(fused, list) and len(fused) == 2
  np.testing.assert_allclose(fused, [[6., 2.], [3., 9.]])
  with pytest.raises(ValueError):
    get_weighted_score([a, b], [1.])
  p = softmax(np.array([[0., np.log(3.)], [1000., 1000.]]))
  np.testing.assert_allclose(p, [[.25, .75], [.5, .5]])
  np.testing.assert_allclose(softmax(np.array([[0.], [np.log(3.)]]), dim=0), [[.25], [.75]])


def test_evaluate_recognition_keys_and_values():
  res = evaluate_recognition(SCORES, LABELS)
  assert list(res) == ['top1_acc', 'top5_acc', 'mean_class_accuracy']
  assert res['top1_acc'] == 0.5 and res['top5_acc'] == 1.0
  assert res['mean_class_accuracy'] == pytest.approx(0.5)
  res = evaluate_recognition(SCORES, LABELS, metrics='top_k_accuracy',
                             metric_options={'top_k_accuracy': {'topk': 2}})
  assert dict(res) == {'top2_acc': 0.75}
  with pytest.raises(KeyError, match='not supported'):
    evaluate_recognition(SCORES, LABELS, metrics=['AR@AN'])


def test_evaluate_recognition_multilabel_from_indices():
  scores = np.array([[.9, .6, .0], [.8, .4, .0], [.7, .3, .0], [.6, .1, .0]])
  labels = [[0], [1], [0, 2], [1]]  # class indices per sample, as in MMAction2's video_infos
  res = evaluate_recognition(scores, labels,
                             metrics=('mean_average_precision', 'mmit_mean_average_precision'))
  many_hot = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 1], [0, 1, 0]])
  assert res['mean_average_precision'] == pytest.approx(mean_average_precision(scores, many_hot))
  assert res['mmit_mean_average_precision'] == pytest.approx(
      mmit_mean_average_precision(scores, many_hot))
  # Class 2 alone: one positive at the lowest score (.0, tied with all) -> AP 1/4.
  assert res['mean_average_precision'] == pytest.approx(((1 + 2 / 3) / 2 + .5 + .25) / 3)
