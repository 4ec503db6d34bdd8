"""Golden values for vjax's skeleton data side, computed by MMAction2 0.24.1 itself.

Runs ONLY in the reference virtualenv (tests/reference/setup_venv.sh); never imports vjax.
    /work/mmaction2-ref-venv/bin/python tests/reference/make_golden_pose.py
writes tests/golden/pose/ from inputs drawn with numpy.random.default_rng(SEED):
- poses.pkl: a PoseDataset annotation file in MMAction2's split format ({'split': {'train1',
  'test1'}, 'annotations'}), written by mmcv.dump (pickle protocol 2, numpy 1 names): 2-D
  COCO-17 poses with scores (one stored as float16), and one 3-D NTU-25 skeleton without;
  kinetics.pkl (a plain list of Kinetics-pose records with valid_frames / valid@thr /
  box_score) and kinetics/<video>.pkl, each an array of (17, 3) x, y, score rows per box;
- arrays.npz: every case's array inputs and outputs (``<case>/in/<key>``,
  ``<case>/out/<key>``); cases.json: each case's op configs, scalar inputs and outputs;
  meta.json: seed and versions.

Cases: PaddingWithLoop and UniformSampleFrames (test mode over a grid; train mode with the
random draws MMAction2 made recorded, so vjax can replay them), PoseDecode, PoseCompact,
GeneratePoseTarget (keypoint / limb / both, with and without scores, double, float32 and
float64 keypoints, joints off the frame, sub-pixel limbs), the keypoint side of Flip, Resize,
CenterCrop and RandomResizedCrop (its box fixed by patching get_crop_bbox), JointToBone,
PoseNormalize, FormatGCNInput, LoadKineticsPose (its scipy ``mode`` call adapted to the
installed scipy, whose ``mode`` no longer returns arrays), PoseDataset's video_infos, and whole
test pipelines of shipped configs: PoseC3D keypoint and limb (clip_len, num_clips and the
spatial sizes shrunk so the heatmaps stay small), ST-GCN (2-D) and 2s-AGCN bone (3-D).
MMAction2's NCTHW output is stored as it makes it, (views, C, T, H, W).
"""

from __future__ import annotations

import argparse
import copy
import json
import pickle
import shutil
import sys
import types
import warnings
from pathlib import Path

import numpy as np

# MMAction2 0.24.1 predates numpy 1.24, which removed these aliases.
for _name, _alias in (('int', int), ('float', float), ('bool', bool), ('object', object),
                      ('str', str)):
  if _name not in np.__dict__:
    setattr(np, _name, _alias)

import mmaction  # noqa: E402
import mmcv  # noqa: E402
import scipy.stats  # noqa: E402
from mmaction.datasets import PoseDataset  # noqa: E402
from mmaction.datasets.pipelines import Compose  # noqa: E402
from mmaction.datasets.pipelines import augmentations, pose_loading  # noqa: E402

from golden_io import jsonable  # noqa: E402

HERE = Path(__file__).resolve().parent
CONFIGS = Path(mmaction.__file__).parent / '.mim' / 'configs' / 'skeleton'
SEED = 20241017
IMG_SHAPE = (480, 640)
LEFT_KP = [1, 3, 5, 7, 9, 11, 13, 15]
RIGHT_KP = [2, 4, 6, 8, 10, 12, 14, 16]
# A standing person (COCO-17 joint offsets from the hip centre, in units of body height).
COCO_BODY = np.array([[0, -.45], [-.03, -.48], [.03, -.48], [-.06, -.46], [.06, -.46],
                      [-.12, -.3], [.12, -.3], [-.18, -.15], [.18, -.15], [-.2, 0], [.2, 0],
                      [-.08, 0], [.08, 0], [-.09, .25], [.09, .25], [-.1, .48], [.1, .48]])


def run(cfgs, results):
  with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    return Compose([copy.deepcopy(c) for c in cfgs])(results)


def coco_poses(rng, persons, frames, img_shape=IMG_SHAPE, missing=0.1):
  """(M, T, 17, 2) float32 pixel keypoints of moving people and (M, T, 17) scores; some
  joints missing (0, 0) with score 0, some scores below GeneratePoseTarget's eps."""
  h, w = img_shape
  kp = np.zeros((persons, frames, 17, 2), np.float32)
  for m in range(persons):
    centre = rng.uniform([0.25 * w, 0.35 * h], [0.75 * w, 0.65 * h])
    height = rng.uniform(0.3, 0.6) * h
    drift = rng.normal(0, 2, (frames, 1, 2)).cumsum(0)
    kp[m] = centre + COCO_BODY * height + drift + rng.normal(0, 1.5, (frames, 17, 2))
  score = rng.uniform(0.05, 1, kp.shape[:3]).astype(np.float32)
  score[rng.random(score.shape) < 0.05] = 5e-5
  gone = rng.random(score.shape) < missing
  kp[gone] = 0
  score[gone] = 0
  return kp, score


class Arrays:
  """Array values of the cases, stored in arrays.npz under ``<case>/<in|out>/<key>``."""

  def __init__(self):
    self.store = {}

  def split(self, case: str, side: str, results: dict) -> dict:
    """Arrays of ``results`` into the store; returns its other values (jsonable)."""
    rest = {}
    for key, value in results.items():
      if hasattr(value, 'numpy') and hasattr(value, 'detach'):  # torch tensors
        value = value.detach().numpy()
      if isinstance(value, np.bool_):
        value = bool(value)
      if isinstance(value, np.ndarray):
        self.store[f'{case}/{side}/{key}'] = value
        rest[key] = {'array': list(value.shape), 'dtype': str(value.dtype)}
      else:
        rest[key] = value
    return jsonable(rest)


def case(cases, arrays, name, cfgs, results, out=None):
  inputs = arrays.split(name, 'in', copy.deepcopy(results))
  out = run(cfgs, copy.deepcopy(results)) if out is None else out
  cases[name] = dict(pipeline=cfgs, inputs=inputs, outputs=arrays.split(name, 'out', out))


# ------------------------------------------------------------------ sampling
class Recorder:
  """Stands in for ``np.random`` inside pose_loading: draws from a RandomState and records
  each call's name, arguments and result."""

  def __init__(self, seed):
    self.state = np.random.RandomState(seed)
    self.calls = []

  def seed(self, seed):
    self.state = np.random.RandomState(seed)
    self.calls.append(['seed', [seed], None])

  def randint(self, *args):
    out = self.state.randint(*args)
    self.calls.append(['randint', jsonable(list(args)), jsonable(out)])
    return out

  def choice(self, a, size=None, replace=True):
    out = self.state.choice(a, size, replace=replace)
    self.calls.append(['choice', [a, size, replace], jsonable(out)])
    return out


def sampling_cases(cases, arrays):
  test_rows = []
  for clip_len in (1, 4, 8, 48):
    for num_clips in (1, 3, 10):
      for n in (1, 3, 5, 8, 12, 47, 48, 60, 95, 96, 150, 300):
        for start in (0, 1):
          cfg = dict(type='UniformSampleFrames', clip_len=clip_len, num_clips=num_clips,
                     test_mode=True)
          r = run([cfg], dict(total_frames=n, start_index=start))
          test_rows.append([clip_len, num_clips, n, start, r['frame_inds'].tolist()])
  train_rows = []
  saved = pose_loading.np
  for clip_len in (1, 4, 8, 48):
    for n in (1, 3, 5, 8, 12, 47, 48, 60, 95, 96, 150, 300):
      fake = types.ModuleType('numpy_recorded')
      fake.__dict__.update(np.__dict__)
      fake.random = Recorder(SEED + 7 * n + clip_len)
      pose_loading.np = fake
      try:
        r = run([dict(type='UniformSampleFrames', clip_len=clip_len)],
                dict(total_frames=n, start_index=0))
      finally:
        pose_loading.np = saved
      train_rows.append([clip_len, n, fake.random.calls, r['frame_inds'].tolist()])
  pad_rows = []
  for clip_len in (1, 5, 300):
    for n in (1, 7, 300, 301):
      r = run([dict(type='PaddingWithLoop', clip_len=clip_len)], dict(total_frames=n))
      pad_rows.append([clip_len, n, r['frame_inds'].tolist(), r['num_clips']])
  cases['UniformSampleFrames_test'] = dict(columns=['clip_len', 'num_clips', 'total_frames',
                                                    'start_index', 'frame_inds'],
                                           rows=test_rows)
  cases['UniformSampleFrames_train'] = dict(columns=['clip_len', 'total_frames', 'draws',
                                                     'frame_inds'], rows=train_rows)
  cases['PaddingWithLoop'] = dict(columns=['clip_len', 'total_frames', 'frame_inds',
                                           'num_clips'], rows=pad_rows)


# ------------------------------------------------------------------ pose ops
def decode_cases(cases, arrays, rng):
  kp, score = coco_poses(rng, 2, 12)
  base = dict(keypoint=kp.astype(np.float16), keypoint_score=score.astype(np.float16),
              total_frames=12)
  case(cases, arrays, 'PoseDecode_all', [dict(type='PoseDecode')], base)
  case(cases, arrays, 'PoseDecode_inds', [dict(type='PoseDecode')],
       dict(base, frame_inds=np.array([[3], [0], [11], [3]]), offset=0))
  case(cases, arrays, 'PoseDecode_offset', [dict(type='PoseDecode')],
       dict(keypoint=kp, total_frames=12, frame_inds=np.array([0, 2, 4]), offset=5))


def compact_cases(cases, arrays, rng):
  kp, _ = coco_poses(rng, 2, 6)
  kp[0, 1, 3] = np.nan
  tiny = np.full((1, 3, 17, 2), 100, np.float32) + rng.uniform(0, 5, (1, 3, 17, 2))
  near_edge = kp.copy()
  near_edge[..., 0] -= near_edge[..., 0].max() - 630  # a box reaching the right edge
  inputs = {'people': kp, 'tiny': tiny.astype(np.float32), 'edge': near_edge,
            'empty': np.zeros((1, 4, 17, 2), np.float32)}
  cfgs = [dict(), dict(padding=0.), dict(padding=0.5, threshold=5),
          dict(hw_ratio=1., allow_imgpad=True), dict(hw_ratio=1., allow_imgpad=False),
          dict(hw_ratio=(0.5, 2.), allow_imgpad=True), dict(hw_ratio=2.),
          dict(threshold=1000)]
  for name, keypoint in inputs.items():
    for i, cfg in enumerate(cfgs):
      results = dict(keypoint=keypoint, img_shape=IMG_SHAPE)
      if i == 3:
        results['crop_quadruple'] = (0.1, 0.2, 0.5, 0.6)
      case(cases, arrays, f'PoseCompact_{name}_{i}', [dict(type='PoseCompact', **cfg)], results)


def target_cases(cases, arrays, rng):
  img_shape = (20, 24)  # (h, w): not square, so a swapped axis shows
  kp, score = coco_poses(rng, 2, 2, img_shape=img_shape, missing=0.1)
  kp[0, 0, 4] = (-1.2, 5.)  # left of the frame, its Gaussian still reaching in
  kp[1, 0, 9] = (25.5, 30.)  # below and right of it
  kp[1, 1, 14] = kp[1, 1, 12] + 0.3  # a limb shorter than a pixel
  kp[1, 1, 13] = kp[1, 1, 11]  # a limb of length 0
  kp64 = kp.astype(np.float64) + rng.uniform(-0.3, 0.3, kp.shape) * (kp != 0)
  skeletons = [[0, 5], [0, 6], [5, 7], [7, 9], [6, 8], [8, 10], [5, 11], [11, 13], [13, 15],
               [6, 12], [12, 14], [14, 16], [0, 1], [0, 2], [1, 3], [2, 4], [11, 12]]
  cfgs = {
      'kp': dict(), 'kp_noscore': dict(use_score=False),
      'limb': dict(with_kp=False, with_limb=True, skeletons=skeletons),
      'limb_noscore': dict(with_kp=False, with_limb=True, use_score=False),
      'both_sigma1': dict(with_limb=True, sigma=1.), 'kp_double': dict(double=True,
                                                                       left_kp=LEFT_KP,
                                                                       right_kp=RIGHT_KP),
      'limb_double': dict(with_kp=False, with_limb=True, skeletons=skeletons, double=True,
                          left_kp=LEFT_KP, right_kp=RIGHT_KP),
  }
  for name, cfg in cfgs.items():
    for kind, keypoint in (('f32', kp), ('f64', kp64)):
      results = dict(keypoint=keypoint, keypoint_score=score, img_shape=img_shape,
                     modality='Pose')
      case(cases, arrays, f'GeneratePoseTarget_{name}_{kind}',
           [dict(type='GeneratePoseTarget', **cfg)], results)
  case(cases, arrays, 'GeneratePoseTarget_no_score_key',
       [dict(type='GeneratePoseTarget', with_limb=True)],
       dict(keypoint=kp, img_shape=img_shape, modality='Pose'))
  case(cases, arrays, 'GeneratePoseTarget_no_person', [dict(type='GeneratePoseTarget')],
       dict(keypoint=np.zeros((0, 2, 17, 2), np.float32),
            keypoint_score=np.zeros((0, 2, 17), np.float32), img_shape=img_shape))


def augment_cases(cases, arrays, rng):
  kp, score = coco_poses(rng, 2, 3)
  base = dict(keypoint=kp, keypoint_score=score, img_shape=IMG_SHAPE, modality='Pose')
  flip = dict(type='Flip', flip_ratio=1., left_kp=LEFT_KP, right_kp=RIGHT_KP)
  chains = {
      'flip': [flip], 'flip_no_kp_swap': [dict(type='Flip', flip_ratio=1.)],
      'flip_never': [dict(flip, flip_ratio=0.)],
      'resize_short': [dict(type='Resize', scale=(-1, 64))],
      'resize_factor': [dict(type='Resize', scale=0.37)],
      'resize_exact': [dict(type='Resize', scale=(48, 40), keep_ratio=False)],
      'center_crop': [dict(type='CenterCrop', crop_size=(200, 300))],
      'center_crop_larger': [dict(type='CenterCrop', crop_size=700)],
      'resized_crop': [dict(type='RandomResizedCrop', area_range=(0.56, 1.0))],
      'posec3d_train': [dict(type='PoseCompact', hw_ratio=1., allow_imgpad=True),
                        dict(type='Resize', scale=(-1, 64)),
                        dict(type='RandomResizedCrop', area_range=(0.56, 1.0)),
                        dict(type='Resize', scale=(56, 56), keep_ratio=False), flip],
  }
  saved = augmentations.RandomResizedCrop.get_crop_bbox
  augmentations.RandomResizedCrop.get_crop_bbox = staticmethod(
      lambda img_shape, *a, **k: (int(img_shape[1] * 0.1), int(img_shape[0] * 0.15),
                                  int(img_shape[1] * 0.85), int(img_shape[0] * 0.9)))
  try:
    for name, cfgs in chains.items():
      case(cases, arrays, f'augment_{name}', cfgs, base)
  finally:
    augmentations.RandomResizedCrop.get_crop_bbox = saved
  cases['augment_resized_crop_box'] = 'x: 0.1..0.85 of the width, y: 0.15..0.9 of the height'


def format_cases(cases, arrays, rng):
  ntu = rng.normal(0, 1, (2, 4, 25, 3)).astype(np.float32)
  coco, coco_score = coco_poses(rng, 2, 4)
  openpose = rng.uniform(0, 500, (1, 3, 18, 2)).astype(np.float32)
  op_score = rng.uniform(0, 1, (1, 3, 18, 1)).astype(np.float32)
  bones = {
      'nturgb+d': ntu,
      'openpose-18': np.concatenate([openpose, op_score], -1),
      'openpose-18_2d': openpose,
      'coco': np.concatenate([coco, coco_score[..., None]], -1),
      'coco_2d': coco,
  }
  for name, keypoint in bones.items():
    case(cases, arrays, f'JointToBone_{name}',
         [dict(type='JointToBone', dataset=name.replace('_2d', ''))], dict(keypoint=keypoint))
  gcn = rng.uniform(0, 1000, (3, 5, 17, 2)).astype(np.float32)
  case(cases, arrays, 'PoseNormalize_default', [dict(type='PoseNormalize')],
       dict(keypoint=gcn))
  case(cases, arrays, 'PoseNormalize_custom',
       [dict(type='PoseNormalize', mean=(1., 2.), min_value=(-3., 0.), max_value=(5., 8.))],
       dict(keypoint=gcn[:2]))
  kp, score = coco_poses(rng, 3, 4)
  for name, persons, with_score, num_person in (('pad', 1, True, 2), ('trim', 3, True, 2),
                                                ('exact_noscore', 2, False, 2),
                                                ('one', 2, True, 1)):
    results = dict(keypoint=kp[:persons])
    if with_score:
      results['keypoint_score'] = score[:persons]
    case(cases, arrays, f'FormatGCNInput_{name}',
         [dict(type='FormatGCNInput', input_format='NCTVM', num_person=num_person)], results)


# ------------------------------------------------------------------ Kinetics pose
def mode_with_arrays(a):
  """scipy.stats.mode as MMAction2 0.24.1 indexes it (``mode(x)[-1][0]``): scipy >= 1.11
  returns scalars unless asked for arrays."""
  return scipy.stats.mode(a, keepdims=True)


def kinetics_inputs(rng, golden: Path) -> list[dict]:
  (golden / 'kinetics').mkdir()
  records = []
  for i, (frames, boxes_per_frame) in enumerate(((12, (0, 1, 3)), (9, (1, 2)), (15, (0, 4)))):
    frame_inds, rows = [], []
    for f in range(frames):
      for _ in range(int(rng.choice(boxes_per_frame))):
        kp, score = coco_poses(rng, 1, 1, missing=0.0)
        rows.append(np.concatenate([kp[0, 0], score[0, 0, :, None]], -1))
        frame_inds.append(f)
    kps = np.stack(rows).astype(np.float32)
    name = f'kin{i:02d}'
    with open(golden / 'kinetics' / f'{name}.pkl', 'wb') as f:
      pickle.dump(kps, f, protocol=2)
    box_score = rng.uniform(0.4, 1., len(rows)).round(3)
    valid = {f'valid@{t}': int(len({fi for fi, s in zip(frame_inds, box_score) if s >= t}))
             for t in (0.5, 0.6, 0.7, 0.8, 0.9)}
    records.append(dict(frame_dir=name, filename=f'{name}.pkl', label=i, total_frames=frames,
                        img_shape=IMG_SHAPE, original_shape=IMG_SHAPE,
                        frame_inds=np.array(frame_inds), box_score=box_score,
                        valid_frames=len(set(frame_inds)), **valid))
  openpose = (rng.uniform(0.1, 0.9, (6, 18, 3))).astype(np.float32)
  with open(golden / 'kinetics' / 'openpose.pkl', 'wb') as f:
    pickle.dump(openpose, f, protocol=2)
  return records


def kinetics_cases(cases, arrays, golden: Path, records):
  mmcv.dump(records, str(golden / 'kinetics.pkl'))
  saved = pose_loading.mode
  pose_loading.mode = mode_with_arrays
  try:
    for name, cfg in (('default', {}), ('no_squeeze', dict(squeeze=False)),
                      ('max_person', dict(max_person=2)),
                      ('weights', dict(max_person=1, keypoint_weight=dict(face=3, torso=1,
                                                                          limb=0)))):
      for i, record in enumerate(records):
        results = dict(copy.deepcopy(record), filename=str(golden / 'kinetics' /
                                                           record['filename']))
        out = run([dict(type='LoadKineticsPose', **cfg)], copy.deepcopy(results))
        results['filename'] = record['filename']
        cases_name = f'LoadKineticsPose_{name}_{i}'
        case(cases, arrays, cases_name, [dict(type='LoadKineticsPose', **cfg)], results, out)
    record = records[0]
    results = dict(copy.deepcopy(record), filename=str(golden / 'kinetics' / 'kin00.pkl'),
                   anno_inds=np.array([0, 2, 3, 5]))
    out = run([dict(type='LoadKineticsPose')], copy.deepcopy(results))
    results['filename'] = 'kin00.pkl'
    case(cases, arrays, 'LoadKineticsPose_anno_inds', [dict(type='LoadKineticsPose')], results,
         out)
    results = dict(filename=str(golden / 'kinetics' / 'openpose.pkl'), total_frames=5,
                   img_shape=(360, 480), frame_inds=np.array([0, 0, 2, 3, 3, 3]))
    out = run([dict(type='LoadKineticsPose', source='openpose-18')], copy.deepcopy(results))
    results['filename'] = 'openpose.pkl'
    case(cases, arrays, 'LoadKineticsPose_openpose', [dict(type='LoadKineticsPose',
                                                           source='openpose-18')], results, out)
  finally:
    pose_loading.mode = saved
  infos = {}
  for name, kwargs in (('all', {}), ('valid_0.5', dict(valid_ratio=0.5)),
                       ('valid_0.9_box_0.7', dict(valid_ratio=0.9, box_thr='0.7')),
                       ('valid_0.3_box_0.5', dict(valid_ratio=0.3, box_thr='0.5'))):
    ds = PoseDataset(str(golden / 'kinetics.pkl'), [], data_prefix='kin_root', **kwargs)
    infos[name] = [dict(filename=x['filename'], anno_inds=x.get('anno_inds'))
                   for x in ds.video_infos]
  cases['PoseDataset_kinetics'] = jsonable(infos)


# ------------------------------------------------------------------ dataset and pipelines
def annotation(rng, golden: Path) -> list[dict]:
  records = []
  for i, (persons, frames) in enumerate(((2, 37), (1, 23), (2, 8), (3, 30))):
    kp, score = coco_poses(rng, persons, frames)
    record = dict(frame_dir=f'S001C001P00{i}R001A0{i:02d}', label=i % 3,
                  img_shape=IMG_SHAPE, original_shape=IMG_SHAPE, total_frames=frames,
                  keypoint=kp, keypoint_score=score)
    if i == 1:  # as some released pickles store them
      record['keypoint'] = kp.astype(np.float16)
      record['keypoint_score'] = score.astype(np.float16)
    records.append(record)
  ntu = rng.normal(0, 0.5, (2, 20, 25, 3)).astype(np.float32)
  ntu[1, 12:] = 0  # the second person leaves
  records.append(dict(frame_dir='S002C003P008R002A060', label=1, total_frames=20,
                      keypoint=ntu))
  data = dict(split=dict(train1=[r['frame_dir'] for r in records[:2]],
                         test1=[r['frame_dir'] for r in records[2:]]),
              annotations=records)
  mmcv.dump(data, str(golden / 'poses.pkl'))
  return records


def shrunk(pipeline: list) -> list:
  """A shipped PoseC3D test pipeline with small clips and frames (same ops, same order)."""
  out = []
  for op in copy.deepcopy(pipeline):
    if op['type'] == 'UniformSampleFrames':
      op.update(clip_len=6, num_clips=2)
    elif op['type'] == 'Resize':
      op.update(scale=(-1, 24))
    elif op['type'] == 'CenterCrop':
      op.update(crop_size=20)
    out.append(op)
  return out


def pipeline_cases(cases, arrays, golden: Path):
  infos = {}
  for split in ('train1', 'test1'):
    for prefix in ('', 'skeletons'):
      ds = PoseDataset(str(golden / 'poses.pkl'), [], split=split, data_prefix=prefix)
      infos[f'{split}/{prefix}'] = [x['frame_dir'] for x in ds.video_infos]
  cases['PoseDataset_splits'] = infos
  configs = {
      'posec3d_keypoint': ('posec3d/slowonly_r50_u48_240e_ntu60_xsub_keypoint.py', True),
      'posec3d_limb': ('posec3d/slowonly_r50_u48_240e_gym_limb.py', True),
      'stgcn': ('stgcn/stgcn_80e_ntu60_xsub_keypoint.py', False),
      'agcn_bone_3d': ('2s-agcn/2sagcn_80e_ntu60_xsub_bone_3d.py', False),
  }
  for name, (path, shrink) in configs.items():
    pipeline = mmcv.Config.fromfile(str(CONFIGS / path)).data.test.pipeline
    pipeline = shrunk(pipeline) if shrink else copy.deepcopy(pipeline)
    pipeline = [dict(op) for op in pipeline]
    ds = PoseDataset(str(golden / 'poses.pkl'), pipeline, split='test1', data_prefix='',
                     test_mode=True)
    outputs = {}
    for i, info in enumerate(ds.video_infos):
      three_d = info['keypoint'].shape[-1] == 3
      if three_d != (name == 'agcn_bone_3d'):
        continue
      with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        out = ds[i]
      outputs[info['frame_dir']] = arrays.split(f'{name}/{info["frame_dir"]}', 'out', out)
    cases[f'pipeline_{name}'] = dict(config=path, pipeline=pipeline, outputs=outputs)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--out', default=str(HERE.parent / 'golden' / 'pose'))
  args = parser.parse_args()
  golden = Path(args.out).resolve()
  if golden.exists():
    shutil.rmtree(golden)
  golden.mkdir(parents=True)
  rng = np.random.default_rng(SEED)
  cases, arrays = {}, Arrays()
  annotation(rng, golden)
  sampling_cases(cases, arrays)
  decode_cases(cases, arrays, rng)
  compact_cases(cases, arrays, rng)
  target_cases(cases, arrays, rng)
  augment_cases(cases, arrays, rng)
  format_cases(cases, arrays, rng)
  kinetics_cases(cases, arrays, golden, kinetics_inputs(rng, golden))
  pipeline_cases(cases, arrays, golden)
  meta = {'seed': SEED, 'mmaction2': mmaction.__version__, 'mmcv': mmcv.__version__,
          'numpy': np.__version__, 'scipy': scipy.__version__,
          'python': sys.version.split()[0], 'generator': 'tests/reference/make_golden_pose.py'}
  np.savez_compressed(golden / 'arrays.npz', **arrays.store)
  (golden / 'cases.json').write_text(json.dumps(jsonable(cases)) + '\n')
  (golden / 'meta.json').write_text(json.dumps(meta) + '\n')
  size = sum(f.stat().st_size for f in golden.rglob('*') if f.is_file())
  print(f'wrote {golden}: {size / 1024:.0f} KiB')


if __name__ == '__main__':
  main()
