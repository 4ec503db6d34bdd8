"""Convert a txt annotation list into MMAction2's json form (MMAction2's
tools/data/anno_txt2json.py).

    python -m vjax.tools.anno_txt2json data/ucf101/ucf101_train_split_1_rawframes.txt \
        --format rawframes [--output out.json]

Raw-frame lines ``frame_dir total_frames label [label ...]`` become
``{"frame_dir", "total_frames", "label": [labels]}``; video lines ``path label [label ...]``
become ``{"filename", "label": [labels]}``. Labels are always a list, which is how the json
form carries single- and multi-label samples alike.
"""

from __future__ import annotations

import argparse
import json
import sys


def _ints(fields, source: str, lineno: int, what: str) -> list[int]:
  try:
    return [int(x) for x in fields]
  except ValueError:
    raise ValueError(f"{source}, line {lineno}: {what} must be integers, got "
                     f"{' '.join(fields)!r}") from None


def lines_to_dicts(lines, fmt: str, source: str = "<lines>") -> list[dict]:
  """The json entries of txt list lines (blank lines skipped); ``source`` names the list in
  errors."""
  if fmt not in ("rawframes", "videos"):
    raise ValueError(f"format must be 'rawframes' or 'videos', got {fmt!r}")
  data = []
  for lineno, line in enumerate(lines, 1):
    fields = line.split()
    if not fields:
      continue
    if fmt == "videos":
      data.append({"filename": fields[0], "label": _ints(fields[1:], source, lineno, "labels")})
      continue
    if len(fields) < 2:
      raise ValueError(f"{source}, line {lineno}: expected 'frame_dir total_frames label ...', "
                       f"got {line.strip()!r}")
    total = _ints(fields[1:2], source, lineno, "total_frames")[0]
    data.append({"frame_dir": fields[0], "total_frames": total,
                 "label": _ints(fields[2:], source, lineno, "labels")})
  return data


def default_output(annofile: str) -> str:
  """``x.txt`` -> ``x.json`` (any other name gets ``.json`` appended)."""
  return annofile[:-4] + ".json" if annofile.endswith(".txt") else annofile + ".json"


def convert(annofile: str, fmt: str = "rawframes", output: str | None = None) -> str:
  with open(annofile) as f:
    data = lines_to_dicts(f, fmt, annofile)
  output = output or default_output(annofile)
  with open(output, "w") as f:
    json.dump(data, f)
  return output


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description="Convert a txt annotation list to json")
  parser.add_argument("annofile", help="the txt annotation list to convert")
  parser.add_argument("--format", default="rawframes", choices=["rawframes", "videos"],
                      help="what the list lists")
  parser.add_argument("--output", default=None,
                      help="output json (default: the annofile with .txt replaced by .json)")
  return parser.parse_args(argv)


def main(argv=None) -> str:
  args = parse_args(argv)
  try:
    return convert(args.annofile, args.format, args.output)
  except (OSError, ValueError) as e:
    sys.exit(f"anno_txt2json: {e}")


if __name__ == "__main__":
  main(sys.argv[1:])
