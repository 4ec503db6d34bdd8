"""CBFocalLoss (MMAction2's class-balanced focal loss for BABEL) equals MMAction2 0.24.1's on
random scores (tests/golden/cbfocal from tests/reference/make_golden_cbfocal.py)."""

from __future__ import annotations

import json
import os

import jax.numpy as jnp
import numpy as np
import pytest

from vjax.models.losses import loss_fn

GOLDEN = os.path.join(os.path.dirname(__file__), "..", "golden", "cbfocal", "cases.json")


@pytest.fixture(scope="module")
def golden():
  with open(GOLDEN) as f:
    return json.load(f)


def test_cb_focal_loss_matches_mmaction2(golden):
  scores, labels = jnp.asarray(golden["scores"]), jnp.asarray(golden["labels"])
  for case, want in zip(golden["cases"], golden["losses"]):
    fn, kwargs = loss_fn(dict(case, type="CBFocalLoss"))
    got = float(fn(scores, labels, num_classes=5, **kwargs))
    np.testing.assert_allclose(got, want, rtol=1e-5, err_msg=str(case))


def test_cb_focal_loss_ignores_padding_rows(golden):
  scores, labels = jnp.asarray(golden["scores"]), jnp.asarray(golden["labels"])
  fn, kwargs = loss_fn(dict(golden["cases"][0], type="CBFocalLoss"))
  full = fn(scores[:4], labels[:4], num_classes=5, **kwargs)
  padded = fn(scores, labels, num_classes=5, weights=jnp.array([1, 1, 1, 1, 0, 0]), **kwargs)
  np.testing.assert_allclose(float(padded), float(full), rtol=1e-6)
