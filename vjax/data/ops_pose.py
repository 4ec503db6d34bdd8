"""Skeleton pipeline ops, MMAction2 0.24.1 semantics: ``PaddingWithLoop``, ``PoseDecode``,
``LoadKineticsPose``, ``PoseCompact``, ``GeneratePoseTarget`` (PoseC3D's heatmap volumes),
``PoseNormalize`` and ``JointToBone``. ``UniformSampleFrames`` is in ``ops_sampling``.

Keys follow MMAction2: ``keypoint`` is ``(M persons, T frames, V joints, C)`` (C = 2 pixel
x, y, or 3 for 3-D joints), ``keypoint_score`` ``(M, T, V)``, ``img_shape`` ``(h, w)``.
The spatial augmentations (Resize, crops, Flip) move keypoints in ``ops_augment``;
``FormatGCNInput`` (ops_format) makes the GCN input and ``FormatShape`` the PoseC3D one.
None of these ops draws random numbers.
"""

from __future__ import annotations

import copy
import os.path as osp

import numpy as np

from vjax.data import safe_pickle
from vjax.data.ops_augment import flip_keypoints
from vjax.data.ops_base import PIPELINES, pair

COCO_SKELETONS = ((0, 1), (0, 2), (1, 3), (2, 4), (0, 5), (5, 7), (7, 9), (0, 6), (6, 8),
                  (8, 10), (5, 11), (11, 13), (13, 15), (6, 12), (12, 14), (14, 16), (11, 12))
COCO_LEFT_KP = (1, 3, 5, 7, 9, 11, 13, 15)
COCO_RIGHT_KP = (2, 4, 6, 8, 10, 12, 14, 16)


def _sampled(results: dict, inds: np.ndarray, clip_len: int, num_clips: int) -> dict:
  results["frame_inds"] = inds.astype(np.int64)
  results["clip_len"] = clip_len
  results["frame_interval"] = None
  results["num_clips"] = num_clips
  return results


def _total_frames(results: dict, op: str) -> int:
  n = int(results["total_frames"])
  if n < 1:
    raise ValueError(f"{op}: total_frames is {n}; a skeleton sequence needs frames")
  return n


@PIPELINES.register
class PaddingWithLoop:
  """Frames ``0 .. clip_len - 1``, looping over a shorter video (ST-GCN's fixed 300)."""

  def __init__(self, clip_len, num_clips=1):
    self.clip_len = int(clip_len)
    self.num_clips = int(num_clips)

  def __call__(self, results: dict, rng=None) -> dict:
    n = _total_frames(results, "PaddingWithLoop")
    inds = np.mod(np.arange(self.clip_len), n)
    return _sampled(results, inds, self.clip_len, self.num_clips)

  def __repr__(self) -> str:
    return f"{type(self).__name__}(clip_len={self.clip_len}, num_clips={self.num_clips})"


@PIPELINES.register
class PoseDecode:
  """Keeps the ``frame_inds`` frames (all, if none were sampled) of ``keypoint`` and
  ``keypoint_score``, as float32."""

  def __call__(self, results: dict, rng=None) -> dict:
    if "frame_inds" not in results:
      results["frame_inds"] = np.arange(results["total_frames"])
    if results["frame_inds"].ndim != 1:
      results["frame_inds"] = np.squeeze(results["frame_inds"])
    frame_inds = results["frame_inds"] + results.get("offset", 0)
    for key in ("keypoint_score", "keypoint"):
      if key in results:
        frames = results[key].shape[1]
        if len(frame_inds) and (frame_inds.max() >= frames or frame_inds.min() < -frames):
          raise IndexError(f"PoseDecode: frame indices up to {frame_inds.max()} for a "
                           f"{key!r} of {frames} frames; check total_frames and start_index")
        results[key] = results[key][:, frame_inds].astype(np.float32)
    return results

  def __repr__(self) -> str:
    return f"{type(self).__name__}()"


@PIPELINES.register
class LoadKineticsPose:
  """Kinetics-pose keypoints from ``filename``: a pickle of one ``(V, 3)`` (x, y, score) row
  per detected person box, with the record's ``frame_inds`` saying each box's frame (and
  ``anno_inds`` the boxes to keep, from PoseDataset's ``box_thr``).

  Builds ``keypoint`` ``(M, T, V, 2)`` and ``keypoint_score`` ``(M, T, V)`` (float16, as
  MMAction2) with M the most boxes in one frame; ``squeeze`` drops frames without boxes
  (``total_frames`` becomes the frames kept). Above ``max_person`` persons, each frame's are
  ranked by their ``keypoint_weight``-weighted joint scores (face, torso, limb groups) and
  the best ``max_person`` kept. ``source='openpose-18'`` keypoints are in [0, 1] and are
  scaled by ``img_shape``. Files are read from disk with ``vjax.data.safe_pickle``.
  """

  _SUBSETS = {
      "openpose-18": dict(face=[0, 14, 15, 16, 17], torso=[1, 2, 8, 5, 11],
                          limb=[3, 4, 6, 7, 9, 10, 12, 13]),
      "mmpose": dict(face=[0, 1, 2, 3, 4], torso=[5, 6, 11, 12],
                     limb=[7, 8, 9, 10, 13, 14, 15, 16]),
  }

  def __init__(self, io_backend="disk", squeeze=True, max_person=100,
               keypoint_weight=dict(face=1, torso=2, limb=3), source="mmpose", **kwargs):
    if io_backend != "disk":
      raise NotImplementedError(f"LoadKineticsPose: io_backend {io_backend!r}; vjax reads "
                                "keypoint files from disk")
    if source not in self._SUBSETS:
      raise NotImplementedError(f"LoadKineticsPose: unknown source {source!r}; use one of "
                                f"{sorted(self._SUBSETS)}")
    self.io_backend = io_backend
    self.squeeze = squeeze
    self.max_person = int(max_person)
    self.keypoint_weight = copy.deepcopy(dict(keypoint_weight))
    self.source = source
    self.kpsubset = self._SUBSETS[source]
    self.kwargs = kwargs

  def __call__(self, results: dict, rng=None) -> dict:
    filename = results.pop("filename")
    anno_inds = results.pop("anno_inds", None)
    if anno_inds is not None and self.source != "mmpose":
      raise ValueError("LoadKineticsPose: anno_inds (box_thr) apply to source='mmpose' only")
    results.pop("box_score", None)
    if not osp.isfile(filename):
      raise FileNotFoundError(f"LoadKineticsPose: keypoint file {filename} not found; check "
                              "the dataset's data_prefix")
    kps = np.asarray(safe_pickle.load(filename))
    if kps.ndim != 3 or kps.shape[-1] < 3:
      raise ValueError(f"LoadKineticsPose: {filename} holds an array of shape {kps.shape}; "
                       "expected one (V joints, 3) x, y, score row per person box")
    frame_inds = np.asarray(results.pop("frame_inds"))
    if len(frame_inds) != len(kps):
      raise ValueError(f"LoadKineticsPose: {filename} has {len(kps)} person boxes but the "
                       f"record's frame_inds has {len(frame_inds)}")
    total_frames = results["total_frames"]
    if anno_inds is not None:
      kps, frame_inds = kps[anno_inds], frame_inds[anno_inds]
    if not len(kps):
      raise ValueError(f"LoadKineticsPose: no person boxes left in {filename}"
                       + (" after box_thr (anno_inds)" if anno_inds is not None else ""))
    if self.squeeze:  # frames with a box, renumbered 0, 1, ...
      frame_inds = np.searchsorted(np.unique(frame_inds), frame_inds).astype(np.int16)
      total_frames = int(np.max(frame_inds)) + 1
    results["total_frames"] = total_frames
    h, w = results["img_shape"]
    if self.source == "openpose-18":
      kps[:, :, 0] *= w
      kps[:, :, 1] *= h
    num_kp = kps.shape[1]
    frame_inds = frame_inds.astype(np.int64)
    per_frame = np.bincount(frame_inds, minlength=total_frames)
    num_person = int(per_frame.max())
    # Each box's person slot: its rank among its frame's boxes, in file order.
    order = np.argsort(frame_inds, kind="stable")
    starts = np.cumsum(per_frame) - per_frame
    slot = np.empty(len(frame_inds), np.int64)
    slot[order] = np.arange(len(order)) - starts[frame_inds[order]]
    new_kp = np.zeros([num_person, total_frames, num_kp, 2], dtype=np.float16)
    new_kpscore = np.zeros([num_person, total_frames, num_kp], dtype=np.float16)
    new_kp[slot, frame_inds] = kps[:, :, :2]
    new_kpscore[slot, frame_inds] = kps[:, :, 2]
    results["num_person"] = num_person
    if num_person > self.max_person:
      groups, weight = self.kpsubset, self.keypoint_weight
      for i in range(total_frames):
        n = per_frame[i]
        val = new_kpscore[:n, i]
        val = (np.sum(val[:, groups["face"]], 1) * weight["face"] +
               np.sum(val[:, groups["torso"]], 1) * weight["torso"] +
               np.sum(val[:, groups["limb"]], 1) * weight["limb"])
        inds = sorted(range(n), key=lambda x, v=val: -v[x])
        new_kpscore[:n, i] = new_kpscore[inds, i]
        new_kp[:n, i] = new_kp[inds, i]
      results["num_person"] = self.max_person
    results["keypoint"] = new_kp[:self.max_person]
    results["keypoint_score"] = new_kpscore[:self.max_person]
    return results

  def __repr__(self) -> str:
    return (f"{type(self).__name__}(io_backend={self.io_backend}, squeeze={self.squeeze}, "
            f"max_person={self.max_person}, keypoint_weight={self.keypoint_weight}, "
            f"source={self.source}, kwargs={self.kwargs})")


def _combine_quadruple(a, b) -> tuple:
  return (a[0] + a[2] * b[0], a[1] + a[3] * b[1], a[2] * b[2], a[3] * b[3])


@PIPELINES.register
class PoseCompact:
  """Shrinks the frame to the box around every (non-zero) joint of the clip, grown by
  ``padding`` around its centre and, with ``hw_ratio`` (h / w, or a (min, max) range),
  widened or heightened to that ratio; keypoints move into it, ``img_shape`` and
  ``crop_quadruple`` follow. Boxes narrower or shorter than ``threshold`` pixels are left
  alone. Without ``allow_imgpad`` the box stays inside the frame. NaN joints become 0."""

  def __init__(self, padding=0.25, threshold=10, hw_ratio=None, allow_imgpad=True):
    if padding < 0:
      raise ValueError(f"PoseCompact: padding must be >= 0, got {padding}")
    self.padding = padding
    self.threshold = threshold
    self.hw_ratio = (None if hw_ratio is None
                     else tuple(float(r) for r in _pair_float(hw_ratio)))
    self.allow_imgpad = allow_imgpad

  def __call__(self, results: dict, rng=None) -> dict:
    h, w = results["img_shape"]
    kp = np.array(results["keypoint"])  # a copy; MMAction2 edits in place
    kp[np.isnan(kp)] = 0.
    results["keypoint"] = kp
    kp_x, kp_y = kp[..., 0], kp[..., 1]
    min_x = np.min(kp_x[kp_x != 0], initial=np.inf)
    min_y = np.min(kp_y[kp_y != 0], initial=np.inf)
    max_x = np.max(kp_x[kp_x != 0], initial=-np.inf)
    max_y = np.max(kp_y[kp_y != 0], initial=-np.inf)
    if max_x - min_x < self.threshold or max_y - min_y < self.threshold:
      return results
    # The keypoint dtype's own sums, then float64 (MMAction2 on numpy 1: scalar / int).
    center = (float(max_x + min_x) / 2, float(max_y + min_y) / 2)
    half_width = float(max_x - min_x) / 2 * (1 + self.padding)
    half_height = float(max_y - min_y) / 2 * (1 + self.padding)
    if self.hw_ratio is not None:
      half_height = max(self.hw_ratio[0] * half_width, half_height)
      half_width = max(1 / self.hw_ratio[1] * half_height, half_width)
    min_x, max_x = center[0] - half_width, center[0] + half_width
    min_y, max_y = center[1] - half_height, center[1] + half_height
    if not self.allow_imgpad:
      min_x, min_y = int(max(0, min_x)), int(max(0, min_y))
      max_x, max_y = int(min(w, max_x)), int(min(h, max_y))
    else:
      min_x, min_y, max_x, max_y = int(min_x), int(min_y), int(max_x), int(max_y)
    kp_x[kp_x != 0] -= min_x
    kp_y[kp_y != 0] -= min_y
    results["img_shape"] = (max_y - min_y, max_x - min_x)
    old = results.get("crop_quadruple", (0., 0., 1., 1.))
    new = (min_x / w, min_y / h, (max_x - min_x) / w, (max_y - min_y) / h)
    results["crop_quadruple"] = _combine_quadruple(old, new)
    return results

  def __repr__(self) -> str:
    return (f"{type(self).__name__}(padding={self.padding}, threshold={self.threshold}, "
            f"hw_ratio={self.hw_ratio}, allow_imgpad={self.allow_imgpad})")


def _pair_float(x) -> tuple:
  """``x`` as a pair: a number ``r`` becomes ``(r, r)`` (torch's ``_pair``)."""
  if isinstance(x, (int, float, np.integer, np.floating)):
    return (x, x)
  return pair(x)


# Heatmap evaluation: items are (frame, channel, window) boxes; windows of similar size are
# evaluated together on a padded grid, at most this many pixels at a time.
_CHUNK_PIXELS = 1 << 20


def _bucket(n: np.ndarray) -> np.ndarray:
  """Next power of two >= n (n >= 1)."""
  return 1 << np.ceil(np.log2(np.maximum(n, 1))).astype(np.int64)


def _scatter_windows(heat: np.ndarray, frame: np.ndarray, channel: np.ndarray,
                     x0: np.ndarray, x1: np.ndarray, y0: np.ndarray, y1: np.ndarray,
                     values) -> None:
  """``heat[t, y, x, c] = max(heat, values(...))`` over each item's window ``[x0, x1) x [y0,
  y1)``. ``values(sel, xs, ys)`` gets the items ``sel`` and their pixel coordinates as
  float32 ``(n, w)`` and ``(n, h)`` arrays, and returns ``(n, h, w)`` values."""
  if not len(frame):
    return
  if not heat.flags.c_contiguous:
    raise ValueError("heatmaps must be C-contiguous (drawn through a flat view)")
  _, height, width, channels = heat.shape
  flat = heat.reshape(-1)
  keys = _bucket(x1 - x0) * (1 << 32) + _bucket(y1 - y0)
  for key in np.unique(keys):
    group = np.flatnonzero(keys == key)
    pw, ph = int(key >> 32), int(key & 0xFFFFFFFF)
    step = max(1, _CHUNK_PIXELS // (pw * ph))
    for begin in range(0, len(group), step):
      sel = group[begin:begin + step]
      xs = x0[sel, None] + np.arange(pw)
      ys = y0[sel, None] + np.arange(ph)
      inside = (ys < y1[sel, None])[:, :, None] & (xs < x1[sel, None])[:, None, :]
      vals = values(sel, xs.astype(np.float32), ys.astype(np.float32))
      index = ((frame[sel, None, None] * height + ys[:, :, None]) * width
               + xs[:, None, :]) * channels + channel[sel, None, None]
      np.maximum.at(flat, index[inside], vals[inside].astype(np.float32))


def _window(lo: np.ndarray, hi: np.ndarray, sigma: float, size: int):
  """MMAction2's ``max(int(lo - 3 sigma), 0), min(int(hi + 3 sigma) + 1, size)`` (float64
  arithmetic, truncation toward zero)."""
  lo = np.trunc(lo.astype(np.float64) - 3 * sigma).astype(np.int64)
  hi = np.trunc(hi.astype(np.float64) + 3 * sigma).astype(np.int64) + 1
  return np.maximum(lo, 0), np.minimum(hi, size)


@PIPELINES.register
class GeneratePoseTarget:
  """PoseC3D's pseudo heatmaps: a Gaussian (``sigma`` pixels) per joint (``with_kp``) and/or
  per limb of ``skeletons`` (``with_limb``: a Gaussian of the distance to the segment), each
  scaled by its joint score (``use_score``; a limb by the lower of its two) and the max over
  persons, cut 3 sigma around the joint / limb as MMAction2 does. ``double`` appends the
  heatmaps of the horizontally flipped skeleton (``left_kp``/``right_kp`` swapped) after the
  original frames.

  Output layout: ``imgs`` float32 ``(frames, H, W, channels)`` with channels = joints, then
  limbs, and frames = T (2T with ``double``): MMAction2's own layout, already channels-last
  per frame. ``FormatShape('NCTHW')`` then groups frames into clips as vjax's channels-last
  ``(views, T, H, W, C)`` (MMAction2 transposes to ``(views, C, T, H, W)`` there).

  Values equal MMAction2's per-person loops (same float32 / float64 arithmetic), computed in
  vectorised windows; joints at non-finite positions draw nothing (MMAction2 fails on them).
  """

  def __init__(self, sigma=0.6, use_score=True, with_kp=True, with_limb=False,
               skeletons=COCO_SKELETONS, double=False, left_kp=COCO_LEFT_KP,
               right_kp=COCO_RIGHT_KP):
    if not (with_kp or with_limb):
      raise ValueError('GeneratePoseTarget: at least one of "with_limb" and "with_kp" must '
                       "be True")
    self.sigma = sigma
    self.use_score = use_score
    self.with_kp = with_kp
    self.with_limb = with_limb
    self.double = double
    self.eps = 1e-4
    self.left_kp = left_kp
    self.right_kp = right_kp
    self.skeletons = skeletons

  def _keypoint_maps(self, heat: np.ndarray, kps: np.ndarray, values: np.ndarray,
                     first: int) -> None:
    m, t, v = np.nonzero((values >= self.eps) & np.isfinite(kps).all(-1))
    mu = kps[m, t, v]
    self._gaussians(heat, t, first + v, mu, values[m, t, v])

  def _gaussians(self, heat, frame, channel, mu, value) -> None:
    """Joint Gaussians centred at ``mu`` ``(n, 2)`` scaled by ``value``."""
    img_h, img_w = heat.shape[1:3]
    x0, x1 = _window(mu[:, 0], mu[:, 0], self.sigma, img_w)
    y0, y1 = _window(mu[:, 1], mu[:, 1], self.sigma, img_h)
    keep = (x1 > x0) & (y1 > y0)
    mu32 = mu.astype(np.float32)
    value32 = value.astype(np.float32)
    sigma = self.sigma

    def gaussian(sel, xs, ys):
      dx = (xs - mu32[sel, 0, None]) ** 2
      dy = (ys - mu32[sel, 1, None]) ** 2
      patch = np.exp(-(dx[:, None, :] + dy[:, :, None]) / 2 / sigma**2)
      return patch * value32[sel, None, None]

    idx = np.flatnonzero(keep)
    _scatter_windows(heat, frame[idx], channel[idx], x0[idx], x1[idx], y0[idx], y1[idx],
                     lambda sel, xs, ys: gaussian(idx[sel], xs, ys))

  def _limb_maps(self, heat: np.ndarray, kps: np.ndarray, values: np.ndarray,
                 first: int) -> None:
    img_h, img_w = heat.shape[1:3]
    limbs = np.asarray(self.skeletons, dtype=np.int64).reshape(-1, 2)
    start_v, end_v = values[:, :, limbs[:, 0]], values[:, :, limbs[:, 1]]  # (M, T, L)
    coeff = np.minimum(start_v, end_v)
    finite = np.isfinite(kps).all(-1)
    usable = (coeff >= self.eps) & finite[:, :, limbs[:, 0]] & finite[:, :, limbs[:, 1]]
    m, t, l = np.nonzero(usable)
    start, end = kps[m, t, limbs[l, 0]], kps[m, t, limbs[l, 1]]
    channel = first + l
    # MMAction2: d2_ab from the keypoint dtype's differences, squared in float64.
    diff = (start - end).astype(np.float64)
    d2_ab = diff[:, 0] ** 2 + diff[:, 1] ** 2
    short = d2_ab < 1  # a limb shorter than a pixel is drawn as its start joint
    if short.any():
      i = np.flatnonzero(short)
      self._gaussians(heat, t[i], channel[i], start[i], start_v[m[i], t[i], l[i]])
    i = np.flatnonzero(~short)
    if not len(i):
      return
    start, end, d2_ab = start[i], end[i], d2_ab[i]
    value = coeff[m[i], t[i], l[i]].astype(np.float32)
    x0, x1 = _window(np.minimum(start[:, 0], end[:, 0]), np.maximum(start[:, 0], end[:, 0]),
                     self.sigma, img_w)
    y0, y1 = _window(np.minimum(start[:, 1], end[:, 1]), np.maximum(start[:, 1], end[:, 1]),
                     self.sigma, img_h)
    keep = np.flatnonzero((x1 > x0) & (y1 > y0))
    start32, end32, d2_ab32 = (start.astype(np.float32), end.astype(np.float32),
                               d2_ab.astype(np.float32))
    # The projection's dtype: float32 coefficients times the keypoints' (end - start).
    proj_dtype = np.result_type(np.float32, start.dtype)
    sigma = self.sigma

    def segment(sel, xs, ys):
      x, y = xs[:, None, :], ys[:, :, None]
      s32, e32 = start32[sel, :, None, None], end32[sel, :, None, None]
      d2_start = (x - s32[:, 0]) ** 2 + (y - s32[:, 1]) ** 2
      d2_end = (x - e32[:, 0]) ** 2 + (y - e32[:, 1]) ** 2
      ab = d2_ab32[sel, None, None]
      c = (d2_start - d2_end + ab) / 2. / ab
      s, e = start[sel, :, None, None], end[sel, :, None, None]
      d = (e - s).astype(proj_dtype)
      s = s.astype(proj_dtype)
      px, py = s[:, 0] + c * d[:, 0], s[:, 1] + c * d[:, 1]
      d2_line = (x - px) ** 2 + (y - py) ** 2
      d2_seg = np.where(c <= 0, d2_start, np.where(c >= 1, d2_end, d2_line)).astype(np.float64)
      return np.exp(-d2_seg / 2. / sigma**2) * value[sel, None, None]

    _scatter_windows(heat, t[i][keep], channel[i][keep], x0[keep], x1[keep], y0[keep],
                     y1[keep], lambda sel, xs, ys: segment(keep[sel], xs, ys))

  def draw(self, heat: np.ndarray, kps: np.ndarray, scores: np.ndarray | None) -> None:
    """Draws ``(M, T, V, 2)`` keypoints into zeroed ``(T, H, W, channels)`` ``heat``."""
    if scores is None or not self.use_score:
      values = np.ones(kps.shape[:3], np.float32)
    else:
      values = np.asarray(scores)
    kps = kps[..., :2]
    if self.with_kp:
      self._keypoint_maps(heat, kps, values, 0)
    if self.with_limb:
      self._limb_maps(heat, kps, values, kps.shape[2] if self.with_kp else 0)

  def __call__(self, results: dict, rng=None) -> dict:
    kps, scores = results["keypoint"], results.get("keypoint_score")
    img_h, img_w = (int(s) for s in results["img_shape"])
    num_frame, num_kp = kps.shape[1:3]
    channels = (num_kp if self.with_kp else 0) + (len(self.skeletons) if self.with_limb else 0)
    imgs = np.zeros(((2 if self.double else 1) * num_frame, img_h, img_w, channels),
                    np.float32)
    self.draw(imgs[:num_frame], kps, scores)
    if self.double:
      kps, scores = flip_keypoints(kps, scores, img_w, self.left_kp, self.right_kp)
      self.draw(imgs[num_frame:], kps, scores)
    results["imgs"] = imgs
    return results

  def __repr__(self) -> str:
    return (f"{type(self).__name__}(sigma={self.sigma}, use_score={self.use_score}, "
            f"with_kp={self.with_kp}, with_limb={self.with_limb}, "
            f"skeletons={self.skeletons}, double={self.double}, left_kp={self.left_kp}, "
            f"right_kp={self.right_kp})")


@PIPELINES.register
class PoseNormalize:
  """``(keypoint - mean) / (max_value - min_value)`` per coordinate, on the first axis:
  the ``(C, T, V, M)`` layout ``FormatGCNInput`` makes (MMAction2 puts it after that op)."""

  def __init__(self, mean=(960., 540., 0.5), min_value=(0., 0., 0.),
               max_value=(1920, 1080, 1.)):
    self.mean = np.array(mean, dtype=np.float32).reshape(-1, 1, 1, 1)
    self.min_value = np.array(min_value, dtype=np.float32).reshape(-1, 1, 1, 1)
    self.max_value = np.array(max_value, dtype=np.float32).reshape(-1, 1, 1, 1)

  def __call__(self, results: dict, rng=None) -> dict:
    kp = results["keypoint"]
    if kp.shape[0] != len(self.mean):
      raise ValueError(f"PoseNormalize: {len(self.mean)} means for a keypoint array whose "
                       f"first axis has {kp.shape[0]} coordinates; put it after "
                       "FormatGCNInput (C, T, V, M)")
    results["keypoint"] = (kp - self.mean) / (self.max_value - self.min_value)
    results["keypoint_norm_cfg"] = dict(mean=self.mean, min_value=self.min_value,
                                        max_value=self.max_value)
    return results

  def __repr__(self) -> str:
    return (f"{type(self).__name__}(mean={self.mean.ravel().tolist()}, "
            f"min_value={self.min_value.ravel().tolist()}, "
            f"max_value={self.max_value.ravel().tolist()})")


# Bone (joint, parent) pairs of MMAction2's JointToBone.
BONE_PAIRS = {
    "nturgb+d": ((0, 1), (1, 20), (2, 20), (3, 2), (4, 20), (5, 4), (6, 5), (7, 6), (8, 20),
                 (9, 8), (10, 9), (11, 10), (12, 0), (13, 12), (14, 13), (15, 14), (16, 0),
                 (17, 16), (18, 17), (19, 18), (21, 22), (20, 20), (22, 7), (23, 24),
                 (24, 11)),
    "openpose-18": ((0, 0), (1, 0), (2, 1), (3, 2), (4, 3), (5, 1), (6, 5), (7, 6), (8, 2),
                    (9, 8), (10, 9), (11, 5), (12, 11), (13, 12), (14, 0), (15, 0), (16, 14),
                    (17, 15)),
    "coco": ((0, 0), (1, 0), (2, 0), (3, 1), (4, 2), (5, 0), (6, 0), (7, 5), (8, 6), (9, 7),
             (10, 8), (11, 0), (12, 0), (13, 11), (14, 12), (15, 13), (16, 14)),
}


@PIPELINES.register
class JointToBone:
  """Joints -> bones (2s-AGCN's bone stream): each joint minus its parent's coordinates on
  ``(M, T, V, C)``; for 2-D 'openpose-18' / 'coco' poses with scores (C = 3) the third
  channel is the two joints' mean score instead."""

  def __init__(self, dataset="nturgb+d"):
    if dataset not in BONE_PAIRS:
      raise ValueError(f"The dataset type {dataset} is not supported; use one of "
                       f"{sorted(BONE_PAIRS)}")
    self.dataset = dataset
    self.pairs = BONE_PAIRS[dataset]

  def __call__(self, results: dict, rng=None) -> dict:
    kp = results["keypoint"]
    _, _, num_v, c = kp.shape
    if c not in (2, 3):
      raise ValueError(f"JointToBone: keypoints have {c} coordinates; expected 2 or 3")
    joint, parent = (np.array(x) for x in zip(*self.pairs))
    if joint.max() >= num_v:
      raise ValueError(f"JointToBone({self.dataset!r}) needs {joint.max() + 1} joints, the "
                       f"keypoints have {num_v}")
    bone = np.zeros(kp.shape, dtype=np.float32)
    bone[..., joint, :] = kp[..., joint, :] - kp[..., parent, :]
    if c == 3 and self.dataset in ("openpose-18", "coco"):
      bone[..., joint, 2] = (kp[..., joint, 2] + kp[..., parent, 2]) / 2
    results["keypoint"] = bone
    return results

  def __repr__(self) -> str:
    return f"{type(self).__name__}(dataset_type='{self.dataset}')"


@PIPELINES.register
class ToMotion:
  """Joints (or bones) -> their motion, the third and fourth streams of the four-stream
  practice (MMAction2 1.x's ``ToMotion``, pyskl's ``jm``/``bm``): on ``(M, T, V, C)`` frame
  ``t`` becomes frame ``t + 1`` minus frame ``t``, the last frame zero. For 2-D 'openpose-18' / 'coco' poses with scores (C = 3) the score channel
  is kept as is. Put it before FormatGCNInput (after JointToBone for the bone motion)."""

  def __init__(self, dataset="nturgb+d"):
    if dataset not in BONE_PAIRS:
      raise ValueError(f"The dataset type {dataset} is not supported; use one of "
                       f"{sorted(BONE_PAIRS)}")
    self.dataset = dataset

  def __call__(self, results: dict, rng=None) -> dict:
    kp = np.asarray(results["keypoint"], np.float32)
    motion = np.zeros_like(kp)
    motion[:, :-1] = kp[:, 1:] - kp[:, :-1]
    if kp.shape[-1] == 3 and self.dataset in ("openpose-18", "coco"):
      motion[..., 2] = kp[..., 2]
    results["keypoint"] = motion
    return results

  def __repr__(self) -> str:
    return f"{type(self).__name__}(dataset='{self.dataset}')"
