"""Golden values for vjax.localization and the localization tools, computed by MMAction2 0.24.1.

Runs ONLY in the reference virtualenv (tests/reference/setup_venv.sh); never imports vjax.
    /work/mmaction2-ref-venv/bin/python tests/reference/make_golden_localization.py
writes tests/golden/localization/ from inputs drawn with numpy.random.default_rng(SEED):
- arrays.npz: inputs and array outputs (keys ``<group>/<case>/...``);
- cases.json: parameters, proposal lists, metric results, file checksums;
- anet_anno.json, cls_results.json, activity_index.txt, formatted_proposals.txt,
  process_annotations/: the files MMAction2's tools read and wrote;
- meta.json: seed and versions.

Cases:
- iou: ``temporal_iou`` / ``temporal_iop`` with MMAction2's argument shapes (one proposal
  against many in float32, as soft-NMS calls it; one against a list, as PGM does; arrays).
- nms: ``soft_nms`` on BMN-like (float64, 7 columns) and PEM-like (float32, 6 columns)
  proposals, tied scores, duplicate and zero-length proposals, small top_k.
- post: ``post_processing`` (soft-NMS, top-k, clipping, seconds) incl. one-proposal input.
- bmn / pem / tem: ``BMN.forward_test`` / ``PEM.forward_test`` / ``TEM.forward_test`` with
  their network replaced by seeded outputs (``_forward`` returns given tensors), so only
  their proposal building and post-processing run; BMN's candidates (the array handed to
  post_processing) are captured too.
- pgm: TEM results dumped by ``ActivityNetDataset.dump_results(..., output_format='csv')``,
  ``generate_candidate_proposals`` and MMAction2's tools/misc/bsn_proposal_generation.py
  (``generate_proposals``, ``generate_features``) on them; CSV checksums.
- evaluate: ``ActivityNetDataset.evaluate`` (AR@AN keys) with default and custom options,
  and the sha256 of ``dump_results`` (``output_format='json'``).
- report_map: tools/analysis/report_map.py (``cuhk17_top1``) on the dumped proposals with a
  stand-in classification file (no download): det_result.json checksum and printed mAP.
- convert: tools/data/activitynet/convert_proposal_format.py output.
- process_annotations: tools/data/activitynet/process_annotations.py inputs and outputs.

Sort-dependent outputs (nms, post, pgm candidates) are stored as 'raw' (MMAction2 as
installed) and 'stable' (its argsorts made stable, see README 'Ties'); vjax follows 'stable'.
The network-driven cases draw continuous scores (the script checks that nothing ties).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import os
import runpy
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

# MMAction2 0.24.1 predates numpy 1.24, which removed these aliases.
for _name, _alias in (('int', int), ('float', float), ('bool', bool), ('object', object),
                      ('str', str)):
  if _name not in np.__dict__:
    setattr(np, _name, _alias)

import mmaction  # noqa: E402
import mmcv  # noqa: E402
import torch  # noqa: E402
from mmaction.datasets import ActivityNetDataset  # noqa: E402
from mmaction.localization import bsn_utils as mm_bsn  # noqa: E402
from mmaction.localization import proposal_utils as mm_prop  # noqa: E402
from mmaction.models import build_localizer  # noqa: E402
from mmaction.models.localizers import bmn as mm_bmn_module  # noqa: E402
from mmaction.models.localizers.utils import post_processing as mm_post_processing  # noqa: E402

import golden_io  # noqa: E402
from golden_io import golden_dir, jsonable, returning_stable, stable_numpy, wrap  # noqa: E402

HERE = Path(__file__).resolve().parent
TOOLS = Path(mmaction.__file__).resolve().parent / '.mim' / 'tools'
SEED = 20240901


# ------------------------------------------------------------------ stable-sort patching
# PGM's candidates and soft-NMS's output are later .argsort()-ed.
STABLE_NP = stable_numpy(stack=returning_stable(np.stack),
                         concatenate=returning_stable(np.concatenate))
MODULES = (mm_prop, mm_bsn)


def sorting(mode):
  return golden_io.sorting(MODULES, mode, STABLE_NP)


def both(fn):
  return golden_io.both(fn, MODULES, STABLE_NP)


def plain(x):
  return np.array(np.asarray(x))


def sha256(path):
  return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ------------------------------------------------------------------ inputs
def proposals(rng, n, columns, dtype, levels=0, low=-0.1, zero_width=0):
  """n rows [tmin, tmax, (middle columns), score]; starts in [low, 0.9), some ends past 1."""
  tmin = rng.uniform(low, 0.9, size=n)
  tmax = tmin + rng.uniform(0.01, 0.4, size=n)
  if zero_width:
    tmax[:zero_width] = tmin[:zero_width]
  middle = rng.random((n, columns - 3))
  score = (rng.integers(1, levels + 1, size=n) / levels) if levels else rng.random(n)
  return np.concatenate([tmin[:, None], tmax[:, None], middle, score[:, None]],
                        axis=1).astype(dtype)


def video_info(rng, name, num_annotations=None, labels=None):
  fps = float(rng.choice([24.0, 25.0, 29.97, 30.0]))
  seconds = round(float(rng.uniform(20, 240)), 2)
  frames = int(seconds * fps)
  feature_frame = frames // 16 * 16
  k = num_annotations or int(rng.integers(1, 5))
  annotations = []
  for _ in range(k):
    start = float(rng.uniform(0, seconds * 0.8))
    end = min(seconds, start + float(rng.uniform(1, seconds * 0.5)))
    label = labels[int(rng.integers(len(labels)))] if labels else 'Action'
    annotations.append({'segment': [start, end], 'label': label})
  return {'duration_second': seconds, 'duration_frame': frames, 'annotations': annotations,
          'feature_frame': feature_frame, 'fps': fps, 'rfps': fps + float(rng.uniform(-.1, .1))}


# ------------------------------------------------------------------ temporal_iou / iop
def run_iou(rng, arrays):
  out = {}
  pmin = rng.uniform(0, 1, 50).astype(np.float32)
  pmax = (pmin + rng.uniform(0, 0.5, 50)).astype(np.float32)
  pmax[:3] = pmin[:3]  # zero-length proposals
  gmin = list(rng.uniform(0, 1, 7))
  gmax = [g + float(rng.uniform(0.01, 0.5)) for g in gmin]
  cases = {
      # soft-NMS: one float32 proposal against all candidates
      'nms_f32': (pmin[5], pmax[5], pmin, pmax),
      'nms_zero': (pmin[0], pmax[0], pmin, pmax),
      # PGM: one float64 proposal against Python lists of ground truth
      'pgm_lists': (np.float64(0.3125), np.float64(0.6875), gmin, gmax),
      # arrays against arrays, elementwise
      'arrays': (pmin.astype(np.float64), pmax.astype(np.float64), pmin[::-1].astype(np.float64),
                 pmax[::-1].astype(np.float64)),
  }
  for name, (a, b, c, d) in cases.items():
    with np.errstate(all='ignore'):
      iou = np.asarray(mm_prop.temporal_iou(a, b, c, d))
      iop = np.asarray(mm_prop.temporal_iop(a, b, c, d))
    for key, value in (('pmin', a), ('pmax', b), ('gmin', c), ('gmax', d)):
      arrays[f'iou/{name}/{key}'] = np.asarray(value)
    arrays[f'iou/{name}/iou'], arrays[f'iou/{name}/iop'] = iou, iop
    out[name] = {'lists': isinstance(c, list), 'iou_dtype': str(iou.dtype)}
  return out


# ------------------------------------------------------------------ soft_nms / post_processing
NMS_CASES = {
    # name: (n, columns, dtype, tie levels, zero-width rows, alpha, low, high, top_k)
    'bmn_like': (150, 7, np.float64, 0, 0, 0.4, 0.5, 0.9, 100),
    'pem_like': (80, 6, np.float32, 0, 0, 0.75, 0.65, 0.9, 100),
    'ties': (40, 7, np.float64, 5, 0, 0.4, 0.5, 0.9, 10),
    'ties_f32': (60, 6, np.float32, 4, 0, 0.75, 0.65, 0.9, 100),
    'zero_width': (30, 3, np.float32, 0, 4, 0.4, 0.5, 0.9, 100),
    'small_top_k': (30, 7, np.float64, 0, 0, 0.3, 0.2, 0.6, 3),
}


def run_nms(rng, arrays):
  out = {}
  for name, (n, cols, dtype, levels, zero, alpha, low, high, top_k) in NMS_CASES.items():
    props = proposals(rng, n, cols, dtype, levels, zero_width=zero)
    if name == 'ties':
      props[10:15] = props[0:5]  # duplicate proposals
    arrays[f'nms/{name}/proposals'] = props
    params = {'alpha': alpha, 'low_threshold': low, 'high_threshold': high, 'top_k': top_k}

    def compute(mode, props=props, params=params, name=name):
      with np.errstate(all='ignore'):
        kept = plain(mm_prop.soft_nms(wrap(props, mode), **params))
      arrays[f'nms/{name}/{mode}'] = kept
      return {'shape': list(kept.shape), 'dtype': str(kept.dtype)}

    out[name] = {'params': params, **both(compute)}
  return out


POST_CASES = {
    # name: (nms case or None, frames, seconds, interval, top_k override)
    'bmn_like': ('bmn_like', 6337, 211.53, 16, None),
    'pem_like': ('pem_like', 647, 26.75, 16, None),
    'ties': ('ties', 1000, 40.0, 16, None),
    'ties_f32': ('ties_f32', 3001, 100.1, 8, 20),
    'zero_width': ('zero_width', 500, 20.0, 16, 5),
    'small_top_k': ('small_top_k', 257, 10.28, 16, None),
    'one_proposal': (None, 900, 30.0, 16, 100),
    'short_video': ('pem_like', 10, 0.4, 16, 7),  # fewer frames than one interval: 0 s
}


def run_post(rng, arrays):
  out = {}
  for name, (nms_case, frames, seconds, interval, top_k) in POST_CASES.items():
    if nms_case is None:
      result = np.array([[-0.05, 1.2, 0.3, 0.4, 0.5, 0.6, 0.036]])
      params = {'alpha': 0.4, 'low_threshold': 0.5, 'high_threshold': 0.9}
    else:
      result = arrays[f'nms/{nms_case}/proposals']
      params = {k: v for k, v in out_params(nms_case).items() if k != 'top_k'}
    top_k = top_k or out_params(nms_case or 'bmn_like')['top_k']
    arrays[f'post/{name}/result'] = result
    info = {'video_name': f'v_{name}', 'duration_frame': frames, 'duration_second': seconds}
    kwargs = dict(soft_nms_alpha=params['alpha'], soft_nms_low_threshold=params['low_threshold'],
                  soft_nms_high_threshold=params['high_threshold'],
                  post_process_top_k=top_k, feature_extraction_interval=interval)

    def compute(mode, result=result, info=info, kwargs=kwargs):
      with np.errstate(all='ignore'):
        return mm_post_processing(wrap(result, mode), dict(info), **kwargs)

    out[name] = {'video_info': info, 'kwargs': kwargs, **both(compute)}
  return out


def out_params(nms_case):
  _, _, _, _, _, alpha, low, high, top_k = NMS_CASES[nms_case]
  return {'alpha': alpha, 'low_threshold': low, 'high_threshold': high, 'top_k': top_k}


# ------------------------------------------------------------------ BMN / PEM / TEM test paths
def no_ties(values):
  values = np.asarray(values).ravel()
  assert len(np.unique(values)) == len(values), 'tied scores in a network-driven case'


def run_bmn(rng, arrays):
  out = {}
  cases = {
      'default_t40': (40, dict(soft_nms_alpha=0.4, soft_nms_low_threshold=0.5,
                               soft_nms_high_threshold=0.9, post_process_top_k=100)),
      'small_t16': (16, dict(soft_nms_alpha=0.75, soft_nms_low_threshold=0.3,
                             soft_nms_high_threshold=0.8, post_process_top_k=5,
                             feature_extraction_interval=8)),
  }
  captured = {}

  def capture(result, *args, **kwargs):
    captured['candidates'] = np.array(result)
    return mm_pp_original(result, *args, **kwargs)

  mm_pp_original = mm_bmn_module.post_processing
  mm_bmn_module.post_processing = capture
  try:
    for name, (tscale, params) in cases.items():
      model = build_localizer(dict(type='BMN', temporal_dim=tscale, boundary_ratio=0.5,
                                   num_samples=4, num_samples_per_bin=2, feat_dim=8,
                                   hidden_dim_1d=8, hidden_dim_2d=8, hidden_dim_3d=8,
                                   **params)).eval()
      start = rng.random((1, tscale)).astype(np.float32)
      end = rng.random((1, tscale)).astype(np.float32)
      conf = rng.random((1, 2, tscale, tscale)).astype(np.float32)
      model._forward = lambda x, c=conf, s=start, e=end: (torch.from_numpy(c),
                                                           torch.from_numpy(s),
                                                           torch.from_numpy(e))
      info = video_info(rng, f'v_bmn_{name}')
      info['video_name'] = f'v_bmn_{name}'
      with torch.no_grad():
        output = model.forward_test(torch.zeros(1, 8, tscale), [info])
      no_ties(captured['candidates'][:, -1])
      arrays[f'bmn/{name}/start'], arrays[f'bmn/{name}/end'] = start[0], end[0]
      arrays[f'bmn/{name}/confidence_map'] = conf[0]
      arrays[f'bmn/{name}/candidates'] = captured['candidates']
      out[name] = {'params': {'feature_extraction_interval': 16, **params},
                   'video_info': {k: info[k] for k in ('video_name', 'duration_frame',
                                                       'duration_second')},
                   'output': output}
  finally:
    mm_bmn_module.post_processing = mm_pp_original
  return out


def run_pem(rng, arrays):
  out = {}
  params = dict(soft_nms_alpha=0.75, soft_nms_low_threshold=0.65, soft_nms_high_threshold=0.9,
                post_process_top_k=100)
  model = build_localizer(dict(type='PEM', pem_feat_dim=32, pem_hidden_dim=8, pem_u_ratio_m=1,
                               pem_u_ratio_l=2, pem_high_temporal_iou_threshold=0.6,
                               pem_low_temporal_iou_threshold=0.2, **params)).eval()
  for name, n in (('n300', 300), ('n40', 40)):
    tmin = rng.uniform(0, 0.9, n).astype(np.float32)
    tmax = (tmin + rng.uniform(0.01, 0.3, n)).astype(np.float32)
    tmin_score, tmax_score = (rng.random(n).astype(np.float32) for _ in range(2))
    pem_output = rng.random((n, 1)).astype(np.float32)
    model._forward = lambda x, p=pem_output: torch.from_numpy(p)
    info = video_info(rng, f'v_pem_{name}')
    info['video_name'] = f'v_pem_{name}'
    tensors = [torch.from_numpy(a)[None] for a in (tmin, tmax, tmin_score, tmax_score)]
    with torch.no_grad():
      output = model.forward_test(torch.zeros(1, n, 32), *tensors, [info])
    no_ties(pem_output[:, 0] * tmin_score * tmax_score)
    for key, value in (('tmin', tmin), ('tmax', tmax), ('tmin_score', tmin_score),
                       ('tmax_score', tmax_score), ('pem_output', pem_output[:, 0])):
      arrays[f'pem/{name}/{key}'] = value
    out[name] = {'params': {'feature_extraction_interval': 16, **params},
                 'video_info': {k: info[k] for k in ('video_name', 'duration_frame',
                                                     'duration_second')},
                 'output': output}
  return out


def tem_outputs(rng, batch, tscale, levels=0):
  if levels:
    return (rng.integers(0, levels + 1, size=(batch, 3, tscale)) / levels).astype(np.float32)
  return rng.random((batch, 3, tscale)).astype(np.float32)


def run_tem(model_cfg_tscale, outputs, names):
  model = build_localizer(dict(type='TEM', temporal_dim=model_cfg_tscale, boundary_ratio=0.1,
                               tem_feat_dim=8, tem_hidden_dim=8,
                               tem_match_threshold=0.5)).eval()
  model._forward = lambda x: torch.from_numpy(outputs)
  metas = [{'video_name': n} for n in names]
  with torch.no_grad():
    return model.forward_test(torch.zeros(len(names), 8, model_cfg_tscale), metas)


# ------------------------------------------------------------------ PGM
PGM_CASES = {
    # name: (temporal_scale, videos, tie levels, peak_threshold, feature config, stored rows)
    'ties_t16': (16, 3, 8, 0.5, {}, None),
    'cont_t24': (24, 2, 0, 0.4, dict(top_k=25, bsp_boundary_ratio=0.3, num_sample_start=4,
                                     num_sample_end=5, num_sample_action=7,
                                     num_sample_interp=2), None),
    'bsn_t100': (100, 1, 0, 0.5, dict(top_k=30), 64),
}


def run_pgm(rng, arrays, work):
  out = {}
  tool = runpy.run_path(str(TOOLS / 'misc' / 'bsn_proposal_generation.py'))
  for name, (tscale, num_videos, levels, peak, feature_cfg, stored) in PGM_CASES.items():
    root = work / 'pgm' / name
    names = [f'v_{name}_{i}' for i in range(num_videos)]
    infos = {n: video_info(rng, n) for n in names}
    ann_file = root / 'anno.json'
    root.mkdir(parents=True)
    ann_file.write_text(json.dumps(infos))
    video_infos = [dict(copy.deepcopy(info), video_name=n) for n, info in infos.items()]

    outputs = tem_outputs(rng, num_videos, tscale, levels)
    tem = run_tem(tscale, outputs, names)
    tem_dir = root / 'tem_results'
    ActivityNetDataset.dump_results(None, tem, str(tem_dir), 'csv')
    arrays[f'pgm/{name}/tem_output'] = outputs
    for video, rows in tem:
      arrays[f'pgm/{name}/tem/{video}'] = rows

    def candidates(mode, video_infos=video_infos, tem_dir=tem_dir, tscale=tscale, peak=peak):
      props = mm_bsn.generate_candidate_proposals(range(len(video_infos)), video_infos,
                                                  str(tem_dir), tscale, peak)
      found = {}
      for video, rows in props.items():
        rows = plain(rows)
        arrays[f'pgm/{name}/{mode}/proposals/{video}'] = rows[:stored]
        found[video] = {'rows': len(rows)}
        if levels == 0:
          no_ties(rows[:, 4])
      return found

    case = {'temporal_scale': tscale, 'peak_threshold': peak, 'feature_cfg': feature_cfg,
            'videos': names, 'video_infos': infos, 'stored_rows': stored,
            'candidates': both(candidates)}
    # MMAction2's tool (stable sorting, so its files are the 'stable' variant).
    proposals_dir, features_dir = root / 'pgm_proposals', root / 'pgm_features'
    with sorting('stable'), contextlib.redirect_stdout(io.StringIO()):
      tool['generate_proposals'](str(ann_file), str(tem_dir), str(proposals_dir),
                                 pgm_proposals_thread=2, temporal_scale=tscale,
                                 peak_threshold=peak)
      tool['generate_features'](str(ann_file), str(tem_dir), str(proposals_dir),
                                str(features_dir), pgm_features_thread=2, **feature_cfg)
    files = {}
    for video in names:
      files[video] = {'tem_csv': sha256(tem_dir / f'{video}.csv'),
                      'proposal_csv': sha256(proposals_dir / f'{video}.csv')}
      loaded = np.loadtxt(proposals_dir / f'{video}.csv', dtype=np.float32, delimiter=',',
                          skiprows=1)
      direct = mm_bsn.generate_candidate_proposals([names.index(video)], video_infos,
                                                   str(tem_dir), tscale, peak)[video]
      if levels == 0:
        assert np.array_equal(loaded, direct.astype(np.float32))
      arrays[f'pgm/{name}/features/{video}'] = np.load(features_dir / f'{video}.npy')
    # The default feature configuration straight from bsn_utils as well.
    default = mm_bsn.generate_bsp_feature(range(len(video_infos)), video_infos, str(tem_dir),
                                          str(proposals_dir))
    for video, feats in default.items():
      arrays[f'pgm/{name}/default_features/{video}'] = feats[:40]
    case['files'] = files
    case['header'] = {'tem': (tem_dir / f'{names[0]}.csv').read_text().splitlines()[0],
                      'proposals': (proposals_dir /
                                    f'{names[0]}.csv').read_text().splitlines()[0]}
    out[name] = case
  return out


# ------------------------------------------------------------------ dataset evaluate + tools
LABELS = ['Rock climbing', 'Drinking beer', 'Long jump', 'Zumba', 'Playing violin']


def run_dataset(rng, arrays, golden, work):
  names = [f'v_{i:02d}{"ab"[i % 2]}x' for i in range(10)]
  database = {n: video_info(rng, n, labels=LABELS) for n in names}
  (golden / 'anet_anno.json').write_text(json.dumps(database, indent=1) + '\n')
  dataset = ActivityNetDataset(str(golden / 'anet_anno.json'), [])
  results = []
  for n in names:
    info = database[n]
    k = int(rng.integers(5, 40))
    seconds = info['duration_second']
    rows = []
    for a in info['annotations'][:k // 2]:  # moved copies of the ground truth
      s, e = a['segment']
      jitter = rng.normal(0, 0.08 * (e - s), size=2)
      rows.append([max(0.0, s + jitter[0]), min(seconds, e + jitter[1])])
    while len(rows) < k:
      s = float(rng.uniform(0, seconds))
      rows.append([s, min(seconds, s + float(rng.uniform(0.5, seconds / 2)))])
    scores = rng.random(k)
    proposal_list = [{'score': float(sc), 'segment': [float(r[0]), float(r[1])]}
                     for r, sc in zip(rows, scores)]
    proposal_list.sort(key=lambda p: -p['score'])
    results.append({'video_name': n, 'proposal_list': proposal_list})
    arrays[f'evaluate/proposals/{n}'] = np.array(
        [[p['segment'][0], p['segment'][1], p['score']] for p in proposal_list])
  with contextlib.redirect_stdout(io.StringIO()):
    evaluations = {
        'default': dataset.evaluate(results),
        'custom': dataset.evaluate(results, metrics=['AR@AN'], metric_options={
            'AR@AN': dict(max_avg_proposals=10, temporal_iou_thresholds=[0.3, 0.5, 0.7])}),
        'partial_options': dataset.evaluate(results, metric_options={
            'AR@AN': dict(max_avg_proposals=50)}),
    }
    out_json = work / 'results.json'
    dataset.dump_results(results, str(out_json), 'json')
  shutil.copy(out_json, work / 'proposals_for_report.json')
  return {'videos': names, 'evaluate': evaluations, 'dump_sha256': sha256(out_json),
          'dump_head': out_json.read_text()[:200]}


def run_report_map(rng, golden, work):
  database = json.loads((golden / 'anet_anno.json').read_text())
  names = list(database)
  cls = {'version': 'VERSION 1.3', 'results': {}, 'external_data': {}}
  for i, n in enumerate(names):
    scores = rng.random(len(LABELS)).round(3)
    if i % 3:  # mostly right: the first ground-truth class is the top-1
      scores[LABELS.index(database[n]['annotations'][0]['label'])] = 0.995
    if i == 3:  # tied top scores: the later class is the top-1
      scores[1] = scores[4] = 0.999
    cls['results'][n[2:]] = [{'label': lab, 'score': float(s)} for lab, s in zip(LABELS, scores)]
  (golden / 'cls_results.json').write_text(json.dumps(cls, indent=1) + '\n')
  run_dir = work / 'report_map'
  run_dir.mkdir()
  shutil.copy(golden / 'cls_results.json', run_dir / 'cuhk_anet17_pred.json')
  argv = ['report_map.py', '--proposal', str(work / 'proposals_for_report.json'), '--gt',
          str(golden / 'anet_anno.json'), '--det-output', str(run_dir / 'det_result.json')]
  printed = io.StringIO()
  cwd, saved_argv = os.getcwd(), sys.argv
  try:
    os.chdir(run_dir)
    sys.argv = argv
    with contextlib.redirect_stdout(printed):
      runpy.run_path(str(TOOLS / 'analysis' / 'report_map.py'), run_name='__main__')
  finally:
    os.chdir(cwd)
    sys.argv = saved_argv
  from mmaction.core import ActivityNetLocalization
  detection = ActivityNetLocalization(str(golden / 'anet_anno.json'),
                                      str(run_dir / 'det_result.json'))
  m_ap, average = detection.evaluate()
  return {'det_result_sha256': sha256(run_dir / 'det_result.json'),
          'printed': printed.getvalue()[printed.getvalue().index('[RESULTS]'):].splitlines(),
          'mAP': m_ap,
          'average_mAP': average, 'ap': detection.ap}


def run_convert(golden, work):
  # Class 0 is a real class here, so the 'best-IoU class is 0' rule is exercised.
  (golden / 'activity_index.txt').write_text('\n'.join(LABELS) + '\n')
  out = golden / 'formatted_proposals.txt'
  argv = ['convert_proposal_format.py', '--ann-file', str(golden / 'anet_anno.json'),
          '--activity-index-file', str(golden / 'activity_index.txt'), '--proposal-file',
          str(work / 'proposals_for_report.json'), '--formatted-proposal-file', str(out)]
  saved_argv = sys.argv
  try:
    sys.argv = argv
    runpy.run_path(str(TOOLS / 'data' / 'activitynet' / 'convert_proposal_format.py'),
                   run_name='__main__')
  finally:
    sys.argv = saved_argv
  return {'sha256': sha256(out), 'lines': len(out.read_text().splitlines())}


def run_process_annotations(rng, golden, work):
  folder = golden / 'process_annotations'
  folder.mkdir(exist_ok=True)
  subsets = ['training', 'validation', 'testing', 'training', 'validation', 'training',
             'testing', 'validation']
  action, lines = {}, ['video,numFrame,seconds,fps,rfps,subset,featureFrame']
  for i, subset in enumerate(subsets):
    name = f'v_pa{i:02d}-x_Y'
    info = video_info(rng, name, labels=LABELS)
    fps, rfps = info.pop('fps'), info.pop('rfps')
    action[name] = info
    lines.append(f"{name},{info['duration_frame']},{info['duration_second']},{fps},"
                 f"{rfps:.10f},{subset},{info['feature_frame']}")
  action['v_not_in_csv'] = video_info(rng, 'v_not_in_csv', labels=LABELS)
  (folder / 'anet_anno_action.json').write_text(json.dumps(action) + '\n')
  (folder / 'video_info_new.csv').write_text('\n'.join(lines) + '\n')
  # The script reads and writes ../../../data/ActivityNet relative to where it runs.
  data = work / 'pa' / 'data' / 'ActivityNet'
  data.mkdir(parents=True)
  shutil.copy(folder / 'anet_anno_action.json', data)
  shutil.copy(folder / 'video_info_new.csv', data)
  run_dir = work / 'pa' / 'tools' / 'data' / 'activitynet'
  run_dir.mkdir(parents=True)
  printed = io.StringIO()
  cwd = os.getcwd()
  try:
    os.chdir(run_dir)
    with contextlib.redirect_stdout(printed):
      runpy.run_path(str(TOOLS / 'data' / 'activitynet' / 'process_annotations.py'),
                     run_name='__main__')
  finally:
    os.chdir(cwd)
  for subset in ('train', 'val', 'test', 'full'):
    shutil.copy(data / f'anet_anno_{subset}.json', folder / f'expected_anet_anno_{subset}.json')
  return {'printed': printed.getvalue().splitlines()}


def main():
  golden = golden_dir(__doc__, 'localization')
  rng = np.random.default_rng(SEED)
  torch.manual_seed(0)
  arrays = {}
  with tempfile.TemporaryDirectory() as tmp:
    work = Path(tmp)
    cases = {
        'iou': run_iou(rng, arrays),
        'nms': run_nms(rng, arrays),
    }
    cases['post'] = run_post(rng, arrays)
    cases['bmn'] = run_bmn(rng, arrays)
    cases['pem'] = run_pem(rng, arrays)
    tem_batch = tem_outputs(rng, 2, 12)
    arrays['tem/output'] = tem_batch
    tem = run_tem(12, tem_batch, ['v_tem_0', 'v_tem_1'])
    for video, rows in tem:
      arrays[f'tem/results/{video}'] = rows
    cases['pgm'] = run_pgm(rng, arrays, work)
    cases['dataset'] = run_dataset(rng, arrays, golden, work)
    cases['report_map'] = run_report_map(rng, golden, work)
    cases['convert'] = run_convert(golden, work)
    cases['process_annotations'] = run_process_annotations(rng, golden, work)

  meta = {'seed': SEED, 'mmaction2': mmaction.__version__, 'mmcv': mmcv.__version__,
          'torch': torch.__version__, 'numpy': np.__version__,
          'python': sys.version.split()[0],
          'generator': 'tests/reference/make_golden_localization.py'}
  np.savez_compressed(golden / 'arrays.npz', **arrays)
  (golden / 'cases.json').write_text(json.dumps(jsonable(cases), indent=1) + '\n')
  (golden / 'meta.json').write_text(json.dumps(meta) + '\n')

  report = []
  for group in ('nms', 'post'):
    for name, case in cases[group].items():
      if group == 'nms':
        same = np.array_equal(arrays[f'nms/{name}/raw'], arrays[f'nms/{name}/stable'],
                              equal_nan=True)
      else:
        same = json.dumps(jsonable(case['raw'])) == json.dumps(jsonable(case['stable']))
      report.append(f'{group}/{name}: raw {"==" if same else "!="} stable')
  for name, case in cases['pgm'].items():
    same = all(np.array_equal(arrays[f'pgm/{name}/raw/proposals/{v}'],
                              arrays[f'pgm/{name}/stable/proposals/{v}'])
               for v in case['videos'])
    report.append(f'pgm/{name}: raw {"==" if same else "!="} stable')
  print('\n'.join(report))
  size = sum(f.stat().st_size for f in golden.rglob('*') if f.is_file())
  print(f'wrote {golden}: {size / 1024:.0f} KiB')


if __name__ == '__main__':
  main()
