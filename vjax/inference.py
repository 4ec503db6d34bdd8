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

import copy
import os
import re
import string
import types
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from vjax.convert.mmaction2_checkpoint import Report, convert_state_dict, load_state_dict
from vjax.convert.mmaction2_config import load_any_config
from vjax.data import Compose
from vjax.models import build_model
from vjax.models.recognizers import Recognizer3D
from vjax.registry import to_dict
from vjax.train.step import normalize

# The stand-in video that shapes the model's sample input: pipelines only read the sampled
# frames, so a broadcast zero frame costs nothing however long it claims to be.
_SAMPLE_VIDEO = (300, 256, 340, 3)


def _plain(v):
  """ConfigDicts and dicts -> fresh dicts, lists stay lists (pipelines are edited in place)."""
  if hasattr(v, "to_dict"):
    v = v.to_dict()
  if isinstance(v, dict):
    return {k: _plain(x) for k, x in v.items()}
  if isinstance(v, (list, tuple)):
    return [_plain(x) for x in v]
  return copy.deepcopy(v)


def _split(config, names=("test",)) -> dict:
  for name in names:
    if name in config.data and config.data[name]:
      return _plain(config.data[name])
  raise KeyError(f"the config has no data.{' or data.'.join(names)} with a pipeline")


def _frame_pattern(tmpl: str, modality: str) -> re.Pattern:
  """Regex for the frame files of ``filename_tmpl`` (Flow counts the ``x`` frames)."""
  out, fields = "", 0
  for literal, field, _, _ in string.Formatter().parse(tmpl):
    out += re.escape(literal)
    if field is not None:
      fields += 1
      out += "x" if modality == "Flow" and fields == 1 else r"\d+"
  return re.compile(f"^{out}$")


def _is(op, kind: str) -> bool:
  return kind in op["type"]


def pipeline_inputs(config, video, split: dict | None = None):
  """(results dict, pipeline op list) for ``video``, MMAction2's inference API conventions."""
  split = _split(config) if split is None else split
  ops = split.get("pipeline") or []
  if isinstance(video, dict):
    return dict(video), ops
  if isinstance(video, np.ndarray):
    if video.ndim != 4 or video.shape[-1] not in (2, 3):
      raise ValueError(f"a video array must be (T, H, W, 3) RGB or (T, H, W, 2) Flow, got "
                       f"{video.shape}")
    data = dict(total_frames=len(video), label=-1, start_index=0, array=video,
                modality="Flow" if video.shape[-1] == 2 else "RGB")
    ops = [dict(type="ArrayDecode") if _is(op, "Decode") else op for op in ops
           if not _is(op, "Init")]
    return data, ops
  path = os.fspath(video)
  if os.path.isdir(path):
    tmpl = split.get("filename_tmpl", "img_{:05}.jpg")
    modality = split.get("modality", "RGB")
    pattern = _frame_pattern(tmpl, modality)
    data = dict(frame_dir=path, total_frames=sum(bool(pattern.match(f)) for f in os.listdir(path)),
                label=-1, start_index=split.get("start_index", 1), filename_tmpl=tmpl,
                modality=modality)
    if ops and _is(ops[0], "Init"):
      ops = ops[1:]
    return data, [dict(type="RawFrameDecode") if _is(op, "Decode") else op for op in ops]
  if os.path.isfile(path) or path.startswith(("http://", "https://")):
    data = dict(filename=path, label=-1, start_index=0, modality="RGB")
    ops = [dict(type="OpenCVInit")] + (ops[1:] if ops and _is(ops[0], "Init") else ops)
    return data, [dict(type="OpenCVDecode") if _is(op, "Decode") else op for op in ops]
  raise FileNotFoundError(f"video {path!r} is neither a file nor a frame directory")


def pipeline_imgs(config, video, split: dict | None = None) -> np.ndarray:
  """The model input for one video (views first, channels-last), before normalisation."""
  data, ops = pipeline_inputs(config, video, split)
  results = Compose(ops)(data, np.random.default_rng(0))
  return np.asarray(results["imgs"])


def sample_input_shape(config) -> tuple[int, ...]:
  """Shape of a batch of one video as the val (else test) pipeline makes it: shapes the init."""
  split = _split(config, ("val", "test"))
  zeros = np.broadcast_to(np.zeros((1,) + _SAMPLE_VIDEO[1:], np.uint8), _SAMPLE_VIDEO)
  return (1,) + pipeline_imgs(config, zeros, split).shape


class Recognizer:
  """A built model with its variables; ``forward`` is MMAction2's ``forward_dummy``.

  Attributes: ``config`` (ConfigDict), ``model`` (the Flax recognizer), ``variables``
  (``{'params', 'batch_stats'}``), ``report`` (what a checkpoint import skipped).
  """

  def __init__(self, config, model, variables, report: Report | None = None):
    self.config, self.model, self.variables = config, model, variables
    self.report = report or Report()
    self.is_3d = isinstance(model, Recognizer3D)
    norm = config.data.get("img_norm_cfg")
    norm = to_dict(norm) if norm else None

    def forward(v, x):
      scores = model.apply(v, x[:, None] if self.is_3d else x, train=False)
      return scores.reshape(-1, scores.shape[-1])

    def predict(v, imgs):
      return model.test_scores(model.apply(v, normalize(imgs, norm), train=False))

    self._forward = jax.jit(forward)
    self._predict = jax.jit(predict)

  def forward(self, x):
    """Normalised float input -> per-view scores (rows = videos x views, before averaging).

    ``x``: (N, S, H, W, C) frames for 2D recognizers, (N, T, H, W, C) clips for 3D ones.
    """
    return self._forward(self.variables, jnp.asarray(x, jnp.float32))

  def predict(self, imgs):
    """(N, views..., H, W, C) pipeline output (uint8) -> (N, num_classes) test-time scores."""
    return self._predict(self.variables, jnp.asarray(imgs))


def _init_fn(model, shape, seed: int):
  def init():
    key = jax.random.key(seed)
    return model.init({"params": key, "dropout": key}, jnp.zeros(shape, jnp.float32), train=False)
  return init


def _vjax_checkpoint(path: str, abstract) -> dict:
  from vjax.train.checkpoint import load_params  # pylint: disable=g-import-not-at-top
  device = jax.sharding.SingleDeviceSharding(jax.devices()[0])

  def place(tree):
    return jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=device), tree)

  target = types.SimpleNamespace(params=place(abstract["params"]),
                                 batch_stats=place(abstract.get("batch_stats", {})))
  params, batch_stats = load_params(path, target)
  return {"params": params, "batch_stats": batch_stats}


def init_recognizer(config, checkpoint: str | None = None, *, strict: bool = True,
                    allow_pickle: bool = False, input_shape: tuple[int, ...] | None = None,
                    ) -> Recognizer:
  """Builds the config's recognizer with the checkpoint's weights (random ones without).

  ``strict=False`` keeps the initial values of variables the checkpoint does not fill and
  lists what it skipped in ``.report``. ``input_shape`` (a batch of one, as the model takes
  it) overrides the shape derived from the config's val/test pipeline for initialisation.
  """
  config = load_any_config(config)
  model = build_model(config.model)
  shape = tuple(input_shape) if input_shape else sample_input_shape(config)
  init = _init_fn(model, shape, config.get("seed", 0))
  report = Report()
  if checkpoint is None:
    variables = nn.unbox(jax.jit(init)())
  else:
    abstract = nn.unbox(jax.eval_shape(init))
    if os.path.isdir(checkpoint):
      variables = _vjax_checkpoint(checkpoint, abstract)
    else:
      state = load_state_dict(checkpoint, allow_pickle=allow_pickle)
      variables, report = convert_state_dict(state, abstract, strict=strict)
      if report.missing or report.mismatched:
        initial = nn.unbox(jax.jit(init)())
        variables = jax.tree.map(
            lambda v, i: i if isinstance(v, jax.ShapeDtypeStruct) else v, variables, initial)
      variables = jax.tree.map(jnp.asarray, variables)
  return Recognizer(config, model, dict(variables), report)


def inference_recognizer(model: Recognizer, video: Any) -> list[tuple[int, float]]:
  """Top-5 (label, score) of one video: a file, a rawframe folder, a (T, H, W, C) uint8
  array or a pipeline results dict, through the config's test pipeline."""
  imgs = pipeline_imgs(model.config, video)
  scores = np.asarray(model.predict(imgs[None]))[0]
  order = np.argsort(-scores, kind="stable")[:5]
  return [(int(i), float(scores[i])) for i in order]
