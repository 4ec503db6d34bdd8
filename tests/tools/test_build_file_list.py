"""build_file_list / anno_txt2json: MMAction2's list files, named and laid out as it writes
them, from dummy downloads; vjax's list datasets read them back."""

from __future__ import annotations

import json
import os
import random

import pytest

from tests.data.test_official_annotations import _write
from vjax.data.sources.annotation_lists import RawframeDataset, VideoDataset
from vjax.tools import anno_txt2json, build_file_list


def _touch(root, *names):
  _write(root, {name: "" for name in names})


def _read(path) -> str:
  with open(path) as f:
    return f.read()


def _run(*argv) -> list[str]:
  return build_file_list.main([str(a) for a in argv] + ["--quiet"])


# ---------------------------------------------------------------- UCF101

_AEM = "ApplyEyeMakeup/v_ApplyEyeMakeup_g0{}_c01"
_ARC = "Archery/v_Archery_g0{}_c01"


@pytest.fixture
def ucf101(tmp_path):
  """Two classes, two videos each; split 3's test list names a video that was not
  downloaded."""
  ann = _write(tmp_path / "annotations", {
      "classInd.txt": "1 ApplyEyeMakeup\n2 Archery\n",
      "trainlist01.txt": f"{_AEM.format(1)}.avi 1\n{_ARC.format(1)}.avi 2\n",
      "testlist01.txt": f"{_AEM.format(2)}.avi\n{_ARC.format(2)}.avi\n",
      "trainlist02.txt": f"{_AEM.format(2)}.avi 1\n{_ARC.format(2)}.avi 2\n",
      "testlist02.txt": f"{_AEM.format(1)}.avi\n{_ARC.format(1)}.avi\n",
      "trainlist03.txt": f"{_AEM.format(1)}.avi 1\n{_ARC.format(2)}.avi 2\n",
      "testlist03.txt": f"{_AEM.format(2)}.avi\n{_ARC.format(9)}.avi\n{_ARC.format(1)}.avi\n"})
  videos = tmp_path / "videos"
  _touch(videos, *(f"{v.format(g)}.avi" for v in (_AEM, _ARC) for g in (1, 2)))
  frames = tmp_path / "rawframes"
  for v, g, n in ((_AEM, 1, 3), (_AEM, 2, 5), (_ARC, 1, 4), (_ARC, 2, 2)):
    folder = v.format(g)
    _touch(frames, *(f"{folder}/img_{i:05d}.jpg" for i in range(1, n + 1)),
           *(f"{folder}/flow_{d}_{i:05d}.jpg" for d in "xy" for i in range(1, n)))
  return ann, str(videos), str(frames), tmp_path / "out"


def test_ucf101_videos_three_splits(ucf101):
  ann, videos, _, out = ucf101
  written = _run("ucf101", videos, "--format", "videos", "--annotation-dir", ann,
                 "--out-root-path", out)
  names = [f"ucf101_{s}_split_{i}_videos.txt" for i in (1, 2, 3) for s in ("train", "val")]
  assert written == [os.path.join(out, "ucf101", n) for n in names]
  assert sorted(os.listdir(out / "ucf101")) == sorted(names)
  expected = {
      1: ("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi 0\nArchery/v_Archery_g01_c01.avi 1\n",
          "ApplyEyeMakeup/v_ApplyEyeMakeup_g02_c01.avi 0\nArchery/v_Archery_g02_c01.avi 1\n"),
      2: ("ApplyEyeMakeup/v_ApplyEyeMakeup_g02_c01.avi 0\nArchery/v_Archery_g02_c01.avi 1\n",
          "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi 0\nArchery/v_Archery_g01_c01.avi 1\n"),
      # g09 was never downloaded: left out, as MMAction2 does.
      3: ("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi 0\nArchery/v_Archery_g02_c01.avi 1\n",
          "ApplyEyeMakeup/v_ApplyEyeMakeup_g02_c01.avi 0\nArchery/v_Archery_g01_c01.avi 1\n")}
  for i, (train, val) in expected.items():
    assert _read(out / "ucf101" / f"ucf101_train_split_{i}_videos.txt") == train
    assert _read(out / "ucf101" / f"ucf101_val_split_{i}_videos.txt") == val
  dataset = VideoDataset(str(out / "ucf101" / "ucf101_val_split_1_videos.txt"), data_prefix=videos)
  assert [(i["filename"], i["label"]) for i in dataset.video_infos] == [
      (os.path.join(videos, "ApplyEyeMakeup/v_ApplyEyeMakeup_g02_c01.avi"), 0),
      (os.path.join(videos, "Archery/v_Archery_g02_c01.avi"), 1)]


def test_ucf101_rawframes_count_frames_and_read_back(ucf101):
  ann, _, frames, out = ucf101
  _run("ucf101", frames, "--format", "rawframes", "--annotation-dir", ann, "--out-root-path", out)
  assert len(os.listdir(out / "ucf101")) == 6
  assert _read(out / "ucf101" / "ucf101_train_split_1_rawframes.txt") == (
      "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01 3 0\nArchery/v_Archery_g01_c01 4 1\n")
  assert _read(out / "ucf101" / "ucf101_val_split_2_rawframes.txt") == (
      "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01 3 0\nArchery/v_Archery_g01_c01 4 1\n")
  dataset = RawframeDataset(str(out / "ucf101" / "ucf101_train_split_2_rawframes.txt"),
                            data_prefix=frames)
  assert [(i["frame_dir"], i["total_frames"], i["label"]) for i in dataset.video_infos] == [
      (os.path.join(frames, "ApplyEyeMakeup/v_ApplyEyeMakeup_g02_c01"), 5, 0),
      (os.path.join(frames, "Archery/v_Archery_g02_c01"), 2, 1)]


def test_flow_counts_must_agree(ucf101):
  ann, _, frames, out = ucf101
  os.remove(os.path.join(frames, _ARC.format(2), "flow_y_00001.jpg"))
  with pytest.raises(SystemExit, match="1 x-flow but 0 y-flow"):
    _run("ucf101", frames, "--annotation-dir", ann, "--out-root-path", out)


# ---------------------------------------------------------------- Kinetics-400

_K_HEADER = "label,youtube_id,time_start,time_end,split\n"
_K_TRAIN = [("abseiling", "aaaaaaaaaaa", 0, 10), ("air drumming", "bbbbbbbbbbb", 5, 15),
            ("abseiling", "ccccccccccc", 1, 11), ("air drumming", "ddddddddddd", 2, 12),
            ("abseiling", "eeeeeeeeeee", 3, 13), ("air drumming", "fffffffffff", 4, 14)]
_K_TRAIN_LINES = ["abseiling/aaaaaaaaaaa_000000_000010.mp4 0\n",
                  "air_drumming/bbbbbbbbbbb_000005_000015.mp4 1\n",
                  "abseiling/ccccccccccc_000001_000011.mp4 0\n",
                  "air_drumming/ddddddddddd_000002_000012.mp4 1\n",
                  "abseiling/eeeeeeeeeee_000003_000013.mp4 0\n",
                  "air_drumming/fffffffffff_000004_000014.mp4 1\n"]
_K_VAL = [("air drumming", "ggggggggggg"), ("abseiling", "hhhhhhhhhhh"),
          ("abseiling", "jjjjjjjjjjj"), ("air drumming", "kkkkkkkkkkk"),
          ("abseiling", "lllllllllll")]
_K_VAL_LINES = ["air_drumming/ggggggggggg_000000_000010.mp4 1\n",
                "abseiling/hhhhhhhhhhh_000000_000010.mp4 0\n",
                "abseiling/jjjjjjjjjjj_000000_000010.mp4 0\n",
                "air_drumming/kkkkkkkkkkk_000000_000010.mp4 1\n",
                "abseiling/lllllllllll_000000_000010.mp4 0\n"]


@pytest.fixture
def kinetics(tmp_path):
  rows = "".join(f"{c},{y},{s},{e},train\n" for c, y, s, e in _K_TRAIN)
  ann = _write(tmp_path / "annotations", {
      "kinetics_train.csv": _K_HEADER + rows,
      "kinetics_val.csv": _K_HEADER + "".join(f"{c},{y},0,10,val\n" for c, y in _K_VAL),
      "kinetics_test.csv": "youtube_id,time_start,time_end,split\niiiiiiiiiii,0,10,test\n"})
  train = tmp_path / "videos_train"
  _touch(train, *(f"{c.replace(' ', '_')}/{y}_{s:06d}_{e:06d}.mp4" for c, y, s, e in _K_TRAIN))
  return ann, str(train), tmp_path / "out"


def test_kinetics400_train_list(kinetics):
  ann, train, out = kinetics
  written = _run("kinetics400", train, "--format", "videos", "--num-split", "1", "--subset",
                 "train", "--annotation-dir", ann, "--out-root-path", out)
  assert written == [os.path.join(out, "kinetics400", "kinetics400_train_list_videos.txt")]
  assert os.listdir(out / "kinetics400") == ["kinetics400_train_list_videos.txt"]
  assert _read(written[0]) == "".join(_K_TRAIN_LINES)
  dataset = VideoDataset(written[0], data_prefix=train, num_classes=2)
  assert [i["label"] for i in dataset.video_infos] == [0, 1, 0, 1, 0, 1]


def test_kinetics400_shuffle_follows_mmaction2_seeding(kinetics):
  ann, train, out = kinetics
  common = ["--format", "videos", "--num-split", "1", "--shuffle", "--seed", "3",
            "--annotation-dir", ann, "--out-root-path", out]
  (train_list,) = _run("kinetics400", train, "--subset", "train", *common)
  # MMAction2: random.seed(3), then shuffle the train RGB list first.
  random.seed(3)
  expected = list(_K_TRAIN_LINES)
  random.shuffle(expected)
  assert _read(train_list) == "".join(expected)
  assert expected != _K_TRAIN_LINES
  # For val it first shuffles the train RGB list and its flow twin (same length).
  both = os.path.join(os.path.dirname(train), "videos_both")
  _touch(both, *(line.split()[0] for line in _K_TRAIN_LINES + _K_VAL_LINES))
  (val_list,) = _run("kinetics400", both, "--subset", "val", *common)
  random.seed(3)
  random.shuffle(list(_K_TRAIN_LINES))
  random.shuffle(list(_K_TRAIN_LINES))
  expected_val = list(_K_VAL_LINES)
  random.shuffle(expected_val)
  assert _read(val_list) == "".join(expected_val)
  random.seed(3)
  unconsumed = list(_K_VAL_LINES)
  random.shuffle(unconsumed)
  assert unconsumed != expected_val  # the test tells the two apart


def test_kinetics_unrenamed_class_folders_are_an_error(kinetics):
  ann, _, out = kinetics
  videos = os.path.dirname(ann) + "/spaced"
  _touch(videos, "air drumming/bbbbbbbbbbb_000005_000015.mp4")
  with pytest.raises(SystemExit, match="rename_classnames.sh"):
    _run("kinetics400", videos, "--format", "videos", "--num-split", "1", "--annotation-dir",
         ann, "--out-root-path", out)


def test_kinetics_test_subset_and_argument_errors(kinetics, tmp_path):
  ann, _, out = kinetics
  test_videos = tmp_path / "videos_test"
  _touch(test_videos, "iiiiiiiiiii_000000_000010.mp4")
  (path,) = _run("kinetics400", test_videos, "--format", "videos", "--level", "1",
                 "--num-split", "1", "--subset", "test", "--annotation-dir", ann,
                 "--out-root-path", out)
  assert os.path.basename(path) == "kinetics400_test_list_videos.txt"
  assert _read(path) == "iiiiiiiiiii_000000_000010.mp4 -1\n"
  with pytest.raises(SystemExit, match="pass --num-split 1"):
    _run("kinetics400", test_videos, "--annotation-dir", ann, "--out-root-path", out)
  os.makedirs(tmp_path / "empty")
  with pytest.raises(SystemExit, match=r"kinetics_train\.csv not found"):
    _run("kinetics600", test_videos, "--num-split", "1", "--annotation-dir", tmp_path / "empty",
         "--out-root-path", out)


# ---------------------------------------------------------------- sthv2 (level 1, json)


@pytest.fixture
def sthv2(tmp_path):
  ann = _write(tmp_path / "annotations", {
      "something-something-v2-labels.json": {"Holding something": "1",
                                             "Pushing something": "0"},
      "something-something-v2-train.json": [{"id": "1", "template": "Holding [something]"}],
      "something-something-v2-validation.json": [
          {"id": "12345", "template": "Pushing [something]"},
          {"id": "777", "template": "Holding [something]"},
          {"id": "404", "template": "Holding [something]"}],
      "something-something-v2-test.json": [{"id": "5"}]})
  frames = tmp_path / "rawframes"
  _touch(frames, *(f"12345/img_{i:05d}.jpg" for i in range(1, 5)),
         *(f"777/img_{i:05d}.jpg" for i in range(1, 3)), "1/img_00001.jpg")
  return ann, str(frames), tmp_path / "out"


def test_sthv2_val_rawframes_txt_and_json(sthv2):
  ann, frames, out = sthv2
  common = ["--format", "rawframes", "--num-split", "1", "--level", "1", "--subset", "val",
            "--annotation-dir", ann, "--out-root-path", out]
  (txt,) = _run("sthv2", frames, *common)
  assert os.path.basename(txt) == "sthv2_val_list_rawframes.txt"
  assert _read(txt) == "12345 4 0\n777 2 1\n"
  (js,) = _run("sthv2", frames, *common, "--output-format", "json")
  assert os.path.basename(js) == "sthv2_val_list_rawframes.json"
  assert json.loads(_read(js)) == [{"frame_dir": "12345", "total_frames": 4, "label": [0]},
                                   {"frame_dir": "777", "total_frames": 2, "label": [1]}]
  dataset = RawframeDataset(js, data_prefix=frames)
  assert [(i["total_frames"], i["label"]) for i in dataset.video_infos] == [(4, 0), (2, 1)]


# ---------------------------------------------------------------- mmit (multi-label)


def test_mmit_multi_label_lists(tmp_path):
  ann = _write(tmp_path / "annotations", {
      "moments_categories.txt": "crafting,0\npaddling,1\nraining,2\n",
      "trainingSet.csv": "raining/v1.mp4,0,2\npaddling/v2.mp4,1\n",
      "validationSet.csv": "raining/v3.mp4,2\n"})
  videos = tmp_path / "videos"
  _touch(videos, "raining/v1.mp4", "paddling/v2.mp4")
  frames = tmp_path / "rawframes"
  _touch(frames, *(f"raining/v1/img_{i:05d}.jpg" for i in (1, 2, 3)))
  out = tmp_path / "out"
  common = ["--num-split", "1", "--annotation-dir", ann, "--out-root-path", out]
  (video_list,) = _run("mmit", videos, "--format", "videos", *common)
  assert os.path.basename(video_list) == "mmit_train_list_videos.txt"
  assert _read(video_list) == "raining/v1.mp4 0 2\npaddling/v2.mp4 1\n"
  (frame_list,) = _run("mmit", frames, "--format", "rawframes", *common)
  assert _read(frame_list) == "raining/v1 3 0 2\n"
  dataset = VideoDataset(video_list, data_prefix=str(videos), multi_class=True, num_classes=3)
  assert [i["label"] for i in dataset.video_infos] == [[0, 2], [1]]
  assert dataset[0]["label"].tolist() == [1.0, 0.0, 1.0]


# ---------------------------------------------------------------- anno_txt2json


def test_anno_txt2json(tmp_path):
  frames = tmp_path / "frames_list.txt"
  frames.write_text("a/b 10 1\n\nc 5 2 3\n")
  assert anno_txt2json.main([str(frames)]) == str(tmp_path / "frames_list.json")
  assert json.loads(_read(tmp_path / "frames_list.json")) == [
      {"frame_dir": "a/b", "total_frames": 10, "label": [1]},
      {"frame_dir": "c", "total_frames": 5, "label": [2, 3]}]
  videos = tmp_path / "videos.txt"
  videos.write_text("x/0.mp4 4\ny/1.mp4 1 3\n")
  out = tmp_path / "v.json"
  anno_txt2json.main([str(videos), "--format", "videos", "--output", str(out)])
  assert json.loads(_read(out)) == [{"filename": "x/0.mp4", "label": [4]},
                                    {"filename": "y/1.mp4", "label": [1, 3]}]
  dataset = VideoDataset(str(out), multi_class=True, num_classes=5)
  assert [i["label"] for i in dataset.video_infos] == [[4], [1, 3]]
  frames.write_text("a/b 10 1\nc many 2\n")
  with pytest.raises(SystemExit, match=r"frames_list\.txt, line 2: total_frames"):
    anno_txt2json.main([str(frames)])
