"""The generic builder: MMAction2 annotation lists, one per split, over videos or frame folders.

A user with ``train_list.txt`` / ``val_list.txt`` in MMAction2's formats (what
``vjax.tools.build_file_list`` writes, or any custom dataset's lists) gets a TFDS dataset
without writing a builder.
"""

from __future__ import annotations

import os
import os.path as osp

from tfds_builders.common import builder as base
from tfds_builders.common import encode as enc

SPLITS = ("train", "val", "test")
_LIST_EXTS = (".txt", ".json")


class MmactionList(base.RecognitionBuilder):
  """Videos or frame folders listed in MMAction2 annotation lists (single label)."""

  MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Put in manual_dir:
  train_list.txt, val_list.txt and optionally test_list.txt (or .json): MMAction2 annotation
    lists. Video lists have lines `<path> <label>`; frame-folder lists (file name containing
    'rawframe', e.g. train_list_rawframes.txt) have lines `<frame_dir> <total_frames> <label>`,
    frames named img_00001.jpg (or 00001.jpg) inside each folder.
  data/: the videos or frame folders; list paths are relative to it (or to manual_dir when
    there is no data/ folder, or absolute).
  classes.txt (optional): one class name per line, line i naming label i; without it the
    classes are named by their indices.
"""

  def plan(self, manual_dir: str):
    from vjax.data.sources import annotation_lists  # pylint: disable=g-import-not-at-top
    prefix = osp.join(manual_dir, "data")
    prefix = prefix if osp.isdir(prefix) else manual_dir
    lists = _split_lists(manual_dir)
    plan, top = {}, -1
    for split, path in lists.items():
      kind = (annotation_lists.RawframeDataset if "rawframe" in osp.basename(path)
              else annotation_lists.VideoDataset)
      infos = kind(path, data_prefix=prefix).video_infos
      samples = []
      for info in infos:
        media = info.get("frame_dir") or info["filename"]
        label = info.get("label")
        label = label[0] if isinstance(label, list) else label
        top = max(top, -1 if label is None else int(label))
        video_id = osp.relpath(media, prefix) if media.startswith(prefix) else media
        samples.append(enc.Sample(video_id=video_id, path=media, label=label))
      plan[split] = samples
    return _class_names(manual_dir, top + 1), plan


def _split_lists(manual_dir: str) -> dict[str, str]:
  names = sorted(os.listdir(manual_dir))
  lists = {}
  for split in SPLITS:
    found = [n for n in names if n.startswith(f"{split}_list") and n.endswith(_LIST_EXTS)]
    if len(found) > 1:
      raise ValueError(f"{manual_dir}: several lists for split {split!r}: {found}; keep one")
    if found:
      lists[split] = osp.join(manual_dir, found[0])
  if "train" not in lists and "val" not in lists:
    raise FileNotFoundError(f"{manual_dir} has no train_list.txt or val_list.txt (MMAction2 "
                            "annotation lists); see MANUAL_DOWNLOAD_INSTRUCTIONS")
  return lists


def _class_names(manual_dir: str, num_classes: int) -> list[str]:
  path = osp.join(manual_dir, "classes.txt")
  if not osp.exists(path):
    return [str(i) for i in range(num_classes)]
  with open(path) as f:
    names = [line.strip() for line in f if line.strip()]
  if len(names) < num_classes:
    raise ValueError(f"{path} names {len(names)} classes but the lists use labels up to "
                     f"{num_classes - 1}")
  return names
