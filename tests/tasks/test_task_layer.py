"""The task seam, shown with a family recognition does not have: clips with a variable number
of boxes, padded to a fixed maximum by ``PadTo`` with a mask, trained by the generic step with
two named loss terms and evaluated exactly once on the 8-device mesh by a host evaluator that
drops the padding. Also the loader's batch contract (Collect decides the keys; host fields
stay off the device) and task inference from the config."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from tests.models import tiny
from vjax import tasks
from vjax.config import default_config
from vjax.data import loader as data_loader
from vjax.data import sources
from vjax.data.pipeline import Compose
from vjax.tasks.base import Task, sample_weights, zeros_like_sample
from vjax.train import mesh as mesh_lib
from vjax.train import step as step_lib
from vjax.train.loop import Experiment

MAX_BOXES = 4
SIZE = 13  # a ragged last global batch of 8


def boxes_of(index: int) -> np.ndarray:
  """Sample ``index`` has ``index % 4`` boxes (0 to 3): (n, 4) float32."""
  rng = np.random.default_rng([3, index])
  return rng.random((index % 4, 4), dtype=np.float32)


class ToyBoxes:
  """A clip (8x8 RGB) with a variable number of boxes; the label counts them."""

  def __init__(self, size=SIZE):
    self.size = size

  def __len__(self):
    return self.size

  def __getitem__(self, index):
    rng = np.random.default_rng([4, index])
    return dict(imgs=rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), gt_bboxes=boxes_of(index),
                video_id=f"clip{index}")

  def describe(self, index):
    return f"toy clip {index}"


PIPELINE = [dict(type="PadTo", sizes=dict(gt_bboxes=MAX_BOXES)),
            dict(type="Collect", keys=["imgs", "gt_bboxes", "gt_bboxes_mask", "video_id"],
                 meta_keys=[])]


class BoxScorer(nn.Module):
  """Scores MAX_BOXES box slots of a clip from its pixels and the boxes themselves."""

  @nn.compact
  def __call__(self, imgs, boxes, train: bool = False):
    pooled = imgs.mean(axis=(1, 2))  # (N, 3)
    feat = jnp.concatenate([jnp.repeat(pooled[:, None], boxes.shape[1], 1), boxes], -1)
    return nn.Dense(1, name="score")(feat)[..., 0]  # (N, MAX_BOXES)


class BoxTask(Task):
  """Per-box scores; loss terms ``loss_box`` (masked regression of the box area) and
  ``loss_reg`` (a weight penalty), both logged."""

  name = "toy_boxes"
  metrics = ("box_count",)

  @classmethod
  def accepts(cls, model_cfg):
    return model_cfg.get("type") == "BoxScorer"

  def build_model(self, *, norm_groups=None, dtype=jnp.float32):
    return BoxScorer()

  @property
  def input_keys(self):
    return ("imgs", "gt_bboxes")

  def init_inputs(self, sample=None):
    return zeros_like_sample(sample, self.input_keys)

  def preprocess(self, batch):
    return dict(batch, imgs=batch["imgs"].astype(jnp.float32) / 255)

  def loss(self, model, variables, batch, key):
    b = self.preprocess(batch)
    scores = model.apply(variables, b["imgs"], b["gt_bboxes"])
    area = (b["gt_bboxes"][..., 2] * b["gt_bboxes"][..., 3])
    mask = b["gt_bboxes_mask"] & sample_weights(batch, scores.shape[0])[:, None]
    err = jnp.where(mask, (scores - area)**2, 0.0)
    terms = {"loss_box": err.sum() / jnp.maximum(mask.sum(), 1),
             "loss_reg": 1e-3 * sum((p**2).sum() for p in jax.tree.leaves(variables["params"]))}
    return terms["loss_box"] + terms["loss_reg"], terms, variables.get("batch_stats", {})

  def predictors(self):
    def predict(model, variables, batch):
      b = self.preprocess(batch)
      return {"box_scores": model.apply(variables, b["imgs"], b["gt_bboxes"])}
    return {"predict": predict}

  def evaluators(self, metrics, options=None):
    return [BoxCount()]


class BoxCount:
  """Host evaluator: unpads with the box mask; counts boxes and records each clip's scores."""

  predictor = "predict"

  def __call__(self, predictions, targets, source):
    mask = targets["gt_bboxes_mask"]
    self.per_clip = [predictions["box_scores"][i][mask[i]] for i in range(len(mask))]
    return {"num_boxes": int(mask.sum()), "num_clips": len(mask)}


@pytest.fixture(scope="module")
def box_experiment():
  tasks.TASKS.setdefault(BoxTask.name, BoxTask)
  if "ToyBoxes" not in sources.DATASETS:
    sources.DATASETS.register(ToyBoxes)
  c = default_config()
  c.model = dict(type="BoxScorer")
  c.data.val = dict(type="ToyBoxes", pipeline=PIPELINE)
  c.data.videos_per_device = 1
  c.data.workers = 0
  c.evaluation.metrics = ["box_count"]
  exp = Experiment(c, workdir="")
  exp.mesh = mesh_lib.make_mesh(c.mesh, jax.devices()[:8])
  exp.dp = mesh_lib.data_parallel_size(exp.mesh)
  exp.train_batch = 8
  source, pipeline = exp.source("val")
  state, shardings = exp.init_state(optax.sgd(0.1), exp.sample_input(source, pipeline))
  return exp, state, shardings


def test_task_is_inferred_from_the_model_type(box_experiment):
  exp, _, _ = box_experiment
  assert isinstance(exp.task, BoxTask)
  c = default_config()
  c.model = tiny.tsn()
  assert type(tasks.build_task(c)).__name__ == "Recognition"
  c.model = dict(tiny.tsn(), cls_head=dict(tiny.tsn()["cls_head"], multi_class=True,
                                           loss_cls=dict(type="BCELossWithLogits")))
  assert tasks.build_task(c).name == "multilabel"
  c.task = "recognition"  # an explicit task wins
  assert tasks.build_task(c).name == "recognition"
  c.task = "detection_typo"
  with pytest.raises(KeyError, match="config.task='detection_typo'"):
    tasks.build_task(c)
  c.task, c.model = "", dict(type="SomethingElse")
  with pytest.raises(ValueError, match="no task serves model type 'SomethingElse'"):
    tasks.build_task(c)


def test_padded_boxes_evaluate_exactly_once_on_eight_devices(box_experiment):
  exp, state, shardings = box_experiment
  evaluator = BoxCount()
  with exp.mesh:
    results = exp.evaluate(state, shardings, "val", [evaluator])
  # Hand count: clip i has i % 4 boxes, i = 0..12 -> 3 * (0+1+2+3) + 0 = 18.
  assert results == {"num_boxes": 18, "num_clips": SIZE}
  # Each clip's unpadded scores are its own: recompute clip by clip without the loader.
  model = exp.model
  variables = {"params": state.params}
  for i in range(SIZE):
    sample = Compose(PIPELINE)(ToyBoxes()[i])
    want = model.apply(variables, jnp.asarray(sample["imgs"], jnp.float32)[None] / 255,
                       jnp.asarray(sample["gt_bboxes"])[None])[0][:i % 4]
    np.testing.assert_allclose(evaluator.per_clip[i], want, rtol=1e-5, atol=1e-6)


def test_generic_step_trains_and_logs_every_term(box_experiment):
  exp, state, shardings = box_experiment
  tx = optax.sgd(0.1)
  step = jax.jit(step_lib.make_train_step(exp.task, exp.model, tx, lambda s: 0.1),
                 in_shardings=(shardings, mesh_lib.batch_sharding(exp.mesh)),
                 out_shardings=(shardings, mesh_lib.replicated(exp.mesh)))
  it = data_loader.make_train_iterator(ToyBoxes(), PIPELINE, global_batch_size=8, seed=0)
  batch = next(it)
  assert set(batch) == {"imgs", "gt_bboxes", "gt_bboxes_mask", "video_id"}
  device, host = data_loader.split_host_fields(batch)
  assert set(host) == {"video_id"} and batch["gt_bboxes"].shape == (8, MAX_BOXES, 4)
  gb = mesh_lib.global_batch(exp.mesh, device)
  losses = []
  with exp.mesh:
    for _ in range(5):
      state, metrics = step(state, gb)
      losses.append(float(metrics["loss_box"]))
  assert {"loss", "loss_box", "loss_reg", "grad_norm", "lr"} <= set(metrics)
  np.testing.assert_allclose(metrics["loss"], metrics["loss_box"] + metrics["loss_reg"],
                             rtol=1e-6)
  assert losses[-1] < losses[0], losses


def test_pad_to_pads_masks_and_refuses_overflow():
  op = Compose([dict(type="PadTo", sizes=dict(gt_bboxes=3, gt_labels=3),
                     mask_keys=dict(gt_bboxes="gt_mask", gt_labels="gt_mask"), pad_value=-1)])
  out = op(dict(gt_bboxes=np.ones((2, 4), np.float32), gt_labels=np.array([5, 6])))
  np.testing.assert_array_equal(out["gt_labels"], [5, 6, -1])
  np.testing.assert_array_equal(out["gt_bboxes"][2], [-1, -1, -1, -1])
  np.testing.assert_array_equal(out["gt_mask"], [True, True, False])
  assert "gt_bboxes_mask" not in out
  with pytest.raises(ValueError, match=r"'gt_bboxes' has 4 rows, more than its maximum 3"):
    op(dict(gt_bboxes=np.ones((4, 4)), gt_labels=np.arange(4)))
  cut = Compose([dict(type="PadTo", sizes=dict(x=2), truncate=True)])(dict(x=np.arange(5)))
  np.testing.assert_array_equal(cut["x"], [0, 1])
  np.testing.assert_array_equal(cut["x_mask"], [True, True])


def test_unpadded_variable_fields_are_refused_with_the_fix():
  it = data_loader.make_train_iterator(
      ToyBoxes(), [dict(type="Collect", keys=["imgs", "gt_bboxes"], meta_keys=[])],
      global_batch_size=4, seed=0)
  with pytest.raises(ValueError, match="gt_bboxes.*PadTo"):
    next(it)


def test_loader_reserves_its_own_keys():
  it = data_loader.make_eval_iterator(
      ToyBoxes(), [dict(type="Rename", mapping=dict(video_id="valid")), *PIPELINE[:1]],
      global_batch_size=4)
  with pytest.raises(data_loader.SampleError, match="'valid'.*loader adds itself"):
    next(it)


def test_multilabel_task_config_reading():
  cfg = ml_collections.ConfigDict(dict(
      model=dict(type="Recognizer2D", backbone=dict(type="ResNet", depth=18),
                 cls_head=dict(type="TSNHead", num_classes=4, in_channels=512,
                               loss_cls=dict(type="BCELossWithLogits"), multi_class=True),
                 test_cfg=dict(average_clips="score")),
      data=dict(img_norm_cfg=None, videos_per_device=2)))
  task = tasks.build_task(cfg)
  assert task.name == "multilabel" and task.input_keys == ("imgs",)
  with pytest.raises(KeyError, match="top_k_accuracy.*not supported by the multilabel task"):
    task.evaluators(["top_k_accuracy"])
  scores = jnp.array([[[2.0, -1.0, 0.5, -3.0]]])
  labels = jnp.array([[1.0, 0.0, 1.0, 0.0]])
  terms = task.loss_terms({"cls_score": scores}, labels, jnp.ones(1, bool), {})
  expected = np.mean(np.log1p(np.exp(-np.array([2.0, 1.0, 0.5, 3.0]))))  # hand BCE
  np.testing.assert_allclose(terms["loss_cls"], expected, rtol=1e-6)
  assert task.batch_metrics(scores, labels, jnp.ones(1)) == {}
