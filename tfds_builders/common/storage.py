"""How a recognition builder stores a video (its builder configs), the TFDS features that follow,
and the adapter that turns a stored record back into the results dict vjax's pipeline ops read.

Frames are kept JPEG-encoded and video files as bytes; either way only the sampled frames are
decoded at training time (``FrameBytesDecode``; ``PyAVInit``/``DecordInit`` open the bytes).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

FRAMES, VIDEO, FLOW, AUDIO_FEATURE = "frames", "video", "flow", "audio_feature"
# Label kinds: one class, several classes (multi-label), HVU's tags per category.
SINGLE, MULTI, TAGS = "single", "multi", "tags"
# Keys TFDS hands over still encoded (the pipeline decodes the sampled frames only).
UNDECODED = ("video", "flow_x", "flow_y", "video_bytes")


@dataclasses.dataclass(eq=False)
class StorageConfig(tfds.core.BuilderConfig):
  """``storage``: 'frames' (JPEG frames, resized as MMAction2's rawframes), 'video' (the
  original file's bytes, or re-encoded with a keyframe every few frames when ``dense``),
  'flow' (user-supplied ``flow_x``/``flow_y`` JPEG frames) or 'audio_feature' (a precomputed
  (time, bins) array per video). ``short_side`` or ``size=(width, height)`` resize; neither
  keeps the original size."""

  storage: str = FRAMES
  short_side: int | None = None
  size: tuple[int, int] | None = None
  dense: bool = False
  jpeg_quality: int = 95
  split: int = 1  # the official train/test split (UCF101 and HMDB51 have three)


def frames_config(short_side: int | None = None, size: tuple[int, int] | None = None,
                  storage: str = FRAMES) -> StorageConfig:
  tag = f"{size[0]}x{size[1]}" if size else (str(short_side) if short_side else "original")
  what = {FRAMES: "JPEG frames", FLOW: "flow_x/flow_y JPEG frames"}[storage]
  how = (f"resized to {size[0]}x{size[1]}" if size else
         f"short side {short_side}" if short_side else "at their original size")
  return StorageConfig(name=f"{storage}_{tag}", storage=storage, short_side=short_side,
                       size=size, description=f"{what}, {how}")


VIDEO_CONFIGS = [
    StorageConfig(name="video", storage=VIDEO,
                  description="the original video files' bytes, decoded when loaded"),
    StorageConfig(name="video_dense_256", storage=VIDEO, short_side=256, dense=True,
                  description="videos re-encoded at short side 256 with dense keyframes "
                              "(MMAction2's resize_videos --dense): fast random access"),
]
FRAME_CONFIGS = [frames_config(256), frames_config(320), frames_config(size=(340, 256))]
FLOW_CONFIGS = [frames_config(storage=FLOW), frames_config(size=(340, 256), storage=FLOW)]
# What a video-classification builder offers; the first is its default.
RECOGNITION_CONFIGS = FRAME_CONFIGS + VIDEO_CONFIGS + FLOW_CONFIGS
# Released as frame folders only (Something-Something V1, Jester): no video configs.
FRAME_FOLDER_CONFIGS = FRAME_CONFIGS + FLOW_CONFIGS


def with_official_splits(configs: list[StorageConfig], count: int) -> list[StorageConfig]:
  """Each config for official splits 1..count: ``frames_256`` is split 1, ``frames_256_split2``
  split 2 (UCF101, HMDB51)."""
  out = []
  for split in range(1, count + 1):
    for c in configs:
      out.append(dataclasses.replace(
          c, name=c.name if split == 1 else f"{c.name}_split{split}", split=split,
          description=f"{c.description}; official split {split}"))
  return out
AUDIO_CONFIGS = [StorageConfig(name="audio_feature", storage=AUDIO_FEATURE,
                               description="log-mel spectrogram features, (time, bins) float32")]


def features(storage: StorageConfig, label_kind: str = SINGLE,
             categories: dict[str, list[str]] | None = None) -> tfds.features.FeaturesDict:
  """The features of one video. Class names are filled in when the build reads them from the
  user's download (``set_class_names``)."""
  feats: dict = {"video_id": tfds.features.Text(),
                 "fps": tfds.features.Scalar(np.float32),
                 "total_frames": tfds.features.Scalar(np.int32)}
  if storage.storage == FRAMES:
    feats["video"] = tfds.features.Sequence(
        tfds.features.Image(shape=(None, None, 3), encoding_format="jpeg"))
  elif storage.storage == FLOW:
    for axis in ("flow_x", "flow_y"):
      feats[axis] = tfds.features.Sequence(
          tfds.features.Image(shape=(None, None, 1), encoding_format="jpeg"))
  elif storage.storage == VIDEO:
    feats["video_bytes"] = tfds.features.Tensor(shape=(), dtype=np.object_)
  elif storage.storage == AUDIO_FEATURE:
    # TFDS stores a tensor with two unknown dimensions only encoded (time and bins vary).
    feats["audio_feature"] = tfds.features.Tensor(shape=(None, None), dtype=np.float32,
                                                  encoding="zlib")
  else:
    raise ValueError(f"unknown storage {storage.storage!r}")
  if label_kind == SINGLE:
    feats["label"] = tfds.features.ClassLabel()
  elif label_kind == MULTI:
    feats["labels"] = tfds.features.Sequence(tfds.features.ClassLabel())
  elif label_kind == TAGS:
    # Tag names may be unknown when the builder's info is made (before the download is read):
    # a category mapped to None gets its names from ``set_class_names`` at build time.
    feats["tags"] = tfds.features.FeaturesDict({
        c: tfds.features.Sequence(tfds.features.ClassLabel(
            names=None if names is None else list(names)))
        for c, names in (categories or {}).items()})
  else:
    raise ValueError(f"unknown label kind {label_kind!r}")
  return tfds.features.FeaturesDict(feats)


def set_class_names(feats: tfds.features.FeaturesDict, class_names: list[str],
                    categories: dict[str, list[str] | None] | None = None) -> None:
  """Names the classes, or for HVU-style tags each category's tags (once per build; TFDS
  refuses a second, different list)."""
  if "label" in feats:
    feats["label"].names = list(class_names)
  elif "labels" in feats:
    feats["labels"].feature.names = list(class_names)
  elif "tags" in feats:
    for c, names in (categories or {}).items():
      if names is not None and c in feats["tags"]:
        feats["tags"][c].feature.names = list(names)


def class_names_of(feats) -> list[str] | None:
  if "label" in feats:
    return feats["label"].names
  if "labels" in feats:
    return feats["labels"].feature.names
  return None


def results_from_record(record: dict, index: int) -> dict:
  """A stored video as MMAction2's results keys, for the pipeline's decode ops: ``frames_bytes``
  (frames, or (x, y) pairs for flow), ``video_bytes`` (+ ``filename`` naming it in errors) or
  ``audios``; ``label`` an int, a multi-hot float vector (multi-label) or HVU's
  ``{category: tags}`` with ``categories``/``category_nums``."""
  video_id = record.get("video_id", index)
  if isinstance(video_id, bytes):
    video_id = video_id.decode()
  out = dict(video_id=video_id, start_index=0, total_frames=int(record["total_frames"]),
             fps=float(record["fps"]), modality="RGB")
  if "video" in record:
    out["frames_bytes"] = list(record["video"])
  elif "flow_x" in record:
    out["frames_bytes"] = list(zip(record["flow_x"], record["flow_y"]))
    out["modality"] = "Flow"
  elif "video_bytes" in record:
    data = record["video_bytes"]
    out["video_bytes"] = data if isinstance(data, bytes) else bytes(data)
    out["filename"] = f"{video_id} (stored video bytes)"
  elif "audio_feature" in record:
    out["audios"] = np.asarray(record["audio_feature"], np.float32)
    out["length"] = out["audios"].shape[0]
  if "label" in record:
    out["label"] = int(record["label"])
  elif "labels" in record:
    out["label"] = [int(x) for x in record["labels"]]
  elif "tags" in record:
    out["label"] = {c: [int(x) for x in v] for c, v in record["tags"].items() if len(v)}
    out["categories"] = list(record["tags"])
  return out
