"""Tiny media the data and tools tests write for themselves: flat-colour videos (with an
optional audio track), textures, tones and WAV files."""

from __future__ import annotations

import io
import os

import cv2
import numpy as np

FPS, H, W = 8, 24, 32
# 12 frames of one colour each, consecutive ones at least 20 levels apart.
COLORS = [(20 * i, 240 - 20 * i, (60 * i) % 256) for i in range(12)]
TOL = 8  # codec + yuv420p rounding on flat colours


def flat(color, h=H, w=W):
  return np.tile(np.array(color, np.uint8), (h, w, 1))


def write_video(path, frames=None, fps=FPS, audio=None, codec="mpeg4", *, colors=COLORS,
                options=None):
  """Writes (or returns the bytes of, for path=None) a video of ``frames`` (default: flat
  ``colors``), with a 16 kHz mono AAC track of ``audio`` samples when given."""
  import av  # pylint: disable=g-import-not-at-top
  frames = [flat(c) for c in colors] if frames is None else frames
  if path is not None:
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
  target = io.BytesIO() if path is None else str(path)
  with av.open(target, "w", format="mp4" if path is None else None,
               options=options or {}) as container:
    stream = container.add_stream(codec, rate=fps)
    stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
    stream.pix_fmt = "yuv420p"
    if audio is not None:
      astream = container.add_stream("aac", rate=16000, layout="mono")
      for i in range(0, len(audio), 1024):
        chunk = av.AudioFrame.from_ndarray(audio[None, i:i + 1024].astype(np.float32).copy(),
                                           format="fltp", layout="mono")
        chunk.sample_rate, chunk.pts = 16000, i
        for packet in astream.encode(chunk):
          container.mux(packet)
      for packet in astream.encode():
        container.mux(packet)
    for i, img in enumerate(frames):
      frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
      frame.pts = i
      for packet in stream.encode(frame):
        container.mux(packet)
    for packet in stream.encode():
      container.mux(packet)
  return target.getvalue() if path is None else None


def mean_color(img):
  return img.reshape(-1, img.shape[-1]).mean(axis=0)


def texture(h=64, w=64, seed=0):
  """A smooth random grey texture (Farneback needs gradients at several scales)."""
  noise = np.random.default_rng(seed).random((h, w)).astype(np.float32)
  img = cv2.GaussianBlur(noise, (0, 0), 2.0)
  img = (img - img.min()) / (img.max() - img.min()) * 255
  return img.astype(np.uint8)


def sine(freq=1000.0, seconds=2.0, rate=16000, amp=0.5):
  t = np.arange(int(seconds * rate)) / rate
  return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_wav(path, samples, rate=16000):
  """int16 PCM WAV of float (channels, n) or (n,) samples in [-1, 1)."""
  import av  # pylint: disable=g-import-not-at-top
  data = np.atleast_2d(samples)
  pcm = np.round(data * 32767).astype(np.int16)
  layout = "mono" if len(data) == 1 else "stereo"
  with av.open(str(path), "w") as container:
    stream = container.add_stream("pcm_s16le", rate=rate, layout=layout)
    frame = av.AudioFrame.from_ndarray(pcm.T.reshape(1, -1).copy(), format="s16", layout=layout)
    frame.sample_rate = rate
    for packet in stream.encode(frame):
      container.mux(packet)
    for packet in stream.encode():
      container.mux(packet)
