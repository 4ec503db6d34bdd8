"""Hand-worked cases for vjax.evaluation.ava (answers derived on paper)."""

from __future__ import annotations

import numpy as np
import pytest

from ava_files import AVA60_IDS, write_label_map
from vjax.evaluation import ava_eval, read_labelmap, results2csv
from vjax.evaluation.ava import read_csv, read_exclusions

GT = """\
vid,0902,0.1,0.1,0.5,0.5,1
vid,0902,0.1,0.1,0.5,0.5,3
vid,903,0.0,0.0,1.0,1.0,1
"""
# Columns x1,y1,x2,y2,action,score.
DET = """\
vid,0902,0.1,0.1,0.5,0.5,1,0.9
vid,0902,0.12,0.1,0.5,0.5,1,0.8
vid,0903,0.0,0.0,1.0,1.0,1,0.7
vid,0902,0.6,0.6,0.9,0.9,3,0.6
vid,0902,0.1,0.1,0.5,0.5,3,0.5
vid,0902,0.5,0.1,0.1,0.5,3,0.99
"""


@pytest.fixture
def files(tmp_path):
  (tmp_path / 'gt.csv').write_text(GT)
  (tmp_path / 'det.csv').write_text(DET)
  (tmp_path / 'excluded.csv').write_text('vid,903\n')
  labels = write_label_map(tmp_path / 'labels.pbtxt', (1, 2, 3), style='item')
  return {k: str(tmp_path / f) for k, f in
          (('gt', 'gt.csv'), ('det', 'det.csv'), ('excl', 'excluded.csv'))} | {'labels': labels}


def test_label_maps_in_both_official_layouts(tmp_path):
  cats80, ids80 = read_labelmap(write_label_map(tmp_path / 'a.pbtxt', style='label'))
  cats60, ids60 = read_labelmap(write_label_map(tmp_path / 'b.pbtxt', AVA60_IDS, style='item'))
  assert ids80 == set(range(1, 81)) and len(cats80) == 80
  assert ids60 == set(AVA60_IDS) and len(cats60) == 60 and max(ids60) == 80
  assert cats60[1] == {'id': 3, 'name': 'action 3'}


def test_read_csv_keys_order_and_whitelist(files):
  boxes, labels, scores = read_csv(files['det'], class_whitelist={1})
  assert list(boxes) == ['vid,0902', 'vid,0903']  # '903' and '0903' are the same frame
  assert labels['vid,0902'] == [1, 1] and scores['vid,0902'] == [.9, .8]
  assert boxes['vid,0902'][1] == [0.1, 0.12, 0.5, 0.5]  # stored as y1, x1, y2, x2
  _, _, gt_scores = read_csv(files['gt'])
  assert gt_scores['vid,0902'] == [1.0, 1.0]  # 7 columns: score 1
  assert read_exclusions(files['excl']) == {'vid,0903'}


def test_ava_eval_by_hand(files):
  # Class 1: .9 hit, .8 overlaps the same box (IoU .95) but it is taken -> miss, .7 hit on the
  #   border box. Precision 1 .5 2/3, recall .5 .5 1 -> AP .5 * 1 + .5 * 2/3.
  # Class 3: the .99 box has x2 < x1 and is dropped; .6 misses, .5 hits -> AP .5.
  # Class 2: no ground truth -> not averaged.
  res = ava_eval(files['det'], 'mAP', files['labels'], files['gt'], None, verbose=False)
  assert list(res) == ['mAP@0.5IOU']
  assert res['mAP@0.5IOU'] == pytest.approx(((.5 + 1 / 3) + .5) / 2)
  # Excluding frame 903 removes one ground truth and one hit of class 1: AP 1 (.9 hit, .8 miss
  # at full recall).
  res = ava_eval(files['det'], 'mAP', files['labels'], files['gt'], files['excl'], verbose=False)
  assert res['mAP@0.5IOU'] == pytest.approx((1 + .5) / 2)
  # custom_classes as AVADataset stores them, background first: only class 3 is scored.
  res = ava_eval(files['det'], 'mAP', files['labels'], files['gt'], None, verbose=False,
                 custom_classes=[0, 3])
  assert res['mAP@0.5IOU'] == pytest.approx(.5)
  with pytest.raises(ValueError, match='not in the label map'):
    ava_eval(files['det'], 'mAP', files['labels'], files['gt'], None, custom_classes=[0, 4])


def test_ava_no_fallback_to_second_best_box(tmp_path):
  # Two ground-truth boxes; both detections overlap box A most. The second one also overlaps
  # box B with IoU > .5, but the protocol only tries its best box: miss. AP = 1 * .5 (recall
  # reaches only 1/2).
  (tmp_path / 'gt.csv').write_text('v,0001,0.0,0.0,0.4,0.4,1\nv,0001,0.05,0.0,0.45,0.4,1\n')
  (tmp_path / 'det.csv').write_text('v,0001,0.0,0.0,0.4,0.4,1,0.9\n'
                                    'v,0001,0.02,0.0,0.42,0.4,1,0.8\n')
  labels = write_label_map(tmp_path / 'l.pbtxt', (1,), style='label')
  res = ava_eval(str(tmp_path / 'det.csv'), 'mAP', labels, str(tmp_path / 'gt.csv'), None)
  assert res['mAP@0.5IOU'] == pytest.approx(.5)


def test_ava_tied_scores_rank_later_rows_first(tmp_path):
  # One ground truth; two detections with the same score, a miss then a hit in file order.
  # Ties rank the later one first: hit, then miss -> AP 1 (the other order would give .5).
  (tmp_path / 'gt.csv').write_text('v,0001,0.1,0.1,0.5,0.5,1\n')
  det = 'v,0001,0.6,0.6,0.9,0.9,1,0.500\nv,0001,0.1,0.1,0.5,0.5,1,0.500\n'
  (tmp_path / 'det.csv').write_text(det)
  labels = write_label_map(tmp_path / 'l.pbtxt', (1,), style='label')
  res = ava_eval(str(tmp_path / 'det.csv'), 'mAP', labels, str(tmp_path / 'gt.csv'), None)
  assert res['mAP@0.5IOU'] == pytest.approx(1.0)
  (tmp_path / 'det.csv').write_text(''.join(reversed(det.splitlines(True))))
  res = ava_eval(str(tmp_path / 'det.csv'), 'mAP', labels, str(tmp_path / 'gt.csv'), None)
  assert res['mAP@0.5IOU'] == pytest.approx(.5)


def test_results2csv_by_hand(tmp_path):
  infos = [{'video_id': 'v', 'timestamp': 902}, {'video_id': 'w', 'timestamp': 1001}]
  results = [
      [np.array([[0.1, 0.2, 0.3, 0.4, 0.55555]], np.float32), np.zeros((0, 5), np.float32)],
      [np.zeros((0, 5)), np.array([[0., 0., 1., 1., 0.25], [0.5, 0.5, 0.75, 0.75, 0.0]])],
  ]
  out = tmp_path / 'r.csv'
  results2csv(infos, results, str(out))
  assert out.read_text() == ('v,902,0.100,0.200,0.300,0.400,1,0.556\n'
                             'w,1001,0.000,0.000,1.000,1.000,2,0.250\n'
                             'w,1001,0.500,0.500,0.750,0.750,2,0.000\n')
  results2csv(infos, results, str(out), custom_classes=(0, 7, 9))
  assert [line.split(',')[6] for line in out.read_text().splitlines()] == ['7', '9', '9']
  # The file reads back as detections of the right frames.
  boxes, labels, scores = read_csv(str(out))
  assert list(boxes) == ['v,0902', 'w,1001'] and labels['w,1001'] == [9, 9]
  with pytest.raises(TypeError):
    results2csv(infos, [np.zeros((1, 5))], str(out))
