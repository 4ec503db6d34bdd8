"""MMAction2's inference API: ``init_recognizer`` and ``inference_recognizer``, and
``init_localizer`` for temporal localizers (BMN, BSN's TEM and PEM).

    rec = init_recognizer("tsn_r50_1x1x3_100e_kinetics400_rgb.py", "tsn_r50.pth")
    inference_recognizer(rec, "demo.mp4")      # [(label, score), ...], the top 5

The config is a vjax config (``path.py[:arg]`` or a ConfigDict) or an MMAction2 config file;
the checkpoint an MMAction2 ``.pth``/``.npz``/``.safetensors`` (converted on the fly) or a
vjax checkpoint directory. Videos go through ``data.test.pipeline`` with the decoder swapped
as MMAction2's API swaps it (OpenCV for video files, ``RawFrameDecode`` for frame folders,
``ArrayDecode`` for arrays), then normalised on the device as in evaluation
(``data.img_norm_cfg``) and scored with the recognizer's test-time view averaging.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from vjax.convert.load import Loaded, load_model
from vjax.data.video_inputs import pipeline_inputs, pipeline_results
from vjax.models.recognizers import Recognizer3D

__all__ = ["Localizer", "Recognizer", "inference_recognizer", "init_localizer",
           "init_recognizer", "pipeline_imgs", "pipeline_inputs", "pipeline_results"]


def pipeline_imgs(config, video, split: dict | None = None) -> np.ndarray:
  """The model input for one video (views first, channels-last), before normalisation."""
  results = pipeline_results(config, video, split)
  key = next((k for k in ("imgs", "audios", "keypoint") if k in results), "imgs")
  return np.asarray(results[key])


class Recognizer:
  """A built recognizer with its variables.

  Attributes: ``config`` (ConfigDict), ``task`` (its ``vjax.tasks`` task), ``model`` (the Flax
  recognizer), ``variables`` (``{'params', 'batch_stats'}``), ``report`` (what a checkpoint
  import skipped). ``predict`` is the task's predict function, the one the trainer's test
  mode, the demos and export use.
  """

  def __init__(self, loaded: Loaded):
    self.config, self.task, self.model = loaded.config, loaded.task, loaded.model
    self.variables, self.report = loaded.variables, loaded.report
    model, task = self.model, self.task
    self.is_3d = isinstance(model, Recognizer3D)
    self.input_key = task.input_keys[0]

    def forward(v, x):
      out = model.apply(v, x[:, None] if self.is_3d else x, train=False)
      return out.reshape(-1, out.shape[-1])

    self._forward = jax.jit(forward)
    self._predict = jax.jit(lambda v, batch: task.predict(model, v, batch))

  def forward(self, x):
    """Normalised float input -> per-view scores (rows = videos x views, before averaging),
    MMAction2's ``forward_dummy``; a model without a head returns its pooled features.

    ``x``: (N, S, H, W, C) frames for 2D recognizers, (N, T, H, W, C) clips for 3D ones.
    """
    return self._forward(self.variables, jnp.asarray(x, jnp.float32))

  def predict(self, imgs):
    """(N, views..., H, W, C) pipeline output (uint8) -> (N, num_classes) test-time scores
    (pooled features for a model without a head)."""
    out = self._predict(self.variables, {self.input_key: jnp.asarray(imgs)})
    return out.get("scores", out.get("features"))


def init_recognizer(config, checkpoint: str | None = None, *, strict: bool = True,
                    allow_pickle: bool = False, input_shape: tuple[int, ...] | None = None,
                    ) -> Recognizer:
  """Builds the config's recognizer with the checkpoint's weights (random ones without).

  ``strict=False`` keeps the initial values of variables the checkpoint does not fill and
  lists what it skipped in ``.report``. ``input_shape`` (a batch of one, as the model takes
  it) overrides the shape the task derives from the config's val/test pipeline.
  """
  inputs = (np.zeros(input_shape, np.float32),) if input_shape else None
  return Recognizer(load_model(config, checkpoint, strict=strict, allow_pickle=allow_pickle,
                               inputs=inputs))


def inference_recognizer(model: Recognizer, video: Any) -> list[tuple[int, float]]:
  """Top-5 (label, score) of one video: a file, a rawframe folder, a (T, H, W, C) uint8
  array or a pipeline results dict (for skeleton models, a pose annotation dict as in
  MMAction2's pose ``.pkl``: ``keypoint`` (M, T, V, C), ``keypoint_score``, ``total_frames``,
  ``img_shape``), through the config's test pipeline."""
  imgs = pipeline_imgs(model.config, video)
  scores = np.asarray(model.predict(imgs[None]))[0]
  order = np.argsort(-scores, kind="stable")[:5]
  return [(int(i), float(scores[i])) for i in order]


class Localizer:
  """A built temporal localizer (BMN, BSN's TEM or PEM) with its variables; attributes as
  ``Recognizer``'s.

  ``forward(x)`` is the network on channels-last input: BMN and TEM take ``(N, T, C)``
  features, PEM ``(B, P, feat_dim)`` BSP features. ``predict(inputs, video_meta)`` is
  MMAction2's ``forward_test`` for one video.
  """

  def __init__(self, loaded: Loaded):
    self.config, self.task, self.model = loaded.config, loaded.task, loaded.model
    self.variables, self.report = loaded.variables, loaded.report
    model, task = self.model, self.task
    if not (hasattr(task, "video_result") or hasattr(task, "forward_test")):
      raise TypeError(f"{type(model).__name__} is not a temporal localizer: use "
                      "init_recognizer for recognition configs")
    self._forward = jax.jit(lambda v, x: model.apply(v, x, train=False))
    self._predict = jax.jit(lambda v, batch: task.predict(model, v, batch))
    self._forward_test = jax.jit(lambda v, inputs: task.forward_test(model, v, inputs)) if (
        hasattr(task, "forward_test")) else None

  def forward(self, x):
    """Raw network outputs, channels-last. BMN: ``(confidence_map (N, D, T, 2), start (N, T),
    end (N, T))``; TEM: ``(N, T, 3)`` (action, start, end); PEM: ``(B * P, 1)``; SSN (normalised
    ``(N, T, H, W, C)`` frames): per-frame activity, completeness and regression scores."""
    return self._forward(self.variables, jnp.asarray(x, jnp.float32))

  def predict(self, inputs: dict, video_meta: dict | None = None):
    """One video's test output, as MMAction2's ``forward_test`` returns it: BMN and PEM
    ``[{'video_name', 'proposal_list'}]`` (seconds, best first), TEM ``[(video_name, (T, 5)
    rows action, start, end, tmin, tmax)]``; SSN the dict of its proposals' activity,
    completeness and regression outputs (``SSNTask.forward_test``; no ``video_meta``).

    ``inputs``: the test pipeline's arrays for the video, unbatched and in its layout (BMN /
    TEM ``{'raw_feature': (C, T)}``; PEM ``{'bsp_feature': (P, 32), 'tmin', 'tmax',
    'tmin_score', 'tmax_score': (P,)}``); ``video_meta``: ``video_name`` and, for proposal
    lists, ``duration_second`` and ``duration_frame``.
    """
    if self._forward_test is not None:
      out = self._forward_test(self.variables, {k: jnp.asarray(v) for k, v in inputs.items()})
      return jax.tree.map(np.asarray, out)
    batch = {k: jnp.asarray(np.asarray(v)[None]) for k, v in inputs.items()}
    predictions = jax.device_get(self._predict(self.variables, batch))
    return [self.task.video_result(predictions, 0, video_meta)]


class ProposalGenerationModule:
  """BSN's proposal generation module (PGM), the stage between TEM and PEM that has no
  network: what a PGM config (``pgm_proposals_cfg``, ``pgm_features_{train,test}_cfg``) makes
  of one video's TEM output. ``vjax.tools.bsn_proposal_generation`` runs it over a dataset."""

  def __init__(self, config):
    self.config = config
    self.proposals_cfg = dict(config.pgm_proposals_cfg)
    self.proposals_cfg.pop("pgm_proposals_thread", None)

  def predict(self, tem_result, video_meta: dict, mode: str = "test") -> dict:
    """``tem_result``: ``(T, 5)`` TEM rows (``Localizer.predict`` of a TEM, or its CSV);
    ``video_meta``: ``duration_second``, ``duration_frame``, ``feature_frame`` and
    ``annotations`` (absent or ``[]`` for an unlabelled video: match columns 0). Returns ``{'proposals': (n, 7) rows
    tmin, tmax, tmin_score, tmax_score, score, match_iou, match_ioa (best first),
    'bsp_feature': (min(n, top_k), 32)}`` with ``mode``'s feature settings."""
    from vjax.localization import pgm  # pylint: disable=g-import-not-at-top
    features_cfg = dict(self.config[f"pgm_features_{mode}_cfg"])
    features_cfg.pop("pgm_features_thread", None)
    tem_result = np.asarray(tem_result, np.float32)
    proposals = pgm.candidate_proposals(
        tem_result, video_meta, match_ground_truth=bool(video_meta.get("annotations")),
        **self.proposals_cfg)
    features = pgm.bsp_features(tem_result, np.asarray(proposals, np.float32), **features_cfg)
    return {"proposals": proposals, "bsp_feature": features}


def init_localizer(config, checkpoint: str | None = None, *, strict: bool = True,
                   allow_pickle: bool = False, input_shape: tuple[int, ...] | None = None,
                   ) -> Localizer | ProposalGenerationModule:
  """Builds a localizer config's network (a vjax config, or an MMAction2 config file such as
  ``configs/localization/bmn/bmn_400x100_2x8_9e_activitynet_feature.py``) with the
  checkpoint's weights (an MMAction2 ``.pth`` or a vjax checkpoint; random ones without). A
  BSN PGM config, which has no network, gives its ``ProposalGenerationModule``.
  ``input_shape`` (a batch of one) overrides the input shape initialisation traces with
  (SSN's frames, by default the test pipeline's crop)."""
  from vjax.convert.mmaction2_config import load_any_config  # pylint: disable=g-import-not-at-top
  config = load_any_config(config)
  if not config.get("model") and config.get("pgm_proposals_cfg"):
    if checkpoint is not None:
      raise ValueError("a BSN PGM config has no network to load a checkpoint into")
    return ProposalGenerationModule(config)
  inputs = (np.zeros(input_shape, np.float32),) if input_shape else None
  return Localizer(load_model(config, checkpoint, strict=strict, allow_pickle=allow_pickle,
                              inputs=inputs))
