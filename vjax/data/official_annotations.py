"""The official annotation files of every recognition dataset MMAction2 0.24.1 prepares
(``tools/data/<dataset>/``), read into one ``OfficialSplits`` per dataset: class names in
MMAction2's label order and each split's samples.

``vjax.tools.build_file_list`` writes MMAction2's annotation lists from these; the TFDS
builders turn a local download into records with them, and ``MediaIndex`` finds each
sample's video or frame folder in that download. Files are looked up under the names the
official release uses and under the names MMAction2's ``download_annotations.sh`` gives them.

Split names follow MMAction2's file lists: the held-out split it evaluates on is ``'val'``
(UCF101/HMDB51 test lists, Diving48's test json); ``'test'`` is an unlabelled test set
(Kinetics, Something-Something, Jester, HVU), present only when its file is.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import os.path as osp
import re
from typing import Any, Iterator, Mapping

VIDEO_EXTS = (".mp4", ".avi", ".webm", ".mkv")
_MM_TOOLS = "MMAction2's tools/data"


@dataclasses.dataclass(frozen=True)
class VideoEntry:
  """One sample: its id in the dataset (as MMAction2 names it) and its label.

  ``label`` is a class index, a tuple of them (multi-label), or None (unlabelled test set).
  ``start``/``end`` (seconds) are set when the sample is a part of a longer video (FineGYM
  subactions inside their event clip); ``extra`` keeps the dataset's other fields.
  """

  video_id: str
  label: int | tuple[int, ...] | None
  start: float | None = None
  end: float | None = None
  extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class OfficialSplits:
  """A dataset's classes (``class_names[label]``) and samples per split."""

  dataset: str
  class_names: list[str]
  splits: dict[str, list[VideoEntry]]
  categories: dict[str, list[str]] | None = None  # HVU: category -> its tag names


# --------------------------------------------------------------------------- file access


def _find(annotation_dir: str, names, hint: str, subdirs=(), required: bool = True):
  """The first of ``names`` in ``annotation_dir`` (or in one of ``subdirs`` of it, where the
  official archive unpacks), so both the official and MMAction2's file names work."""
  for sub in ("",) + tuple(subdirs):
    for name in names:
      path = osp.join(annotation_dir, sub, name)
      if osp.isfile(path):
        return path
  if not required:
    return None
  also = f" (nor {', '.join(names[1:])})" if len(names) > 1 else ""
  raise FileNotFoundError(f"{osp.join(annotation_dir, names[0])} not found{also}. It comes with "
                          f"{hint}.")


def _malformed(path: str, where: str, problem: str, line: str | None = None) -> ValueError:
  shown = f"\n  line: {line!r}" if line is not None else ""
  return ValueError(f"{path}, {where}: {problem}{shown}")


def _lines(path: str) -> Iterator[tuple[int, str]]:
  """(line number, stripped line) of the non-blank lines."""
  with open(path, encoding="utf-8-sig") as f:
    for lineno, line in enumerate(f, 1):
      if line.strip():
        yield lineno, line.strip()


def _csv_rows(path: str) -> Iterator[tuple[int, list[str]]]:
  """(line number, stripped cells) of the non-blank csv rows; csv quoting is honoured."""
  with open(path, encoding="utf-8-sig", newline="") as f:
    reader = csv.reader(f)
    for row in reader:
      if any(cell.strip() for cell in row):
        yield reader.line_num, [cell.strip() for cell in row]


def _json(path: str):
  with open(path, encoding="utf-8-sig") as f:
    try:
      return json.load(f)
    except json.JSONDecodeError as e:
      raise ValueError(f"{path}: invalid JSON: {e}") from None


def _json_list(path: str) -> list:
  data = _json(path)
  if not isinstance(data, list):
    raise ValueError(f"{path}: expected a JSON list, got {type(data).__name__}")
  return data


def _int(text, path: str, where: str, what: str, line=None) -> int:
  try:
    return int(text)
  except (TypeError, ValueError):
    raise _malformed(path, where, f"{what} {text!r} is not an integer", line) from None


def _seconds(text, path: str, where: str, what: str, line=None) -> float:
  try:
    return float(text)
  except (TypeError, ValueError):
    raise _malformed(path, where, f"{what} {text!r} is not a number", line) from None


def _stem(path: str) -> str:
  return osp.splitext(path)[0]


def _by_index(pairs, path: str, first: int = 0) -> list[str]:
  """Class names ordered by their index in ``(index, name, line number)`` triples; the
  indices must be ``first .. first + n - 1`` without gaps, or labels would be ambiguous."""
  names: dict[int, str] = {}
  for index, name, lineno in pairs:
    if index in names:
      raise _malformed(path, f"line {lineno}", f"class index {index} given twice")
    names[index] = name
  want = list(range(first, first + len(names)))
  if sorted(names) != want:
    missing = sorted(set(want) - set(names))
    raise ValueError(f"{path}: class indices must run from {first} to {first + len(names) - 1}; "
                     f"missing {missing[:5]}")
  return [names[i] for i in want]


def _name_per_line(path: str) -> list[str]:
  """Class ``i`` is named on the ``i``-th non-blank line (20BN's ``*-labels.csv``)."""
  return [line for _, line in _lines(path)]


def _name_comma_index(path: str) -> list[str]:
  """``name,index`` lines (Moments in Time's ``moments_categories.txt``)."""
  pairs = []
  for lineno, line in _lines(path):
    name, sep, index = line.rpartition(",")
    if not sep or not name.strip():
      raise _malformed(path, f"line {lineno}", "expected '<class name>,<index>'", line)
    pairs.append((_int(index.strip(), path, f"line {lineno}", "class index", line), name.strip(),
                  lineno))
  return _by_index(pairs, path)


def _index_space_name(path: str) -> list[str]:
  """``index name`` lines numbered from 1 (UCF101's ``classInd.txt``): MMAction2 subtracts 1."""
  pairs = []
  for lineno, line in _lines(path):
    fields = line.split(maxsplit=1)
    if len(fields) != 2:
      raise _malformed(path, f"line {lineno}", "expected '<index> <class name>'", line)
    pairs.append((_int(fields[0], path, f"line {lineno}", "class index", line), fields[1].strip(),
                  lineno))
  return _by_index(pairs, path, first=1)


def _label_of(index: dict[str, int], name: str, path: str, where: str, line=None) -> int:
  if name not in index:
    raise _malformed(path, where, f"class {name!r} is not in the dataset's class list", line)
  return index[name]


def _check_labels(labels, num_classes: int, path: str, where: str, line=None):
  bad = [l for l in labels if not 0 <= l < num_classes]
  if bad:
    raise _malformed(path, where, f"label(s) {bad} outside [0, {num_classes})", line)


# --------------------------------------------------------------------------- Kinetics


_KINETICS_FILES = (("train", ("kinetics_train.csv", "train.csv")),
                   ("val", ("kinetics_val.csv", "validate.csv", "val.csv")),
                   ("test", ("kinetics_test.csv", "test.csv")))


def kinetics_class_key(name: str) -> str:
  """MMAction2's form of a Kinetics class name: no quotes, spaces as underscores. Classes are
  numbered in the sorted order of these keys, and class folders renamed by
  ``rename_classnames.sh`` carry them."""
  return name.replace('"', "").replace(" ", "_")


def _kinetics_rows(path: str):
  """(line number, label or None, youtube id, start, end) of an official Kinetics csv,
  found by the header's column names: test csvs come with and without a label column."""
  rows = _csv_rows(path)
  header_line, header = next(rows, (1, []))
  cols = {name.lower(): i for i, name in enumerate(header)}
  need = ("youtube_id", "time_start", "time_end")
  if not all(c in cols for c in need):
    raise _malformed(path, f"line {header_line}", "expected a header naming the columns "
                     "label,youtube_id,time_start,time_end", ",".join(header))
  label_col = cols.get("label")
  for lineno, row in rows:
    where = f"line {lineno}"
    if len(row) <= max(cols[c] for c in need):
      raise _malformed(path, where, f"{len(row)} columns, the header names {len(header)}",
                       ",".join(row))
    label = row[label_col] if label_col is not None and label_col < len(row) else ""
    start = int(_seconds(row[cols["time_start"]], path, where, "time_start", ",".join(row)))
    end = int(_seconds(row[cols["time_end"]], path, where, "time_end", ",".join(row)))
    yield lineno, (label or None), row[cols["youtube_id"]], start, end


def _parse_kinetics(dataset: str, annotation_dir: str) -> OfficialSplits:
  hint = (f"the official {dataset} annotations ({dataset}.tar.gz from DeepMind; "
          f"{_MM_TOOLS}/kinetics/download_annotations.sh {dataset} renames train.csv, "
          "validate.csv and test.csv to kinetics_{train,val,test}.csv)")
  rows = {}
  for split, names in _KINETICS_FILES:
    path = _find(annotation_dir, names, hint, required=split != "test")
    if path is not None:
      rows[split] = (path, list(_kinetics_rows(path)))
  # As MMAction2: the classes are those of the training csv, sorted by their key.
  spelled: dict[str, str] = {}
  train_path, train_rows = rows["train"]
  for lineno, label, *_ in train_rows:
    if label is None:
      raise _malformed(train_path, f"line {lineno}", "a training clip without a label")
    spelled.setdefault(kinetics_class_key(label), label.replace('"', ""))
  keys = sorted(spelled)
  index = {key: i for i, key in enumerate(keys)}
  splits = {}
  for split, (path, split_rows) in rows.items():
    entries = []
    for lineno, label, youtube_id, start, end in split_rows:
      clip = f"{youtube_id}_{start:06d}_{end:06d}"
      extra = {"youtube_id": youtube_id, "time_start": start, "time_end": end}
      if label is None:
        if split != "test":
          raise _malformed(path, f"line {lineno}", f"a {split} clip without a label")
        entries.append(VideoEntry(clip, None, extra=extra))
        continue
      key = kinetics_class_key(label)
      target = _label_of(index, key, path, f"line {lineno}")
      # MMAction2 names train/val clips inside their class folder, test clips flat.
      video_id = clip if split == "test" else f"{key}/{clip}"
      entries.append(VideoEntry(video_id, target, extra=extra))
    splits[split] = entries
  return OfficialSplits(dataset, [spelled[k] for k in keys], splits)


# --------------------------------------------------------------------------- UCF101 / HMDB51


def _check_split(split: int, count: int, dataset: str) -> None:
  if split not in range(1, count + 1):
    raise ValueError(f"{dataset} has splits 1..{count}, got split={split!r}")


def _class_path_entries(path: str, index: dict[str, int]) -> list[VideoEntry]:
  """Lines ``<class>/<video>.<ext> [label]``; the label is the folder's class, as MMAction2
  takes it (test lists carry none)."""
  entries = []
  for lineno, line in _lines(path):
    rel = line.split()[0].replace("\\", "/")
    cls = osp.dirname(rel)
    if not cls:
      raise _malformed(path, f"line {lineno}", "expected '<class>/<video file> [label]'", line)
    entries.append(VideoEntry(_stem(rel), _label_of(index, cls, path, f"line {lineno}", line)))
  return entries


def _parse_class_lists(dataset: str, annotation_dir: str, split: int, hint: str,
                       subdirs=()) -> OfficialSplits:
  """``classInd.txt`` + ``trainlist0N.txt`` / ``testlist0N.txt`` (UCF101's release, and the
  HMDB51 lists MMAction2 writes in that form)."""
  class_names = _index_space_name(_find(annotation_dir, ("classInd.txt",), hint, subdirs))
  index = {name: i for i, name in enumerate(class_names)}
  splits = {}
  for key, name in (("train", f"trainlist{split:02d}.txt"), ("val", f"testlist{split:02d}.txt")):
    splits[key] = _class_path_entries(_find(annotation_dir, (name,), hint, subdirs), index)
  return OfficialSplits(dataset, class_names, splits)


def _parse_ucf101(annotation_dir: str, split: int) -> OfficialSplits:
  _check_split(split, 3, "ucf101")
  hint = ("UCF101TrainTestSplits-RecognitionTask.zip from crcv.ucf.edu "
          f"({_MM_TOOLS}/ucf101/download_annotations.sh)")
  return _parse_class_lists("ucf101", annotation_dir, split, hint, ("ucfTrainTestlist",))


_HMDB_SUBDIRS = ("testTrainMulti_7030_splits",)


def _parse_hmdb51(annotation_dir: str, split: int) -> OfficialSplits:
  """HMDB51's ``<class>_test_split<N>.txt`` files, one per class, mark each video 1 (train),
  2 (test) or 0 (unused). Classes are numbered in sorted order, as MMAction2 numbers its
  sorted video folders."""
  _check_split(split, 3, "hmdb51")
  per_class: dict[str, str] = {}
  for folder in (annotation_dir,) + tuple(osp.join(annotation_dir, s) for s in _HMDB_SUBDIRS):
    if osp.isdir(folder):
      for name in sorted(os.listdir(folder)):
        match = re.fullmatch(rf"(.+)_test_split{split}\.txt", name)
        if match:
          per_class.setdefault(match.group(1), osp.join(folder, name))
  hint = ("test_train_splits.rar from serre-lab.clps.brown.edu "
          f"({_MM_TOOLS}/hmdb51/download_annotations.sh)")
  if not per_class:
    if osp.isfile(osp.join(annotation_dir, "classInd.txt")):  # MMAction2's converted lists
      return _parse_class_lists("hmdb51", annotation_dir, split, hint)
    raise FileNotFoundError(f"{annotation_dir}/<class>_test_split{split}.txt not found. They "
                            f"come with {hint}.")
  class_names = sorted(per_class)
  splits: dict[str, list[VideoEntry]] = {"train": [], "val": []}
  for label, cls in enumerate(class_names):
    path = per_class[cls]
    for lineno, line in _lines(path):
      fields = line.split()
      if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
        raise _malformed(path, f"line {lineno}", "expected '<video file> <0|1|2>'", line)
      if fields[1] != "0":
        entry = VideoEntry(f"{cls}/{_stem(fields[0])}", label)
        splits["train" if fields[1] == "1" else "val"].append(entry)
  return OfficialSplits("hmdb51", class_names, splits)


# --------------------------------------------------------------------------- 20BN (sthv1, jester)


def _parse_20bn_csv(dataset: str, annotation_dir: str, prefix: str, hint: str) -> OfficialSplits:
  """``<prefix>-labels.csv`` (one class per line, in label order) and ``id;class`` split
  files; the test file lists ids only."""
  class_names = _name_per_line(_find(annotation_dir, (f"{prefix}-labels.csv",), hint))
  index = {name: i for i, name in enumerate(class_names)}
  splits = {}
  for split, suffix in (("train", "train"), ("val", "validation"), ("test", "test")):
    path = _find(annotation_dir, (f"{prefix}-{suffix}.csv",), hint, required=split != "test")
    if path is None:
      continue
    entries = []
    for lineno, line in _lines(path):
      fields = [f.strip() for f in line.split(";")]
      if split == "test":
        entries.append(VideoEntry(fields[0], None))
        continue
      if len(fields) != 2 or not fields[0]:
        raise _malformed(path, f"line {lineno}", "expected '<video id>;<class name>'", line)
      entries.append(VideoEntry(fields[0], _label_of(index, fields[1], path, f"line {lineno}",
                                                     line)))
    splits[split] = entries
  return OfficialSplits(dataset, class_names, splits)


def _parse_sthv1(annotation_dir: str) -> OfficialSplits:
  return _parse_20bn_csv("sthv1", annotation_dir, "something-something-v1",
                         "the Something-Something V1 download from 20BN / Qualcomm")


def _parse_jester(annotation_dir: str) -> OfficialSplits:
  return _parse_20bn_csv("jester", annotation_dir, "jester-v1",
                         "the Jester V1 download from 20BN / Qualcomm")


# --------------------------------------------------------------------------- sthv2


def _parse_sthv2(annotation_dir: str) -> OfficialSplits:
  """Labels json ``{template: "index"}``; split jsons list ``{"id", "template", ...}`` whose
  template names the class once its ``[something]`` brackets are dropped."""
  hint = ("the Something-Something V2 label package from 20BN / Qualcomm (its labels/*.json, "
          "which MMAction2 copies to something-something-v2-*.json)")
  names = lambda part: (f"something-something-v2-{part}.json", f"{part}.json")
  labels_path = _find(annotation_dir, names("labels"), hint, ("labels",))
  labels = _json(labels_path)
  if not isinstance(labels, dict):
    raise ValueError(f"{labels_path}: expected a JSON object {{template: index}}")
  class_names = _by_index(((_int(v, labels_path, f"class {k!r}", "index"), k, 0)
                           for k, v in labels.items()), labels_path)
  index = {name: i for i, name in enumerate(class_names)}
  splits = {}
  for split, part in (("train", "train"), ("val", "validation"), ("test", "test")):
    path = _find(annotation_dir, names(part), hint, ("labels",), required=split != "test")
    if path is None:
      continue
    entries = []
    for i, item in enumerate(_json_list(path)):
      where = f"entry {i}"
      if not isinstance(item, dict) or "id" not in item:
        raise _malformed(path, where, "expected an object with an 'id'")
      if split == "test":
        entries.append(VideoEntry(str(item["id"]), None))
        continue
      if not isinstance(item.get("template"), str):
        raise _malformed(path, where, "expected a 'template' naming the class")
      template = item["template"].replace("[", "").replace("]", "")
      entries.append(VideoEntry(str(item["id"]), _label_of(index, template, path, where)))
    splits[split] = entries
  return OfficialSplits("sthv2", class_names, splits)


# --------------------------------------------------------------------------- MiT / MMiT


_MIT_SPLITS = (("train", "trainingSet"), ("val", "validationSet"))


def _parse_mit(annotation_dir: str) -> OfficialSplits:
  """``trainingSet.csv`` rows start with ``<class>/<video file>``: the folder is the class."""
  hint = (f"the Moments in Time release (Moments_in_Time_Raw.zip; {_MM_TOOLS}/mit/"
          "preprocess_data.sh moves its txt/csv files to annotations/)")
  class_names = _name_comma_index(_find(annotation_dir, ("moments_categories.txt",), hint))
  index = {name: i for i, name in enumerate(class_names)}
  splits = {}
  for split, name in _MIT_SPLITS:
    path = _find(annotation_dir, (f"{name}.csv",), hint)
    entries = []
    for lineno, row in _csv_rows(path):
      rel = row[0].replace("\\", "/")
      entries.append(VideoEntry(_stem(rel), _label_of(index, osp.dirname(rel), path,
                                                      f"line {lineno}", ",".join(row))))
    splits[split] = entries
  return OfficialSplits("mit", class_names, splits)


def _parse_mmit(annotation_dir: str) -> OfficialSplits:
  """Rows ``<class>/<video file>,<label>,<label>,...``. The release names the split files
  ``*.txt``; MMAction2 reads ``*.csv``: either is taken."""
  hint = (f"the Multi-Moments in Time release (Multi_Moments_in_Time.zip; {_MM_TOOLS}/mmit/"
          "preprocess_data.sh moves its txt/csv files to annotations/)")
  class_names = _name_comma_index(_find(annotation_dir, ("moments_categories.txt",), hint))
  splits = {}
  for split, name in _MIT_SPLITS:
    path = _find(annotation_dir, (f"{name}.csv", f"{name}.txt"), hint)
    entries = []
    for lineno, row in _csv_rows(path):
      where, line = f"line {lineno}", ",".join(row)
      labels = tuple(_int(x, path, where, "label", line) for x in row[1:] if x)
      if not labels:
        raise _malformed(path, where, "expected '<video file>,<label>[,<label> ...]'", line)
      _check_labels(labels, len(class_names), path, where, line)
      entries.append(VideoEntry(_stem(row[0].replace("\\", "/")), labels))
    splits[split] = entries
  return OfficialSplits("mmit", class_names, splits)


# --------------------------------------------------------------------------- Diving48


def _parse_diving48(annotation_dir: str, version: str = "v2") -> OfficialSplits:
  """Split jsons list ``{"vid_name", "label", "start_frame", "end_frame"}``; the vocabulary
  lists each class's (takeoff, somersault, twist, flight) parts, joined with '+' as in
  MMAction2's Diving48 label map. The test json is MMAction2's val split."""
  if version not in ("v1", "v2"):
    raise ValueError(f"diving48: version must be 'v1' or 'v2', got {version!r}")
  tag = "_V2" if version == "v2" else ""
  hint = ("the Diving48 annotations from svcl.ucsd.edu/projects/resound "
          f"({_MM_TOOLS}/diving48/download_annotations.sh)")
  vocab_path = _find(annotation_dir, ("Diving48_vocab.json",), hint)
  class_names = []
  for i, parts in enumerate(_json_list(vocab_path)):
    if isinstance(parts, str):
      class_names.append(parts)
    elif isinstance(parts, list) and all(isinstance(p, str) for p in parts):
      class_names.append("+".join(parts))
    else:
      raise _malformed(vocab_path, f"entry {i}", "expected a list of strings")
  splits = {}
  for split, part in (("train", "train"), ("val", "test")):
    path = _find(annotation_dir, (f"Diving48{tag}_{part}.json",), hint)
    entries = []
    for i, item in enumerate(_json_list(path)):
      where = f"entry {i}"
      if not isinstance(item, dict) or not {"vid_name", "label"} <= set(item):
        raise _malformed(path, where, "expected an object with 'vid_name' and 'label'")
      label = _int(item["label"], path, where, "label")
      _check_labels([label], len(class_names), path, where)
      extra = {k: item[k] for k in ("start_frame", "end_frame") if k in item}
      entries.append(VideoEntry(str(item["vid_name"]), label, extra=extra))
    splits[split] = entries
  return OfficialSplits("diving48", class_names, splits)


# --------------------------------------------------------------------------- FineGYM


_GYM_ELEMENT = re.compile(r"(?P<video>.+)_(?P<event>E_\d+_\d+)_(?P<action>A_\d+_\d+)")
_GYM_CATEGORY = re.compile(r"Clabel:\s*(\d+)\s*;.*?;\s*Glabel:\s*\d+\s*;\s*(.+)")
_GYM_CLASSES = {"gym99": 99, "gym288": 288}


def _gym_names(annotation_dir: str, dataset: str) -> list[str]:
  """Names from FineGYM's ``<dataset>_categories.txt`` (``Clabel: i; set: s; Glabel: g;
  name`` lines); without it the classes are named by their index."""
  names = (f"{dataset}_categories.txt", f"label_map_{dataset}.txt")
  path = _find(annotation_dir, names, "", required=False)
  if path is None:
    return [str(i) for i in range(_GYM_CLASSES[dataset])]
  pairs = []
  for lineno, line in _lines(path):
    match = _GYM_CATEGORY.fullmatch(line)
    if not match:
      raise _malformed(path, f"line {lineno}", "expected 'Clabel: <i>; set: <s>; Glabel: <g>; "
                       "<name>'", line)
    pairs.append((int(match.group(1)), match.group(2).strip(), lineno))
  return _by_index(pairs, path)


def _gym_times(annotation: dict, video: str, event: str, action: str):
  """(start, end) of the subaction inside its event clip and the event's (start, end) in the
  whole video: ``trim_subaction.py`` cuts the event clip from its first stage's start to its
  last stage's end; ``trim_event.py`` cuts the event from the video."""
  try:
    event_info = annotation[video][event]
    stages = event_info["segments"][action]["timestamps"]
    event_start, event_end = event_info["timestamps"][0]
    return (float(stages[0][0]), float(stages[-1][1]), float(event_start), float(event_end),
            event_info.get("event"))
  except (KeyError, TypeError, IndexError, ValueError):
    return None


def _parse_gym(dataset: str, annotation_dir: str) -> OfficialSplits:
  """Element lists ``<video>_E_<event>_A_<subaction> <label>`` (MMAction2 renames GYM99's to
  ``gym99_{train,val}_org.txt``; its ``gym99_{train,val}.txt`` of downloaded ones also do)
  and, for the clip times, FineGYM's annotation json (saved by MMAction2 as
  ``annotation.json``). Each sample is a subaction: ``start``/``end`` are its seconds inside
  the event clip ``extra['event_clip']``; ``extra['event_start']`` is where that clip starts
  in the YouTube video."""
  hint = (f"the FineGYM annotations from sdolivia.github.io/FineGym ({_MM_TOOLS}/gym/"
          "download_annotations.sh)")
  ann_path = _find(annotation_dir, ("annotation.json", "finegym_annotation_info_v1.1.json",
                                    "finegym_annotation_info_v1.0.json"), hint, required=False)
  annotation = _json(ann_path) if ann_path else {}
  if not isinstance(annotation, dict):
    raise ValueError(f"{ann_path}: expected a JSON object keyed by YouTube id")
  class_names = _gym_names(annotation_dir, dataset)
  splits = {}
  for split, names in (("train", (f"{dataset}_train_org.txt", f"{dataset}_train_element_v1.0.txt",
                                  f"{dataset}_train_element_v1.1.txt",
                                  f"{dataset}_train_element.txt", f"{dataset}_train.txt")),
                       ("val", (f"{dataset}_val_org.txt", f"{dataset}_val_element.txt",
                                f"{dataset}_val_element_v1.0.txt",
                                f"{dataset}_val_element_v1.1.txt", f"{dataset}_val.txt"))):
    path = _find(annotation_dir, names, hint)
    entries = []
    for lineno, line in _lines(path):
      where = f"line {lineno}"
      fields = line.split()
      if fields[0].endswith(".mp4"):  # MMAction2's generate_file_list.py output
        fields[0] = fields[0][:-4]
      match = _GYM_ELEMENT.fullmatch(fields[0]) if len(fields) == 2 else None
      if not match:
        raise _malformed(path, where, "expected '<youtube id>_E_<s>_<e>_A_<s>_<e> <label>'",
                         line)
      label = _int(fields[1], path, where, "label", line)
      _check_labels([label], len(class_names), path, where, line)
      video, event = match.group("video"), match.group("event")
      extra = {"youtube_id": video, "event_id": event, "event_clip": f"{video}_{event}"}
      times = _gym_times(annotation, video, event, match.group("action"))
      start = end = None
      if times is not None:
        start, end, extra["event_start"], extra["event_end"], event_label = times
        if event_label is not None:
          extra["event_label"] = event_label
      entries.append(VideoEntry(fields[0], label, start, end, extra))
    splits[split] = entries
  return OfficialSplits(dataset, class_names, splits)


# --------------------------------------------------------------------------- HVU


HVU_CATEGORIES = ("action", "attribute", "concept", "event", "object", "scene")


def _hvu_columns(header: list[str]) -> tuple[int | None, int, int, int]:
  """Columns (tags, youtube_id, time_start, time_end) by the header's names, else in
  MMAction2's order; the test csv has no tags column."""
  cols = {name.lower(): i for i, name in enumerate(header)}
  if all(c in cols for c in ("youtube_id", "time_start", "time_end")):
    return cols.get("tags"), cols["youtube_id"], cols["time_start"], cols["time_end"]
  return (0, 1, 2, 3) if len(header) >= 4 else (None, 0, 1, 2)


def _parse_hvu(annotation_dir: str) -> OfficialSplits:
  """HVU's csvs (``Tags,youtube_id,time_start,time_end``, tags joined by '|') and its tag ->
  category list. Within a category tags are numbered in sorted order (MMAction2's
  ``parse_tag_list.py``); ``class_names`` concatenates the categories in sorted order, the
  layout of MMAction2's HVU configs, so ``label`` holds indices into it and
  ``extra[category]`` the per-category indices MMAction2's json lists carry."""
  hint = ("the HVU-Dataset repository's HVU_*_V1.0.zip files "
          f"({_MM_TOOLS}/hvu/download_annotations.sh renames them to hvu_*.csv)")
  cat_path = _find(annotation_dir, ("hvu_categories.csv", "HVU_Tags_Categories_V1.0.csv"), hint)
  categories: dict[str, list[str]] = {}
  tag_category: dict[str, str] = {}
  for lineno, row in list(_csv_rows(cat_path))[1:]:
    if len(row) != 2 or not all(row):
      raise _malformed(cat_path, f"line {lineno}", "expected '<tag>,<category>'", ",".join(row))
    categories.setdefault(row[1], []).append(row[0])
    tag_category[row[0]] = row[1]
  categories = {c: sorted(categories[c]) for c in sorted(categories)}
  within = {c: {t: i for i, t in enumerate(tags)} for c, tags in categories.items()}
  offset, start = {}, 0
  for c, tags in categories.items():
    offset[c] = start
    start += len(tags)
  class_names = [t for tags in categories.values() for t in tags]
  splits = {}
  for split, names in (("train", ("hvu_train.csv", "HVU_Train_V1.0.csv")),
                       ("val", ("hvu_val.csv", "HVU_Val_V1.0.csv")),
                       ("test", ("hvu_test.csv", "HVU_Test_V1.0.csv"))):
    path = _find(annotation_dir, names, hint, required=split != "test")
    if path is None:
      continue
    rows = _csv_rows(path)
    _, header = next(rows, (1, []))
    tags_col, id_col, t0_col, t1_col = _hvu_columns(header)
    entries = []
    for lineno, row in rows:
      where, line = f"line {lineno}", ",".join(row)
      if len(row) <= max(id_col, t0_col, t1_col, -1 if tags_col is None else tags_col):
        raise _malformed(path, where, f"expected the columns {','.join(header)}", line)
      youtube_id = row[id_col]
      t0 = _seconds(row[t0_col], path, where, "time_start", line)
      t1 = _seconds(row[t1_col], path, where, "time_end", line)
      # The clip's file name: MMAction2 writes the times in tenths of a second.
      video_id = f"{youtube_id}_{int(t0 * 10):06d}_{int(t1 * 10):06d}"
      extra: dict[str, Any] = {"youtube_id": youtube_id, "time_start": t0, "time_end": t1}
      if tags_col is None:
        entries.append(VideoEntry(video_id, None, extra=extra))
        continue
      per_category: dict[str, list[int]] = {}
      for tag in filter(None, (t.strip() for t in row[tags_col].split("|"))):
        category = tag_category.get(tag)
        if category is None:
          raise _malformed(path, where, f"tag {tag!r} is not in {osp.basename(cat_path)}", line)
        per_category.setdefault(category, []).append(within[category][tag])
      extra.update({c: tuple(v) for c, v in per_category.items()})
      label = tuple(sorted(offset[c] + i for c, v in per_category.items() for i in v))
      entries.append(VideoEntry(video_id, label, extra=extra))
    splits[split] = entries
  return OfficialSplits("hvu", class_names, splits, categories)


# --------------------------------------------------------------------------- OmniSource


OMNISOURCE_SOURCES = ("kinetics_200", "webimage_200", "googleimage_200", "insimage_200",
                      "insvideo_200", "kinetics_raw_200")
_OMNI_VARIANTS = {"wodup": "_wodup", "filtered": "", "duplicate": "_duplicate"}


def _omni_list(path: str, class_count: int, source: str) -> list[VideoEntry]:
  """``<path> [<label>]`` lines; ``video_id`` is the path without its extension."""
  entries = []
  for lineno, line in _lines(path):
    fields = line.split()
    where = f"line {lineno}"
    labels = tuple(_int(x, path, where, "label", line) for x in fields[1:])
    _check_labels(labels, class_count, path, where, line)
    label = labels[0] if len(labels) == 1 else (labels or None)
    entries.append(VideoEntry(_stem(fields[0]), label, extra={"path": fields[0],
                                                             "source": source}))
  return entries


def _omni_raw(path: str, class_count: int) -> list[VideoEntry]:
  """Kinetics raw videos cut into 10 s parts: json ``{video_dir, label, num_clips,
  positive_clip_inds}`` or lines ``<video_dir> <label> <num_clips> [<positive> ...]``."""
  entries = []
  if path.endswith(".json"):
    items = [(f"entry {i}", item) for i, item in enumerate(_json_list(path))]
  else:
    items = []
    for lineno, line in _lines(path):
      f = line.split()
      if len(f) < 3:
        raise _malformed(path, f"line {lineno}", "expected '<video_dir> <label> <num_clips> "
                         "[<positive clip> ...]'", line)
      items.append((f"line {lineno}", {"video_dir": f[0], "label": f[1], "num_clips": f[2],
                                       "positive_clip_inds": f[3:]}))
  for where, item in items:
    if not isinstance(item, dict) or not {"video_dir", "label"} <= set(item):
      raise _malformed(path, where, "expected 'video_dir', 'label', 'num_clips' and "
                       "'positive_clip_inds'")
    label = _int(item["label"], path, where, "label")
    _check_labels([label], class_count, path, where)
    extra = {"source": "kinetics_raw_200",
             "num_clips": _int(item.get("num_clips", 1), path, where, "num_clips"),
             "positive_clip_inds": tuple(_int(x, path, where, "clip index")
                                         for x in item.get("positive_clip_inds", ()))}
    entries.append(VideoEntry(str(item["video_dir"]), label, extra=extra))
  return entries


def _parse_omnisource(annotation_dir: str, source: str = "kinetics_200",
                      variant: str = "wodup") -> OfficialSplits:
  """The Mini-Kinetics-200 part of OmniSource, laid out as in its release's ``annotations``
  folder. ``source='kinetics_200'`` gives the trimmed Kinetics clips (train and val); the web
  sources give one training split each, from the list chosen by ``variant`` ('wodup':
  teacher-filtered and de-duplicated against k200 val, as MMAction2's configs train on;
  'filtered'; 'duplicate': the samples similar to val ones). Class names come from
  ``k200_actions.txt`` (one per line, in label order)."""
  if source not in OMNISOURCE_SOURCES:
    raise ValueError(f"omnisource: source must be one of {OMNISOURCE_SOURCES}, got {source!r}")
  if variant not in _OMNI_VARIANTS:
    raise ValueError(f"omnisource: variant must be one of {tuple(_OMNI_VARIANTS)}, got "
                     f"{variant!r}")
  hint = ("the OmniSource release (request form in MMAction2's tools/data/omnisource/README.md); "
          "point annotation_dir at its annotations/ folder")
  class_names = _name_per_line(_find(annotation_dir, ("k200_actions.txt",), hint))
  n = len(class_names)
  if source == "kinetics_200":
    splits = {split: _omni_list(_find(annotation_dir, (f"kinetics_200/k200_{split}.txt",), hint),
                                n, source) for split in ("train", "val")}
  elif source == "kinetics_raw_200":
    path = _find(annotation_dir, ("kinetics_raw_200/slowonly_8x8_kinetics_raw_200.json",
                                  "kinetics_raw_200/slowonly_8x8_kinetics_raw_200.txt"), hint)
    splits = {"train": _omni_raw(path, n)}
  else:
    model = "slowonly_8x8" if source == "insvideo_200" else "tsn_8seg"
    if source == "webimage_200" and variant != "wodup":
      raise ValueError("omnisource: webimage_200 is released as its 'wodup' list only")
    name = f"{source}/{model}_{source}{_OMNI_VARIANTS[variant]}.txt"
    splits = {"train": _omni_list(_find(annotation_dir, (name,), hint), n, source)}
  return OfficialSplits("omnisource", class_names, splits)


def minikinetics_mapping(annotation_dir: str) -> dict[int, int]:
  """OmniSource's ``K400_to_MiniKinetics_classidx_mapping.json``: Kinetics-400 class index ->
  Mini-Kinetics-200 class index, for the 200 Kinetics classes Mini-Kinetics keeps."""
  path = _find(annotation_dir, ("K400_to_MiniKinetics_classidx_mapping.json",),
               "the OmniSource release's annotations/ folder")
  data = _json(path)
  if isinstance(data, list):  # position i holds K400 class i's Mini-Kinetics index (or null)
    data = dict(enumerate(data))
  if not isinstance(data, dict):
    raise ValueError(f"{path}: expected a JSON object {{k400 index: k200 index}}")
  return {_int(k, path, f"key {k!r}", "K400 index"): _int(v, path, f"key {k!r}", "K200 index")
          for k, v in data.items() if v is not None}


# --------------------------------------------------------------------------- entry point


_PARSERS = {
    "kinetics400": lambda d: _parse_kinetics("kinetics400", d),
    "kinetics600": lambda d: _parse_kinetics("kinetics600", d),
    "kinetics700": lambda d: _parse_kinetics("kinetics700", d),
    "ucf101": _parse_ucf101,
    "hmdb51": _parse_hmdb51,
    "sthv1": _parse_sthv1,
    "sthv2": _parse_sthv2,
    "mit": _parse_mit,
    "mmit": _parse_mmit,
    "jester": _parse_jester,
    "diving48": _parse_diving48,
    "gym99": lambda d: _parse_gym("gym99", d),
    "gym288": lambda d: _parse_gym("gym288", d),
    "hvu": _parse_hvu,
    "omnisource": _parse_omnisource,
}
DATASETS: tuple[str, ...] = tuple(_PARSERS)
_WITH_SPLITS = ("ucf101", "hmdb51")
_OPTIONS = {"diving48": ("version",), "omnisource": ("source", "variant")}


def parse(dataset: str, annotation_dir: str, *, split: int = 1, **options) -> OfficialSplits:
  """The classes and samples of ``dataset`` from its official annotation files in
  ``annotation_dir``. ``split`` picks UCF101/HMDB51's split 1-3; ``options``:
  diving48 ``version`` ('v2' or 'v1'), omnisource ``source`` and ``variant``."""
  if dataset not in _PARSERS:
    raise ValueError(f"unknown dataset {dataset!r}; one of {', '.join(DATASETS)}")
  unknown = sorted(set(options) - set(_OPTIONS.get(dataset, ())))
  if unknown:
    raise TypeError(f"{dataset} takes no option(s) {unknown}; it takes "
                    f"{list(_OPTIONS.get(dataset, ())) or 'none'}")
  if not osp.isdir(annotation_dir):
    raise FileNotFoundError(f"annotation folder {annotation_dir} does not exist; put {dataset}'s "
                            f"official annotation files there (see {_MM_TOOLS}/)")
  if dataset in _WITH_SPLITS:
    return _PARSERS[dataset](annotation_dir, split)
  if split != 1:
    raise ValueError(f"{dataset} has a single official split; got split={split!r}")
  return _PARSERS[dataset](annotation_dir, **options)


# --------------------------------------------------------------------------- media lookup


def media_key(rel: str) -> str:
  """The key media are matched by: '/'-separated, spaces as underscores
  (``rename_classnames.sh`` renames Kinetics class folders that way, and both spellings
  must find the same media)."""
  return rel.replace(os.sep, "/").replace(" ", "_")


def _holds_files(folder: str) -> bool:
  try:
    with os.scandir(folder) as it:
      return any(not e.is_dir() and not e.name.startswith(".") for e in it)
  except OSError:
    return False


def _frame_dirs(root: str, rel: str, depth: int, max_depth: int) -> Iterator[str]:
  """Folders holding frames, found without listing every frame folder: siblings share a
  layout, so when the first sub-folder holds files all of them are frame folders."""
  folder = osp.join(root, rel) if rel else root
  subdirs, has_files = [], False
  with os.scandir(folder) as it:
    for e in it:
      if e.is_dir():
        subdirs.append(e.name)
      elif not e.name.startswith("."):
        has_files = True
  if rel and has_files:
    yield rel
    return
  if depth >= max_depth or not subdirs:
    return
  subdirs.sort()
  if _holds_files(osp.join(folder, subdirs[0])):
    yield from (osp.join(rel, d) if rel else d for d in subdirs)
    return
  for d in subdirs:
    yield from _frame_dirs(root, osp.join(rel, d) if rel else d, depth + 1, max_depth)


def _video_files(root: str, rel: str, depth: int, max_depth: int) -> Iterator[str]:
  with os.scandir(osp.join(root, rel) if rel else root) as it:
    entries = sorted(it, key=lambda e: e.name)
  for e in entries:
    path = osp.join(rel, e.name) if rel else e.name
    if e.is_dir():
      if depth + 1 < max_depth:
        yield from _video_files(root, path, depth + 1, max_depth)
    elif not e.name.startswith("."):
      yield path


def _containers(entry: VideoEntry) -> list[tuple[str, float, float]]:
  """Longer media holding the sample, nearest first, as (media id, start, end in it)."""
  x = entry.extra
  found = []
  if entry.start is not None and entry.end is not None:
    if "event_clip" in x:
      found.append((x["event_clip"], entry.start, entry.end))
    if "youtube_id" in x and "event_start" in x:
      found.append((x["youtube_id"], x["event_start"] + entry.start,
                    x["event_start"] + entry.end))
  elif "youtube_id" in x and "time_start" in x and "time_end" in x:
    found.append((x["youtube_id"], float(x["time_start"]), float(x["time_end"])))
  return found


class MediaIndex:
  """Every video (``kind='videos'``, files ending in ``exts``) or frame folder
  (``kind='rawframes'``) under ``media_dir``, indexed once so that finding 650k samples costs
  one folder walk, not a filesystem probe per sample and extension.

  A sample is found by its id (``class/video``, with class folders spelled with spaces or
  underscores) or, for flat layouts, by the id's last part; a file name seen in two folders
  is only found by its full path. Where several extensions of one video exist, the first in
  ``exts`` wins.
  """

  def __init__(self, media_dir: str, *, kind: str = "videos", exts=VIDEO_EXTS,
               max_depth: int = 3):
    if kind not in ("videos", "rawframes"):
      raise ValueError(f"kind must be 'videos' or 'rawframes', got {kind!r}")
    if not osp.isdir(media_dir):
      raise FileNotFoundError(f"media folder {media_dir} does not exist")
    self.media_dir, self.kind = media_dir, kind
    self._full: dict[str, tuple[int, str]] = {}
    self._base: dict[str, str | None] = {}  # last part -> full key; None when ambiguous
    if kind == "rawframes":
      for rel in _frame_dirs(media_dir, "", 0, max_depth):
        self._add(rel, 0, rel)
    else:
      rank = {e.lower(): i for i, e in reversed(list(enumerate(exts)))}
      for rel in _video_files(media_dir, "", 0, max_depth):
        stem, ext = osp.splitext(rel)
        if ext.lower() in rank:
          self._add(stem, rank[ext.lower()], rel)

  def _add(self, rel_key: str, rank: int, rel_path: str) -> None:
    key = media_key(rel_key)
    old = self._full.get(key)
    if old is None or rank < old[0]:
      self._full[key] = (rank, osp.join(self.media_dir, rel_path))
    base = key.rsplit("/", 1)[-1]
    if self._base.get(base, key) != key:
      self._base[base] = None
    elif base not in self._base:
      self._base[base] = key

  def __len__(self) -> int:
    return len(self._full)

  def _lookup(self, media_id: str) -> str | None:
    key = media_key(media_id)
    hit = self._full.get(key)
    if hit is None:
      full = self._base.get(key.rsplit("/", 1)[-1])
      hit = self._full.get(full) if full else None
    return hit[1] if hit else None

  def find(self, entry: VideoEntry) -> str | None:
    """The media that ``entry.start``/``end`` refer to: the sample's own file when it has no
    times, else the longer clip holding it (FineGYM's event clip); None if absent. Use
    ``find_clip`` to also accept trimmed subactions or whole videos."""
    if entry.start is None:
      return self._lookup(entry.video_id)
    for media_id, start, end in _containers(entry):
      if (start, end) == (entry.start, entry.end):
        return self._lookup(media_id)
    return None

  def find_clip(self, entry: VideoEntry) -> tuple[str, float | None, float | None] | None:
    """(path, start, end) of the nearest media holding the sample: its own file (times
    None), else a longer video (FineGYM event clip or YouTube video, Kinetics/HVU YouTube
    video) with the sample's seconds inside it; None if none is present."""
    own = self._lookup(entry.video_id)
    if own is not None:
      return own, None, None
    for media_id, start, end in _containers(entry):
      path = self._lookup(media_id)
      if path is not None:
        return path, start, end
    return None


def locate(entry: VideoEntry, media_dir: str, *, kind: str = "videos",
           exts=VIDEO_EXTS) -> str | None:
  """``MediaIndex(media_dir).find(entry)`` for one entry; index once for many."""
  return MediaIndex(media_dir, kind=kind, exts=exts).find(entry)
