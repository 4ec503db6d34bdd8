"""Random-access data sources: ``len(source)`` and ``source[i] -> results dict``.

A source only says where sample ``i`` is and what its label is, in MMAction2's
key conventions (``frame_dir``/``filename``, ``total_frames``, ``label``,
``start_index``, ``modality``, ...); the pipeline decodes and augments. Sources
are plain picklable objects so grain worker processes can hold copies, and
``describe(i)`` names a sample in error messages.
"""

from __future__ import annotations

import collections
import copy
import json
import os
import os.path as osp
from typing import Any

import numpy as np

from vjax.registry import Registry, to_dict

DATASETS = Registry("dataset")

SYNTHETIC_NAME = "vjax_synthetic"
_MMACTION_DATA_TOOLS = "https://github.com/open-mmlab/mmaction2/tree/0.x/tools/data"


def prepare_synthetic(data_dir: str | None = None, preset: str | None = None, **options):
  """Builds the ``vjax_synthetic`` TFDS dataset (a no-op if already built); returns its builder.

  ``options`` are ``VjaxSyntheticConfig`` fields (num_directions, num_speeds,
  num_train, num_val, num_frames, height, width, seed); ``preset`` is 'tiny' or 'small'.
  """
  from tfds_builders.vjax_synthetic import builder  # pylint: disable=g-import-not-at-top
  return builder.prepare_synthetic(data_dir, preset, **options)


def _skip_decoding_np():
  """``tfds.decode.SkipDecoding`` that also works on sequences in TFDS's numpy path
  (4.9.x lacks ``decode_batch_example_np``): encoded frames come back as bytes."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  class SkipDecodingNp(tfds.decode.SkipDecoding):

    def decode_batch_example_np(self, serialized_example):
      return serialized_example

  return SkipDecodingNp()


def _synthetic_options(builder_config) -> dict[str, Any]:
  if builder_config is None:
    return {"preset": "tiny"}
  if isinstance(builder_config, str):
    return {"preset": builder_config}
  return dict(builder_config)


def _not_built_message(name: str, config_desc: str, data_dir: str, command: str) -> str:
  return (f"TFDS dataset '{name}' ({config_desc}) is not built in data_dir '{data_dir}'. "
          f"Build it with:\n  {command}\nor pass the data_dir where it was built.")


@DATASETS.register
class TFDSDataset:
  """A built TFDS dataset read through ``tfds.data_source`` (ArrayRecord random access).

  Records come back as ``frames_bytes`` (list of encoded JPEG frames, undecoded),
  ``total_frames``, ``label``, ``start_index=0``, ``modality='RGB'``, ``video_id``.
  ``builder_config`` is a config name, or for ``vjax_synthetic`` a dict of its
  options (optionally with ``preset``). An unbuilt ``vjax_synthetic`` is built
  here only if ``prepare=True`` (the main job calls ``prepare_synthetic`` itself).
  """

  def __init__(self, name: str, split: str, data_dir: str | None = None, builder_config=None,
               prepare: bool = False, video_key: str = "video", label_key: str = "label"):
    self.name, self.split = name, split
    self.video_key, self.label_key = video_key, label_key
    self._builder_config = builder_config
    builder = self._open_builder(name, data_dir, builder_config, prepare)
    if split not in builder.info.splits:
      raise KeyError(f"Split {split!r} not in {name}: available {list(builder.info.splits)}")
    self.config_name = builder.builder_config.name if builder.builder_config else None
    self.data_dir = str(builder.data_dir)
    self.data_dir_root = str(builder.data_dir_root)
    self.num_classes = builder.info.features[label_key].num_classes
    self.class_names = builder.info.features[label_key].names
    self._source = builder.as_data_source(split, decoders={video_key: _skip_decoding_np()})
    self._len = len(self._source)

  @staticmethod
  def _open_builder(name, data_dir, builder_config, prepare):
    """The prepared builder, or a FileNotFoundError that says how to build it."""
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    if name == SYNTHETIC_NAME:
      from tfds_builders.vjax_synthetic import builder as syn  # pylint: disable=g-import-not-at-top
      options = _synthetic_options(builder_config)
      builder = syn.synthetic_builder(data_dir, **options)
      if not builder.is_prepared():
        if prepare:
          builder = prepare_synthetic(data_dir, **options)
        else:
          flags = " ".join(f"--{k}={v}" for k, v in options.items())
          raise FileNotFoundError(_not_built_message(
              name, f"config {builder.builder_config.name}", str(builder.data_dir),
              f"python -m tfds_builders.vjax_synthetic --data_dir={builder.data_dir_root} {flags}"
              f"\n(or call vjax.data.prepare_synthetic(data_dir, **options), or set prepare=True)"))
    else:
      if isinstance(builder_config, dict):
        raise TypeError(f"builder_config for {name!r} must be a config name, not a dict")
      try:
        builder = tfds.builder(name, data_dir=data_dir, config=builder_config)
        prepared = builder.is_prepared()
      except Exception as e:  # pylint: disable=broad-except  # TFDS raises several types.
        builder, prepared, cause = None, False, e
      if not prepared:
        root = data_dir or os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets"
        cfg = f", config={builder_config!r}" if builder_config else ""
        err = FileNotFoundError(_not_built_message(
            name, f"config {builder_config}" if builder_config else "default config", root,
            f"python -c \"import tensorflow_datasets as tfds; tfds.builder('{name}', "
            f"data_dir='{root}'{cfg}).download_and_prepare(file_format='array_record')\"\n"
            f"(with TensorFlow installed, `tfds build {name} --data_dir={root} "
            f"--file_format=array_record` does the same)"))
        raise err from (cause if builder is None else None)
    return builder

  def __getstate__(self):
    # The TFDS data source holds a locally defined decoder; worker processes reopen it.
    state = dict(self.__dict__)
    state["_source"] = None
    return state

  def _data_source(self):
    if self._source is None:
      builder = self._open_builder(self.name, self.data_dir_root, self._builder_config, False)
      self._source = builder.as_data_source(self.split,
                                            decoders={self.video_key: _skip_decoding_np()})
    return self._source

  def __len__(self) -> int:
    return self._len

  def __getitem__(self, index: int) -> dict:
    rec = self._data_source()[int(index)]
    frames = list(rec[self.video_key])
    video_id = rec.get("video_id", index)
    if isinstance(video_id, bytes):
      video_id = video_id.decode()
    return dict(frames_bytes=frames, total_frames=len(frames), label=int(rec[self.label_key]),
                start_index=0, modality="RGB", video_id=video_id)

  def describe(self, index: int) -> str:
    cfg = f"/{self.config_name}" if self.config_name else ""
    return f"TFDS {self.name}{cfg} split '{self.split}' index {index} ({self.data_dir})"


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
    with open(self.ann_file) as f:
      try:
        raw = json.load(f)
      except json.JSONDecodeError as e:
        raise ValueError(f"{self.ann_file}: invalid JSON: {e}") from None
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
      onehot = np.zeros(self.num_classes, np.float32)
      onehot[results["label"]] = 1.0
      results["label"] = onehot
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


SYNTHETIC_AUDIO_NAME = "vjax_synthetic_audio"


def synthetic_audio_features(label: int, length: int, num_bins: int, num_classes: int,
                             rng: np.random.Generator) -> np.ndarray:
  """One clip of a class-coded spectrogram, float32 (length, num_bins) in [0, 1].

  Class ``k`` is a tone sweeping up (even ``k``) or down (odd ``k``) and repeating every
  16-40 rows, around band ``k // 2`` of ``num_classes // 2`` equal bands. One or two
  steady tones at random bins and uniform noise are the same for every class, so neither
  the band's energy nor any single row tells the class; the direction of the sweep does.
  """
  bands = max(num_classes // 2, 1)
  bins = np.arange(num_bins, dtype=np.float32)
  t = np.arange(length, dtype=np.float32)
  out = 0.1 + 0.15 * rng.random((length, num_bins), dtype=np.float32)
  band_width = num_bins / bands
  centre = (label // 2 + 0.5) * band_width
  period = rng.uniform(16, 40)
  phase = ((t + rng.uniform(0, period)) % period) / period - 0.5  # -0.5..0.5 per period
  sweep = centre + (1 if label % 2 == 0 else -1) * phase * 0.8 * band_width
  out += rng.uniform(0.4, 0.7) * np.exp(-0.5 * ((bins[None] - sweep[:, None]) / 1.2)**2)
  for _ in range(rng.integers(1, 3)):
    out += rng.uniform(0.3, 0.6) * np.exp(-0.5 * ((bins - rng.uniform(0, num_bins)) / 1.2)**2)
  return np.clip(out, 0.0, 1.0).astype(np.float32)


def prepare_synthetic_audio(data_dir: str | None = None, num_classes: int = 8,
                            num_train: int = 480, num_val: int = 96, num_bins: int = 40,
                            min_length: int = 200, max_length: int = 320,
                            seed: int = 0) -> str:
  """Writes (once) a deterministic audio-feature dataset in MMAction2's layout and returns
  its folder: ``{split}/audio_NNNN.npy`` files and ``{split}_list_audio_feature.txt`` lists
  (``name total_frames label``, the suffix left to AudioFeatureDataset) for the splits
  'train' and 'val'. ``total_frames`` is the length of a 30 fps video for a 64 rows/s
  spectrogram. ``data_dir`` defaults to ``~/.cache/vjax``."""
  options = dict(num_classes=num_classes, num_train=num_train, num_val=num_val,
                 num_bins=num_bins, min_length=min_length, max_length=max_length, seed=seed)
  if min(num_classes, num_train, num_val, num_bins) < 1 or not 0 < min_length <= max_length:
    raise ValueError(f"{SYNTHETIC_AUDIO_NAME}: options {options} need num_classes, num_train, "
                     "num_val and num_bins >= 1 and 0 < min_length <= max_length")
  name = (f"c{num_classes}_n{num_train}-{num_val}_f{num_bins}_l{min_length}-{max_length}"
          f"_s{seed}")
  root = osp.join(osp.expanduser(data_dir or "~/.cache/vjax"), SYNTHETIC_AUDIO_NAME, name)
  if osp.isfile(osp.join(root, "DONE")):
    return root
  tmp = f"{root}.tmp{os.getpid()}"
  for split, count in (("train", num_train), ("val", num_val)):
    os.makedirs(osp.join(tmp, split), exist_ok=True)
    lines = []
    for i in range(count):
      rng = np.random.default_rng([seed, 0 if split == "train" else 1, i])
      label = i % num_classes
      length = int(rng.integers(min_length, max_length + 1))
      np.save(osp.join(tmp, split, f"audio_{i:04d}.npy"),
              synthetic_audio_features(label, length, num_bins, num_classes, rng))
      lines.append(f"audio_{i:04d} {round(length * 30 / 64)} {label}\n")
    with open(osp.join(tmp, f"{split}_list_audio_feature.txt"), "w") as f:
      f.writelines(lines)
  with open(osp.join(tmp, "DONE"), "w") as f:
    json.dump(options, f)
  try:
    os.rename(tmp, root)
  except OSError:  # another process finished first; its copy is identical
    if not osp.isfile(osp.join(root, "DONE")):
      raise
    import shutil  # pylint: disable=g-import-not-at-top
    shutil.rmtree(tmp, ignore_errors=True)
  return root


@DATASETS.register(name=SYNTHETIC_AUDIO_NAME)
def synthetic_audio_dataset(split: str, data_dir: str | None = None, test_mode: bool = False,
                            **options) -> AudioFeatureDataset:
  """``vjax_synthetic_audio`` split 'train' or 'val', generated on first use by
  ``prepare_synthetic_audio(data_dir, **options)`` and read by AudioFeatureDataset."""
  if split not in ("train", "val"):
    raise KeyError(f"{SYNTHETIC_AUDIO_NAME} has splits 'train' and 'val', not {split!r}")
  root = prepare_synthetic_audio(data_dir, **options)
  return AudioFeatureDataset(osp.join(root, f"{split}_list_audio_feature.txt"),
                             data_prefix=osp.join(root, split), test_mode=test_mode)


def _build_child(cfg):
  """A wrapper's child: a dataset object as is, or a config dict built like ``build_split``'s."""
  if not hasattr(cfg, "get"):
    return cfg
  cfg = dict(to_dict(cfg))
  if "data_dir" in cfg:
    cfg["data_dir"] = cfg["data_dir"] or None
  return DATASETS.build(cfg)


def _child_with_test_mode(cfg, test_mode: bool):
  # Only set when asked: TFDSDataset has no test_mode argument.
  if test_mode and hasattr(cfg, "get"):
    return dict(to_dict(cfg), test_mode=True)
  return cfg


@DATASETS.register
class RepeatDataset:
  """``dataset`` repeated ``times`` times, so one epoch is ``times`` passes over it
  (fewer, longer epochs for small datasets); ``dataset`` is a config or a source."""

  def __init__(self, dataset, times: int, test_mode: bool = False):
    if int(times) < 1:
      raise ValueError(f"RepeatDataset: times must be >= 1, got {times}")
    self.dataset = _build_child(_child_with_test_mode(dataset, test_mode))
    self.times = int(times)
    self.test_mode = test_mode
    self._size = len(self.dataset)

  def __len__(self) -> int:
    return self.times * self._size

  def __getitem__(self, index: int) -> dict:
    return self.dataset[int(index) % self._size]

  def sample_weights(self) -> np.ndarray | None:
    weights = _weights_of(self.dataset)
    return None if weights is None else np.tile(weights, self.times) / self.times

  def describe(self, index: int) -> str:
    return _describe_in(self.dataset, int(index) % self._size)


@DATASETS.register
class ConcatDataset:
  """``datasets`` (configs or sources) one after another, indexed as one source.

  With ``sample_by_class`` on some children, each child keeps its share
  ``len(child) / len(self)`` of the draws and spreads it by its own weights.
  """

  def __init__(self, datasets, test_mode: bool = False):
    if not datasets:
      raise ValueError("ConcatDataset needs at least one dataset")
    self.datasets = [_build_child(_child_with_test_mode(d, test_mode)) for d in datasets]
    self.test_mode = test_mode
    self.lens = [len(d) for d in self.datasets]
    self.cumsum = np.cumsum(self.lens)

  def __len__(self) -> int:
    return int(self.cumsum[-1])

  def _locate(self, index: int) -> tuple[Any, int]:
    index = int(index)
    if not 0 <= index < len(self):
      raise IndexError(f"index {index} out of range for a ConcatDataset of {len(self)}")
    which = int(np.searchsorted(self.cumsum, index, side="right"))
    return self.datasets[which], index - (int(self.cumsum[which - 1]) if which else 0)

  def __getitem__(self, index: int) -> dict:
    dataset, inner = self._locate(index)
    return dataset[inner]

  def sample_weights(self) -> np.ndarray | None:
    weights = [_weights_of(d) for d in self.datasets]
    if all(w is None for w in weights):
      return None
    total = len(self)
    return np.concatenate([(np.full(n, 1.0 / n) if w is None else w) * (n / total)
                           for w, n in zip(weights, self.lens) if n])

  def describe(self, index: int) -> str:
    dataset, inner = self._locate(index)
    return _describe_in(dataset, inner)


def _weights_of(dataset) -> np.ndarray | None:
  fn = getattr(dataset, "sample_weights", None)
  return fn() if fn is not None else None


def _describe_in(dataset, index: int) -> str:
  fn = getattr(dataset, "describe", None)
  return fn(index) if fn is not None else f"index {index} of {type(dataset).__name__}"


def _pop_pipelines(cfg: dict) -> list:
  """Removes ``pipeline`` from wrapped child configs (MMAction2 puts it there); returns them."""
  found = []
  children = [cfg.get("dataset"), *cfg.get("datasets", ())]
  for child in (c for c in children if isinstance(c, dict)):
    if child.get("pipeline") is not None:
      found.append(child["pipeline"])
    child.pop("pipeline", None)
    found.extend(_pop_pipelines(child))
  return found


def build_split(split_cfg) -> tuple[Any, list]:
  """A config's ``data.<split>`` entry -> (source, pipeline list); '' data_dir = TFDS default.

  The loader runs one pipeline over the whole source, so a wrapper's children may
  carry a ``pipeline`` (as in MMAction2 configs) only if it is the split's one.
  """
  cfg = copy.deepcopy(split_cfg.to_dict() if hasattr(split_cfg, "to_dict") else dict(split_cfg))
  pipeline = cfg.pop("pipeline", None)
  nested = _pop_pipelines(cfg)
  candidates = ([pipeline] if pipeline is not None else []) + nested
  if any(p != candidates[0] for p in candidates):
    raise ValueError(f"data split {cfg.get('type')}: its datasets have different pipelines; "
                     "vjax runs one pipeline per split, so give the split a single 'pipeline'")
  return _build_child(cfg), list(candidates[0]) if candidates else []
