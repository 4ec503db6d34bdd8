"""Two training steps read from a built dataset, in each file format: the trainer's data path
(TFDSDataset -> pipeline -> grain) over what the builders write."""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import ROOT
from vjax.config import load_config
from vjax.train import loop


@pytest.mark.parametrize("file_format", ["array_record", "tfrecord"])
def test_two_steps_from_a_built_dataset(built, file_format, tmp_path):
  c = load_config(f"{ROOT}/configs/tsn_k400.py:synthetic")
  for split, name in (("train", "train"), ("val", "val"), ("test", "val")):
    c.data[split] = dict(c.data[split].to_dict(), name="mmaction_list", split=name,
                         data_dir=built[file_format], builder_config="frames_340x256",
                         prepare=False)
  # 3 training videos, repeated to fill a global batch of 8 (8 simulated devices) twice.
  c.data.train = dict(type="RepeatDataset", times=6, dataset=c.data.train.to_dict())
  c.data.videos_per_device, c.data.test_videos_per_device = 1, 1
  c.total_epochs, c.log_config.interval = 1, 1
  c.evaluation.interval = 1
  workdir = str(tmp_path / "work")
  loop.train_and_evaluate(c, workdir)
  with open(os.path.join(workdir, "log.jsonl")) as f:
    logs = [json.loads(line) for line in f]
  losses = [r["train/loss"] for r in logs if "train/loss" in r]
  assert len(losses) == 2 and all(0 < l < 100 for l in losses)  # two real, finite steps
  assert any("val/top1_acc" in r for r in logs)


K400_CONFIGS = ["csn_k400", "i3d_k400", "r2plus1d_k400", "slowfast_k400", "slowonly_k400",
                "tanet_k400", "timesformer_k400", "tpn_slowonly_k400", "tsm_k400",
                "tsm_mobilenetv2_k400", "tsn_k400"]


@pytest.mark.parametrize("name", K400_CONFIGS)
def test_kinetics_configs_read_the_built_dataset_with_the_tfds_flag(name):
  full, tfds = (load_config(f"{ROOT}/configs/{name}.py{arg}") for arg in ("", ":tfds"))
  for split in ("train", "val", "test"):
    ds = tfds.data[split]
    assert (ds.type, ds.name, ds.builder_config) == ("TFDSDataset", "kinetics400", "frames_256")
    assert ds.split == ("train" if split == "train" else "val")
    ops = [op["type"] for op in ds.pipeline]
    assert "FrameBytesDecode" in ops and "RawFrameDecode" not in ops
    # The same experiment otherwise: the rawframe pipeline with its decode op swapped.
    assert ops == [("FrameBytesDecode" if op["type"] == "RawFrameDecode" else op["type"])
                   for op in full.data[split].pipeline]
  assert tfds.model.to_dict() == full.model.to_dict()


@pytest.mark.parametrize("arg,name,builder_config,first_ops", [
    ("tsm_sthv2.py:tfds", "sthv2", "frames_256", ["SampleFrames", "FrameBytesDecode"]),
    ("tin_sthv1.py:tfds", "sthv1", "frames_256", ["SampleFrames", "FrameBytesDecode"]),
    ("trn_sthv1.py:tfds", "sthv1", "frames_256", ["SampleFrames", "FrameBytesDecode"]),
    ("tpn_tsm_sthv1.py:tfds", "sthv1", "frames_256", ["SampleFrames", "FrameBytesDecode"]),
    ("c3d_ucf101.py:tfds", "ucf101", "frames_256", ["SampleFrames", "FrameBytesDecode"]),
    ("c3d_ucf101.py:split3,tfds", "ucf101", "frames_256_split3",
     ["SampleFrames", "FrameBytesDecode"]),
    ("tsn_mmit.py:tfds", "mmit", "frames_256", ["SampleFrames", "FrameBytesDecode"]),
    ("audio_k400.py:tfds", "kinetics400_audio_feature", "audio_feature", ["LoadAudioFeature"]),
])
def test_other_recognition_configs_read_their_builders(arg, name, builder_config, first_ops):
  c = load_config(f"{ROOT}/configs/{arg}")
  for split in ("train", "val", "test"):
    ds = c.data[split]
    assert (ds.type, ds.name, ds.builder_config) == ("TFDSDataset", name, builder_config)
    ops = [op["type"] for op in ds.pipeline]
    assert ops[:len(first_ops)] == first_ops and "RawFrameDecode" not in ops
