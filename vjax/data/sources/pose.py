"""``PoseDataset``: MMAction2's skeleton annotations (a ``.pkl`` of per-video dicts).

Each record is one video: ``frame_dir`` (its name), ``label``, ``total_frames``, and either
the poses themselves (``keypoint`` ``(M persons, T frames, V joints, C)`` with C = 2 (x, y
pixels) or 3 (3-D joints / x, y, score), optionally ``keypoint_score`` ``(M, T, V)``,
``img_shape``) or, for Kinetics-pose, a ``filename`` whose pickle ``LoadKineticsPose`` reads.
The file is the list of records, or ``{'split': {name: [frame_dir, ...]}, 'annotations':
[...]}`` with ``split=name`` choosing one (HMDB51 / UCF101 / NTU splits). Records are checked
when a sample is read, so under the loader's ``on_error='skip'`` one malformed video is
counted and skipped instead of stopping the run.
"""

from __future__ import annotations

import collections
import copy
import os.path as osp

import numpy as np
from absl import logging

from vjax.data import safe_pickle
from vjax.data.sources.annotation_lists import class_probabilities, multi_hot
from vjax.data.sources.base import DATASETS

_HELP = ("skeleton annotations come from MMAction2's tools/data/skeleton "
         "(download_annotations.sh for the released NTU / GYM / UCF101 / HMDB51 pickles, "
         "ntu_pose_extraction.py, gen_ntu_rgbd_raw.py, babel2mma2.py)")
_BOX_THRS = ("0.5", "0.6", "0.7", "0.8", "0.9")


@DATASETS.register
class PoseDataset:
  """MMAction2's ``PoseDataset``: one sample per video record of ``ann_file`` (a .pkl).

  ``split`` picks the named split of a ``{'split', 'annotations'}`` file. ``valid_ratio``
  keeps videos whose ``valid_frames`` (or, with ``box_thr``, ``valid@{box_thr}``) reach that
  fraction of ``total_frames``; with ``box_thr`` above '0.5' each kept video also gets
  ``anno_inds``, its boxes scoring at least ``box_thr`` (Kinetics-pose). ``data_prefix`` is
  joined to ``frame_dir`` and ``filename``.

  Class-balanced draws follow MMAction2: ``sample_by_class=True`` draws class ``c`` with
  probability ``class_prob[c]`` (computed from ``power`` as in ``RawframeDataset``, or given
  as ``class_prob``, which overrides it), then a video of it uniformly. MMAction2's data
  loader reads ``class_prob`` only when ``sample_by_class`` is set, so a ``class_prob``
  without it changes nothing here either (as in its NTU-120 configs).
  """

  def __init__(self, ann_file, pipeline=None, split=None, valid_ratio=None, box_thr=None,
               class_prob=None, data_prefix=None, test_mode=False, start_index=0,
               modality="Pose", multi_class=False, num_classes=None, sample_by_class=False,
               power=0.0):
    del pipeline  # the loader runs the split's pipeline (vjax.data.sources.base.build_split)
    if multi_class and num_classes is None:
      raise ValueError("PoseDataset(multi_class=True) needs num_classes")
    if multi_class and sample_by_class:
      raise ValueError("PoseDataset: sample_by_class needs single-label data")
    if box_thr is not None and str(box_thr) not in _BOX_THRS:
      raise ValueError(f"PoseDataset: box_thr must be one of {_BOX_THRS} (a string, as in "
                       f"MMAction2), got {box_thr!r}")
    if valid_ratio is not None and not isinstance(valid_ratio, float):
      raise ValueError(f"PoseDataset: valid_ratio must be a float, got {valid_ratio!r}")
    self.ann_file = str(ann_file)
    self.split = split
    self.valid_ratio = valid_ratio
    self.box_thr = None if box_thr is None else str(box_thr)
    # MMAction2 resolves a data_prefix that is a folder (symlinks included).
    self.data_prefix = (osp.realpath(data_prefix) if data_prefix is not None
                        and osp.isdir(data_prefix) else data_prefix)
    self.test_mode = test_mode
    self.start_index = start_index
    self.modality = modality
    self.multi_class = multi_class
    self.num_classes = num_classes
    self.sample_by_class = sample_by_class
    self.power = power
    self.video_infos = self._load()
    self.class_prob = None
    if sample_by_class:  # before the valid_ratio filter, as MMAction2's BaseDataset does
      self.class_prob = class_probabilities([i["label"] for i in self.video_infos], power)
    self._filter_valid()
    if class_prob is not None:
      self.class_prob = {int(k): float(v) for k, v in dict(class_prob).items()}
      if not sample_by_class:
        logging.warning("PoseDataset %s: class_prob is used only with sample_by_class=True "
                        "(as in MMAction2 0.24.1); samples are drawn uniformly",
                        self.ann_file)

  # ------------------------------------------------------------------ loading
  def _load(self) -> list[dict]:
    if not self.ann_file.endswith(".pkl"):
      raise ValueError(f"PoseDataset: ann_file {self.ann_file} must be a .pkl file; {_HELP}")
    if not osp.isfile(self.ann_file):
      raise FileNotFoundError(f"Annotation file {self.ann_file} not found; {_HELP}")
    data = safe_pickle.load(self.ann_file)
    is_split_file = isinstance(data, dict) and {"split", "annotations"} <= set(data)
    if self.split is not None:
      if not is_split_file:
        raise ValueError(f"{self.ann_file}: split={self.split!r} needs a file of the form "
                         "{'split': {name: [video, ...]}, 'annotations': [...]}, but it is a "
                         f"{type(data).__name__}; drop split for a plain list of records")
      splits = data["split"]
      if self.split not in splits:
        raise KeyError(f"{self.ann_file}: no split {self.split!r}; it has "
                       f"{sorted(map(str, splits))}")
      records = self._records(data["annotations"])
      identifier = "filename" if records and "filename" in records[0] else "frame_dir"
      keep = set(splits[self.split])
      indexed = [(i, x) for i, x in enumerate(records) if x.get(identifier) in keep]
    elif is_split_file:
      raise ValueError(f"{self.ann_file} holds splits {sorted(map(str, data['split']))}; "
                       "choose one with split=<name>")
    else:
      indexed = list(enumerate(self._records(data)))
    infos = []
    for i, item in indexed:  # i: the record's position in the file, for error messages
      info = dict(item)
      for key in ("filename", "frame_dir"):
        if key in info and self.data_prefix is not None:
          info[key] = osp.join(self.data_prefix, info[key])
      info["_where"] = i
      infos.append(info)
    return infos

  def _records(self, data) -> list[dict]:
    if not isinstance(data, (list, tuple)):
      raise ValueError(f"{self.ann_file}: expected a list of video records (dicts), got "
                       f"{type(data).__name__}; {_HELP}")
    for i, item in enumerate(data):
      if not isinstance(item, dict) or "label" not in item or not (
          "frame_dir" in item or "filename" in item):
        raise ValueError(f"{self.ann_file}: record {i} is not a dict with 'frame_dir' (or "
                         f"'filename') and 'label'; {_HELP}")
    return list(data)

  def _filter_valid(self) -> None:
    if self.valid_ratio is None:
      return
    key = "valid_frames" if self.box_thr is None else f"valid@{self.box_thr}"
    kept = []
    for info in self.video_infos:
      if key not in info or "total_frames" not in info:
        raise KeyError(f"{self.ann_file}: video {self._name(info)} has no {key!r} or "
                       f"'total_frames', which valid_ratio={self.valid_ratio} needs")
      if info[key] / info["total_frames"] >= self.valid_ratio:
        kept.append(info)
    if self.box_thr is not None and self.box_thr != "0.5":
      thr = float(self.box_thr)
      for info in kept:
        info["anno_inds"] = np.array(
            [i for i, score in enumerate(info["box_score"]) if score >= thr], dtype=np.int64)
    self.video_infos = kept
    logging.info("PoseDataset %s: %d videos remain after valid thresholding", self.ann_file,
                 len(kept))

  # ------------------------------------------------------------------ samples
  @staticmethod
  def _name(info: dict) -> str:
    return str(info.get("frame_dir", info.get("filename")))

  def _check(self, info: dict) -> None:
    """Raises ValueError naming the video and the file if the record cannot be a sample."""
    where = f"{self.ann_file}: video {self._name(info)!r} (record {info['_where']})"
    if "keypoint" not in info:
      if "filename" in info:  # Kinetics-pose: LoadKineticsPose reads the keypoints
        return
      raise ValueError(f"{where} has no 'keypoint' (M persons, T frames, V joints, C) array; "
                       f"{_HELP}")
    kp = info["keypoint"]
    if not (isinstance(kp, np.ndarray) and kp.ndim == 4 and kp.shape[-1] in (2, 3)
            and np.issubdtype(kp.dtype, np.number)):
      got = (f"shape {kp.shape} {kp.dtype}" if isinstance(kp, np.ndarray)
             else type(kp).__name__)
      raise ValueError(f"{where}: 'keypoint' is {got}; expected a numeric array of shape "
                       f"(M persons, T frames, V joints, C=2 or 3); {_HELP}")
    if "keypoint_score" in info:
      score = info["keypoint_score"]
      if not (isinstance(score, np.ndarray) and score.shape == kp.shape[:3]):
        got = score.shape if isinstance(score, np.ndarray) else type(score).__name__
        raise ValueError(f"{where}: 'keypoint_score' is {got}; expected shape {kp.shape[:3]}, "
                         "one score per person, frame and joint of 'keypoint'")
    total = info.get("total_frames")
    if not isinstance(total, (int, np.integer)) or total < 1:
      raise ValueError(f"{where}: 'total_frames' is {total!r}; expected a positive integer")
    if kp.shape[1] < total:
      raise ValueError(f"{where}: 'keypoint' has {kp.shape[1]} frames, fewer than its "
                       f"total_frames {total}")

  def __len__(self) -> int:
    return len(self.video_infos)

  def __getitem__(self, index: int) -> dict:
    info = self.video_infos[int(index)]
    self._check(info)
    results = copy.deepcopy({k: v for k, v in info.items() if k != "_where"})
    results["modality"] = self.modality
    results["start_index"] = self.start_index
    if self.multi_class:
      results["label"] = multi_hot(results["label"], self.num_classes)
    return results

  def sample_weights(self) -> np.ndarray | None:
    """Per-sample draw probabilities under ``sample_by_class``, else None (plain shuffling)."""
    if not self.sample_by_class:
      return None
    labels = [int(info["label"]) for info in self.video_infos]
    counts = collections.Counter(labels)
    missing = sorted(set(counts) - set(self.class_prob))
    if missing:
      raise ValueError(f"PoseDataset {self.ann_file}: class_prob has no entry for labels "
                       f"{missing[:10]}")
    weights = np.array([self.class_prob[l] / counts[l] for l in labels], np.float64)
    return weights / weights.sum()

  def describe(self, index: int) -> str:
    info = self.video_infos[int(index)]
    return f"{self._name(info)} (record {info['_where']} of {self.ann_file})"
