"""Goldens for TSN's custom backbones (torchvision DenseNet, mmcls ResNeXt, timm Swin).

Runs ONLY in the reference virtualenv (tests/reference/setup_venv.sh plus the packages
listed below); never imports vjax.
    /work/mmaction2-ref-venv/bin/python tests/reference/make_golden_custom_backbones.py
writes tests/golden/custom_backbones/ (cases.json, io.npz, meta.json).

MMAction2 0.24.1 builds these backbones from other libraries: ``torchvision.NAME`` (it
removes the classifier and calls ``features``), ``mmcls.NAME`` and ``timm.NAME``
(``num_classes=0``, ``forward_features``). The reference packages are the ones of its time
that import next to torch 2.13:
- timm 0.5.4 and mmcls 0.25.0, ``pip install --no-deps`` into the venv (mmcls also needs
  matplotlib, for imports only);
- torchvision 0.28.0 (the release paired with torch 2.13), ``pip install --no-deps --target
  <venv>/torchvision-0.28.0``. Its compiled ops are a CUDA build that cannot load next to
  the CPU torch, and its ``_meta_registrations`` module then fails on import; this script
  puts that directory first on sys.path and stands in an empty module for
  ``torchvision._meta_registrations`` (fake-tensor kernels of nms/roi_align, which no model
  here uses). The venv's site-packages keep the torchvision stand-in that mmcv needs
  elsewhere.

Cases, each an MMAction2 ``Recognizer2D`` with a TSNHead in eval mode (``forward_test`` with
``average_clips=None``), every parameter and BatchNorm statistic replaced by a seeded draw
(tests/reference/golden_weights.py: a value depends only on the tensor's torch name and
shape), on a seeded input:
- small ones: ``densenet_small`` (``torchvision.DenseNet``, growth 8, blocks (2, 3, 2, 2),
  72x72 input so a transition pools an odd map), ``resnext_small`` (``mmcls.ResNeXt``
  depth 50 at base/stem width 8, 4 groups of width 2) and ``resnext_small_v1d`` (deep stem,
  avg_down, caffe style, a dilated last stage, 40x40 so avg_down pools odd maps),
  ``swin_small`` (timm's SwinTransformer at 64x64, embed 16, window 4: shifted windows with
  masks in the first two stages, one full window in the third, a window shrunk to the 2x2
  last stage) and ``swin_small_ape`` (32x64 input, absolute position embedding, no patch
  norm, no qkv bias, mlp_ratio 2). timm's named models fix their architecture arguments,
  so the Swin cases build the recognizer with ``timm.swin_tiny_patch4_window7_224`` and
  then replace its backbone with timm's ``SwinTransformer`` class at the small size; the
  recognizer code path (``forward_features``, the reshape to (N, C, 1, 1)) is MMAction2's.
- full-size ones: the three configs of ``configs/recognition/tsn/custom_backbones`` as
  shipped in the mmaction2 0.24.1 package (``pretrained`` off: nothing is downloaded), one
  224x224 frame. Their weights are not stored (the vjax test redraws them only when asked:
  ``VJAX_FULL_SIZE_PARITY=1``); every state-dict key (parameters and buffers) and shape is
  recorded, as a real TSN checkpoint of the config holds them, with the backbone's parameter
  count.

Stored per case (``cases.json``): the state dict's keys, shapes and dtypes, with a checksum
for every drawn tensor (buffers, ``num_batches_tracked`` and Swin's
``relative_position_index`` / ``attn_mask``, keep the values the reference computed and are
not drawn), the input's shape and checksum (the test redraws weights and input); in
``io.npz`` what MMAction2 hands to the TSNHead (``head_input``, channels-first, captured by a
hook on the head; the full-size cases store its spatial mean) and the scores. About 400 KiB.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import types
from pathlib import Path

import numpy as np

# MMAction2 0.24.1 predates numpy 1.24, which removed these aliases.
for _name, _alias in (('int', int), ('float', float), ('bool', bool), ('object', object)):
  if _name not in np.__dict__:
    setattr(np, _name, _alias)

TORCHVISION_DIR = Path(sys.prefix) / 'torchvision-0.28.0'
if not (TORCHVISION_DIR / 'torchvision').is_dir():
  raise SystemExit(f'{TORCHVISION_DIR} is missing: pip install --no-deps --target '
                   f'{TORCHVISION_DIR} torchvision==0.28.0')
sys.path.insert(0, str(TORCHVISION_DIR))
sys.modules['torchvision._meta_registrations'] = types.ModuleType(
    'torchvision._meta_registrations')

import torch  # noqa: E402
import torchvision  # noqa: E402
import timm  # noqa: E402
import mmcls  # noqa: E402
import mmaction  # noqa: E402
import mmcv  # noqa: E402
from mmaction.models import build_model  # noqa: E402
from timm.models.swin_transformer import SwinTransformer  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import golden_weights  # noqa: E402

SEED = 20240701
CONFIGS = Path(mmaction.__file__).parent / '.mim' / 'configs'
CUSTOM = 'recognition/tsn/custom_backbones'


def recognizer(backbone, in_channels, num_classes=10):
  return dict(
      type='Recognizer2D', backbone=backbone,
      cls_head=dict(type='TSNHead', num_classes=num_classes, in_channels=in_channels,
                    spatial_type='avg', consensus=dict(type='AvgConsensus', dim=1),
                    dropout_ratio=0.4, init_std=0.01),
      train_cfg=None, test_cfg=dict(average_clips=None))


SWIN_SMALL = dict(img_size=64, patch_size=4, embed_dim=16, depths=(2, 2, 2, 2),
                  num_heads=(1, 2, 2, 4), window_size=4, num_classes=0)
SWIN_SMALL_APE = dict(img_size=(32, 64), patch_size=4, embed_dim=12, depths=(2, 2, 2),
                      num_heads=(2, 2, 3), window_size=4, mlp_ratio=2.0, qkv_bias=False,
                      ape=True, patch_norm=False, num_classes=0)
# Recognizer with a timm model whose backbone the case then replaces (see the docstring).
TIMM_HOST = dict(type='timm.swin_tiny_patch4_window7_224', pretrained=False)

SMALL = [
    dict(name='densenet_small',
         model=recognizer(dict(type='torchvision.DenseNet', growth_rate=8,
                               block_config=(2, 3, 2, 2), num_init_features=16, bn_size=2),
                          in_channels=34),
         input_shape=(2, 3, 3, 72, 72)),
    dict(name='resnext_small',
         model=recognizer(dict(type='mmcls.ResNeXt', depth=50, groups=4, width_per_group=2,
                               stem_channels=8, base_channels=8, out_indices=(3,),
                               style='pytorch'), in_channels=256),
         input_shape=(2, 3, 3, 64, 64)),
    dict(name='resnext_small_v1d',
         model=recognizer(dict(type='mmcls.ResNeXt', depth=50, groups=2, width_per_group=4,
                               stem_channels=8, base_channels=8, num_stages=4,
                               strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2), out_indices=(3,),
                               style='caffe', deep_stem=True, avg_down=True),
                          in_channels=256),
         input_shape=(1, 2, 3, 40, 40)),
    dict(name='swin_small', model=recognizer(TIMM_HOST, in_channels=128),
         timm_swin=SWIN_SMALL, input_shape=(2, 3, 3, 64, 64)),
    dict(name='swin_small_ape', model=recognizer(TIMM_HOST, in_channels=48),
         timm_swin=SWIN_SMALL_APE, input_shape=(1, 3, 3, 32, 64)),
]

FULL = [
    dict(name='tsn_dense161', config='tsn_dense161_320p_1x1x3_100e_kinetics400_rgb.py'),
    dict(name='tsn_rn101_32x4d', config='tsn_rn101_32x4d_320p_1x1x3_100e_kinetics400_rgb.py'),
    dict(name='tsn_swin_base',
         config='tsn_swin_transformer_video_320p_1x1x3_100e_kinetics400_rgb.py'),
]
FULL_INPUT = (1, 1, 3, 224, 224)


def drawn_keys(model) -> set[str]:
  """The state-dict entries a trained checkpoint learns: parameters and BN statistics."""
  keys = {k for k, _ in model.named_parameters()}
  keys |= {k for k, _ in model.named_buffers() if k.endswith(('running_mean', 'running_var'))}
  return keys


def randomized(model, seed):
  """Draws every parameter and BN statistic; other buffers keep the model's values."""
  state = model.state_dict()
  drawn = drawn_keys(model)
  new = {k: torch.from_numpy(golden_weights.tensor(seed, k, tuple(v.shape))) if k in drawn else v
         for k, v in state.items()}
  model.load_state_dict(new, strict=True)
  return {k: v.numpy() for k, v in model.state_dict().items()}, drawn


def run(model, x):
  """``forward_test`` scores and the head's input (channels-first)."""
  seen = []
  hook = model.cls_head.register_forward_pre_hook(lambda _, args: seen.append(args[0].clone()))
  with torch.no_grad():
    scores = np.asarray(model.forward_test(torch.from_numpy(x)))
  hook.remove()
  assert len(seen) == 1
  return scores.astype(np.float32), seen[0].numpy().astype(np.float32)


def tensors(state, drawn):
  return [[k, list(v.shape), str(v.dtype), golden_weights.checksum(v) if k in drawn else None]
          for k, v in state.items()]


def run_small(case, io):
  model = build_model(copy.deepcopy(case['model']))
  if 'timm_swin' in case:
    model.backbone = SwinTransformer(**case['timm_swin'])
  model.eval()
  state, drawn = randomized(model, SEED)
  x = golden_weights.inputs(SEED, case['name'], case['input_shape'])
  scores, head_input = run(model, x)
  name = case['name']
  io[f'{name}/head_input'] = head_input
  io[f'{name}/scores'] = scores
  record = dict(name=name, kind='small', model=case['model'],
                timm_swin=case.get('timm_swin'), input_shape=list(case['input_shape']),
                input_checksum=golden_weights.checksum(x), tensors=tensors(state, drawn),
                backbone_params=sum(p.numel() for p in model.backbone.parameters()),
                head_input_shape=list(head_input.shape),
                scores_max_abs=float(np.abs(scores).max()), scores_std=float(scores.std()))
  print(f"{name}: {record['backbone_params']} backbone parameters, head input "
        f"{tuple(head_input.shape)}, max |score| {record['scores_max_abs']:.3g}")
  return record


def run_full(case, io, forward: bool):
  cfg = mmcv.Config.fromfile(str(CONFIGS / CUSTOM / case['config']))
  model_cfg = copy.deepcopy(cfg.model)
  if 'pretrained' in model_cfg.backbone:
    model_cfg.backbone.pretrained = False  # torchvision / timm ImageNet download
  model = build_model(model_cfg)
  model.eval()
  name = case['name']
  record = dict(name=name, kind='full', config=f'{CUSTOM}/{case["config"]}',
                backbone=dict(cfg.model.backbone), input_shape=list(FULL_INPUT),
                backbone_params=sum(p.numel() for p in model.backbone.parameters()))
  if forward:
    state, drawn = randomized(model, SEED)
    x = golden_weights.inputs(SEED, name, FULL_INPUT)
    scores, head_input = run(model, x)
    io[f'{name}/head_input_mean'] = head_input.mean(axis=(2, 3))
    io[f'{name}/scores'] = scores
    record.update(input_checksum=golden_weights.checksum(x),
                  head_input_shape=list(head_input.shape),
                  scores_max_abs=float(np.abs(scores).max()), scores_std=float(scores.std()))
  else:
    state, drawn = {k: v.numpy() for k, v in model.state_dict().items()}, set()
  record['tensors'] = tensors(state, drawn)
  print(f"{name}: {record['backbone_params']} backbone parameters, {len(state)} state-dict "
        "entries" + (f", max |score| {record['scores_max_abs']:.3g}" if forward else ''))
  return record


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--out', default=str(HERE.parent / 'golden' / 'custom_backbones'))
  parser.add_argument('--no-full-forward', dest='full_forward', action='store_false',
                      help='record the full-size models\' keys only, without running them')
  args = parser.parse_args()
  golden = Path(args.out)
  golden.mkdir(parents=True, exist_ok=True)
  io: dict[str, np.ndarray] = {}
  records = []
  for case in SMALL:
    torch.manual_seed(0)
    records.append(run_small(case, io))
  for case in FULL:
    torch.manual_seed(0)
    records.append(run_full(case, io, args.full_forward))
  np.savez_compressed(golden / 'io.npz', **io)
  meta = {
      'seed': SEED,
      'mmaction2': mmaction.__version__,
      'mmcv': mmcv.__version__,
      'torch': torch.__version__,
      'torchvision': torchvision.__version__,
      'timm': timm.__version__,
      'mmcls': mmcls.__version__,
      'numpy': np.__version__,
      'python': sys.version.split()[0],
      'generator': 'tests/reference/make_golden_custom_backbones.py',
  }
  (golden / 'cases.json').write_text(json.dumps(records, separators=(',', ':')) + '\n')
  (golden / 'meta.json').write_text(json.dumps(meta, indent=1) + '\n')
  total = sum(f.stat().st_size for f in golden.rglob('*') if f.is_file())
  print(f'wrote {golden} ({total / 1024:.0f} KiB)')


if __name__ == '__main__':
  main()
