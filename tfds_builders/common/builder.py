"""``RecognitionBuilder``: the TFDS builder every recognition dataset subclasses.

A subclass says where its annotations and media are in the user's manual download
(``plan``) and how it is labelled; this class stores it in the chosen config's form, with
the build parallel over local processes and resumable (``shards``) whether it is started by
``tfds build`` or ``python -m vjax.tools.build_dataset``.
"""

from __future__ import annotations

import inspect
import os.path as osp

import tensorflow_datasets as tfds
from etils import epath
from tensorflow_datasets.core import utils as tfds_utils

from tfds_builders.common import encode as enc
from tfds_builders.common import shards
from tfds_builders.common import storage as st


class LocalBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """A TFDS builder whose code is its own module file: TFDS's own lookup needs the
  ``importlib_resources`` backport, which vjax does not install. Every vjax builder derives
  from it."""

  @tfds_utils.classproperty
  @classmethod
  def code_path(cls) -> epath.Path:
    return epath.Path(inspect.getfile(cls))


class RecognitionBuilder(LocalBuilder, skip_registration=True):
  """Base of the recognition builders; see the module docstring."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release."}
  BUILDER_CONFIGS = st.RECOGNITION_CONFIGS
  LABEL_KIND = st.SINGLE
  HOMEPAGE = ""
  # Build options, set by vjax.tools.build_dataset (tfds build uses these defaults).
  num_workers: int = shards.default_workers()
  samples_per_shard: int = 256
  min_frames: int = 1

  def categories(self) -> dict[str, list[str] | None] | None:
    """HVU-style tag categories (name -> tag names); None for class-labelled datasets. Before
    the download is read (``_info``) a category's tag names may be None: they are set when
    the build reads them (``plan``)."""
    return None

  def plan(self, manual_dir: str) -> tuple[list[str], dict[str, list[enc.Sample]]]:
    """Class names and each split's samples, read from the user's download."""
    raise NotImplementedError(f"{type(self).__name__} must define plan()")

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        description=inspect.getdoc(type(self)),
        features=st.features(self.builder_config, self.LABEL_KIND, self.categories()),
        homepage=self.HOMEPAGE or None)

  def _layout(self, class_names: list[str]) -> shards.Layout:
    fmt = self.info.file_format.value if self.info.file_format else "array_record"
    return shards.Layout(self.builder_config, self.LABEL_KIND, class_names, self.categories(),
                         fmt, self.min_frames)

  def _planned(self, manual_dir) -> tuple[list[str], dict[str, list[enc.Sample]]]:
    class_names, plan = self.plan(str(manual_dir))
    st.set_class_names(self.info.features, class_names, self.categories())
    return class_names, {s: shards.samples_of(v) for s, v in plan.items()}

  def _download_and_prepare(self, dl_manager, download_config) -> None:
    """TFDS's hook, replaced so that ``tfds build`` also writes shards in parallel and can
    resume: finished shards wait in a work directory beside the dataset's."""
    del download_config
    class_names, plan = self._planned(dl_manager.manual_dir)
    layout = self._layout(class_names)
    final = osp.join(str(self.data_dir_root), self.name, self.builder_config.name,
                     str(self.version))
    split_infos, _ = shards.build(
        plan, layout, dataset_name=self.name, work_dir=f"{final}.partial-{layout.file_format}",
        out_dir=str(self.data_dir), final_dir=final, num_workers=self.num_workers,
        samples_per_shard=self.samples_per_shard)
    self.info.set_splits(tfds.core.SplitDict(split_infos))

  # TFDS's single-process path; _download_and_prepare above does not use it.
  def _split_generators(self, dl_manager):
    class_names, plan = self._planned(dl_manager.manual_dir)
    layout = self._layout(class_names)
    return {split: self._generate_examples(samples, layout) for split, samples in plan.items()}

  def _generate_examples(self, samples, layout):
    for sample in samples:
      try:
        yield sample.video_id, shards.example(sample, layout)
      except enc.Skip:
        continue


def results_from_record(record: dict, index: int) -> dict:
  """The adapter TFDSDataset uses for every recognition builder (``storage``)."""
  return st.results_from_record(record, index)


class OfficialRecognitionBuilder(RecognitionBuilder, skip_registration=True):
  """A dataset whose annotations are the official release's files
  (``vjax.data.official_annotations``) and whose media sit in per-split folders of the
  download. Subclasses set ``DATASET`` (the parser's name), ``PARSE_OPTIONS``, ``MEDIA`` (per
  split, candidate folders under ``manual_dir``, the first present is used), and
  ``DEFAULT_FPS`` for frame-folder releases (their frames carry no rate)."""

  DATASET = ""
  PARSE_OPTIONS: dict = {}
  ANNOTATIONS = ("annotations", ".")
  MEDIA: dict[str, tuple[str, ...]] = {}
  MEDIA_KIND = "videos"
  INDEX_OPTIONS: dict = {}
  DEFAULT_FPS: float | None = None

  def parse_options(self) -> dict:
    split = getattr(self.builder_config, "split", 1)
    return dict(self.PARSE_OPTIONS, **({"split": split} if split != 1 else {}))

  def label_of(self, entry):
    return entry.label

  def official(self, manual_dir: str):
    from vjax.data import official_annotations  # pylint: disable=g-import-not-at-top
    for sub in self.ANNOTATIONS:
      folder = osp.join(manual_dir, sub)
      if osp.isdir(folder) and (sub != "." or not osp.isdir(osp.join(manual_dir, "annotations"))):
        return official_annotations.parse(self.DATASET, folder, **self.parse_options())
    raise FileNotFoundError(f"{manual_dir} has no annotations folder; see the builder's "
                            "MANUAL_DOWNLOAD_INSTRUCTIONS")

  def plan(self, manual_dir: str):
    from vjax.data import official_annotations  # pylint: disable=g-import-not-at-top
    official = self.official(manual_dir)
    plan = {}
    for split, entries in official.splits.items():
      folder = next((osp.join(manual_dir, d) for d in self.MEDIA.get(split, ())
                     if osp.isdir(osp.join(manual_dir, d))), None)
      if folder is None:
        print(f"vjax: {self.name}: no media folder for split {split!r} (looked for "
              f"{', '.join(self.MEDIA.get(split, ())) or 'none'} in {manual_dir}); split left out")
        continue
      index = official_annotations.MediaIndex(folder, kind=self.MEDIA_KIND, **self.INDEX_OPTIONS)
      samples = []
      for e in entries:
        # The sample's own file, or the longer video holding it (FineGYM's event clips,
        # untrimmed YouTube videos) with its seconds inside that video.
        path, start, end = index.find_clip(e) or (None, e.start, e.end)
        samples.append(enc.Sample(video_id=e.video_id, path=path, label=self.label_of(e),
                                  start=start, end=end, fps=self.DEFAULT_FPS))
      plan[split] = samples
    if not plan:
      raise FileNotFoundError(f"{manual_dir}: none of {self.name}'s media folders is there; see "
                              "the builder's MANUAL_DOWNLOAD_INSTRUCTIONS")
    self._official = official
    return official.class_names, plan
