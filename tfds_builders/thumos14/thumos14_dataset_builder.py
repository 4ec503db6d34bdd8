"""The ``thumos14`` TFDS builder (the class says what it holds)."""

from __future__ import annotations

import inspect
import os
import os.path as osp

import numpy as np
import tensorflow_datasets as tfds

from tfds_builders.common import encode as enc
from tfds_builders.common import storage as st
from tfds_builders.common.builder import LocalBuilder

SPLITS = ("val", "test")
# MMAction2's tools/data/thumos14 layout: where each split's frames or videos may be.
MEDIA = {"val": ("rawframes/val", "videos/val"), "test": ("rawframes/test", "videos/test")}
TAG_FOLDERS = (".", "proposals")


def tag_file_name(split: str) -> str:
  return f"thumos14_tag_{split}_proposal_list.txt"


class Thumos14(LocalBuilder):
  """THUMOS'14 temporal action localization (20 classes) with MMAction2's TAG proposals, as its
  SSN reads them: one record per untrimmed video of the val (what SSN trains on) and test
  splits, holding its frames (JPEG), the TAG list's frame count, ground-truth segments
  (``gt_labels``, ``gt_segments`` as ``[start, end)`` frames) and proposals
  (``proposal_labels``, ``proposal_best_iou``, ``proposal_overlap_self``,
  ``proposal_segments``). Each split's TAG list and its videos in record order are also kept in
  the dataset's metadata, so ``SSNDataset(tfds=...)`` reads the proposals without the frames.

  A record holds a whole untrimmed video (thousands of frames), and random access reads a
  record whole, so training from rawframe folders reads far less per sample; the records suit
  moving the dataset around and smaller sets.
  """

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release."}
  BUILDER_CONFIGS = [st.frames_config(), st.frames_config(size=(340, 256))]
  HOMEPAGE = "https://www.crcv.ucf.edu/THUMOS14/"
  MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Put in manual_dir (MMAction2's data/thumos14, made by its tools/data/thumos14 scripts):
  thumos14_tag_val_proposal_list.txt, thumos14_tag_test_proposal_list.txt: the denormalised TAG
    proposal lists (fetch_tag_proposals.sh + denormalize_proposal_file.sh; at the top level or
    in proposals/);
  rawframes/val/<video_id>/img_00001.jpg ... and rawframes/test/... (extract_rgb_frames.sh), or
    videos/val/<video_id>.mp4 and videos/test/... (download_videos.sh).
A split without its TAG list is left out; a listed video without frames is skipped and listed.
"""
  # Options vjax.tools.build_dataset sets on every builder (this one writes in one process).
  num_workers: int = 1
  samples_per_shard: int = 256
  min_frames: int = 1


  def _info(self) -> tfds.core.DatasetInfo:
    ints = lambda *shape: tfds.features.Tensor(shape=shape, dtype=np.int32)  # noqa: E731
    floats = lambda *shape: tfds.features.Tensor(shape=shape, dtype=np.float32)  # noqa: E731
    return self.dataset_info_from_configs(
        description=inspect.getdoc(type(self)),
        features=tfds.features.FeaturesDict({
            "video_id": tfds.features.Text(),
            "fps": tfds.features.Scalar(np.float32),
            "total_frames": tfds.features.Scalar(np.int32),
            "num_frames": tfds.features.Scalar(np.int32),
            "video": tfds.features.Sequence(
                tfds.features.Image(shape=(None, None, 3), encoding_format="jpeg")),
            "gt_labels": ints(None), "gt_segments": ints(None, 2),
            "proposal_labels": ints(None), "proposal_best_iou": floats(None),
            "proposal_overlap_self": floats(None), "proposal_segments": ints(None, 2),
        }),
        metadata=tfds.core.MetadataDict(),
        disable_shuffling=True,  # records in TAG-list order, as the metadata lists them
        homepage=self.HOMEPAGE)

  def _split_generators(self, dl_manager):
    manual = os.fspath(dl_manager.manual_dir)
    splits = {}
    for split in SPLITS:
      tag = next((osp.join(manual, d, tag_file_name(split)) for d in TAG_FOLDERS
                  if osp.isfile(osp.join(manual, d, tag_file_name(split)))), None)
      if tag is None:
        print(f"vjax: thumos14: no {tag_file_name(split)} in {manual} (or its proposals/); "
              f"split {split!r} left out")
        continue
      splits[split] = self._generate_examples(split, tag, manual)
    if not splits:
      raise FileNotFoundError(f"{manual} has no TAG proposal list; see the builder's "
                              "MANUAL_DOWNLOAD_INSTRUCTIONS")
    return splits

  def _media(self, manual: str, split: str, video_id: str) -> str | None:
    for folder in MEDIA[split]:
      path = osp.join(manual, folder, video_id)
      if folder.startswith("rawframes") and osp.isdir(path):
        return path
      for ext in (".mp4", ".avi", ".webm", ".mkv"):
        if osp.isfile(path + ext):
          return path + ext
    return None

  def _generate_examples(self, split: str, tag: str, manual: str):
    # pylint: disable-next=g-import-not-at-top
    from vjax.localization.ssn import load_localize_proposal_file
    with open(tag) as f:
      text = f.read()
    written, skipped = [], []
    for video in load_localize_proposal_file(tag):
      sample = enc.Sample(video_id=video.video_id, path=self._media(manual, split, video.video_id))
      try:
        ex = enc.encode(sample, self.builder_config, self.min_frames)
      except enc.Skip as e:
        skipped.append(f"{video.video_id}: {e}")
        continue
      gts = np.array(video.gts, np.float64).reshape(-1, 3)
      props = np.array(video.proposals, np.float64).reshape(-1, 5)
      ex.update(num_frames=np.int32(video.num_frames),
                gt_labels=gts[:, 0].astype(np.int32), gt_segments=gts[:, 1:].astype(np.int32),
                proposal_labels=props[:, 0].astype(np.int32),
                proposal_best_iou=props[:, 1].astype(np.float32),
                proposal_overlap_self=props[:, 2].astype(np.float32),
                proposal_segments=props[:, 3:].astype(np.int32))
      written.append(video.video_id)
      yield video.video_id, ex
    self.info.metadata[split] = dict(tag_list=text, videos=written, skipped=skipped)
    print(f"vjax: thumos14 {split}: {len(written)} videos written"
          + (f"; skipped {len(skipped)}:\n  " + "\n  ".join(skipped) if skipped else ""))


def open_split_metadata(builder, split: str) -> dict:
  """The split's ``tag_list`` (the TAG file's text) and ``videos`` (their record order)."""
  meta = builder.info.metadata or {}
  if split not in meta:
    raise KeyError(f"thumos14 ({builder.data_dir}) has no metadata for split {split!r}; it has "
                   f"{sorted(meta)}")
  return meta[split]


def results_from_record(record: dict, index: int) -> dict:
  """A stored video as MMAction2's results keys: ``frames_bytes`` (decoded by
  ``FrameBytesDecode``), ``total_frames`` (the TAG list's frame count), ``video_id``, and the
  ground truth and proposals as stored."""
  video_id = record.get("video_id", index)
  if isinstance(video_id, bytes):
    video_id = video_id.decode()
  out = dict(video_id=video_id, frames_bytes=list(record["video"]), start_index=0,
             total_frames=int(record["num_frames"]), stored_frames=int(record["total_frames"]),
             fps=float(record["fps"]), modality="RGB")
  for key in ("gt_labels", "gt_segments", "proposal_labels", "proposal_best_iou",
              "proposal_overlap_self", "proposal_segments"):
    out[key] = np.asarray(record[key])
  return out
