"""TFDS builder ``vjax_synthetic_skeleton``: procedurally animated skeletons whose class is a
motion (``generate``), no downloads; records as the PoseC3D releases' (``tfds_builders.posec3d``),
so skeleton configs switch between them by the dataset entry only. Splits 'train' and 'val'.

Two keypoint layouts, each a config family: 'coco2d' (17 COCO keypoints in pixels with scores,
as the PoseC3D 2D pickles) and 'ntu3d' (25 NTU joints in metres, pre-normalized as
gen_ntu_rgbd_raw's output).

    python -m tfds_builders.vjax_synthetic_skeleton --data_dir=DIR --layout=ntu3d --preset=small
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import tensorflow_datasets as tfds

from tfds_builders.posec3d import records
from tfds_builders.vjax_synthetic_skeleton import generate
from vjax.tools.gen_ntu_rgbd_raw import pre_normalize

NAME = "vjax_synthetic_skeleton"
# 1.1.0: 'ntu3d' joints pre-normalized as gen_ntu_rgbd_raw's (1.0.0: camera space).
VERSION = tfds.core.Version("1.1.0")
LAYOUTS = ("coco2d", "ntu3d")
_SPLIT_CODES = {"train": 0, "val": 1}
SPLITS = tuple(_SPLIT_CODES)


@dataclasses.dataclass(eq=False)
class VjaxSyntheticSkeletonConfig(tfds.core.BuilderConfig):
  """Options of one synthetic skeleton dataset: a layout, split sizes, the first
  ``num_classes`` classes of ``generate.CLASSES``, video lengths and persons per video."""

  layout: str = "coco2d"
  num_train: int = 24
  num_val: int = 12
  num_classes: int = 4
  min_frames: int = 32
  max_frames: int = 48
  max_persons: int = 2
  seed: int = 0

  @property
  def class_names(self) -> tuple[str, ...]:
    return generate.class_names(self.num_classes)


OPTION_NAMES = ("num_train", "num_val", "num_classes", "min_frames", "max_frames",
                "max_persons", "seed")

# `tiny` for tests (builds in about a second), `small` for CPU training runs (builds in a few
# seconds; see `generate` for how far above chance simple motion statistics get on it).
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(num_train=24, num_val=12, num_classes=4, min_frames=32, max_frames=48),
    "small": dict(num_train=600, num_val=120, num_classes=10, min_frames=48, max_frames=100),
}
BUILDER_CONFIG_NAMES = tuple(f"{l}_{p}" for l in LAYOUTS for p in PRESETS)


def _defaults() -> dict[str, Any]:
  return {f.name: f.default for f in dataclasses.fields(VjaxSyntheticSkeletonConfig)
          if f.name in OPTION_NAMES}


def config_name(layout: str = "coco2d", **options) -> str:
  """A name that encodes every option, so different option sets never share a directory."""
  o = {**_defaults(), **options}
  return (f"{layout}_k{o['num_classes']}_t{o['min_frames']}-{o['max_frames']}_"
          f"m{o['max_persons']}_n{o['num_train']}-{o['num_val']}_seed{o['seed']}")


def make_config(layout: str = "coco2d", preset: str | None = None,
                **options) -> VjaxSyntheticSkeletonConfig:
  """A config from a layout, an optional preset and overrides; a preset without overrides is
  named ``{layout}_{preset}`` (``coco2d_tiny``, ``ntu3d_small``, ...)."""
  if layout not in LAYOUTS:
    raise KeyError(f"Unknown {NAME} layout {layout!r}; layouts: {LAYOUTS}")
  unknown = set(options) - set(OPTION_NAMES)
  if unknown:
    raise TypeError(f"Unknown {NAME} options {sorted(unknown)}; valid: {OPTION_NAMES}")
  if preset is not None and preset not in PRESETS:
    raise KeyError(f"Unknown {NAME} preset {preset!r}; presets: {sorted(PRESETS)}")
  base = dict(PRESETS[preset]) if preset else {}
  merged = {**base, **{k: int(v) for k, v in options.items()}}
  o = {**_defaults(), **merged}
  if not 1 <= o["num_classes"] <= generate.MAX_CLASSES:
    raise ValueError(f"{NAME}: num_classes must be in [1, {generate.MAX_CLASSES}]")
  if not 2 <= o["min_frames"] <= o["max_frames"]:
    raise ValueError(f"{NAME}: need 2 <= min_frames <= max_frames, got {o['min_frames']}, "
                     f"{o['max_frames']}")
  if o["max_persons"] not in (1, 2) or min(o["num_train"], o["num_val"]) < 1:
    raise ValueError(f"{NAME}: max_persons must be 1 or 2 and every split at least 1 video")
  same_as_preset = preset is not None and all(base.get(k, _defaults()[k]) == v
                                              for k, v in options.items())
  name = f"{layout}_{preset}" if same_as_preset else config_name(layout, **merged)
  cfg = VjaxSyntheticSkeletonConfig(name=name, version=VERSION, layout=layout, **merged)
  cfg.description = (f"{records.layout_of(layout).description}; {cfg.num_classes} motion "
                     f"classes, {cfg.min_frames}-{cfg.max_frames} frames, 1-{cfg.max_persons} "
                     f"persons, {cfg.num_train}/{cfg.num_val} train/val videos, seed {cfg.seed}")
  return cfg


def example_seed(seed: int, split: str, index: int) -> np.random.SeedSequence:
  """Seed of video ``index`` of ``split``: independent of the layout and of how many videos a
  split has (both layouts show the same motions)."""
  return np.random.SeedSequence([seed, _SPLIT_CODES[split], index])


def example_label(index: int, num_classes: int) -> int:
  """Labels cycle through the classes, so every split is balanced to within one video."""
  return index % num_classes


def frame_dir(split: str, index: int) -> str:
  return f"skeleton_{split}_{index:06d}"


def generate_annotation(cfg: VjaxSyntheticSkeletonConfig, split: str, index: int) -> dict:
  """Video ``index`` of ``split`` as an entry of MMAction2's pose annotation format; 'ntu3d'
  joints pre-normalized as ``gen_ntu_rgbd_raw`` writes NTU's files (centred on the actor's
  mid-spine frame by frame, turned so that its spine points along +z, shoulders along +x)."""
  annotation, _ = generate.generate_video(
      example_seed(cfg.seed, split, index), example_label(index, cfg.num_classes),
      layout=cfg.layout, min_frames=cfg.min_frames, max_frames=cfg.max_frames,
      max_persons=cfg.max_persons)
  if cfg.layout == "ntu3d":
    annotation["keypoint"] = pre_normalize(annotation["keypoint"])
  return dict(annotation, frame_dir=frame_dir(split, index))


class VjaxSyntheticSkeleton(records.SkeletonBuilder):
  """Procedurally animated skeletons whose class is a motion pattern, not a pose."""

  VERSION = VERSION
  BUILDER_CONFIGS = [make_config(l, p) for l in LAYOUTS for p in PRESETS]
  DEFAULT_CONFIG_NAME = "coco2d_tiny"

  def class_names(self) -> list[str]:
    return list(self.builder_config.class_names)

  def _split_annotations(self, dl_manager):
    del dl_manager  # Nothing to download.
    cfg = self.builder_config
    return {split: self._annotations(split, n)
            for split, n in (("train", cfg.num_train), ("val", cfg.num_val))}

  def _annotations(self, split: str, num_videos: int):
    for i in range(num_videos):
      yield f"{i:06d}", generate_annotation(self.builder_config, split, i)


def skeleton_builder(data_dir: str | None = None, layout: str = "coco2d",
                     preset: str | None = None, **options) -> VjaxSyntheticSkeleton:
  """The builder of a layout with a preset and/or options (not built unless it was before)."""
  if preset is None and not options:
    preset = "tiny"
  cfg = make_config(layout, preset, **options)
  # TFDS wants the registered object (or its name) for a preset, a new object otherwise.
  return VjaxSyntheticSkeleton(data_dir=data_dir,
                               config=cfg.name if cfg.name in BUILDER_CONFIG_NAMES else cfg)


def prepare_synthetic_skeleton(data_dir: str | None = None, layout: str = "coco2d",
                               preset: str | None = None, **options) -> VjaxSyntheticSkeleton:
  """Builds (if needed) the ArrayRecord files of a synthetic skeleton dataset; returns its
  builder."""
  builder = skeleton_builder(data_dir, layout, preset, **options)
  builder.download_and_prepare(file_format="array_record")
  return builder


# What vjax's TFDSDataset reads from this package (see vjax.data.sources.tfds_records).
UNDECODED = records.UNDECODED
results_from_record = records.results_from_record
class_counts = records.class_counts


def open_builder(data_dir: str | None, builder_config) -> VjaxSyntheticSkeleton:
  """``builder_config``: None (``coco2d_tiny``), a config name ``{layout}_{preset}``, or a dict
  of ``layout``, ``preset`` and options."""
  if builder_config is None:
    return skeleton_builder(data_dir, "coco2d", "tiny")
  if isinstance(builder_config, str):
    if builder_config not in BUILDER_CONFIG_NAMES:
      raise KeyError(f"Unknown {NAME} config {builder_config!r}; names: "
                     f"{BUILDER_CONFIG_NAMES}, or a dict(layout=..., preset=..., **options)")
    layout, _, preset = builder_config.partition("_")
    return skeleton_builder(data_dir, layout, preset)
  return skeleton_builder(data_dir, **dict(builder_config))


def build_command(builder: VjaxSyntheticSkeleton) -> str:
  cfg = builder.builder_config
  flags = " ".join(f"--{k}={getattr(cfg, k)}" for k in OPTION_NAMES)
  return (f"python -m tfds_builders.{NAME} --data_dir={builder.data_dir_root} "
          f"--layout={cfg.layout} {flags}\n(or call tfds_builders.{NAME}."
          "prepare_synthetic_skeleton(data_dir, layout, **options), or set prepare=True)")
