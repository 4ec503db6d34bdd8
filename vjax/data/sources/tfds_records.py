"""``TFDSDataset``: a built TFDS dataset read by random access: ArrayRecord through
``tfds.data_source``, TFRecord through an offset index (``vjax.data.tfrecord``).

How a record becomes a results dict belongs to the dataset's builder, not to this reader: a
vjax builder package ``tfds_builders.<name>`` may define

* ``results_from_record(record, index) -> dict``: the adapter (boxes, feature sequences,
  keypoints, tags ... whatever its pipeline ops expect);
* ``UNDECODED``: feature keys TFDS should hand over still encoded (e.g. JPEG frames, decoded
  later for the sampled frames only);
* ``open_builder(data_dir, builder_config)``: the builder for a config given as a dict or a
  preset name (synthetic datasets), and ``build_command(builder)`` for the not-built message;
* ``video_infos(builder, split) -> list[dict]``: every record's metadata without its media, in
  record order (localization builders: what their evaluators read as ``source.video_infos``).

Datasets from the TFDS catalog (no such package) get the video-classification adapter:
encoded frames under ``video_key``, a class under ``label_key``.
"""

from __future__ import annotations

import importlib
import os
from typing import Callable

from vjax.data.sources.annotation_lists import multi_hot
from vjax.data.sources.base import DATASETS


def _skip_decoding_np():
  """``tfds.decode.SkipDecoding`` that also works on sequences in TFDS's numpy path
  (4.9.x lacks ``decode_batch_example_np``): encoded frames come back as bytes."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  class SkipDecodingNp(tfds.decode.SkipDecoding):

    def decode_batch_example_np(self, serialized_example):
      return serialized_example

  return SkipDecodingNp()


def builder_package(name: str):
  """``tfds_builders.<name>`` (importing it registers the builder with TFDS), or None."""
  try:
    return importlib.import_module(f"tfds_builders.{name}")
  except ModuleNotFoundError as e:
    if e.name not in ("tfds_builders", f"tfds_builders.{name}"):
      raise  # the package exists but one of its own imports is missing
    return None


def video_results(record: dict, index: int, video_key: str = "video",
                  label_key: str = "label") -> dict:
  """The video-classification adapter: encoded frames + one class (MMAction2's keys)."""
  frames = list(record[video_key])
  video_id = record.get("video_id", index)
  if isinstance(video_id, bytes):
    video_id = video_id.decode()
  return dict(frames_bytes=frames, total_frames=len(frames), label=int(record[label_key]),
              start_index=0, modality="RGB", video_id=video_id)


def _not_built_message(name: str, config_desc: str, data_dir: str, command: str) -> str:
  return (f"TFDS dataset '{name}' ({config_desc}) is not built in data_dir '{data_dir}'. "
          f"Build it with:\n  {command}\nor pass the data_dir where it was built.")


class _TFRecordSource:
  """Random access to a split stored as TFRecord shards (TFDS's data sources only read
  ArrayRecord): records by an offset index, decoded as TFDS's own sources decode them."""

  def __init__(self, builder, split: str, decoders):
    from vjax.data import tfrecord  # pylint: disable=g-import-not-at-top
    info = builder.info.splits[split]
    self._features, self._decoders = builder.info.features, decoders
    self._reader = tfrecord.Reader([os.fspath(p) for p in info.filepaths])

  def __len__(self) -> int:
    return len(self._reader)

  def __getitem__(self, i: int) -> dict:
    return self._features.deserialize_example_np(self._reader[i], decoders=self._decoders)


@DATASETS.register
class TFDSDataset:
  """A built TFDS dataset; ``source[i]`` is the builder's adapter applied to record ``i``.

  ``builder_config`` is a config name, or (vjax's synthetic builders) a dict of options. An
  unbuilt dataset is built here only if ``prepare=True`` and needs no manual download.
  ``video_key``/``label_key`` configure the adapter of catalog datasets.
  """

  def __init__(self, name: str, split: str, data_dir: str | None = None, builder_config=None,
               prepare: bool = False, video_key: str = "video", label_key: str = "label"):
    self.name, self.split = name, split
    self.video_key, self.label_key = video_key, label_key
    self._builder_config = builder_config
    self.multi_class = False
    builder = self._open_builder(name, data_dir, builder_config, prepare)
    if split not in builder.info.splits:
      raise KeyError(f"Split {split!r} not in {name}: available {list(builder.info.splits)}")
    self.config_name = builder.builder_config.name if builder.builder_config else None
    self.data_dir = str(builder.data_dir)
    self.data_dir_root = str(builder.data_dir_root)
    features = builder.info.features
    label = features[label_key] if label_key in features else None
    if label is None and "labels" in features:  # multi-label: a multi-hot vector per video
      label = features["labels"].feature
      self.multi_class = True
    self.num_classes = getattr(label, "num_classes", None)
    self.class_names = getattr(label, "names", None)
    # HVU-style tags: per category, as HVUDataset gives them to LoadHVULabel.
    self.tag_category_nums = ({c: f.feature.num_classes for c, f in features["tags"].items()}
                              if "tags" in features else None)
    self._adapter_fn = None
    self._video_infos = None
    self._source = self._open_source(builder)
    self._len = len(self._source)

  def _package(self):
    return builder_package(self.name)

  def _undecoded(self) -> tuple[str, ...]:
    package = self._package()
    return tuple(getattr(package, "UNDECODED", (self.video_key,)) if package else
                 (self.video_key,))

  def _adapter(self) -> Callable[[dict, int], dict]:
    if self._adapter_fn is None:
      package = self._package()
      adapter = getattr(package, "results_from_record", None) if package else None
      self._adapter_fn = adapter or (
          lambda rec, i: video_results(rec, i, self.video_key, self.label_key))
    return self._adapter_fn

  def _open_source(self, builder):
    decoders = {k: _skip_decoding_np() for k in self._undecoded()
                if k in builder.info.features}
    if builder.info.file_format and builder.info.file_format.value == "tfrecord":
      return _TFRecordSource(builder, self.split, decoders)
    return builder.as_data_source(self.split, decoders=decoders)

  @staticmethod
  def _open_builder(name, data_dir, builder_config, prepare):
    """The prepared builder, or a FileNotFoundError that says how to build it."""
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    package = builder_package(name)
    opener = getattr(package, "open_builder", None) if package else None
    if opener is not None:
      builder = opener(data_dir, builder_config)
      if not builder.is_prepared():
        if not prepare:
          raise FileNotFoundError(_not_built_message(
              name, f"config {builder.builder_config.name}", str(builder.data_dir),
              package.build_command(builder)))
        builder.download_and_prepare(file_format="array_record")
      return builder
    if isinstance(builder_config, dict):
      raise TypeError(f"builder_config for {name!r} must be a config name, not a dict")
    try:
      builder = tfds.builder(name, data_dir=data_dir, config=builder_config)
      prepared = builder.is_prepared()
    except Exception as e:  # pylint: disable=broad-except  # TFDS raises several types.
      builder, prepared, cause = None, False, e
    if prepared:
      return builder
    if prepare and builder is not None and not builder.MANUAL_DOWNLOAD_INSTRUCTIONS:
      builder.download_and_prepare(file_format="array_record")
      return builder
    root = data_dir or os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets"
    cfg = f", config={builder_config!r}" if builder_config else ""
    err = FileNotFoundError(_not_built_message(
        name, f"config {builder_config}" if builder_config else "default config", root,
        f"python -c \"import tensorflow_datasets as tfds; tfds.builder('{name}', "
        f"data_dir='{root}'{cfg}).download_and_prepare(file_format='array_record')\"\n"
        f"(with TensorFlow installed, `tfds build {name} --data_dir={root} "
        f"--file_format=array_record` does the same)"))
    raise err from (cause if builder is None else None)

  def __getstate__(self):
    # The TFDS data source holds a locally defined decoder; worker processes reopen it.
    state = dict(self.__dict__)
    state["_source"] = state["_adapter_fn"] = state["_video_infos"] = None
    return state

  @property
  def video_infos(self) -> list[dict] | None:
    """The builder package's ``video_infos(builder, split)`` (read once), or None if it has
    no such hook."""
    if self._video_infos is None:
      package = self._package()
      hook = getattr(package, "video_infos", None) if package else None
      if hook is None:
        return None
      builder = self._open_builder(self.name, self.data_dir_root, self._builder_config, False)
      self._video_infos = list(hook(builder, self.split))
    return self._video_infos

  def _data_source(self):
    if self._source is None:
      self._source = self._open_source(
          self._open_builder(self.name, self.data_dir_root, self._builder_config, False))
    return self._source

  def __len__(self) -> int:
    return self._len

  def __getitem__(self, index: int) -> dict:
    results = self._adapter()(self._data_source()[int(index)], int(index))
    if self.multi_class and isinstance(results.get("label"), list):
      results["label"] = multi_hot(results["label"], self.num_classes)
    if self.tag_category_nums is not None:
      results["categories"] = list(self.tag_category_nums)
      results["category_nums"] = list(self.tag_category_nums.values())
    return results

  def describe(self, index: int) -> str:
    cfg = f"/{self.config_name}" if self.config_name else ""
    return f"TFDS {self.name}{cfg} split '{self.split}' index {index} ({self.data_dir})"

