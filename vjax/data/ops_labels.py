"""Label ops: ``LoadHVULabel`` turns HVU's per-category tag lists into fixed-shape arrays."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from vjax.data.ops_base import PIPELINES


@PIPELINES.register
class LoadHVULabel:
  """HVU tags -> ``label`` (many-hot over all tags), ``mask`` (1 for every tag of a category
  the video is annotated with) and ``category_mask`` (1 per annotated category), float32.

  Reads ``results['label']`` (category -> tag indices within that category; categories not
  in the layout are skipped), ``categories`` and ``category_nums``, which HVUDataset (and the
  ``vjax_synthetic_tags`` HVU records) put in every sample. As in MMAction2 the layout is
  taken from the first sample; a later sample with another layout is an error here. A tag
  outside its category's range is an error too (MMAction2 would mark a tag of the next
  category). Constructor keyword arguments are accepted and unused, as in MMAction2.
  """

  def __init__(self, **kwargs):
    self.hvu_initialized = False
    self.kwargs = kwargs

  def init_hvu_info(self, categories, category_nums) -> None:
    categories, category_nums = list(categories), [int(n) for n in category_nums]
    if len(categories) != len(category_nums):
      raise ValueError(f"LoadHVULabel: {len(categories)} categories but {len(category_nums)} "
                       "category_nums")
    self.categories = categories
    self.category_nums = category_nums
    self.num_categories = len(categories)
    self.num_tags = sum(category_nums)
    self.category2num = dict(zip(categories, category_nums))
    starts = np.concatenate([[0], np.cumsum(category_nums)[:-1]]).astype(int).tolist()
    self.start_idx = starts
    self.category2startidx = dict(zip(categories, starts))
    self.hvu_initialized = True

  def __call__(self, results: dict, rng=None) -> dict:
    for key in ("label", "categories", "category_nums"):
      if key not in results:
        raise KeyError(f"LoadHVULabel needs results[{key!r}] (from HVUDataset), got keys "
                       f"{sorted(results)}")
    if not self.hvu_initialized:
      self.init_hvu_info(results["categories"], results["category_nums"])
    elif (list(results["categories"]) != self.categories or
          [int(n) for n in results["category_nums"]] != self.category_nums):
      raise ValueError(f"LoadHVULabel: sample layout {list(results['categories'])} / "
                       f"{list(results['category_nums'])} differs from the first sample's "
                       f"{self.categories} / {self.category_nums}")
    tags_by_category = results["label"]
    if not isinstance(tags_by_category, Mapping):
      raise TypeError(f"LoadHVULabel: results['label'] must map category -> tag indices, got "
                      f"{type(tags_by_category).__name__}")
    label = np.zeros(self.num_tags, np.float32)
    mask = np.zeros(self.num_tags, np.float32)
    category_mask = np.zeros(self.num_categories, np.float32)
    for category, tags in tags_by_category.items():
      if category not in self.category2num:
        continue
      start, num = self.category2startidx[category], self.category2num[category]
      tags = np.asarray(tags, dtype=np.int64).reshape(-1)
      if tags.size and (tags.min() < 0 or tags.max() >= num):
        raise ValueError(f"LoadHVULabel: {category} tags {tags.tolist()} outside [0, {num})")
      category_mask[self.categories.index(category)] = 1.0
      label[start + tags] = 1.0
      mask[start:start + num] = 1.0
    results["label"] = label
    results["mask"] = mask
    results["category_mask"] = category_mask
    return results

  def __repr__(self) -> str:
    return f"{type(self).__name__}(hvu_initialized={self.hvu_initialized})"
