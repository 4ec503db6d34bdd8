"""The ``thumos14`` builder on a dummy download in MMAction2's layout (written by
``tfds_builders.thumos14.synthetic`` in a tmp dir, one test video's frames removed), and the
synthetic set itself: records hold the frames as extracted and the TAG list's segments, and
``SSNDataset(tfds=...)`` reads them as ``SSNDataset`` reads the frame folders."""

from __future__ import annotations

import os
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest

from tfds_builders.thumos14 import synthetic
from vjax.data.pipeline import Compose
from vjax.data.sources import TFDSDataset
from vjax.data.sources.ssn import SSNDataset
from vjax.localization.ssn import load_localize_proposal_file
from vjax.tools import build_dataset

CONFIG = "frames_original"
OPTIONS = dict(num_val=3, num_test=2, min_frames=30, max_frames=40, size=16)
TRAIN_CFG = dict(ssn=dict(
    assigner=dict(positive_iou_threshold=0.7, background_iou_threshold=0.01,
                  incomplete_iou_threshold=0.3, background_coverage_threshold=0.02,
                  incomplete_overlap_threshold=0.01),
    sampler=dict(num_per_video=8, positive_ratio=1, background_ratio=1, incomplete_ratio=6,
                 add_gt_as_proposals=True),
    loss_weight=dict(comp_loss_weight=0.1, reg_loss_weight=0.1)))
TEST_CFG = dict(ssn=dict(sampler=dict(test_interval=2, batch_size=4),
                         evaluater=dict(top_k=2000, nms=0.2)))


@pytest.fixture(scope="module")
def download(tmp_path_factory):
  root = synthetic.prepare(str(tmp_path_factory.mktemp("dl")), **OPTIONS)
  manual = str(tmp_path_factory.mktemp("manual"))
  shutil.copytree(root, manual, dirs_exist_ok=True)
  os.makedirs(osp.join(manual, "proposals"))  # the test list where MMAction2's script puts it
  shutil.move(osp.join(manual, synthetic.proposal_file("test")),
              osp.join(manual, "proposals", synthetic.proposal_file("test")))
  shutil.rmtree(osp.join(manual, "rawframes", "test", "video_test_0000001"))
  data_dir = str(tmp_path_factory.mktemp("tfds"))
  build_dataset.build("thumos14", manual, data_dir, CONFIG)
  return manual, data_dir


def test_records_hold_the_extracted_frames_and_the_tag_segments(download):
  manual, data_dir = download
  val = TFDSDataset("thumos14", "val", data_dir, builder_config=CONFIG)
  test = TFDSDataset("thumos14", "test", data_dir, builder_config=CONFIG)
  assert (len(val), len(test)) == (3, 1)  # the test video without frames is skipped
  tag = load_localize_proposal_file(osp.join(manual, synthetic.proposal_file("val")))
  for i, video in enumerate(tag):
    r = val[i]
    assert r["video_id"] == video.video_id and r["total_frames"] == video.num_frames
    np.testing.assert_array_equal(r["gt_segments"], [g[1:] for g in video.gts])
    np.testing.assert_array_equal(r["gt_labels"], [g[0] for g in video.gts])
    np.testing.assert_array_equal(r["proposal_segments"], [p[3:] for p in video.proposals])
    np.testing.assert_allclose(r["proposal_best_iou"], [p[1] for p in video.proposals],
                               rtol=1e-6)
    folder = osp.join(manual, "rawframes", "val", video.video_id)
    assert len(r["frames_bytes"]) == len(os.listdir(folder)) == video.num_frames
    with open(osp.join(folder, "img_00005.jpg"), "rb") as f:
      assert bytes(r["frames_bytes"][4]) == f.read()  # JPEGs stored as extracted


def test_ssn_dataset_reads_the_records_as_the_frame_folders(download):
  manual, data_dir = download
  tfds = dict(name="thumos14", split="val", data_dir=data_dir, builder_config=CONFIG)
  from_records = SSNDataset(None, TRAIN_CFG, TEST_CFG, tfds=tfds)
  from_files = SSNDataset(osp.join(manual, synthetic.proposal_file("val")), TRAIN_CFG, TEST_CFG,
                          data_prefix=osp.join(manual, "rawframes", "val"))
  assert [v["video_id"] for v in from_records.video_infos] == \
      [v["video_id"] for v in from_files.video_infos]
  np.testing.assert_array_equal(from_records.reg_norm_consts, from_files.reg_norm_consts)
  op = dict(type="SampleProposalFrames", clip_len=1, body_segments=5, aug_segments=(2, 2),
            aug_ratio=0.5)
  tail = [dict(type="FormatShape", input_format="NPTCHW")]
  for i in range(len(from_files)):  # each video reads its own record
    a = Compose([op, dict(type="FrameBytesDecode"), *tail])(
        from_records.sample(i, np.random.default_rng(3)), np.random.default_rng(4))
    b = Compose([op, dict(type="RawFrameDecode"), *tail])(
        from_files.sample(i, np.random.default_rng(3)), np.random.default_rng(4))
    assert a["imgs"].shape == (8, 9, 16, 16, 3)
    np.testing.assert_array_equal(a["imgs"], b["imgs"])
    np.testing.assert_array_equal(a["out_proposals"], b["out_proposals"])
  test = SSNDataset(None, TRAIN_CFG, TEST_CFG, test_mode=True, test_ticks_per_sample=8,
                    tfds=dict(tfds, split="test"))
  assert [v["video_id"] for v in test.video_infos] == ["video_test_0000000"]
  with pytest.raises(KeyError, match="takes name, split, data_dir and builder_config"):
    SSNDataset(None, TRAIN_CFG, TEST_CFG, tfds=dict(tfds, subset="val"))


def test_synthetic_set_is_deterministic_and_plants_its_actions(tmp_path):
  a = synthetic.prepare(str(tmp_path / "a"), **OPTIONS)
  b = synthetic.prepare(str(tmp_path / "b"), **OPTIONS)
  name = synthetic.proposal_file("val")
  assert open(osp.join(a, name)).read() == open(osp.join(b, name)).read()
  video = load_localize_proposal_file(osp.join(a, name))[0]
  frames = np.stack([cv2.imread(osp.join(a, "rawframes", "val", video.video_id,
                                         f"img_{t + 1:05d}.jpg"))[..., ::-1]
                     for t in range(video.num_frames)]).astype(np.float64)
  inside = np.zeros(video.num_frames, bool)
  for label, s, e in video.gts:
    colour = np.array(synthetic.COLOURS[label - 1])
    near = np.linalg.norm(frames[s:e] - colour, axis=-1) < 60
    assert near.mean(axis=(1, 2)).min() > 0.05  # the square, in every action frame
    inside[s:e] = True
  grey = frames[~inside]
  assert (np.ptp(grey, axis=-1) < 40).mean() > 0.95  # background frames stay grey
  ious = [p[1] for p in video.proposals]
  assert max(ious) > 0.7 and min(ious) < 0.01  # positives and backgrounds among the proposals
