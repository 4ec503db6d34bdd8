"""The localization command-line tools against MMAction2 0.24.1's scripts (their inputs and
outputs are in tests/golden/localization, from tests/reference/make_golden_localization.py)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from vjax.localization import dump_results
from vjax.tools import convert_proposal_format, process_activitynet_annotations, report_map

GOLDEN = Path(__file__).resolve().parents[1] / 'golden' / 'localization'
CASES = json.loads((GOLDEN / 'cases.json').read_text())
ARRAYS = dict(np.load(GOLDEN / 'arrays.npz'))


def sha256(path) -> str:
  return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def proposal_file(tmp_path):
  """The proposal JSON MMAction2 dumped (output_config), rewritten by vjax's dump_results."""
  results = []
  for name in CASES['dataset']['videos']:
    rows = ARRAYS[f'evaluate/proposals/{name}']
    results.append({'video_name': name, 'proposal_list': [
        {'score': float(r[2]), 'segment': [float(r[0]), float(r[1])]} for r in rows]})
  path = tmp_path / 'results.json'
  dump_results(results, str(path), 'json')
  assert sha256(path) == CASES['dataset']['dump_sha256']
  assert path.read_text().startswith(CASES['dataset']['dump_head'])
  return path


def test_report_map_matches_mmaction2(proposal_file, tmp_path, capsys):
  det = tmp_path / 'det' / 'det_result.json'
  m_ap, average = report_map.main([
      '--proposal', str(proposal_file), '--gt', str(GOLDEN / 'anet_anno.json'),
      '--cls-results', str(GOLDEN / 'cls_results.json'), '--det-output', str(det)])
  expected = CASES['report_map']
  assert sha256(det) == expected['det_result_sha256']
  np.testing.assert_allclose(m_ap, expected['mAP'], atol=1e-6)
  assert average == pytest.approx(expected['average_mAP'], abs=1e-6)
  out = capsys.readouterr().out
  assert out[out.index('[RESULTS]'):].splitlines() == expected['printed']


def test_report_map_says_where_the_classification_file_is(proposal_file, tmp_path):
  with pytest.raises(FileNotFoundError, match='cuhk_anet17_pred.json'):
    report_map.main(['--proposal', str(proposal_file), '--cls-results',
                     str(tmp_path / 'missing.json')])


def test_convert_proposal_format_matches_mmaction2(proposal_file, tmp_path):
  out = tmp_path / 'formatted.txt'
  convert_proposal_format.main([
      '--ann-file', str(GOLDEN / 'anet_anno.json'), '--activity-index-file',
      str(GOLDEN / 'activity_index.txt'), '--proposal-file', str(proposal_file),
      '--formatted-proposal-file', str(out)])
  assert out.read_text() == (GOLDEN / 'formatted_proposals.txt').read_text()
  assert sha256(out) == CASES['convert']['sha256']


def test_convert_proposal_format_by_hand(tmp_path):
  ann = {'v_a': {'duration_frame': 300, 'fps': 30.0, 'annotations': [
      {'segment': [0.0, 4.0], 'label': 'B'}, {'segment': [5.0, 9.0], 'label': 'A'}]}}
  props = {'results': {'a': [{'score': .9, 'segment': [0.0, 4.0]},
                             {'score': .5, 'segment': [20.0, 25.0]}]}}
  (tmp_path / 'ann.json').write_text(json.dumps(ann))
  (tmp_path / 'props.json').write_text(json.dumps(props))
  (tmp_path / 'index.txt').write_text('A\nB\n')
  convert_proposal_format.main([
      '--ann-file', str(tmp_path / 'ann.json'), '--activity-index-file',
      str(tmp_path / 'index.txt'), '--proposal-file', str(tmp_path / 'props.json'),
      '--formatted-proposal-file', str(tmp_path / 'out.txt')])
  # Ground truth as "class start end"; the first proposal matches B (class 1) exactly, the
  # second touches nothing.
  assert (tmp_path / 'out.txt').read_text() == (
      '#0\na\n300\n30.0\n2\n1 0.0 4.0\n0 5.0 9.0\n2\n1 1.0 1.0 0.0 4.0\n0 0 0 20.0 25.0\n')


def test_process_activitynet_annotations_matches_mmaction2(tmp_path, capsys):
  source = GOLDEN / 'process_annotations'
  for name in ('anet_anno_action.json', 'video_info_new.csv'):
    shutil.copy(source / name, tmp_path)
  subsets = process_activitynet_annotations.main(['--data-root', str(tmp_path)])
  for subset in ('train', 'val', 'test', 'full'):
    written = tmp_path / f'anet_anno_{subset}.json'
    assert written.read_bytes() == (source / f'expected_anet_anno_{subset}.json').read_bytes()
    assert list(subsets[subset]) == list(json.loads(written.read_text()))
  assert capsys.readouterr().out.splitlines() == CASES['process_annotations']['printed']
  assert 'v_not_in_csv' not in subsets['full']
