"""check_videos: finds exactly the missing and undecodable videos of a config's split."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import numpy as np
import pytest

from vjax.data import PIPELINES
from vjax.tools import check_videos

_GOOD = ["a.mp4", "sub/b.mp4", "short.mp4"]
_BAD = ["missing.mp4", "corrupt.mp4", "truncated.mp4"]
# List order: the output file keeps it.
_LIST = ["a.mp4", "missing.mp4", "corrupt.mp4", "sub/b.mp4", "truncated.mp4", "short.mp4"]

_CONFIG = '''
from vjax.config import default_config

def get_config(arg=""):
  c = default_config()
  video = dict(type="VideoDataset", ann_file="{ann}", data_prefix="{root}")
  c.data.train = dict(video, pipeline=[])
  c.data.val = dict(type="RepeatDataset", times=3, dataset=video, pipeline=[])
  c.data.test = dict(type="RawframeDataset", ann_file="{frames}", pipeline=[])
  if arg == "elsewhere":
    c.data.train.data_prefix = "/nonexistent"
  return c
'''


def _write_video(path, num_frames):
  import av  # pylint: disable=g-import-not-at-top
  path.parent.mkdir(parents=True, exist_ok=True)
  with av.open(str(path), "w") as container:
    stream = container.add_stream("mpeg4", rate=8)
    stream.width = stream.height = 32  # decord cannot decode 16-pixel-wide videos.
    stream.pix_fmt = "yuv420p"
    frame = np.full((32, 32, 3), 90, np.uint8)
    for _ in range(num_frames):
      for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
        container.mux(packet)
    for packet in stream.encode():
      container.mux(packet)


@pytest.fixture
def config(tmp_path):
  root = tmp_path / "videos"
  _write_video(root / "a.mp4", 6)
  _write_video(root / "sub/b.mp4", 6)
  _write_video(root / "short.mp4", 1)
  data = (root / "a.mp4").read_bytes()
  (root / "truncated.mp4").write_bytes(data[:len(data) // 2])
  (root / "corrupt.mp4").write_bytes(np.random.default_rng(1).bytes(4000))
  ann = tmp_path / "list.txt"
  ann.write_text("".join(f"{name} {i % 3}\n" for i, name in enumerate(_LIST)))
  path = tmp_path / "cfg.py"
  frames = tmp_path / "frames.txt"
  frames.write_text("a 8 0\n")
  path.write_text(_CONFIG.format(ann=ann, root=root, frames=frames))
  return str(path), root


def _decoders():
  """Decoders whose ops are registered and whose library imports (others may land later)."""
  out = []
  for name, (prefix, module) in check_videos.DECODERS.items():
    if f"{prefix}Init" in PIPELINES and f"{prefix}Decode" in PIPELINES:
      try:
        importlib.import_module(module)
        out.append(name)
      except ImportError:
        pass
  return out


@pytest.mark.parametrize("decoder", _decoders())
def test_finds_exactly_the_bad_videos(config, tmp_path, capsys, decoder):
  cfg, root = config
  out = tmp_path / "invalid.txt"
  out.write_text("stale\n")
  bad = check_videos.main([f"--config={cfg}", "--output-file", str(out), "--num-processes", "1",
                           "--decoder", decoder])
  expected = [str(root / name) for name in _LIST if name in _BAD]
  assert list(bad) == expected
  assert out.read_text().splitlines() == expected
  printed = capsys.readouterr().out
  assert "Checked 6 videos, 3 are corrupted/missing" in printed
  assert all(f"{path}: " in printed for path in expected)  # Each with its error.
  assert all((root / name).exists() for name in _GOOD + ["corrupt.mp4", "truncated.mp4"])


def test_repeated_files_are_checked_once_and_removed_on_request(config, tmp_path, capsys):
  cfg, root = config
  out = tmp_path / "invalid.txt"
  bad = check_videos.main([cfg, "--split", "val", "--output-file", str(out), "--num-processes",
                           "1", "--remove-corrupted-videos"])
  assert len(bad) == 3
  printed = capsys.readouterr().out
  assert "Checked 6 videos, 3" in printed and "Deleted 2 corrupted videos." in printed
  assert sorted(os.listdir(root)) == ["a.mp4", "short.mp4", "sub"]
  again = check_videos.main([cfg, "--split", "val", "--output-file", str(out),
                             "--num-processes", "1"])
  assert again.keys() == bad.keys()  # Now all three are missing.
  assert all("not found" in error for error in again.values())


def test_command_line_with_a_process_pool(config, tmp_path):
  cfg, root = config
  out = tmp_path / "invalid.txt"
  run = subprocess.run(
      [sys.executable, "-m", "vjax.tools.check_videos", f"--config={cfg}", "--output-file",
       str(out), "--num-processes", "2", "--decoder", "pyav"],
      capture_output=True, text=True, timeout=120,
      cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
  assert run.returncode == 0, run.stderr
  assert out.read_text().splitlines() == [str(root / n) for n in _LIST if n in _BAD]
  assert "Checked 6 videos, 3 are corrupted/missing" in run.stdout


def test_usage_errors(config, tmp_path):
  cfg, _ = config
  (tmp_path / "good.txt").write_text("a.mp4 0\nshort.mp4 1\n")
  out = str(tmp_path / "o.txt")
  with pytest.raises(ValueError, match="no 'filename'"):
    check_videos.main([cfg, "--split", "test", "--output-file", out, "--num-processes", "1"])
  if "decord" not in _decoders():
    with pytest.raises(ValueError, match="--decoder decord"):
      check_videos.main([cfg, "--decoder", "decord", "--output-file", out])
  with pytest.raises(SystemExit):
    check_videos.parse_args([cfg, f"--config={cfg}"])
  bad = check_videos.main([f"{cfg}:elsewhere", "--output-file", out, "--num-processes", "1"])
  assert len(bad) == 6 and all(p.startswith("/nonexistent/") for p in bad)
  empty = tmp_path / "none.txt"
  good = check_videos.main([cfg, "--output-file", str(empty), "--num-processes", "1",
                            "--cfg-options", f"data.train.ann_file={tmp_path / 'good.txt'}"])
  assert good == {} and empty.read_text() == ""


def _crash_on_three(task):
  if task == 3:
    os._exit(1)  # What a decoder segfault does to its worker.
  return task * 10


def test_a_crashing_worker_is_reported_not_waited_on():
  got = list(check_videos.run_in_processes(_crash_on_three, list(range(6)), workers=2))
  assert sorted(r for r in got if isinstance(r, int)) == [0, 10, 20, 40, 50]
  assert check_videos.CrashedTask(3) in got and len(got) == 6
