"""FormatShape gives MMAction2's layouts with channels moved last; the small formatting ops."""

from __future__ import annotations

import numpy as np
import pytest

from vjax.data import PIPELINES

CROPS, CLIPS, T, H, W = 3, 2, 4, 5, 6


def _build(**cfg):
  return PIPELINES.build(cfg)


def _imgs(n, c=3):
  """Frames whose every value is distinct, so any misplaced element shows."""
  return np.arange(n * H * W * c, dtype=np.int64).reshape(n, H, W, c)


def _format(fmt, imgs, **results):
  return _build(type="FormatShape", input_format=fmt)(dict(results, imgs=imgs))["imgs"]


def test_ncthw_is_mmaction2_with_channels_last():
  imgs = _imgs(CROPS * CLIPS * T)
  out = _format("NCTHW", imgs, num_clips=CLIPS, clip_len=T)
  # MMAction2: (crops, clips, T, H, W, C) -> (crops * clips, C, T, H, W).
  mm = imgs.reshape(CROPS, CLIPS, T, H, W, 3).transpose(0, 1, 5, 2, 3, 4).reshape(-1, 3, T, H, W)
  np.testing.assert_array_equal(out, mm.transpose(0, 2, 3, 4, 1))
  # twice_sample doubles the clips while num_clips keeps its value: still one view per clip.
  out = _format("NCTHW", _imgs(2 * CLIPS * T), num_clips=CLIPS, clip_len=T)
  assert out.shape == (2 * CLIPS, T, H, W, 3)


def test_nchw_and_flow():
  imgs = _imgs(CROPS * CLIPS * T)
  np.testing.assert_array_equal(_format("NCHW", imgs, num_clips=CLIPS, clip_len=T), imgs)
  flow = _imgs(CROPS * CLIPS * T, c=2)
  out = _format("NCHW_Flow", flow, num_clips=CLIPS, clip_len=T)
  # MMAction2: (crops, clips, T, C, H, W) -> (crops * clips, T * C, H, W), t-major channels.
  mm = flow.reshape(CROPS, CLIPS, T, H, W, 2).transpose(0, 1, 2, 5, 3, 4).reshape(-1, T * 2, H, W)
  np.testing.assert_array_equal(out, mm.transpose(0, 2, 3, 1))


def test_nptchw():
  proposals = 2
  imgs = _imgs(proposals * CLIPS * T)
  out = _format("NPTCHW", imgs, num_proposals=proposals, num_clips=CLIPS, clip_len=T)
  mm = imgs.reshape(proposals, CLIPS * T, H, W, 3).transpose(0, 1, 4, 2, 3)
  np.testing.assert_array_equal(out, mm.transpose(0, 1, 3, 4, 2))


def test_collapse():
  imgs = _imgs(T)
  r = _build(type="FormatShape", input_format="NCTHW", collapse=True)(
      dict(imgs=imgs, num_clips=1, clip_len=T))
  np.testing.assert_array_equal(r["imgs"], imgs)
  assert r["input_shape"] == (T, H, W, 3)
  with pytest.raises(ValueError, match="num_clips"):
    _build(type="FormatShape", input_format="NCTHW", collapse=True)(
        dict(imgs=_imgs(2 * T), num_clips=2, clip_len=T))
  with pytest.raises(ValueError, match="one view"):  # One clip, but three crops.
    _build(type="FormatShape", input_format="NCTHW", collapse=True)(
        dict(imgs=_imgs(3 * T), num_clips=1, clip_len=T))


def test_collect_rename_and_tensors():
  results = dict(imgs=list(_imgs(2)), label=1, filename="v.mp4", img_shape=(H, W), other=0)
  out = _build(type="Collect", keys=["imgs", "label"], meta_name="video_meta", nested=True,
               meta_keys=["filename", "img_shape", "flip_direction"])(dict(results))
  assert set(out) == {"imgs", "label", "video_meta"}
  assert out["video_meta"] == [dict(filename="v.mp4", img_shape=(H, W))]  # Missing keys skipped.
  assert out["label"] == [1]
  r = _build(type="Rename", mapping=dict(imgs="img"))(dict(results))
  assert "img" in r and "imgs" not in r
  with pytest.raises(ValueError, match="already exists"):
    _build(type="Rename", mapping=dict(imgs="label"))(dict(results))
  r = _build(type="ToTensor", keys=["imgs", "label"])(dict(results))
  assert isinstance(r["imgs"], np.ndarray) and r["imgs"].shape == (2, H, W, 3)
  img = _imgs(1)[0]
  r = _build(type="ImageToTensor", keys=["img"])(dict(img=list(img)))
  np.testing.assert_array_equal(r["img"], img)  # Channels stay last.
  r = _build(type="Transpose", keys=["img"], order=[2, 0, 1])(dict(img=img))
  np.testing.assert_array_equal(r["img"], img.transpose(2, 0, 1))
