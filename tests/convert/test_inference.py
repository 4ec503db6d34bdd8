"""The inference API: init_recognizer / forward / inference_recognizer on tiny models."""

from __future__ import annotations

import textwrap

import av
import cv2
import jax
import numpy as np
import pytest

from tests.convert import golden
from vjax.config import default_config
from vjax.convert import load
from vjax.inference import init_recognizer, inference_recognizer, pipeline_imgs

IMG_NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_bgr=False)
NPZ = {name: str(golden.GOLDEN / f"{name}.state.npz")
       for name in ("tsn_r18_small", "slowfast_small")}


def pipeline(case_name):
  if case_name == "slowfast_small":
    sample, fmt = dict(clip_len=8, frame_interval=2, num_clips=1), "NCTHW"
  else:
    sample, fmt = dict(clip_len=1, frame_interval=1, num_clips=3), "NCHW"
  return [dict(type="DecordInit"),
          dict(type="SampleFrames", test_mode=True, **sample),
          dict(type="DecordDecode"),
          dict(type="Resize", scale=(-1, 32)),
          dict(type="CenterCrop", crop_size=32),
          dict(type="FormatShape", input_format=fmt),
          dict(type="Collect", keys=["imgs"], meta_keys=[])]


def config(case_name="tsn_r18_small"):
  c = default_config()
  c.model = golden.vjax_model_cfg(golden.CASES[case_name])
  c.data.img_norm_cfg = IMG_NORM
  c.data.test = dict(type="RawframeDataset", ann_file="unused.txt", data_prefix="",
                     filename_tmpl="frame_{:03}.png", start_index=1,
                     pipeline=pipeline(case_name))
  return c


def frames(t=16, h=48, w=64):
  """Smooth, distinct frames (they survive mpeg4 compression nearly unchanged)."""
  y, x = np.mgrid[0:h, 0:w]
  out = np.empty((t, h, w, 3), np.uint8)
  for i in range(t):
    out[i, ..., 0] = (x * 4 + i * 9) % 256
    out[i, ..., 1] = (y * 5 + i * 5) % 256
    out[i, ..., 2] = 40 + 10 * i
  return out


def write_video(path, video):
  with av.open(str(path), "w") as container:
    stream = container.add_stream("mpeg4", rate=25)
    stream.width, stream.height, stream.pix_fmt = video.shape[2], video.shape[1], "yuv420p"
    stream.bit_rate = 4_000_000
    for f in video:
      container.mux(stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
    container.mux(stream.encode())


@pytest.mark.parametrize("name", ["tsn_r18_small", "slowfast_small"])
def test_forward_is_mmaction2_forward_dummy(name):
  case = golden.CASES[name]
  rec = init_recognizer(config(name), NPZ[name])
  x = golden.channels_last(golden.channels_first_input(case))
  if name == "slowfast_small":
    x = x[:, 0]  # (N, 1 view, T, H, W, C) -> (N, T, H, W, C): forward takes one clip per row
  got = np.asarray(rec.forward(x))
  expected = golden.output(case)
  assert got.shape == expected.shape == (2, 10)
  np.testing.assert_allclose(got, expected, atol=1e-4 * max(1, np.abs(expected).max()))
  assert rec.config.model.cls_head.num_classes == 10
  assert rec.variables["params"]["cls_head"]["fc_cls"]["kernel"].shape[-1] == 10


def test_inference_on_an_array_a_video_file_and_a_frame_folder(tmp_path):
  rec = init_recognizer(config(), NPZ["tsn_r18_small"])
  video = frames()
  from_array = inference_recognizer(rec, video)
  assert len(from_array) == 5
  assert [s for _, s in from_array] == sorted((s for _, s in from_array), reverse=True)
  # The same numbers by hand: pipeline -> normalise -> forward_dummy (one view: no averaging).
  imgs = pipeline_imgs(rec.config, video).astype(np.float32)
  assert imgs.shape == (3, 32, 32, 3)
  x = (imgs - np.array(IMG_NORM["mean"])) / np.array(IMG_NORM["std"])
  scores = np.asarray(rec.forward(x[None]))[0]
  for label, score in from_array:
    assert score == pytest.approx(scores[label], abs=1e-5)
  assert from_array[0][0] == int(scores.argmax())

  folder = tmp_path / "frames"
  folder.mkdir()
  for i, f in enumerate(video):  # lossless PNGs numbered from start_index=1
    cv2.imwrite(str(folder / f"frame_{i + 1:03}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
  (folder / "notes.txt").write_text("not a frame")
  from_frames = inference_recognizer(rec, folder)
  assert [l for l, _ in from_frames] == [l for l, _ in from_array]
  np.testing.assert_allclose([s for _, s in from_frames], [s for _, s in from_array], rtol=1e-6)

  path = tmp_path / "clip.mp4"
  write_video(path, video)
  from_file = inference_recognizer(rec, str(path))
  assert len(from_file) == 5
  assert [s for _, s in from_file] == sorted((s for _, s in from_file), reverse=True)
  assert from_file[0][0] == from_array[0][0]
  with pytest.raises(FileNotFoundError):
    inference_recognizer(rec, str(tmp_path / "missing.mp4"))
  with pytest.raises(ValueError, match="T, H, W, 3"):
    inference_recognizer(rec, video[0])


MM_CONFIG = """
model = {model!r}
img_norm_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_bgr=False)
test_pipeline = [
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=3, test_mode=True),
    dict(type='RawFrameDecode'),
    dict(type='Resize', scale=(-1, 32)),
    dict(type='CenterCrop', crop_size=32),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='Collect', keys=['imgs'], meta_keys=[]),
    dict(type='ToTensor', keys=['imgs'])
]
data = dict(videos_per_gpu=1, workers_per_gpu=1,
            test=dict(type='RawframeDataset', ann_file='x.txt', data_prefix='',
                      pipeline=test_pipeline))
dist_params = dict(backend='nccl')
"""


def test_mmaction2_config_and_vjax_checkpoint_directory(tmp_path):
  mm_path = tmp_path / "tsn_tiny_mmaction2.py"
  mm_path.write_text(textwrap.dedent(MM_CONFIG.format(
      model=golden.CASES["tsn_r18_small"]["model"])))
  rec = init_recognizer(str(mm_path), NPZ["tsn_r18_small"])
  assert rec.config.data.img_norm_cfg.to_dict() == IMG_NORM
  assert "Normalize" not in [op["type"] for op in rec.config.data.test.pipeline]
  reference = init_recognizer(config(), NPZ["tsn_r18_small"])
  video = frames()
  assert inference_recognizer(rec, video) == inference_recognizer(reference, video)

  out = load.convert_main([f"--config={mm_path}", f"--checkpoint={NPZ['tsn_r18_small']}",
                   f"--out={tmp_path / 'converted'}"])
  from_dir = init_recognizer(str(mm_path), out)
  jax.tree.map(np.testing.assert_array_equal, jax.device_get(from_dir.variables),
               jax.device_get(rec.variables))


def test_random_init_without_checkpoint():
  rec = init_recognizer(config("slowfast_small"))
  assert rec.report.problems() == []
  out = rec.forward(np.zeros((3, 8, 32, 32, 3), np.float32))
  assert out.shape == (3, 10)
