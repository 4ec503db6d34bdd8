"""MMAction2 annotation lists (text or json): ``RawframeDataset``, ``VideoDataset``,
``AudioFeatureDataset``. A source only says where sample ``i`` is and what its label is; the
pipeline decodes and augments."""

from __future__ import annotations

import collections
import json
import os.path as osp

import numpy as np

from vjax.data.sources.base import DATASETS

_MMACTION_DATA_TOOLS = "https://github.com/open-mmlab/mmaction2/tree/0.x/tools/data"


class _AnnotationList:
  """Shared parsing of MMAction2 annotation lists (text or json) into ``video_infos``.

  ``sample_by_class`` with ``power`` reproduces MMAction2's class-balanced
  training draws: class ``c`` is drawn with probability ∝ ``freq(c) ** power``
  (0: uniform over classes, 1: uniform over samples), then a sample uniformly
  within it. The loader asks ``sample_weights()`` for these per-sample
  probabilities; evaluation always visits every sample once.
  """

  path_key = "filename"
  line_format = "<path> <label> [<label> ...]"
  modalities = ("RGB", "Flow")

  def __init__(self, ann_file, data_prefix=None, multi_class=False, num_classes=None,
               start_index=0, modality="RGB", test_mode=False, sample_by_class=False, power=0.0):
    name = type(self).__name__
    if multi_class and num_classes is None:
      raise ValueError(f"{name}(multi_class=True) needs num_classes")
    if multi_class and sample_by_class:
      raise ValueError(f"{name}: sample_by_class needs single-label data (multi_class=False)")
    if modality not in self.modalities:
      raise ValueError(f"{name}: modality {modality!r} is not one of {self.modalities}")
    self.ann_file = str(ann_file)
    self.data_prefix = data_prefix
    self.multi_class = multi_class
    self.num_classes = num_classes
    self.start_index = start_index
    self.modality = modality
    self.test_mode = test_mode
    self.sample_by_class = sample_by_class
    self.power = power
    if not osp.isfile(self.ann_file):
      raise FileNotFoundError(
          f"Annotation file {self.ann_file} not found. Prepare it with MMAction2's "
          f"tools/data/<dataset>/ scripts (e.g. generate_rawframes_filelist.sh / "
          f"generate_videos_filelist.sh; see {_MMACTION_DATA_TOOLS}), or point ann_file and "
          f"data_prefix at an existing list.")
    if self.ann_file.endswith(".json"):
      self.video_infos = self._load_json()
    else:
      self.video_infos = self._load_text()
    if sample_by_class:
      self.class_prob = class_probabilities([info["label"] for info in self.video_infos], power)

  def _join(self, path: str) -> str:
    return osp.join(self.data_prefix, path) if self.data_prefix is not None else path

  def _labels(self, labels: list[int], where: str):
    if not labels:
      raise ValueError(f"{where}: missing label")
    if self.num_classes is not None and any(not 0 <= l < self.num_classes for l in labels):
      raise ValueError(f"{where}: label(s) {labels} outside [0, {self.num_classes})")
    if self.multi_class:
      return labels
    if len(labels) != 1:
      raise ValueError(f"{where}: {len(labels)} labels but multi_class=False")
    return labels[0]

  def _parse_fields(self, fields: list[str], where: str) -> dict:
    """One line's fields -> info dict (without the path prefix); raises ValueError."""
    raise NotImplementedError

  def _check_json_item(self, info: dict) -> None:
    """Raises ValueError if a json entry lacks what this dataset's pipeline needs."""

  def _load_text(self) -> list[dict]:
    infos = []
    with open(self.ann_file) as f:
      for lineno, line in enumerate(f, 1):
        fields = line.split()
        if not fields:
          continue  # Blank lines carry nothing; MMAction2 would crash on them.
        where = f"{self.ann_file}:{lineno}"
        try:
          info = self._parse_fields(fields, where)
        except ValueError as e:
          msg = str(e) if str(e).startswith(where) else f"{where}: {e}"
          raise ValueError(f"{msg}\n  line: {line.rstrip()!r}\n  expected: {self.line_format}"
                           ) from None
        info[self.path_key] = self._join(info[self.path_key])
        info["_where"] = f"line {lineno}"
        infos.append(info)
    return infos

  def _load_json(self) -> list[dict]:
    raw = read_json(self.ann_file)
    if not isinstance(raw, list):
      raise ValueError(f"{self.ann_file}: expected a JSON list of entries, got "
                       f"{type(raw).__name__}")
    infos = []
    for i, item in enumerate(raw):
      where = f"{self.ann_file}[{i}]"
      if not isinstance(item, dict) or "label" not in item or not (
          "frame_dir" in item or "filename" in item):
        raise ValueError(f"{where}: expected a dict with 'frame_dir' or 'filename' and 'label'")
      info = dict(item)
      try:
        self._check_json_item(info)
        labels = info["label"] if isinstance(info["label"], list) else [info["label"]]
        info["label"] = self._labels([_int(l, "label") for l in labels], where)
      except ValueError as e:
        msg = str(e) if str(e).startswith(where) else f"{where}: {e}"
        raise ValueError(msg) from None
      key = "frame_dir" if "frame_dir" in info else "filename"
      info[key] = self._join(info[key])
      info["_where"] = f"entry {i}"
      infos.append(info)
    return infos

  def __len__(self) -> int:
    return len(self.video_infos)

  def _common(self, info: dict) -> dict:
    results = {k: (list(v) if isinstance(v, list) else v) for k, v in info.items()
               if k != "_where"}
    results["modality"] = self.modality
    results["start_index"] = self.start_index
    if self.multi_class:
      results["label"] = multi_hot(results["label"], self.num_classes)
    return results

  def __getitem__(self, index: int) -> dict:
    return self._common(self.video_infos[int(index)])

  def sample_weights(self) -> np.ndarray | None:
    """Per-sample training draw probabilities (sample_by_class), or None for plain shuffling."""
    if not self.sample_by_class:
      return None
    labels = [info["label"] for info in self.video_infos]
    counts = collections.Counter(labels)
    weights = np.array([self.class_prob[l] / counts[l] for l in labels], np.float64)
    return weights / weights.sum()

  def describe(self, index: int) -> str:
    info = self.video_infos[int(index)]
    path = info.get(self.path_key) or info.get("frame_dir") or info.get("filename")
    return f"{path} ({info['_where']} of {self.ann_file})"


def read_json(path: str):
  """An annotation file's JSON; malformed JSON is an error naming the file."""
  with open(path) as f:
    try:
      return json.load(f)
    except json.JSONDecodeError as e:
      raise ValueError(f"{path}: invalid JSON: {e}") from None


def class_probabilities(labels, power: float) -> dict[int, float]:
  """Label -> probability of drawing that class: ``freq ** power``, normalised (MMAction2's
  ``class_prob``)."""
  counts = collections.Counter(labels)
  if not counts:
    return {}
  scores = {label: (n / len(labels)) ** power for label, n in sorted(counts.items())}
  total = sum(scores.values())
  return {label: s / total for label, s in scores.items()}


def _int(text, what: str, minimum: int | None = None) -> int:
  try:
    value = int(text)
    if isinstance(text, float) and value != text:
      raise ValueError
  except (TypeError, ValueError):
    raise ValueError(f"{what} {text!r} is not an integer") from None
  if minimum is not None and value < minimum:
    raise ValueError(f"{what} {value} is below {minimum}")
  return value


@DATASETS.register
class RawframeDataset(_AnnotationList):
  """Frame folders listed as ``frame_dir total_frames label [label ...]`` (or, with
  ``with_offset``, ``frame_dir offset total_frames label ...``); frames are
  ``frame_dir/filename_tmpl.format(i)`` numbered from ``start_index`` (Flow:
  ``filename_tmpl.format('x'|'y', i)``)."""

  path_key = "frame_dir"

  def __init__(self, ann_file, data_prefix=None, start_index=1, filename_tmpl="img_{:05}.jpg",
               modality="RGB", multi_class=False, num_classes=None, with_offset=False,
               test_mode=False, sample_by_class=False, power=0.0):
    _check_template(filename_tmpl, modality)
    self.filename_tmpl = filename_tmpl
    self.with_offset = with_offset
    self.line_format = ("<frame_dir> " + ("<offset> " if with_offset else "") +
                        "<total_frames> <label> [<label> ...]")
    super().__init__(ann_file, data_prefix, multi_class, num_classes, start_index, modality,
                     test_mode, sample_by_class, power)

  def _parse_fields(self, fields, where):
    info = {"frame_dir": fields[0]}
    i = 1
    if self.with_offset:
      if len(fields) < 2:
        raise ValueError("missing offset")
      info["offset"] = _int(fields[1], "offset", 0)
      i = 2
    if len(fields) <= i:
      raise ValueError("missing total_frames")
    info["total_frames"] = _int(fields[i], "total_frames", 0)
    info["label"] = self._labels([_int(x, "label") for x in fields[i + 1:]], where)
    return info

  def _check_json_item(self, info):
    if "frame_dir" not in info:
      raise ValueError("a RawframeDataset entry needs 'frame_dir'")
    if "total_frames" not in info:
      raise ValueError("a RawframeDataset entry needs 'total_frames'")
    info["total_frames"] = _int(info["total_frames"], "total_frames", 0)

  def __getitem__(self, index: int) -> dict:
    results = super().__getitem__(index)
    results["filename_tmpl"] = self.filename_tmpl
    return results


def _check_template(tmpl: str, modality: str) -> None:
  """Fails at construction, not mid-training, if frame names cannot be formed: each frame
  (and for Flow, each of x/y) needs its own file name."""
  if modality == "Flow":
    calls = [("x", 1), ("x", 2), ("y", 1)]
    need = "'x'|'y' and the frame index, e.g. '{}_{:05d}.jpg'"
  else:
    calls, need = [(1,), (2,)], "the frame index, e.g. 'img_{:05}.jpg'"
  try:
    names = [tmpl.format(*args) for args in calls]
    problem = "" if len(set(names)) == len(names) else f"it gives the same name twice: {names}"
  except (IndexError, KeyError, ValueError) as e:
    problem = str(e)
  if problem:
    raise ValueError(f"filename_tmpl {tmpl!r} for modality {modality!r} must be formatted with "
                     f"{need}; {problem}")


def multi_hot(labels, num_classes: int) -> np.ndarray:
  """A multi-label sample's class indices as MMAction2's float32 multi-hot target."""
  onehot = np.zeros(num_classes, np.float32)
  onehot[labels] = 1.0
  return onehot


@DATASETS.register
class VideoDataset(_AnnotationList):
  """Video files listed as ``path label [label ...]``; decode with ``PyAVInit``/``PyAVDecode``."""

  path_key = "filename"
  line_format = "<path> <label> [<label> ...]"

  def __init__(self, ann_file, data_prefix=None, start_index=0, multi_class=False,
               num_classes=None, modality="RGB", test_mode=False, sample_by_class=False,
               power=0.0):
    super().__init__(ann_file, data_prefix, multi_class, num_classes, start_index, modality,
                     test_mode, sample_by_class, power)

  def _parse_fields(self, fields, where):
    return {"filename": fields[0],
            "label": self._labels([_int(x, "label") for x in fields[1:]], where)}

  def _check_json_item(self, info):
    if "filename" not in info:
      raise ValueError("a VideoDataset entry needs 'filename'")


@DATASETS.register
class ImageDataset(VideoDataset):
  """Still images listed as ``path label [label ...]`` (OmniSource's web images); decode with
  ``ImageDecode``. MMAction2 marks these samples with ``start_index=None``."""

  line_format = "<image path> <label> [<label> ...]"

  def __init__(self, ann_file, data_prefix=None, multi_class=False, num_classes=None,
               modality="RGB", test_mode=False, sample_by_class=False, power=0.0):
    super().__init__(ann_file, data_prefix, None, multi_class, num_classes, modality,
                     test_mode, sample_by_class, power)


@DATASETS.register
class RawVideoDataset(_AnnotationList):
  """Untrimmed web videos cut into clips (OmniSource's Kinetics-raw source), listed as
  ``video_dir label num_clips [positive clip index ...]`` or as a json list of such dicts;
  clip ``i`` is ``video_dir/clipname_tmpl.format(i)`` (concatenated without a ``/`` when the
  template does not start with a letter, as MMAction2 does). Each draw picks one clip with
  the sample's rng (``sample``): a positive one (``sampling_strategy='positive'``, which also
  drops videos without positives) or any (``'random'``); decode with a video decoder.
  Indexing without an rng (``source[i]``) takes the first candidate clip."""

  path_key = "video_dir"
  line_format = "<video_dir> <label> <num_clips> [<positive clip index> ...]"
  strategies = ("positive", "random")

  def __init__(self, ann_file, data_prefix=None, clipname_tmpl="part_{}.mp4",
               sampling_strategy="positive", num_classes=None, modality="RGB", test_mode=False,
               sample_by_class=False, power=0.0):
    if sampling_strategy not in self.strategies:
      raise ValueError(f"RawVideoDataset: sampling_strategy must be one of {self.strategies}, "
                       f"got {sampling_strategy!r}")
    self.clipname_tmpl = clipname_tmpl
    self.sampling_strategy = sampling_strategy
    super().__init__(ann_file, data_prefix, False, num_classes, 0, modality, test_mode,
                     sample_by_class, power)
    if sampling_strategy == "positive":
      self.video_infos = [i for i in self.video_infos if i["positive_clip_inds"]]
      if sample_by_class:  # the class frequencies of the kept videos
        self.class_prob = class_probabilities([i["label"] for i in self.video_infos], power)

  def _parse_fields(self, fields, where):
    if len(fields) < 3:
      raise ValueError("missing label or num_clips")
    return {"video_dir": fields[0], "label": self._labels([_int(fields[1], "label")], where),
            "num_clips": _int(fields[2], "num_clips", 1),
            "positive_clip_inds": [_int(x, "positive clip index", 0) for x in fields[3:]]}

  def _load_json(self) -> list[dict]:
    raw = read_json(self.ann_file)
    infos = []
    for i, item in enumerate(raw if isinstance(raw, list) else [None]):
      where = f"{self.ann_file}[{i}]"
      if not isinstance(item, dict) or not {"video_dir", "label"} <= set(item):
        raise ValueError(f"{where}: expected a list of dicts with 'video_dir', 'label', "
                         "'num_clips' and 'positive_clip_inds'")
      info = dict(item, video_dir=self._join(item["video_dir"]), _where=f"entry {i}")
      info["label"] = self._labels([_int(item["label"], "label")], where)
      info["num_clips"] = _int(item.get("num_clips", 1), "num_clips", 1)
      info["positive_clip_inds"] = list(item.get("positive_clip_inds", []))
      infos.append(info)
    return infos

  def _with_clip(self, results: dict, clip: int) -> dict:
    name = self.clipname_tmpl.format(clip)
    results["filename"] = (osp.join(results["video_dir"], name) if name[:1].isalpha()
                           else results["video_dir"] + name)
    return results

  def _candidates(self, results: dict) -> list[int]:
    if self.sampling_strategy == "positive":
      return list(results["positive_clip_inds"])
    return list(range(results["num_clips"]))

  def __getitem__(self, index: int) -> dict:
    results = super().__getitem__(index)
    return self._with_clip(results, self._candidates(results)[0])

  def sample(self, index: int, rng: np.random.Generator) -> dict:
    """Sample ``index`` with one of its clips drawn by ``rng`` (the loader's per-sample rng)."""
    results = super().__getitem__(index)
    candidates = self._candidates(results)
    return self._with_clip(results, candidates[int(rng.integers(len(candidates)))])


@DATASETS.register
class AudioFeatureDataset(_AnnotationList):
  """Offline audio features listed as ``path total_frames label [label ...]``, where
  ``total_frames`` counts the *video's* frames (``SampleFrames`` samples those and
  ``AudioFeatureSelector`` maps them onto feature rows). With a ``data_prefix``, a path
  without ``suffix`` gets it appended, as in MMAction2; the ``audio_path`` key names the
  file. JSON lists take ``filename`` (or ``frame_dir``) and ``total_frames`` entries."""

  path_key = "audio_path"
  line_format = "<path> <total_frames> <label> [<label> ...]"
  modalities = ("Audio",)

  def __init__(self, ann_file, data_prefix=None, suffix=".npy", start_index=1,
               multi_class=False, num_classes=None, test_mode=False, sample_by_class=False,
               power=0.0):
    self.suffix = suffix
    super().__init__(ann_file, data_prefix, multi_class, num_classes, start_index, "Audio",
                     test_mode, sample_by_class, power)

  def _join(self, path: str) -> str:
    if self.data_prefix is None:
      return path
    full = osp.join(self.data_prefix, path)
    return full if path.endswith(self.suffix) else full + self.suffix

  def _parse_fields(self, fields, where):
    if len(fields) < 2:
      raise ValueError("missing total_frames")
    return {"audio_path": fields[0], "total_frames": _int(fields[1], "total_frames", 1),
            "label": self._labels([_int(x, "label") for x in fields[2:]], where)}

  def _check_json_item(self, info):
    if "total_frames" not in info:
      raise ValueError("an AudioFeatureDataset entry needs 'total_frames'")
    info["total_frames"] = _int(info["total_frames"], "total_frames", 1)

  def _load_json(self) -> list[dict]:
    infos = super()._load_json()
    for info in infos:
      info["audio_path"] = info.pop("frame_dir" if "frame_dir" in info else "filename")
    return infos
