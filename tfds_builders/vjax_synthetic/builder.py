"""TFDS builder ``vjax_synthetic``: procedural motion-classification videos, no downloads.

Frames are stored JPEG-encoded in ArrayRecord files so that the vjax input
pipeline can read them back undecoded and decode only the sampled frames.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import tensorflow_datasets as tfds

from tfds_builders.common.builder import LocalBuilder
from tfds_builders.vjax_synthetic import generate

NAME = "vjax_synthetic"
VERSION = tfds.core.Version("2.0.0")
_SPLIT_CODES = {"train": 0, "validation": 1}


@dataclasses.dataclass(eq=False)
class VjaxSyntheticConfig(tfds.core.BuilderConfig):
  """Options of one synthetic dataset; ``num_classes = num_directions * num_speeds``."""

  num_directions: int = 4
  num_speeds: int = 2
  num_train: int = 64
  num_val: int = 32
  num_frames: int = 16
  height: int = 32
  width: int = 32
  seed: int = 0
  jpeg_quality: int = 90

  @property
  def num_classes(self) -> int:
    return generate.num_classes(self.num_directions, self.num_speeds)


OPTION_NAMES = ("num_directions", "num_speeds", "num_train", "num_val", "num_frames", "height",
                "width", "seed", "jpeg_quality")

# Named presets: `tiny` for tests, `small` for the CPU demo (builds in well under a minute).
PRESETS: dict[str, dict[str, int]] = {
    "tiny": dict(num_train=24, num_val=16, num_frames=16, height=32, width=32),
    "small": dict(num_train=1000, num_val=200, num_frames=32, height=64, width=64),
}


def config_name(**options) -> str:
  """A name that encodes every option, so different option sets never share a directory."""
  o = {**_defaults(), **options}
  name = (f"d{o['num_directions']}s{o['num_speeds']}_t{o['num_frames']}_{o['height']}x{o['width']}"
          f"_n{o['num_train']}-{o['num_val']}_seed{o['seed']}")
  if o["jpeg_quality"] != 90:
    name += f"_q{o['jpeg_quality']}"
  return name


def _defaults() -> dict[str, Any]:
  return {f.name: f.default for f in dataclasses.fields(VjaxSyntheticConfig)
          if f.name in OPTION_NAMES}


def make_config(preset: str | None = None, **options) -> VjaxSyntheticConfig:
  """Builds a config from an optional preset plus overrides.

  A preset without overrides keeps its short name (``tiny``, ``small``); anything
  else is named by :func:`config_name` from the full option set.
  """
  unknown = set(options) - set(OPTION_NAMES)
  if unknown:
    raise TypeError(f"Unknown vjax_synthetic options {sorted(unknown)}; valid: {OPTION_NAMES}")
  if preset is not None and preset not in PRESETS:
    raise KeyError(f"Unknown vjax_synthetic preset {preset!r}; presets: {sorted(PRESETS)}")
  base = dict(PRESETS[preset]) if preset else {}
  merged = {**base, **options}
  same_as_preset = preset is not None and all(base.get(k, _defaults()[k]) == v
                                              for k, v in options.items())
  name = preset if same_as_preset else config_name(**merged)
  cfg = VjaxSyntheticConfig(name=name, version=VERSION, **merged)
  cfg.description = (f"{cfg.num_classes} motion classes ({cfg.num_directions} directions x "
                     f"{cfg.num_speeds} speeds), {cfg.num_frames} frames of "
                     f"{cfg.height}x{cfg.width}, {cfg.num_train}/{cfg.num_val} train/val videos, "
                     f"seed {cfg.seed}")
  return cfg


def example_seed(seed: int, split: str, index: int) -> np.random.SeedSequence:
  """Seed of video ``index`` of ``split``: independent of how many videos a split has."""
  return np.random.SeedSequence([seed, _SPLIT_CODES[split], index])


def example_label(index: int, num_classes: int) -> int:
  """Labels cycle through the classes, so every split is balanced to within one video."""
  return index % num_classes


class VjaxSynthetic(LocalBuilder):
  """Short videos whose class is a motion direction x speed (see ``generate``)."""

  VERSION = VERSION
  RELEASE_NOTES = {"1.0.0": "Initial release.",
                   "2.0.0": "The class motion pans the whole textured scene; shapes are distractors."}
  BUILDER_CONFIGS = [make_config(p) for p in PRESETS]
  DEFAULT_CONFIG_NAME = "tiny"


  def _info(self) -> tfds.core.DatasetInfo:
    cfg = self.builder_config
    return self.dataset_info_from_configs(
        description=__doc__,
        features=tfds.features.FeaturesDict({
            "video": tfds.features.Sequence(
                tfds.features.Image(shape=(cfg.height, cfg.width, 3), encoding_format="jpeg")),
            "label": tfds.features.ClassLabel(num_classes=cfg.num_classes),
            "video_id": tfds.features.Text(),
        }),
        supervised_keys=("video", "label"),
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # Nothing to download.
    cfg = self.builder_config
    return {"train": self._generate_examples("train", cfg.num_train),
            "validation": self._generate_examples("validation", cfg.num_val)}

  def _generate_examples(self, split: str, num_videos: int):
    cfg = self.builder_config
    for i in range(num_videos):
      label = example_label(i, cfg.num_classes)
      frames = generate.generate_video(
          example_seed(cfg.seed, split, i), label, num_frames=cfg.num_frames, height=cfg.height,
          width=cfg.width, num_directions=cfg.num_directions, num_speeds=cfg.num_speeds)
      video_id = f"{split}_{i:06d}"
      yield video_id, {
          "video": [generate.encode_jpeg(f, cfg.jpeg_quality) for f in frames],
          "label": label,
          "video_id": video_id,
      }


def synthetic_builder(data_dir: str | None = None, preset: str | None = None,
                      **options) -> VjaxSynthetic:
  """The builder for a preset and/or options (not built yet unless it was before)."""
  if preset is None and not options:
    preset = "tiny"
  cfg = make_config(preset, **options)
  # TFDS wants the registered object (or its name) for a preset, a new object otherwise.
  return VjaxSynthetic(data_dir=data_dir, config=cfg.name if cfg.name in PRESETS else cfg)


def prepare_synthetic(data_dir: str | None = None, preset: str | None = None,
                      **options) -> VjaxSynthetic:
  """Builds (if needed) the ArrayRecord files of a synthetic dataset; returns its builder."""
  builder = synthetic_builder(data_dir, preset, **options)
  builder.download_and_prepare(file_format="array_record")
  return builder


# What vjax's TFDSDataset reads from this package (see vjax.data.sources.tfds_records).
UNDECODED = ("video",)


def open_builder(data_dir: str | None, builder_config) -> VjaxSynthetic:
  """``builder_config``: None (tiny), a preset name or a dict of options (with ``preset``)."""
  if builder_config is None:
    return synthetic_builder(data_dir, "tiny")
  if isinstance(builder_config, str):
    return synthetic_builder(data_dir, builder_config)
  return synthetic_builder(data_dir, **dict(builder_config))


def build_command(builder: VjaxSynthetic) -> str:
  cfg = builder.builder_config
  flags = " ".join(f"--{k}={getattr(cfg, k)}" for k in OPTION_NAMES)
  return (f"python -m tfds_builders.vjax_synthetic --data_dir={builder.data_dir_root} {flags}\n"
          "(or call vjax.data.prepare_synthetic(data_dir, **options), or set prepare=True)")


def results_from_record(record: dict, index: int) -> dict:
  """A record as MMAction2's keys: encoded frames (decoded later, sampled ones only)."""
  from vjax.data.sources.tfds_records import video_results  # pylint: disable=g-import-not-at-top
  return video_results(record, index)
