"""Golden values for vjax's ActivityNet data side, computed by MMAction2 0.24.1.

Runs ONLY in the reference virtualenv (tests/reference/setup_venv.sh); never imports vjax.
    /work/mmaction2-ref-venv/bin/python tests/reference/make_golden_localization_data.py
writes tests/golden/localization_data/ from inputs drawn with numpy.random.default_rng(SEED):
- inputs MMAction2 reads: anet_anno.json (videos with 0 to 3 segments, one starting before 0
  and one ending past the featured seconds), features/<video>.csv (a header line and one row
  per temporal step, written as CUHK's csv_mean_100 and as activitynet_feature_postprocessing's
  '%.4f' rows without a final newline), pgm_proposals/<video>.csv (PGM's np.savetxt layout) and
  pgm_features/<video>.npy;
- arrays.npz: per video and case the outputs of ``ActivityNetDataset.prepare_train_frames``
  with the pipelines below (``<case>/<video>/<key>``);
- cases.json: the dataset's video_infos, each case's pipeline and its result keys, dtypes and
  shapes; meta.json: seed and versions.

Cases: 'bmn' (LoadLocalizationFeature + GenerateLocalizationLabels), 'pem_top5' and
'pem_top100' (LoadProposals with top_k below and above the proposal counts).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

# MMAction2 0.24.1 predates numpy 1.24, which removed these aliases.
for _name, _alias in (('int', int), ('float', float), ('bool', bool), ('object', object),
                      ('str', str)):
  if _name not in np.__dict__:
    setattr(np, _name, _alias)

import mmaction  # noqa: E402
import mmcv  # noqa: E402
from mmaction.datasets import ActivityNetDataset  # noqa: E402

from golden_io import golden_dir, jsonable  # noqa: E402

HERE = Path(__file__).resolve().parent
SEED = 20240917
TEMPORAL_DIM, FEAT_DIM, BSP_DIM = 20, 12, 32
PGM_HEADER = 'tmin,tmax,tmin_score,tmax_score,score,match_iou,match_ioa'
# video: (number of segments, proposals, feature file style)
VIDEOS = {'v_q2Xd7-zH3aA': (3, 30, 'cuhk'), 'v_--1DO2V4K74': (1, 4, 'postprocessing'),
          'v_zz9bBn0': (0, 12, 'cuhk'), 'v_A0b1C2d3E4f': (2, 7, 'exponent')}


def video_info(rng, segments: int, index: int) -> dict:
  fps = float(rng.choice([24.0, 25.0, 29.97, 30.0]))
  seconds = round(float(rng.uniform(20, 240)), 2)
  frames = int(seconds * fps)
  feature_frame = frames // 16 * 16
  annotations = []
  for j in range(segments):
    start = float(rng.uniform(0, seconds * 0.7))
    end = start + float(rng.uniform(1, seconds * 0.4))
    if index == 0 and j == 0:
      start = -0.4  # before the video: clipped to 0
    if index == 0 and j == 1:
      end = seconds + 3.0  # past the featured seconds: clipped to 1
    annotations.append({'segment': [start, end], 'label': f'class {j}'})
  return {'duration_second': seconds, 'duration_frame': frames, 'annotations': annotations,
          'feature_frame': feature_frame, 'fps': fps, 'rfps': fps + float(rng.uniform(-.1, .1))}


def write_feature(path: Path, feature: np.ndarray, style: str) -> None:
  header = ','.join(f'f{i}' for i in range(feature.shape[1]))
  if style == 'postprocessing':  # activitynet_feature_postprocessing.py's csv
    lines = [header] + [','.join(f'{x:.4f}' for x in row) for row in feature.tolist()]
    path.write_text('\n'.join(lines))
  else:
    fmt = '%.6e' if style == 'exponent' else '%.7f'
    np.savetxt(path, feature, fmt=fmt, delimiter=',', header=header, comments='')


def write_inputs(rng, golden: Path) -> None:
  database = {}
  for d in ('features', 'pgm_proposals', 'pgm_features'):
    (golden / d).mkdir()
  for i, (name, (segments, proposals, style)) in enumerate(VIDEOS.items()):
    database[name] = video_info(rng, segments, i)
    feature = rng.normal(size=(TEMPORAL_DIM, FEAT_DIM)) * rng.uniform(0.1, 3)
    write_feature(golden / 'features' / f'{name}.csv', feature, style)
    tmin = rng.uniform(0, 0.9, proposals)
    rows = np.stack([tmin, tmin + rng.uniform(0.01, 0.5, proposals),
                     *rng.random((5, proposals))], 1)
    np.savetxt(golden / 'pgm_proposals' / f'{name}.csv', rows, header=PGM_HEADER,
               delimiter=',', comments='')
    np.save(golden / 'pgm_features' / f'{name}.npy', rng.random((proposals, BSP_DIM)))
  (golden / 'anet_anno.json').write_text(json.dumps(database, indent=1) + '\n')


def pipelines(golden: Path) -> dict[str, list]:
  proposals = dict(type='LoadProposals', pgm_proposals_dir=str(golden / 'pgm_proposals'),
                   pgm_features_dir=str(golden / 'pgm_features'))
  return {'bmn': [dict(type='LoadLocalizationFeature'), dict(type='GenerateLocalizationLabels')],
          'pem_top5': [dict(proposals, top_k=5)], 'pem_top100': [dict(proposals, top_k=100)]}


def main():
  golden = golden_dir(__doc__, 'localization_data')
  rng = np.random.default_rng(SEED)
  write_inputs(rng, golden)
  arrays, cases = {}, {}
  for case, pipeline in pipelines(golden).items():
    dataset = ActivityNetDataset(str(golden / 'anet_anno.json'), pipeline,
                                 data_prefix=str(golden / 'features'))
    keys = {}
    for i, info in enumerate(dataset.video_infos):
      results = dataset.prepare_train_frames(i)
      name = info['video_name']
      keys[name] = {}
      for key, value in results.items():
        if isinstance(value, np.ndarray):
          arrays[f'{case}/{name}/{key}'] = value
          keys[name][key] = {'dtype': str(value.dtype), 'shape': list(value.shape)}
        else:
          keys[name][key] = None
    cases[case] = {'pipeline': [{k: v for k, v in op.items() if not k.endswith('_dir')}
                                for op in pipeline], 'results': keys}
  cases['video_infos'] = ActivityNetDataset(str(golden / 'anet_anno.json'), [],
                                            data_prefix=None).video_infos
  meta = {'seed': SEED, 'mmaction2': mmaction.__version__, 'mmcv': mmcv.__version__,
          'numpy': np.__version__, 'python': sys.version.split()[0],
          'generator': 'tests/reference/make_golden_localization_data.py'}
  np.savez_compressed(golden / 'arrays.npz', **arrays)
  (golden / 'cases.json').write_text(json.dumps(jsonable(cases), indent=1) + '\n')
  (golden / 'meta.json').write_text(json.dumps(meta) + '\n')
  size = sum(f.stat().st_size for f in golden.rglob('*') if f.is_file())
  print(f'wrote {golden}: {size / 1024:.0f} KiB')


if __name__ == '__main__':
  main()
