"""vjax.tools.report_accuracy: hand-worked fusion, parity with MMAction2's report_accuracy.py
(tests/golden/metrics/fusion.json) and the command line."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vjax.tools import report_accuracy

GOLDEN = Path(__file__).resolve().parents[1] / 'golden' / 'metrics'
FUSION = json.loads((GOLDEN / 'fusion.json').read_text())
ROOT = Path(__file__).resolve().parents[2]


def _golden_argv(extra):
  argv = ['--scores', str(GOLDEN / 'fusion' / 'rgb.pkl'), str(GOLDEN / 'fusion' / 'flow.json')]
  return argv + [str(GOLDEN / 'fusion' / a) if a.endswith('.txt') else a for a in extra]


@pytest.mark.parametrize('case', sorted(FUSION))
def test_matches_mmaction2_report_accuracy(case, capsys):
  spec = FUSION[case]
  result = report_accuracy.main(_golden_argv(spec['args']))
  assert capsys.readouterr().out == spec['stdout']
  for key in ('mean_class_accuracy', 'top1_acc', 'top5_acc'):
    assert result[key] == pytest.approx(spec[key], abs=1e-6)


def test_fusion_by_hand(tmp_path, capsys):
  # Model A prefers classes 0, 1, 1 and model B 2, 1, 0 for the three samples below.
  a = [np.array([3., 1., 0.]), np.array([0., 2., 1.]), np.array([0., 4., 1.])]
  b = [np.array([0., 0., 2.]), np.array([0., 1., 0.]), np.array([6., 0., 0.])]
  with open(tmp_path / 'a.pkl', 'wb') as f:
    pickle.dump(a, f)
  (tmp_path / 'b.json').write_text(json.dumps([v.tolist() for v in b]))
  # Raw-frame list: "frame_dir total_frames label"; the label is the last field.
  (tmp_path / 'list.txt').write_text('clip0 100 0\nclip1 80 1\n\nclip2 64 0\n')
  # 1*A + 1*B = [3,1,2] [0,3,1] [6,4,1] -> predictions 0, 1, 0: all right.
  res = report_accuracy.main(['--scores', str(tmp_path / 'a.pkl'), str(tmp_path / 'b.json'),
                              '--datalist', str(tmp_path / 'list.txt')])
  assert res == {'mean_class_accuracy': 1.0, 'top1_acc': 1.0, 'top5_acc': 1.0}
  assert capsys.readouterr().out.splitlines() == [
      'Mean Class Accuracy: 1.0000', 'Top 1 Accuracy: 1.0000', 'Top 5 Accuracy: 1.0000']
  # 1*A + 0.25*B = [3,1,.5] [0,2.25,1] [1.5,4,1] -> 0, 1, 1: sample 2 wrong.
  # Class recall: class 0 1/2, class 1 1/1 -> mean 0.75; top-1 2/3.
  res = report_accuracy.main(['--scores', str(tmp_path / 'a.pkl'), str(tmp_path / 'b.json'),
                              '--coefficients', '1', '0.25', '--datalist',
                              str(tmp_path / 'list.txt')])
  assert res['mean_class_accuracy'] == pytest.approx(0.75)
  assert res['top1_acc'] == pytest.approx(2 / 3)
  # With softmax each model's vote is bounded: sample 2 has A = softmax([0,4,1]) ~ [.02,.94,.05]
  # and B = softmax([6,0,0]) ~ [.995,.002,.002]; sum favours class 0 -> all right again.
  res = report_accuracy.main(['--scores', str(tmp_path / 'a.pkl'), str(tmp_path / 'b.json'),
                              '--apply-softmax', '--datalist', str(tmp_path / 'list.txt')])
  assert res['top1_acc'] == 1.0


def test_softmax_all_covers_every_entry():
  p = report_accuracy.softmax_all(np.array([[0., np.log(3.)], [0., 0.]]))
  np.testing.assert_allclose(p, [[1 / 6, 3 / 6], [1 / 6, 1 / 6]])


def test_errors(tmp_path):
  (tmp_path / 'a.json').write_text('[[1, 0], [0, 1]]')
  (tmp_path / 'list.txt').write_text('v0.mp4 0\n')
  with pytest.raises(ValueError, match='2 score rows but 1 labels'):
    report_accuracy.main(['--scores', str(tmp_path / 'a.json'), '--datalist',
                          str(tmp_path / 'list.txt')])
  with pytest.raises(SystemExit):
    report_accuracy.main(['--scores', str(tmp_path / 'a.json'), '--coefficients', '1', '2',
                          '--datalist', str(tmp_path / 'list.txt')])
  (tmp_path / 'a.npy').write_text('')
  with pytest.raises(ValueError, match='.pkl, .pickle or .json'):
    report_accuracy.load_scores(tmp_path / 'a.npy')


def test_command_line():
  spec = FUSION['weighted_softmax']
  proc = subprocess.run([sys.executable, '-m', 'vjax.tools.report_accuracy',
                         *_golden_argv(spec['args'])], cwd=ROOT, capture_output=True, text=True,
                        check=True)
  assert proc.stdout == spec['stdout']
