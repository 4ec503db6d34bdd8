"""Golden values for vjax's raw-audio ops (AudioDecodeInit, AudioDecode, AudioAmplify,
MelSpectrogram), computed by MMAction2 0.24.1 itself with librosa.

Runs ONLY in the reference virtualenv (tests/reference/setup_venv.sh, plus librosa):
    /work/mmaction2-ref-venv/bin/python tests/reference/make_golden_audio.py
writes tests/golden/audio/: ``cases.json`` (op configs, input descriptions, MMAction2's
outputs' shapes, checksums, errors), ``arrays.npz`` (the float outputs) and ``meta.json``.

The inputs are not stored. The functions above ``main`` (numpy and the standard library
only) draw every waveform from ``numpy.random.default_rng([SEED, key]).random`` and encode
the WAV files byte by byte; tests/data/test_audio_raw.py imports them to rebuild the same
inputs, and checks them against the SHA-256 sums recorded here.

MelSpectrogram: MMAction2's op calls librosa.feature.melspectrogram, then truncates or pads
the wrong axis of its (n_mels, frames) result (and raises on its own defaults). The script
records both the spectrogram librosa returned inside MMAction2's op (``mel`` arrays) and
what the op itself returned or raised.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import struct
import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SEED = 20240815
CONFIG = "recognition_audio/resnet/tsn_r50_64x1x1_100e_kinetics400_audio.py"

# name -> how the test WAV is made: waveform key, seconds, rate, channels, encoding.
INPUT_FILES = {
    "mono16k.wav": dict(key=1, seconds=0.25, rate=16000, channels=1, encoding="pcm16"),
    "stereo16k.wav": dict(key=2, seconds=0.25, rate=16000, channels=2, encoding="pcm16"),
    "mono22k.wav": dict(key=3, seconds=0.25, rate=22050, channels=1, encoding="pcm16"),
    "stereo44k.wav": dict(key=4, seconds=0.1, rate=44100, channels=2, encoding="pcm16"),
    "mono16k_24bit.wav": dict(key=5, seconds=0.25, rate=16000, channels=1, encoding="pcm24"),
    "mono16k_float.wav": dict(key=6, seconds=0.25, rate=16000, channels=1, encoding="float32"),
}
TONE = dict(seconds=2.5, rate=16000, hz=440.0, amplitude=0.3)


# ---------------------------------------------------------------- inputs (shared with vjax)
def waveform(key: int, n: int) -> np.ndarray:
  """float64 samples in [-1, 1), drawn from the seed and ``key``."""
  return np.random.default_rng([SEED, key]).random(n) * 2 - 1


def float32_waveform(key: int, shape) -> np.ndarray:
  n = int(np.prod(shape))
  return waveform(key, n).astype(np.float32).reshape(shape)


def wav_bytes(samples: np.ndarray, rate: int, encoding: str) -> bytes:
  """A WAV file (RIFF, one 16-byte fmt chunk, one data chunk) of float64 ``samples``
  (frames, channels) in [-1, 1): 'pcm16' and 'pcm24' quantize by flooring, 'float32' is IEEE
  float."""
  samples = np.asarray(samples, np.float64)
  frames, channels = samples.shape
  if encoding == "pcm16":
    data = np.clip(np.floor(samples * 2**15), -2**15, 2**15 - 1).astype("<i2").tobytes()
    tag, width = 1, 2
  elif encoding == "pcm24":
    ints = np.clip(np.floor(samples * 2**23), -2**23, 2**23 - 1).astype("<i4")
    data = ints.reshape(-1, 1).view(np.uint8)[:, :3].tobytes()
    tag, width = 1, 3
  elif encoding == "float32":
    data = samples.astype("<f4").tobytes()
    tag, width = 3, 4
  else:
    raise ValueError(f"unknown encoding {encoding!r}")
  block = channels * width
  fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, width * 8)
  body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
  body += b"data" + struct.pack("<I", len(data)) + data
  return b"RIFF" + struct.pack("<I", len(body)) + body


def input_file_bytes(name: str) -> bytes:
  spec = INPUT_FILES[name]
  frames = int(round(spec["seconds"] * spec["rate"]))
  samples = waveform(spec["key"], frames * spec["channels"]).reshape(frames, spec["channels"])
  return wav_bytes(samples, spec["rate"], spec["encoding"])


def tone_wav_bytes() -> bytes:
  """A 440 Hz sine at 0.3 of full scale, 2.5 s of 16 kHz mono 16-bit PCM."""
  t = np.arange(int(TONE["seconds"] * TONE["rate"])) / TONE["rate"]
  tone = TONE["amplitude"] * np.sin(2 * np.pi * TONE["hz"] * t)
  return wav_bytes(tone[:, None], TONE["rate"], "pcm16")


def sha256(data) -> str:
  if isinstance(data, np.ndarray):
    data = np.ascontiguousarray(data).tobytes()
  return hashlib.sha256(data).hexdigest()


def write_inputs(directory: Path) -> dict:
  """Writes every input WAV (and tone.wav) into ``directory``; returns {name: sha256}."""
  directory.mkdir(parents=True, exist_ok=True)
  sums = {}
  for name in INPUT_FILES:
    data = input_file_bytes(name)
    (directory / name).write_bytes(data)
    sums[name] = sha256(data)
  data = tone_wav_bytes()
  (directory / "tone.wav").write_bytes(data)
  sums["tone.wav"] = sha256(data)
  return sums


# Ops on arrays. Inputs: the waveform key and shape; results keys for AudioDecode.
DECODE_INIT_CASES = [
    ("mono16k.wav", {}),
    ("stereo16k.wav", {}),
    ("mono22k.wav", {}),  # resampled 22050 -> 16000
    ("stereo44k.wav", {}),  # mixed down, then resampled 44100 -> 16000
    ("mono16k.wav", {"sample_rate": 8000}),
    ("mono22k.wav", {"sample_rate": None}),  # the file's own rate
    ("mono16k_24bit.wav", {}),
    ("mono16k_float.wav", {}),
]
# (key, length, total_frames, SampleFrames test-mode args, start_index, AudioDecode args)
DECODE_CASES = [
    (11, 1000, 50, dict(clip_len=8, num_clips=3), 1, dict(fixed_length=300)),  # pad
    (12, 1000, 50, dict(clip_len=16, num_clips=2), 1, dict(fixed_length=100)),  # truncate
    (13, 10, 4, dict(clip_len=2, num_clips=1), 0, dict(fixed_length=6)),  # 2.5 -> 2
    (14, 777, 33, dict(clip_len=4, frame_interval=3, num_clips=4), 0, dict(fixed_length=90)),
    (15, 500, 20, dict(clip_len=16, frame_interval=2, num_clips=2), 1, dict(fixed_length=500)),
    (16, 80000, 300, dict(clip_len=64, num_clips=1), 1, {}),  # defaults: 32000 samples
    (17, 80000, 64, dict(clip_len=64, num_clips=2), 1, {}),
]
AMPLIFY_CASES = [(21, (2, 500), 1.5), (22, (1, 300), 0.5), (23, (3, 200), 2.0),
                 (24, (2, 250), 1.1), (25, (1, 100), 1e-3)]
# (name, key, sample_rate, clips, samples, MelSpectrogram args)
MEL_CASES = [
    ("default_16k", 31, 16000, 1, 32000, {}),  # 126 frames < 128: MMAction2 raises
    ("window25_16k", 32, 16000, 2, 8000, dict(window_size=25, step_size=10, n_mels=40,
                                              fixed_length=32)),
    ("pad_8k", 33, 8000, 2, 4000, dict(n_mels=64, fixed_length=48)),
    ("bands128_22k", 34, 22050, 1, 11025, dict(n_mels=128, fixed_length=128)),
    ("odd_fft_44k", 35, 44100, 1, 11025, dict(n_mels=80, fixed_length=16)),
    ("rows_pad_16k", 36, 16000, 1, 8000, dict(n_mels=20, fixed_length=30)),
    ("empty_bands_8k", 37, 8000, 1, 4000, dict(n_mels=256, fixed_length=128)),  # warns
]
KEEP_ARRAY_UP_TO = 20000  # bit-exact outputs larger than this are stored as checksums only


# -------------------------------------------------------------------------- MMAction2 side
def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--out", default=str(HERE.parent / "golden" / "audio"))
  args = parser.parse_args(argv)

  # MMAction2 0.24.1 predates numpy 1.24, which removed these aliases.
  for name, alias in (("int", int), ("float", float), ("bool", bool), ("object", object)):
    if name not in np.__dict__:
      setattr(np, name, alias)
  import tempfile  # pylint: disable=g-import-not-at-top

  import librosa  # pylint: disable=g-import-not-at-top
  import mmaction  # pylint: disable=g-import-not-at-top
  import mmcv  # pylint: disable=g-import-not-at-top
  import scipy  # pylint: disable=g-import-not-at-top
  import soundfile  # pylint: disable=g-import-not-at-top
  import soxr  # pylint: disable=g-import-not-at-top
  from mmaction.datasets.pipelines import Compose  # pylint: disable=g-import-not-at-top

  out = Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  arrays, cases = {}, {}

  captured = []
  melspectrogram = librosa.feature.melspectrogram

  def capture(**kw):
    mel = melspectrogram(**kw)
    captured.append((mel, {k: v for k, v in kw.items() if k != "y"}))
    return mel

  librosa.feature.melspectrogram = capture

  def run(cfgs, results):
    with warnings.catch_warnings():
      warnings.simplefilter("ignore")
      return Compose([dict(c) for c in cfgs])(results)

  def outcome(cfgs, results):
    try:
      return run(cfgs, results), None
    except Exception as e:  # pylint: disable=broad-except
      return None, re.sub(r" at 0x[0-9a-f]+", "", f"{type(e).__name__}: {e}")

  def put(key, array, force=False):
    """Records an output: shape, dtype, sha256, and the array itself when small."""
    array = np.asarray(array)
    rec = dict(shape=list(array.shape), dtype=str(array.dtype), sha256=sha256(array))
    if force or array.size <= KEEP_ARRAY_UP_TO:
      arrays[key] = array
      rec["array"] = key
    return rec

  tmp = Path(tempfile.mkdtemp(prefix="vjax_audio_golden_"))
  sums = write_inputs(tmp)
  cases["files"] = sums

  # AudioDecodeInit
  rows = []
  for i, (name, cfg) in enumerate(DECODE_INIT_CASES):
    r = run([dict(type="AudioDecodeInit", **cfg)], dict(audio_path=str(tmp / name)))
    rows.append(dict(file=name, cfg=cfg, length=r["length"], sample_rate=r["sample_rate"],
                     audios=put(f"decode_init_{i}", r["audios"], force=True)))
  np.random.seed(SEED % 2**32)  # MMAction2's 'random' pad draws from numpy's global state
  for cfg in ({}, {"sample_rate": 8000}, {"pad_method": "random"}):
    r = run([dict(type="AudioDecodeInit", **cfg)], dict(audio_path=str(tmp / "none.wav")))
    a = r["audios"]
    rows.append(dict(file=None, cfg=cfg, length=r["length"], sample_rate=r["sample_rate"],
                     audios=dict(shape=list(a.shape), dtype=str(a.dtype),
                                 all_zero=bool(not a.any()), min=float(a.min()),
                                 max=float(a.max()))))
  (tmp / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEnot really audio")
  _, err = outcome([dict(type="AudioDecodeInit")], dict(audio_path=str(tmp / "corrupt.wav")))
  cases["decode_init"] = rows
  cases["decode_init_corrupt_error"] = err

  # AudioDecode after test-mode SampleFrames
  rows = []
  for key, length, total, sample_cfg, start_index, cfg in DECODE_CASES:
    audio = float32_waveform(key, (length,))
    r = run([dict(type="SampleFrames", test_mode=True, **sample_cfg),
             dict(type="AudioDecode", **cfg)],
            dict(audios=audio, length=length, total_frames=total, start_index=start_index))
    rows.append(dict(key=key, length=length, total_frames=total, start_index=start_index,
                     sample_frames=sample_cfg, cfg=cfg, frame_inds=r["frame_inds"].tolist(),
                     num_clips=r["num_clips"], audios_shape=list(r["audios_shape"]),
                     audios=put(f"decode_{key}", r["audios"])))
  cases["decode"] = rows

  # AudioAmplify
  rows = []
  for key, shape, ratio in AMPLIFY_CASES:
    r = run([dict(type="AudioAmplify", ratio=ratio)], dict(audios=float32_waveform(key, shape)))
    rows.append(dict(key=key, shape=list(shape), ratio=ratio, amplify_ratio=r["amplify_ratio"],
                     audios=put(f"amplify_{key}", r["audios"])))
  cases["amplify"] = rows
  _, cases["amplify_int_ratio_error"] = outcome([dict(type="AudioAmplify", ratio=2)], {})

  # MelSpectrogram
  rows = []
  for name, key, rate, clips, samples, cfg in MEL_CASES:
    captured.clear()
    audio = float32_waveform(key, (clips, samples))
    with warnings.catch_warnings(record=True) as caught:
      warnings.simplefilter("always")
      try:
        r, err = Compose([dict(type="MelSpectrogram", **cfg)])(
            dict(audios=audio, sample_rate=rate, num_clips=clips)), None
      except Exception as e:  # pylint: disable=broad-except
        r, err = None, f"{type(e).__name__}: {e}"
    mels = np.stack([m for m, _ in captured])
    row = dict(name=name, key=key, sample_rate=rate, num_clips=clips, samples=samples, cfg=cfg,
               librosa_kwargs=captured[0][1], mel=put(f"mel_{name}", mels, force=True),
               mmaction2_error=err,
               librosa_warnings=sorted({str(w.message) for w in caught}))
    if r is not None:
      row["mmaction2_output"] = put(f"mel_out_{name}", r["audios"], force=True)
    rows.append(row)
  cases["mel"] = rows

  # The config's train pipeline on tone.wav.
  configs = Path(mmaction.__file__).parent / ".mim" / "configs"
  train = [dict(op) for op in mmcv.Config.fromfile(str(configs / CONFIG)).train_pipeline]
  total_frames = 64  # = clip_len: train-mode SampleFrames then draws offset 0 (randint(1))
  base = dict(audio_path=str(tmp / "tone.wav"), total_frames=total_frames, start_index=1,
              label=3, modality="Audio")
  _, literal_err = outcome(train, dict(base))
  at = [i for i, op in enumerate(train) if op["type"] == "MelLogSpectrogram"][0]
  substituted = [dict(op, type="MelSpectrogram") if i == at else op
                 for i, op in enumerate(train)]
  captured.clear()
  _, substituted_err = outcome(substituted, dict(base))
  before = run(train[:at], dict(base))
  captured.clear()
  outcome([dict(type="MelSpectrogram")], dict(before))
  mel = captured[0][0]  # (n_mels, frames), what MMAction2's op computed before it raised
  fixed = 128  # MelSpectrogram's default fixed_length, applied to the time axis
  time_major = mel.T[:fixed] if mel.shape[1] >= fixed else np.pad(
      mel.T, ((0, fixed - mel.shape[1]), (0, 0)), mode="edge")
  after = run(train[at + 1:], dict(before, audios=time_major[None]))
  final = after["audios"].numpy()
  cases["config_pipeline"] = dict(
      config=CONFIG, train_pipeline=train, total_frames=total_frames, start_index=1,
      label=3, tone=TONE, literal_error=literal_err,
      substituted_error=substituted_err,
      decoded=dict(length=before["length"], sample_rate=before["sample_rate"],
                   frame_inds=before["frame_inds"].tolist(),
                   audios=put("config_amplified", before["audios"])),
      librosa_kwargs=captured[0][1], mel=put("config_mel", mel, force=True),
      mmaction2_output_shape=list(final.shape),
      expected_vjax_shape=list(np.moveaxis(final, 1, -1).shape),
      collected_keys=sorted(after))

  np.savez_compressed(out / "arrays.npz", **arrays)
  (out / "cases.json").write_text(json.dumps(cases, indent=1) + "\n")
  meta = dict(seed=SEED, mmaction2=mmaction.__version__, mmcv=mmcv.__version__,
              librosa=librosa.__version__, soundfile=soundfile.__version__,
              libsndfile=soundfile.__libsndfile_version__, soxr=soxr.__version__,
              numpy=np.__version__, scipy=scipy.__version__, python=sys.version.split()[0])
  (out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
  size = sum(p.stat().st_size for p in out.iterdir())
  print(f"wrote {out} ({size / 1024:.0f} KiB): {len(cases['decode_init'])} AudioDecodeInit, "
        f"{len(cases['decode'])} AudioDecode, {len(cases['amplify'])} AudioAmplify, "
        f"{len(cases['mel'])} MelSpectrogram cases, config pipeline -> "
        f"{cases['config_pipeline']['expected_vjax_shape']}")
  print("config pipeline as written:", literal_err)
  print("with MelSpectrogram:", substituted_err)


if __name__ == "__main__":
  main()
