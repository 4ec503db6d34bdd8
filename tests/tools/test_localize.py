"""``python -m vjax.tools.localize``: a generated video -> clip features (the random-weight
synthetic TSN, 128 channels) -> rescaled sequence -> BMN proposals JSON, in-process, with no
launcher. The expected proposals are recomputed here from the pieces the chain is made of:
``video_features`` (tested against a direct model forward in test_feature_extraction.py),
``rescale_features`` (MMAction2's pool_feature), the BMN network and its MMAction2-parity
post-processing."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.media_fixtures import write_video
from vjax.inference import init_localizer, init_recognizer
from vjax.localization import bmn_candidate_proposals, post_processing
from vjax.localization.features import rescale_features, video_features
from vjax.tools import localize

ROOT = Path(__file__).resolve().parents[2]
RECOGNIZER = f"{ROOT}/configs/tsn_k400.py:synthetic"
FPS, FRAMES, T = 8, 64, 16
def bmn_config_file(tmp_path: Path) -> str:
  """A vjax config file: the BMN recipe at 16 steps over the 128-channel TSN features."""
  path = tmp_path / "bmn_tiny.py"
  path.write_text(f'''
import importlib.util

def get_config(arg=""):
  spec = importlib.util.spec_from_file_location("bmn", {str(ROOT / "configs" / "bmn_activitynet.py")!r})
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  c = module.get_config()
  c.model = module.model({T}, 128, num_samples=4, num_samples_per_bin=2, hidden_dim_1d=16,
                         hidden_dim_2d=8, hidden_dim_3d=16, feature_extraction_interval=4)
  return c
''')
  return str(path)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
  rng = np.random.default_rng(0)
  frames = [cv2.GaussianBlur(rng.integers(0, 256, (32, 40, 3), dtype=np.uint8), (5, 5), 1.0)
            for _ in range(FRAMES)]
  path = tmp_path_factory.mktemp("localize") / "walk.mp4"
  write_video(str(path), frames, fps=FPS)
  return str(path)


def test_localize_one_video_end_to_end(video, tmp_path):
  config = bmn_config_file(tmp_path)
  out = tmp_path / "proposals.json"
  result = localize.main([video, "--recognizer-config", RECOGNIZER, "--localizer-config", config,
                          "--out", str(out), "--clip-interval", "2", "--batch-size", "8"])

  recognizer, localizer = init_recognizer(RECOGNIZER), init_localizer(config)
  feats = video_features(recognizer, video, clip_len=1, frame_interval=1, clip_interval=2,
                         batch_size=8)
  assert feats.shape == (FRAMES // 2, 128)  # a clip every 2 frames
  sequence = rescale_features(feats, T).astype(np.float32)
  confidence, start, end = (np.asarray(a)[0] for a in localizer.forward(sequence[None]))
  meta = dict(video_name="v_walk", duration_second=FRAMES / FPS, duration_frame=FRAMES,
              feature_frame=FRAMES)
  rows = bmn_candidate_proposals(start, end, np.moveaxis(confidence, -1, 0))
  expected = post_processing(rows, meta, 0.4, 0.5, 0.9, 100, 4)

  saved = json.loads(out.read_text())
  assert set(saved) == {"version", "results", "external_data"}
  assert list(saved["results"]) == ["walk"]  # MMAction2's ids drop the 'v_'
  assert saved["results"]["walk"] == result["proposal_list"]
  got = np.array([[p["score"], *p["segment"]] for p in result["proposal_list"]])
  want = np.array([[p["score"], *p["segment"]] for p in expected])
  assert len(got) == len(want) > 0
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
  assert got[:, 1:].min() >= 0 and got[:, 1:].max() <= FRAMES / FPS


def test_localize_names_a_feature_width_mismatch(video, tmp_path):
  recognizer = init_recognizer(RECOGNIZER)
  config = bmn_config_file(tmp_path)
  localizer = init_localizer(config)
  localizer.config.model.feat_dim = 400
  with pytest.raises(ValueError, match="128-channel features but the localizer reads feat_dim=400"):
    localize.localize(video, recognizer, localizer, clip_interval=2)
