"""vjax.data.safe_pickle: user pickles are read as plain data and cannot run code."""

from __future__ import annotations

import collections
import io
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from vjax.data import safe_pickle
from vjax.tools.report_accuracy import load_scores

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "pose"


class _RunsCommand:
  """Unpickling this with pickle.load would run ``command`` through os.system."""

  def __init__(self, command: str):
    self.command = command

  def __reduce__(self):
    return (os.system, (self.command,))


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_a_pickle_that_would_run_a_command_is_refused(tmp_path, protocol):
  marker = tmp_path / "ran"
  data = pickle.dumps({"keypoint": np.zeros(3), "x": [_RunsCommand(f"touch {marker}")]},
                      protocol=protocol)
  path = tmp_path / "ann.pkl"
  path.write_bytes(data)
  with pytest.raises(pickle.UnpicklingError) as err:
    safe_pickle.load(path)
  message = str(err.value)
  assert message.startswith(f"{path}: refusing to load 'posix.system'")
  assert "could run arbitrary code" in message and "numpy arrays" in message
  with pytest.raises(pickle.UnpicklingError, match=r"^<bytes>: refusing to load 'posix\.system'"):
    safe_pickle.loads(data)
  with open(path, "rb") as f, pytest.raises(pickle.UnpicklingError, match=str(path)):
    safe_pickle.load(f)
  assert not marker.exists()
  # The control: plain pickle runs it (so the refusal above is what kept it from running).
  pickle.loads(data)
  assert marker.exists()


@pytest.mark.parametrize("module, name", [("builtins", "eval"), ("builtins", "getattr"),
                                          ("collections", "Counter"), ("subprocess", "Popen"),
                                          ("numpy", "load"), ("numpy.testing", "Tester"),
                                          ("copyreg", "_reconstructor"),
                                          ("numpy.core.multiarray", "fromfile")])
def test_other_globals_are_refused_by_name(module, name):
  data = b"c" + module.encode() + b"\n" + name.encode() + b"\n."  # protocol 0 GLOBAL
  with pytest.raises(pickle.UnpicklingError, match=rf"x\.pkl: refusing to load "
                     rf"'{module}\.{name}'"):
    safe_pickle.loads(data, "x.pkl")


def test_codecs_encode_only_takes_text_encodings():
  data = pickle.dumps(b"\x00\xffabc", protocol=2)  # _codecs.encode(text, 'latin1')
  assert safe_pickle.loads(data) == b"\x00\xffabc"
  evil = data.replace(b"latin1", b"rot_13")
  with pytest.raises(pickle.UnpicklingError, match="only the text encodings"):
    safe_pickle.loads(evil)


_VALUES = {
    "f16": np.arange(6, dtype=np.float16).reshape(2, 3),
    "f32": np.linspace(-1, 1, 7, dtype=np.float32),
    "f64_fortran": np.asfortranarray(np.random.default_rng(0).normal(size=(3, 4))),
    "i16": np.array([-3, 0, 32767], np.int16),
    "u8": np.arange(250, 256, dtype=np.uint8),
    "bool": np.array([True, False]),
    "c64": np.array([1 + 2j], np.complex64),
    "str": np.array(["ab", "xyz"]),
    "record": np.zeros(2, dtype=[("a", "<f4"), ("b", ">i2")]),
    "object": np.array([1, "a", None], dtype=object),
    "empty": np.zeros((0, 5, 17, 2), np.float32),
    "scalars": [np.float32(1.5), np.int64(-2), np.bool_(True), 3, 4.5, 1j, None, "s", b"b"],
    "types": [np.float32, np.dtype("int16"), np.dtype([("x", "f8")])],
    "containers": (collections.OrderedDict(b=1, a=2), {1, 2}, frozenset({"x"}),
                   collections.defaultdict(list, {"k": [1]}), slice(1, 9, 2), range(3),
                   bytearray(b"xy")),
    "nested": {"a": [{"b": (np.ones(2),)}]},
}


def _assert_same(a, b):
  assert type(a) is type(b), (type(a), type(b))
  if isinstance(a, np.ndarray):
    assert a.dtype == b.dtype and a.shape == b.shape and a.flags.f_contiguous == (
        b.flags.f_contiguous)
    assert a.tolist() == b.tolist()
  elif isinstance(a, dict):
    assert list(a) == list(b)
    for k in a:
      _assert_same(a[k], b[k])
    if isinstance(a, collections.defaultdict):
      assert a.default_factory is b.default_factory
  elif isinstance(a, (list, tuple)):
    assert len(a) == len(b)
    for x, y in zip(a, b):
      _assert_same(x, y)
  else:
    assert a == b


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_arrays_and_containers_round_trip(protocol):
  _assert_same(safe_pickle.loads(pickle.dumps(_VALUES, protocol=protocol)), _VALUES)


def test_mmaction2_pose_annotations_load():
  """poses.pkl was written by mmcv.dump under numpy 1.26 (protocol 2: numpy.core names,
  _codecs-encoded buffers), as MMAction2's released annotations are."""
  raw = (GOLDEN / "poses.pkl").read_bytes()
  assert b"numpy.core.multiarray" in raw and b"_codecs" in raw
  data = safe_pickle.load(GOLDEN / "poses.pkl")
  assert set(data) == {"split", "annotations"} and set(data["split"]) == {"train1", "test1"}
  first = data["annotations"][0]
  assert first["keypoint"].shape == (2, 37, 17, 2) and first["keypoint"].dtype == np.float32
  assert first["keypoint_score"].shape == (2, 37, 17) and first["img_shape"] == (480, 640)
  assert data["annotations"][1]["keypoint"].dtype == np.float16
  kinetics = safe_pickle.load(str(GOLDEN / "kinetics.pkl"))
  assert kinetics[0]["frame_inds"].dtype == np.int64 and "valid@0.5" in kinetics[0]
  rows = safe_pickle.load(GOLDEN / "kinetics" / "kin00.pkl")
  assert rows.ndim == 3 and rows.shape[1:] == (17, 3)


def test_corrupt_pickles_name_the_file(tmp_path):
  path = tmp_path / "cut.pkl"
  path.write_bytes(pickle.dumps(list(range(100)))[:-20])
  with pytest.raises(pickle.UnpicklingError, match=rf"{path}: not a readable pickle"):
    safe_pickle.load(path)
  with pytest.raises(pickle.UnpicklingError, match="not a readable pickle"):
    safe_pickle.load(io.BytesIO(b"not a pickle"))


def test_result_dumps_are_read_safely(tmp_path):
  scores = [np.array([0.1, 0.9], np.float32), np.array([0.7, 0.3], np.float32)]
  good = tmp_path / "results.pkl"
  good.write_bytes(pickle.dumps(scores))
  assert [s.tolist() for s in load_scores(good)] == [s.tolist() for s in scores]
  marker = tmp_path / "ran"
  bad = tmp_path / "evil.pkl"
  bad.write_bytes(pickle.dumps([_RunsCommand(f"touch {marker}")]))
  with pytest.raises(pickle.UnpicklingError, match="evil.pkl: refusing to load"):
    load_scores(bad)
  assert not marker.exists()
