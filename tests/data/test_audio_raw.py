"""Raw-audio ops (AudioDecodeInit, AudioDecode, AudioAmplify, MelSpectrogram) against
MMAction2 0.24.1 + librosa: goldens in tests/golden/audio, written by
tests/reference/make_golden_audio.py, whose input functions this test reuses to rebuild the
same WAV files and waveforms."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import re
from pathlib import Path

import av
import numpy as np
import pytest

from tests.conftest import ROOT
from tests.reference import make_golden_audio as gold
from vjax.data.ops_audio import (AudioAmplify, AudioDecode, AudioDecodeError, AudioDecodeInit,
                                 MelSpectrogram, mel_power_spectrogram)
from vjax.data.ops_sampling import SampleFrames
from vjax.data.pipeline import Compose

GOLDEN = Path(ROOT) / "tests" / "golden" / "audio"
CASES = json.loads((GOLDEN / "cases.json").read_text())
ARRAYS = dict(np.load(GOLDEN / "arrays.npz"))
RTOL = 1e-5  # float outputs (spectrograms); everything else must be bit-identical


def sha256(a: np.ndarray) -> str:
  return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def check_exact(actual: np.ndarray, rec: dict) -> None:
  """``actual`` is bit-identical to a recorded MMAction2 output (shape, dtype, bytes)."""
  assert list(actual.shape) == rec["shape"] and str(actual.dtype) == rec["dtype"]
  if "array" in rec:
    np.testing.assert_array_equal(actual, ARRAYS[rec["array"]])
  assert sha256(actual) == rec["sha256"]


def fix_time(mel_t: np.ndarray, fixed: int) -> np.ndarray:
  """(frames, bands) -> (fixed, bands): cut, or repeat the last frame."""
  if mel_t.shape[0] >= fixed:
    return mel_t[:fixed]
  return np.concatenate([mel_t, np.repeat(mel_t[-1:], fixed - mel_t.shape[0], axis=0)])


@pytest.fixture(scope="module")
def audio_dir(tmp_path_factory) -> Path:
  directory = tmp_path_factory.mktemp("audio")
  sums = gold.write_inputs(directory)
  assert sums == CASES["files"], "make_golden_audio no longer writes what the goldens read"
  return directory


# ------------------------------------------------------------------------- AudioDecodeInit
@pytest.mark.parametrize("i", range(len(CASES["decode_init"])))
def test_decode_init_matches_mmaction2(i, audio_dir, recwarn):
  case = CASES["decode_init"][i]
  op = Compose([dict(type="AudioDecodeInit", **case["cfg"])])
  path = audio_dir / (case["file"] or "none.wav")
  out = op(dict(audio_path=str(path)), np.random.default_rng(i))
  assert out["length"] == case["length"] and out["sample_rate"] == case["sample_rate"]
  rec = case["audios"]
  if case["file"] is not None:
    check_exact(out["audios"], rec)
    return
  # A missing file: MMAction2's 10 s stand-in (its 'random' draws come from numpy's global
  # state, vjax's from the pipeline's rng, so only their range can agree).
  assert [str(w.message) for w in recwarn if str(path) in str(w.message)]
  a = out["audios"]
  assert list(a.shape) == rec["shape"] and str(a.dtype) == rec["dtype"]
  assert (not a.any()) == rec["all_zero"]
  assert -1 <= a.min() and a.max() < 1
  if not rec["all_zero"]:
    assert a.min() < -0.99 and a.max() > 0.99 and abs(a.mean()) < 0.01


def test_decode_init_random_pad_follows_rng(tmp_path):
  make = lambda seed: AudioDecodeInit(pad_method="random", sample_rate=100)(
      dict(audio_path=str(tmp_path / "none.wav")), np.random.default_rng(seed))["audios"]
  with pytest.warns(UserWarning, match="none.wav does not exist"):
    a, b, c = make(5), make(5), make(6)
  np.testing.assert_array_equal(a, b)
  assert a.shape == (1000,) and not np.array_equal(a, c)


def test_decode_init_reads_video_containers(tmp_path):
  """PyAV reads any container FFmpeg knows, e.g. the audio track of a video file."""
  path = tmp_path / "clip.mkv"
  rng = np.random.default_rng(0)
  pcm = (rng.random((1, 3200)) * 2 - 1).astype(np.float32)
  with av.open(str(path), "w") as container:
    stream = container.add_stream("pcm_f32le", rate=8000)
    stream.layout = "mono"
    frame = av.AudioFrame.from_ndarray(pcm, format="flt", layout="mono")
    frame.sample_rate = 8000
    for packet in [*stream.encode(frame), *stream.encode(None)]:
      container.mux(packet)
  out = AudioDecodeInit(sample_rate=None)(dict(audio_path=str(path)))
  assert out["sample_rate"] == 8000
  np.testing.assert_array_equal(out["audios"], pcm[0])


def test_decode_init_errors_name_the_file(tmp_path):
  cases = {"corrupt.wav": b"RIFF\x10\x00\x00\x00WAVEnot really audio",
           "empty.wav": b"", "text.wav": b"hello\n" * 100,
           "header_only.wav": gold.wav_bytes(np.zeros((0, 1)), 16000, "pcm16")}
  for name, data in cases.items():
    (tmp_path / name).write_bytes(data)
    match = rf"AudioDecodeInit: .*{re.escape(str(tmp_path / name))}"
    with pytest.raises(AudioDecodeError, match=match):
      AudioDecodeInit()(dict(audio_path=str(tmp_path / name)))
  # A directory is no audio file.
  with pytest.raises(AudioDecodeError, match=re.escape(str(tmp_path))):
    AudioDecodeInit()(dict(audio_path=str(tmp_path)))
  # A missing file is a video without an audio stream (MMAction2's rule): a warning naming it.
  gone = re.escape(str(tmp_path / "gone.wav"))
  with pytest.warns(UserWarning, match=rf"{gone} does not exist"):
    out = AudioDecodeInit()(dict(audio_path=str(tmp_path / "gone.wav")))
  assert out["audios"].shape == (160000,) and not out["audios"].any()
  with pytest.raises(FileNotFoundError, match="gone.wav does not exist"):
    AudioDecodeInit(sample_rate=None)(dict(audio_path=str(tmp_path / "gone.wav")))
  with pytest.raises(ValueError, match="pad_method"):
    AudioDecodeInit(pad_method="noise")
  with pytest.raises(NotImplementedError, match="io_backend"):
    AudioDecodeInit(io_backend="petrel")
  assert repr(AudioDecodeInit()) == ("AudioDecodeInit(io_backend='disk', sample_rate=16000, "
                                     "pad_method='zero')")
  # MMAction2 itself fails on the corrupt file too (libsndfile's error, without the path).
  assert CASES["decode_init_corrupt_error"].startswith("LibsndfileError")


# ----------------------------------------------------------------- AudioDecode, AudioAmplify
@pytest.mark.parametrize("case", CASES["decode"], ids=lambda c: str(c["key"]))
def test_decode_matches_mmaction2(case):
  results = dict(audios=gold.float32_waveform(case["key"], (case["length"],)),
                 length=case["length"], total_frames=case["total_frames"],
                 start_index=case["start_index"])
  results = SampleFrames(test_mode=True, **case["sample_frames"])(results)
  assert results["frame_inds"].tolist() == case["frame_inds"]
  out = AudioDecode(**case["cfg"])(results)
  check_exact(out["audios"], case["audios"])
  assert list(out["audios_shape"]) == case["audios_shape"]


def test_decode_checks():
  with pytest.raises(ValueError, match="fixed_length"):
    AudioDecode(0)
  with pytest.raises(ValueError, match="1-D waveform"):
    AudioDecode(8)(dict(audios=np.zeros((2, 8), np.float32), length=8, total_frames=2,
                        num_clips=1, frame_inds=np.array([0])))
  assert repr(AudioDecode()) == "AudioDecode(fixed_length=32000)"


@pytest.mark.parametrize("case", CASES["amplify"], ids=lambda c: str(c["ratio"]))
def test_amplify_matches_mmaction2(case):
  audios = gold.float32_waveform(case["key"], case["shape"])
  before = audios.copy()
  out = Compose([dict(type="AudioAmplify", ratio=case["ratio"])])(dict(audios=audios))
  check_exact(out["audios"], case["audios"])
  assert out["amplify_ratio"] == case["amplify_ratio"]
  np.testing.assert_array_equal(audios, before)  # the input array is left as it was


def test_amplify_checks():
  assert CASES["amplify_int_ratio_error"].startswith("TypeError")
  with pytest.raises(TypeError, match="ratio must be a float"):
    AudioAmplify(2)
  with pytest.raises(TypeError, match="float waveform"):
    AudioAmplify(1.5)(dict(audios=np.zeros(4, np.int16)))
  assert repr(AudioAmplify(1.5)) == "AudioAmplify(ratio=1.5)"


# --------------------------------------------------------------------------- MelSpectrogram
@pytest.mark.parametrize("case", CASES["mel"], ids=lambda c: c["name"])
def test_mel_spectrogram_matches_librosa_inside_mmaction2(case):
  audios = gold.float32_waveform(case["key"], (case["num_clips"], case["samples"]))
  mel = ARRAYS[case["mel"]["array"]]  # (clips, n_mels, frames): librosa, called by MMAction2
  kw = case["librosa_kwargs"]
  # librosa warns about mel bands that catch no FFT bin; so does vjax, on each call.
  warns = lambda: (pytest.warns(UserWarning, match="leave some bands empty")
                   if case["librosa_warnings"] else contextlib.nullcontext())
  with warns():
    out = Compose([dict(type="MelSpectrogram", **case["cfg"])])(
        dict(audios=audios, sample_rate=case["sample_rate"], num_clips=case["num_clips"]))
  # The spectrogram itself, for the same n_fft and hop MMAction2 derived.
  for c in range(case["num_clips"]):
    with warns():
      ours = mel_power_spectrogram(audios[c], kw["sr"], kw["n_fft"], kw["hop_length"],
                                   kw["n_mels"])
    assert ours.dtype == np.float32 and ours.shape == mel[c].shape
    np.testing.assert_allclose(ours, mel[c], rtol=RTOL, atol=0)
  # The op's output: time first, cut or edge-padded to fixed_length.
  fixed = case["cfg"].get("fixed_length", 128)
  a = out["audios"]
  assert a.dtype == np.float32 and a.shape == (case["num_clips"], fixed, kw["n_mels"])
  expected = np.stack([fix_time(m.T, fixed) for m in mel])
  np.testing.assert_allclose(a, expected, rtol=RTOL, atol=0)
  # MMAction2's own op cuts or pads librosa's (n_mels, frames) along the mel axis instead,
  # and raises when that pad would be negative.
  n_mels, frames = mel.shape[1:]
  if n_mels >= fixed:
    np.testing.assert_array_equal(ARRAYS[case["mmaction2_output"]["array"]], mel[:, :fixed])
    if n_mels == fixed:  # MMAction2 returned every band: its output is ours transposed
      mm = ARRAYS[case["mmaction2_output"]["array"]]
      n = min(frames, fixed)
      np.testing.assert_allclose(a[:, :n], mm.transpose(0, 2, 1)[:, :n], rtol=RTOL, atol=0)
  elif frames >= fixed:
    assert case["mmaction2_output"]["shape"] == [case["num_clips"], n_mels + frames - fixed,
                                                 frames]
  else:
    assert case["mmaction2_error"] == "ValueError: index can't contain negative values"


def test_mel_spectrogram_checks():
  with pytest.raises(TypeError, match="must be int"):
    MelSpectrogram(window_size=32.0)
  with pytest.raises(ValueError, match="must be >= 1"):
    MelSpectrogram(n_mels=0)
  with pytest.raises(ValueError, match="too short"):
    MelSpectrogram(window_size=32, step_size=16)(
        dict(audios=np.zeros((1, 0), np.float32), sample_rate=44100, num_clips=1))
  with pytest.raises(ValueError, match=r"\(clips, samples\).*\(16000,\)"):
    MelSpectrogram()(dict(audios=np.zeros(16000, np.float32), sample_rate=16000, num_clips=1))
  assert repr(MelSpectrogram()) == ("MelSpectrogram(window_size=32, step_size=16, n_mels=80, "
                                    "fixed_length=128)")


# -------------------------------------------------- the tsn_r50 raw-audio config's pipeline
def runnable(pipeline) -> list:
  """The config's train pipeline with MelLogSpectrogram -- named in the config but absent
  from MMAction2 0.24.1 (open-mmlab/mmaction2#886; its maintainers point to MelSpectrogram)
  -- replaced by MelSpectrogram with its defaults."""
  ops = [dict(op) for op in pipeline]
  return [dict(op, type="MelSpectrogram") if op["type"] == "MelLogSpectrogram" else op
          for op in ops]


def run_config_pipeline(pipeline, audio_dir, total_frames=None, seed=0):
  case = CASES["config_pipeline"]
  results = dict(audio_path=str(audio_dir / "tone.wav"), start_index=case["start_index"],
                 total_frames=total_frames or case["total_frames"], label=case["label"],
                 modality="Audio")
  return Compose(runnable(pipeline))(results, np.random.default_rng(seed))


def check_config_output(out, case):
  assert sorted(out) == case["collected_keys"] and out["label"] == case["label"]
  a = out["audios"]
  assert list(a.shape) == case["expected_vjax_shape"] and a.dtype == np.float32
  mel = ARRAYS[case["mel"]["array"]]  # (n_mels, frames) that MMAction2's op computed
  np.testing.assert_allclose(a[0, ..., 0], fix_time(mel.T, a.shape[1]), rtol=RTOL, atol=0)


def test_config_train_pipeline_matches_mmaction2(audio_dir):
  case = CASES["config_pipeline"]
  types = [op["type"] for op in case["train_pipeline"]]
  assert types == ["AudioDecodeInit", "SampleFrames", "AudioDecode", "AudioAmplify",
                   "MelLogSpectrogram", "FormatAudioShape", "Collect", "ToTensor"]
  # As written, neither MMAction2 nor vjax can build it.
  assert case["literal_error"].startswith("KeyError: 'MelLogSpectrogram")
  with pytest.raises(KeyError, match="MelLogSpectrogram.*Did you mean 'MelSpectrogram'"):
    Compose(case["train_pipeline"])
  # The waveform up to the spectrogram is MMAction2's, bit for bit.
  at = types.index("MelLogSpectrogram")
  results = dict(audio_path=str(audio_dir / "tone.wav"), start_index=case["start_index"],
                 total_frames=case["total_frames"], label=case["label"])
  before = Compose(case["train_pipeline"][:at])(results, np.random.default_rng(0))
  assert before["frame_inds"].tolist() == case["decoded"]["frame_inds"]
  assert before["length"] == case["decoded"]["length"]
  check_exact(before["audios"], case["decoded"]["audios"])
  # MMAction2's MelSpectrogram raises here (126 frames < fixed_length 128); vjax pads time.
  assert case["substituted_error"].startswith("ValueError")
  out = run_config_pipeline(case["train_pipeline"], audio_dir)
  check_config_output(out, case)
  assert case["mmaction2_output_shape"] == [1, 1, 128, 80]  # channels first in MMAction2
  # Train-mode sampling with a random offset: same shape.
  out = run_config_pipeline(case["train_pipeline"], audio_dir, total_frames=150, seed=3)
  assert list(out["audios"].shape) == case["expected_vjax_shape"]


def _mmaction2_config_path():
  spec = importlib.util.find_spec("mmaction")
  if spec is None or not spec.submodule_search_locations:
    return None
  path = Path(list(spec.submodule_search_locations)[0]) / ".mim" / "configs"
  path = path / CASES["config_pipeline"]["config"]
  return path if path.is_file() else None


def test_config_file_converted_by_vjax(audio_dir):
  path = _mmaction2_config_path()
  if path is None:
    pytest.skip("the mmaction2 package (with its .mim/configs) is not importable here; "
                "test_config_train_pipeline_matches_mmaction2 runs the same pipeline as "
                "recorded from that config in the goldens")
  from vjax.convert.mmaction2_config import \
    load_any_config  # pylint: disable=g-import-not-at-top
  cfg = load_any_config(os.fspath(path))
  pipeline = [op.to_dict() if hasattr(op, "to_dict") else dict(op)
              for op in cfg.data.train.pipeline]
  # The converter runs the unregistered MelLogSpectrogram as MelSpectrogram, and says so.
  assert [op["type"] for op in pipeline] == [
      op["type"] for op in runnable(CASES["config_pipeline"]["train_pipeline"])]
  check_config_output(run_config_pipeline(pipeline, audio_dir), CASES["config_pipeline"])
