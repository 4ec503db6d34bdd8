"""Pipeline ops: MMAction2 index semantics, shapes, values and result keys."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vjax.data import Compose, PIPELINES
from vjax.data.ops_augment import rescale_size


def _build(**cfg):
  return PIPELINES.build(cfg)


def _frames(n=4, h=30, w=40, c=3, seed=0):
  return np.random.default_rng(seed).integers(0, 256, size=(n, h, w, c), dtype=np.uint8)


def _sample(total_frames, start_index=0, rng=None, **kw):
  results = dict(total_frames=total_frames, start_index=start_index)
  return _build(type="SampleFrames", **kw)(results, rng)


# ---------------------------------------------------------------------------------- SampleFrames
# Expected indices below are worked by hand from MMAction2 0.24.1's definitions.

def test_sample_frames_test_mode_segment_centres():
  # avg = (10 - 1 + 1) / 3 = 3.33; offsets = int(i * 3.33 + 1.67) = 1, 5, 8.
  r = _sample(10, clip_len=1, num_clips=3, test_mode=True)
  np.testing.assert_array_equal(r["frame_inds"], [1, 5, 8])
  assert r["frame_inds"].dtype == np.int64
  assert (r["clip_len"], r["frame_interval"], r["num_clips"]) == (1, 1, 3)
  # start_index shifts every index (rawframes are numbered from 1).
  np.testing.assert_array_equal(
      _sample(10, start_index=1, clip_len=1, num_clips=3, test_mode=True)["frame_inds"], [2, 6, 9])


def test_sample_frames_test_mode_twice_sample():
  # Centres 1, 5, 8 then the unshifted starts 0, 3.33, 6.67 (truncated); num_clips stays 3.
  r = _sample(10, clip_len=1, num_clips=3, test_mode=True, twice_sample=True)
  np.testing.assert_array_equal(r["frame_inds"], [1, 5, 8, 0, 3, 6])
  assert r["num_clips"] == 3


def test_sample_frames_test_mode_multi_frame_clips():
  # ori_clip_len = 8, avg = (20 - 8 + 1) / 2 = 6.5, offsets int(3.25), int(9.75) = 3, 9.
  r = _sample(20, clip_len=4, frame_interval=2, num_clips=2, test_mode=True)
  np.testing.assert_array_equal(r["frame_inds"], [3, 5, 7, 9, 9, 11, 13, 15])


def test_sample_frames_short_video_loop_and_repeat_last():
  # 5 frames < 16 needed: offset 0, indices 0..14 step 2.
  loop = _sample(5, clip_len=8, frame_interval=2, test_mode=True)
  np.testing.assert_array_equal(loop["frame_inds"], [0, 2, 4, 1, 3, 0, 2, 4])
  last = _sample(5, clip_len=8, frame_interval=2, test_mode=True, out_of_bound_opt="repeat_last")
  np.testing.assert_array_equal(last["frame_inds"], [0, 2, 4, 4, 4, 4, 4, 4])


def test_sample_frames_train_fallbacks_and_segments():
  # avg_interval = (3 - 1 + 1) // 4 = 0 and 3 <= max(4, 1): rounded linspace 0, .75, 1.5, 2.25.
  r = _sample(3, clip_len=1, num_clips=4, rng=np.random.default_rng(0))
  np.testing.assert_array_equal(r["frame_inds"], [0, 1, 2, 2])
  # avg_interval = (100 - 16 + 1) // 3 = 28: clip i starts in [28 i, 28 i + 28).
  for seed in range(20):
    r = _sample(100, clip_len=8, frame_interval=2, num_clips=3, rng=np.random.default_rng(seed))
    starts = r["frame_inds"].reshape(3, 8)[:, 0]
    assert all(28 * i <= s < 28 * (i + 1) for i, s in enumerate(starts))
    np.testing.assert_array_equal(np.diff(r["frame_inds"].reshape(3, 8), axis=1), 2)


def test_sample_frames_train_is_deterministic_under_seed():
  a = _sample(300, clip_len=8, frame_interval=4, num_clips=2, temporal_jitter=True,
              rng=np.random.default_rng(7))["frame_inds"]
  b = _sample(300, clip_len=8, frame_interval=4, num_clips=2, temporal_jitter=True,
              rng=np.random.default_rng(7))["frame_inds"]
  c = _sample(300, clip_len=8, frame_interval=4, num_clips=2, temporal_jitter=True,
              rng=np.random.default_rng(8))["frame_inds"]
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, c)
  assert a.min() >= 0 and a.max() < 300


def test_sample_frames_frame_uniform():
  # seg = 9 / 4 = 2.25; starts round(0, 2.25, 4.5, 6.75) = 0, 2, 4, 7; ends 2, 4, 7, 9.
  r = _sample(10, clip_len=4, test_mode=True, frame_uniform=True)
  np.testing.assert_array_equal(r["frame_inds"], [1, 3, 5, 8])
  for seed in range(10):
    rng = np.random.default_rng(seed)
    inds = _sample(10, clip_len=4, frame_uniform=True, rng=rng)["frame_inds"]
    assert all(lo <= i <= hi for i, lo, hi in zip(inds, [0, 2, 4, 7], [2, 4, 7, 9]))


def test_dense_sample_frames_test_mode():
  # sample_position = 13, interval 8 // 2 = 4, starts linspace(0, 12, 2) = 0, 12.
  r = _build(type="DenseSampleFrames", clip_len=2, num_clips=2, sample_range=8,
             num_sample_positions=2, test_mode=True)(dict(total_frames=20, start_index=0))
  np.testing.assert_array_equal(r["frame_inds"], [0, 1, 4, 5, 12, 13, 16, 17])


def test_sample_frames_rejects_bad_option():
  with pytest.raises(ValueError, match="out_of_bound_opt"):
    _build(type="SampleFrames", clip_len=1, out_of_bound_opt="clip")


# ------------------------------------------------------------------------------------ decoders

def test_frame_bytes_decode_decodes_only_sampled_frames():
  frames = _frames(6, 16, 20)
  encoded = [cv2.imencode(".png", cv2.cvtColor(f, cv2.COLOR_RGB2BGR))[1].tobytes() for f in frames]
  r = dict(frames_bytes=encoded, start_index=0, frame_inds=np.array([4, 1, 4]))
  out = _build(type="FrameBytesDecode")(r)
  np.testing.assert_array_equal(out["imgs"], frames[[4, 1, 4]])  # PNG: lossless, RGB order.
  assert out["original_shape"] == out["img_shape"] == (16, 20)
  assert "frames_bytes" not in out
  with pytest.raises(IndexError, match="out of range"):
    _build(type="FrameBytesDecode")(dict(frames_bytes=encoded, frame_inds=np.array([6])))
  with pytest.raises(ValueError, match="Could not decode frame 0"):
    _build(type="FrameBytesDecode")(dict(frames_bytes=[b"not a jpeg"], frame_inds=np.array([0])))


def test_raw_frame_decode_rgb_flow_and_missing(tmp_path):
  frames = _frames(3, 12, 10)
  for i, f in enumerate(frames, start=1):
    cv2.imwrite(str(tmp_path / f"img_{i:05}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(tmp_path / f"flow_x_{i:05}.png"), f[..., 0])
    cv2.imwrite(str(tmp_path / f"flow_y_{i:05}.png"), f[..., 1])
  base = dict(frame_dir=str(tmp_path), modality="RGB", start_index=1)
  out = _build(type="RawFrameDecode")(dict(base, filename_tmpl="img_{:05}.png",
                                            frame_inds=np.array([1, 3, 3])))
  np.testing.assert_array_equal(out["imgs"], frames[[0, 2, 2]])
  flow = _build(type="RawFrameDecode")(dict(base, modality="Flow", frame_inds=np.array([2]),
                                             filename_tmpl="flow_{}_{:05}.png"))
  np.testing.assert_array_equal(flow["imgs"], frames[[1]][..., :2])
  with pytest.raises(FileNotFoundError, match=r"img_00004.png.*start_index"):
    _build(type="RawFrameDecode")(dict(base, filename_tmpl="img_{:05}.png",
                                       frame_inds=np.array([4])))


def _write_video(path, num_frames=12, size=32):
  av = pytest.importorskip("av")
  with av.open(str(path), "w") as c:
    s = c.add_stream("mpeg4", rate=10)
    s.width = s.height = size
    s.pix_fmt = "yuv420p"
    for i in range(num_frames):
      img = np.full((size, size, 3), 16 + 18 * i, np.uint8)
      for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
        c.mux(p)
    for p in s.encode():
      c.mux(p)


@pytest.mark.parametrize("multi_thread", [False, True])
def test_pyav_init_and_decode(tmp_path, multi_thread):
  path = tmp_path / "v.mp4"
  _write_video(path)
  r = _build(type="PyAVInit")(dict(filename=str(path), start_index=0))
  assert r["total_frames"] == 12
  r["frame_inds"] = np.array([2, 7, 2, 11, 14])  # 14 is past the end: wraps to 2.
  out = _build(type="PyAVDecode", multi_thread=multi_thread)(r)
  assert out["imgs"].shape == (5, 32, 32, 3) and out["imgs"].dtype == np.uint8
  np.testing.assert_allclose(out["imgs"].mean(axis=(1, 2, 3)), [52, 142, 52, 214, 52], atol=6)
  assert out["video_reader"] is None


# ---------------------------------------------------------------------------------- resize/crop

def test_rescale_size_matches_mmcv_rule():
  assert rescale_size((320, 240), (np.inf, 256)) == (341, 256)
  assert rescale_size((40, 30), (64, 20)) == (27, 20)
  assert rescale_size((40, 30), 0.5) == (20, 15)


def test_resize_short_side_and_exact():
  r = _build(type="Resize", scale=(-1, 16))(dict(imgs=_frames()))
  assert r["imgs"].shape == (4, 16, 21, 3) and r["img_shape"] == (16, 21)
  np.testing.assert_allclose(r["scale_factor"], [21 / 40, 16 / 30], rtol=1e-6)
  assert r["keep_ratio"] is True
  r = _build(type="Resize", scale=(8, 6), keep_ratio=False)(r)
  assert r["imgs"].shape == (4, 6, 8, 3) and r["img_shape"] == (6, 8)
  np.testing.assert_allclose(r["scale_factor"], [8 / 40, 6 / 30], rtol=1e-6)
  one = cv2.resize(_frames()[0], (21, 16), interpolation=cv2.INTER_LINEAR)
  np.testing.assert_array_equal(_build(type="Resize", scale=(-1, 16))(
      dict(imgs=_frames()))["imgs"][0], one)
  with pytest.raises(TypeError):
    _build(type="Resize", scale=256)


def test_center_crop_keys_and_values():
  src = _frames()
  r = _build(type="CenterCrop", crop_size=16)(dict(imgs=src))
  np.testing.assert_array_equal(r["crop_bbox"], [12, 7, 28, 23])
  np.testing.assert_array_equal(r["imgs"], src[:, 7:23, 12:28])
  assert r["img_shape"] == (16, 16)
  np.testing.assert_allclose(r["crop_quadruple"], [12 / 40, 7 / 30, 16 / 40, 16 / 30])


def test_random_resized_crop_ranges_and_determinism():
  src = _frames(2, 60, 80)
  op = _build(type="RandomResizedCrop", area_range=(0.2, 0.5))
  for seed in range(10):
    r = op(dict(imgs=src), np.random.default_rng(seed))
    x1, y1, x2, y2 = r["crop_bbox"]
    assert 0 <= x1 < x2 <= 80 and 0 <= y1 < y2 <= 60
    assert 0.15 <= (x2 - x1) * (y2 - y1) / (60 * 80) <= 0.55
    np.testing.assert_array_equal(r["imgs"], src[:, y1:y2, x1:x2])
  a = op(dict(imgs=src), np.random.default_rng(3))["crop_bbox"]
  np.testing.assert_array_equal(a, op(dict(imgs=src), np.random.default_rng(3))["crop_bbox"])


def test_multi_scale_crop_fixed_offsets():
  src = _frames(2, 60, 80)
  op = _build(type="MultiScaleCrop", input_size=40, scales=(1, 0.8), max_wh_scale_gap=0)
  seen = set()
  for seed in range(30):
    r = op(dict(imgs=src), np.random.default_rng(seed))
    x1, y1, x2, y2 = r["crop_bbox"]
    w, h = x2 - x1, y2 - y1
    assert w == h and w in (60, 48)  # scales of the short side (60), same level for w and h.
    ws, hs = (80 - w) // 4, (60 - h) // 4
    assert (x1, y1) in {(0, 0), (4 * ws, 0), (0, 4 * hs), (4 * ws, 4 * hs), (2 * ws, 2 * hs)}
    assert r["scales"] == (1, 0.8)
    seen.add((x1, y1, w))
  assert len(seen) > 3


def test_three_and_ten_crop_view_major():
  src = _frames(3, 16, 24)
  r = _build(type="ThreeCrop", crop_size=16)(dict(imgs=src))
  assert r["imgs"].shape == (9, 16, 16, 3) and r["num_crops"] == 3
  np.testing.assert_array_equal(r["imgs"][3:6], src[:, :, 8:24])  # 2nd view: right.
  np.testing.assert_array_equal(r["imgs"][6:9], src[:, :, 4:20])  # 3rd view: middle.
  assert r["crop_bbox"].shape == (9, 4)
  src = _frames(2, 20, 24)
  r = _build(type="TenCrop", crop_size=16)(dict(imgs=src))
  assert r["imgs"].shape == (20, 16, 16, 3) and r["num_crops"] == 10
  np.testing.assert_array_equal(r["imgs"][0:2], src[:, 0:16, 0:16])
  np.testing.assert_array_equal(r["imgs"][2:4], src[:, 0:16, 0:16][:, :, ::-1])
  with pytest.raises(ValueError, match="ThreeCrop"):
    _build(type="ThreeCrop", crop_size=10)(dict(imgs=src))


def test_flip_images_labels_and_flow():
  src = _frames()
  r = _build(type="Flip", flip_ratio=1.0, flip_label_map={1: 2})(dict(imgs=src, label=1,
                                                                        modality="RGB"))
  np.testing.assert_array_equal(r["imgs"], src[:, :, ::-1])
  assert r["flip"] is True and r["flip_direction"] == "horizontal" and r["label"] == 2
  r = _build(type="Flip", flip_ratio=0.0)(dict(imgs=src, label=1))
  np.testing.assert_array_equal(r["imgs"], src)
  assert r["flip"] is False and r["label"] == 1
  flow = _frames(c=2)
  r = _build(type="Flip", flip_ratio=1.0)(dict(imgs=flow, modality="Flow"))
  np.testing.assert_array_equal(r["imgs"][..., 0], 255 - flow[:, :, ::-1, 0])
  np.testing.assert_array_equal(r["imgs"][..., 1], flow[:, :, ::-1, 1])


def test_lazy_ops_fuse_like_eager():
  src = _frames(2, 40, 50)
  eager = Compose([dict(type="CenterCrop", crop_size=(30, 20)), dict(type="Flip", flip_ratio=1)])
  lazy = Compose([dict(type="CenterCrop", crop_size=(30, 20), lazy=True),
                  dict(type="Flip", flip_ratio=1, lazy=True), dict(type="Fuse")])
  a, b = eager(dict(imgs=src)), lazy(dict(imgs=src))
  np.testing.assert_array_equal(a["imgs"], b["imgs"])
  assert "lazy" not in b and b["img_shape"] == (20, 30)
  with pytest.raises(ValueError, match="Fuse"):
    Compose([dict(type="CenterCrop", crop_size=8, lazy=True), dict(type="CenterCrop",
                                                                   crop_size=4)])(dict(imgs=src))


def test_normalize_values():
  src = _frames(2, 4, 4)
  mean, std = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
  r = _build(type="Normalize", mean=mean, std=std)(dict(imgs=src, modality="RGB"))
  assert r["imgs"].dtype == np.float32
  np.testing.assert_allclose(r["imgs"], (src - np.float32(mean)) / np.float32(std), rtol=1e-5)
  r = _build(type="Normalize", mean=mean, std=std, to_bgr=True)(dict(imgs=src, modality="RGB"))
  np.testing.assert_allclose(r["imgs"], (src[..., ::-1] - np.float32(mean)) / np.float32(std),
                             rtol=1e-5)
  assert set(r["img_norm_cfg"]) == {"mean", "std", "to_bgr"}


# -------------------------------------------------------------------------------------- format

def test_format_shape_channels_last():
  clips, t, crops = 2, 3, 3
  src = _frames(crops * clips * t, 5, 6)
  base = dict(num_clips=clips, clip_len=t)
  r = _build(type="FormatShape", input_format="NCTHW")(dict(base, imgs=src))
  assert r["imgs"].shape == (crops * clips, t, 5, 6, 3) and r["imgs"].dtype == np.uint8
  np.testing.assert_array_equal(r["imgs"][4, 1], src[4 * t + 1])
  assert r["input_shape"] == r["imgs"].shape
  r = _build(type="FormatShape", input_format="NCHW")(dict(base, imgs=src))
  assert r["imgs"].shape == (crops * clips * t, 5, 6, 3)
  flow = _frames(clips * t, 5, 6, c=2)
  r = _build(type="FormatShape", input_format="NCHW_Flow")(dict(base, imgs=flow))
  assert r["imgs"].shape == (clips, 5, 6, t * 2)
  np.testing.assert_array_equal(r["imgs"][1, ..., 2 * 2 + 1], flow[1 * t + 2, ..., 1])
  r = _build(type="FormatShape", input_format="NCTHW", collapse=True)(
      dict(num_clips=1, clip_len=4, imgs=_frames(4, 5, 6)))
  assert r["imgs"].shape == (4, 5, 6, 3)
  with pytest.raises(ValueError):
    _build(type="FormatShape", input_format="NTHWC")


def test_collect_and_to_tensor():
  r = dict(imgs=_frames(), label=3, filename="a.mp4", img_shape=(30, 40), extra=1)
  out = _build(type="Collect", keys=["imgs", "label"], meta_keys=["filename", "img_shape"])(r)
  assert set(out) == {"imgs", "label", "img_metas"}
  assert out["img_metas"] == {"filename": "a.mp4", "img_shape": (30, 40)}
  assert set(_build(type="Collect", keys=["imgs"], meta_keys=[])(dict(r))) == {"imgs"}
  with pytest.raises(KeyError, match="missing|not in results"):
    _build(type="Collect", keys=["nope"], meta_keys=[])(dict(r))
  out = _build(type="ToTensor", keys=["label"])(dict(label=3))
  assert isinstance(out["label"], np.ndarray) and out["label"] == 3


# ------------------------------------------------------------------------------------- compose

_TRAIN = [dict(type="SampleFrames", clip_len=4, frame_interval=2, num_clips=1),
          dict(type="Resize", scale=(-1, 20)),
          dict(type="RandomResizedCrop"),
          dict(type="Resize", scale=(16, 16), keep_ratio=False),
          dict(type="Flip", flip_ratio=0.5),
          dict(type="FormatShape", input_format="NCTHW"),
          dict(type="Collect", keys=["imgs", "label"], meta_keys=[]),
          dict(type="ToTensor", keys=["imgs", "label"])]


def _video_results():
  # Stand-in for a decoder: all frames already "decoded", SampleFrames' indices select them.
  return dict(total_frames=32, start_index=0, label=1, frames=_frames(32, 30, 40))


class _TakeFrames:
  """Test op with the one-argument MMAction2 signature (no rng)."""

  def __call__(self, results):
    results["imgs"] = results.pop("frames")[results["frame_inds"]]
    return results


def test_compose_deterministic_under_seed():
  pipe = Compose(_TRAIN[:1] + [_TakeFrames()] + _TRAIN[1:])
  a = pipe(_video_results(), np.random.default_rng(0))
  b = pipe(_video_results(), np.random.default_rng(0))
  assert set(a) == {"imgs", "label"}
  assert a["imgs"].shape == (1, 4, 16, 16, 3) and a["imgs"].dtype == np.uint8
  np.testing.assert_array_equal(a["imgs"], b["imgs"])
  others = [pipe(_video_results(), np.random.default_rng(s))["imgs"] for s in range(1, 4)]
  assert any(not np.array_equal(a["imgs"], o) for o in others)


def test_compose_unknown_op_names_close_matches():
  with pytest.raises(KeyError, match="SampleFrames"):
    Compose([dict(type="SampleFrame", clip_len=1)])
