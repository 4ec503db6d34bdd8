"""TFDS builder ``vjax_synthetic_tags``: procedural multi-label videos, no downloads.

Two tasks (``generate`` says what the videos show):
* ``multilabel``: ``label`` holds the shape kinds present (1 to 3 of ``KINDS``); records
  become MMAction2's multi_class results, a many-hot float32 ``label``;
* ``hvu``: ``label`` holds the tags (indices into ``category/tag`` names) of the annotated
  categories only, ``category_annotated`` which of attribute / object / scene are annotated;
  records become what MMAction2's HVUDataset emits (``label`` = {category: tags},
  ``categories``, ``category_nums``), for ``LoadHVULabel``.
Frames are JPEGs in ArrayRecord files, handed over undecoded (``frames_bytes``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import tensorflow_datasets as tfds

from tfds_builders.common.builder import LocalBuilder
from tfds_builders.vjax_synthetic_tags import generate

NAME = "vjax_synthetic_tags"
VERSION = tfds.core.Version("1.0.0")
TASKS = ("multilabel", "hvu")
_SPLIT_CODES = {"train": 0, "validation": 1}


@dataclasses.dataclass(eq=False)
class VjaxSyntheticTagsConfig(tfds.core.BuilderConfig):
  """Options of one synthetic tagging dataset; ``missing_prob`` only matters for 'hvu'."""

  task: str = "multilabel"
  num_train: int = 16
  num_val: int = 8
  num_frames: int = 8
  height: int = 32
  width: int = 32
  seed: int = 0
  jpeg_quality: int = 90
  missing_prob: float = 0.25

  @property
  def tag_names(self) -> tuple[str, ...]:
    return generate.tag_names(self.task)

  @property
  def num_classes(self) -> int:
    return len(self.tag_names)


OPTION_NAMES = ("num_train", "num_val", "num_frames", "height", "width", "seed", "jpeg_quality",
                "missing_prob")

# `tiny` for tests (builds in about a second), `small` for CPU training runs.
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(num_train=16, num_val=8, num_frames=8, height=32, width=32),
    "small": dict(num_train=600, num_val=150, num_frames=16, height=64, width=64),
}


def _defaults() -> dict[str, Any]:
  return {f.name: f.default for f in dataclasses.fields(VjaxSyntheticTagsConfig)
          if f.name in OPTION_NAMES}


def config_name(task: str = "multilabel", **options) -> str:
  """A name that encodes every option, so different option sets never share a directory."""
  o = {**_defaults(), **options}
  name = (f"{task}_t{o['num_frames']}_{o['height']}x{o['width']}_n{o['num_train']}-"
          f"{o['num_val']}_seed{o['seed']}")
  if o["jpeg_quality"] != 90:
    name += f"_q{o['jpeg_quality']}"
  if task == "hvu" and o["missing_prob"] != 0.25:
    name += f"_m{o['missing_prob']:g}"
  return name


def make_config(task: str = "multilabel", preset: str | None = None,
                **options) -> VjaxSyntheticTagsConfig:
  """A config from a task, an optional preset and overrides; a preset without overrides is
  named ``{task}_{preset}`` (``multilabel_tiny``, ``hvu_small``, ...)."""
  if task not in TASKS:
    raise KeyError(f"Unknown {NAME} task {task!r}; tasks: {TASKS}")
  unknown = set(options) - set(OPTION_NAMES)
  if unknown:
    raise TypeError(f"Unknown {NAME} options {sorted(unknown)}; valid: {OPTION_NAMES}")
  if preset is not None and preset not in PRESETS:
    raise KeyError(f"Unknown {NAME} preset {preset!r}; presets: {sorted(PRESETS)}")
  if not 0 <= float(options.get("missing_prob", 0.0)) < 1:
    raise ValueError(f"missing_prob must be in [0, 1), got {options['missing_prob']}")
  base = dict(PRESETS[preset]) if preset else {}
  merged = {**base, **options}
  same_as_preset = preset is not None and all(base.get(k, _defaults()[k]) == v
                                              for k, v in options.items())
  name = f"{task}_{preset}" if same_as_preset else config_name(task, **merged)
  cfg = VjaxSyntheticTagsConfig(name=name, version=VERSION, task=task, **merged)
  what = ("1-3 shape kinds per video (many-hot)" if task == "multilabel" else
          "HVU-style attribute/object/scene tags, a category missing with probability "
          f"{cfg.missing_prob:g}")
  cfg.description = (f"{task}: {cfg.num_classes} tags, {what}; {cfg.num_frames} frames of "
                     f"{cfg.height}x{cfg.width}, {cfg.num_train}/{cfg.num_val} train/val "
                     f"videos, seed {cfg.seed}")
  return cfg


BUILDER_CONFIG_NAMES = tuple(f"{t}_{p}" for t in TASKS for p in PRESETS)


def example_seed(seed: int, split: str, index: int, stream: int = 0) -> np.random.SeedSequence:
  """Seed of video ``index`` of ``split`` (stream 0: the video, 1: its HVU annotation);
  independent of the task and of how many videos a split has."""
  return np.random.SeedSequence([seed, _SPLIT_CODES[split], index, stream])


def example_label(spec: generate.VideoSpec, task: str,
                  annotated: tuple[bool, ...] | None = None) -> list[int]:
  """The stored ``label``: kind indices (multilabel) or global tag indices of the annotated
  categories (hvu)."""
  if task == "multilabel":
    return sorted(spec.kinds)
  tags, out, start = generate.hvu_tags(spec), [], 0
  for category, num, keep in zip(generate.HVU_CATEGORIES, generate.HVU_CATEGORY_NUMS,
                                 annotated):
    if keep:
      out.extend(start + t for t in tags[category])
    start += num
  return out


class VjaxSyntheticTags(LocalBuilder):
  """Short videos tagged with the shapes, colours and background they show."""

  VERSION = VERSION
  RELEASE_NOTES = {"1.0.0": "Initial release: multilabel and hvu tasks."}
  BUILDER_CONFIGS = [make_config(t, p) for t in TASKS for p in PRESETS]
  DEFAULT_CONFIG_NAME = "multilabel_tiny"


  def _info(self) -> tfds.core.DatasetInfo:
    cfg = self.builder_config
    features = {
        "video": tfds.features.Sequence(
            tfds.features.Image(shape=(cfg.height, cfg.width, 3), encoding_format="jpeg")),
        "label": tfds.features.Sequence(tfds.features.ClassLabel(names=list(cfg.tag_names))),
        "video_id": tfds.features.Text(),
    }
    metadata = {"task": cfg.task, "tag_names": list(cfg.tag_names),
                "num_classes": cfg.num_classes}
    if cfg.task == "hvu":
      features["category_annotated"] = tfds.features.Tensor(
          shape=(len(generate.HVU_CATEGORIES),), dtype=np.bool_)
      metadata.update(categories=list(generate.HVU_CATEGORIES),
                      category_nums=list(generate.HVU_CATEGORY_NUMS))
    return self.dataset_info_from_configs(
        description=__doc__, features=tfds.features.FeaturesDict(features),
        metadata=tfds.core.MetadataDict(metadata))

  def _split_generators(self, dl_manager):
    del dl_manager  # Nothing to download.
    cfg = self.builder_config
    return {"train": self._generate_examples("train", cfg.num_train),
            "validation": self._generate_examples("validation", cfg.num_val)}

  def _generate_examples(self, split: str, num_videos: int):
    cfg = self.builder_config
    for i in range(num_videos):
      frames, spec = generate.generate_video(example_seed(cfg.seed, split, i),
                                             num_frames=cfg.num_frames, height=cfg.height,
                                             width=cfg.width)
      video_id = f"{split}_{i:06d}"
      example = {"video": [generate.encode_jpeg(f, cfg.jpeg_quality) for f in frames],
                 "video_id": video_id}
      if cfg.task == "hvu":
        annotated = generate.hvu_annotated(example_seed(cfg.seed, split, i, 1), cfg.missing_prob)
        example["category_annotated"] = np.array(annotated, np.bool_)
        example["label"] = example_label(spec, "hvu", annotated)
      else:
        example["label"] = example_label(spec, "multilabel")
      yield video_id, example


def tags_builder(data_dir: str | None = None, task: str = "multilabel", preset: str | None = None,
                 **options) -> VjaxSyntheticTags:
  """The builder of a task with a preset and/or options (not built unless it was before)."""
  if preset is None and not options:
    preset = "tiny"
  cfg = make_config(task, preset, **options)
  # TFDS wants the registered object (or its name) for a preset, a new object otherwise.
  return VjaxSyntheticTags(data_dir=data_dir,
                           config=cfg.name if cfg.name in BUILDER_CONFIG_NAMES else cfg)


def prepare_synthetic_tags(data_dir: str | None = None, task: str = "multilabel",
                           preset: str | None = None, **options) -> VjaxSyntheticTags:
  """Builds (if needed) the ArrayRecord files of a synthetic tagging dataset; returns its
  builder."""
  builder = tags_builder(data_dir, task, preset, **options)
  builder.download_and_prepare(file_format="array_record")
  return builder


# What vjax's TFDSDataset reads from this package (see vjax.data.sources.tfds_records).
UNDECODED = ("video",)


def open_builder(data_dir: str | None, builder_config) -> VjaxSyntheticTags:
  """``builder_config``: None (``multilabel_tiny``), a config name ``{task}_{preset}``, or a
  dict of ``task``, ``preset`` and options."""
  if builder_config is None:
    return tags_builder(data_dir, "multilabel", "tiny")
  if isinstance(builder_config, str):
    task, _, preset = builder_config.partition("_")
    if builder_config not in BUILDER_CONFIG_NAMES:
      raise KeyError(f"Unknown {NAME} config {builder_config!r}; names: "
                     f"{BUILDER_CONFIG_NAMES}, or a dict(task=..., preset=..., **options)")
    return tags_builder(data_dir, task, preset)
  return tags_builder(data_dir, **dict(builder_config))


def build_command(builder: VjaxSyntheticTags) -> str:
  cfg = builder.builder_config
  flags = " ".join(f"--{k}={getattr(cfg, k)}" for k in OPTION_NAMES)
  return (f"python -m tfds_builders.{NAME} --data_dir={builder.data_dir_root} "
          f"--task={cfg.task} {flags}\n(or call tfds_builders.{NAME}.prepare_synthetic_tags("
          "data_dir, task, **options), or set prepare=True)")


def results_from_record(record: dict, index: int) -> dict:
  """A record as MMAction2's pipelines expect it: encoded frames (decoded later, sampled ones
  only) and, for 'multilabel', a many-hot float32 ``label`` over the kinds (as a multi_class
  dataset gives), for 'hvu', HVUDataset's ``label`` dict with ``categories`` and
  ``category_nums`` (for ``LoadHVULabel``)."""
  frames = list(record["video"])
  video_id = record.get("video_id", index)
  if isinstance(video_id, bytes):
    video_id = video_id.decode()
  tags = np.asarray(record["label"], np.int64).reshape(-1)
  results = dict(frames_bytes=frames, total_frames=len(frames), start_index=0, modality="RGB",
                 video_id=video_id)
  if "category_annotated" in record:
    annotated = np.asarray(record["category_annotated"]).reshape(-1)
    label, start = {}, 0
    for category, num, keep in zip(generate.HVU_CATEGORIES, generate.HVU_CATEGORY_NUMS,
                                   annotated):
      if keep:
        label[category] = [int(t) - start for t in tags if start <= t < start + num]
      start += num
    results.update(label=label, categories=list(generate.HVU_CATEGORIES),
                   category_nums=list(generate.HVU_CATEGORY_NUMS))
  else:
    many_hot = np.zeros(len(generate.KINDS), np.float32)
    many_hot[tags] = 1.0
    results["label"] = many_hot
  return results
