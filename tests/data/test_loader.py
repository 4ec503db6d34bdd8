"""grain loaders: determinism, exact resume, process sharding, padding, errors, workers."""

from __future__ import annotations

import json
import logging
import re

import cv2
import grain
import numpy as np
import pytest
from etils import epath

from vjax.data import (RawframeDataset, SampleError, TFDSDataset, VideoDataset, make_eval_iterator,
                       make_train_iterator)
from vjax.data.loader import example_sample


class _Source:
  """In-memory source: sample i is a tiny clip whose pixels encode i (fast, no files)."""

  def __init__(self, size: int, bad: int | None = None):
    self.size, self.bad = size, bad

  def __len__(self):
    return self.size

  def __getitem__(self, i):
    if i == self.bad:
      raise OSError("truncated file")
    imgs = np.full((4, 12, 12, 3), i, np.uint8)
    imgs[:, :, :6] += 100  # Left/right halves differ, so a flip is visible.
    return dict(imgs=imgs, total_frames=4, start_index=0, label=i % 3, idx=i)

  def describe(self, i):
    return f"clip_{i:03}.mp4"


# Random crop + flip: every batch depends on the per-sample rng.
_PIPE = [dict(type="RandomCrop", size=10), dict(type="Flip", flip_ratio=0.5),
         dict(type="FormatShape", input_format="NCHW")]
_KEYS = ("imgs", "label", "idx")


def _take(it, n):
  return [next(it) for _ in range(n)]


def _assert_same(a, b):
  assert len(a) == len(b)
  for x, y in zip(a, b):
    assert x.keys() == y.keys()
    for k in x:
      np.testing.assert_array_equal(x[k], y[k], err_msg=k)


def _train(size=12, **kw):
  kw = dict(dict(global_batch_size=4, seed=0, keys=_KEYS), **kw)
  return make_train_iterator(_Source(size), _PIPE, **kw)


def test_train_batches_types_and_determinism():
  a = _take(_train(), 6)
  assert a[0]["imgs"].shape == (4, 4, 10, 10, 3) and a[0]["imgs"].dtype == np.uint8
  assert a[0]["label"].dtype == np.int32
  _assert_same(a, _take(_train(), 6))
  other = _take(_train(seed=1), 6)
  assert any(not np.array_equal(x["idx"], y["idx"]) for x, y in zip(a, other))


def test_train_epochs_are_fresh_permutations():
  batches = _take(_train(size=12), 6)  # Two epochs of 12 samples in batches of 4.
  epoch0 = np.concatenate([b["idx"] for b in batches[:3]])
  epoch1 = np.concatenate([b["idx"] for b in batches[3:]])
  assert sorted(epoch0) == sorted(epoch1) == list(range(12))
  assert not np.array_equal(epoch0, epoch1)


@pytest.mark.parametrize("stop", [2, 3, 5])  # Mid-epoch; the batch that straddles epochs; later.
def test_train_resume_is_exact(stop):
  # 10 samples, batches of 4: batch 2 holds the end of epoch 0 and the start of epoch 1.
  ref = _take(_train(size=10), 8)
  it = _train(size=10)
  _take(it, stop)
  state = json.loads(json.dumps(it.get_state()))  # What a checkpoint stores.
  assert state["step"] == stop
  restored = _train(size=10)
  restored.set_state(state)
  _assert_same(ref[stop:], _take(restored, 8 - stop))


def test_global_batch_must_split_over_processes():
  with pytest.raises(ValueError, match="multiple of process_count"):
    _train(global_batch_size=5, process_count=2)


def test_train_state_mismatch_is_refused():
  it = _train()
  state = it.get_state()
  with pytest.raises(ValueError, match="seed"):
    _train(seed=5).set_state(state)


def test_train_process_shards_concatenate_to_the_global_batch():
  full = _take(_train(global_batch_size=4), 5)
  p0 = _take(_train(global_batch_size=4, process_index=0, process_count=2), 5)
  p1 = _take(_train(global_batch_size=4, process_index=1, process_count=2), 5)
  for f, a, b in zip(full, p0, p1):
    assert a["imgs"].shape[0] == 2
    for k in _KEYS:
      np.testing.assert_array_equal(f[k], np.concatenate([a[k], b[k]]))


@pytest.mark.parametrize("size", [10, 3, 8])
def test_eval_two_processes_cover_every_sample_once(size):
  pipe = [dict(type="CenterCrop", crop_size=10)]
  its = [make_eval_iterator(_Source(size), pipe, global_batch_size=4, process_index=p,
                            process_count=2, keys=("imgs", "label", "idx")) for p in (0, 1)]
  batches = [list(it) for it in its]
  expected = -(-size // 4)
  assert its[0].num_batches == its[1].num_batches == expected
  assert [len(b) for b in batches] == [expected, expected]
  seen = []
  for per_process in batches:
    for b in per_process:
      assert b["imgs"].shape == (2, 4, 10, 10, 3)
      assert b["valid"].dtype == bool and b["index"].dtype == np.int64
      np.testing.assert_array_equal(b["index"][~b["valid"]], -1)
      np.testing.assert_array_equal(b["idx"][b["valid"]], b["index"][b["valid"]])
      seen.extend(b["index"][b["valid"]].tolist())
  assert sorted(seen) == list(range(size))  # Each sample exactly once across processes.
  # Dataset order: process 0 holds the first half of each global batch.
  assert batches[0][0]["index"].tolist() == [0, 1]


def test_eval_keys_may_list_mask_and_index():
  it = make_eval_iterator(_Source(5), [], global_batch_size=4,
                          keys=("imgs", "label", "valid", "index"))
  last = list(it)[-1]
  assert last["valid"].tolist() == [True, False, False, False]
  assert last["index"].tolist() == [4, -1, -1, -1]


def test_bad_sample_raises_an_error_naming_it():
  it = make_eval_iterator(_Source(6, bad=5), [], global_batch_size=4, keys=("imgs",))
  next(it)
  with pytest.raises(SampleError, match=r"clip_005\.mp4.*OSError: truncated file"):
    next(it)


def test_grain_checkpoint_handler_round_trip(tmp_path):
  # The orbax path: grain.checkpoint.CheckpointSave/Restore use this handler.
  it = _train(size=10)
  _take(it, 3)
  grain.checkpoint.CheckpointHandler().save(epath.Path(tmp_path), item=it)
  restored = _train(size=10)
  grain.checkpoint.CheckpointHandler().restore(epath.Path(tmp_path), item=restored)
  _assert_same(_take(it, 2), _take(restored, 2))


def test_workers_match_in_process_and_report_errors(tiny_data_dir):
  source = TFDSDataset("vjax_synthetic", "train", data_dir=tiny_data_dir, builder_config="tiny")
  pipe = [dict(type="SampleFrames", clip_len=4, frame_interval=2),
          dict(type="FrameBytesDecode"), dict(type="RandomResizedCrop"),
          dict(type="Resize", scale=(16, 16), keep_ratio=False),
          dict(type="FormatShape", input_format="NCTHW")]
  kw = dict(global_batch_size=4, seed=2)
  ref = _take(make_train_iterator(source, pipe, **kw), 5)
  it = make_train_iterator(source, pipe, worker_count=2, **kw)
  try:
    got = _take(it, 3)
    state = it.get_state()
  finally:
    it.close()
  _assert_same(ref[:3], got)
  assert ref[0]["imgs"].shape == (4, 1, 4, 16, 16, 3)
  resumed = make_train_iterator(source, pipe, **kw)  # Restores across worker counts too.
  resumed.set_state(state)
  _assert_same(ref[3:], _take(resumed, 2))

  bad = make_eval_iterator(_Source(6, bad=5), [], global_batch_size=4, keys=("imgs",),
                           worker_count=1)
  try:
    with pytest.raises(Exception, match=r"clip_005\.mp4"):
      list(bad)
  finally:
    bad.close()


# --- Bad inputs on real files: on_error='raise' | 'skip' -------------------------------------

def _value(label):
  """Pixel value that encodes a label, so a row's frames tell which sample they came from."""
  return 30 + 60 * label


def _write_video(path, num_frames, value):
  import av  # pylint: disable=g-import-not-at-top
  with av.open(str(path), "w") as container:
    stream = container.add_stream("mpeg4", rate=8)
    stream.width = stream.height = 16
    stream.pix_fmt = "yuv420p"
    frame = np.full((16, 16, 3), value, np.uint8)
    for _ in range(num_frames):
      for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
        container.mux(packet)
    for packet in stream.encode():
      container.mux(packet)


# (file, label): missing.mp4 is never written; short.mp4 has fewer frames than a clip needs.
_VIDEOS = [("v0.mp4", 0), ("missing.mp4", 1), ("corrupt.mp4", 2), ("v3.mp4", 3),
           ("truncated.mp4", 1), ("short.mp4", 2)]
_BAD_VIDEOS = ["missing.mp4", "corrupt.mp4", "truncated.mp4"]
_VIDEO_PIPE = [dict(type="PyAVInit"),
               dict(type="SampleFrames", clip_len=4, frame_interval=1, test_mode=True),
               dict(type="PyAVDecode")]


@pytest.fixture(scope="module")
def video_list(tmp_path_factory):
  root = tmp_path_factory.mktemp("videos")
  _write_video(root / "v0.mp4", 8, _value(0))
  _write_video(root / "v3.mp4", 8, _value(3))
  _write_video(root / "short.mp4", 2, _value(2))
  _write_video(root / "whole.mp4", 8, _value(1))
  data = (root / "whole.mp4").read_bytes()
  (root / "truncated.mp4").write_bytes(data[:len(data) // 2])
  (root / "corrupt.mp4").write_bytes(np.random.default_rng(0).bytes(3000))
  ann = root / "list.txt"
  ann.write_text("".join(f"{name} {label}\n" for name, label in _VIDEOS))
  return VideoDataset(str(ann), data_prefix=str(root))


def _bad_names(it):
  return {name.split(" ")[0].rsplit("/", 1)[-1]: n for name, n in it.bad_samples().items()}


def _assert_labels_match_frames(batch):
  for imgs, label in zip(batch["imgs"], batch["label"]):
    assert abs(float(imgs.mean()) - _value(int(label))) < 8, (imgs.mean(), label)


def test_skip_replaces_bad_videos_with_the_next_loadable_one(video_list, caplog):
  it = make_eval_iterator(video_list, _VIDEO_PIPE, global_batch_size=4, on_error="skip")
  with caplog.at_level(logging.WARNING):
    batches = list(it)
  # 1 (missing) and 2 (corrupt) fall through to 3; 4 (truncated) to 5; short.mp4 loops.
  assert np.concatenate([b["label"][b["valid"]] for b in batches]).tolist() == [0, 3, 3, 3, 2, 2]
  assert np.concatenate([b["index"][b["valid"]] for b in batches]).tolist() == list(range(6))
  for b in batches:
    _assert_labels_match_frames(b)
  assert _bad_names(it) == {name: 1 for name in _BAD_VIDEOS}
  assert "list.txt" in next(iter(it.bad_samples()))  # Names say where the entry is listed.
  text = caplog.text
  for name in _BAD_VIDEOS:  # Each file is logged with the decoder's error.
    assert re.search(rf"{name} \(line \d of .*list\.txt\): \w+Error: ", text), name
  assert "evaluation data: 3 sample(s) failed to load" in text  # The end-of-pass summary.


def test_raise_names_the_bad_video_and_the_decoder_error(video_list):
  it = make_eval_iterator(video_list, _VIDEO_PIPE, global_batch_size=1)
  next(it)
  with pytest.raises(SampleError, match=r"missing\.mp4 \(line 2 of .*list\.txt\).*Error"):
    next(it)
  for name, i in [("corrupt.mp4", 2), ("truncated.mp4", 4)]:
    one = make_eval_iterator(video_list, _VIDEO_PIPE, global_batch_size=6)
    with pytest.raises(SampleError, match=rf"{name} \(line {i + 1} .*\): \w+Error: "):
      one._batch_fn.loader(i, np.random.default_rng)  # pylint: disable=protected-access


def test_skip_counts_survive_state_save_and_restore(video_list):
  kw = dict(global_batch_size=4, seed=1, on_error="skip")
  ref = make_train_iterator(video_list, _VIDEO_PIPE, **kw)
  ref_batches = _take(ref, 3)  # 12 draws: two epochs, each bad video drawn once per epoch.
  assert _bad_names(ref) == {name: 2 for name in _BAD_VIDEOS}
  it = make_train_iterator(video_list, _VIDEO_PIPE, **kw)
  _take(it, 1)
  state = json.loads(json.dumps(it.get_state()))
  restored = make_train_iterator(video_list, _VIDEO_PIPE, **kw)
  restored.set_state(state)
  assert restored.bad_samples() == it.bad_samples()
  _assert_same(ref_batches[1:], _take(restored, 2))
  assert restored.bad_samples() == ref.bad_samples()
  for b in ref_batches:
    _assert_labels_match_frames(b)
  old = {k: v for k, v in state.items() if k != "bad_samples"}  # A state from before counts.
  restored.set_state(old)
  assert restored.bad_samples() == {}


def _write_frames(folder, num_frames, value):
  folder.mkdir(parents=True)
  for i in range(1, num_frames + 1):
    cv2.imwrite(str(folder / f"img_{i:05}.jpg"), np.full((8, 8, 3), value, np.uint8))


def test_skip_rawframes_with_missing_frame_files(tmp_path, caplog):
  _write_frames(tmp_path / "f0", 8, _value(0))
  _write_frames(tmp_path / "f1", 3, _value(1))  # The list says 8 frames.
  _write_frames(tmp_path / "f3", 8, _value(3))  # f2 is not there at all.
  ann = tmp_path / "frames.txt"
  ann.write_text("f0 8 0\nf1 8 1\nf2 8 2\nf3 8 3\n")
  source = RawframeDataset(str(ann), data_prefix=str(tmp_path))
  pipe = [dict(type="SampleFrames", clip_len=4, frame_interval=2, test_mode=True),
          dict(type="RawFrameDecode")]
  it = make_eval_iterator(source, pipe, global_batch_size=4, on_error="skip")
  with caplog.at_level(logging.WARNING):
    (batch,) = list(it)
  assert batch["label"].tolist() == [0, 3, 3, 3]
  _assert_labels_match_frames(batch)
  assert _bad_names(it) == {"f1": 1, "f2": 1}
  assert "FileNotFoundError" in caplog.text and "img_00005.jpg" in caplog.text
  with pytest.raises(SampleError, match=r"f1 \(line 2 .*FileNotFoundError.*img_00005\.jpg"):
    list(make_eval_iterator(source, pipe, global_batch_size=4))


class _AllBad(_Source):

  def __getitem__(self, i):
    raise OSError("unreadable")


def test_skip_gives_up_when_nothing_loads():
  it = make_eval_iterator(_AllBad(3), [], global_batch_size=3, keys=("imgs",), on_error="skip")
  with pytest.raises(SampleError, match=r"no loadable sample among the 3 from clip_000\.mp4"):
    next(it)
  with pytest.raises(ValueError, match="on_error must be one of"):
    make_eval_iterator(_Source(3), [], global_batch_size=3, on_error="ignore")


def test_example_sample_for_model_init_follows_the_policy():
  # Model initialisation reads one sample for its shape: a bad first sample must not
  # crash a run that asked to skip bad samples, and must name the file otherwise.
  sample = example_sample(_Source(4, bad=0), _PIPE, keys=_KEYS, on_error="skip")
  assert sample["idx"] == 1 and sample["imgs"].shape == (4, 10, 10, 3)
  with pytest.raises(SampleError, match="clip_000.mp4"):
    example_sample(_Source(4, bad=0), _PIPE, on_error="raise")


def test_skip_in_worker_processes_is_counted(caplog):
  it = make_eval_iterator(_Source(6, bad=5), [], global_batch_size=4, keys=("idx", "label"),
                          worker_count=1, on_error="skip")
  try:
    with caplog.at_level(logging.WARNING):
      batches = list(it)
  finally:
    it.close()
  assert batches[1]["idx"][:2].tolist() == [4, 0]  # 5 wraps around to 0, label and all.
  assert batches[1]["label"][:2].tolist() == [1, 0]
  assert it.bad_samples() == {"clip_005.mp4": 1} and "clip_005.mp4" in caplog.text


def test_sample_by_class_draws(tmp_path):
  ann = tmp_path / "l.txt"
  counts = (12, 3, 1)
  ann.write_text("".join(f"v{c}_{i} 8 {c}\n" for c, n in enumerate(counts) for i in range(n)))

  def draws(power, seed=3, batches=150):
    source = RawframeDataset(str(ann), sample_by_class=True, power=power)
    it = make_train_iterator(source, [], global_batch_size=16, seed=seed,
                             keys=("label", "frame_dir"))
    got = _take(it, batches)
    return (np.concatenate([b["label"] for b in got]),
            np.concatenate([b["frame_dir"] for b in got]))

  labels, dirs = draws(power=0)  # 2400 draws; one standard deviation is about 0.01.
  np.testing.assert_allclose(np.bincount(labels) / len(labels), [1 / 3] * 3, atol=0.04)
  within = [np.mean(dirs == f"v1_{i}") for i in range(3)]  # Uniform inside a class.
  np.testing.assert_allclose(within, [1 / 9] * 3, atol=0.03)
  labels1, _ = draws(power=1)
  np.testing.assert_allclose(np.bincount(labels1) / len(labels1), [0.75, 0.1875, 0.0625],
                             atol=0.04)
  again, _ = draws(power=0, batches=20)
  np.testing.assert_array_equal(again, labels[:320])  # Deterministic by seed.
  other, _ = draws(power=0, seed=4, batches=20)
  assert not np.array_equal(other, again)


def test_worker_batches_are_stacked_into_shared_memory(monkeypatch):
  # In a grain worker, a large batch goes straight into shared memory, which grain passes on
  # without copying it again; small arrays and the main process keep plain arrays.
  from vjax.data import loader
  clips = [np.full((4, 128, 128, 3), i, np.uint8) for i in range(6)]  # 1.2 MB in all
  monkeypatch.setattr(loader, "_IN_WORKER", True)
  batch = loader._stack("imgs", clips)
  try:
    assert isinstance(batch, grain.multiprocessing.SharedMemoryArray)
    np.testing.assert_array_equal(batch, np.stack(clips))
  finally:
    batch.unlink_on_del()
  labels = loader._stack("label", [np.int64(3)] * 6)
  assert type(labels) is np.ndarray and labels.dtype == np.int32
  monkeypatch.setattr(loader, "_IN_WORKER", False)
  assert type(loader._stack("imgs", clips)) is np.ndarray


@pytest.mark.parametrize("new_batch", [2, 6])
def test_train_resume_with_another_global_batch_continues_the_sample_order(new_batch):
  # A checkpoint after 3 batches of 4 (samples 0..11 of the global order, epochs of 10 back
  # to back) resumes with batches of ``new_batch``: the next batch starts at sample 12.
  ref = np.concatenate([b["idx"] for b in _take(_train(size=10, global_batch_size=4), 9)])
  it = _train(size=10, global_batch_size=4)
  _take(it, 3)
  state = json.loads(json.dumps(it.get_state()))
  assert state["sample"] == 12
  resumed = _train(size=10, global_batch_size=new_batch)
  resumed.set_state(state)
  got = np.concatenate([b["idx"] for b in _take(resumed, 12 // new_batch)])
  np.testing.assert_array_equal(got, ref[12:24])
  # Its own state goes on counting samples, so a second resume continues too.
  assert resumed.get_state()["sample"] == 24
  again = _train(size=10, global_batch_size=4)
  again.set_state(resumed.get_state())
  np.testing.assert_array_equal(next(again)["idx"], ref[24:28])
