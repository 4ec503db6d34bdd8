"""Every recognition config MMAction2 0.24.1 ships imports, builds and initialises through
``vjax.inference``'s loading path with no data present, and its predict function has the
shape a test run reports: (1, num_classes) scores, or (1, C) features for the
feature-extraction configs.

The configs come from the PyPI package (``pip install --no-deps mmaction2==0.24.1``, which
``make install`` runs): read as data, never imported as code. Shapes are traced with
``jax.eval_shape``, so no weights are allocated and nothing is compiled.
"""

from __future__ import annotations

import importlib.util
import os

import jax
import numpy as np
import pytest

from vjax.convert.mmaction2_config import load_any_config
from vjax.tasks import build_task


def _config_root() -> str | None:
  spec = importlib.util.find_spec("mmaction")
  if spec is None or not spec.submodule_search_locations:
    return None
  root = os.path.join(spec.submodule_search_locations[0], ".mim", "configs")
  return root if os.path.isdir(root) else None


ROOT = _config_root()
FAMILIES = ("recognition", "recognition_audio")


def shipped_configs() -> list[str]:
  if ROOT is None:
    return []
  found = []
  for family in FAMILIES:
    for dirpath, _, files in os.walk(os.path.join(ROOT, family)):
      if "_base_" in dirpath:
        continue
      found += [os.path.relpath(os.path.join(dirpath, f), ROOT) for f in files
                if f.endswith(".py")]
  return sorted(found)


# MMAction2's own file is broken: its FormatShape ops lack the required input_format, so
# MMAction2 cannot build its pipeline either. Every other shipped config must work.
BROKEN_UPSTREAM = {"recognition/tsn/tsn_r50_1x1x6_100e_mit_rgb.py"}
CONFIGS = shipped_configs()
needs_package = pytest.mark.skipif(
    ROOT is None, reason="mmaction2==0.24.1 (its config files) is not installed; `make install` "
                         "installs it with --no-deps")


@needs_package
def test_every_family_is_walked():
  assert len(CONFIGS) == 185, len(CONFIGS)
  for kind in ("flow", "audio_feature", "clip_feature_extraction", "custom_backbones",
               "_audio.py"):
    assert any(kind in c for c in CONFIGS), kind


def _init_and_predict(path: str):
  config = load_any_config(os.path.join(ROOT, path))
  task = build_task(config)
  model = task.build_model()
  inputs = task.init_inputs()  # stand-in inputs for the config's modality; no data is read
  key = jax.random.key(0)
  variables = jax.eval_shape(lambda: task.init_variables(model, {"params": key, "dropout": key},
                                                         inputs))
  variables = jax.tree.map(lambda x: getattr(x, "value", x), variables,
                           is_leaf=lambda x: hasattr(x, "value"))
  batch = dict(zip(task.input_keys, inputs))
  out = jax.eval_shape(lambda v: task.predict(model, v, batch), variables)
  return config, task, variables, out


@needs_package
@pytest.mark.parametrize("path", sorted(set(CONFIGS) - BROKEN_UPSTREAM))
def test_shipped_config_initialises(path):
  config, task, variables, out = _init_and_predict(path)
  num_params = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(variables["params"]))
  assert num_params > 10_000, num_params
  head = config.model.get("cls_head")
  if head is None:
    assert task.test_predictor() == "features"
    (features,) = out.values()
    assert features.shape[0] == 1 and features.ndim == 2
  else:
    assert out["scores"].shape == (1, head["num_classes"]), out["scores"].shape


@needs_package
@pytest.mark.parametrize("path", sorted(BROKEN_UPSTREAM))
def test_broken_upstream_config_names_the_problem(path):
  with pytest.raises(TypeError, match="FormatShape.*input_format"):
    _init_and_predict(path)
