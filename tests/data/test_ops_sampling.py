"""Frame samplers: indices worked by hand from MMAction2 0.24.1's definitions."""

from __future__ import annotations

import numpy as np
import pytest

from vjax.data import PIPELINES


def _run(op_type, total_frames, start_index=0, rng=None, **kw):
  results = dict(total_frames=total_frames, start_index=start_index)
  return PIPELINES.build(dict(type=op_type, **kw))(results, rng)


# ---------------------------------------------------------------------------------- SampleFrames

def test_sample_frames_twice_sample_multi_frame_clips():
  # ori = 2 * 2 = 4, avg = (20 - 4 + 1) / 2 = 8.5: centres int(4.25), int(12.75) = 4, 12; the
  # unshifted starts 0 and 8.5 follow (8.5 + 2 = 10.5 -> 10), num_clips stays 2.
  r = _run("SampleFrames", 20, clip_len=2, frame_interval=2, num_clips=2, test_mode=True,
           twice_sample=True)
  np.testing.assert_array_equal(r["frame_inds"], [4, 6, 12, 14, 0, 2, 8, 10])
  assert r["num_clips"] == 2 and r["frame_inds"].dtype == np.int64


def test_sample_frames_out_of_bound_per_clip():
  # 6 frames, clip of 4 frames 3 apart (12 > 6): offsets 0; indices 0, 3, 6, 9.
  loop = _run("SampleFrames", 6, clip_len=4, frame_interval=3, num_clips=2, test_mode=True)
  np.testing.assert_array_equal(loop["frame_inds"], [0, 3, 0, 3, 0, 3, 0, 3])
  last = _run("SampleFrames", 6, start_index=1, clip_len=4, frame_interval=3, num_clips=2,
              test_mode=True, out_of_bound_opt="repeat_last")
  np.testing.assert_array_equal(last["frame_inds"], [1, 4, 4, 4, 1, 4, 4, 4])


def test_sample_frames_keep_tail_frames_covers_the_tail():
  # avg = (10 - 1 + 1) / 3 = 3.33: clip i starts in [3.33 i, 3.33 (i + 1)), so the last frame
  # (index 9) can be drawn, which the integer rule (avg 3: starts < 9) never reaches.
  seen = set()
  for seed in range(200):
    inds = _run("SampleFrames", 10, rng=np.random.default_rng(seed), clip_len=1, num_clips=3,
                keep_tail_frames=True)["frame_inds"]
    assert all(int(10 * i / 3) <= v < int(10 * (i + 1) / 3) + 1 for i, v in enumerate(inds))
    seen.update(inds.tolist())
  assert 9 in seen
  plain = {v for s in range(200) for v in _run("SampleFrames", 10, rng=np.random.default_rng(s),
                                               clip_len=1, num_clips=3)["frame_inds"].tolist()}
  assert 9 not in plain


def test_sample_frames_temporal_jitter_stays_within_interval():
  r = _run("SampleFrames", 64, rng=np.random.default_rng(0), clip_len=4, frame_interval=4,
           test_mode=True, temporal_jitter=True)
  # avg = 64 - 16 + 1 = 49, centre offset int(24.5) = 24; frames 24 + 4k + jitter in [0, 4).
  base = 24 + 4 * np.arange(4)
  assert ((r["frame_inds"] >= base) & (r["frame_inds"] < base + 4)).all()


def test_sample_frames_start_index_argument_is_deprecated():
  with pytest.warns(UserWarning, match="start_index"):
    PIPELINES.build(dict(type="SampleFrames", clip_len=1, start_index=1))


# ------------------------------------------------------------------------ UntrimmedSampleFrames

def test_untrimmed_sample_frames_defaults():
  # Centres 16 // 2 = 8, then every 16 frames below 40: 8, 24.
  r = _run("UntrimmedSampleFrames", 40)
  np.testing.assert_array_equal(r["frame_inds"], [8, 24])
  assert (r["clip_len"], r["frame_interval"], r["num_clips"]) == (1, 16, 2)


def test_untrimmed_sample_frames_clips_are_clamped():
  # Centres 1 and 3; clips of 5 around them (-2..2) are clamped to [0, 4], then start_index added.
  r = _run("UntrimmedSampleFrames", 5, start_index=1, clip_len=5, frame_interval=2)
  np.testing.assert_array_equal(r["frame_inds"], np.array([0, 0, 1, 2, 3, 1, 2, 3, 4, 4]) + 1)
  assert r["num_clips"] == 2
  # Even clip_len: offsets -2..1 around each centre (3, 10).
  r = _run("UntrimmedSampleFrames", 14, clip_len=4, frame_interval=7)
  np.testing.assert_array_equal(r["frame_inds"], [1, 2, 3, 4, 8, 9, 10, 11])


def test_untrimmed_sample_frames_refuses_videos_without_a_centre():
  # The first centre is frame 8: a video of 8 frames has none (MMAction2 fails as well).
  with pytest.raises(ValueError, match="no clip centre"):
    _run("UntrimmedSampleFrames", 8)
  assert _run("UntrimmedSampleFrames", 9)["frame_inds"].tolist() == [8]


# -------------------------------------------------------------------------- UniformSampleFrames

def test_uniform_sample_frames_train_one_frame_per_segment():
  # 40 frames / 8 segments: segment k is [5k, 5k + 5).
  draws = [_run("UniformSampleFrames", 40, rng=np.random.default_rng(s), clip_len=8)["frame_inds"]
           for s in range(20)]
  for inds in draws:
    assert ((inds >= 5 * np.arange(8)) & (inds < 5 * np.arange(8) + 5)).all()
  assert len({tuple(d) for d in draws}) > 1
  again = _run("UniformSampleFrames", 40, rng=np.random.default_rng(0), clip_len=8)["frame_inds"]
  np.testing.assert_array_equal(again, draws[0])


def test_uniform_sample_frames_train_short_videos():
  # 10 frames for 8: consecutive frames with 2 skipped at random places.
  inds = _run("UniformSampleFrames", 10, rng=np.random.default_rng(1), clip_len=8)["frame_inds"]
  assert set(np.diff(inds)) <= {1, 2} and inds[-1] - inds[0] - 7 <= 2 and inds.max() < 10
  # 5 frames for 8: 8 consecutive frames from a random start, looping.
  inds = _run("UniformSampleFrames", 5, rng=np.random.default_rng(2), clip_len=8)["frame_inds"]
  np.testing.assert_array_equal(inds, (inds[0] + np.arange(8)) % 5)


def test_uniform_sample_frames_test_mode_is_fixed():
  kw = dict(clip_len=8, num_clips=3, test_mode=True)
  np.random.seed(0)
  before = np.random.random()
  np.random.seed(0)
  a = _run("UniformSampleFrames", 40, rng=np.random.default_rng(1), **kw)
  b = _run("UniformSampleFrames", 40, rng=np.random.default_rng(2), **kw)
  np.testing.assert_array_equal(a["frame_inds"], b["frame_inds"])
  assert np.random.random() == before  # The global numpy state is untouched.
  # The draws MMAction2 makes after np.random.seed(255): one randint per clip over the segments.
  legacy = np.random.RandomState(255)
  bounds = np.arange(9) * 40 // 8
  expected = np.concatenate([bounds[:-1] + legacy.randint(np.diff(bounds)) for _ in range(3)])
  np.testing.assert_array_equal(a["frame_inds"], expected)
  assert (a["clip_len"], a["num_clips"], a["frame_interval"]) == (8, 3, None)


def test_uniform_sample_frames_test_mode_short_videos():
  # 5 frames < clip_len 8: clips start at i * 5 // 2 = 0, 2 and loop.
  r = _run("UniformSampleFrames", 5, clip_len=8, num_clips=2, test_mode=True)
  np.testing.assert_array_equal(r["frame_inds"], [0, 1, 2, 3, 4, 0, 1, 2, 2, 3, 4, 0, 1, 2, 3, 4])
  # Fewer frames than clips: clips start at 0, 1, 2; start_index shifts everything.
  r = _run("UniformSampleFrames", 2, start_index=1, clip_len=4, num_clips=3, test_mode=True)
  np.testing.assert_array_equal(r["frame_inds"], np.array([0, 1, 0, 1, 1, 0, 1, 0, 0, 1, 0, 1]) + 1)
