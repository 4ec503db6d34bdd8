"""Random-access data sources: ``len(source)`` and ``source[i] -> results dict``.

A source only says where sample ``i`` is and what its label is, in MMAction2's
key conventions (``frame_dir``/``filename``, ``total_frames``, ``label``,
``start_index``, ``modality``, ...); the pipeline decodes and augments. Sources
are plain picklable objects so grain worker processes can hold copies, and
``describe(i)`` names a sample in error messages.
"""

from __future__ import annotations

import json
import os
import os.path as osp
from typing import Any

import numpy as np

from vjax.registry import Registry

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
  """Shared parsing of MMAction2 annotation lists (text or json) into ``video_infos``."""

  path_key = "filename"
  line_format = "<path> <label> [<label> ...]"

  def __init__(self, ann_file, data_prefix=None, multi_class=False, num_classes=None,
               start_index=0, modality="RGB", test_mode=False):
    if multi_class and num_classes is None:
      raise ValueError(f"{type(self).__name__}(multi_class=True) needs num_classes")
    self.ann_file = str(ann_file)
    self.data_prefix = data_prefix
    self.multi_class = multi_class
    self.num_classes = num_classes
    self.start_index = start_index
    self.modality = modality
    self.test_mode = test_mode
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
        info["_line"] = lineno
        infos.append(info)
    return infos

  def _load_json(self) -> list[dict]:
    with open(self.ann_file) as f:
      try:
        raw = json.load(f)
      except json.JSONDecodeError as e:
        raise ValueError(f"{self.ann_file}: invalid JSON: {e}") from None
    infos = []
    for i, item in enumerate(raw):
      where = f"{self.ann_file}[{i}]"
      if not isinstance(item, dict) or "label" not in item or not (
          "frame_dir" in item or "filename" in item):
        raise ValueError(f"{where}: expected a dict with 'frame_dir' or 'filename' and 'label'")
      info = dict(item)
      key = "frame_dir" if "frame_dir" in info else "filename"
      info[key] = self._join(info[key])
      labels = info["label"] if isinstance(info["label"], list) else [info["label"]]
      info["label"] = self._labels([int(l) for l in labels], where)
      info["_line"] = i
      infos.append(info)
    return infos

  def __len__(self) -> int:
    return len(self.video_infos)

  def _common(self, info: dict) -> dict:
    results = {k: (list(v) if isinstance(v, list) else v) for k, v in info.items()
               if k != "_line"}
    results["modality"] = self.modality
    results["start_index"] = self.start_index
    if self.multi_class:
      onehot = np.zeros(self.num_classes, np.float32)
      onehot[results["label"]] = 1.0
      results["label"] = onehot
    return results

  def __getitem__(self, index: int) -> dict:
    return self._common(self.video_infos[int(index)])

  def describe(self, index: int) -> str:
    info = self.video_infos[int(index)]
    path = info.get(self.path_key) or info.get("frame_dir") or info.get("filename")
    return f"{path} (entry {info['_line']} of {self.ann_file})"


def _int(text: str, what: str) -> int:
  try:
    return int(text)
  except ValueError:
    raise ValueError(f"{what} {text!r} is not an integer") from None


@DATASETS.register
class RawframeDataset(_AnnotationList):
  """Frame folders listed as ``frame_dir total_frames label [label ...]`` (or, with
  ``with_offset``, ``frame_dir offset total_frames label ...``); frames are
  ``frame_dir/filename_tmpl.format(i)`` numbered from ``start_index``."""

  path_key = "frame_dir"

  def __init__(self, ann_file, data_prefix=None, start_index=1, filename_tmpl="img_{:05}.jpg",
               modality="RGB", multi_class=False, num_classes=None, with_offset=False,
               test_mode=False):
    self.filename_tmpl = filename_tmpl
    self.with_offset = with_offset
    self.line_format = ("<frame_dir> " + ("<offset> " if with_offset else "") +
                        "<total_frames> <label> [<label> ...]")
    super().__init__(ann_file, data_prefix, multi_class, num_classes, start_index, modality,
                     test_mode)

  def _parse_fields(self, fields, where):
    info = {"frame_dir": fields[0]}
    i = 1
    if self.with_offset:
      if len(fields) < 2:
        raise ValueError("missing offset")
      info["offset"] = _int(fields[1], "offset")
      i = 2
    if len(fields) <= i:
      raise ValueError("missing total_frames")
    info["total_frames"] = _int(fields[i], "total_frames")
    info["label"] = self._labels([_int(x, "label") for x in fields[i + 1:]], where)
    return info

  def __getitem__(self, index: int) -> dict:
    results = super().__getitem__(index)
    results["filename_tmpl"] = self.filename_tmpl
    return results


@DATASETS.register
class VideoDataset(_AnnotationList):
  """Video files listed as ``path label [label ...]``; decode with ``PyAVInit``/``PyAVDecode``."""

  path_key = "filename"
  line_format = "<path> <label> [<label> ...]"

  def __init__(self, ann_file, data_prefix=None, start_index=0, multi_class=False,
               num_classes=None, modality="RGB", test_mode=False):
    super().__init__(ann_file, data_prefix, multi_class, num_classes, start_index, modality,
                     test_mode)

  def _parse_fields(self, fields, where):
    return {"filename": fields[0],
            "label": self._labels([_int(x, "label") for x in fields[1:]], where)}


def build_split(split_cfg) -> tuple[Any, list]:
  """A config's ``data.<split>`` entry -> (source, pipeline list); '' data_dir = TFDS default."""
  cfg = split_cfg.to_dict() if hasattr(split_cfg, "to_dict") else dict(split_cfg)
  pipeline = cfg.pop("pipeline", [])
  if "data_dir" in cfg:
    cfg["data_dir"] = cfg["data_dir"] or None
  return DATASETS.build(cfg), pipeline
