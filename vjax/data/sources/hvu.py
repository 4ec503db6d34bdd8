"""``HVUDataset``: MMAction2's HVU json lists, whose tags come in categories (action,
attribute, concept, event, object, scene) and may be missing a category per video."""

from __future__ import annotations

import json

from vjax.data.sources.annotation_lists import (_AnnotationList, _check_template, _int,
                                               read_json)
from vjax.data.sources.base import DATASETS


@DATASETS.register
class HVUDataset(_AnnotationList):
  """HVU videos (``filename``) or frame folders (``frame_dir`` + ``total_frames``, with
  ``filename_tmpl``) from a json list; the first entry decides which, as in MMAction2.

  Each entry's ``label`` maps a category to its tag indices within that category, e.g.
  ``{"filename": "a.mp4", "label": {"action": [180], "object": [1570, 508]}}``; a category
  absent from it is not annotated for that video. Samples carry ``label`` (that dict),
  ``categories`` and ``category_nums`` for ``LoadHVULabel``, which turns them into
  ``label`` / ``mask`` / ``category_mask`` arrays. Tags of categories outside
  ``tag_categories`` are kept but ignored downstream. ``multi_class`` / ``num_classes`` are
  accepted for MMAction2 configs and have no effect (labels are dicts here).
  """

  path_key = "filename"
  line_format = ('[{"filename" | "frame_dir": ..., ["total_frames": n,] '
                 '"label": {"<category>": [<tag>, ...], ...}}, ...]')

  def __init__(self, ann_file, tag_categories, tag_category_nums, filename_tmpl=None,
               data_prefix=None, start_index=0, modality="RGB", test_mode=False,
               multi_class=False, num_classes=None):
    tag_categories = [str(c) for c in tag_categories]
    tag_category_nums = [_int(n, "tag_category_nums entry", 1) for n in tag_category_nums]
    if len(tag_categories) != len(tag_category_nums):
      raise ValueError(f"HVUDataset: {len(tag_categories)} tag_categories but "
                       f"{len(tag_category_nums)} tag_category_nums")
    if len(set(tag_categories)) != len(tag_categories):
      raise ValueError(f"HVUDataset: repeated tag_categories {tag_categories}")
    if not str(ann_file).endswith(".json"):
      raise ValueError(f"HVUDataset reads json annotation lists only, got {ann_file}")
    self.tag_categories = tag_categories
    self.tag_category_nums = tag_category_nums
    self.num_categories = len(tag_categories)
    self.num_tags = sum(tag_category_nums)
    self.category2num = dict(zip(tag_categories, tag_category_nums))
    starts, total = [], 0
    for n in tag_category_nums:
      starts.append(total)
      total += n
    self.start_idx = starts
    self.category2startidx = dict(zip(tag_categories, starts))
    self.filename_tmpl = filename_tmpl
    self.dataset_type = None
    del multi_class  # HVU labels are dicts; LoadHVULabel makes the many-hot arrays.
    super().__init__(ann_file, data_prefix, False, num_classes, start_index, modality, test_mode)

  def _load_json(self) -> list[dict]:
    raw = read_json(self.ann_file)
    if not isinstance(raw, list) or not raw:
      raise ValueError(f"{self.ann_file}: expected a non-empty JSON list of entries, got "
                       f"{type(raw).__name__ if not isinstance(raw, list) else 'an empty list'}")
    first = raw[0]
    if not isinstance(first, dict) or ("filename" in first) == ("frame_dir" in first):
      raise ValueError(f"{self.ann_file}[0]: the first entry must be a dict with exactly one of "
                       f"'filename' (videos) or 'frame_dir' (frame folders)\n  expected: "
                       f"{self.line_format}")
    self.path_key = "filename" if "filename" in first else "frame_dir"
    self.dataset_type = "video" if self.path_key == "filename" else "rawframe"
    if self.dataset_type == "rawframe":
      if self.filename_tmpl is None:
        raise ValueError(f"{self.ann_file} lists frame folders ('frame_dir'): HVUDataset needs "
                         "filename_tmpl, e.g. 'img_{:05d}.jpg'")
      _check_template(self.filename_tmpl, self.modality)
    return [self._parse_entry(item, i) for i, item in enumerate(raw)]

  def _parse_entry(self, item, i: int) -> dict:
    where = f"{self.ann_file}[{i}]"
    try:
      if not isinstance(item, dict):
        raise ValueError(f"expected a dict, got {type(item).__name__}")
      other = "frame_dir" if self.path_key == "filename" else "filename"
      if not isinstance(item.get(self.path_key), str) or other in item:
        raise ValueError(f"expected a string '{self.path_key}' (and no '{other}'), as the "
                         "first entry of the list")
      label = item.get("label")
      if not isinstance(label, dict):
        raise ValueError("'label' must map category names to lists of tag indices, got "
                         f"{label!r}")
      tags_by_category = {}
      for category, tags in label.items():
        if not isinstance(tags, list):
          raise ValueError(f"label[{category!r}] must be a list of tag indices, got {tags!r}")
        if category in self.category2num:
          num = self.category2num[category]
          tags = [_int(t, f"{category} tag") for t in tags]
          bad = [t for t in tags if not 0 <= t < num]
          if bad:
            raise ValueError(f"{category} tag(s) {bad} outside [0, {num})")
        tags_by_category[category] = list(tags)
      info = dict(item)
      info["label"] = tags_by_category
      if self.dataset_type == "rawframe":
        if "total_frames" not in item:
          raise ValueError("a frame-folder entry needs 'total_frames'")
        info["total_frames"] = _int(item["total_frames"], "total_frames", 0)
    except ValueError as e:
      raise ValueError(f"{where}: {e}\n  entry: {json.dumps(item)[:300]}\n  expected: "
                       f"{self.line_format}") from None
    info[self.path_key] = self._join(info[self.path_key])
    info["categories"] = list(self.tag_categories)
    info["category_nums"] = list(self.tag_category_nums)
    if self.dataset_type == "rawframe":
      info["filename_tmpl"] = self.filename_tmpl
    info["_where"] = f"entry {i}"
    return info

  def _load_text(self) -> list[dict]:
    raise ValueError(f"HVUDataset reads json annotation lists only, got {self.ann_file}")

  def __getitem__(self, index: int) -> dict:
    results = self._common(self.video_infos[int(index)])
    results["label"] = {c: list(tags) for c, tags in results["label"].items()}
    return results

  def gt_labels(self) -> list[dict]:
    """Every video's ``{category: tags}`` (for ``hvu_mean_average_precision``)."""
    return [{c: list(tags) for c, tags in info["label"].items()} for info in self.video_infos]

  def sample_weights(self):
    return None
