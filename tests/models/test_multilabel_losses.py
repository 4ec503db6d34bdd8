"""Multi-label losses against MMAction2 0.24.1: HVULoss and BCELossWithLogits (through a
multi_class head), goldens from tests/reference/make_golden_hvu.py."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vjax.models import losses
from vjax.models.losses import LOSSES, hvu_loss, hvu_loss_terms

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "hvu"
RTOL = 1e-6


@pytest.fixture(scope="module")
def golden():
  cases = json.loads((GOLDEN / "cases.json").read_text())
  with np.load(GOLDEN / "arrays.npz") as z:
    arrays = {k: z[k] for k in z.files}
  return cases, arrays


def _batch(arrays, name):
  return {k: arrays[f"loss/{name}/{k}"] for k in ("scores", "label", "mask", "category_mask")}


def _head_loss():
  """The function the models use to turn a head config into its loss."""
  try:
    from vjax.models.heads.base import cls_loss  # pylint: disable=g-import-not-at-top
    return cls_loss
  except ImportError:
    return losses.head_loss


def _loss_kwargs(loss_cls):
  kwargs = dict(loss_cls)
  kwargs.pop("type")
  return kwargs


def test_hvu_loss_matches_mmaction2(golden):
  cases, arrays = golden
  assert len(cases["hvu_loss"]) == 26
  worst = 0.0
  for case in cases["hvu_loss"]:
    b = _batch(arrays, case["batch"])
    out = hvu_loss_terms(b["scores"], b["label"], mask=b["mask"],
                         category_mask=b["category_mask"], num_classes=b["scores"].shape[1],
                         label_smooth_eps=case["label_smooth_eps"],
                         **_loss_kwargs(case["loss_cls"]))
    out = jax.device_get(out)
    assert set(out) == set(case["expected"]), case
    for key, want in case["expected"].items():
      got = float(out[key])
      np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-7, err_msg=f"{key}: {case}")
      if want:
        worst = max(worst, abs(got - want) / abs(want))
  print(f"HVULoss worst relative difference: {worst:.2e}")


def test_hvu_loss_through_the_head_config(golden):
  """A head config with ``loss_cls=dict(type='HVULoss', ...)`` and the batch's mask fields."""
  cases, arrays = golden
  cls_loss = _head_loss()
  for case in cases["hvu_loss"]:
    b = _batch(arrays, case["batch"])
    head_cfg = dict(num_classes=b["scores"].shape[1], multi_class=True,
                    label_smooth_eps=case["label_smooth_eps"], loss_cls=case["loss_cls"])
    got = cls_loss(head_cfg, jnp.asarray(b["scores"]), jnp.asarray(b["label"]),
                   mask=jnp.asarray(b["mask"]), category_mask=jnp.asarray(b["category_mask"]))
    np.testing.assert_allclose(float(got), case["expected"]["loss_cls"], rtol=RTOL, atol=1e-7,
                               err_msg=str(case))
  assert LOSSES["HVULoss"] is hvu_loss


def test_bce_multi_class_head_matches_mmaction2(golden):
  cases, arrays = golden
  cls_loss = _head_loss()
  scores, labels = jnp.asarray(arrays["bce/scores"]), jnp.asarray(arrays["bce/labels"])
  for case in cases["bce"]:
    head_cfg = dict(num_classes=case["num_classes"], multi_class=True,
                    label_smooth_eps=case["label_smooth_eps"], loss_cls=case["loss_cls"])
    got = float(cls_loss(head_cfg, scores, labels))
    np.testing.assert_allclose(got, case["expected"]["loss_cls"], rtol=RTOL, err_msg=str(case))


def test_padded_samples_change_nothing(golden):
  """Rows with weight 0 (the loader's padding) leave every HVULoss variant unchanged."""
  cases, arrays = golden
  b = _batch(arrays, "mixed")
  rng = np.random.default_rng(0)
  pad = 5
  padded = {k: np.concatenate([v, rng.random((pad,) + v.shape[1:]).astype(np.float32)])
            for k, v in b.items()}
  weights = np.r_[np.ones(len(b["scores"])), np.zeros(pad)].astype(np.float32)
  for case in cases["hvu_loss"]:
    if case["batch"] != "mixed":
      continue
    kw = dict(num_classes=30, label_smooth_eps=case["label_smooth_eps"],
              **_loss_kwargs(case["loss_cls"]))
    want = hvu_loss_terms(b["scores"], b["label"], mask=b["mask"],
                          category_mask=b["category_mask"], **kw)
    got = hvu_loss_terms(padded["scores"], padded["label"], mask=padded["mask"],
                         category_mask=padded["category_mask"], weights=weights, **kw)
    for key in want:
      np.testing.assert_allclose(float(got[key]), float(want[key]), rtol=2e-6, atol=1e-7,
                                 err_msg=f"{key}: {case}")


def test_jit_grad_and_samples_without_annotations():
  """Jitted, differentiable, finite where MMAction2 would divide by zero: a category absent
  from the whole batch (individual) and a sample with no annotated category (all)."""
  categories, nums = ("attribute", "object", "scene"), (3, 4, 2)
  rng = np.random.default_rng(1)
  scores = rng.standard_normal((4, 9)).astype(np.float32)
  category_mask = np.array([[1, 1, 0], [1, 0, 0], [0, 0, 0], [0, 1, 0]], np.float32)
  mask = np.repeat(category_mask, nums, axis=1)
  labels = (rng.random((4, 9)) < 0.3).astype(np.float32) * mask
  common = dict(categories=categories, category_nums=nums, with_mask=True)

  for loss_type in ("all", "individual"):
    fn = jax.jit(lambda s, loss_type=loss_type: hvu_loss(
        s, labels, mask=mask, category_mask=category_mask, loss_type=loss_type, **common))
    value, grad = jax.value_and_grad(fn)(jnp.asarray(scores))
    assert np.isfinite(float(value)) and np.all(np.isfinite(np.asarray(grad)))
    assert np.all(np.asarray(grad)[2] == 0)  # The unannotated sample adds nothing.
  # 'all': the mean over the three annotated samples only.
  kept = hvu_loss(scores[[0, 1, 3]], labels[[0, 1, 3]], mask=mask[[0, 1, 3]],
                  loss_type="all", **common)
  both = hvu_loss(scores, labels, mask=mask, loss_type="all", **common)
  np.testing.assert_allclose(float(both), float(kept), rtol=1e-6)
  # 'individual': 'scene' is in no sample, so attribute and object share the weight.
  terms = hvu_loss_terms(scores, labels, mask=mask, category_mask=category_mask,
                         loss_type="individual", **common)
  assert float(terms["scene_LOSS"]) == 0 and float(terms["scene_LOSS_weight"]) == 0
  np.testing.assert_allclose(float(terms["attribute_LOSS_weight"]), 0.5)


def test_argument_errors():
  s = np.zeros((2, 5), np.float32)
  with pytest.raises(ValueError, match="needs the batch's 'mask'"):
    hvu_loss(s, s, categories=("a", "b"), category_nums=(2, 3), category_loss_weights=(1, 1),
             with_mask=True)
  with pytest.raises(ValueError, match="category_mask"):
    hvu_loss(s, s, categories=("a", "b"), category_nums=(2, 3), category_loss_weights=(1, 1),
             loss_type="individual", with_mask=True)
  with pytest.raises(ValueError, match="sum to 4 tags but scores have 5"):
    hvu_loss(s, s, categories=("a", "b"), category_nums=(2, 2), category_loss_weights=(1, 1),
             loss_type="individual")
  with pytest.raises(ValueError, match="same length"):
    hvu_loss(s, s, categories=("a", "b"), category_nums=(2, 3), category_loss_weights=(1,) * 6)
  with pytest.raises(ValueError, match="loss_type"):
    hvu_loss(s, s, categories=("a", "b"), category_nums=(2, 3), category_loss_weights=(1, 1),
             loss_type="each")
