"""The model goldens written by tests/reference/make_golden_models.py, as the tests read them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tests.reference import golden_weights
from vjax.convert.mmaction2_checkpoint import load_state_dict
from vjax.convert.mmaction2_config import convert

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "models"
META = json.loads((GOLDEN / "meta.json").read_text())
CASES = {c["name"]: c for c in json.loads((GOLDEN / "cases.json").read_text())}
IO = dict(np.load(GOLDEN / "io.npz"))


def vjax_model_cfg(case) -> dict:
  """The case's MMAction2 model dict as vjax builds it."""
  return dict(convert(dict(model=case["model"])).fields)["model"]


def state_dict(case) -> dict[str, np.ndarray]:
  """The case's MMAction2 state dict: read from its .npz, or redrawn and checksummed."""
  if case["stored"]:
    return load_state_dict(str(GOLDEN / f"{case['name']}.state.npz"))
  state, drift = {}, []
  for key, shape, expected in case["tensors"]:
    state[key] = golden_weights.tensor(META["seed"], key, shape)
    if not np.allclose(golden_weights.checksum(state[key]), expected, rtol=1e-9, atol=1e-9):
      drift.append(key)
  assert not drift, f"golden_weights no longer draws what the reference venv drew: {drift[:5]}"
  return state


def channels_first_input(case) -> np.ndarray:
  """The input MMAction2 ran on: (N, S, C, H, W) for 2D, (N, V, C, T, H, W) for 3D."""
  name = case["name"]
  if case["stored"]:
    return IO[f"{name}/input"]
  x = golden_weights.inputs(META["seed"], name, case["input_shape"])
  assert np.allclose(golden_weights.checksum(x), case["input_checksum"], rtol=1e-9)
  return x


def channels_last(x: np.ndarray) -> np.ndarray:
  """MMAction2's channel axis (2) moved last: vjax's layout for the same batch."""
  return np.moveaxis(x, 2, -1)


def output(case) -> np.ndarray:
  return IO[f"{case['name']}/output"]
