"""Every official-dataset builder on a dummy download laid out as its
MANUAL_DOWNLOAD_INSTRUCTIONS say: stored ids, labels (MMAction2's class order), class names,
frames and colours, and the build summary's missing / corrupt lists."""

from __future__ import annotations

import dataclasses
import json
import os
import os.path as osp

import numpy as np
import pytest

from tests.builders.conftest import colour, corrupt_video, make_frames, make_video
from vjax.data.ops_decode import FrameBytesDecode
from vjax.data.sources.tfds_records import TFDSDataset
from vjax.tools import build_dataset

CONFIG = "frames_256"  # never enlarges: the 24x32 dummies stay 24x32


@dataclasses.dataclass
class Expect:
  """What a build of the dummy download must store: per split, video id -> (label, frame
  colours, fps); the class names; per split the ids listed as missing / corrupt."""

  class_names: list
  splits: dict
  missing: dict = dataclasses.field(default_factory=dict)
  corrupt: dict = dataclasses.field(default_factory=dict)


def _write(root, files: dict) -> None:
  for rel, content in files.items():
    path = osp.join(root, rel)
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, "w") as f:
      f.write(content if isinstance(content, str) else json.dumps(content))


def _video(root, rel, n, seed, **kw):
  """A clip of ``n`` frames coloured colour(i, seed); returns its expected colours."""
  make_video(osp.join(root, rel), num_frames=n, seed=seed, **kw)
  return [colour(i, seed) for i in range(n)]


def _frames(root, rel, n, seed, tmpl="{:05d}.jpg"):
  make_frames(osp.join(root, rel), num_frames=n, seed=seed, tmpl=tmpl)
  return [colour(i, seed) for i in range(n)]


# ------------------------------------------------------------------------ dummy downloads

_K_TRAIN = """label,youtube_id,time_start,time_end,split,is_cc
riding a bike,aaaaaaaaaaa,10,20,train,0
abseiling,bbbbbbbbbbb,0,10,train,0
zumba x,ddddddddddd,1,11,train,0
zumba1,eeeeeeeeeee,3,13,train,0
"""
_K_VAL = """label,youtube_id,time_start,time_end,split
"zumba x",fffffffffff,30,40,val
abseiling,ggggggggggg,1,2,val
"""
_K_TEST = "youtube_id,time_start,time_end,split\nhhhhhhhhhhh,2,12,test\n"


def _kinetics(root, official_names=False):
  """Kinetics-400 under MMAction2's file and folder names; 600/700 under the official ones
  (train.csv, validate.csv, test.csv; train/, val/, test/)."""
  names = (("train.csv", "validate.csv", "test.csv") if official_names else
           ("kinetics_train.csv", "kinetics_val.csv", "kinetics_test.csv"))
  tr, va, te = ("train", "val", "test") if official_names else (
      "videos_train", "videos_val", "videos_test")
  _write(root, {f"annotations/{n}": c for n, c in zip(names, (_K_TRAIN, _K_VAL, _K_TEST))})
  # Class folders as downloaded (spaces) and as rename_classnames.sh leaves them.
  a = _video(root, f"{tr}/riding a bike/aaaaaaaaaaa_000010_000020.mp4", 4, 0)
  b = _video(root, f"{tr}/abseiling/bbbbbbbbbbb_000000_000010.mp4", 5, 1)
  corrupt_video(osp.join(root, f"{tr}/zumba_x/ddddddddddd_000001_000011.mp4"))
  f = _video(root, f"{va}/fffffffffff_000030_000040.mp4", 3, 2)  # flat
  # An untrimmed download (1.5 s), cut to the csv's seconds [1, 2): its frames 10..14.
  g = _video(root, f"{va}/ggggggggggg.mp4", 15, 3)[10:]
  h = _video(root, f"{te}/hhhhhhhhhhh_000002_000012.mp4", 3, 4)
  # MMAction2's order: sorted keys abseiling < riding_a_bike < zumba1 < zumba_x.
  return Expect(
      ["abseiling", "riding a bike", "zumba1", "zumba x"],
      {"train": {"riding_a_bike/aaaaaaaaaaa_000010_000020": (1, a, 10),
                 "abseiling/bbbbbbbbbbb_000000_000010": (0, b, 10)},
       "val": {"zumba_x/fffffffffff_000030_000040": (3, f, 10),
               "abseiling/ggggggggggg_000001_000002": (0, g, 10)},
       "test": {"hhhhhhhhhhh_000002_000012": (-1, h, 10)}},
      missing={"train": ["zumba1/eeeeeeeeeee_000003_000013"]},
      corrupt={"train": ["zumba_x/ddddddddddd_000001_000011"]})


_UCF_LISTS = {
    "classInd.txt": "1 ApplyEyeMakeup\n2 Archery\n3 HandstandPushups\n",
    "trainlist01.txt": "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\n"
                       "HandstandPushups/v_HandStandPushups_g08_c01.avi 3\n"
                       "Archery/v_Archery_g02_c01.avi 2\n",
    "testlist01.txt": "Archery/v_Archery_g01_c01.avi\n",
    "trainlist02.txt": "Archery/v_Archery_g01_c01.avi 2\n",
    "testlist02.txt": "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi\n"
                      "HandstandPushups/v_HandStandPushups_g08_c01.avi\n",
    "trainlist03.txt": "Archery/v_Archery_g01_c01.avi 2\n",
    "testlist03.txt": "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi\n"}


def _ucf101(root):
  _write(root, {f"annotations/{k}": v for k, v in _UCF_LISTS.items()})
  a = _video(root, "videos/ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi", 4, 0)
  b = _video(root, "videos/Archery/v_Archery_g01_c01.avi", 5, 1)
  corrupt_video(osp.join(root, "videos/HandstandPushups/v_HandStandPushups_g08_c01.avi"))
  return Expect(["ApplyEyeMakeup", "Archery", "HandstandPushups"],
                {"train": {"ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01": (0, a, 10)},
                 "val": {"Archery/v_Archery_g01_c01": (1, b, 10)}},
                missing={"train": ["Archery/v_Archery_g02_c01"]},
                corrupt={"train": ["HandstandPushups/v_HandStandPushups_g08_c01"]})


def _hmdb51(root):
  brush = "April_09_brush_hair_u_nm_np1_ba_goo_{}.avi"
  wheel = "Bodenturnen_cartwheel_f_cm_np1_le_med_{}.avi"
  for split in (1, 2, 3):  # as test_train_splits.rar unpacks; trailing spaces as released
    _write(root, {
        f"annotations/brush_hair_test_split{split}.txt":
            f"{brush.format(0)} 1 \n{brush.format(1)} 2 \n{brush.format(2)} 0 \n",
        f"annotations/cartwheel_test_split{split}.txt":
            f"{wheel.format(0)} 2 \n{wheel.format(1)} 1 \n{wheel.format(2)} 1 \n"})
  a = _video(root, f"videos/brush_hair/{brush.format(0)}", 4, 0)
  b = _video(root, f"videos/brush_hair/{brush.format(1)}", 3, 1)
  _video(root, f"videos/brush_hair/{brush.format(2)}", 3, 2)  # unused in split 1
  d = _video(root, f"videos/cartwheel/{wheel.format(0)}", 5, 3)
  corrupt_video(osp.join(root, f"videos/cartwheel/{wheel.format(1)}"))
  stem = lambda cls, name: f"{cls}/{name[:-4]}"
  return Expect(["brush_hair", "cartwheel"],
                {"train": {stem("brush_hair", brush.format(0)): (0, a, 10)},
                 "val": {stem("brush_hair", brush.format(1)): (0, b, 10),
                         stem("cartwheel", wheel.format(0)): (1, d, 10)}},
                missing={"train": [stem("cartwheel", wheel.format(2))]},
                corrupt={"train": [stem("cartwheel", wheel.format(1))]})


def _twenty_bn(prefix, folder, classes):
  def write(root):
    _write(root, {f"annotations/{prefix}-labels.csv": "".join(f"{c}\n" for c in classes),
                  f"annotations/{prefix}-train.csv": f"1;{classes[1]}\n2;{classes[0]}\n"
                                                     f"3;{classes[0]}\n",
                  f"annotations/{prefix}-validation.csv": f"4;{classes[0]}\n",
                  f"annotations/{prefix}-test.csv": "5\n"})
    one = _frames(root, f"{folder}/1", 4, 0)
    two = _frames(root, f"{folder}/2", 3, 1)
    four = _frames(root, f"{folder}/4", 5, 2)
    five = _frames(root, f"{folder}/5", 3, 3)
    return Expect(list(classes), {"train": {"1": (1, one, 12), "2": (0, two, 12)},
                                  "val": {"4": (0, four, 12)}, "test": {"5": (-1, five, 12)}},
                  missing={"train": ["3"]})
  return write


def _sthv2(root):
  _write(root, {
      "annotations/something-something-v2-labels.json": {
          "Holding something": "1", "Pushing something from left to right": "0"},
      "annotations/something-something-v2-train.json": [
          {"id": "12345", "label": "pushing a cup from left to right",
           "template": "Pushing [something] from left to right", "placeholders": ["a cup"]},
          {"id": "7", "label": "holding a pen", "template": "Holding [something]",
           "placeholders": ["a pen"]},
          {"id": "8", "label": "holding a cup", "template": "Holding [something]",
           "placeholders": ["a cup"]}],
      "annotations/something-something-v2-validation.json": [
          {"id": "99", "label": "holding a box", "template": "Holding [something]",
           "placeholders": ["a box"]}],
      "annotations/something-something-v2-test.json": [{"id": "5"}]})
  a = _video(root, "videos/12345.webm", 4, 0, codec="libvpx")
  corrupt_video(osp.join(root, "videos/7.webm"))
  v = _video(root, "videos/99.webm", 3, 1, codec="libvpx")
  t = _video(root, "videos/5.webm", 3, 2, codec="libvpx")
  return Expect(["Pushing something from left to right", "Holding something"],
                {"train": {"12345": (0, a, 10)}, "val": {"99": (1, v, 10)},
                 "test": {"5": (-1, t, 10)}},
                missing={"train": ["8"]}, corrupt={"train": ["7"]})


_MIT_CATEGORIES = "clapping,1\nadult+female+singing,0\n"


def _mit(root):
  _write(root, {
      "annotations/moments_categories.txt": _MIT_CATEGORIES,
      "annotations/trainingSet.csv": "adult+female+singing/yt-abc_1.mp4,adult+female+singing,3,0\n"
                                     "clapping/x.mp4,clapping,3,0\nclapping/bad.mp4,clapping,3,0\n"
                                     "clapping/gone.mp4,clapping,2,1\n",
      "annotations/validationSet.csv": "clapping/y.mp4,clapping,3,0\n"})
  a = _video(root, "videos/training/adult+female+singing/yt-abc_1.mp4", 4, 0)
  x = _video(root, "videos/training/clapping/x.mp4", 3, 1)
  corrupt_video(osp.join(root, "videos/training/clapping/bad.mp4"))
  y = _video(root, "videos/validation/clapping/y.mp4", 5, 2)
  return Expect(["adult+female+singing", "clapping"],
                {"train": {"adult+female+singing/yt-abc_1": (0, a, 10),
                           "clapping/x": (1, x, 10)},
                 "val": {"clapping/y": (1, y, 10)}},
                missing={"train": ["clapping/gone"]}, corrupt={"train": ["clapping/bad"]})


def _mmit(root):
  _write(root, {
      "annotations/moments_categories.txt": _MIT_CATEGORIES,
      "annotations/trainingSet.txt": "adult+female+singing/v1.mp4,0,1\nclapping/v2.mp4,1\n"
                                     "clapping/bad.mp4,1\nclapping/gone.mp4,0\n",
      "annotations/validationSet.txt": "clapping/v3.mp4,1,0\n"})
  a = _video(root, "videos/training/adult+female+singing/v1.mp4", 4, 0)
  b = _video(root, "videos/training/clapping/v2.mp4", 3, 1)
  corrupt_video(osp.join(root, "videos/training/clapping/bad.mp4"))
  c = _video(root, "videos/validation/clapping/v3.mp4", 5, 2)
  return Expect(["adult+female+singing", "clapping"],
                {"train": {"adult+female+singing/v1": ([1, 1], a, 10),
                           "clapping/v2": ([0, 1], b, 10)},
                 "val": {"clapping/v3": ([1, 1], c, 10)}},
                missing={"train": ["clapping/gone"]}, corrupt={"train": ["clapping/bad"]})


def _diving48(root, v1=False):
  tag, folder = ("", "rgb") if v1 else ("_V2", "videos")
  _write(root, {
      "annotations/Diving48_vocab.json": [["Back", "15som", "05Twis", "FREE"],
                                          ["Forward", "Dive", "NoTwis", "PIKE"]],
      f"annotations/Diving48{tag}_train.json": [
          {"vid_name": "_8Vy3dlHg2w_00000", "label": 1, "start_frame": 0, "end_frame": 58},
          {"vid_name": "_8Vy3dlHg2w_00001", "label": 0, "start_frame": 0, "end_frame": 40},
          {"vid_name": "_8Vy3dlHg2w_00002", "label": 0, "start_frame": 0, "end_frame": 40}],
      f"annotations/Diving48{tag}_test.json": [
          {"vid_name": "2x00lRzlTVQ_00001", "label": 0, "start_frame": 0, "end_frame": 30}]})
  a = _video(root, f"{folder}/_8Vy3dlHg2w_00000.mp4", 4, 0)
  corrupt_video(osp.join(root, f"{folder}/_8Vy3dlHg2w_00001.mp4"))
  t = _video(root, f"{folder}/2x00lRzlTVQ_00001.mp4", 3, 1)
  return Expect(["Back+15som+05Twis+FREE", "Forward+Dive+NoTwis+PIKE"],
                {"train": {"_8Vy3dlHg2w_00000": (1, a, 10)},
                 "val": {"2x00lRzlTVQ_00001": (0, t, 10)}},
                missing={"train": ["_8Vy3dlHg2w_00002"]},
                corrupt={"train": ["_8Vy3dlHg2w_00001"]})


def _gym(dataset):
  def write(root):
    annotation = {
        "0LtLS9wROrk": {
            "E_000010_000012": {"event": 4, "timestamps": [[10.0, 12.0]], "segments": {
                "A_0000_0001": {"stages": 1, "timestamps": [[0.5, 1.0]]},
                "A_0001_0002": {"stages": 2, "timestamps": [[1.0, 1.2], [1.2, 1.5]]}}},
            "E_000020_000022": {"event": 4, "timestamps": [[20.0, 22.0]], "segments": {
                "A_0000_0001": {"stages": 1, "timestamps": [[0.2, 0.8]]}}}},
        "zzzzzzzzzzz": {"E_000001_000003": {"event": 1, "timestamps": [[1.0, 3.0]],
                                            "segments": {"A_0000_0001": {
                                                "stages": 1, "timestamps": [[0.0, 0.5]]}}}}}
    labels = (7, 3, 5, 2) if dataset == "gym99" else (250, 3, 5, 287)
    _write(root, {
        "annotations/annotation.json": annotation,
        f"annotations/{dataset}_train_element_v1.0.txt":
            f"0LtLS9wROrk_E_000010_000012_A_0000_0001 {labels[0]}\n"
            f"0LtLS9wROrk_E_000020_000022_A_0000_0001 {labels[1]}\n"
            f"zzzzzzzzzzz_E_000001_000003_A_0000_0001 {labels[2]}\n",
        f"annotations/{dataset}_val_element.txt":
            f"0LtLS9wROrk_E_000010_000012_A_0001_0002 {labels[3]}\n"})
    # The event clip: 2 s at 10 fps; subactions [0.5, 1.0) and [1.0, 1.5) of it.
    event = _video(root, "events/0LtLS9wROrk_E_000010_000012.mp4", 20, 0)
    corrupt_video(osp.join(root, "events/0LtLS9wROrk_E_000020_000022.mp4"))
    n = {"gym99": 99, "gym288": 288}[dataset]
    return Expect([str(i) for i in range(n)],
                  {"train": {"0LtLS9wROrk_E_000010_000012_A_0000_0001": (labels[0], event[5:10],
                                                                         10)},
                   "val": {"0LtLS9wROrk_E_000010_000012_A_0001_0002": (labels[3], event[10:15],
                                                                       10)}},
                  missing={"train": ["zzzzzzzzzzz_E_000001_000003_A_0000_0001"]},
                  corrupt={"train": ["0LtLS9wROrk_E_000020_000022_A_0000_0001"]})
  return write


WRITERS = {
    "kinetics400": _kinetics,
    "kinetics600": lambda root: _kinetics(root, official_names=True),
    "kinetics700": lambda root: _kinetics(root, official_names=True),
    "ucf101": _ucf101,
    "hmdb51": _hmdb51,
    "sthv1": _twenty_bn("something-something-v1", "rawframes",
                        ("Holding something", "Pushing something from left to right")),
    "sthv2": _sthv2,
    "mit": _mit,
    "mmit": _mmit,
    "jester": _twenty_bn("jester-v1", "20bn-jester-v1", ("Swiping Left", "Thumb Up")),
    "diving48": _diving48,
    "diving48_v1": lambda root: _diving48(root, v1=True),
    "gym99": _gym("gym99"),
    "gym288": _gym("gym288"),
}


# ------------------------------------------------------------------------ checks


def _summary(data_dir, name, config):
  with open(osp.join(data_dir, name, config, "1.0.0", "build_summary.json")) as f:
    return json.load(f)


def _decode(results: dict) -> np.ndarray:
  results = dict(results, frame_inds=np.arange(results["total_frames"]))
  return FrameBytesDecode()(results)["imgs"]


def _records(name, split, data_dir, config) -> tuple[TFDSDataset, dict]:
  ds = TFDSDataset(name, split, data_dir, builder_config=config)
  return ds, {ds[i]["video_id"]: ds[i] for i in range(len(ds))}


def _check(name, data_dir, config, expect: Expect) -> None:
  summary = _summary(data_dir, name, config)
  assert sorted(summary) == sorted(expect.splits)
  for split, videos in expect.splits.items():
    ds, by_id = _records(name, split, data_dir, config)
    assert ds.class_names == expect.class_names
    assert sorted(by_id) == sorted(videos), split
    for video_id, (label, colours, fps) in videos.items():
      r = by_id[video_id]
      if isinstance(label, list):  # multi-label: a multi-hot vector of num_classes
        np.testing.assert_array_equal(r["label"], np.asarray(label, np.float32))
      else:
        assert r["label"] == label, video_id
      assert r["total_frames"] == len(colours), video_id
      assert r["fps"] == pytest.approx(fps), video_id
      imgs = _decode(r)
      assert imgs.shape == (len(colours), 24, 32, 3), video_id
      for i, (img, want) in enumerate(zip(imgs, colours)):
        np.testing.assert_allclose(img.reshape(-1, 3).mean(0), want, atol=10,
                                   err_msg=f"{video_id} frame {i}")
    skipped = summary[split]["skipped"]
    assert summary[split]["examples"] == len(videos)
    for reason, want in (("missing", expect.missing), ("corrupt", expect.corrupt)):
      got = sorted(s["video_id"] for s in skipped.get(reason, {}).get("samples", []))
      assert got == sorted(want.get(split, [])), (split, reason)
    assert set(skipped) <= {"missing", "corrupt"}


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_official_builder(name, tmp_path):
  manual, data_dir = str(tmp_path / "download"), str(tmp_path / "data")
  expect = WRITERS[name](manual)
  build_dataset.build(name, manual, data_dir, CONFIG, num_workers=1)
  _check(name, data_dir, CONFIG, expect)


def test_ucf101_split2_config_builds_official_split_2(tmp_path):
  manual, data_dir = str(tmp_path / "download"), str(tmp_path / "data")
  full = _ucf101(manual)
  a = full.splits["train"]["ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01"]
  b = full.splits["val"]["Archery/v_Archery_g01_c01"]
  build_dataset.build("ucf101", manual, data_dir, "frames_256_split2", num_workers=1)
  _check("ucf101", data_dir, "frames_256_split2", Expect(
      full.class_names, {"train": {"Archery/v_Archery_g01_c01": b},
                         "val": {"ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01": a}},
      corrupt={"val": ["HandstandPushups/v_HandStandPushups_g08_c01"]}))


# ------------------------------------------------------------------------ HVU


_HVU_CATEGORIES = ("Tag,Category\nrunning,action\nbeach,scene\nabseiling,action\nsea,scene\n"
                   "red,attribute\nsunny,concept\nwedding,event\ndog,object\n")


def test_hvu_tags_per_category_feed_load_hvu_label(tmp_path):
  from vjax.data.ops_labels import LoadHVULabel  # pylint: disable=g-import-not-at-top
  manual, data_dir = str(tmp_path / "download"), str(tmp_path / "data")
  _write(manual, {
      "annotations/hvu_categories.csv": _HVU_CATEGORIES,
      "annotations/hvu_train.csv": "Tags,youtube_id,time_start,time_end\n"
                                   "running|beach|abseiling,abcdefghijk,0,10\n"
                                   "red|dog,bbbbbbbbbbb,2.5,12.5\nsea,ccccccccccc,0,10\n",
      "annotations/hvu_val.csv": "Tags,youtube_id,time_start,time_end\n"
                                 "wedding|sunny|sea,zzzzzzzzzzz,2.5,12.5\n"})
  a = _video(manual, "videos_train/abcdefghijk_000000_000100.mp4", 4, 0)
  corrupt_video(osp.join(manual, "videos_train/bbbbbbbbbbb_000025_000125.mp4"))
  z = _video(manual, "videos_val/zzzzzzzzzzz_000025_000125.mp4", 3, 1)
  build_dataset.build("hvu", manual, data_dir, CONFIG, num_workers=1)
  summary = _summary(data_dir, "hvu", CONFIG)
  assert summary["train"]["examples"] == 1 and summary["val"]["examples"] == 1
  assert [s["video_id"] for s in summary["train"]["skipped"]["missing"]["samples"]] == [
      "ccccccccccc_000000_000100"]
  assert [s["video_id"] for s in summary["train"]["skipped"]["corrupt"]["samples"]] == [
      "bbbbbbbbbbb_000025_000125"]
  names = ["action", "attribute", "concept", "event", "object", "scene"]
  train = TFDSDataset("hvu", "train", data_dir, builder_config=CONFIG)
  assert train.tag_category_nums == dict(zip(names, [2, 1, 1, 1, 1, 2]))
  r = train[0]
  assert r["video_id"] == "abcdefghijk_000000_000100" and r["total_frames"] == len(a)
  # Tags within their category, sorted names: action [abseiling, running], scene [beach, sea].
  assert r["label"] == {"action": [1, 0], "scene": [0]}
  assert r["categories"] == names and r["category_nums"] == [2, 1, 1, 1, 1, 2]
  np.testing.assert_allclose(_decode(r)[0].reshape(-1, 3).mean(0), a[0], atol=10)
  out = LoadHVULabel()(r)
  np.testing.assert_array_equal(out["label"], [1, 1, 0, 0, 0, 0, 1, 0])
  np.testing.assert_array_equal(out["mask"], [1, 1, 0, 0, 0, 0, 1, 1])
  np.testing.assert_array_equal(out["category_mask"], [1, 0, 0, 0, 0, 1])
  val = TFDSDataset("hvu", "val", data_dir, builder_config=CONFIG)
  r = val[0]
  assert r["label"] == {"concept": [0], "event": [0], "scene": [1]}
  assert r["total_frames"] == len(z)
  out = LoadHVULabel()(r)
  np.testing.assert_array_equal(out["label"], [0, 0, 0, 1, 1, 0, 0, 1])
  np.testing.assert_array_equal(out["category_mask"], [0, 0, 1, 1, 0, 1])


# ------------------------------------------------------------------------ OmniSource


def _omnisource(root) -> dict:
  """OmniSource's release laid out as MMAction2's data/OmniSource; per config prefix, what
  its build stores."""
  _write(root, {
      "annotations/k200_actions.txt": "abseiling\nair drumming\n",
      "annotations/kinetics_200/k200_train.txt": "0074cdXclLU.mp4 1\nzzzlyL61Fyo.mp4 0\n"
                                                 "missing0001.mp4 0\n",
      "annotations/kinetics_200/k200_val.txt": "01fAWEHzudA.mp4 0\n",
      "annotations/googleimage_200/tsn_8seg_googleimage_200_wodup.txt":
          "googleimage_200/000/00/000001.jpg 0\ngoogleimage_200/001/00/000001.jpg 1\n"
          "googleimage_200/001/00/000002.jpg 1\ngoogleimage_200/001/00/000003.jpg 1\n",
      "annotations/insimage_200/tsn_8seg_insimage_200_wodup.txt":
          "insimage_200/abseiling/B0aaaa.jpg 0\ninsimage_200/air_drumming/B0gone.jpg 1\n",
      "annotations/webimage_200/tsn_8seg_webimage_200_wodup.txt":
          "googleimage_200/001/00/000001.jpg 1\ninsimage_200/abseiling/B0aaaa.jpg 0\n",
      "annotations/insvideo_200/slowonly_8x8_insvideo_200_wodup.txt":
          "air_drumming/B00arxogubl.mp4 1\nabseiling/B00gone.mp4 0\n",
      "annotations/kinetics_raw_200/slowonly_8x8_kinetics_raw_200.json": [
          {"video_dir": "pref_/___dTOdxzXY", "label": 1, "num_clips": 3,
           "positive_clip_inds": [0, 2]},
          {"video_dir": "abc/qqqqqqqqqqq", "label": 0, "num_clips": 2,
           "positive_clip_inds": []}]})
  k_a = _video(root, "kinetics_200_train/0074cdXclLU.mp4", 4, 0)
  corrupt_video(osp.join(root, "kinetics_200_train/zzzlyL61Fyo.mp4"))
  k_v = _video(root, "kinetics_200_val/01fAWEHzudA.mp4", 3, 1)
  g0 = _frames(root, "googleimage_200/000/00", 1, 2, tmpl="000001.jpg")
  g1 = _frames(root, "googleimage_200/001/00", 1, 3, tmpl="000001.jpg")
  _write(root, {"googleimage_200/001/00/000002.jpg": "not a jpeg"})
  ins = _frames(root, "insimage_200/abseiling", 1, 4, tmpl="B0aaaa.jpg")
  iv = _video(root, "insvideo_200/air_drumming/B00arxogubl.mp4", 5, 5)
  raw0 = _video(root, "kinetics_raw_200_train/pref_/___dTOdxzXY/part_0.mp4", 3, 6)
  _video(root, "kinetics_raw_200_train/pref_/___dTOdxzXY/part_1.mp4", 3, 7)  # not positive
  q0 = _video(root, "kinetics_raw_200_train/abc/qqqqqqqqqqq/part_0.mp4", 4, 8)
  corrupt_video(osp.join(root, "kinetics_raw_200_train/abc/qqqqqqqqqqq/part_1.mp4"))
  return {
      "kinetics_200": Expect(
          ["abseiling", "air drumming"],
          {"train": {"0074cdXclLU": (1, k_a, 10)}, "val": {"01fAWEHzudA": (0, k_v, 10)}},
          missing={"train": ["missing0001"]}, corrupt={"train": ["zzzlyL61Fyo"]}),
      "googleimage": Expect(
          ["abseiling", "air drumming"],
          {"train": {"googleimage_200/000/00/000001": (0, g0, 30),
                     "googleimage_200/001/00/000001": (1, g1, 30)}},
          missing={"train": ["googleimage_200/001/00/000003"]},
          corrupt={"train": ["googleimage_200/001/00/000002"]}),
      "insimage": Expect(["abseiling", "air drumming"],
                         {"train": {"insimage_200/abseiling/B0aaaa": (0, ins, 30)}},
                         missing={"train": ["insimage_200/air_drumming/B0gone"]}),
      "webimage": Expect(["abseiling", "air drumming"],
                         {"train": {"googleimage_200/001/00/000001": (1, g1, 30),
                                    "insimage_200/abseiling/B0aaaa": (0, ins, 30)}}),
      "insvideo": Expect(["abseiling", "air drumming"],
                         {"train": {"air_drumming/B00arxogubl": (1, iv, 10)}},
                         missing={"train": ["abseiling/B00gone"]}),
      "kinetics_raw": Expect(
          ["abseiling", "air drumming"],
          {"train": {"pref_/___dTOdxzXY/part_0": (1, raw0, 10),
                     "abc/qqqqqqqqqqq/part_0": (0, q0, 10)}},
          missing={"train": ["pref_/___dTOdxzXY/part_2"]},
          corrupt={"train": ["abc/qqqqqqqqqqq/part_1"]}),
  }


@pytest.fixture(scope="module")
def omnisource_download(tmp_path_factory):
  root = str(tmp_path_factory.mktemp("omnisource"))
  return root, _omnisource(root)


@pytest.mark.parametrize("source", ["kinetics_200", "googleimage", "insimage", "webimage",
                                    "insvideo", "kinetics_raw"])
def test_omnisource_source_configs(omnisource_download, source, tmp_path):
  manual, expect = omnisource_download
  config = f"{source}_{CONFIG}"
  build_dataset.build("omnisource", manual, str(tmp_path), config, num_workers=1)
  _check("omnisource", str(tmp_path), config, expect[source])


def test_omnisource_configs_and_picklable():
  import pickle  # pylint: disable=g-import-not-at-top
  from tfds_builders.omnisource import Omnisource  # pylint: disable=g-import-not-at-top
  names = {c.name for c in Omnisource.BUILDER_CONFIGS}
  assert {"kinetics_200_frames_256", "googleimage_frames_256", "kinetics_raw_video",
          "insvideo_frames_340x256"} <= names
  assert "googleimage_video" not in names  # images have no video configs
  config = next(c for c in Omnisource.BUILDER_CONFIGS if c.name == "insimage_frames_320")
  back = pickle.loads(pickle.dumps(config))
  assert (back.source, back.short_side, back.storage) == ("insimage", 320, "frames")


# ------------------------------------------------------------------------ audio features


def test_kinetics400_audio_feature_feeds_audio_pipeline(tmp_path):
  from vjax.data.pipeline import Compose  # pylint: disable=g-import-not-at-top
  manual, data_dir = str(tmp_path / "download"), str(tmp_path / "data")
  _write(manual, {"annotations/kinetics_train.csv": _K_TRAIN,
                  "annotations/kinetics_val.csv": _K_VAL})
  # Row t of a feature holds t + seed / 10 (80 bins), so a clip tells which rows it took.
  feats = {}
  for rel, rows, seed in (("audio_feature_train/aaaaaaaaaaa_000010_000020.npy", 200, 1),
                          ("audio_feature_train/bbbbbbbbbbb_000000_000010.npy", 90, 2),
                          ("audio_feature_val/fffffffffff_000030_000040.npy", 150, 3)):
    feat = np.repeat(np.arange(rows, dtype=np.float32)[:, None] + seed / 10, 80, axis=1)
    os.makedirs(osp.dirname(osp.join(manual, rel)), exist_ok=True)
    np.save(osp.join(manual, rel), feat)
    feats[osp.basename(rel)[:-4]] = feat
  _write(manual, {"audio_feature_train/ddddddddddd_000001_000011.npy": "not an array"})
  build_dataset.build("kinetics400_audio_feature", manual, data_dir, "audio_feature",
                      num_workers=1)
  summary = _summary(data_dir, "kinetics400_audio_feature", "audio_feature")
  assert sorted(summary) == ["train", "val"]  # no test csv, no audio_feature_test/
  skipped = summary["train"]["skipped"]
  assert [s["video_id"] for s in skipped["missing"]["samples"]] == [
      "zumba1/eeeeeeeeeee_000003_000013"]
  assert [s["video_id"] for s in skipped["corrupt"]["samples"]] == [
      "zumba_x/ddddddddddd_000001_000011"]
  ds, by_id = _records("kinetics400_audio_feature", "train", data_dir, "audio_feature")
  assert ds.class_names == ["abseiling", "riding a bike", "zumba1", "zumba x"]
  assert sorted(by_id) == ["abseiling/bbbbbbbbbbb_000000_000010",
                           "riding_a_bike/aaaaaaaaaaa_000010_000020"]
  r = by_id["riding_a_bike/aaaaaaaaaaa_000010_000020"]
  assert r["label"] == 1 and r["total_frames"] == 200
  np.testing.assert_array_equal(r["audios"], feats["aaaaaaaaaaa_000010_000020"])
  # configs/audio_k400.py's test pipeline up to the selector.
  out = Compose([dict(type="LoadAudioFeature"),
                 dict(type="SampleFrames", clip_len=64, frame_interval=1, num_clips=1,
                      test_mode=True),
                 dict(type="AudioFeatureSelector", fixed_length=128)])(dict(r), rng=0)
  assert out["length"] == 200 and out["audios"].shape == (1, 128, 80)
  first = int(out["frame_inds"][0]) + 1  # MMAction2's row of frame f: round((f+1)/T*len)
  last = int(out["frame_inds"][-1]) + 1
  clip = out["audios"][0, :, 0]
  np.testing.assert_allclose(clip[:last - first], np.arange(first, last) + 0.1, rtol=1e-6)
  assert not clip[last - first:].any()  # zero-padded to fixed_length
  (val,) = [TFDSDataset("kinetics400_audio_feature", "val", data_dir,
                        builder_config="audio_feature")[0]]
  assert val["video_id"] == "zumba_x/fffffffffff_000030_000040" and val["label"] == 3
  np.testing.assert_array_equal(val["audios"], feats["fffffffffff_000030_000040"])
