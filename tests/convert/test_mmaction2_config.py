"""MMAction2 config files -> vjax configs: mmcv's inheritance rules and the field mapping."""

from __future__ import annotations

import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

from vjax.config import load_config
from vjax.convert import mmaction2_config as mc
from vjax.models import MODELS, build_model

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "mmaction2" / "configs"
TSN = FIXTURES / "recognition/tsn/tsn_r50_1x1x3_100e_kinetics400_rgb.py"
TSM = FIXTURES / "recognition/tsm/tsm_r50_1x1x8_50e_kinetics400_rgb.py"
SLOWFAST = FIXTURES / "recognition/slowfast/slowfast_r50_4x16x1_256e_kinetics400_rgb.py"
IMG_NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_bgr=False)


def write(root: Path, files: dict[str, str]) -> None:
  for name, text in files.items():
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_text(textwrap.dedent(text))


def test_inheritance_follows_mmcv(tmp_path):
  write(tmp_path, {
      "base/model.py": """
          model = dict(backbone=dict(type='ResNet', depth=50, norm_eval=False),
                       cls_head=dict(type='TSNHead', num_classes=400, dropout_ratio=0.4))
          steps = [40, 80]
          """,
      "base/runtime.py": "log_level = 'INFO'\nopt = dict(type='SGD', lr=0.01)\n",
      "exp/child.py": """
          _base_ = ['../base/model.py', '../base/runtime.py']
          model = dict(backbone=dict(depth=18), cls_head=dict(_delete_=True, type='I3DHead'))
          steps = [5]
          opt = dict(lr=0.1)
          lr_copy = {{ _base_.opt.lr }}
          copied = {{_base_.model.backbone}}
          here = '{{ fileBasenameNoExtension }}'
          """,
      "exp/grandchild.py": "_base_ = './child.py'\nmodel = dict(backbone=dict(norm_eval=True))\n",
  })
  cfg = mc.read_config(str(tmp_path / "exp/grandchild.py"))
  assert cfg["model"] == dict(backbone=dict(type="ResNet", depth=18, norm_eval=True),
                              cls_head=dict(type="I3DHead"))
  assert cfg["steps"] == [5]  # lists replace
  assert cfg["opt"] == dict(type="SGD", lr=0.1) and cfg["lr_copy"] == 0.01
  assert cfg["copied"] == dict(type="ResNet", depth=50, norm_eval=False)
  assert cfg["here"] == "child"
  assert cfg["log_level"] == "INFO"


def test_inheritance_errors(tmp_path):
  write(tmp_path, {"a.py": "x = 1\n", "b.py": "x = 2\n",
                   "dup.py": "_base_ = ['a.py', 'b.py']\n",
                   "clash.py": "_base_ = 'a.py'\nx = dict(y=1)\n"})
  with pytest.raises(KeyError, match=r"more than one base: \['x'\]"):
    mc.read_config(str(tmp_path / "dup.py"))
  with pytest.raises(TypeError, match="_delete_=True"):  # a dict over a non-dict
    mc.read_config(str(tmp_path / "clash.py"))
  write(tmp_path, {"ok.py": "_base_ = 'a.py'\nx = dict(_delete_=True, y=1)\n"})
  assert mc.read_config(str(tmp_path / "ok.py"))["x"] == dict(y=1)
  with pytest.raises(FileNotFoundError):
    mc.read_config(str(tmp_path / "missing.py"))


def test_tsn_config_converts_field_by_field(tmp_path, capsys):
  out = tmp_path / "tsn_mm.py"
  mc.main([str(TSN), "--out", str(out)])
  printed = capsys.readouterr().out
  for key in ("dist_params", "log_level", "work_dir", "resume_from", "train_pipeline",
              "img_norm_cfg"):
    assert key in printed
  assert ("model.backbone.pretrained='torchvision://resnet50' is loaded when training starts"
          in printed)
  cfg = load_config(str(out))
  assert cfg.to_dict() == mc.load_mmaction2_config(str(TSN)).to_dict()
  assert cfg.model.backbone.to_dict() == dict(type="ResNet", pretrained="torchvision://resnet50",
                                              depth=50, norm_eval=False)
  assert cfg.model.test_cfg.average_clips is None
  assert cfg.data.videos_per_device == 32 and cfg.data.workers == 2
  assert cfg.data.test_videos_per_device == 1
  assert cfg.data.img_norm_cfg.to_dict() == IMG_NORM
  for split in ("train", "val", "test"):
    types = [op["type"] for op in cfg.data[split].pipeline]
    assert "Normalize" not in types and types[-2:] == ["Collect", "ToTensor"]
  assert cfg.data.train.ann_file == "data/kinetics400/kinetics400_train_list_rawframes.txt"
  assert cfg.data.val.data_prefix == "data/kinetics400/rawframes_val"
  assert cfg.data.test.pipeline[0]["num_clips"] == 25
  assert cfg.optimizer.to_dict() == dict(type="SGD", lr=0.01, momentum=0.9, weight_decay=0.0001)
  assert cfg.optimizer_config.grad_clip.max_norm == 40
  assert cfg.lr_config.to_dict() == dict(policy="step", step=[40, 80])
  assert cfg.total_epochs == 100
  assert cfg.workflow == (("train", 1),)
  assert cfg.evaluation.interval == 5 and cfg.evaluation.save_best == "top1_acc"
  assert list(cfg.evaluation.metrics) == ["top_k_accuracy", "mean_class_accuracy"]
  assert cfg.checkpoint_config.interval == 5 and cfg.checkpoint_config.max_to_keep == 3
  assert cfg.log_config.interval == 20 and cfg.load_from == ""
  # The same experiment as vjax's hand-written config, field for field where both define it.
  ref = load_config(str(Path(__file__).resolve().parents[2] / "configs" / "tsn_k400.py"))
  assert cfg.model.cls_head.to_dict() == ref.model.cls_head.to_dict()
  val = cfg.data.val.to_dict()["pipeline"]
  assert [op for op in val if op["type"] != "ToTensor"] == ref.data.val.to_dict()["pipeline"]
  model = build_model(cfg.model)
  x = jnp.zeros((1, 3, 64, 64, 3))
  scores = jax.eval_shape(lambda: model.apply(model.init(jax.random.key(0), x), x))
  assert scores.shape == (1, 1, 400)


def test_slowfast_config_converts(tmp_path):
  out = tmp_path / "slowfast_mm.py"
  mc.write_config(str(SLOWFAST), str(out))
  cfg = load_config(str(out))
  ref = load_config(str(Path(__file__).resolve().parents[2] / "configs" / "slowfast_k400.py"))
  # Kept for training init (vjax.convert.pretrained); None: nothing to load.
  assert cfg.model.backbone.pretrained is None
  assert cfg.model.backbone.slow_pathway.pretrained is None
  assert cfg.lr_config.to_dict() == ref.lr_config.to_dict()
  assert cfg.total_epochs == 256 and cfg.checkpoint_config.interval == 4
  assert cfg.data.img_norm_cfg.to_dict() == IMG_NORM
  assert cfg.data.test.pipeline[3] == dict(type="ThreeCrop", crop_size=256)
  assert cfg.model.test_cfg.average_clips == "prob"
  model = build_model(cfg.model)
  x = jnp.zeros((1, 1, 32, 64, 64, 3))
  scores = jax.eval_shape(lambda: model.apply(model.init(jax.random.key(0), x), x))
  assert scores.shape == (1, 1, 400)


def test_tsm_config_converts(tmp_path):
  out = tmp_path / "tsm_mm.py"
  conv = mc.write_config(str(TSM), str(out))
  cfg = load_config(str(out))
  assert cfg.model.backbone.to_dict() == dict(type="ResNetTSM", pretrained="torchvision://resnet50",
                                              depth=50, norm_eval=False, shift_div=8)
  assert cfg.model.cls_head.is_shift is True
  # The TSM optimizer constructor is kept as written (fc_lr5), for vjax's optimizer to honour.
  assert cfg.optimizer.constructor == "TSMOptimizerConstructor"
  assert cfg.optimizer.paramwise_cfg.fc_lr5 is True
  assert cfg.optimizer_config.grad_clip.max_norm == 20
  assert cfg.lr_config.step == [20, 40] and cfg.total_epochs == 50
  assert cfg.data.train.pipeline[3]["num_fixed_crops"] == 13
  assert "dist_params" in conv.dropped
  if "ResNetTSM" not in MODELS or "TSMHead" not in MODELS:
    pytest.skip("ResNetTSM / TSMHead are not in vjax yet")
  model = build_model(cfg.model)
  x = jnp.zeros((1, 8, 64, 64, 3))
  scores = jax.eval_shape(lambda: model.apply(model.init(jax.random.key(0), x), x))
  assert scores.shape[-1] == 400


def test_normalize_stays_on_the_host_when_it_cannot_move(tmp_path):
  write(tmp_path, {"c.py": """
      norm = dict(type='Normalize', mean=[128, 128], std=[128, 128])
      data = dict(videos_per_gpu=4,
                  train=dict(type='RawframeDataset', ann_file='a', pipeline=[norm]),
                  test=dict(type='RepeatDataset', times=2,
                            dataset=dict(type='RawframeDataset', ann_file='b',
                                         pipeline=[dict(type='Flip'), norm])),
                  val_dataloader=dict(videos_per_gpu=1))
      """})
  conv = mc.convert(mc.read_config(str(tmp_path / "c.py")))
  fields = dict(conv.fields)
  assert fields["data.img_norm_cfg"] is None
  assert fields["data.test"]["dataset"]["pipeline"][-1]["type"] == "Normalize"
  assert fields["data.test_videos_per_device"] == 4
  assert "data.val_dataloader" in conv.dropped
  assert any("Flow Normalize" in n for n in conv.notes)
  cfg = mc.to_config_dict(conv)
  assert cfg.data.img_norm_cfg is None


def test_old_style_test_cfg_and_runner(tmp_path):
  write(tmp_path, {"c.py": """
      model = dict(type='Recognizer3D', backbone=dict(type='X'), cls_head=dict(type='Y'))
      test_cfg = dict(average_clips='score')
      runner = dict(type='EpochBasedRunner', max_epochs=7)
      evaluation = dict(interval=1, metrics='mean_class_accuracy', save_best='auto')
      checkpoint_config = dict(interval=2, max_keep_ckpts=5)
      load_from = 'https://download.openmmlab.com/x.pth'
      """})
  conv = mc.convert(mc.read_config(str(tmp_path / "c.py")))
  cfg = mc.to_config_dict(conv)
  assert cfg.model.test_cfg.average_clips == "score"
  assert cfg.total_epochs == 7
  assert list(cfg.evaluation.metrics) == ["mean_class_accuracy"]
  assert cfg.evaluation.save_best == "mean_class_accuracy"
  assert cfg.checkpoint_config.max_to_keep == 5
  assert any("mmaction2_checkpoint" in n for n in conv.notes)


def test_pyrepr_round_trips():
  value = dict(a=[dict(type="X", scale=(-1, 256), v=None, f=1.5, flag=True)] * 6,
               b={"not-ident": (1,), "class": "kw"}, c="q'uote")
  text = mc.pyrepr(value, indent=2, col=10, width=60)
  assert max(len(line) for line in text.splitlines()) <= 80
  assert eval(text) == value  # pylint: disable=eval-used
  with pytest.raises(TypeError, match="cannot write a"):
    mc.pyrepr(dict(x=object()))


def test_load_any_config_tells_vjax_from_mmaction2():
  root = Path(__file__).resolve().parents[2]
  assert mc.is_vjax_config(str(root / "configs" / "tsn_k400.py"))
  assert not mc.is_vjax_config(str(TSN))
  cfg = mc.load_any_config(str(root / "configs" / "tsn_k400.py") + ":synthetic")
  assert cfg.model.cls_head.num_classes == 8
  assert mc.load_any_config(str(TSN)).model.backbone.depth == 50
  with pytest.raises(ValueError, match="takes no"):
    mc.load_any_config(f"{TSN}:synthetic")


def test_training_options_convert(tmp_path):
  # The keys of MMAction2's slowfast_prebn_* and omnisource configs.
  write(tmp_path, {"c.py": """
      workflow = [('train', 2), ('val', 1)]
      precise_bn = dict(num_iters=200, interval=1)
      omnisource = True
      pipe = [dict(type='Normalize', mean=[1, 2, 3], std=[4, 5, 6])]
      data = dict(videos_per_gpu=12, omni_videos_per_gpu=[12, 64], train_ratio=[2, 1],
                  train=[dict(type='VideoDataset', ann_file='a', pipeline=pipe),
                         dict(type='ImageDataset', ann_file='b', pipeline=pipe)],
                  val=dict(type='VideoDataset', ann_file='c', pipeline=pipe))
      """})
  conv = mc.convert(mc.read_config(str(tmp_path / "c.py")))
  cfg = mc.to_config_dict(conv)
  assert cfg.workflow == (("train", 2), ("val", 1))
  assert cfg.precise_bn.to_dict() == dict(num_iters=200, interval=1)
  assert cfg.omnisource is True
  assert cfg.data.omni_videos_per_device == [12, 64] and cfg.data.train_ratio == [2, 1]
  assert [d["type"] for d in cfg.data.train] == ["VideoDataset", "ImageDataset"]
  assert cfg.data.img_norm_cfg.to_dict() == dict(mean=[1, 2, 3], std=[4, 5, 6], to_bgr=False)
  assert conv.dropped == ["pipe"]  # the helper variable only
