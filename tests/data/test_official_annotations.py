"""official_annotations: every dataset's official files, laid out as the download leaves them,
parse into MMAction2's class order, labels and ids; MediaIndex finds their media."""

from __future__ import annotations

import json
import os

import pytest

from vjax.data import official_annotations as oa
from vjax.data.official_annotations import MediaIndex, VideoEntry


def _write(folder, files: dict[str, str | object]) -> str:
  for name, content in files.items():
    path = os.path.join(folder, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
      f.write(content if isinstance(content, str) else json.dumps(content))
  return str(folder)


def _ids(entries):
  return [e.video_id for e in entries]


def _labels(entries):
  return [e.label for e in entries]


def test_datasets_lists_every_recognition_dataset():
  assert set(oa.DATASETS) == {
      "kinetics400", "kinetics600", "kinetics700", "ucf101", "hmdb51", "sthv1", "sthv2", "mit",
      "mmit", "jester", "diving48", "gym99", "gym288", "hvu", "omnisource"}


# ---------------------------------------------------------------- Kinetics

# Sorted by MMAction2's key (spaces -> '_'): 'zumba1' < 'zumba_x' although 'zumba x' < 'zumba1'.
_K_TRAIN = """label,youtube_id,time_start,time_end,split,is_cc
riding a bike,aaaaaaaaaaa,10,20,train,0
abseiling,bbbbbbbbbbb,0,10,train,0
"air drumming",ccccccccccc,5.0,15.0,train,0
zumba x,ddddddddddd,1,11,train,0
zumba1,eeeeeeeeeee,3,13,train,0
"""
_K_VAL = """label,youtube_id,time_start,time_end,split
air drumming,fffffffffff,30,40,val
zumba1,ggggggggggg,7,17,val
"""
_K_TEST = """youtube_id,time_start,time_end,split
hhhhhhhhhhh,2,12,test
"""


@pytest.fixture
def kinetics_dir(tmp_path):
  # Train/test under MMAction2's names, val under the official one.
  return _write(tmp_path / "annotations", {"kinetics_train.csv": _K_TRAIN,
                                           "validate.csv": _K_VAL, "kinetics_test.csv": _K_TEST})


def test_kinetics_classes_labels_and_ids(kinetics_dir):
  out = oa.parse("kinetics400", kinetics_dir)
  assert out.dataset == "kinetics400"
  assert out.class_names == ["abseiling", "air drumming", "riding a bike", "zumba1", "zumba x"]
  train = out.splits["train"]
  assert _ids(train) == ["riding_a_bike/aaaaaaaaaaa_000010_000020",
                         "abseiling/bbbbbbbbbbb_000000_000010",
                         "air_drumming/ccccccccccc_000005_000015",
                         "zumba_x/ddddddddddd_000001_000011", "zumba1/eeeeeeeeeee_000003_000013"]
  assert _labels(train) == [2, 0, 1, 4, 3]
  assert train[2].extra == {"youtube_id": "ccccccccccc", "time_start": 5, "time_end": 15}
  assert train[0].start is None and train[0].end is None
  assert _ids(out.splits["val"]) == ["air_drumming/fffffffffff_000030_000040",
                                     "zumba1/ggggggggggg_000007_000017"]
  assert _labels(out.splits["val"]) == [1, 3]
  assert _ids(out.splits["test"]) == ["hhhhhhhhhhh_000002_000012"]
  assert _labels(out.splits["test"]) == [None]


def test_kinetics_test_csv_is_optional_and_labelled_test_keeps_labels(tmp_path):
  folder = _write(tmp_path, {"train.csv": _K_TRAIN, "validate.csv": _K_VAL})
  assert set(oa.parse("kinetics700", folder).splits) == {"train", "val"}
  _write(tmp_path, {"test.csv": "label,youtube_id,time_start,time_end,split\n"
                                "abseiling,iiiiiiiiiii,4,14,test\n"})
  test = oa.parse("kinetics700", folder).splits["test"]
  assert (test[0].video_id, test[0].label) == ("iiiiiiiiiii_000004_000014", 0)


def test_kinetics_malformed_line_and_unknown_class(kinetics_dir):
  path = os.path.join(kinetics_dir, "kinetics_train.csv")
  with open(path, "a") as f:
    f.write("abseiling,jjjjjjjjjjj,soon,10,train,0\n")
  with pytest.raises(ValueError, match=r"kinetics_train\.csv, line 7: time_start 'soon'"):
    oa.parse("kinetics400", kinetics_dir)
  _write(kinetics_dir, {"kinetics_train.csv": _K_TRAIN,
                        "validate.csv": _K_VAL + "yodelling,kkkkkkkkkkk,1,11,val\n"})
  with pytest.raises(ValueError, match=r"validate\.csv, line 4: class 'yodelling'"):
    oa.parse("kinetics400", kinetics_dir)


def test_missing_file_names_it_and_the_download(tmp_path):
  with pytest.raises(FileNotFoundError,
                     match=r"kinetics_train\.csv not found.*kinetics600\.tar\.gz"):
    oa.parse("kinetics600", str(tmp_path))
  with pytest.raises(FileNotFoundError, match="does not exist"):
    oa.parse("ucf101", str(tmp_path / "nowhere"))


# ---------------------------------------------------------------- UCF101 / HMDB51


def _ucf_files():
  return {"classInd.txt": "1 ApplyEyeMakeup\n2 Archery\n3 HandstandPushups\n",
          "trainlist01.txt": "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\n"
                             "HandstandPushups/v_HandStandPushups_g08_c01.avi 3\n",
          "testlist01.txt": "Archery/v_Archery_g01_c01.avi\n",
          "trainlist02.txt": "Archery/v_Archery_g01_c01.avi 2\n",
          "testlist02.txt": "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi\n"
                            "HandstandPushups/v_HandStandPushups_g08_c01.avi\n",
          "trainlist03.txt": "", "testlist03.txt": ""}


def test_ucf101_splits(tmp_path):
  folder = _write(tmp_path, _ucf_files())
  one = oa.parse("ucf101", folder)
  assert one.class_names == ["ApplyEyeMakeup", "Archery", "HandstandPushups"]
  assert _ids(one.splits["train"]) == ["ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01",
                                       "HandstandPushups/v_HandStandPushups_g08_c01"]
  assert _labels(one.splits["train"]) == [0, 2]
  assert [(e.video_id, e.label) for e in one.splits["val"]] == [
      ("Archery/v_Archery_g01_c01", 1)]
  two = oa.parse("ucf101", folder, split=2)
  assert _labels(two.splits["train"]) == [1] and _labels(two.splits["val"]) == [0, 2]
  assert oa.parse("ucf101", folder, split=3).splits == {"train": [], "val": []}
  with pytest.raises(ValueError, match="splits 1..3"):
    oa.parse("ucf101", folder, split=4)


def test_ucf101_official_zip_subfolder_and_bad_class(tmp_path):
  folder = _write(tmp_path, {f"ucfTrainTestlist/{k}": v for k, v in _ucf_files().items()})
  assert len(oa.parse("ucf101", folder).splits["train"]) == 2
  _write(tmp_path, {"ucfTrainTestlist/testlist01.txt": "Archery/a.avi\nSkiing/b.avi\n"})
  with pytest.raises(ValueError, match=r"testlist01\.txt, line 2: class 'Skiing'"):
    oa.parse("ucf101", folder)


def test_hmdb51_per_class_split_files(tmp_path):
  folder = _write(tmp_path, {
      # Unpacked into the archive's folder; trailing spaces as in the release.
      "testTrainMulti_7030_splits/cartwheel_test_split1.txt": "d.avi 2 \ne.avi 1 \n",
      "testTrainMulti_7030_splits/brush_hair_test_split1.txt": "a.avi 1 \nb.avi 2 \nc.avi 0 \n",
      "testTrainMulti_7030_splits/brush_hair_test_split2.txt": "a.avi 2 \n",
      "testTrainMulti_7030_splits/cartwheel_test_split2.txt": "d.avi 1 \n"})
  out = oa.parse("hmdb51", folder)
  assert out.class_names == ["brush_hair", "cartwheel"]
  assert [(e.video_id, e.label) for e in out.splits["train"]] == [("brush_hair/a", 0),
                                                                   ("cartwheel/e", 1)]
  assert [(e.video_id, e.label) for e in out.splits["val"]] == [("brush_hair/b", 0),
                                                                 ("cartwheel/d", 1)]
  two = oa.parse("hmdb51", folder, split=2)
  assert _ids(two.splits["train"]) == ["cartwheel/d"] and _ids(two.splits["val"]) == [
      "brush_hair/a"]
  _write(tmp_path, {"testTrainMulti_7030_splits/cartwheel_test_split1.txt": "d.avi 3\n"})
  with pytest.raises(ValueError, match=r"cartwheel_test_split1\.txt, line 1"):
    oa.parse("hmdb51", folder)
  with pytest.raises(FileNotFoundError, match="test_split3.txt"):
    oa.parse("hmdb51", folder, split=3)


# ---------------------------------------------------------------- 20BN


@pytest.mark.parametrize("dataset,prefix", [("sthv1", "something-something-v1"),
                                            ("jester", "jester-v1")])
def test_20bn_csv_datasets(tmp_path, dataset, prefix):
  folder = _write(tmp_path, {f"{prefix}-labels.csv": "Holding something\nPushing something\n",
                             f"{prefix}-train.csv": "1;Pushing something\n2;Holding something\n",
                             f"{prefix}-validation.csv": "3;Holding something\n",
                             f"{prefix}-test.csv": "4\n5\n"})
  out = oa.parse(dataset, folder)
  assert out.class_names == ["Holding something", "Pushing something"]
  assert [(e.video_id, e.label) for e in out.splits["train"]] == [("1", 1), ("2", 0)]
  assert [(e.video_id, e.label) for e in out.splits["val"]] == [("3", 0)]
  assert [(e.video_id, e.label) for e in out.splits["test"]] == [("4", None), ("5", None)]
  _write(tmp_path, {f"{prefix}-validation.csv": "3;Holding something\n6\n"})
  with pytest.raises(ValueError, match=rf"{prefix}-validation\.csv, line 2"):
    oa.parse(dataset, folder)


def test_sthv2_templates_and_label_package_layout(tmp_path):
  labels = {"Holding something": "1", "Pushing something from left to right": "0"}
  train = [{"id": "12345", "label": "pushing a cup from left to right",
            "template": "Pushing [something] from left to right", "placeholders": ["a cup"]},
           {"id": "7", "label": "holding a pen", "template": "Holding [something]"}]
  val = [{"id": "99", "template": "Holding [something]"}]
  folder = _write(tmp_path, {"something-something-v2-labels.json": labels,
                             "something-something-v2-train.json": train,
                             "something-something-v2-validation.json": val,
                             "something-something-v2-test.json": [{"id": "5"}]})
  out = oa.parse("sthv2", folder)
  assert out.class_names == ["Pushing something from left to right", "Holding something"]
  assert [(e.video_id, e.label) for e in out.splits["train"]] == [("12345", 0), ("7", 1)]
  assert [(e.video_id, e.label) for e in out.splits["val"]] == [("99", 1)]
  assert [(e.video_id, e.label) for e in out.splits["test"]] == [("5", None)]
  # The official package's labels/ folder, no test file.
  package = _write(tmp_path / "pkg", {"labels/labels.json": labels, "labels/train.json": train,
                                      "labels/validation.json": val + [{"id": "1"}]})
  with pytest.raises(ValueError, match=r"validation\.json, entry 1: expected a 'template'"):
    oa.parse("sthv2", package)
  with pytest.raises(ValueError, match="single official split"):
    oa.parse("sthv2", folder, split=2)


# ---------------------------------------------------------------- Moments in Time


_MIT_CATEGORIES = "clapping,1\nadult+female+singing,0\n"


def test_mit_label_from_folder(tmp_path):
  folder = _write(tmp_path, {
      "moments_categories.txt": _MIT_CATEGORIES,
      "trainingSet.csv": "adult+female+singing/yt-abc_1.mp4,adult+female+singing,3,0\n"
                         "clapping/x.mp4,clapping,3,0\n",
      "validationSet.csv": "clapping/y.mp4,clapping,3,0\n"})
  out = oa.parse("mit", folder)
  assert out.class_names == ["adult+female+singing", "clapping"]
  assert [(e.video_id, e.label) for e in out.splits["train"]] == [
      ("adult+female+singing/yt-abc_1", 0), ("clapping/x", 1)]
  assert [(e.video_id, e.label) for e in out.splits["val"]] == [("clapping/y", 1)]
  assert "test" not in out.splits


def test_mmit_multi_label_txt_or_csv(tmp_path):
  folder = _write(tmp_path, {"moments_categories.txt": _MIT_CATEGORIES,
                             "trainingSet.txt": "adult+female+singing/v1.mp4,0,1\n",
                             "validationSet.csv": "clapping/v2.mp4,1\n"})
  out = oa.parse("mmit", folder)
  assert [(e.video_id, e.label) for e in out.splits["train"]] == [
      ("adult+female+singing/v1", (0, 1))]
  assert [(e.video_id, e.label) for e in out.splits["val"]] == [("clapping/v2", (1,))]
  _write(tmp_path, {"validationSet.csv": "clapping/v2.mp4,1\nclapping/v3.mp4,2\n"})
  with pytest.raises(ValueError, match=r"validationSet\.csv, line 2: label\(s\) \[2\] outside"):
    oa.parse("mmit", folder)
  _write(tmp_path, {"moments_categories.txt": "clapping\n"})
  with pytest.raises(ValueError, match=r"moments_categories\.txt, line 1: expected"):
    oa.parse("mmit", folder)


# ---------------------------------------------------------------- Diving48


def test_diving48_versions(tmp_path):
  vocab = [["Back", "15som", "05Twis", "FREE"], ["Forward", "Dive", "NoTwis", "PIKE"]]
  folder = _write(tmp_path, {
      "Diving48_vocab.json": vocab,
      "Diving48_V2_train.json": [{"vid_name": "_8Vy3dlHg2w_00000", "label": 1,
                                  "start_frame": 0, "end_frame": 58}],
      "Diving48_V2_test.json": [{"vid_name": "2x00lRzlTVQ_00001", "label": 0}],
      "Diving48_train.json": [{"vid_name": "old_1", "label": 0}],
      "Diving48_test.json": []})
  out = oa.parse("diving48", folder)
  assert out.class_names == ["Back+15som+05Twis+FREE", "Forward+Dive+NoTwis+PIKE"]
  train = out.splits["train"]
  assert [(e.video_id, e.label) for e in train] == [("_8Vy3dlHg2w_00000", 1)]
  assert train[0].extra == {"start_frame": 0, "end_frame": 58}
  assert [(e.video_id, e.label) for e in out.splits["val"]] == [("2x00lRzlTVQ_00001", 0)]
  v1 = oa.parse("diving48", folder, version="v1")
  assert _ids(v1.splits["train"]) == ["old_1"] and v1.splits["val"] == []
  with pytest.raises(TypeError, match="takes no option"):
    oa.parse("diving48", folder, variant="x")


# ---------------------------------------------------------------- FineGYM


_GYM_ANNOTATION = {"0LtLS9wROrk": {"E_002407_002435": {
    "event": 4, "timestamps": [[2407.25, 2435.5]],
    "segments": {"A_0003_0005": {"stages": 2, "timestamps": [[3.5, 4.0], [4.0, 5.25]]}}}}}


@pytest.fixture
def gym_dir(tmp_path):
  return _write(tmp_path / "annotations", {
      "annotation.json": _GYM_ANNOTATION,
      "gym99_train_org.txt": "0LtLS9wROrk_E_002407_002435_A_0003_0005 7\n",
      "gym99_val_element.txt": "0LtLS9wROrk_E_002407_002435_A_0010_0012 3\n"})


def test_gym_subactions_with_times(gym_dir):
  out = oa.parse("gym99", gym_dir)
  assert out.class_names == [str(i) for i in range(99)]
  (train,) = out.splits["train"]
  assert (train.video_id, train.label, train.start, train.end) == (
      "0LtLS9wROrk_E_002407_002435_A_0003_0005", 7, 3.5, 5.25)
  assert train.extra == {"youtube_id": "0LtLS9wROrk", "event_id": "E_002407_002435",
                         "event_clip": "0LtLS9wROrk_E_002407_002435", "event_start": 2407.25,
                         "event_end": 2435.5, "event_label": 4}
  (val,) = out.splits["val"]  # not in the annotation json: no times
  assert (val.label, val.start, val.end) == (3, None, None)


def test_gym_category_names_and_errors(gym_dir):
  lines = "".join(f"Clabel: {i:3d}; set: {i % 3:2d}; Glabel: {i + 10:3d}; (VT) move {i}\n"
                  for i in range(99))
  _write(gym_dir, {"gym99_categories.txt": lines})
  assert oa.parse("gym99", gym_dir).class_names[:2] == ["(VT) move 0", "(VT) move 1"]
  _write(gym_dir, {"gym99_val_element.txt": "0LtLS9wROrk_E_1_2 3\n"})
  with pytest.raises(ValueError, match=r"gym99_val_element\.txt, line 1"):
    oa.parse("gym99", gym_dir)
  with pytest.raises(FileNotFoundError, match="gym288_train_org.txt"):
    oa.parse("gym288", gym_dir)
  # MMAction2's lists of the downloaded subactions serve too.
  lists = _write(os.path.join(gym_dir, "mm"), {
      "gym288_train.txt": "0LtLS9wROrk_E_002407_002435_A_0003_0005.mp4 250\n",
      "gym288_val.txt": ""})
  (entry,) = oa.parse("gym288", lists).splits["train"]
  assert (entry.video_id, entry.label, entry.start) == (
      "0LtLS9wROrk_E_002407_002435_A_0003_0005", 250, None)


# ---------------------------------------------------------------- HVU


@pytest.fixture
def hvu_dir(tmp_path):
  return _write(tmp_path, {
      "hvu_categories.csv": "Tag,Category\nrunning,action\nbeach,scene\nabseiling,action\n"
                            "sea,scene\nred,attribute\n",
      "hvu_train.csv": "Tags,youtube_id,time_start,time_end\n"
                       "running|beach|abseiling,abcdefghijk,0,10\n",
      "hvu_val.csv": "Tags,youtube_id,time_start,time_end\nred,zzzzzzzzzzz,2.5,12.5\n",
      "HVU_Test_V1.0.csv": "youtube_id,time_start,time_end\nqqqqqqqqqqq,1,11\n"})


def test_hvu_categories_and_tags(hvu_dir):
  out = oa.parse("hvu", hvu_dir)
  assert out.categories == {"action": ["abseiling", "running"], "attribute": ["red"],
                            "scene": ["beach", "sea"]}
  assert out.class_names == ["abseiling", "running", "red", "beach", "sea"]
  (train,) = out.splits["train"]
  assert train.video_id == "abcdefghijk_000000_000100"
  assert train.label == (0, 1, 3)
  assert train.extra["action"] == (1, 0) and train.extra["scene"] == (0,)
  (val,) = out.splits["val"]
  assert (val.video_id, val.label, val.extra["attribute"]) == ("zzzzzzzzzzz_000025_000125", (2,),
                                                               (0,))
  (test,) = out.splits["test"]
  assert (test.video_id, test.label) == ("qqqqqqqqqqq_000010_000110", None)


def test_hvu_unknown_tag(hvu_dir):
  _write(hvu_dir, {"hvu_val.csv": "Tags,youtube_id,time_start,time_end\nred,a,0,1\nblue,b,0,1\n"})
  with pytest.raises(ValueError, match=r"hvu_val\.csv, line 3: tag 'blue'"):
    oa.parse("hvu", hvu_dir)


# ---------------------------------------------------------------- OmniSource


@pytest.fixture
def omni_dir(tmp_path):
  return _write(tmp_path / "annotations", {
      "k200_actions.txt": "abseiling\nair drumming\n",
      "K400_to_MiniKinetics_classidx_mapping.json": {"0": 0, "5": 1},
      "kinetics_200/k200_train.txt": "0074cdXclLU.mp4 1\nzzzlyL61Fyo.mp4 0\n",
      "kinetics_200/k200_val.txt": "01fAWEHzudA.mp4 0\n",
      "insvideo_200/slowonly_8x8_insvideo_200_wodup.txt": "000/abseil/B00arxogubl.mp4 0\n",
      "googleimage_200/tsn_8seg_googleimage_200.txt": "googleimage_200/000/00/000001.jpg 1\n",
      "webimage_200/tsn_8seg_webimage_200_wodup.txt": "insimage_200/001/air/x_0.jpg 1\n",
      "kinetics_raw_200/slowonly_8x8_kinetics_raw_200.json": [
          {"video_dir": "pref_/___dTOdxzXY", "label": 1, "num_clips": 7,
           "positive_clip_inds": [0, 2]}]})


def test_omnisource_sources(omni_dir):
  k200 = oa.parse("omnisource", omni_dir)
  assert k200.class_names == ["abseiling", "air drumming"]
  assert [(e.video_id, e.label) for e in k200.splits["train"]] == [("0074cdXclLU", 1),
                                                                   ("zzzlyL61Fyo", 0)]
  assert [(e.video_id, e.label) for e in k200.splits["val"]] == [("01fAWEHzudA", 0)]
  iv = oa.parse("omnisource", omni_dir, source="insvideo_200").splits
  assert list(iv) == ["train"]
  assert (iv["train"][0].video_id, iv["train"][0].extra["path"]) == (
      "000/abseil/B00arxogubl", "000/abseil/B00arxogubl.mp4")
  google = oa.parse("omnisource", omni_dir, source="googleimage_200", variant="filtered")
  assert [(e.video_id, e.label) for e in google.splits["train"]] == [
      ("googleimage_200/000/00/000001", 1)]
  web = oa.parse("omnisource", omni_dir, source="webimage_200").splits["train"]
  assert _ids(web) == ["insimage_200/001/air/x_0"]
  (raw,) = oa.parse("omnisource", omni_dir, source="kinetics_raw_200").splits["train"]
  assert (raw.video_id, raw.label, raw.extra["num_clips"], raw.extra["positive_clip_inds"]) == (
      "pref_/___dTOdxzXY", 1, 7, (0, 2))
  assert oa.minikinetics_mapping(omni_dir) == {0: 0, 5: 1}
  with pytest.raises(FileNotFoundError, match="tsn_8seg_insimage_200_wodup.txt"):
    oa.parse("omnisource", omni_dir, source="insimage_200")
  with pytest.raises(ValueError, match="source must be one of"):
    oa.parse("omnisource", omni_dir, source="youtube")


def test_unknown_dataset(tmp_path):
  with pytest.raises(ValueError, match="unknown dataset 'kinetics900'"):
    oa.parse("kinetics900", str(tmp_path))


# ---------------------------------------------------------------- media lookup


def _touch(root, *names):
  for name in names:
    path = os.path.join(root, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "w").close()


def test_media_index_kinetics_layouts(tmp_path, kinetics_dir):
  train = oa.parse("kinetics400", kinetics_dir).splits["train"]
  videos = str(tmp_path / "videos_train")
  _touch(videos, "riding_a_bike/aaaaaaaaaaa_000010_000020.mp4",  # renamed class folder
         "air drumming/ccccccccccc_000005_000015.mp4",  # class folder as downloaded
         "flat/bbbbbbbbbbb_000000_000010.mkv", "flat/bbbbbbbbbbb_000000_000010.mp4",
         "zumba_x/notes.txt")
  index = MediaIndex(videos)
  assert len(index) == 3
  found = [index.find(e) for e in train]
  assert found == [os.path.join(videos, "riding_a_bike/aaaaaaaaaaa_000010_000020.mp4"),
                   os.path.join(videos, "flat/bbbbbbbbbbb_000000_000010.mp4"),
                   os.path.join(videos, "air drumming/ccccccccccc_000005_000015.mp4"),
                   None, None]
  assert oa.locate(train[0], videos) == found[0]
  # The untrimmed YouTube video holds the clip at its csv times.
  _touch(videos, "raw/ddddddddddd.webm")
  assert MediaIndex(videos).find_clip(train[3]) == (os.path.join(videos, "raw/ddddddddddd.webm"),
                                                   1.0, 11.0)
  assert MediaIndex(videos).find(train[3]) is None


def test_media_index_ambiguous_names_and_rawframes(tmp_path):
  videos = str(tmp_path / "v")
  _touch(videos, "x/dup.avi", "y/dup.avi")
  index = MediaIndex(videos)
  assert index.find(VideoEntry("z/dup", 0)) is None
  assert index.find(VideoEntry("y/dup", 0)) == os.path.join(videos, "y/dup.avi")
  frames = str(tmp_path / "f")
  _touch(frames, "cls/vid/img_00001.jpg", "cls/vid2/img_00001.jpg", "other/v3/img_00001.jpg")
  flat = str(tmp_path / "flat")
  _touch(flat, "12345/img_00001.jpg", "list.txt")
  index = MediaIndex(frames, kind="rawframes")
  assert index.find(VideoEntry("cls/vid2", 0)) == os.path.join(frames, "cls/vid2")
  assert index.find(VideoEntry("v3", 0)) == os.path.join(frames, "other/v3")
  assert oa.locate(VideoEntry("12345", 0), flat, kind="rawframes") == os.path.join(flat, "12345")
  assert oa.locate(VideoEntry("99", 0), flat, kind="rawframes") is None


def test_media_index_gym_clip_times(tmp_path, gym_dir):
  entry = oa.parse("gym99", gym_dir).splits["train"][0]
  root = str(tmp_path / "gym")
  _touch(root, "events/0LtLS9wROrk_E_002407_002435.mp4", "videos/0LtLS9wROrk.mp4",
         "subactions/0LtLS9wROrk_E_002407_002435_A_0003_0005.mp4")
  events = MediaIndex(os.path.join(root, "events"))
  event_clip = os.path.join(root, "events/0LtLS9wROrk_E_002407_002435.mp4")
  assert events.find(entry) == event_clip  # the clip entry.start/end are seconds of
  assert events.find_clip(entry) == (event_clip, 3.5, 5.25)
  assert MediaIndex(os.path.join(root, "videos")).find_clip(entry) == (
      os.path.join(root, "videos/0LtLS9wROrk.mp4"), 2410.75, 2412.5)
  subactions = MediaIndex(os.path.join(root, "subactions"))
  assert subactions.find(entry) is None  # its times would not apply to the trimmed file
  assert subactions.find_clip(entry) == (
      os.path.join(root, "subactions/0LtLS9wROrk_E_002407_002435_A_0003_0005.mp4"), None, None)
