"""TFDS builder ``vjax_synthetic_localization``: untrimmed feature sequences with planted
actions (``generate``), no downloads; records as ActivityNet's (``tfds_builders.activitynet``),
so BMN / BSN configs switch between them by the dataset entry only.

    python -m tfds_builders.vjax_synthetic_localization --data_dir=DIR --preset=small
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import tensorflow_datasets as tfds

from tfds_builders.activitynet import records
from tfds_builders.vjax_synthetic_localization import generate

NAME = "vjax_synthetic_localization"
VERSION = tfds.core.Version("1.0.0")
_SPLIT_CODES = {"train": 0, "validation": 1}
SPLITS = tuple(_SPLIT_CODES)


@dataclasses.dataclass(eq=False)
class VjaxSyntheticLocalizationConfig(tfds.core.BuilderConfig):
  """Options of one synthetic localization dataset."""

  num_train: int = 16
  num_val: int = 8
  temporal_dim: int = 100
  feat_dim: int = 16
  num_classes: int = 5
  max_segments: int = 3
  seed: int = 0

  @property
  def class_names(self) -> tuple[str, ...]:
    return generate.class_names(self.num_classes)


OPTION_NAMES = ("num_train", "num_val", "temporal_dim", "feat_dim", "num_classes",
                "max_segments", "seed")

# `tiny` for tests (builds in about a second), `small` for CPU training runs (builds in about
# 3 s; see `generate` for how far above chance a simple detector gets on it).
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(num_train=16, num_val=8, temporal_dim=100, feat_dim=16),
    "small": dict(num_train=400, num_val=50, temporal_dim=100, feat_dim=32),
}
BUILDER_CONFIG_NAMES = tuple(PRESETS)


def _defaults() -> dict[str, Any]:
  return {f.name: f.default for f in dataclasses.fields(VjaxSyntheticLocalizationConfig)
          if f.name in OPTION_NAMES}


def config_name(**options) -> str:
  """A name that encodes every option, so different option sets never share a directory."""
  o = {**_defaults(), **options}
  return (f"t{o['temporal_dim']}_c{o['feat_dim']}_k{o['num_classes']}_s{o['max_segments']}_"
          f"n{o['num_train']}-{o['num_val']}_seed{o['seed']}")


def make_config(preset: str | None = None, **options) -> VjaxSyntheticLocalizationConfig:
  """A config from an optional preset and overrides; a preset without overrides keeps its
  name ('tiny', 'small')."""
  unknown = set(options) - set(OPTION_NAMES)
  if unknown:
    raise TypeError(f"Unknown {NAME} options {sorted(unknown)}; valid: {OPTION_NAMES}")
  if preset is not None and preset not in PRESETS:
    raise KeyError(f"Unknown {NAME} preset {preset!r}; presets: {sorted(PRESETS)}")
  base = dict(PRESETS[preset]) if preset else {}
  merged = {**base, **{k: int(v) for k, v in options.items()}}
  checks = dict(temporal_dim=8, feat_dim=2, num_classes=1, max_segments=1, num_train=1,
                num_val=1)
  low = {k: v for k, v in {**_defaults(), **merged}.items() if k in checks and v < checks[k]}
  if low:
    raise ValueError(f"{NAME}: options below their minimum {checks}: {low}")
  if merged.get("max_segments", 3) > len(generate.SEGMENT_COUNT_PROBS):
    raise ValueError(f"{NAME}: max_segments is at most {len(generate.SEGMENT_COUNT_PROBS)}")
  same_as_preset = preset is not None and all(base.get(k, _defaults()[k]) == v
                                              for k, v in options.items())
  name = preset if same_as_preset else config_name(**merged)
  cfg = VjaxSyntheticLocalizationConfig(name=name, version=VERSION, **merged)
  cfg.description = (f"{cfg.num_train}/{cfg.num_val} train/validation videos of "
                     f"{cfg.temporal_dim} x {cfg.feat_dim} features, 1-{cfg.max_segments} "
                     f"actions of {cfg.num_classes} classes each, seed {cfg.seed}")
  return cfg


def example_seed(seed: int, split: str, index: int) -> np.random.SeedSequence:
  """Seed of video ``index`` of ``split``, independent of how many videos a split has."""
  return np.random.SeedSequence([seed, _SPLIT_CODES[split], index])


def video_name(split: str, index: int) -> str:
  return f"v_{split}_{index:06d}"


class VjaxSyntheticLocalization(records.LocalizationBuilder):
  """Untrimmed feature sequences with planted actions of known class, start and end."""

  VERSION = VERSION
  RELEASE_NOTES = {"1.0.0": "Initial release."}
  BUILDER_CONFIGS = [make_config(p) for p in PRESETS]
  DEFAULT_CONFIG_NAME = "tiny"

  def class_names(self) -> list[str]:
    return list(self.builder_config.class_names)

  def _split_videos(self, dl_manager):
    del dl_manager  # Nothing to download.
    cfg = self.builder_config
    return {"train": self._videos("train", cfg.num_train),
            "validation": self._videos("validation", cfg.num_val)}

  def _videos(self, split: str, num_videos: int):
    cfg = self.builder_config
    rows = generate.patterns(cfg.seed, cfg.num_classes, cfg.feat_dim)
    for i in range(num_videos):
      feature, spec = generate.generate_video(example_seed(cfg.seed, split, i), rows,
                                              temporal_dim=cfg.temporal_dim,
                                              max_segments=cfg.max_segments)
      yield video_name(split, i), generate.video_info(spec, cfg.class_names), feature


def localization_builder(data_dir: str | None = None, preset: str | None = None,
                         **options) -> VjaxSyntheticLocalization:
  """The builder of a preset and/or options (not built unless it was before)."""
  if preset is None and not options:
    preset = "tiny"
  cfg = make_config(preset, **options)
  # TFDS wants the registered object (or its name) for a preset, a new object otherwise.
  return VjaxSyntheticLocalization(
      data_dir=data_dir, config=cfg.name if cfg.name in BUILDER_CONFIG_NAMES else cfg)


def prepare_synthetic_localization(data_dir: str | None = None, preset: str | None = None,
                                   **options) -> VjaxSyntheticLocalization:
  """Builds (if needed) the ArrayRecord files of a synthetic localization dataset; returns its
  builder."""
  builder = localization_builder(data_dir, preset, **options)
  builder.download_and_prepare(file_format="array_record")
  return builder


# What vjax's TFDSDataset reads from this package (see vjax.data.sources.tfds_records).
UNDECODED = records.UNDECODED
results_from_record = records.results_from_record
video_infos = records.video_infos


def open_builder(data_dir: str | None, builder_config) -> VjaxSyntheticLocalization:
  """``builder_config``: None ('tiny'), a preset name, or a dict of ``preset`` and options."""
  if builder_config is None:
    return localization_builder(data_dir, "tiny")
  if isinstance(builder_config, str):
    if builder_config not in BUILDER_CONFIG_NAMES:
      raise KeyError(f"Unknown {NAME} config {builder_config!r}; names: "
                     f"{BUILDER_CONFIG_NAMES}, or a dict(preset=..., **options)")
    return localization_builder(data_dir, builder_config)
  return localization_builder(data_dir, **dict(builder_config))


def build_command(builder: VjaxSyntheticLocalization) -> str:
  cfg = builder.builder_config
  flags = " ".join(f"--{k}={getattr(cfg, k)}" for k in OPTION_NAMES)
  return (f"python -m tfds_builders.{NAME} --data_dir={builder.data_dir_root} {flags}\n"
          f"(or call tfds_builders.{NAME}.prepare_synthetic_localization(data_dir, **options), "
          "or set prepare=True)")
