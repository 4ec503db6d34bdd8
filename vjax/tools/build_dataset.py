"""Build a TFDS dataset from a manual download: ``python -m vjax.tools.build_dataset NAME
--manual_dir=DIR [--data_dir=DIR] [--config=frames_256] [--file_format=array_record]``.

The same build ``tfds build tfds_builders/NAME --manual_dir=... --data_dir=...
--file_format=...`` runs, with vjax's options: worker processes, shard size, the shortest
video kept. Rerun the same command after an interruption to resume it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

FORMATS = ("array_record", "tfrecord")


def builder_class(name: str):
  """The builder class of ``tfds_builders.<name>``, with a message listing them if absent."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  try:
    importlib.import_module(f"tfds_builders.{name}")
  except ModuleNotFoundError as e:
    if e.name not in (f"tfds_builders.{name}",):
      raise
    raise SystemExit(f"vjax: no dataset builder named {name!r}; available: "
                     f"{', '.join(available())}") from None
  return tfds.builder_cls(name)


def available() -> list[str]:
  import tfds_builders  # pylint: disable=g-import-not-at-top
  root = os.path.dirname(tfds_builders.__file__)
  return sorted(d for d in os.listdir(root)
                if os.path.exists(os.path.join(root, d, f"{d}_dataset_builder.py")))


def build(name: str, manual_dir: str, data_dir: str | None = None, config: str | None = None,
          file_format: str = "array_record", num_workers: int | None = None,
          samples_per_shard: int | None = None, min_frames: int | None = None):
  """Builds (or resumes building) ``name``; returns the prepared builder."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  if file_format not in FORMATS:
    raise ValueError(f"file_format must be one of {FORMATS}, got {file_format!r}")
  cls = builder_class(name)
  if not os.path.isdir(manual_dir) or not os.listdir(manual_dir):
    raise FileNotFoundError(
        f"manual_dir {manual_dir} does not exist or is empty: put {name}'s download there.\n"
        f"{cls.MANUAL_DOWNLOAD_INSTRUCTIONS}")
  configs = [c.name for c in cls.BUILDER_CONFIGS]
  if config is not None and config not in configs:
    raise ValueError(f"{name} has no config {config!r}; configs: {', '.join(configs)}")
  builder = cls(config=config, data_dir=data_dir)
  for option, value in (("num_workers", num_workers), ("samples_per_shard", samples_per_shard),
                        ("min_frames", min_frames)):
    if value is not None:
      setattr(builder, option, value)
  builder.download_and_prepare(
      file_format=file_format,
      download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
  return builder


def main(argv=None) -> None:
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("name", help="builder name (a folder of tfds_builders/)")
  p.add_argument("--manual_dir", required=True, help="the dataset's download, laid out as the "
                 "builder's MANUAL_DOWNLOAD_INSTRUCTIONS say")
  p.add_argument("--data_dir", default=None, help="where TFDS datasets live "
                 "(default: $TFDS_DATA_DIR or ~/tensorflow_datasets)")
  p.add_argument("--config", default=None, help="storage config (default: the builder's first, "
                 "frames_256 for videos)")
  p.add_argument("--file_format", default="array_record", choices=FORMATS)
  p.add_argument("--num_workers", type=int, default=None,
                 help="encoding processes (default: the CPUs available)")
  p.add_argument("--samples_per_shard", type=int, default=None)
  p.add_argument("--min_frames", type=int, default=None,
                 help="videos with fewer frames are skipped as too short (default 1)")
  args = p.parse_args(argv)
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  try:
    builder = build(args.name, args.manual_dir, args.data_dir, args.config, args.file_format,
                    args.num_workers, args.samples_per_shard, args.min_frames)
  except (FileNotFoundError, ValueError) as e:
    sys.exit(f"vjax: {e}")
  print(f"vjax: {args.name}/{builder.builder_config.name} ready in {builder.data_dir}")


if __name__ == "__main__":
  main()
