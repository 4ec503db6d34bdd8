"""The ``posec3d`` TFDS builder (the class says what it holds)."""

from __future__ import annotations

import dataclasses
import os.path as osp

import tensorflow_datasets as tfds

from tfds_builders.common import encode as enc
from tfds_builders.posec3d import kinetics
from tfds_builders.posec3d import records

# Where a download's files may sit under manual_dir (MMAction2 keeps them in data/posec3d/ in
# 0.24.1, data/skeleton/ in 1.x, data/babel/ for BABEL).
SEARCH_DIRS = (".", "posec3d", "skeleton", "babel")


@dataclasses.dataclass(eq=False)
class PoseC3DConfig(tfds.core.BuilderConfig):
  """Which release a build reads and how its splits map to vjax's 'train' / 'val'.

  ``combined``: files holding ``{'split': {name: [ids]}, 'annotations': [...]}`` (MMAction2 1.x
  and PYSKL), the first found is used, with ``splits`` naming the split list of 'train' and
  'val'; otherwise ``per_split``: alternatives, each a file per split holding a list of
  entries (MMAction2 0.24.1's releases, gen_ntu_rgbd_raw's and babel2mma2's outputs).
  ``label_map``: the stem of an optional ``label_map_<stem>.txt`` (one class name per line)."""

  label_map: str = ""
  layout: str = "coco2d"
  num_classes: int = 0
  splits: tuple[tuple[str, str], ...] = (("train", "train"), ("val", "val"))
  combined: tuple[str, ...] = ()
  per_split: tuple[tuple[tuple[str, str], ...], ...] = ()
  kinetics: bool = False


def _pair(train: str, val: str) -> tuple[tuple[str, str], ...]:
  return (("train", train), ("val", val))


def _ntu_configs() -> list[PoseC3DConfig]:
  out = []
  for n, benchmarks in ((60, ("xsub", "xview")), (120, ("xsub", "xset"))):
    for bench in benchmarks:
      for dim, layout in (("2d", "coco2d"), ("3d", "ntu3d")):
        if dim == "2d":
          combined = (f"ntu{n}_2d.pkl", f"ntu{n}_hrnet.pkl")
          lists = (_pair(f"ntu{n}_{bench}_train.pkl", f"ntu{n}_{bench}_val.pkl"),)
          what = "HRNet 2D keypoints"
        else:
          combined = (f"ntu{n}_3d.pkl", f"ntu{n}_3danno.pkl")
          folder = f"nturgb+d_skeletons_{n}_3d/{'xsetup' if bench == 'xset' else bench}"
          lists = (_pair(f"{folder}/train.pkl", f"{folder}/val.pkl"),)
          what = "Kinect 3D joints"
        out.append(PoseC3DConfig(
            name=f"ntu{n}_{bench}_{dim}", label_map=f"ntu{n}", layout=layout, num_classes=n,
            splits=_pair(f"{bench}_train", f"{bench}_val"), combined=combined,
            per_split=lists,
            description=f"NTU RGB+D {n}, {bench} benchmark, {what}"))
  return out


def _official_split_configs(dataset: str, num_classes: int, title: str) -> list[PoseC3DConfig]:
  return [PoseC3DConfig(
      name=f"{dataset}_2d_split{k}", label_map=dataset, num_classes=num_classes,
      splits=_pair(f"train{k}", f"test{k}"),
      combined=(f"{dataset}_2d.pkl", f"{dataset}_hrnet.pkl", f"{dataset}.pkl"),
      description=f"{title}, HRNet 2D keypoints, official split {k} (train{k} / test{k})")
      for k in (1, 2, 3)]


CONFIGS = _ntu_configs() + [
    PoseC3DConfig(name="gym_2d", label_map="gym99", num_classes=99,
                  combined=("gym_2d.pkl", "gym_hrnet.pkl"),
                  per_split=(_pair("gym_train.pkl", "gym_val.pkl"),),
                  description="FineGYM (Gym99), HRNet 2D keypoints from ground-truth boxes"),
] + _official_split_configs("ucf101", 101, "UCF101") + _official_split_configs(
    "hmdb51", 51, "HMDB51") + [
    PoseC3DConfig(name="k400_2d", label_map="k400", num_classes=400,
                  combined=("k400_2d.pkl", "k400_hrnet.pkl"),
                  per_split=(_pair("k400_train.pkl", "k400_val.pkl"),), kinetics=True,
                  description="Kinetics-400, HRNet 2D keypoints from separate kpfiles, laid "
                              "out as LoadKineticsPose does (all detections, squeezed)"),
] + [
    PoseC3DConfig(name=f"babel{n}", label_map=f"babel{n}", layout="ntu3d", num_classes=n,
                  per_split=(_pair(f"babel{n}_train.pkl", f"babel{n}_val.pkl"),),
                  description=f"BABEL-{n}: 5 s chunks of AMASS mocap as NTU joints "
                              "(babel2mma2's output)")
    for n in (60, 120)
]


class Posec3d(records.SkeletonBuilder):
  """Skeleton annotations released with PoseC3D / MMAction2 (NTU RGB+D 60 and 120 in 2D and
  3D, FineGYM, UCF101, HMDB51, Kinetics-400) and made by MMAction2's tools (gen_ntu_rgbd_raw,
  babel2mma2): per video its keypoints (M persons, T frames, V joints, C coordinates), scores
  for 2D, frame count, image shape and class, as MMAction2's PoseDataset reads them."""

  HOMEPAGE = "https://github.com/open-mmlab/mmaction2/tree/master/tools/data/skeleton"
  BUILDER_CONFIGS = CONFIGS
  MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Put the release's pickle files in manual_dir (or its posec3d/, skeleton/ or babel/ folder);
per config the first of these found is read:
  ntu60_{xsub,xview}_2d: ntu60_2d.pkl (MMAction2 1.x) or ntu60_hrnet.pkl (PYSKL), or
    ntu60_xsub_train.pkl + ntu60_xsub_val.pkl (MMAction2 0.24.1's release).
  ntu120_{xsub,xset}_2d: ntu120_2d.pkl, ntu120_hrnet.pkl, or ntu120_xsub_{train,val}.pkl.
  ntu60_{xsub,xview}_3d / ntu120_{xsub,xset}_3d: ntu60_3d.pkl / ntu120_3d.pkl (1.x),
    ntu60_3danno.pkl / ntu120_3danno.pkl (PYSKL), or the output of
    `python -m vjax.tools.gen_ntu_rgbd_raw` (MMAction2's gen_ntu_rgbd_raw.py) in
    nturgb+d_skeletons_60_3d/{xsub,xview}/ or nturgb+d_skeletons_120_3d/{xsub,xsetup}/.
  gym_2d: gym_2d.pkl, gym_hrnet.pkl, or gym_train.pkl + gym_val.pkl.
  ucf101_2d_split{1,2,3} / hmdb51_2d_split{1,2,3}: ucf101_2d.pkl, ucf101_hrnet.pkl or
    ucf101.pkl (and hmdb51_*), with their train1..3 / test1..3 split lists.
  k400_2d: k400_2d.pkl or k400_hrnet.pkl (or k400_train.pkl + k400_val.pkl) and the kpfiles
    its entries name (`raw_file` or `filename`), in kpfiles/ or where the entries say.
  babel60 / babel120: babel60_train.pkl + babel60_val.pkl (and babel120_*), the output of
    `python -m vjax.tools.babel2mma2`.
Optionally label_map_<name>.txt (ntu60, ntu120, gym99, ucf101, hmdb51, k400, babel60,
babel120), one class name per line; without it classes are named by their index.
vjax's splits are 'train' and 'val' (for UCF101 / HMDB51 'val' is the split's test list). An
entry that does not fit the config (missing field, other keypoint layout, label out of range)
and a split member without an entry are listed in build_summary.json; the build goes on.
"""

  def _find(self, manual_dir: str, name: str) -> str | None:
    return next((osp.join(manual_dir, d, name) for d in SEARCH_DIRS
                 if osp.isfile(osp.join(manual_dir, d, name))), None)

  def _class_names(self, manual_dir: str) -> list[str]:
    cfg = self.builder_config
    path = self._find(manual_dir, f"label_map_{cfg.label_map}.txt")
    if path is None:
      return [str(i) for i in range(cfg.num_classes)]
    with open(path) as f:
      names = [line.strip() for line in f if line.strip()]
    if len(names) != cfg.num_classes:
      raise ValueError(f"{path} names {len(names)} classes, {cfg.name} has {cfg.num_classes}; "
                       "fix or remove the file")
    return names

  def annotation_sources(self, manual_dir: str) -> dict[str, tuple[str, list]]:
    """Split -> (the file its entries come from, the entries in the file's order, then a
    ``Skip`` per split member without an entry)."""
    cfg = self.builder_config
    for name in cfg.combined:
      path = self._find(manual_dir, name)
      if path is not None:
        return self._from_combined(path)
    for alternative in cfg.per_split:
      found = {split: self._find(manual_dir, name) for split, name in alternative}
      if any(found.values()):
        out = {}
        for split, path in found.items():
          if path is None:
            print(f"vjax: {self.name}/{cfg.name}: no {dict(alternative)[split]} in {manual_dir}; "
                  f"split {split!r} left out")
            continue
          data = records.load_pickle(path)
          if isinstance(data, dict) and "annotations" in data:
            data = data["annotations"]
          if not isinstance(data, list):
            raise ValueError(f"{path}: expected a list of annotation dicts, got "
                             f"{type(data).__name__}")
          out[split] = (path, data)
        return out
    wanted = list(cfg.combined) + [" + ".join(n for _, n in a) for a in cfg.per_split]
    raise FileNotFoundError(f"{manual_dir} has none of {', '.join(wanted)} (the {cfg.name} "
                            "release); see the builder's MANUAL_DOWNLOAD_INSTRUCTIONS")

  def _from_combined(self, path: str) -> dict[str, tuple[str, list]]:
    cfg = self.builder_config
    data = records.load_pickle(path)
    if not (isinstance(data, dict) and isinstance(data.get("split"), dict) and
            isinstance(data.get("annotations"), list)):
      raise ValueError(f"{path}: expected a dict with 'split' (name -> video ids) and "
                       "'annotations' (a list), as MMAction2's skeleton releases hold")
    annotations, split_lists = data["annotations"], data["split"]
    absent = [name for _, name in cfg.splits if name not in split_lists]
    if absent:
      raise ValueError(f"{path} has no split {', '.join(absent)} for config {cfg.name}; its "
                       f"splits: {sorted(split_lists)}")
    # PoseDataset's rule: entries are named by 'filename' when they have one (Kinetics).
    first = next((a for a in annotations if isinstance(a, dict)), {})
    identifier = "filename" if "filename" in first else "frame_dir"
    out = {}
    for split, name in cfg.splits:
      members = set(split_lists[name])
      entries = [a for a in annotations if isinstance(a, dict) and a.get(identifier) in members]
      present = {a.get(identifier) for a in entries}
      entries += [records.skip("missing", f"listed in split {name!r} of {path}, no entry", m)
                  for m in split_lists[name] if m not in present]
      out[split] = (path, entries)
    return out

  def _split_annotations(self, dl_manager):
    manual_dir = str(dl_manager.manual_dir)
    self.info.features["label"].names = self._class_names(manual_dir)
    sources = self.annotation_sources(manual_dir)
    folders = dict.fromkeys([osp.dirname(p) for p, _ in sources.values()] + [manual_dir])
    load = records.load_pickle
    reader = kinetics.KpfileReader(load, list(folders))
    return {split: self._entries(entries, reader) for split, (_, entries) in sources.items()}

  def _entries(self, entries: list, reader: kinetics.KpfileReader):
    for i, entry in enumerate(entries):
      if self.builder_config.kinetics and isinstance(entry, dict):
        try:
          entry = kinetics.dense_annotation(entry, reader)
        except enc.Skip as e:
          entry = records.skip(e.reason, e.detail, entry.get("frame_dir", i))
        except (KeyError, TypeError, ValueError) as e:
          entry = records.skip("corrupt", f"{type(e).__name__}: {e}", entry.get("frame_dir", i))
      yield f"{i:08d}", entry
