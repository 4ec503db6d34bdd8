"""BSN's proposal generation module (PGM), as MMAction2 0.24.1's ``bsn_utils`` (numpy).

Stage 2 of BSN (TEM -> PGM -> PEM): from each video's TEM output (``tem_results/<video>.csv``,
columns ``action, start, end, tmin, tmax``) it builds candidate proposals (start and end bins
that are peaks or high, every start before every end) and their boundary-sensitive proposal
(BSP) features, the PEM's input. The file-based functions take MMAction2's arguments and read
and write its CSV layouts; ``candidate_proposals`` and ``bsp_features`` are the same on arrays.

Numeric detail: MMAction2 ran under numpy 1.x, where a float32 scalar times a Python float is
float64; the sample times are computed in float64 from the float32 values it loads, as there.
"""

from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import os
import os.path as osp
from typing import Any, Mapping, Sequence

import numpy as np

from vjax.evaluation.metrics import descending_order
from vjax.localization.proposals import boundary_bins, temporal_iop, temporal_iou

__all__ = [
    'PGM_PROPOSAL_HEADER', 'TEM_HEADER', 'bsp_features', 'candidate_proposals',
    'generate_bsp_feature', 'generate_candidate_proposals', 'generate_features',
    'generate_proposals', 'load_csv', 'load_video_infos', 'write_csv'
]

TEM_HEADER = 'action,start,end,tmin,tmax'
PGM_PROPOSAL_HEADER = 'tmin,tmax,tmin_score,tmax_score,score,match_iou,match_ioa'


def load_csv(path: str) -> np.ndarray:
  """A TEM-result or PGM-proposal CSV (one header line) as float32 ``(rows, columns)``."""
  return np.loadtxt(path, dtype=np.float32, delimiter=',', skiprows=1, ndmin=2)


def write_csv(path: str, array, header: str) -> None:
  """Writes ``array`` as MMAction2 does (``np.savetxt``: header line, ``%.18e``)."""
  np.savetxt(path, np.asarray(array), header=header, delimiter=',', comments='')


def load_video_infos(ann_file) -> list[dict]:
  """ActivityNet-style annotation JSON -> list of video infos (each gets its ``video_name``);
  a list of infos (a data source's ``video_infos``) is returned as is."""
  if not isinstance(ann_file, (str, os.PathLike)):
    return list(ann_file)
  with open(ann_file) as f:
    database = json.load(f)
  return [dict(info, video_name=name) for name, info in database.items()]


def _csv_only(*extensions: str) -> None:
  if any(ext != '.csv' for ext in extensions):
    raise NotImplementedError('Only support csv format now.')


# ------------------------------------------------------------------ candidate proposals
def candidate_proposals(tem_result, video_info: Mapping[str, Any], temporal_scale: int,
                        peak_threshold: float, match_ground_truth: bool = True) -> np.ndarray:
  """One video's PGM candidates from its TEM output.

  Args:
    tem_result: ``(T, >=3)`` TEM rows; columns 1 and 2 are the start and end probabilities.
    video_info: ``duration_frame``, ``duration_second``, ``feature_frame`` and
      ``annotations`` (``segment`` in seconds); the ground truth is rescaled to the seconds
      the features cover.
    temporal_scale: bins; bin i is centred at ``(i + 0.5) / temporal_scale``.
    peak_threshold: a bin is a boundary when it is a local peak, above this fraction of the
      maximum, or the first or last bin.
    match_ground_truth: False for a video without annotations (single-video inference):
      ``match_iou`` and ``match_ioa`` are then 0 instead of an error.

  Returns:
    ``(n, 7)`` float64 rows ``[tmin, tmax, tmin_score, tmax_score, score, match_iou,
    match_ioa]`` by descending ``score = tmin_score * tmax_score``; ``match_iou`` /
    ``match_ioa``: the best IoU / intersection-over-proposal with any ground truth.
  """
  tem_result = np.asarray(tem_result)
  start_scores, end_scores = tem_result[:, 1], tem_result[:, 2]
  start_bins = boundary_bins(start_scores, temporal_scale, peak_threshold)
  end_bins = boundary_bins(end_scores, temporal_scale, peak_threshold)
  start_bins[[0, -1]] = 1
  end_bins[[0, -1]] = 1

  gap = 1. / temporal_scale
  bins = np.arange(temporal_scale)
  centres = gap / 2 + gap * bins
  starts = bins[start_bins[:temporal_scale] == 1]
  ends = bins[end_bins[:temporal_scale] == 1]
  # For each end bin (ascending), every start bin whose time is earlier.
  end_index, start_index = np.meshgrid(ends, starts, indexing='ij')
  earlier = centres[start_index] < centres[end_index]
  start_index, end_index = start_index[earlier], end_index[earlier]
  tmin_score = start_scores[start_index].astype(np.float64)
  tmax_score = end_scores[end_index].astype(np.float64)
  props = np.stack([centres[start_index], centres[end_index], tmin_score, tmax_score,
                    tmin_score * tmax_score], axis=1)
  props = props[descending_order(props[:, -1])]

  if not match_ground_truth:
    return np.concatenate([props, np.zeros((len(props), 2))], axis=1)
  corrected_second = (float(video_info['feature_frame']) / video_info['duration_frame'] *
                      video_info['duration_second'])
  gt_tmin = np.array([a['segment'][0] / corrected_second for a in video_info['annotations']])
  gt_tmax = np.array([a['segment'][1] / corrected_second for a in video_info['annotations']])
  if len(gt_tmin) == 0:
    raise ValueError(f"video {video_info.get('video_name', '?')} has no annotations: PGM "
                     'matches every candidate with the ground truth')
  tmin, tmax = props[:, 0:1], props[:, 1:2]
  match_iou = temporal_iou(tmin, tmax, gt_tmin[None], gt_tmax[None]).max(axis=1)
  match_ioa = temporal_iop(tmin, tmax, gt_tmin[None], gt_tmax[None]).max(axis=1)
  return np.concatenate([props, match_iou[:, None], match_ioa[:, None]], axis=1)


def generate_candidate_proposals(video_list: Sequence[int],
                                 video_infos: Sequence[Mapping[str, Any]],
                                 tem_results_dir: str,
                                 temporal_scale: int,
                                 peak_threshold: float,
                                 tem_results_ext: str = '.csv',
                                 result_dict: dict | None = None) -> dict[str, np.ndarray]:
  """``candidate_proposals`` of ``video_infos[i]`` for each i in ``video_list``, reading
  ``tem_results_dir/<video_name><tem_results_ext>``; ``{video_name: proposals}`` (also put
  into ``result_dict`` when given)."""
  _csv_only(tem_results_ext)
  proposal_dict = {}
  for index in video_list:
    info = video_infos[index]
    name = info['video_name']
    tem_result = load_csv(osp.join(tem_results_dir, name + tem_results_ext))
    proposal_dict[name] = candidate_proposals(tem_result, info, temporal_scale, peak_threshold)
    if result_dict is not None:
      result_dict[name] = proposal_dict[name]
  return proposal_dict


# ------------------------------------------------------------------ BSP features
def _sampled_means(t_first, step, num_samples, num_sample_interp, t_points, score_action):
  """Mean actionness over ``num_samples`` windows of ``num_sample_interp + 1`` interpolated
  points each (windows share their end points); one row per proposal."""
  sub = step / num_sample_interp
  t_new = (t_first - step / 2)[:, None] + sub[:, None] * np.arange(
      num_samples * num_sample_interp + 1)
  values = np.interp(t_new, t_points, score_action)
  windows = (np.arange(num_samples)[:, None] * num_sample_interp +
             np.arange(num_sample_interp + 1)[None, :])
  return values[:, windows].mean(axis=-1)


def bsp_features(tem_result, pgm_proposals, top_k: int = 1000, bsp_boundary_ratio: float = 0.2,
                 num_sample_start: int = 8, num_sample_end: int = 8,
                 num_sample_action: int = 16, num_sample_interp: int = 3) -> np.ndarray:
  """Boundary-sensitive proposal features of one video's first ``top_k`` proposals.

  Args:
    tem_result: ``(T, 5)`` TEM rows (``action, start, end, tmin, tmax``), as loaded (float32).
    pgm_proposals: ``(n, >=2)`` proposals ``[tmin, tmax, ...]``, as loaded (float32).
    top_k: proposals used (the first ones: PGM writes them best first).
    bsp_boundary_ratio: the start / end regions reach this fraction of the proposal's length
      to either side of its start / end.
    num_sample_start, num_sample_end, num_sample_action: samples of the actionness curve
      (zero outside the video) in the start region, end region and the proposal itself; each
      sample is the mean of ``num_sample_interp + 1`` linearly interpolated points.

  Returns:
    ``(min(n, top_k), num_sample_action + num_sample_start + num_sample_end)`` float64
    features: action samples, then start, then end.
  """
  tem_result = np.asarray(tem_result)
  score_action = tem_result[:, 0]
  seg_tmins, seg_tmaxs = tem_result[:, 3], tem_result[:, 4]
  video_scale = len(tem_result)
  gap = float(seg_tmaxs[0] - seg_tmins[0])  # in the TEM output's float type, then float64
  extend = int(video_scale / 4 + 10)
  score_action = np.concatenate((np.zeros(extend), score_action, np.zeros(extend)))
  t_points = np.concatenate((-gap / 2 - np.arange(extend - 1, -1, -1) * gap,
                             gap / 2 + np.arange(video_scale) * gap,
                             gap / 2 + float(seg_tmaxs[-1]) + np.arange(extend) * gap))

  pgm_proposals = np.asarray(pgm_proposals)
  pgm_proposals = pgm_proposals.reshape(-1, pgm_proposals.shape[-1])[:top_k]
  num_features = num_sample_action + num_sample_start + num_sample_end
  if len(pgm_proposals) == 0:
    return np.zeros((0, num_features))
  tmin, tmax = pgm_proposals[:, 0], pgm_proposals[:, 1]
  length = (tmax - tmin).astype(np.float64)  # the proposals' float type, then float64
  tmin, tmax = tmin.astype(np.float64), tmax.astype(np.float64)
  tmin_0, tmin_1 = tmin - length * bsp_boundary_ratio, tmin + length * bsp_boundary_ratio
  tmax_0, tmax_1 = tmax - length * bsp_boundary_ratio, tmax + length * bsp_boundary_ratio
  args = (num_sample_interp, t_points, score_action)
  start = _sampled_means(tmin_0, (tmin_1 - tmin_0) / (num_sample_start - 1), num_sample_start,
                         *args)
  end = _sampled_means(tmax_0, (tmax_1 - tmax_0) / (num_sample_end - 1), num_sample_end, *args)
  action = _sampled_means(tmin, length / (num_sample_action - 1), num_sample_action, *args)
  return np.concatenate([action, start, end], axis=1)


def generate_bsp_feature(video_list: Sequence[int],
                         video_infos: Sequence[Mapping[str, Any]],
                         tem_results_dir: str,
                         pgm_proposals_dir: str,
                         top_k: int = 1000,
                         bsp_boundary_ratio: float = 0.2,
                         num_sample_start: int = 8,
                         num_sample_end: int = 8,
                         num_sample_action: int = 16,
                         num_sample_interp: int = 3,
                         tem_results_ext: str = '.csv',
                         pgm_proposal_ext: str = '.csv',
                         result_dict: dict | None = None) -> dict[str, np.ndarray]:
  """``bsp_features`` of ``video_infos[i]`` for each i in ``video_list``, reading the TEM
  results and PGM proposals of each video from their folders; ``{video_name: features}``
  (also put into ``result_dict`` when given)."""
  _csv_only(tem_results_ext, pgm_proposal_ext)
  feature_dict = {}
  for index in video_list:
    name = video_infos[index]['video_name']
    tem_result = load_csv(osp.join(tem_results_dir, name + tem_results_ext))
    proposals = load_csv(osp.join(pgm_proposals_dir, name + pgm_proposal_ext))
    feature_dict[name] = bsp_features(tem_result, proposals, top_k, bsp_boundary_ratio,
                                      num_sample_start, num_sample_end, num_sample_action,
                                      num_sample_interp)
    if result_dict is not None:
      result_dict[name] = feature_dict[name]
  return feature_dict


# ------------------------------------------------------------------ whole-dataset drivers
def _chunks(num_videos: int, workers: int) -> list[range]:
  """MMAction2's split: ``workers - 1`` equal chunks, the last one takes the rest."""
  per = num_videos // workers
  return [range(i * per, (i + 1) * per) for i in range(workers - 1)] + [
      range((workers - 1) * per, num_videos)]


def _run_parallel(fn, video_infos, workers: int, *args, **kwargs) -> dict:
  results = {}
  chunks = [c for c in _chunks(len(video_infos), max(1, workers)) if len(c)]
  if max(1, workers) == 1 or len(chunks) <= 1:
    for chunk in chunks:
      results.update(fn(chunk, video_infos, *args, **kwargs))
    return results
  context = multiprocessing.get_context('spawn')  # no forked copies of a threaded parent
  with concurrent.futures.ProcessPoolExecutor(len(chunks), mp_context=context) as pool:
    futures = [pool.submit(fn, chunk, video_infos, *args, **kwargs) for chunk in chunks]
    for future in futures:
      results.update(future.result())
  return results


def generate_proposals(ann_file, tem_results_dir: str, pgm_proposals_dir: str,
                       pgm_proposals_thread: int = 1, **kwargs) -> dict[str, np.ndarray]:
  """PGM proposals of every video of ``ann_file`` (a JSON path or a list of video infos)
  into ``pgm_proposals_dir/<video>.csv`` (``pgm_proposals_thread`` processes; ``kwargs``:
  ``generate_candidate_proposals``'s)."""
  video_infos = load_video_infos(ann_file)
  results = _run_parallel(generate_candidate_proposals, video_infos, pgm_proposals_thread,
                          tem_results_dir, **kwargs)
  os.makedirs(pgm_proposals_dir, exist_ok=True)
  for name, proposals in results.items():
    write_csv(osp.join(pgm_proposals_dir, name + '.csv'), proposals, PGM_PROPOSAL_HEADER)
  return results


def generate_features(ann_file, tem_results_dir: str, pgm_proposals_dir: str,
                      pgm_features_dir: str, pgm_features_thread: int = 1,
                      **kwargs) -> dict[str, np.ndarray]:
  """BSP features of every video of ``ann_file`` (a JSON path or a list of video infos)
  into ``pgm_features_dir/<video>.npy`` (``pgm_features_thread`` processes; ``kwargs``:
  ``generate_bsp_feature``'s)."""
  video_infos = load_video_infos(ann_file)
  results = _run_parallel(generate_bsp_feature, video_infos, pgm_features_thread,
                          tem_results_dir, pgm_proposals_dir, **kwargs)
  os.makedirs(pgm_features_dir, exist_ok=True)
  for name, features in results.items():
    np.save(osp.join(pgm_features_dir, name + '.npy'), features)
  return results
