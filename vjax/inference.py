"""MMAction2's inference API: ``init_recognizer`` and ``inference_recognizer``.

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

__all__ = ["Recognizer", "inference_recognizer", "init_recognizer", "pipeline_imgs",
           "pipeline_inputs", "pipeline_results"]


def pipeline_imgs(config, video, split: dict | None = None) -> np.ndarray:
  """The model input for one video (views first, channels-last), before normalisation."""
  results = pipeline_results(config, video, split)
  key = "audios" if "audios" in results and "imgs" not in results else "imgs"
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
  array or a pipeline results dict, through the config's test pipeline."""
  imgs = pipeline_imgs(model.config, video)
  scores = np.asarray(model.predict(imgs[None]))[0]
  order = np.argsort(-scores, kind="stable")[:5]
  return [(int(i), float(scores[i])) for i in order]
