"""HVU data side against MMAction2 0.24.1: HVUDataset, LoadHVULabel and the per-category mAP
of HVUDataset.evaluate (goldens from tests/reference/make_golden_hvu.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vjax.data import Compose
from vjax.data.sources import DATASETS, HVUDataset
from vjax.evaluation import hvu_mean_average_precision

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "hvu"


@pytest.fixture(scope="module")
def golden():
  cases = json.loads((GOLDEN / "cases.json").read_text())
  with np.load(GOLDEN / "arrays.npz") as z:
    arrays = {k: z[k] for k in z.files}
  return cases, arrays


def _dataset(cases, **kwargs):
  return HVUDataset(str(GOLDEN / "ann_video.json"), cases["categories"], cases["category_nums"],
                    data_prefix="data/hvu", **kwargs)


def test_results_match_mmaction2(golden):
  cases, _ = golden
  ds = _dataset(cases)
  want = cases["dataset"]["video"]["results"]
  assert [ds[i] for i in range(len(want))] == want
  raw = cases["dataset"]["rawframe"]
  rds = HVUDataset(str(GOLDEN / "ann_rawframe.json"), cases["categories"],
                   cases["category_nums"], filename_tmpl=raw["filename_tmpl"],
                   data_prefix=raw["data_prefix"], start_index=raw["start_index"])
  assert [rds[i] for i in range(len(rds))] == raw["results"]
  assert rds.dataset_type == "rawframe" and ds.dataset_type == "video"
  assert "frames_000" in rds.describe(0) and "entry 0" in rds.describe(0)


def test_load_hvu_label_matches_mmaction2(golden):
  cases, arrays = golden
  ds = DATASETS.build(dict(type="HVUDataset", ann_file=str(GOLDEN / "ann_video.json"),
                           tag_categories=cases["categories"],
                           tag_category_nums=cases["category_nums"], data_prefix="data/hvu"))
  pipeline = Compose([dict(type="LoadHVULabel"),
                      dict(type="Collect", keys=["label", "mask", "category_mask"],
                           meta_keys=[])])
  rows = [pipeline(ds[i]) for i in range(len(ds))]
  for key in ("label", "mask", "category_mask"):
    got = np.stack([r[key] for r in rows])
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, arrays[f"load/{key}"], err_msg=key)
  assert "LoadHVULabel(hvu_initialized=True)" in repr(pipeline)


def test_evaluate_matches_mmaction2(golden):
  cases, arrays = golden
  ds = _dataset(cases)
  cats, nums = cases["categories"], cases["category_nums"]
  for name in ("continuous", "tied"):
    scores = arrays[f"eval/{name}"]
    want = cases["evaluate"][name]["stable"]
    got = hvu_mean_average_precision(scores, ds.gt_labels(), cats, nums)
    assert list(got) == [f"{c}_mAP" for c in cats]
    np.testing.assert_allclose([got[k] for k in want], list(want.values()), rtol=1e-9,
                               atol=1e-12, err_msg=name)
    # The same from LoadHVULabel's arrays (what an evaluation batch carries).
    many_hot = hvu_mean_average_precision(scores, arrays["load/label"], cats, nums,
                                          category_mask=arrays["load/category_mask"])
    np.testing.assert_allclose(list(many_hot.values()), list(got.values()), rtol=0, atol=0)
  # Nothing ties within a category in 'continuous': the raw and the stable answers agree.
  assert cases["evaluate"]["continuous"]["raw"] == cases["evaluate"]["continuous"]["stable"]


def test_evaluate_unannotated_category_is_nan():
  got = hvu_mean_average_precision(np.random.default_rng(0).random((3, 5)),
                                   [{"a": [0]}, {"a": [1], "c": [9]}, {"a": []}], ["a", "b"],
                                   [2, 3])
  assert np.isnan(got["b_mAP"]) and got["a_mAP"] >= 0


def _write(tmp_path, entries, name="ann.json"):
  path = tmp_path / name
  path.write_text(entries if isinstance(entries, str) else json.dumps(entries))
  return str(path)


CATS, NUMS = ["action", "object", "scene"], [4, 6, 3]


def test_reads_a_list_written_here(tmp_path):
  ann = [{"filename": "v1.mp4", "label": {"action": [1, 3], "scene": [0]}},
         {"filename": "v2.mp4", "label": {"object": [5], "concept": [77]}}]
  ds = HVUDataset(_write(tmp_path, ann), CATS, NUMS, data_prefix="videos")
  assert len(ds) == 2
  r = ds[1]
  assert r["filename"] == "videos/v2.mp4" and r["label"] == {"object": [5], "concept": [77]}
  assert r["categories"] == CATS and r["category_nums"] == NUMS
  assert r["start_index"] == 0 and r["modality"] == "RGB"
  r["label"]["object"].append(0)  # Samples are copies.
  assert ds[1]["label"]["object"] == [5]
  out = Compose([dict(type="LoadHVULabel")])(ds[1])
  np.testing.assert_array_equal(out["category_mask"], [0, 1, 0])  # 'concept' is not trained.
  np.testing.assert_array_equal(out["mask"], [0] * 4 + [1] * 6 + [0] * 3)
  np.testing.assert_array_equal(np.flatnonzero(out["label"]), [4 + 5])

  frames = [{"frame_dir": "f1", "total_frames": 30, "label": {"action": [0]}}]
  path = _write(tmp_path, frames, "frames.json")
  rds = HVUDataset(path, CATS, NUMS, filename_tmpl="img_{:05d}.jpg")
  assert rds[0]["total_frames"] == 30 and rds[0]["filename_tmpl"] == "img_{:05d}.jpg"
  with pytest.raises(ValueError, match="needs filename_tmpl"):
    HVUDataset(path, CATS, NUMS)


@pytest.mark.parametrize("entries, message", [
    ([{"filename": "a.mp4", "label": {"action": [0]}},
      {"filename": "b.mp4", "label": [1, 2]}], r"\[1\]: 'label' must map category names"),
    ([{"filename": "a.mp4", "label": {"action": [0]}},
      {"filename": "b.mp4", "label": {"object": [6]}}], r"\[1\]: object tag\(s\) \[6\] outside"),
    ([{"filename": "a.mp4", "label": {"action": [0]}},
      {"frame_dir": "b", "label": {"action": [0]}}], r"\[1\]: expected a string 'filename'"),
    ([{"filename": "a.mp4", "label": {"action": 2}}], r"\[0\]: label\['action'\] must be a list"),
    ([{"filename": "a.mp4", "label": {"action": ["x"]}}], r"\[0\]: action tag 'x' is not an"),
    ([{"filename": "a.mp4", "frame_dir": "a", "label": {}}], r"\[0\]: the first entry must"),
    ([{"frame_dir": "a", "label": {"scene": [0]}}], r"\[0\]: a frame-folder entry needs "
                                                    r"'total_frames'"),
    ([], "non-empty JSON list"),
    ('[{"filename": "a.mp4", ', "invalid JSON"),
])
def test_malformed_lists_name_file_and_entry(tmp_path, entries, message):
  path = _write(tmp_path, entries)
  with pytest.raises(ValueError, match=message) as info:
    HVUDataset(path, CATS, NUMS, filename_tmpl="img_{:05d}.jpg")
  assert path in str(info.value)


def test_argument_and_label_errors(tmp_path):
  with pytest.raises(ValueError, match="json annotation lists only"):
    HVUDataset(str(tmp_path / "list.txt"), CATS, NUMS)
  with pytest.raises(ValueError, match="3 tag_categories but 2"):
    HVUDataset(str(tmp_path / "a.json"), CATS, NUMS[:2])
  with pytest.raises(FileNotFoundError):
    HVUDataset(str(tmp_path / "missing.json"), CATS, NUMS)
  op = Compose([dict(type="LoadHVULabel")])
  op(dict(label={"action": [1]}, categories=CATS, category_nums=NUMS))
  with pytest.raises(ValueError, match="differs from the first sample"):
    op(dict(label={"action": [1]}, categories=CATS[:2], category_nums=NUMS[:2]))
  with pytest.raises(ValueError, match=r"scene tags \[3\] outside \[0, 3\)"):
    Compose([dict(type="LoadHVULabel")])(dict(label={"scene": [3]}, categories=CATS,
                                               category_nums=NUMS))
