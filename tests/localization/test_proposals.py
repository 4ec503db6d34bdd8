"""vjax.localization against MMAction2 0.24.1 (tests/golden/localization, written by
tests/reference/make_golden_localization.py in the reference venv) and hand-worked cases.

Sort-dependent goldens exist as 'raw' and 'stable' (see tests/reference/README.md, 'Ties');
vjax equals 'stable', and 'raw' wherever nothing ties. Everything here is compared exactly:
vjax repeats MMAction2's arithmetic in the same float types and order.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest

from vjax.localization import (bmn_candidate_proposals, bsp_features, candidate_proposals,
                               dump_results, generate_bsp_feature, generate_features,
                               generate_proposals, load_csv, pem_proposals, post_processing,
                               soft_nms, tem_results, temporal_anchors, temporal_iop,
                               temporal_iou, video_duration)

GOLDEN = Path(__file__).resolve().parents[1] / 'golden' / 'localization'
ARRAYS = dict(np.load(GOLDEN / 'arrays.npz'))
CASES = json.loads((GOLDEN / 'cases.json').read_text())


def sha256(path) -> str:
  return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# numpy's exp takes a different SIMD path on AVX-512 CPUs: there a few soft-NMS scores (one
# exp per decay) come out one unit in the last place away from the goldens' (seen: 2 of 303
# float64 values, relative 1.9e-16). Floats may differ by that much, nothing more.
MAX_ULP = 2


def same(actual, expected):
  actual, expected = np.asarray(actual), np.asarray(expected)
  assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
  assert actual.shape == expected.shape, (actual.shape, expected.shape)
  if np.issubdtype(actual.dtype, np.floating):
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    ok = ~np.isnan(expected)
    np.testing.assert_array_max_ulp(actual[ok], expected[ok], maxulp=MAX_ULP)
  else:
    np.testing.assert_array_equal(actual, expected)


def same_float(a: float, e: float) -> bool:
  return abs(a - e) <= MAX_ULP * np.spacing(abs(e))


def test_golden_files_come_from_mmaction2_0_24_1():
  meta = json.loads((GOLDEN / 'meta.json').read_text())
  assert meta['mmaction2'] == '0.24.1'
  total = sum(f.stat().st_size for f in GOLDEN.rglob('*') if f.is_file())
  assert total < 600 * 1024


# ------------------------------------------------------------------ IoU / IoP
@pytest.mark.parametrize('case', sorted(CASES['iou']))
def test_temporal_iou_iop_parity(case):
  args = [ARRAYS[f'iou/{case}/{k}'] for k in ('pmin', 'pmax', 'gmin', 'gmax')]
  if CASES['iou'][case]['lists']:
    args[2], args[3] = list(args[2]), list(args[3])
  same(temporal_iou(*args), ARRAYS[f'iou/{case}/iou'])
  same(temporal_iop(*args), ARRAYS[f'iou/{case}/iop'])


def test_temporal_iou_iop_by_hand():
  # [0, 10] against [5, 15]: intersection 5, union 15; against [20, 30]: nothing.
  np.testing.assert_allclose(temporal_iou(0., 10., [5., 20.], [15., 30.]), [1 / 3, 0])
  np.testing.assert_allclose(temporal_iop(0., 10., [5., 20.], [15., 30.]), [.5, 0])
  # A proposal inside the ground truth: IoP 1, IoU its share.
  assert temporal_iou(2., 4., 0., 8.) == pytest.approx(.25)
  assert temporal_iop(2., 4., 0., 8.) == 1.
  assert np.isnan(temporal_iou(3., 3., 3., 3.))  # 0 / 0, as in MMAction2


# ------------------------------------------------------------------ soft-NMS
@pytest.mark.parametrize('case', sorted(CASES['nms']))
def test_soft_nms_parity(case):
  params = CASES['nms'][case]['params']
  kept = soft_nms(ARRAYS[f'nms/{case}/proposals'], **params)
  same(kept, ARRAYS[f'nms/{case}/stable'])
  if 'ties' not in case:
    same(ARRAYS[f'nms/{case}/raw'], ARRAYS[f'nms/{case}/stable'])


def test_soft_nms_by_hand():
  proposals = np.array([[0., 1., .9], [0., 1., .8], [0., .5, .7]])
  kept = soft_nms(proposals, alpha=.4, low_threshold=.5, high_threshold=.9, top_k=100)
  # Keep [0, 1] (width 1: threshold .5 + .4 * 1 = .9). Its copy (IoU 1 > .9) decays to
  # .8 * exp(-1 / .4); [0, .5] (IoU .5) does not. Next [0, .5] (.7, width .5: threshold .7;
  # IoU .5 with the copy, no decay), then the copy.
  np.testing.assert_allclose(kept, [[0, 1, .9], [0, .5, .7], [0, 1, .8 * math.exp(-2.5)]])
  # MMAction2 keeps top_k + 1 proposals (its loop runs while at most top_k are kept).
  disjoint = np.array([[0., .1, .9], [.2, .3, .8], [.4, .5, .7], [.6, .7, .6]])
  assert soft_nms(disjoint, .4, .5, .9, top_k=1).shape == (2, 3)
  assert soft_nms(disjoint, .4, .5, .9, top_k=1).dtype == np.float64
  assert soft_nms(disjoint.astype(np.float32), .4, .5, .9, top_k=10).dtype == np.float32
  # Equal scores: the later proposal first.
  tied = np.array([[0., .1, .5], [.5, .6, .5]])
  np.testing.assert_array_equal(soft_nms(tied, .4, .5, .9, 10)[:, 0], [.5, 0.])


def test_soft_nms_compares_float32_iou_with_float64_threshold():
  # IoU of [0, 7] with [0, 10] is float32(0.7) = 0.69999998807...; the threshold .69999998
  # is below it in float64 (MMAction2 under numpy 1.x: decay) but rounds to the same
  # float32 (a float32 comparison, numpy 2's promotion: no decay).
  proposals = np.array([[0., 10., .9], [0., 7., .8]], np.float32)
  kept = soft_nms(proposals, alpha=.4, low_threshold=.69999998, high_threshold=.69999998,
                  top_k=10)
  iou = np.float32(7) / np.float32(10)
  decayed = np.float32(.8) * np.exp(-np.square(iou) / .4)
  assert kept.dtype == np.float32
  np.testing.assert_array_equal(kept[:, 2], np.array([.9, decayed], np.float32))


# ------------------------------------------------------------------ post_processing
def proposal_lists_equal(actual, expected):
  assert len(actual) == len(expected)
  for a, e in zip(actual, expected):
    assert list(a) == ['score', 'segment']
    assert same_float(a['score'], e['score']), (a['score'], e['score'])
    assert a['segment'] == e['segment']
    assert all(type(v) is float for v in [a['score'], *a['segment']])


@pytest.mark.parametrize('case', sorted(CASES['post']))
def test_post_processing_parity(case):
  spec = CASES['post'][case]
  got = post_processing(ARRAYS[f'post/{case}/result'], spec['video_info'], **spec['kwargs'])
  proposal_lists_equal(got, spec['stable'])
  if 'ties' not in case:
    assert spec['raw'] == spec['stable']


def test_post_processing_by_hand():
  info = {'duration_frame': 1000, 'duration_second': 40.}
  # 1000 frames in whole 16-frame intervals: 992 frames = 39.68 s.
  d = video_duration(info, 16)
  assert d == pytest.approx(39.68)
  result = np.array([[-.1, .5, .3], [.5, 1.2, .9], [.2, .3, .6]])
  got = post_processing(result, info, .4, .5, .9, post_process_top_k=2,
                        feature_extraction_interval=16)
  # Disjoint proposals keep their scores; best two, times clipped to [0, 1] then in seconds.
  assert got == [{'score': .9, 'segment': [.5 * d, d]}, {'score': .6, 'segment': [.2 * d, .3 * d]}]
  # A single proposal skips soft-NMS; its score is the last column.
  one = post_processing(np.array([[.1, .2, 7., .5]]), info, .4, .5, .9, 10, 16)
  assert one == [{'score': .5, 'segment': [.1 * d, .2 * d]}]
  assert post_processing(np.zeros((0, 3)), info, .4, .5, .9, 10, 16) == []


# ------------------------------------------------------------------ BMN / PEM / TEM
@pytest.mark.parametrize('case', sorted(CASES['bmn']))
def test_bmn_test_output_parity(case):
  spec = CASES['bmn'][case]
  candidates = bmn_candidate_proposals(ARRAYS[f'bmn/{case}/start'], ARRAYS[f'bmn/{case}/end'],
                                       ARRAYS[f'bmn/{case}/confidence_map'])
  same(candidates, ARRAYS[f'bmn/{case}/candidates'])
  params = spec['params']
  got = post_processing(candidates, spec['video_info'], params['soft_nms_alpha'],
                        params['soft_nms_low_threshold'], params['soft_nms_high_threshold'],
                        params['post_process_top_k'], params['feature_extraction_interval'])
  (expected,) = spec['output']
  assert expected['video_name'] == spec['video_info']['video_name']
  proposal_lists_equal(got, expected['proposal_list'])


def test_bmn_candidates_by_hand():
  # T = 4. Start bins: 0 (always) and 2 (a peak: .9 > .1, .2). End bins: 1 (a peak) and 3
  # (always); bin 1 of the starts (.1) and bin 2 of the ends (.1 < .45) are not.
  start = np.array([.1, .1, .9, .2], np.float32)
  end = np.array([.0, .8, .1, .9], np.float32)
  conf = np.zeros((2, 4, 4), np.float32)
  conf[1] = .5  # classification
  conf[0] = .25  # regression
  got = bmn_candidate_proposals(start, end, conf)
  # By duration index (end - start - 1), then start: 0->1, 2->3 (duration 0), 0->3 (2);
  # rows [start / 4, end / 4, start score, end score, cls, reg, their product].
  np.testing.assert_allclose(got, [[0, .25, .1, .8, .5, .25, .01],
                                   [.5, .75, .9, .9, .5, .25, .10125],
                                   [0, .75, .1, .9, .5, .25, .01125]], rtol=1e-6)
  assert got.dtype == np.float64


@pytest.mark.parametrize('case', sorted(CASES['pem']))
def test_pem_test_output_parity(case):
  spec = CASES['pem'][case]
  result = pem_proposals(*(ARRAYS[f'pem/{case}/{k}']
                           for k in ('pem_output', 'tmin', 'tmax', 'tmin_score', 'tmax_score')))
  assert result.dtype == np.float32 and result.shape[1] == 6
  params = spec['params']
  got = post_processing(result, spec['video_info'], params['soft_nms_alpha'],
                        params['soft_nms_low_threshold'], params['soft_nms_high_threshold'],
                        params['post_process_top_k'], params['feature_extraction_interval'])
  proposal_lists_equal(got, spec['output'][0]['proposal_list'])


def test_tem_results_parity():
  outputs = ARRAYS['tem/output']
  for b, video in enumerate(('v_tem_0', 'v_tem_1')):
    same(tem_results(*outputs[b]), ARRAYS[f'tem/results/{video}'])
  tmins, tmaxs = temporal_anchors(4)
  assert tmins == [0., .25, .5, .75] and tmaxs == [.25, .5, .75, 1.]


# ------------------------------------------------------------------ PGM
def write_tem_csvs(case, folder) -> dict:
  """TEM results of a PGM case as vjax writes them (output_format='csv')."""
  outputs = ARRAYS[f'pgm/{case}/tem_output']
  results = [(video, tem_results(*outputs[b]))
             for b, video in enumerate(CASES['pgm'][case]['videos'])]
  dump_results(results, str(folder), 'csv')
  return dict(results)


def video_infos_of(case):
  return [dict(info, video_name=name)
          for name, info in CASES['pgm'][case]['video_infos'].items()]


@pytest.mark.parametrize('case', sorted(CASES['pgm']))
def test_pgm_parity(case, tmp_path):
  spec = CASES['pgm'][case]
  tem_dir, proposals_dir, features_dir = (tmp_path / d for d in
                                          ('tem_results', 'pgm_proposals', 'pgm_features'))
  tem = write_tem_csvs(case, tem_dir)
  infos = video_infos_of(case)
  rows = spec['stored_rows']
  for video in spec['videos']:
    same(tem[video], ARRAYS[f'pgm/{case}/tem/{video}'])
    assert sha256(tem_dir / f'{video}.csv') == spec['files'][video]['tem_csv']
    # Candidates from the arrays, against MMAction2's generate_candidate_proposals.
    info = infos[spec['videos'].index(video)]
    got = candidate_proposals(load_csv(tem_dir / f'{video}.csv'), info, spec['temporal_scale'],
                              spec['peak_threshold'])
    assert len(got) == spec['candidates']['stable'][video]['rows']
    same(got[:rows], ARRAYS[f'pgm/{case}/stable/proposals/{video}'])
    if 'ties' not in case:
      same(ARRAYS[f'pgm/{case}/raw/proposals/{video}'],
           ARRAYS[f'pgm/{case}/stable/proposals/{video}'])

  # The whole-dataset drivers (two worker processes), as tools/misc/bsn_proposal_generation.
  ann_file = tmp_path / 'anno.json'
  ann_file.write_text(json.dumps(spec['video_infos']))
  generate_proposals(str(ann_file), str(tem_dir), str(proposals_dir), pgm_proposals_thread=2,
                     temporal_scale=spec['temporal_scale'],
                     peak_threshold=spec['peak_threshold'])
  generate_features(str(ann_file), str(tem_dir), str(proposals_dir), str(features_dir),
                    pgm_features_thread=2, **spec['feature_cfg'])
  for video in spec['videos']:
    assert sha256(proposals_dir / f'{video}.csv') == spec['files'][video]['proposal_csv']
    assert (proposals_dir / f'{video}.csv').read_text().splitlines()[0] == \
        spec['header']['proposals']
    same(np.load(features_dir / f'{video}.npy'), ARRAYS[f'pgm/{case}/features/{video}'])
  default = generate_bsp_feature(range(len(infos)), infos, str(tem_dir), str(proposals_dir))
  for video, features in default.items():
    same(features[:40], ARRAYS[f'pgm/{case}/default_features/{video}'])
    assert features.shape[1] == 32


def test_candidate_proposals_by_hand():
  # T = 4 bins centred at .125, .375, .625, .875. Start scores peak at bin 1; end scores
  # peak at bin 2; the first and last bins are always boundaries.
  tem = np.zeros((4, 5), np.float32)
  tem[:, 1] = [.1, .8, .2, .1]
  tem[:, 2] = [.1, .2, .8, .1]
  info = {'duration_frame': 100, 'duration_second': 10., 'feature_frame': 100,
          'annotations': [{'segment': [2.5, 7.5], 'label': 'A'}]}
  got = candidate_proposals(tem, info, temporal_scale=4, peak_threshold=.9)
  # Starts {0, 1, 3} x ends {0, 2, 3} with start < end: (0,2) (1,2) (0,3) (1,3) -> sorted by
  # start x end score: (1,2) .64, (0,2) .08, (1,3) .08, (0,3) .01; the tie keeps the later one
  # first. Ground truth [.25, .75] (feature_frame = duration_frame).
  np.testing.assert_allclose(got[:, :2], [[.375, .625], [.375, .875], [.125, .625],
                                          [.125, .875]])
  np.testing.assert_allclose(got[:, 4], [.64, .08, .08, .01], rtol=1e-6)
  # IoU of [.375, .625] with [.25, .75]: .25 / .5; IoA: 1.
  np.testing.assert_allclose(got[0, 5:], [.5, 1.])
  np.testing.assert_allclose(got[3, 5:], [.5 / .75, .5 / .75])


def test_bsp_features_by_hand():
  # Actionness 1 everywhere inside the video: a proposal well inside it samples only ones.
  tmins, tmaxs = temporal_anchors(10)
  tem = np.stack([np.ones(10), np.zeros(10), np.zeros(10), tmins, tmaxs], 1).astype(np.float32)
  features = bsp_features(tem, np.array([[.4, .6]], np.float32))
  np.testing.assert_allclose(features, np.ones((1, 32)))
  # Actionness is 0 beyond the video: the start region of a proposal at 0 sees less.
  edge = bsp_features(tem, np.array([[0., .5]], np.float32), num_sample_start=2,
                      num_sample_end=2, num_sample_action=2, num_sample_interp=1)
  # Action samples at [-.25, .25, .75] -> [0, 1, 1]; start region [-.1, .1] samples
  # [-.2, 0, .2] -> [0, .5, 1]; end region [.4, .6] samples ones. Window means of two points.
  np.testing.assert_allclose(edge, [[.5, 1, .25, .75, 1, 1]])
  assert bsp_features(tem, np.zeros((0, 2), np.float32)).shape == (0, 32)
