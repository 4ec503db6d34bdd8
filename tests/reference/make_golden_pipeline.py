"""Golden values for vjax's deterministic pipeline ops, computed by MMAction2 0.24.1 itself.

Runs ONLY in the reference virtualenv (tests/reference/setup_venv.sh); never imports vjax.
    /work/mmaction2-ref-venv/bin/python tests/reference/make_golden_pipeline.py
writes tests/golden/pipeline/: ``cases.json`` (every case's op configs, input keys and small
outputs), ``arrays.npz`` (input frames, output pixels, concatenated frame indices) and
``meta.json``. Inputs come from a fixed numpy seed; every op is built by MMAction2's own
``Compose`` from the same config dicts that tests/data/test_pipeline_parity.py gives vjax.

Only deterministic behaviour is recorded: test-mode sampling, and train-mode sampling only in
the branches that draw no random number (their outputs are checked under several seeds).
Frames are passed to MMAction2 as it receives them from its decoders: a list of HxWxC uint8
arrays (Flow: a list of 2N HxW arrays, x and y interleaved); vjax takes one stacked
channels-last array, which is what ``arrays.npz`` stores.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import warnings
from pathlib import Path

import numpy as np

# MMAction2 0.24.1 predates numpy 1.24, which removed these aliases.
for _name, _alias in (('int', int), ('float', float), ('bool', bool), ('object', object)):
  if _name not in np.__dict__:
    setattr(np, _name, _alias)

import cv2  # noqa: E402
import mmaction  # noqa: E402
import mmcv  # noqa: E402
from mmaction.datasets.pipelines import Compose  # noqa: E402

HERE = Path(__file__).resolve().parent
SEED = 20240611
IMAGENET = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375])


def jsonable(x):
  if isinstance(x, dict):
    return {str(k): jsonable(v) for k, v in x.items()}
  if isinstance(x, (list, tuple)):
    return [jsonable(v) for v in x]
  if isinstance(x, np.ndarray):
    return jsonable(x.tolist())
  if isinstance(x, (np.floating, float)):
    return float(x)
  if isinstance(x, (np.integer, np.bool_)):
    return x.item()
  return x


def run(cfgs, results):
  """MMAction2's Compose over ``cfgs`` (deep-copied dicts) on ``results``."""
  with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    return Compose([dict(c) for c in cfgs])(results)


def frames(rng, n, h, w, c=3):
  return rng.integers(0, 256, size=(n, h, w, c), dtype=np.uint8)


def as_list(imgs):
  """Stacked (N, H, W, C) -> the list of frames MMAction2's decoders produce."""
  return [np.ascontiguousarray(f) for f in imgs]


def table(op, cases):
  """Cases of one op -> {'columns', 'rows'} with nested dicts flattened to 'cfg.clip_len' etc.

  Absent values are None; the op's type is the table's key, not a column. Thousands of
  sampling cases stay small this way.
  """
  flat = []
  for case in cases:
    row = {}
    for key, value in case.items():
      if isinstance(value, dict):
        row.update({f'{key}.{k}': v for k, v in value.items()})
      else:
        row[key] = value
    assert row.pop('cfg.type') == op
    flat.append(row)
  columns = list(dict.fromkeys(k for row in flat for k in row))
  return dict(columns=columns, rows=[[row.get(k) for k in columns] for row in flat])


class Indices:
  """Frame-index arrays of many cases, stored as one concatenated int array plus offsets."""

  def __init__(self):
    self.parts, self.offsets = [], [0]

  def add(self, inds):
    inds = np.asarray(inds)
    assert inds.ndim == 1 and inds.dtype.kind == 'i', inds.dtype
    self.parts.append(inds)
    self.offsets.append(self.offsets[-1] + len(inds))
    return len(self.parts) - 1

  def save(self, arrays, prefix):
    flat = np.concatenate(self.parts)
    assert flat.min() >= np.iinfo(np.int16).min and flat.max() <= np.iinfo(np.int16).max
    arrays[f'{prefix}/inds'] = flat.astype(np.int16)
    arrays[f'{prefix}/offsets'] = np.asarray(self.offsets, np.int32)


# ------------------------------------------------------------------ frame sampling
def train_is_deterministic(clip_len, interval, num_clips, n, keep_tail):
  """Whether SampleFrames' train-mode branch for these arguments draws no random number."""
  ori = clip_len * interval
  if keep_tail:
    return not n > ori - 1  # all-zero offsets
  avg = (n - ori + 1) // num_clips
  if avg == 1:
    return True  # randint(1) is always 0
  if avg > 0:
    return False
  if n > max(num_clips, ori):
    return False  # sorted randint(n - ori + 1), at least 2 choices
  return True  # np.around(arange * ratio) or zeros


def sampled(cfg, results, seeds=None):
  """Runs a sampling op; with ``seeds``, checks its output is the same under each."""
  outs = []
  for seed in seeds or [None]:
    if seed is not None:
      np.random.seed(seed)
    r = run([cfg], dict(results))
    outs.append(r)
  first = outs[0]
  for r in outs[1:]:
    assert np.array_equal(r['frame_inds'], first['frame_inds']), (cfg, results)
  assert first['frame_inds'].ndim == 1
  return first


def sample_frames_cases(indices, rng):
  cases = []
  # keep_tail_frames only changes train mode and start_index only shifts: drawn per case.
  grid = itertools.product((1, 4, 8, 32), (1, 2, 5), (1, 3, 10), (1, 7, 16, 31, 64, 97, 300),
                           (False, True), ('loop', 'repeat_last'))
  for clip_len, interval, num_clips, n, twice, oob in grid:
    cfg = dict(type='SampleFrames', clip_len=clip_len, frame_interval=interval,
               num_clips=num_clips, twice_sample=twice, out_of_bound_opt=oob,
               keep_tail_frames=bool(rng.integers(0, 2)), test_mode=True)
    cases.append((cfg, dict(total_frames=n, start_index=int(rng.integers(0, 2))), None))
  # Train mode, only where no random number is drawn (checked under 5 seeds below).
  grid = itertools.product((1, 4, 8, 32), (1, 2, 5), (1, 3, 10), (1, 2, 7, 16, 31, 64, 97, 300),
                           ('loop', 'repeat_last'), (False, True))
  for clip_len, interval, num_clips, n, oob, keep_tail in grid:
    if train_is_deterministic(clip_len, interval, num_clips, n, keep_tail):
      cfg = dict(type='SampleFrames', clip_len=clip_len, frame_interval=interval,
                 num_clips=num_clips, twice_sample=False, out_of_bound_opt=oob,
                 keep_tail_frames=keep_tail, test_mode=False)
      cases.append((cfg, dict(total_frames=n, start_index=int(rng.integers(0, 2))), range(5)))
  out = []
  for cfg, results, seeds in cases:
    r = sampled(cfg, results, seeds)
    out.append(dict(cfg=cfg, results=results, inds=indices.add(r['frame_inds']),
                    clip_len=r['clip_len'], frame_interval=r['frame_interval'],
                    num_clips=r['num_clips']))
  return out


def dense_sample_frames_cases(indices, rng):
  out = []
  grid = itertools.product((1, 4), (1, 3), (1, 4), (8, 64), (1, 10), (5, 40, 64, 65, 200),
                           ('loop', 'repeat_last'))
  for clip_len, interval, num_clips, sample_range, positions, n, oob in grid:
    cfg = dict(type='DenseSampleFrames', clip_len=clip_len, frame_interval=interval,
               num_clips=num_clips, sample_range=sample_range, num_sample_positions=positions,
               out_of_bound_opt=oob, test_mode=True)
    results = dict(total_frames=n, start_index=int(rng.integers(0, 2)))
    r = sampled(cfg, results)
    out.append(dict(cfg=cfg, results=results, inds=indices.add(r['frame_inds']),
                    clip_len=r['clip_len'], frame_interval=r['frame_interval'],
                    num_clips=r['num_clips']))
    if n <= sample_range:  # train mode starts at 0 when the video fits the sample range
      cfg = dict(cfg, test_mode=False)
      r = sampled(cfg, results, range(5))
      out.append(dict(cfg=cfg, results=results, inds=indices.add(r['frame_inds']),
                      clip_len=r['clip_len'], frame_interval=r['frame_interval'],
                      num_clips=r['num_clips']))
  return out


def untrimmed_sample_frames_cases(indices):
  out = []
  cfgs = [dict(type='UntrimmedSampleFrames')]  # MMAction2's defaults: clip_len 1, interval 16
  cfgs += [dict(type='UntrimmedSampleFrames', clip_len=c, frame_interval=i)
           for c, i in itertools.product((1, 2, 3, 5, 16), (1, 4, 16, 33))]
  for cfg in cfgs:
    for n, start in itertools.product((1, 7, 16, 17, 100, 301), (0, 1)):
      results = dict(total_frames=n, start_index=start)
      if n <= cfg.get('frame_interval', 16) // 2:
        # No clip centre inside the video: MMAction2 fails on an empty concatenate.
        try:
          sampled(cfg, results)
        except ValueError as e:
          out.append(dict(cfg=cfg, results=results, error=f'ValueError: {e}'))
          continue
        raise AssertionError(f'expected MMAction2 to fail on {cfg} {results}')
      r = sampled(cfg, results)
      out.append(dict(cfg=cfg, results=results, inds=indices.add(r['frame_inds']),
                      clip_len=r['clip_len'], frame_interval=r['frame_interval'],
                      num_clips=int(r['num_clips'])))
  return out


# ------------------------------------------------------------------ spatial ops
SIZES = ((17, 23), (23, 17), (16, 16), (15, 21))  # (h, w): odd, portrait, square


def crop_cases(rng, arrays):
  """CenterCrop / ThreeCrop / TenCrop boxes, shapes and pixels."""
  out = []
  for k, (h, w) in enumerate(SIZES):
    src = frames(rng, 2 if k == 0 else 1, h, w)  # two frames once: views stay view-major
    arrays[f'crop/src{k}'] = src
    sizes = {
        'CenterCrop': [8, (9, 5), (w, h), (w - 1, h), (w, 3), (w + 2, 10), (6, h + 3),
                       (w + 1, h + 1)],
        'ThreeCrop': [h, (w - 6, h), (w - 5, h), (w, h - 7), (w, 3), (w, h), (w + 2, h)],
        'TenCrop': [8, (9, 5), (w - 1, h - 2), (w, h), (w + 2, h)],
    }
    for op, crop_sizes in sizes.items():
      for size in crop_sizes:
        cfg = dict(type=op, crop_size=size)
        r = run([cfg], dict(imgs=as_list(src), modality='RGB'))
        name = f'crop/{len(out)}'
        ragged = len({im.shape for im in r['imgs']}) > 1
        case = dict(cfg=cfg, src=f'crop/src{k}', ragged=ragged,
                    crop_bbox=r['crop_bbox'], img_shape=r['img_shape'],
                    view_shapes=[im.shape for im in r['imgs']] if ragged else None,
                    crop_quadruple=r.get('crop_quadruple'))
        if not ragged:
          arrays[name] = np.stack(r['imgs'])
          case['out'] = name
        out.append(case)
    # Two CenterCrops in a row: crop_quadruple accumulates relative to the original frame.
    cfgs = [dict(type='CenterCrop', crop_size=(w - 3, h - 2)), dict(type='CenterCrop',
                                                                     crop_size=(5, 7))]
    r = run(cfgs, dict(imgs=as_list(src), modality='RGB'))
    name = f'crop/{len(out)}'
    arrays[name] = np.stack(r['imgs'])
    out.append(dict(cfgs=cfgs, src=f'crop/src{k}', ragged=False, crop_bbox=r['crop_bbox'],
                    img_shape=r['img_shape'], crop_quadruple=r['crop_quadruple'], out=name))
  return out


def resize_cases(rng, arrays):
  """Resize output size and scale_factor; pixels where the output is small enough to store."""
  out = []
  big = [dict(scale=(-1, 256)), dict(scale=(256, -1)), dict(scale=(224, 224), keep_ratio=False),
         dict(scale=(340, 256)), dict(scale=(256, 340)), dict(scale=(320, 128)),
         dict(scale=4.0), dict(scale=10.5)]
  small = [dict(scale=(-1, 12)), dict(scale=(12, -1)), dict(scale=(-1, 40)),
           dict(scale=(9, 13), keep_ratio=False), dict(scale=(31, 5), keep_ratio=False),
           dict(scale=(30, 20)), dict(scale=(20, 30)), dict(scale=(8, 64)), dict(scale=0.5),
           dict(scale=1.7), dict(scale=0.3), dict(scale=1.0), dict(scale=(-1, 7)),
           dict(scale=(-1, 12), interpolation='nearest'),
           dict(scale=(33, 29), keep_ratio=False, interpolation='nearest')]
  for k, (h, w) in enumerate(SIZES):
    src = frames(rng, 2 if k == 0 else 1, h, w)
    arrays[f'resize/src{k}'] = src
    chains = [[dict(type='Resize', **kw)] for kw in big + small]
    # scale_factor accumulates over successive resizes.
    chains.append([dict(type='Resize', scale=(-1, 12)),
                   dict(type='Resize', scale=(10, 10), keep_ratio=False)])
    chains.append([dict(type='Resize', scale=0.7), dict(type='Resize', scale=(-1, 24))])
    for cfgs in chains:
      r = run(cfgs, dict(imgs=as_list(src), modality='RGB'))
      imgs = np.stack(r['imgs'])
      assert imgs.shape[1:3] == tuple(r['img_shape'])
      case = dict(cfgs=cfgs, src=f'resize/src{k}', img_shape=r['img_shape'],
                  scale_factor=r['scale_factor'], keep_ratio=r['keep_ratio'])
      if imgs[0].size <= 64 * 64 * 3:
        case['out'] = f'resize/{len(out)}'
        arrays[case['out']] = imgs
      out.append(case)
  return out


def normalize_cases(rng, arrays):
  out = []
  rgb = frames(rng, 2, 9, 11)
  flow = frames(rng, 3, 7, 9, 2)
  arrays['norm/rgb'], arrays['norm/flow'] = rgb, flow
  for to_bgr in (False, True):
    for mean_std in (IMAGENET, dict(mean=[127.5] * 3, std=[127.5] * 3),
                     dict(mean=[0.0, 10.0, 250.0], std=[1.0, 3.3, 0.7])):
      cfg = dict(type='Normalize', to_bgr=to_bgr, **mean_std)
      r = run([cfg], dict(imgs=as_list(rgb), modality='RGB'))
      name = f'norm/{len(out)}'
      arrays[name] = r['imgs']
      out.append(dict(cfg=cfg, src='norm/rgb', modality='RGB', out=name,
                      img_norm_cfg=r['img_norm_cfg']))
  # Flow: MMAction2 takes 2N grayscale frames (x0, y0, x1, y1, ...), returns (N, H, W, 2).
  flow_list = [np.ascontiguousarray(flow[i, ..., a]) for i in range(len(flow)) for a in (0, 1)]
  for adjust in (False, True):
    for mean_std in (dict(mean=[128, 128], std=[128, 128]),
                     dict(mean=[120.5, 131.0], std=[40.0, 77.7])):
      cfg = dict(type='Normalize', adjust_magnitude=adjust, **mean_std)
      scale_factor = np.array([0.5, 1.75], np.float32)
      r = run([cfg], dict(imgs=list(flow_list), modality='Flow', scale_factor=scale_factor))
      name = f'norm/{len(out)}'
      arrays[name] = r['imgs']
      out.append(dict(cfg=cfg, src='norm/flow', modality='Flow', scale_factor=scale_factor,
                      out=name, img_norm_cfg=r['img_norm_cfg']))
  return out


def format_shape_cases(rng, arrays):
  """FormatShape on (views * frames, H, W, C) stacks; MMAction2's output is channels-first."""
  out = []
  specs = [
      ('NCHW', dict(num_clips=3, clip_len=1), 6, 3, False),
      ('NCHW', dict(num_clips=2, clip_len=4), 16, 3, False),
      ('NCHW', dict(num_clips=1, clip_len=1), 1, 3, True),
      ('NCTHW', dict(num_clips=3, clip_len=4), 2 * 3 * 4, 3, False),  # 2 crops
      ('NCTHW', dict(num_clips=1, clip_len=4), 4, 3, True),
      ('NCHW_Flow', dict(num_clips=2, clip_len=3), 2 * 2 * 3, 2, False),  # 2 crops
      ('NCHW_Flow', dict(num_clips=1, clip_len=5), 5, 2, True),
      ('NPTCHW', dict(num_proposals=2, num_clips=3, clip_len=2), 12, 3, False),
  ]
  for fmt, keys, n, c, collapse in specs:
    src = frames(rng, n, 5, 7, c)
    cfg = dict(type='FormatShape', input_format=fmt)
    if collapse:
      cfg['collapse'] = True
    r = run([cfg], dict(imgs=as_list(src), **keys))
    name = f'fmt/{len(out)}'
    arrays[f'{name}/src'], arrays[f'{name}/out'] = src, r['imgs']
    out.append(dict(cfg=cfg, results=keys, src=f'{name}/src', out=f'{name}/out',
                    input_shape=r['input_shape']))
  return out


def chain_cases(rng, arrays):
  """Whole test-time pipelines after decoding: the ops' keys must hand over as in MMAction2."""
  out = []
  norm = dict(type='Normalize', to_bgr=False, **IMAGENET)
  chains = [
      ([dict(type='Resize', scale=(-1, 12)), dict(type='CenterCrop', crop_size=10), norm,
        dict(type='FormatShape', input_format='NCTHW')], dict(num_clips=2, clip_len=3), 6),
      ([dict(type='Resize', scale=(-1, 12)), dict(type='ThreeCrop', crop_size=12), norm,
        dict(type='FormatShape', input_format='NCHW')], dict(num_clips=4, clip_len=1), 4),
      ([dict(type='Resize', scale=(-1, 16)), dict(type='TenCrop', crop_size=14),
        dict(type='FormatShape', input_format='NCTHW')], dict(num_clips=1, clip_len=2), 2),
      ([dict(type='Resize', scale=(14, 10), keep_ratio=False),
        dict(type='Normalize', to_bgr=True, **IMAGENET),
        dict(type='FormatShape', input_format='NCHW')], dict(num_clips=3, clip_len=1), 3),
  ]
  for cfgs, keys, n in chains:
    src = frames(rng, n, 17, 23)
    r = run(cfgs, dict(imgs=as_list(src), modality='RGB', **keys))
    name = f'chain/{len(out)}'
    arrays[f'{name}/src'], arrays[f'{name}/out'] = src, r['imgs']
    out.append(dict(cfgs=cfgs, results=keys, src=f'{name}/src', out=f'{name}/out',
                    input_shape=r['input_shape'], img_shape=r['img_shape'],
                    scale_factor=r['scale_factor'], crop_bbox=r.get('crop_bbox')))
  return out


# ------------------------------------------------------------------ main
def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--out', default=str(HERE.parent / 'golden' / 'pipeline'))
  args = parser.parse_args()
  golden = Path(args.out)
  golden.mkdir(parents=True, exist_ok=True)
  rng = np.random.default_rng(SEED)
  arrays = {}

  sampling = {}
  for key, fn in (('SampleFrames', lambda ix: sample_frames_cases(ix, rng)),
                  ('DenseSampleFrames', lambda ix: dense_sample_frames_cases(ix, rng)),
                  ('UntrimmedSampleFrames', untrimmed_sample_frames_cases)):
    indices = Indices()
    sampling[key] = table(key, fn(indices))
    indices.save(arrays, f'sampling/{key}')
  cases = {
      'sampling': sampling,
      'crop': crop_cases(rng, arrays),
      'resize': resize_cases(rng, arrays),
      'normalize': normalize_cases(rng, arrays),
      'format_shape': format_shape_cases(rng, arrays),
      'chain': chain_cases(rng, arrays),
  }
  meta = {
      'seed': SEED,
      'mmaction2': mmaction.__version__,
      'mmcv': mmcv.__version__,
      'opencv': cv2.__version__,
      'numpy': np.__version__,
      'python': sys.version.split()[0],
      'generator': 'tests/reference/make_golden_pipeline.py',
  }
  np.savez_compressed(golden / 'arrays.npz', **arrays)
  sizes = {}
  for name, a in arrays.items():
    sizes[name.split('/')[0]] = sizes.get(name.split('/')[0], 0) + a.nbytes
  print('raw array bytes by group:', sizes)
  (golden / 'cases.json').write_text(json.dumps(jsonable(cases), separators=(',', ':')) + '\n')
  (golden / 'meta.json').write_text(json.dumps(meta, indent=1) + '\n')

  for key, group in sampling.items():
    rows = [dict(zip(group['columns'], row)) for row in group['rows']]
    print(f'{key}: {len(rows)} cases ({sum(r.get("cfg.test_mode") is False for r in rows)} '
          f'train-mode, {sum(bool(r.get("error")) for r in rows)} MMAction2 errors)')
  for key in ('crop', 'resize', 'normalize', 'format_shape', 'chain'):
    print(f'{key}: {len(cases[key])} cases')
  total = sum(f.stat().st_size for f in golden.rglob('*') if f.is_file())
  print(f'wrote {golden} ({total / 1024:.0f} KiB)')


if __name__ == '__main__':
  main()
