"""Temporal action localization ops (ActivityNet features): ``LoadLocalizationFeature``,
``GenerateLocalizationLabels`` and ``LoadProposals``, as MMAction2 0.24.1's.

Their outputs vary in length per video (ground-truth segments, PGM proposals), so a pipeline
pads them to a maximum with ``PadTo`` before ``Collect``; the loader then stacks every batch
with one shape (``docs/tasks.md``, "The batch contract"). BMN / BSN-TEM pipelines::

    dict(type='LoadLocalizationFeature'),
    dict(type='GenerateLocalizationLabels'),
    dict(type='PadTo', sizes=dict(gt_bbox=MAX_GT), mask_keys=dict(gt_bbox='gt_mask')),
    dict(type='Collect', keys=['raw_feature', 'gt_bbox', 'gt_mask'], ...)

and BSN-PEM's, with one mask shared by the proposal fields::

    dict(type='LoadProposals', top_k=TOP_K, pgm_proposals_dir=..., pgm_features_dir=...),
    dict(type='PadTo', sizes={k: TOP_K for k in PROPOSAL_KEYS},
         mask_keys={k: 'proposal_mask' for k in PROPOSAL_KEYS}),
"""

from __future__ import annotations

import os.path as osp

import numpy as np

from vjax.data.ops_base import PIPELINES

# What LoadProposals adds, one row per proposal (pad them together, see the module doc).
PROPOSAL_KEYS = ("bsp_feature", "reference_temporal_iou", "tmin", "tmax", "tmin_score",
                 "tmax_score")

_FEATURE_HELP = (
    "ActivityNet features come from MMAction2's tools/data/activitynet: download_features.sh "
    "(CUHK's csv_mean_100, one csv per video, a header line and 100 rows of 400 values) or "
    "tsn_feature_extraction.py + activitynet_feature_postprocessing.py (mmaction_feat/); "
    "data_prefix must be that folder")
_PGM_HELP = (
    "they are written by BSN's PGM stage on the TEM results "
    "(vjax.localization.pgm.generate_proposals / generate_features, MMAction2's "
    "tools/misc/bsn_proposal_generation.py with the bsn_pgm config); check pgm_proposals_dir "
    "and pgm_features_dir")


def load_rows(path: str, what: str, help_text: str) -> np.ndarray:
  """A csv with one header line (as float32 rows, MMAction2's ``np.loadtxt``) or an .npy,
  as a 2-D float32 array; a missing or unreadable file names the path and ``help_text``."""
  if not osp.isfile(path):
    raise FileNotFoundError(f"{what} {path} not found; {help_text}")
  try:
    if path.endswith(".npy"):
      array = np.load(path, allow_pickle=False).astype(np.float32)
    else:
      array = np.loadtxt(path, dtype=np.float32, delimiter=",", skiprows=1, ndmin=2)
  except (OSError, ValueError) as e:
    raise ValueError(f"{what} {path} is unreadable ({type(e).__name__}: {e}); "
                     f"{help_text}") from None
  if array.ndim != 2:
    raise ValueError(f"{what} {path} has shape {array.shape}, expected 2-D rows; {help_text}")
  return array


def read_feature(path: str) -> np.ndarray:
  """A video's feature file (csv with a header line, or .npy) as float32 ``(T, C)``."""
  return load_rows(path, "feature file", _FEATURE_HELP)


@PIPELINES.register
class LoadLocalizationFeature:
  """Reads ``{data_prefix}/{video_name}{raw_feature_ext}`` into ``raw_feature``, float32
  ``(C, T)``: the file holds one row per temporal step (a csv with a header line, as CUHK's
  csv_mean_100 and MMAction2's activitynet_feature_postprocessing write it, or an ``(T, C)``
  .npy), transposed as MMAction2 does. ``raw_feature`` already in ``results`` (a TFDS
  localization record carries it) is kept and nothing is read.

  A missing or unreadable file raises FileNotFoundError / ValueError naming it.
  """

  def __init__(self, raw_feature_ext=".csv"):
    if raw_feature_ext not in (".csv", ".npy"):
      raise NotImplementedError(f"LoadLocalizationFeature reads '.csv' (MMAction2's) or '.npy' "
                                f"features, not {raw_feature_ext!r}")
    self.raw_feature_ext = raw_feature_ext

  def __call__(self, results: dict, rng=None) -> dict:
    if "raw_feature" in results:
      return results
    video_name = results["video_name"]
    data_prefix = results.get("data_prefix")
    if data_prefix is None:
      raise ValueError(f"LoadLocalizationFeature: video {video_name} has no data_prefix (the "
                       f"dataset's feature folder); {_FEATURE_HELP}")
    path = osp.join(data_prefix, video_name + self.raw_feature_ext)
    results["raw_feature"] = np.ascontiguousarray(read_feature(path).T)
    return results

  def __repr__(self) -> str:
    return f"{type(self).__name__}(raw_feature_ext={self.raw_feature_ext})"


def localization_labels(annotations, duration_second, duration_frame,
                        feature_frame) -> np.ndarray:
  """Ground-truth segments as fractions of the featured span, ``(K, 2)`` float32.

  The features cover the first ``feature_frame`` of ``duration_frame`` frames, i.e.
  ``feature_frame / duration_frame * duration_second`` seconds; each segment (seconds) is
  divided by that and clipped to [0, 1], in float64 as MMAction2, then stored as float32.
  """
  corrected_second = float(feature_frame) / duration_frame * duration_second
  gt_bbox = np.zeros((len(annotations), 2), np.float64)
  for i, annotation in enumerate(annotations):
    start, end = annotation["segment"]
    gt_bbox[i] = (max(min(1, start / corrected_second), 0), max(min(1, end / corrected_second), 0))
  return gt_bbox.astype(np.float32)


@PIPELINES.register
class GenerateLocalizationLabels:
  """``gt_bbox``: the video's annotated segments normalised to [0, 1] of the featured span
  (``localization_labels``), float32 ``(K, 2)``, ``(0, 2)`` for a video without annotations
  (MMAction2: float64, shape ``(0,)`` then).

  K varies per video: pad with ``PadTo(sizes=dict(gt_bbox=MAX_GT),
  mask_keys=dict(gt_bbox='gt_mask'))`` after this op (see the module doc).
  """

  def __call__(self, results: dict, rng=None) -> dict:
    results["gt_bbox"] = localization_labels(results["annotations"], results["duration_second"],
                                             results["duration_frame"], results["feature_frame"])
    return results

  def __repr__(self) -> str:
    return f"{type(self).__name__}()"


@PIPELINES.register
class LoadProposals:
  """BSN-PGM's proposals of a video for its PEM: from ``{pgm_proposals_dir}/{video_name}.csv``
  (columns tmin, tmax, tmin_score, tmax_score, score, match_iou, match_ioa) the first
  ``top_k`` rows' ``tmin``, ``tmax``, ``tmin_score``, ``tmax_score`` and
  ``reference_temporal_iou`` (match_iou), float32 ``(n,)``; from
  ``{pgm_features_dir}/{video_name}.npy`` their ``bsp_feature``, float32 ``(n, D)``.

  n <= ``top_k`` varies per video: pad every ``PROPOSAL_KEYS`` entry to ``top_k`` with one
  shared mask, ``PadTo(sizes={k: top_k ...}, mask_keys={k: 'proposal_mask' ...})``. A
  missing file, or proposal and feature files with different row counts, raise naming them.
  """

  def __init__(self, top_k, pgm_proposals_dir, pgm_features_dir, proposal_ext=".csv",
               feature_ext=".npy"):
    if proposal_ext != ".csv":
      raise NotImplementedError(f"LoadProposals reads '.csv' proposals, not {proposal_ext!r}")
    if feature_ext != ".npy":
      raise NotImplementedError(f"LoadProposals reads '.npy' features, not {feature_ext!r}")
    self.top_k = int(top_k)
    self.pgm_proposals_dir = pgm_proposals_dir
    self.pgm_features_dir = pgm_features_dir
    self.proposal_ext = proposal_ext
    self.feature_ext = feature_ext

  def __call__(self, results: dict, rng=None) -> dict:
    video_name = results["video_name"]
    proposal_path = osp.join(self.pgm_proposals_dir, video_name + self.proposal_ext)
    feature_path = osp.join(self.pgm_features_dir, video_name + self.feature_ext)
    proposals = load_rows(proposal_path, "PGM proposal file", _PGM_HELP)[:self.top_k]
    if proposals.shape[1] < 6:
      raise ValueError(f"PGM proposal file {proposal_path} has {proposals.shape[1]} columns; "
                       "expected 7 (tmin,tmax,tmin_score,tmax_score,score,match_iou,match_ioa)")
    bsp_feature = load_rows(feature_path, "PGM feature file", _PGM_HELP)[:self.top_k]
    if len(bsp_feature) != len(proposals):
      raise ValueError(f"{feature_path} has {len(bsp_feature)} BSP features but "
                       f"{proposal_path} {len(proposals)} proposals (of top_k={self.top_k}); "
                       "rerun PGM's features on these proposals")
    results["bsp_feature"] = np.ascontiguousarray(bsp_feature)
    for key, column in (("tmin", 0), ("tmax", 1), ("tmin_score", 2), ("tmax_score", 3),
                        ("reference_temporal_iou", 5)):
      results[key] = np.ascontiguousarray(proposals[:, column])
    return results

  def __repr__(self) -> str:
    return (f"{type(self).__name__}(top_k={self.top_k}, "
            f"pgm_proposals_dir={self.pgm_proposals_dir}, "
            f"pgm_features_dir={self.pgm_features_dir}, proposal_ext={self.proposal_ext}, "
            f"feature_ext={self.feature_ext})")
