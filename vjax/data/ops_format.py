"""Formatting ops: final array layout and key selection.

``FormatShape`` keeps MMAction2's format names but produces channels-last arrays
(the layout XLA wants); the leading dimension orders views exactly as
MMAction2's does (crops, then clips, then frames):

=========  ======================================  =====================================
format     MMAction2                               vjax
=========  ======================================  =====================================
NCTHW      (crops*clips, C, T, H, W)               (crops*clips, T, H, W, C)
NCHW       (crops*clips*T, C, H, W)                (crops*clips*T, H, W, C)
NCHW_Flow  (crops*clips, T*C, H, W)                (crops*clips, H, W, T*C)  (t-major)
NPTCHW     (proposals, clips*T, C, H, W)           (proposals, clips*T, H, W, C)
=========  ======================================  =====================================

The dtype is unchanged: uint8 frames stay uint8 and are normalised on device (PoseC3D's
float32 heatmaps, ``(frames, H, W, K)`` from GeneratePoseTarget, stay float32).
``FormatGCNInput`` keeps MMAction2's skeleton layout ``(C, T, V, M)``.
"""

from __future__ import annotations

import numpy as np

from vjax.data.ops_base import PIPELINES, get_imgs

_DEFAULT_META_KEYS = ("filename", "label", "original_shape", "img_shape", "pad_shape",
                      "flip_direction", "img_norm_cfg")


@PIPELINES.register
class FormatShape:
  """Reshapes ``imgs`` to ``input_format`` (channels-last, see module doc); sets ``input_shape``."""

  def __init__(self, input_format, collapse=False):
    if input_format not in ("NCTHW", "NCHW", "NCHW_Flow", "NPTCHW"):
      raise ValueError(f"The input format {input_format} is invalid.")
    self.input_format = input_format
    self.collapse = collapse

  def __call__(self, results: dict, rng=None) -> dict:
    imgs = get_imgs(results)
    if self.collapse and results["num_clips"] != 1:
      raise ValueError(f"FormatShape(collapse=True) needs num_clips == 1, got "
                       f"{results['num_clips']}")
    frame_shape = imgs.shape[1:]
    if self.input_format == "NCTHW":
      imgs = imgs.reshape((-1, results["clip_len"]) + frame_shape)
    elif self.input_format == "NCHW_Flow":
      clip_len = results["clip_len"]
      h, w, c = frame_shape
      imgs = imgs.reshape(-1, clip_len, h, w, c).transpose(0, 2, 3, 1, 4)
      imgs = imgs.reshape(-1, h, w, clip_len * c)
    elif self.input_format == "NPTCHW":
      imgs = imgs.reshape(
          (results["num_proposals"], results["num_clips"] * results["clip_len"]) + frame_shape)
    if self.collapse:
      if imgs.shape[0] != 1:
        raise ValueError(f"FormatShape(collapse=True) needs one view, got {imgs.shape[0]}")
      imgs = imgs[0]
    results["imgs"] = imgs
    results["input_shape"] = imgs.shape
    return results

  def __repr__(self) -> str:
    return f"{type(self).__name__}(input_format={self.input_format!r}, collapse={self.collapse})"


@PIPELINES.register
class FormatGCNInput:
  """Skeletons as ST-GCN / 2s-AGCN input: ``keypoint`` ``(M, T, V, C)`` (with
  ``keypoint_score`` appended as one more channel when present) -> ``(C, T, V, num_person)``,
  MMAction2's own layout (the task moves it channels-last on device). Persons beyond
  ``num_person`` are dropped and missing ones are zeros, as in MMAction2: a zero person is
  how a clip with fewer people is marked, so every sample has the same shape."""

  def __init__(self, input_format="NCTVM", num_person=2):
    if input_format not in ("NCTVM",):
      raise ValueError(f"The input format {input_format} is invalid.")
    if int(num_person) < 1:
      raise ValueError(f"FormatGCNInput: num_person must be >= 1, got {num_person}")
    self.input_format = input_format
    self.num_person = int(num_person)

  def __call__(self, results: dict, rng=None) -> dict:
    keypoint = results["keypoint"]
    if "keypoint_score" in results:
      keypoint = np.concatenate((keypoint, results["keypoint_score"][..., None]), axis=-1)
    keypoint = np.transpose(keypoint, (3, 1, 2, 0))  # M T V C -> C T V M
    persons = keypoint.shape[-1]
    if persons < self.num_person:
      pad = np.zeros(keypoint.shape[:-1] + (self.num_person - persons,), keypoint.dtype)
      keypoint = np.concatenate((keypoint, pad), axis=-1)
    keypoint = np.ascontiguousarray(keypoint[..., :self.num_person])
    results["keypoint"] = keypoint
    results["input_shape"] = keypoint.shape
    return results

  def __repr__(self) -> str:
    return (f"{type(self).__name__}(input_format='{self.input_format}', "
            f"num_person={self.num_person})")


@PIPELINES.register
class Collect:
  """Keeps only ``keys`` plus, if ``meta_keys`` is non-empty, a ``meta_name`` dict of them.

  Unlike MMAction2, meta keys absent from ``results`` are skipped rather than
  raising, because vjax records do not carry every default meta key.
  """

  def __init__(self, keys, meta_keys=_DEFAULT_META_KEYS, meta_name="img_metas", nested=False):
    self.keys = tuple(keys)
    self.meta_keys = tuple(meta_keys)
    self.meta_name = meta_name
    self.nested = nested

  def __call__(self, results: dict, rng=None) -> dict:
    missing = [k for k in self.keys if k not in results]
    if missing:
      raise KeyError(f"Collect: keys {missing} not in results (available: {sorted(results)})")
    data = {k: results[k] for k in self.keys}
    if self.meta_keys:
      data[self.meta_name] = {k: results[k] for k in self.meta_keys if k in results}
    if self.nested:
      data = {k: [v] for k, v in data.items()}
    return data

  def __repr__(self) -> str:
    return (f"{type(self).__name__}(keys={self.keys}, meta_keys={self.meta_keys}, "
            f"nested={self.nested})")


@PIPELINES.register
class PadTo:
  """Pads variable-size fields along their first axis to a fixed size, adding a mask, so
  every batch has static shapes and one compiled step serves them all (boxes, proposals,
  persons, ground-truth segments, labels per box).

  ``sizes`` maps each key to its maximum, e.g. ``dict(gt_bboxes=32, gt_labels=32)``; each
  key gets ``<key>_mask`` (bool, True on real rows) unless ``mask_keys`` names one shared
  mask per group of keys that count the same rows (``dict(gt_bboxes='gt_mask',
  gt_labels='gt_mask')``). More rows than the maximum is an error naming the key, unless
  ``truncate=True`` keeps the first ones.
  """

  def __init__(self, sizes, pad_value=0, mask_keys=None, truncate=False):
    self.sizes = {k: int(v) for k, v in dict(sizes).items()}
    bad = {k: v for k, v in self.sizes.items() if v < 1}
    if bad:
      raise ValueError(f"PadTo: sizes must be >= 1, got {bad}")
    self.pad_value = pad_value
    self.mask_keys = {k: f"{k}_mask" for k in self.sizes}
    self.mask_keys.update(dict(mask_keys or {}))
    self.truncate = truncate

  def __call__(self, results: dict, rng=None) -> dict:
    masks: dict[str, np.ndarray] = {}
    for key, size in self.sizes.items():
      if key not in results:
        raise KeyError(f"PadTo: {key!r} not in results (available: {sorted(results)})")
      x = np.asarray(results[key])
      if x.ndim == 0:
        raise ValueError(f"PadTo: {key!r} is a scalar; it pads along a first axis of rows")
      n = len(x)
      if n > size:
        if not self.truncate:
          raise ValueError(f"PadTo: {key!r} has {n} rows, more than its maximum {size}; raise "
                           f"sizes[{key!r}] in the pipeline config or set truncate=True")
        x, n = x[:size], size
      out = np.full((size,) + x.shape[1:], self.pad_value, dtype=x.dtype)
      out[:n] = x
      results[key] = out
      mask = np.arange(size) < n
      name = self.mask_keys[key]
      if name in masks and not np.array_equal(masks[name], mask):
        raise ValueError(f"PadTo: keys sharing the mask {name!r} have different row counts")
      masks[name] = mask
    results.update(masks)
    return results

  def __repr__(self) -> str:
    return (f"{type(self).__name__}(sizes={self.sizes}, pad_value={self.pad_value}, "
            f"mask_keys={self.mask_keys}, truncate={self.truncate})")


@PIPELINES.register
class ToTensor:
  """API parity with MMAction2: arrays are already the tensors here; values become ndarrays."""

  def __init__(self, keys):
    self.keys = tuple(keys)

  def __call__(self, results: dict, rng=None) -> dict:
    for k in self.keys:
      results[k] = np.asarray(results[k])
    return results

  def __repr__(self) -> str:
    return f"{type(self).__name__}(keys={self.keys})"


@PIPELINES.register
class Rename:
  """Renames keys: ``mapping={'imgs': 'img'}``."""

  def __init__(self, mapping):
    self.mapping = dict(mapping)

  def __call__(self, results: dict, rng=None) -> dict:
    for old, new in self.mapping.items():
      if old in results:
        if new in results:
          raise ValueError(f"Rename: target key {new!r} already exists")
        results[new] = results.pop(old)
    return results

  def __repr__(self) -> str:
    return f"{type(self).__name__}(mapping={self.mapping})"


@PIPELINES.register
class ImageToTensor(ToTensor):
  """MMAction2 turns an (H, W, C) image into a (C, H, W) tensor; vjax models are
  channels-last, so the image keeps its layout and only becomes an ndarray (as ToTensor)."""


@PIPELINES.register
class Transpose:
  """Permutes the axes of each ``keys`` array by ``order``, literally.

  An ``order`` written for MMAction2's channels-first arrays is usually wrong
  for vjax's channels-last ones, so check it when porting a config.
  """

  def __init__(self, keys, order):
    self.keys = tuple(keys)
    self.order = tuple(order)

  def __call__(self, results: dict, rng=None) -> dict:
    for k in self.keys:
      results[k] = np.transpose(results[k], self.order)
    return results

  def __repr__(self) -> str:
    return f"{type(self).__name__}(keys={self.keys}, order={self.order})"
