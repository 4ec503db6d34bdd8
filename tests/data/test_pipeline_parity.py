"""Parity of vjax's deterministic pipeline ops with MMAction2 0.24.1 on randomized inputs.

The goldens (tests/golden/pipeline) were written by tests/reference/make_golden_pipeline.py,
which ran MMAction2's own ops in the reference venv on the same configs; nothing here needs
that venv. Frame indices, crop boxes, shapes and scale factors must match exactly; pixels
exactly for crops and layouts, within measured tolerances for Resize and Normalize.
MMAction2's FormatShape output is channels-first; vjax's is channels-last, so the expected
arrays are compared after moving their channel axis last.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vjax.data import Compose

GOLDEN = Path(__file__).resolve().parents[1] / 'golden' / 'pipeline'
CASES = json.loads((GOLDEN / 'cases.json').read_text())
ARRAYS = dict(np.load(GOLDEN / 'arrays.npz'))

# Resize pixels: MMAction2 resizes with mmcv.imresize -> cv2.resize (opencv 4.11 in the reference
# venv), vjax with cv2.resize too (ops_augment.resize_frames; opencv 5.0 in vjax's venv), both
# INTER_LINEAR / INTER_NEAREST on uint8. Measured over every stored case (random uint8 frames,
# down- and up-scaling, odd sizes): max |vjax - MMAction2| = 0, so no slack is given.
RESIZE_ATOL = 0
NORMALIZE_ATOL = 1e-5
IMAGENET_STD_MIN = 57.12


def _compose(cfgs):
  return Compose([dict(c) for c in cfgs])


def _cfgs(case):
  return case['cfgs'] if 'cfgs' in case else [case['cfg']]


def _case_id(case):
  return '+'.join(f"{c['type']}{c.get('crop_size', c.get('scale', c.get('input_format', '')))}"
                  .replace(' ', '') for c in _cfgs(case))


def _channels_last(expected, input_format, collapse):
  """MMAction2's channels-first layout -> vjax's: the channel axis moves to the end."""
  axis = {'NCHW': 1, 'NCTHW': 1, 'NCHW_Flow': 1, 'NPTCHW': 2}[input_format] - int(collapse)
  return np.moveaxis(expected, axis, -1)


def test_golden_files_come_from_mmaction2_0_24_1():
  meta = json.loads((GOLDEN / 'meta.json').read_text())
  assert meta['mmaction2'] == '0.24.1'
  total = sum(f.stat().st_size for f in GOLDEN.rglob('*') if f.is_file())
  assert total < 600 * 1024


# ------------------------------------------------------------------ frame sampling
def _table_rows(op):
  table = CASES['sampling'][op]
  for row in table['rows']:
    row = dict(zip(table['columns'], row))
    cfg = {k[4:]: v for k, v in row.items() if k.startswith('cfg.') and v is not None}
    results = {k[8:]: v for k, v in row.items() if k.startswith('results.')}
    yield dict(type=op, **cfg), results, row


@pytest.mark.parametrize('op', ['SampleFrames', 'DenseSampleFrames', 'UntrimmedSampleFrames'])
def test_sampling_parity(op):
  """Every test-mode case, and the train-mode cases whose branch draws no random number."""
  inds, offsets = ARRAYS[f'sampling/{op}/inds'], ARRAYS[f'sampling/{op}/offsets']
  failures, count = [], 0
  for cfg, results, row in _table_rows(op):
    if row.get('error'):
      continue  # test_sampling_refuses_what_mmaction2_cannot_sample
    count += 1
    pipeline = _compose([cfg])
    expected = inds[offsets[row['inds']]:offsets[row['inds'] + 1]]
    seeds = (0, 1, 2) if cfg.get('test_mode') is False else (0,)
    for seed in seeds:
      got = pipeline(dict(results), np.random.default_rng(seed))
      meta = (got['clip_len'], got['frame_interval'], got['num_clips'])
      if (got['frame_inds'].dtype != np.int64 or not np.array_equal(got['frame_inds'], expected)
          or meta != (row['clip_len'], row['frame_interval'], row['num_clips'])):
        failures.append(f'{cfg} {results} (rng seed {seed}): MMAction2 frame_inds='
                        f'{expected.tolist()} clip_len/frame_interval/num_clips='
                        f'{(row["clip_len"], row["frame_interval"], row["num_clips"])}; vjax '
                        f'{got["frame_inds"].tolist()} ({got["frame_inds"].dtype}) {meta}')
        break
  assert count > 100
  assert not failures, f'{len(failures)} of {count} cases differ:\n' + '\n'.join(failures[:10])


def test_sampling_refuses_what_mmaction2_cannot_sample():
  """UntrimmedSampleFrames on a video shorter than ``frame_interval // 2 + 1`` frames has no
  clip centre; MMAction2 raises (ValueError from an empty concatenate). An empty sample would
  only fail later, in a decoder, so vjax must refuse it here too."""
  op = 'UntrimmedSampleFrames'
  failures, count = [], 0
  for cfg, results, row in _table_rows(op):
    if not row.get('error'):
      continue
    count += 1
    try:
      got = _compose([cfg])(dict(results), np.random.default_rng(0))
    except (ValueError, IndexError):
      continue
    failures.append(f'{cfg} {results}: MMAction2 raised {row["error"]!r}, vjax returned '
                    f'frame_inds={got["frame_inds"].tolist()} num_clips={got["num_clips"]}')
  assert count > 10
  assert not failures, f'{len(failures)} of {count} cases differ:\n' + '\n'.join(failures[:10])


# ------------------------------------------------------------------ crops
@pytest.mark.parametrize('case', CASES['crop'], ids=_case_id)
def test_crop_parity(case):
  src = ARRAYS[case['src']]
  pipeline = _compose(_cfgs(case))
  if case['ragged']:
    # A crop larger than the frame: MMAction2's Python slicing with negative offsets yields
    # views of different sizes (a list its own FormatShape cannot stack); vjax refuses.
    with pytest.raises(ValueError):
      pipeline(dict(imgs=src.copy(), modality='RGB'))
    return
  got = pipeline(dict(imgs=src.copy(), modality='RGB'))
  np.testing.assert_array_equal(got['crop_bbox'], case['crop_bbox'])
  assert tuple(got['img_shape']) == tuple(case['img_shape'])
  expected = ARRAYS[case['out']]
  assert got['imgs'].shape == expected.shape and got['imgs'].dtype == expected.dtype
  np.testing.assert_array_equal(got['imgs'], expected)
  if case.get('crop_quadruple') is not None:
    # float32 throughout; chained crops may differ in the last bit (numpy 1.26 promotes a
    # float32 scalar times a Python float to float64, numpy 2 keeps float32).
    np.testing.assert_allclose(got['crop_quadruple'], case['crop_quadruple'], rtol=0, atol=1e-7)


# ------------------------------------------------------------------ resize
@pytest.mark.parametrize('case', CASES['resize'],
                         ids=lambda c: f"{c['src'].split('/')[1]}-{_case_id(c)}")
def test_resize_parity(case):
  src = ARRAYS[case['src']]
  got = _compose(_cfgs(case))(dict(imgs=src.copy(), modality='RGB'))
  assert tuple(got['img_shape']) == tuple(case['img_shape'])
  assert got['imgs'].shape == (len(src), *case['img_shape'], src.shape[-1])
  assert got['scale_factor'].dtype == np.float32
  np.testing.assert_array_equal(got['scale_factor'], np.float32(case['scale_factor']))
  assert got['keep_ratio'] == case['keep_ratio']
  if 'out' in case:
    diff = np.abs(got['imgs'].astype(int) - ARRAYS[case['out']].astype(int))
    assert diff.max() <= RESIZE_ATOL, f'max |diff| {diff.max()} at {np.argwhere(diff)[:5]}'


# ------------------------------------------------------------------ normalize
@pytest.mark.parametrize('case', CASES['normalize'],
                         ids=lambda c: f"{c['modality']}-{json.dumps(c['cfg'])}")
def test_normalize_parity(case):
  results = dict(imgs=ARRAYS[case['src']].copy(), modality=case['modality'])
  if 'scale_factor' in case:
    results['scale_factor'] = np.float32(case['scale_factor'])
  got = _compose([case['cfg']])(results)
  expected = ARRAYS[case['out']]
  assert got['imgs'].shape == expected.shape and got['imgs'].dtype == np.float32
  np.testing.assert_allclose(got['imgs'], expected, rtol=0, atol=NORMALIZE_ATOL)
  for key, value in case['img_norm_cfg'].items():
    np.testing.assert_array_equal(got['img_norm_cfg'][key], value)


# ------------------------------------------------------------------ layouts
@pytest.mark.parametrize('case', CASES['format_shape'],
                         ids=lambda c: c['cfg']['input_format'] + ('-collapse' if c['cfg'].get(
                             'collapse') else ''))
def test_format_shape_parity(case):
  got = _compose([case['cfg']])(dict(imgs=ARRAYS[case['src']].copy(), **case['results']))
  expected = _channels_last(ARRAYS[case['out']], case['cfg']['input_format'],
                            case['cfg'].get('collapse', False))
  assert tuple(case['input_shape']) == ARRAYS[case['out']].shape
  assert got['imgs'].shape == expected.shape and tuple(got['input_shape']) == expected.shape
  np.testing.assert_array_equal(got['imgs'], expected)


@pytest.mark.parametrize('case', CASES['chain'], ids=_case_id)
def test_test_time_chain_parity(case):
  """Resize -> crop -> Normalize -> FormatShape: keys hand over between ops as in MMAction2."""
  src = ARRAYS[case['src']]
  got = _compose(case['cfgs'])(dict(imgs=src.copy(), modality='RGB', **case['results']))
  fmt = case['cfgs'][-1]['input_format']
  expected = _channels_last(ARRAYS[case['out']], fmt, False)
  assert got['imgs'].shape == expected.shape and got['imgs'].dtype == expected.dtype
  normalized = any(c['type'] == 'Normalize' for c in case['cfgs'])
  atol = RESIZE_ATOL / IMAGENET_STD_MIN + NORMALIZE_ATOL if normalized else RESIZE_ATOL
  np.testing.assert_allclose(got['imgs'], expected, rtol=0, atol=atol)
  assert tuple(got['img_shape']) == tuple(case['img_shape'])
  np.testing.assert_array_equal(got['scale_factor'], np.float32(case['scale_factor']))
  if case['crop_bbox'] is not None:
    np.testing.assert_array_equal(got['crop_bbox'], case['crop_bbox'])
