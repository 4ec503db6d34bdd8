"""``ActivityNetDataset``: MMAction2's temporal-localization annotation files
(``anet_anno_{train,val,test}.json``: video name -> duration, feature span, segments), whose
samples the localization ops turn into features and labels."""

from __future__ import annotations

import copy
import numbers
import os.path as osp

from vjax.data.sources.annotation_lists import read_json
from vjax.data.sources.base import DATASETS

_ENTRY_FORMAT = ('{"v_<youtube id>": {"duration_second": s, "duration_frame": n, '
                 '"feature_frame": n, "annotations": [{"segment": [start, end], '
                 '"label": name}, ...], ...}, ...}')
_HOW_TO_GET = ("MMAction2's tools/data/activitynet (download_feature_annotations.sh, then "
               "process_annotations.py, or `python -m vjax.tools.process_activitynet_annotations`)"
               " writes anet_anno_{train,val,test}.json")


def _number(value) -> bool:
  return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_video_info(name: str, info) -> None:
  """Raises ValueError (without the file's name) if ``info`` lacks what the localization ops
  and evaluators read: positive ``duration_second``, ``duration_frame``, ``feature_frame``
  and ``annotations`` whose segments are two numbers, start <= end."""
  if not isinstance(info, dict):
    raise ValueError(f"video {name!r}: expected a dict of its info, got {type(info).__name__}")
  for key in ("duration_second", "duration_frame", "feature_frame"):
    if key not in info:
      raise ValueError(f"video {name!r}: missing {key!r}")
    if not _number(info[key]) or not info[key] > 0:
      raise ValueError(f"video {name!r}: {key} must be a positive number, got {info[key]!r}")
  annotations = info.get("annotations")
  if not isinstance(annotations, list):
    raise ValueError(f"video {name!r}: 'annotations' must be a list of "
                     f"{{'segment': [start, end], 'label': name}}, got {annotations!r}")
  for j, ann in enumerate(annotations):
    segment = ann.get("segment") if isinstance(ann, dict) else None
    if (not isinstance(segment, (list, tuple)) or len(segment) != 2 or
        not all(_number(x) for x in segment)):
      raise ValueError(f"video {name!r} annotation {j}: 'segment' must be two numbers "
                       f"[start, end] in seconds, got {ann!r}")
    if segment[0] > segment[1]:
      raise ValueError(f"video {name!r} annotation {j}: segment starts after it ends "
                       f"({segment[0]} > {segment[1]})")


@DATASETS.register
class ActivityNetDataset:
  """ActivityNet videos for the localizers (BMN, BSN), from an annotation json that maps each
  video name (``v_<youtube id>``) to its info::

      {"v_--1DO2V4K74": {"duration_second": 211.53, "duration_frame": 6337,
                         "feature_frame": 6336, "annotations": [{"segment": [30.03, 205.23],
                         "label": "Rock climbing"}], "fps": 30.0, "rfps": 29.96}, ...}

  ``video_infos`` holds each info plus its ``video_name`` (the key), in file order, as MMAction2;
  ``source[i]`` is a fresh copy of info ``i`` with ``data_prefix`` (the feature folder), which
  ``LoadLocalizationFeature`` reads. ``pipeline`` is MMAction2's argument, accepted and unused:
  vjax's loader runs the split's pipeline. A malformed entry raises ValueError naming the file
  and the video.
  """

  def __init__(self, ann_file, pipeline=None, data_prefix=None, test_mode=False):
    del pipeline  # The loader applies the split's pipeline.
    self.ann_file = str(ann_file)
    # MMAction2 resolves an existing folder (BaseDataset); other values are kept as given.
    self.data_prefix = (osp.realpath(data_prefix) if data_prefix is not None and
                        osp.isdir(data_prefix) else data_prefix)
    self.test_mode = test_mode
    if not osp.isfile(self.ann_file):
      raise FileNotFoundError(f"Annotation file {self.ann_file} not found; {_HOW_TO_GET}.")
    self.video_infos = self.load_annotations()

  def load_annotations(self) -> list[dict]:
    database = read_json(self.ann_file)
    if not isinstance(database, dict):
      raise ValueError(f"{self.ann_file}: expected a JSON object mapping video names to their "
                       f"info, got {type(database).__name__}\n  expected: {_ENTRY_FORMAT}")
    infos = []
    for name, info in database.items():
      try:
        check_video_info(name, info)
      except ValueError as e:
        raise ValueError(f"{self.ann_file}: {e}\n  expected: {_ENTRY_FORMAT}") from None
      info = dict(info)
      info["video_name"] = name
      infos.append(info)
    return infos

  def __len__(self) -> int:
    return len(self.video_infos)

  def __getitem__(self, index: int) -> dict:
    results = copy.deepcopy(self.video_infos[int(index)])
    results["data_prefix"] = self.data_prefix
    return results

  def describe(self, index: int) -> str:
    return f"video {self.video_infos[int(index)]['video_name']} of {self.ann_file}"

  def sample_weights(self):
    return None
