"""Spatial augmentation ops on stacked uint8 frames (N, H, W, C), MMAction2 semantics.

Keys follow MMAction2: ``img_shape`` is ``(h, w)``, ``crop_bbox`` is
``[x1, y1, x2, y2]``, ``crop_quadruple`` the crop relative to the original frame,
``scale_factor`` the accumulated ``(w, h)`` resize ratio. ``lazy=True`` ops only
record what to do in ``results['lazy']`` and ``Fuse`` applies it once.
Multi-view ops (``ThreeCrop``, ``TenCrop``) put views outermost in ``imgs`` (view-major,
as MMAction2 does) and multiply ``num_crops`` (a vjax key, absent means 1).
Skeleton ``keypoint`` arrays ``(M, T, V, C)`` (pixel x, y first) move with the frames as in
MMAction2: crops shift them, ``Resize`` scales them, ``Flip`` mirrors x and swaps
``left_kp``/``right_kp`` (with ``keypoint_score``); they work with or without ``imgs`` (pose
pipelines carry only ``img_shape``) and refuse ``lazy=True``. ThreeCrop/TenCrop leave
keypoints alone, as MMAction2's do. Bounding boxes (AVA) are not handled yet.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from vjax.data.ops_base import PIPELINES, as_rng, get_imgs, pair

_INTERP = {
    "nearest": cv2.INTER_NEAREST,
    "bilinear": cv2.INTER_LINEAR,
    "bicubic": cv2.INTER_CUBIC,
    "area": cv2.INTER_AREA,
    "lanczos": cv2.INTER_LANCZOS4,
}


def rescale_size(old_size: tuple[int, int], scale) -> tuple[int, int]:
  """mmcv.rescale_size: the (w, h) that ``scale`` gives for an image of (w, h) ``old_size``.

  A number scales both sides by it; a tuple fits the image, keeping its aspect
  ratio, as large as possible with long side <= max(scale) and short side <= min(scale).
  """
  w, h = old_size
  if isinstance(scale, (float, int)):
    if scale <= 0:
      raise ValueError(f"Invalid scale {scale}, must be positive.")
    factor = scale
  else:
    factor = min(max(scale) / max(h, w), min(scale) / min(h, w))
  return int(w * float(factor) + 0.5), int(h * float(factor) + 0.5)


def resize_frames(imgs: np.ndarray, new_w: int, new_h: int, interpolation: str) -> np.ndarray:
  n, h, w = imgs.shape[:3]
  if (h, w) == (new_h, new_w):
    return imgs
  out = np.empty((n, new_h, new_w) + imgs.shape[3:], imgs.dtype)
  code = _INTERP[interpolation]
  for i in range(n):
    r = cv2.resize(np.ascontiguousarray(imgs[i]), (new_w, new_h), interpolation=code)
    out[i] = r.reshape(out.shape[1:])  # cv2 drops a trailing channel axis of size 1.
  return out


def _init_lazy_if_proper(results: dict, lazy: bool) -> None:
  """Sets ``img_shape`` if missing; starts the lazy record, or refuses eager ops after lazy ones."""
  if "img_shape" not in results:
    results["img_shape"] = get_imgs(results).shape[1:3]
  if lazy:
    if "lazy" not in results:
      img_h, img_w = results["img_shape"]
      results["lazy"] = dict(original_shape=results["img_shape"],
                             crop_bbox=np.array([0, 0, img_w, img_h], dtype=np.float32),
                             flip=False, flip_direction=None, interpolation=None)
  elif "lazy" in results:
    raise ValueError("A non-lazy op follows lazy ones: add dict(type='Fuse') before it.")


def _update_crop_quadruple(results: dict, left, top, new_w, new_h, img_w, img_h) -> None:
  old = results.get("crop_quadruple", np.array([0, 0, 1, 1], dtype=np.float32))
  x_ratio, y_ratio = left / img_w, top / img_h
  w_ratio, h_ratio = new_w / img_w, new_h / img_h
  results["crop_quadruple"] = np.array(
      [old[0] + x_ratio * old[2], old[1] + y_ratio * old[3], w_ratio * old[2], h_ratio * old[3]],
      dtype=np.float32)


def crop_keypoints(kps: np.ndarray, crop_bbox: np.ndarray) -> np.ndarray:
  """Keypoints relative to a crop's top-left corner: MMAction2's ``kps - crop_bbox[:2]``.

  The box is int64, so float32 keypoints come out float64, as in MMAction2 (later ops and
  GeneratePoseTarget's rounding follow that dtype). Only x and y move when C > 2.
  """
  if kps.shape[-1] == 2:
    return kps - crop_bbox[:2]
  out = kps.astype(np.result_type(kps, crop_bbox))
  out[..., :2] -= crop_bbox[:2]
  return out


def resize_keypoints(kps: np.ndarray, scale_factor: np.ndarray) -> np.ndarray:
  """MMAction2's ``kps * scale_factor`` (a float32 ``(w, h)`` ratio) on x and y."""
  if kps.shape[-1] == 2:
    return kps * scale_factor
  out = kps * np.ones(kps.shape[-1], scale_factor.dtype)
  out[..., :2] *= scale_factor
  return out


def flip_keypoints(kps: np.ndarray, scores: np.ndarray | None, img_width: int, left_kp,
                   right_kp) -> tuple[np.ndarray, np.ndarray | None]:
  """Horizontal mirror of ``(M, T, V, C)`` keypoints in a frame ``img_width`` wide.

  As MMAction2: x becomes ``img_width - x`` except where x is 0 (0 marks a missing joint),
  and joints ``left_kp[i]`` and ``right_kp[i]`` trade places (scores too). Returns copies.
  """
  kps = kps.copy()
  x = kps[..., 0]
  present = x != 0
  x[present] = img_width - x[present]
  order = list(range(kps.shape[2]))
  if left_kp is not None and right_kp is not None:
    for left, right in zip(left_kp, right_kp):
      order[left] = right
      order[right] = left
  kps = kps[:, :, order]
  if scores is not None:
    scores = scores[:, :, order]
  return kps, scores


def _check_keypoints(results: dict, op: str, lazy: bool) -> None:
  if lazy and "keypoint" in results:
    raise ValueError(f"{op}: keypoint augmentations are not compatible with lazy=True")


def _apply_crop(results: dict, left: int, top: int, right: int, bottom: int, lazy: bool) -> dict:
  """Records a crop of the current frames (eagerly or into the lazy record); keypoints move
  with it."""
  img_h, img_w = results["img_shape"]
  new_w, new_h = right - left, bottom - top
  _update_crop_quadruple(results, left, top, new_w, new_h, img_w, img_h)
  results["crop_bbox"] = np.array([left, top, right, bottom])
  results["img_shape"] = (new_h, new_w)
  if not lazy:
    if "keypoint" in results:
      results["keypoint"] = crop_keypoints(results["keypoint"], results["crop_bbox"])
    if "imgs" in results:
      results["imgs"] = get_imgs(results)[:, top:bottom, left:right]
  else:
    lazyop = results["lazy"]
    if lazyop["flip"]:
      raise NotImplementedError("Put Flip at last for now")
    l0, t0, r0, b0 = lazyop["crop_bbox"]
    sx, sy = (r0 - l0) / img_w, (b0 - t0) / img_h
    lazyop["crop_bbox"] = np.array([l0 + left * sx, t0 + top * sy, l0 + right * sx,
                                    t0 + bottom * sy], dtype=np.float32)
  return results


def _check_no_boxes(results: dict, op: str, lazy: bool = False) -> None:
  if "gt_bboxes" in results:
    raise NotImplementedError(f"{op}: bounding boxes are not supported yet")
  _check_keypoints(results, op, lazy)


@PIPELINES.register
class Resize:
  """Resizes to ``scale``: with ``keep_ratio``, a float factor or a (long, short) bound
  (``(-1, 256)``: short side 256); without, an exact ``(w, h)``."""

  def __init__(self, scale, keep_ratio=True, interpolation="bilinear", lazy=False):
    if isinstance(scale, list):
      scale = tuple(scale)
    if isinstance(scale, float):
      if scale <= 0:
        raise ValueError(f"Invalid scale {scale}, must be positive.")
    elif isinstance(scale, tuple):
      if min(scale) == -1:  # Unbounded long side: only the short side is constrained.
        scale = (np.inf, max(scale))
    else:
      raise TypeError(f"Scale must be float or tuple of int, but got {type(scale)}")
    if interpolation not in _INTERP:
      raise ValueError(f"interpolation must be one of {sorted(_INTERP)}, got {interpolation!r}")
    if not keep_ratio and not isinstance(scale, tuple):
      raise ValueError("Resize(keep_ratio=False) needs scale=(w, h)")
    self.scale = scale
    self.keep_ratio = keep_ratio
    self.interpolation = interpolation
    self.lazy = lazy

  def __call__(self, results: dict, rng=None) -> dict:
    _init_lazy_if_proper(results, self.lazy)
    _check_no_boxes(results, "Resize", self.lazy)
    if "scale_factor" not in results:
      results["scale_factor"] = np.array([1, 1], dtype=np.float32)
    img_h, img_w = results["img_shape"]
    if self.keep_ratio:
      new_w, new_h = rescale_size((img_w, img_h), self.scale)
    else:
      new_w, new_h = self.scale
    scale_factor = np.array([new_w / img_w, new_h / img_h], dtype=np.float32)
    results["img_shape"] = (new_h, new_w)
    results["keep_ratio"] = self.keep_ratio
    results["scale_factor"] = results["scale_factor"] * scale_factor
    if not self.lazy:
      if "imgs" in results:
        results["imgs"] = resize_frames(get_imgs(results), new_w, new_h, self.interpolation)
      if "keypoint" in results:
        results["keypoint"] = resize_keypoints(results["keypoint"], scale_factor)
    else:
      if results["lazy"]["flip"]:
        raise NotImplementedError("Put Flip at last for now")
      results["lazy"]["interpolation"] = self.interpolation
    return results

  def __repr__(self) -> str:
    return (f"{type(self).__name__}(scale={self.scale}, keep_ratio={self.keep_ratio}, "
            f"interpolation={self.interpolation!r}, lazy={self.lazy})")


@PIPELINES.register
class RandomRescale:
  """Resizes the short side to a random length in the closed ``scale_range``."""

  def __init__(self, scale_range, interpolation="bilinear"):
    scale_range = tuple(scale_range)
    if not (len(scale_range) == 2 and all(isinstance(x, int) and x > 0 for x in scale_range)
            and scale_range[0] < scale_range[1]):
      raise ValueError(f"scale_range must be two increasing positive ints, got {scale_range}")
    self.scale_range = scale_range
    self.keep_ratio = True
    self.interpolation = interpolation

  def __call__(self, results: dict, rng=None) -> dict:
    short_edge = int(as_rng(rng).integers(self.scale_range[0], self.scale_range[1] + 1))
    results = Resize((-1, short_edge), keep_ratio=True, interpolation=self.interpolation)(results)
    results["short_edge"] = short_edge
    return results

  def __repr__(self) -> str:
    return (f"{type(self).__name__}(scale_range={self.scale_range}, "
            f"interpolation={self.interpolation!r})")


@PIPELINES.register
class RandomCrop:
  """Square crop of side ``size`` at a random position."""

  def __init__(self, size, lazy=False):
    if not isinstance(size, int):
      raise TypeError(f"Size must be an int, but got {type(size)}")
    self.size = size
    self.lazy = lazy

  def __call__(self, results: dict, rng=None) -> dict:
    rng = as_rng(rng)
    _init_lazy_if_proper(results, self.lazy)
    _check_no_boxes(results, type(self).__name__, self.lazy)
    img_h, img_w = results["img_shape"]
    if self.size > img_h or self.size > img_w:
      raise ValueError(f"RandomCrop size {self.size} exceeds the frame size {(img_h, img_w)}")
    # As in MMAction2, the offset is drawn from [0, side - size) (the last position is never used).
    y = int(rng.integers(0, img_h - self.size)) if img_h > self.size else 0
    x = int(rng.integers(0, img_w - self.size)) if img_w > self.size else 0
    return _apply_crop(results, x, y, x + self.size, y + self.size, self.lazy)

  def __repr__(self) -> str:
    return f"{type(self).__name__}(size={self.size}, lazy={self.lazy})"


@PIPELINES.register
class RandomResizedCrop:
  """Inception-style crop: random area fraction and log-uniform aspect ratio (10 tries,
  then a centred square). The resize to the network size is a separate ``Resize``."""

  def __init__(self, area_range=(0.08, 1.0), aspect_ratio_range=(3 / 4, 4 / 3), lazy=False):
    self.area_range = tuple(float(a) for a in area_range)
    self.aspect_ratio_range = tuple(float(a) for a in aspect_ratio_range)
    if not 0 < self.area_range[0] <= self.area_range[1] <= 1:
      raise ValueError(f"area_range must satisfy 0 < lo <= hi <= 1, got {area_range}")
    if not 0 < self.aspect_ratio_range[0] <= self.aspect_ratio_range[1]:
      raise ValueError(f"aspect_ratio_range must satisfy 0 < lo <= hi, got {aspect_ratio_range}")
    self.lazy = lazy

  @staticmethod
  def get_crop_bbox(img_shape, area_range, aspect_ratio_range, rng, max_attempts=10):
    img_h, img_w = img_shape
    area = img_h * img_w
    min_ar, max_ar = aspect_ratio_range
    aspect_ratios = np.exp(rng.uniform(np.log(min_ar), np.log(max_ar), size=max_attempts))
    target_areas = rng.uniform(*area_range, size=max_attempts) * area
    crop_ws = np.round(np.sqrt(target_areas * aspect_ratios)).astype(np.int32)
    crop_hs = np.round(np.sqrt(target_areas / aspect_ratios)).astype(np.int32)
    for crop_w, crop_h in zip(crop_ws, crop_hs):
      if crop_h <= img_h and crop_w <= img_w:
        x = int(rng.integers(0, img_w - crop_w + 1))
        y = int(rng.integers(0, img_h - crop_h + 1))
        return x, y, x + int(crop_w), y + int(crop_h)
    crop_size = min(img_h, img_w)
    x, y = (img_w - crop_size) // 2, (img_h - crop_size) // 2
    return x, y, x + crop_size, y + crop_size

  def __call__(self, results: dict, rng=None) -> dict:
    rng = as_rng(rng)
    _init_lazy_if_proper(results, self.lazy)
    _check_no_boxes(results, type(self).__name__, self.lazy)
    box = self.get_crop_bbox(results["img_shape"], self.area_range, self.aspect_ratio_range, rng)
    return _apply_crop(results, *box, self.lazy)

  def __repr__(self) -> str:
    return (f"{type(self).__name__}(area_range={self.area_range}, "
            f"aspect_ratio_range={self.aspect_ratio_range}, lazy={self.lazy})")


@PIPELINES.register
class MultiScaleCrop:
  """TSN's multi-scale crop: width and height each a scale of the short side (scale
  levels at most ``max_wh_scale_gap`` apart), at a fixed (5 or 13) or random position."""

  def __init__(self, input_size, scales=(1,), max_wh_scale_gap=1, random_crop=False,
               num_fixed_crops=5, lazy=False):
    self.input_size = pair(input_size)
    if isinstance(scales, list):
      scales = tuple(scales)
    if not isinstance(scales, tuple):
      raise TypeError(f"Scales must be tuple, but got {type(scales)}")
    if num_fixed_crops not in (5, 13):
      raise ValueError(f"num_fixed_crops must be 5 or 13, got {num_fixed_crops}")
    self.scales = scales
    self.max_wh_scale_gap = max_wh_scale_gap
    self.random_crop = random_crop
    self.num_fixed_crops = num_fixed_crops
    self.lazy = lazy

  def __call__(self, results: dict, rng=None) -> dict:
    rng = as_rng(rng)
    _init_lazy_if_proper(results, self.lazy)
    _check_no_boxes(results, type(self).__name__, self.lazy)
    img_h, img_w = results["img_shape"]
    base_size = min(img_h, img_w)
    crop_sizes = [int(base_size * s) for s in self.scales]
    candidates = [[w, h] for i, h in enumerate(crop_sizes) for j, w in enumerate(crop_sizes)
                  if abs(i - j) <= self.max_wh_scale_gap]
    crop_size = list(candidates[int(rng.integers(len(candidates)))])
    for i in range(2):  # Snap to the network input size when within 3 pixels.
      if abs(crop_size[i] - self.input_size[i]) < 3:
        crop_size[i] = self.input_size[i]
    crop_w, crop_h = crop_size
    if self.random_crop:
      x = int(rng.integers(0, img_w - crop_w + 1))
      y = int(rng.integers(0, img_h - crop_h + 1))
    else:
      ws, hs = (img_w - crop_w) // 4, (img_h - crop_h) // 4
      offsets = [(0, 0), (4 * ws, 0), (0, 4 * hs), (4 * ws, 4 * hs), (2 * ws, 2 * hs)]
      if self.num_fixed_crops == 13:
        offsets += [(0, 2 * hs), (4 * ws, 2 * hs), (2 * ws, 4 * hs), (2 * ws, 0),
                    (ws, hs), (3 * ws, hs), (ws, 3 * hs), (3 * ws, 3 * hs)]
      x, y = offsets[int(rng.integers(len(offsets)))]
    results["scales"] = self.scales
    return _apply_crop(results, x, y, x + crop_w, y + crop_h, self.lazy)

  def __repr__(self) -> str:
    return (f"{type(self).__name__}(input_size={self.input_size}, scales={self.scales}, "
            f"max_wh_scale_gap={self.max_wh_scale_gap}, random_crop={self.random_crop}, "
            f"num_fixed_crops={self.num_fixed_crops}, lazy={self.lazy})")


@PIPELINES.register
class CenterCrop:
  """Crops the centre ``crop_size`` (int or (w, h))."""

  def __init__(self, crop_size, lazy=False):
    self.crop_size = pair(crop_size)
    self.lazy = lazy

  def __call__(self, results: dict, rng=None) -> dict:
    _init_lazy_if_proper(results, self.lazy)
    _check_no_boxes(results, type(self).__name__, self.lazy)
    img_h, img_w = results["img_shape"]
    crop_w, crop_h = self.crop_size
    left, top = (img_w - crop_w) // 2, (img_h - crop_h) // 2
    return _apply_crop(results, left, top, left + crop_w, top + crop_h, self.lazy)

  def __repr__(self) -> str:
    return f"{type(self).__name__}(crop_size={self.crop_size}, lazy={self.lazy})"


def _multi_crop(results: dict, offsets, crop_w: int, crop_h: int, with_flips: bool) -> dict:
  imgs = get_imgs(results)
  n = len(imgs)
  views, boxes = [], []
  for x, y in offsets:
    crop = imgs[:, y:y + crop_h, x:x + crop_w]
    views.append(crop)
    if with_flips:
      views.append(crop[:, :, ::-1])
    boxes.extend([[x, y, x + crop_w, y + crop_h]] * (n * (2 if with_flips else 1)))
  results["imgs"] = np.concatenate(views)
  results["crop_bbox"] = np.array(boxes)
  results["img_shape"] = results["imgs"].shape[1:3]
  results["num_crops"] = results.get("num_crops", 1) * len(views)
  return results


@PIPELINES.register
class ThreeCrop:
  """Three crops along the long side (left/top, right/bottom, middle); one side must
  already equal the crop's."""

  def __init__(self, crop_size):
    self.crop_size = pair(crop_size)

  def __call__(self, results: dict, rng=None) -> dict:
    _init_lazy_if_proper(results, False)
    img_h, img_w = get_imgs(results).shape[1:3]
    crop_w, crop_h = self.crop_size
    if crop_h == img_h:
      step = (img_w - crop_w) // 2
      offsets = [(0, 0), (2 * step, 0), (step, 0)]
    elif crop_w == img_w:
      step = (img_h - crop_h) // 2
      offsets = [(0, 0), (0, 2 * step), (0, step)]
    else:
      raise ValueError(f"ThreeCrop{self.crop_size} needs the frame width or height to equal the "
                       f"crop's; frames are {img_w}x{img_h} (w x h). Resize first.")
    return _multi_crop(results, offsets, crop_w, crop_h, with_flips=False)

  def __repr__(self) -> str:
    return f"{type(self).__name__}(crop_size={self.crop_size})"


@PIPELINES.register
class TenCrop:
  """Four corners and centre, each followed by its horizontal flip."""

  def __init__(self, crop_size):
    self.crop_size = pair(crop_size)

  def __call__(self, results: dict, rng=None) -> dict:
    _init_lazy_if_proper(results, False)
    img_h, img_w = get_imgs(results).shape[1:3]
    crop_w, crop_h = self.crop_size
    ws, hs = (img_w - crop_w) // 4, (img_h - crop_h) // 4
    offsets = [(0, 0), (4 * ws, 0), (0, 4 * hs), (4 * ws, 4 * hs), (2 * ws, 2 * hs)]
    return _multi_crop(results, offsets, crop_w, crop_h, with_flips=True)

  def __repr__(self) -> str:
    return f"{type(self).__name__}(crop_size={self.crop_size})"


def _flip(imgs: np.ndarray, direction: str, modality: str) -> np.ndarray:
  imgs = imgs[:, :, ::-1] if direction == "horizontal" else imgs[:, ::-1]
  if modality == "Flow":  # A horizontal flip negates x-flow: invert the x channel.
    imgs = imgs.copy()
    imgs[..., 0] = 255 - imgs[..., 0]
  return imgs


@PIPELINES.register
class Flip:
  """Flips all frames with probability ``flip_ratio``; sets ``flip``, ``flip_direction``
  and maps ``label`` through ``flip_label_map`` when flipped. Keypoints are mirrored and
  ``left_kp``/``right_kp`` swapped (``flip_keypoints``)."""

  _directions = ("horizontal", "vertical")

  def __init__(self, flip_ratio=0.5, direction="horizontal", flip_label_map=None, left_kp=None,
               right_kp=None, lazy=False):
    if direction not in self._directions:
      raise ValueError(f"Direction {direction} is not supported; use one of {self._directions}")
    self.flip_ratio = flip_ratio
    self.direction = direction
    self.flip_label_map = flip_label_map
    self.left_kp = left_kp
    self.right_kp = right_kp
    self.lazy = lazy

  def __call__(self, results: dict, rng=None) -> dict:
    rng = as_rng(rng)
    _init_lazy_if_proper(results, self.lazy)
    _check_no_boxes(results, "Flip", self.lazy)
    if "keypoint" in results and self.direction != "horizontal":
      raise ValueError("Flip: keypoints can only be flipped horizontally")
    modality = results.get("modality", "RGB")
    if modality == "Flow" and self.direction != "horizontal":
      raise ValueError("Flow frames can only be flipped horizontally")
    flip = bool(rng.random() < self.flip_ratio)
    results["flip"] = flip
    results["flip_direction"] = self.direction
    if self.flip_label_map is not None and flip:
      results["label"] = self.flip_label_map.get(results["label"], results["label"])
    if not self.lazy:
      if flip and "imgs" in results:
        results["imgs"] = _flip(get_imgs(results), self.direction, modality)
      if flip and "keypoint" in results:
        kp, score = flip_keypoints(results["keypoint"], results.get("keypoint_score"),
                                   results["img_shape"][1], self.left_kp, self.right_kp)
        results["keypoint"] = kp
        if score is not None:
          results["keypoint_score"] = score
    else:
      lazyop = results["lazy"]
      if lazyop["flip"]:
        raise NotImplementedError("Use one Flip please")
      lazyop["flip"] = flip
      lazyop["flip_direction"] = self.direction
    return results

  def __repr__(self) -> str:
    return (f"{type(self).__name__}(flip_ratio={self.flip_ratio}, direction={self.direction!r}, "
            f"flip_label_map={self.flip_label_map}, lazy={self.lazy})")


@PIPELINES.register
class Fuse:
  """Applies the recorded lazy ops once: crop, then resize, then flip."""

  def __call__(self, results: dict, rng=None) -> dict:
    if "lazy" not in results:
      raise ValueError("No lazy operation detected")
    lazyop = results.pop("lazy")
    imgs = get_imgs(results)
    left, top, right, bottom = lazyop["crop_bbox"].round().astype(int)
    imgs = imgs[:, top:bottom, left:right]
    img_h, img_w = results["img_shape"]
    imgs = resize_frames(imgs, img_w, img_h, lazyop["interpolation"] or "bilinear")
    if lazyop["flip"]:
      imgs = _flip(imgs, lazyop["flip_direction"], results.get("modality", "RGB"))
    results["imgs"] = imgs
    return results

  def __repr__(self) -> str:
    return f"{type(self).__name__}()"


@PIPELINES.register
class Normalize:
  """``(img - mean) / std`` in float32 (optionally RGB->BGR first). vjax configs normalise
  on device instead; this op serves MMAction2 configs that normalise on the host."""

  def __init__(self, mean, std, to_bgr=False, adjust_magnitude=False):
    if not isinstance(mean, (Sequence, np.ndarray)):
      raise TypeError(f"Mean must be list, tuple or np.ndarray, but got {type(mean)}")
    if not isinstance(std, (Sequence, np.ndarray)):
      raise TypeError(f"Std must be list, tuple or np.ndarray, but got {type(std)}")
    self.mean = np.array(mean, dtype=np.float32)
    self.std = np.array(std, dtype=np.float32)
    self.to_bgr = to_bgr
    self.adjust_magnitude = adjust_magnitude

  def __call__(self, results: dict, rng=None) -> dict:
    modality = results.get("modality", "RGB")
    imgs = get_imgs(results).astype(np.float32)
    if imgs.shape[-1] != len(self.mean):
      raise ValueError(f"Normalize has {len(self.mean)} means for {imgs.shape[-1]} channels")
    if modality == "RGB":
      if self.to_bgr:
        imgs = imgs[..., ::-1]
      # Multiply by 1/std in float64 then store float32, as mmcv.imnormalize_ does.
      imgs = ((imgs - self.mean.astype(np.float64)) * (1 / self.std.astype(np.float64))
              ).astype(np.float32)
      results["img_norm_cfg"] = dict(mean=self.mean, std=self.std, to_bgr=self.to_bgr)
    elif modality == "Flow":
      imgs = (imgs - self.mean) / self.std
      if self.adjust_magnitude:
        imgs = imgs * np.asarray(results["scale_factor"], np.float32)
      results["img_norm_cfg"] = dict(mean=self.mean, std=self.std, to_bgr=self.to_bgr,
                                     adjust_magnitude=self.adjust_magnitude)
    else:
      raise NotImplementedError(f"Normalize: modality {modality!r}")
    results["imgs"] = imgs
    return results

  def __repr__(self) -> str:
    return (f"{type(self).__name__}(mean={self.mean.tolist()}, std={self.std.tolist()}, "
            f"to_bgr={self.to_bgr}, adjust_magnitude={self.adjust_magnitude})")

