"""The ``activitynet`` TFDS builder (the class says what it holds)."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import multiprocessing
import os
import os.path as osp

import numpy as np
import tensorflow_datasets as tfds

from tfds_builders.activitynet import records
from tfds_builders.common import encode as enc
from tfds_builders.common import shards
from vjax.data import ops_localization, safe_pickle
from vjax.data.sources.activitynet import check_video_info
from vjax.data.sources.annotation_lists import read_json
from vjax.tools import process_activitynet_annotations as process

SPLIT_FILES = {"train": "anet_anno_train.json", "val": "anet_anno_val.json",
               "test": "anet_anno_test.json"}
ANNOTATION_DIRS = (".", "annotations")
_PARALLEL_MIN_VIDEOS = 64


@dataclasses.dataclass(eq=False)
class FeatureConfig(tfds.core.BuilderConfig):
  """Which features a build stores: the first of ``folders`` (under manual_dir) that exists,
  one file per video ``<video_name><ext>`` for the first of ``exts`` found; each must hold
  ``temporal_dim`` rows of ``feat_dim`` values."""

  folders: tuple[str, ...] = ()
  exts: tuple[str, ...] = (".csv",)
  temporal_dim: int = 100
  feat_dim: int = 400


CONFIGS = [
    FeatureConfig(
        name="csv_mean_100", folders=("activitynet_feature_cuhk/csv_mean_100", "csv_mean_100"),
        description="CUHK's TSN features (200 RGB + 200 flow values) rescaled to 100 steps, "
                    "MMAction2's download_features.sh (its BMN / BSN configs' data_root)"),
    FeatureConfig(
        name="mmaction_feature", folders=("mmaction_feat", "mmaction_feature"),
        exts=(".csv", ".pkl"),
        description="features of MMAction2's tsn_feature_extraction.py (RGB and flow) merged "
                    "and rescaled to 100 steps by activitynet_feature_postprocessing.py"),
]


def read_feature(path: str | None, video_name: str):
  """One video's ``(T, C)`` float32 features, or the ``Skip`` that says why not (a worker's
  job: picklable arguments, no exception escapes)."""
  if path is None:
    return enc.Skip("missing", f"no feature file for {video_name}")
  try:
    if path.endswith(".pkl"):
      feature = np.asarray(safe_pickle.load(path), np.float32)
      if feature.ndim != 2:
        raise ValueError(f"shape {feature.shape}, expected (steps, values)")
      return feature
    return ops_localization.read_feature(path)
  except Exception as e:  # pylint: disable=broad-except  # unpickling raises many types
    return enc.Skip("corrupt", f"{path}: {type(e).__name__}: {e}")


def _read_job(job: tuple[str | None, str]):
  return read_feature(*job)


class Activitynet(records.LocalizationBuilder):
  """ActivityNet v1.3 for temporal action localization: each untrimmed video's feature
  sequence (100 steps of 400 values), its durations and its action segments (seconds, one of
  200 classes), as MMAction2's ActivityNetDataset reads them."""

  HOMEPAGE = "http://activity-net.org/"
  BUILDER_CONFIGS = CONFIGS
  MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Put in manual_dir (MMAction2's data/ActivityNet, see its tools/data/activitynet):
  anet_anno_train.json, anet_anno_val.json (and optionally anet_anno_test.json): video name ->
    {duration_second, duration_frame, feature_frame, annotations, fps, rfps}, written by
    process_annotations.py (or `python -m vjax.tools.process_activitynet_annotations`) from
    download_feature_annotations.sh's anet_anno_action.json + video_info_new.csv; with only
    those two files present they are processed here. An annotations/ folder works too.
  config csv_mean_100: activitynet_feature_cuhk/csv_mean_100/ (or csv_mean_100/), one
    `v_<id>.csv` per video (a header line, 100 rows of 400 values) from download_features.sh.
  config mmaction_feature: mmaction_feat/ (or mmaction_feature/), one `v_<id>.csv` (or .pkl)
    per video, as activitynet_feature_postprocessing.py writes them from the RGB and flow
    features of tsn_feature_extraction.py.
A video without its feature file is listed as missing, an unreadable one or one of another
shape as corrupt (build_summary.json); the build goes on. A split without any feature file
is left out.
"""
  # Build option, set by vjax.tools.build_dataset (tfds build uses the default).
  num_workers: int = shards.default_workers()

  def class_names(self) -> list[str]:
    return list(getattr(self, "_class_names", []))

  def annotations(self, manual_dir: str) -> dict[str, tuple[str, dict]]:
    """Split -> (annotation file, its video infos) from the download."""
    for sub in ANNOTATION_DIRS:
      folder = osp.join(manual_dir, sub)
      found = {s: osp.join(folder, f) for s, f in SPLIT_FILES.items()
               if osp.isfile(osp.join(folder, f))}
      if found:
        out = {s: (path, read_json(path)) for s, path in found.items()}
        break
      action, info = (osp.join(folder, "anet_anno_action.json"),
                      osp.join(folder, "video_info_new.csv"))
      if osp.isfile(action) and osp.isfile(info):
        subsets = process.process(info, action)
        out = {s: (f"{action} ({s} videos of {info})", subsets[s]) for s in SPLIT_FILES
               if subsets[s]}
        break
    else:
      raise FileNotFoundError(f"{manual_dir} has neither anet_anno_{{train,val,test}}.json nor "
                              "anet_anno_action.json + video_info_new.csv; see the builder's "
                              "MANUAL_DOWNLOAD_INSTRUCTIONS")
    for path, database in out.values():
      if not isinstance(database, dict):
        raise ValueError(f"{path}: expected a JSON object mapping video names to their info")
      for name, video_info in database.items():
        try:
          check_video_info(name, video_info)
        except ValueError as e:
          raise ValueError(f"{path}: {e}") from None
    return out

  def feature_folder(self, manual_dir: str) -> str:
    cfg = self.builder_config
    for sub in cfg.folders:
      if osp.isdir(osp.join(manual_dir, sub)):
        return osp.join(manual_dir, sub)
    raise FileNotFoundError(f"{manual_dir} has none of {', '.join(cfg.folders)} (the "
                            f"{cfg.name} features); see the builder's "
                            "MANUAL_DOWNLOAD_INSTRUCTIONS")

  def _split_videos(self, dl_manager):
    manual_dir = str(dl_manager.manual_dir)
    annotations = self.annotations(manual_dir)
    folder = self.feature_folder(manual_dir)
    present = set(os.listdir(folder))
    self._class_names = sorted({a["label"] for _, db in annotations.values()
                                for v in db.values() for a in v["annotations"] if "label" in a})
    plan = {}
    for split, (path, database) in annotations.items():
      items = []
      for name, video_info in database.items():
        file = next((name + ext for ext in self.builder_config.exts if name + ext in present),
                    None)
        items.append((name, video_info, osp.join(folder, file) if file else None))
      if not any(p for _, _, p in items):
        print(f"vjax: {self.name}: no feature file in {folder} for any video of {path}; "
              f"split {split!r} left out")
        continue
      plan[split] = self._videos(items)
    if not plan:
      raise FileNotFoundError(f"{folder} holds no feature file of the annotated videos")
    return plan

  def _videos(self, items):
    jobs = [(path, name) for name, _, path in items]
    if self.num_workers <= 1 or len(jobs) < _PARALLEL_MIN_VIDEOS:
      features = map(_read_job, jobs)
      for (name, video_info, _), feature in zip(items, features):
        yield name, video_info, feature
      return
    ctx = multiprocessing.get_context("spawn")  # no forked copies of a threaded parent
    with concurrent.futures.ProcessPoolExecutor(self.num_workers, mp_context=ctx) as pool:
      features = pool.map(_read_job, jobs, chunksize=16)
      for (name, video_info, _), feature in zip(items, features):
        yield name, video_info, feature
