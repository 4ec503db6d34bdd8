"""``SSNDataset``: MMAction2 0.24.1's proposal dataset for Structured Segment Networks (THUMOS14),
reading a TAG proposal file and MMAction2's rawframe folders.

Training (``test_mode=False``): every video (with ground truth) is one sample; ``sample(i,
rng)`` draws ``train_cfg.ssn.sampler.num_per_video`` proposals from it (positives, incompletes,
backgrounds in MMAction2's proportions and order; from the whole dataset's pools when the
video has none of a kind), so every sample has the same number of proposals and the batch has
static shapes. It sets ``out_proposals`` (``(P, 2)`` ``[start, end)`` frames, which
``SampleProposalFrames`` samples), ``proposal_scale_factor``, ``proposal_labels``,
``proposal_type`` and ``reg_targets`` (positives' normalised by ``reg_norm_consts``).

Testing (``test_mode=True``): MMAction2 scores every ``test_interval``-th frame (tick) of a
video in one sample, so the number of frames varies with the video's length (THUMOS14's
longest test videos have thousands of ticks). Here ``test_ticks_per_sample`` cuts each video
into chunks of that many ticks, one sample each (``test_tick_range``), padded to that size in
the pipeline (``PadTo``), so one compiled predict step serves every video with bounded memory;
the per-tick scores are independent of each other, and the evaluator puts a video's chunks
back together (``video_chunks``) before the test STPP pooling over its proposals
(``test_inputs``: MMAction2's ``relative_proposal_list``, ``scale_factor_list``,
``proposal_tick_list``, ``reg_norm_consts``). ``test_ticks_per_sample=None`` is MMAction2's
one sample per video (variable length). ``evaluate`` is MMAction2's ``SSNDataset.evaluate``.
"""

from __future__ import annotations

import collections
import logging
import os.path as osp
import warnings
from typing import Any, Mapping, Sequence

import numpy as np

from vjax.data.ops_proposals import aug_ratio_pair, test_clip_offsets
from vjax.data.sources.base import DATASETS
from vjax.localization import ssn as ssn_utils
from vjax.localization.proposals import temporal_iou
from vjax.registry import to_dict

POSITIVE, INCOMPLETE, BACKGROUND = 0, 1, 2


class SSNInstance:
  """A ground-truth segment or proposal ``[start_frame, end_frame)`` of a video (MMAction2's
  ``SSNInstance``): ``end_frame`` is clipped to the video, ``coverage`` is not."""

  def __init__(self, start_frame, end_frame, num_video_frames, label=None, best_iou=0,
               overlap_self=0):
    self.start_frame = start_frame
    self.end_frame = min(end_frame, num_video_frames)
    self.num_video_frames = num_video_frames
    self.label = label if label is not None else -1
    self.coverage = (end_frame - start_frame) / num_video_frames
    self.best_iou = best_iou
    self.overlap_self = overlap_self
    self.regression_targets = [0., 0.]

  def compute_regression_targets(self, gt_list) -> None:
    """(center shift / proposal length, log(gt length / proposal length)) to the ground truth
    of highest IoU."""
    ious = [temporal_iou(self.start_frame, self.end_frame, gt.start_frame, gt.end_frame)
            for gt in gt_list]
    best = gt_list[int(np.argmax(ious))]
    proposal_center = (self.start_frame + self.end_frame - 1) / 2
    gt_center = (best.start_frame + best.end_frame - 1) / 2
    size = self.end_frame - self.start_frame
    self.regression_targets = [(gt_center - proposal_center) / size,
                               np.log((best.end_frame - best.start_frame) / size)]

  def __repr__(self) -> str:
    return (f"SSNInstance([{self.start_frame}, {self.end_frame}), label={self.label}, "
            f"best_iou={self.best_iou})")


def get_positives(gts, proposals, positive_threshold: float, with_gt: bool = True) -> list:
  """Proposals with ``best_iou > positive_threshold`` (and the ground truth), each with its
  regression targets."""
  positives = [p for p in proposals if p.best_iou > positive_threshold]
  if with_gt:
    positives.extend(gts)
  for p in positives:
    p.compute_regression_targets(gts)
  return positives


def get_negatives(proposals, incomplete_iou_threshold: float, background_iou_threshold: float,
                  background_coverage_threshold: float = 0.01,
                  incomplete_overlap_threshold: float = 0.7) -> tuple[list, list]:
  """(incompletes, backgrounds): low IoU but mostly inside an action, or no IoU and not tiny."""
  incompletes, backgrounds = [], []
  for p in proposals:
    if p.best_iou < incomplete_iou_threshold and p.overlap_self > incomplete_overlap_threshold:
      incompletes.append(p)
    elif p.best_iou < background_iou_threshold and p.coverage > background_coverage_threshold:
      backgrounds.append(p)
  return incompletes, backgrounds


def _cfg(cfg) -> dict:
  return dict(to_dict(cfg)) if cfg is not None else {}


@DATASETS.register
class SSNDataset:
  """MMAction2's ``SSNDataset`` arguments (``pipeline`` is the split's, as in every vjax
  dataset), plus ``test_ticks_per_sample`` (test mode; see the module docstring) and ``tfds``:
  ``dict(name='thumos14', split=..., data_dir=..., builder_config=...)`` reads the videos and
  their TAG list from a built ``thumos14`` TFDS dataset instead of ``ann_file`` and frame
  folders (decode with ``FrameBytesDecode``; frames count from 0)."""

  def __init__(self, ann_file, train_cfg, test_cfg, data_prefix=None, test_mode=False,
               filename_tmpl="img_{:05d}.jpg", start_index=1, modality="RGB",
               video_centric=True, reg_normalize_constants=None, body_segments=5,
               aug_segments=(2, 2), aug_ratio=(0.5, 0.5), clip_len=1, frame_interval=1,
               filter_gt=True, use_regression=True, verbose=False,
               test_ticks_per_sample: int | None = None, tfds: Mapping[str, Any] | None = None):
    self.tfds = None if tfds is None else dict(to_dict(tfds))
    if ann_file is None and self.tfds is None:
      raise ValueError("SSNDataset needs ann_file (a TAG proposal list) or tfds=dict(name=...)")
    self.ann_file = str(ann_file)
    self.data_prefix = data_prefix
    self.test_mode = test_mode
    self.filename_tmpl = filename_tmpl
    self.start_index = start_index
    if modality not in ("RGB", "Flow"):
      raise ValueError(f"SSNDataset: modality {modality!r} is not 'RGB' or 'Flow'")
    self.modality = modality
    self.train_cfg, self.test_cfg = _cfg(train_cfg), _cfg(test_cfg)
    for name, cfg, keys in (("train_cfg", self.train_cfg, ("assigner", "sampler")),
                            ("test_cfg", self.test_cfg, ("sampler", "evaluater"))):
      missing = [k for k in keys if k not in cfg.get("ssn", {})]
      if missing:
        raise KeyError(f"SSNDataset: {name}.ssn lacks {missing} (MMAction2's SSN configs set "
                       f"{name}=dict(ssn=dict({', '.join(f'{k}=...' for k in keys)})))")
    self.assigner = self.train_cfg["ssn"]["assigner"]
    self.sampler = self.train_cfg["ssn"]["sampler"]
    self.evaluater = self.test_cfg["ssn"]["evaluater"]
    self.verbose = verbose
    self.video_centric = video_centric
    self.body_segments = body_segments
    self.aug_segments = tuple(aug_segments)
    self.aug_ratio = aug_ratio_pair(aug_ratio)
    self.clip_len = clip_len
    self.frame_interval = frame_interval
    self.filter_gt = filter_gt
    self.use_regression = use_regression
    self.test_interval = self.test_cfg["ssn"]["sampler"]["test_interval"]
    if test_ticks_per_sample is not None and test_ticks_per_sample < 1:
      raise ValueError(f"test_ticks_per_sample must be >= 1 or None, got {test_ticks_per_sample}")
    self.test_ticks_per_sample = test_ticks_per_sample
    logger = logging.getLogger(__name__)

    self.video_infos = self.load_annotations()
    if filter_gt or not test_mode:
      kept = [v for v in self.video_infos if v["gts"]]
      logger.info("%d out of %d videos are valid.", len(kept), len(self.video_infos))
      self.video_infos = kept
    if not self.video_infos:
      raise ValueError(f"{self.proposal_file}: no video with ground truth to "
                       f"{'test' if test_mode else 'train'} on")
    self.positive_pool, self.background_pool, self.incomplete_pool = [], [], []
    self.construct_proposal_pools()
    if reg_normalize_constants is None:
      self.reg_norm_consts = self._compute_reg_normalize_constants()
    else:
      self.reg_norm_consts = np.asarray(reg_normalize_constants, np.float64)
    (self.positive_per_video, self.background_per_video,
     self.incomplete_per_video) = ssn_utils.proposals_per_video(self.sampler)
    if test_mode:
      self._chunks = self._make_chunks()
    msg = f"SSNDataset: proposal file {self.proposal_file} parsed."
    if verbose:
      consts = self.reg_norm_consts
      msg += (f" {len(self.positive_pool) + len(self.background_pool) + len(self.incomplete_pool)}"
              f" usable proposals from {len(self.video_infos)} videos: "
              f"{len(self.positive_pool)} positive, {len(self.incomplete_pool)} incomplete, "
              f"{len(self.background_pool)} background; FG/BG/INCOMP per video "
              f"{self.positive_per_video}/{self.background_per_video}/"
              f"{self.incomplete_per_video}; video centric {video_centric}; regression "
              f"constants: location mean {consts[0][0]:.05f} std {consts[1][0]:.05f}, duration "
              f"mean {consts[0][1]:.05f} std {consts[1][1]:.05f}")
    logger.info(msg)

  # ---- annotations ---------------------------------------------------------------------

  def _tfds_videos(self) -> list:
    """The TAG list stored with a ``thumos14`` TFDS split, its videos tagged with their record."""
    # pylint: disable-next=g-import-not-at-top
    from tfds_builders.thumos14 import thumos14_dataset_builder as th
    from vjax.data.sources.tfds_records import TFDSDataset  # pylint: disable=g-import-not-at-top
    cfg = dict(self.tfds)
    unknown = sorted(set(cfg) - {"name", "split", "data_dir", "builder_config"})
    if unknown or "split" not in cfg:
      raise KeyError(f"SSNDataset(tfds=...) takes name, split, data_dir and builder_config; got "
                     f"{sorted(cfg)}")
    cfg.setdefault("name", "thumos14")
    cfg["data_dir"] = cfg.get("data_dir") or None
    self._records = TFDSDataset(**cfg)
    builder = TFDSDataset._open_builder(cfg["name"], cfg["data_dir"], cfg.get("builder_config"),
                                        False)
    meta = th.open_split_metadata(builder, cfg["split"])
    self.proposal_file = (f"TFDS {cfg['name']}/{self._records.config_name} split "
                          f"{cfg['split']!r} TAG list")
    records = {v: i for i, v in enumerate(meta["videos"])}
    videos = ssn_utils.parse_tag_proposals(meta["tag_list"], self.proposal_file)
    return [(v, records[v.video_id]) for v in videos if v.video_id in records]

  def load_annotations(self) -> list[dict]:
    if self.tfds is not None:
      videos = self._tfds_videos()
    else:
      videos = [(v, None) for v in self._tag_videos()]
    infos = []
    for video, record in videos:
      n = video.num_frames
      gts = [SSNInstance(s, e, n, label=label, best_iou=1.0)
             for label, s, e in video.gts if e > s and s < n]
      proposals = [SSNInstance(s, e, n, label=label, best_iou=iou, overlap_self=overlap)
                   for label, iou, overlap, s, e in video.proposals if e > s and s < n]
      frame_dir = (osp.join(self.data_prefix, video.video_id) if self.data_prefix is not None
                   else video.video_id)
      infos.append(dict(frame_dir=frame_dir, video_id=video.video_id, total_frames=n, gts=gts,
                        proposals=proposals, line=video.line, record=record))
    return infos

  def _tag_videos(self) -> list:
    if "normalized_" in self.ann_file:
      self.proposal_file = self.ann_file.replace("normalized_", "")
      if not osp.exists(self.proposal_file):
        raise FileNotFoundError(f"{self.proposal_file} not found: denormalize {self.ann_file} "
                                "with MMAction2's tools/data/thumos14/denormalize_proposal_file.sh")
    else:
      self.proposal_file = self.ann_file
    return ssn_utils.load_localize_proposal_file(self.proposal_file)

  def construct_proposal_pools(self) -> None:
    """The whole dataset's positive, incomplete and background proposals."""
    a = self.assigner
    for info in self.video_infos:
      positives = get_positives(info["gts"], info["proposals"], a["positive_iou_threshold"],
                                self.sampler["add_gt_as_proposals"])
      self.positive_pool.extend((info["video_id"], p) for p in positives)
      incompletes, backgrounds = self._negatives(info["proposals"])
      self.incomplete_pool.extend((info["video_id"], p) for p in incompletes)
      self.background_pool.extend((info["video_id"], p) for p in backgrounds)

  def _negatives(self, proposals):
    a = self.assigner
    return get_negatives(proposals, a["incomplete_iou_threshold"], a["background_iou_threshold"],
                         a["background_coverage_threshold"], a["incomplete_overlap_threshold"])

  def _compute_reg_normalize_constants(self) -> np.ndarray:
    targets = []
    for info in self.video_infos:
      for p in get_positives(info["gts"], info["proposals"],
                             self.assigner["positive_iou_threshold"], False):
        targets.append(list(p.regression_targets))
    if not targets:
      warnings.warn(f"{self.proposal_file}: no positive proposal to compute the regression "
                    "normalisation constants from; pass reg_normalize_constants")
      return np.full((2, 2), np.nan)
    return np.array((np.mean(targets, axis=0), np.std(targets, axis=0)))

  def get_all_gts(self) -> dict[int, dict[str, list]]:
    """Per class index (label - 1): ``{video_id: [[start, end], ...]}`` relative to the video."""
    gts: dict[int, dict[str, list]] = {}
    for info in self.video_infos:
      for gt in info["gts"]:
        gts.setdefault(gt.label - 1, {}).setdefault(info["video_id"], []).append(
            [gt.start_frame / info["total_frames"], gt.end_frame / info["total_frames"]])
    return gts

  # ---- training samples ----------------------------------------------------------------

  def _video_centric_sampling(self, info: dict, rng: np.random.Generator) -> list:
    positives = get_positives(info["gts"], info["proposals"],
                              self.assigner["positive_iou_threshold"],
                              self.sampler["add_gt_as_proposals"])
    incompletes, backgrounds = self._negatives(info["proposals"])

    def draw(kind, pool, n, dataset_pool, name):
      if not pool:
        if len(dataset_pool) < n:
          raise ValueError(f"{self.proposal_file}: video {info['video_id']} has no {name} "
                           f"proposal and the whole dataset has {len(dataset_pool)}, fewer than "
                           f"the {n} to draw; check train_cfg.ssn.assigner's thresholds")
        idx = rng.choice(len(dataset_pool), n, replace=False)
        return [(dataset_pool[i][1], kind) for i in idx]
      idx = rng.choice(len(pool), n, replace=len(pool) < n)
      return [(pool[i], kind) for i in idx]

    return (draw(POSITIVE, positives, self.positive_per_video, self.positive_pool, "positive") +
            draw(INCOMPLETE, incompletes, self.incomplete_per_video, self.incomplete_pool,
                 "incomplete") +
            draw(BACKGROUND, backgrounds, self.background_per_video, self.background_pool,
                 "background"))

  def _random_sampling(self, rng: np.random.Generator) -> list:
    out = []
    for kind, pool, n in ((POSITIVE, self.positive_pool, self.positive_per_video),
                          (INCOMPLETE, self.incomplete_pool, self.incomplete_per_video),
                          (BACKGROUND, self.background_pool, self.background_per_video)):
      idx = rng.choice(len(pool), n, replace=len(pool) < n)
      out.extend((pool[i][1], kind) for i in idx)
    return out

  def _get_stage(self, proposal: SSNInstance, num_frames: int) -> tuple[float, float, list]:
    """The starting and ending stages' scale factors (their lengths inside the video over the
    augmented lengths) and the stage split (the segment each stage ends at)."""
    start, end = proposal.start_frame, proposal.end_frame
    ori_clip_len = self.clip_len * self.frame_interval
    duration = end - start
    valid_starting = max(0, start - int(duration * self.aug_ratio[0]))
    valid_ending = min(num_frames - ori_clip_len + 1,
                       end - 1 + int(duration * self.aug_ratio[1]))
    valid_starting_length = start - valid_starting - ori_clip_len
    valid_ending_length = (valid_ending - end + 1) - ori_clip_len
    starting = (valid_starting_length + ori_clip_len + 1) / (duration * self.aug_ratio[0])
    ending = (valid_ending_length + ori_clip_len + 1) / (duration * self.aug_ratio[1])
    aug_start, aug_end = self.aug_segments
    split = [aug_start, aug_start + self.body_segments, aug_start + self.body_segments + aug_end]
    return starting, ending, split

  def _base(self, info: dict) -> dict:
    results = dict(frame_dir=info["frame_dir"], video_id=info["video_id"],
                   total_frames=info["total_frames"], filename_tmpl=self.filename_tmpl,
                   modality=self.modality, start_index=self.start_index)
    if info["record"] is not None:  # the stored frames (frames_bytes), numbered from 0
      record = self._records[info["record"]]
      results.update(frames_bytes=record["frames_bytes"], start_index=0, fps=record["fps"])
    return results

  def prepare_train_frames(self, index: int, rng: np.random.Generator) -> dict:
    info = self.video_infos[index]
    results = self._base(info)
    drawn = (self._video_centric_sampling(info, rng) if self.video_centric else
             self._random_sampling(rng))
    scale, types, labels, targets, spans = [], [], [], [], []
    consts = self.reg_norm_consts
    for proposal, kind in drawn:
      scale.append(self._get_stage(proposal, proposal.num_video_frames)[:2])
      label = 0 if kind == BACKGROUND else proposal.label
      if not isinstance(label, (int, np.integer)):
        raise TypeError(f"proposal_label must be an int, but got {type(label)}")
      labels.append(int(label))
      types.append(kind)
      reg = proposal.regression_targets
      if kind == POSITIVE:
        reg = ((reg[0] - consts[0][0]) / consts[1][0], (reg[1] - consts[0][1]) / consts[1][1])
      targets.append(reg)
      spans.append((proposal.start_frame, proposal.end_frame))
    results["out_proposals"] = np.array(spans, np.int64).reshape(-1, 2)
    results["reg_targets"] = np.array(targets, np.float32).reshape(-1, 2)
    results["proposal_scale_factor"] = np.array(scale, np.float32).reshape(-1, 2)
    results["proposal_labels"] = np.array(labels, np.int32)
    results["proposal_type"] = np.array(types, np.int32)
    return results

  # ---- test samples --------------------------------------------------------------------

  def num_ticks(self, info: dict) -> int:
    return len(test_clip_offsets(info["total_frames"], self.clip_len, self.frame_interval,
                                 self.test_interval))

  def _make_chunks(self) -> list[tuple[int, int, int]]:
    chunks = []
    for v, info in enumerate(self.video_infos):
      n = self.num_ticks(info)
      if n < 1:
        raise ValueError(f"{self.proposal_file}:{info['line']}: video {info['video_id']} has "
                         f"{info['total_frames']} frames, too few for one test tick")
      size = self.test_ticks_per_sample or n
      chunks.extend((v, s, min(s + size, n)) for s in range(0, n, size))
    return chunks

  def video_chunks(self) -> list[list[tuple[int, int]]]:
    """Per video, its samples as ``(sample index, number of ticks)`` in tick order."""
    out: list[list[tuple[int, int]]] = [[] for _ in self.video_infos]
    for i, (v, start, stop) in enumerate(self._chunks):
      out[v].append((i, stop - start))
    return out

  def test_inputs(self, video: int) -> dict:
    """MMAction2's ``prepare_test_frames`` fields of video ``video``: ``relative_proposal_list``
    (P, 2), ``scale_factor_list`` (P, 2), ``proposal_tick_list`` (P, 4) and
    ``reg_norm_consts`` (2, 2); a video without proposals gets one spanning it."""
    info = self.video_infos[video]
    num_frames = info["total_frames"]
    num_sampled = self.num_ticks(info)
    proposals = list(info["proposals"]) or [SSNInstance(0, num_frames - 1, num_frames)]
    relative, ticks, factors = [], [], []
    for p in proposals:
      rel = (p.start_frame / num_frames, p.end_frame / num_frames)
      duration = rel[1] - rel[0]
      starting_duration = duration * self.aug_ratio[0]
      ending_duration = duration * self.aug_ratio[1]
      real_starting = max(0.0, rel[0] - starting_duration)
      real_ending = min(1.0, rel[1] + ending_duration)
      factors.append(((rel[0] - real_starting) / starting_duration,
                      (real_ending - rel[1]) / ending_duration))
      ticks.append((np.array((real_starting, *rel, real_ending)) * num_sampled).astype(np.int32))
      relative.append(rel)
    return dict(relative_proposal_list=np.array(relative, np.float32),
                scale_factor_list=np.array(factors, np.float32),
                proposal_tick_list=np.array(ticks, np.int32),
                reg_norm_consts=self.reg_norm_consts)

  def prepare_test_frames(self, index: int) -> dict:
    v, start, stop = self._chunks[index]
    info = self.video_infos[v]
    results = self._base(info)
    results["test_tick_range"] = (start, stop, self.num_ticks(info))
    results.update(self.test_inputs(v))
    return results

  # ---- source protocol -----------------------------------------------------------------

  def __len__(self) -> int:
    return len(self._chunks) if self.test_mode else len(self.video_infos)

  def __getitem__(self, index: int) -> dict:
    if self.test_mode:
      return self.prepare_test_frames(int(index))
    return self.prepare_train_frames(int(index), np.random.default_rng(int(index)))

  def sample(self, index: int, rng: np.random.Generator) -> dict:
    """Training: the video's proposals drawn with the loader's per-sample ``rng``."""
    if self.test_mode:
      return self.prepare_test_frames(int(index))
    return self.prepare_train_frames(int(index), rng)

  def describe(self, index: int) -> str:
    index = int(index)
    if self.test_mode:
      v, start, stop = self._chunks[index]
      what = f"ticks {start}-{stop - 1} of "
    else:
      v, what = index, ""
    info = self.video_infos[v]
    return (f"{what}{info['video_id']} ({info['frame_dir']}, line {info['line']} of "
            f"{self.proposal_file})")

  # ---- evaluation ----------------------------------------------------------------------

  def evaluate(self, results: Sequence[Mapping[str, Any]], metrics="mAP",
               metric_options=None, logger=None) -> collections.OrderedDict:
    """MMAction2's ``SSNDataset.evaluate``: one result dict per video (``SSN.forward_test``'s)
    -> ``mAP@0.10`` ... ``mAP@0.90`` (``metric_options['mAP']['eval_dataset']``:
    'thumos14', the only one MMAction2 computes)."""
    del logger
    if not isinstance(results, (list, tuple)):
      raise TypeError(f"results must be a list, but got {type(results)}")
    if len(results) != len(self.video_infos):
      raise ValueError(f"The length of results is not equal to the number of videos: "
                       f"{len(results)} != {len(self.video_infos)}")
    metrics = metrics if isinstance(metrics, (list, tuple)) else [metrics]
    for metric in metrics:
      if metric != "mAP":
        raise KeyError(f"metric {metric} is not supported")
    options = dict(metric_options or {})
    eval_results = collections.OrderedDict()
    if (options.get("mAP") or {}).get("eval_dataset", "thumos14") == "thumos14":
      eval_results.update(ssn_utils.thumos14_map(
          results, [v["video_id"] for v in self.video_infos], self.get_all_gts(),
          self.evaluater, self.use_regression))
    return eval_results


SYNTHETIC_NAME = "thumos14_synthetic"


@DATASETS.register(name=SYNTHETIC_NAME)
def synthetic_ssn_dataset(split: str, data_dir: str | None = None, options=None,
                          **kwargs) -> SSNDataset:
  """A small THUMOS14-like set (``tfds_builders.thumos14.synthetic``: frame folders with planted
  actions and TAG proposal lists), generated once under ``data_dir`` (default
  ``~/.cache/vjax``) with ``options`` (``synthetic.prepare``'s), read by
  ``SSNDataset(**kwargs)``; ``split`` is 'val' (what MMAction2 trains on) or 'test'."""
  from tfds_builders.thumos14 import synthetic  # pylint: disable=g-import-not-at-top
  root = synthetic.prepare(data_dir, **dict(options or {}))
  return SSNDataset(ann_file=osp.join(root, synthetic.proposal_file(split)),
                    data_prefix=osp.join(root, "rawframes", split), **kwargs)
