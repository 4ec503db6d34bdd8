"""grain loaders: determinism, exact resume, process sharding, padding, errors, workers."""

from __future__ import annotations

import json

import grain
import numpy as np
import pytest
from etils import epath

from vjax.data import SampleError, TFDSDataset, make_eval_iterator, make_train_iterator


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
      assert b["mask"].dtype == bool and b["index"].dtype == np.int64
      np.testing.assert_array_equal(b["index"][~b["mask"]], -1)
      np.testing.assert_array_equal(b["idx"][b["mask"]], b["index"][b["mask"]])
      seen.extend(b["index"][b["mask"]].tolist())
  assert sorted(seen) == list(range(size))  # Each sample exactly once across processes.
  # Dataset order: process 0 holds the first half of each global batch.
  assert batches[0][0]["index"].tolist() == [0, 1]


def test_eval_keys_may_list_mask_and_index():
  it = make_eval_iterator(_Source(5), [], global_batch_size=4,
                          keys=("imgs", "label", "mask", "index"))
  last = list(it)[-1]
  assert last["mask"].tolist() == [True, False, False, False]
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
