"""Write MMAction2's annotation lists of a dataset's extracted frames or videos
(MMAction2's tools/data/build_file_list.py), which ``VideoDataset``/``RawframeDataset`` read.

    python -m vjax.tools.build_file_list ucf101 data/ucf101/rawframes/ --level 2 \
        --format rawframes --shuffle
    python -m vjax.tools.build_file_list kinetics400 data/kinetics400/videos_val/ --level 2 \
        --format videos --num-split 1 --subset val

Samples come from the official annotations (``vjax.data.official_annotations``, read from
``--annotation-dir``, by default ``data/<dataset>/annotations`` as MMAction2 expects); those
without media under SRC_FOLDER are left out. UCF101/HMDB51 get
``<dataset>_{train,val}_split_<n>_<format>.txt`` for splits 1..--num-split; the other
datasets one ``<dataset>_<subset>_list_<format>.txt``. Lines are ``frame_dir total_frames
label`` (raw frames, counted in each folder) or ``path label`` (videos), with every label of
a multi-label sample and -1 for an unlabelled test sample; ``--output-format json`` writes
the same as anno_txt2json's dicts. ``--shuffle --seed S`` gives MMAction2's order for the
same seed.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import os.path as osp
import random
import sys

from vjax.data import official_annotations as oa
from vjax.tools.anno_txt2json import lines_to_dicts

DATASETS = ("ucf101", "kinetics400", "kinetics600", "kinetics700", "sthv1", "sthv2", "mit",
            "mmit", "hmdb51", "jester", "diving48")
_MULTI_SPLIT = ("ucf101", "hmdb51")


def _visible(folder: str) -> list[str]:
  return sorted(name for name in os.listdir(folder) if not name.startswith("."))


def _subfolders(src_folder: str, level: int) -> list[str]:
  """Relative paths of the entries ``level`` folders down (MMAction2's ``*`` or ``*/*``
  globs, which skip hidden names), sorted."""
  if level not in (1, 2):
    raise ValueError(f"level must be 1 or 2, got {level}")
  tops = _visible(src_folder)
  if level == 1:
    return tops
  return [osp.join(top, name) for top in tops if osp.isdir(osp.join(src_folder, top))
          for name in _visible(osp.join(src_folder, top))]


def scan_rawframes(src_folder: str, level: int, rgb_prefix: str = "img_",
                   flow_x_prefix: str = "flow_x_", flow_y_prefix: str = "flow_y_",
                   progress: bool = True) -> dict[str, tuple[str, int, int]]:
  """Frame folder id (``name`` or ``class/name``) -> (relative path, RGB frames, flow
  frames), counting the files that start with each prefix."""
  from tqdm import tqdm  # pylint: disable=g-import-not-at-top
  folders = [rel for rel in _subfolders(src_folder, level)
             if osp.isdir(osp.join(src_folder, rel))]
  found = {}
  for rel in tqdm(folders, desc="count frames", disable=not progress, dynamic_ncols=True):
    names = os.listdir(osp.join(src_folder, rel))
    rgb, flow_x, flow_y = (len(fnmatch.filter(names, p + "*"))
                           for p in (rgb_prefix, flow_x_prefix, flow_y_prefix))
    if flow_x != flow_y:
      raise ValueError(f"{osp.join(src_folder, rel)}: {flow_x} x-flow but {flow_y} y-flow frames")
    found[oa.media_key(rel)] = (rel, rgb, flow_x)
  return found


def scan_videos(src_folder: str, level: int) -> dict[str, tuple[str, int, int]]:
  """Video id (the relative path without extension) -> (relative path, -1, -1)."""
  return {oa.media_key(osp.splitext(rel)[0]): (rel, -1, -1)
          for rel in _subfolders(src_folder, level) if osp.isfile(osp.join(src_folder, rel))}


def _media_key(entry: oa.VideoEntry, level: int) -> str:
  """MMAction2's id of a sample: ``class/name`` at level 2, ``name`` at level 1."""
  vid = entry.video_id
  return oa.media_key(vid if level == 2 else vid.rsplit("/", 1)[-1])


def _labels_text(label) -> str:
  if label is None:
    return "-1"  # MMAction2's mark of an unknown (test) label
  return " ".join(str(l) for l in label) if isinstance(label, tuple) else str(label)


def list_lines(entries: list[oa.VideoEntry], media: dict[str, tuple[str, int, int]],
               fmt: str, level: int) -> tuple[list[str], int]:
  """The list's lines for the entries with media (in entry order), and how many had none."""
  lines, missing = [], 0
  for entry in entries:
    hit = media.get(_media_key(entry, level))
    if hit is None or (fmt == "rawframes" and hit[1] <= 0):
      missing += 1
      continue
    path, count, _ = hit
    if any(c.isspace() for c in path):
      raise ValueError(f"{path}: annotation lists are whitespace-separated, so media paths "
                       "cannot contain spaces; rename the folders (for Kinetics, MMAction2's "
                       "tools/data/kinetics/rename_classnames.sh)")
    label = _labels_text(entry.label)
    lines.append(f"{path} {count} {label}\n" if fmt == "rawframes" else f"{path} {label}\n")
  return lines, missing


def _shuffled(lines: list[str], rng: random.Random) -> list[str]:
  """MMAction2 shuffles each RGB list and then its flow twin with one seeded generator; the
  twin (same length) is shuffled too so that a seed gives MMAction2's order."""
  lines = list(lines)
  rng.shuffle(lines)
  rng.shuffle(list(range(len(lines))))
  return lines


def _write(path: str, lines: list[str], fmt: str, output_format: str) -> str:
  if output_format == "json":
    path = osp.splitext(path)[0] + ".json"
    with open(path, "w") as f:
      json.dump(lines_to_dicts(lines, fmt, path), f)
  else:
    with open(path, "w") as f:
      f.writelines(lines)
  return path


def build(args) -> list[str]:
  """Writes the lists ``args`` asks for; returns their paths."""
  if args.dataset in _MULTI_SPLIT:
    if not 1 <= args.num_split <= 3:
      raise ValueError(f"{args.dataset} has 3 splits; --num-split must be 1..3, got "
                       f"{args.num_split}")
    parsed = [oa.parse(args.dataset, args.annotation_dir, split=i)
              for i in range(1, args.num_split + 1)]
  else:
    if args.num_split != 1:
      raise ValueError(f"{args.dataset} has a single split; pass --num-split 1")
    parsed = [oa.parse(args.dataset, args.annotation_dir)]
    if args.subset not in parsed[0].splits:
      raise ValueError(f"{args.dataset}'s annotations in {args.annotation_dir} have no "
                       f"{args.subset!r} split (they have {sorted(parsed[0].splits)})")
  if args.format == "rawframes":
    media = scan_rawframes(args.src_folder, args.level, args.rgb_prefix, args.flow_x_prefix,
                           args.flow_y_prefix, progress=not args.quiet)
  else:
    media = scan_videos(args.src_folder, args.level)
  out_dir = osp.join(args.out_root_path, args.dataset)
  os.makedirs(out_dir, exist_ok=True)
  rng = random.Random(args.seed)
  written = []
  multi = args.dataset in _MULTI_SPLIT
  for i, official in enumerate(parsed, 1):
    # MMAction2 builds and shuffles train then val (one generator throughout), whichever
    # it writes; a test list (which it cannot build) comes after them.
    for split in ("train", "val", "test"):
      if split not in official.splits or (split == "test" and (multi or args.subset != "test")):
        continue
      lines, missing = list_lines(official.splits[split], media, args.format, args.level)
      if args.shuffle:
        lines = _shuffled(lines, rng)
      if not multi and split != args.subset:
        continue
      if missing and not args.quiet:
        print(f"{args.dataset} {split}: {missing} of {len(official.splits[split])} samples have "
              f"no {args.format} under {args.src_folder}; left out")
      name = (f"{args.dataset}_{split}_split_{i}_{args.format}.txt" if multi else
              f"{args.dataset}_{split}_list_{args.format}.txt")
      written.append(_write(osp.join(out_dir, name), lines, args.format, args.output_format))
  return written


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description="Build MMAction2 file lists of a dataset")
  parser.add_argument("dataset", choices=DATASETS, help="dataset to build file lists of")
  parser.add_argument("src_folder", help="root folder of the frame folders or videos")
  parser.add_argument("--rgb-prefix", default="img_", help="prefix of RGB frames")
  parser.add_argument("--flow-x-prefix", default="flow_x_", help="prefix of x-flow frames")
  parser.add_argument("--flow-y-prefix", default="flow_y_", help="prefix of y-flow frames")
  parser.add_argument("--num-split", type=int, default=3, help="number of splits to list")
  parser.add_argument("--subset", default="train", choices=["train", "val", "test"],
                      help="split to list (single-split datasets)")
  parser.add_argument("--level", type=int, default=2, choices=[1, 2],
                      help="folder depth of the media: 1 flat, 2 in class folders")
  parser.add_argument("--format", default="rawframes", choices=["rawframes", "videos"],
                      help="list frame folders or videos")
  parser.add_argument("--out-root-path", default="data/",
                      help="lists go to <out-root-path>/<dataset>/")
  parser.add_argument("--output-format", default="txt", choices=["txt", "json"],
                      help="list file format")
  parser.add_argument("--seed", type=int, default=None, help="random seed of --shuffle")
  parser.add_argument("--shuffle", action="store_true", help="shuffle the lists")
  parser.add_argument("--annotation-dir", default=None,
                      help="official annotation files (default: data/<dataset>/annotations)")
  parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")
  args = parser.parse_args(argv)
  if args.annotation_dir is None:
    args.annotation_dir = osp.join("data", args.dataset, "annotations")
  if not osp.isdir(args.src_folder):
    parser.error(f"source folder {args.src_folder} does not exist")
  return args


def main(argv=None) -> list[str]:
  args = parse_args(argv)
  if args.seed is not None and not args.quiet:
    print(f"Set random seed to {args.seed}")
  try:
    written = build(args)
  except (FileNotFoundError, ValueError) as e:
    sys.exit(f"build_file_list: {e}")
  for path in written:
    if not args.quiet:
      print(f"wrote {path}")
  return written


if __name__ == "__main__":
  main(sys.argv[1:])
