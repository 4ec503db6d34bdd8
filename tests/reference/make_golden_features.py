"""Golden values for vjax.localization.features and the ActivityNet feature post-processing,
computed by MMAction2 0.24.1's tools/data/activitynet/activitynet_feature_postprocessing.py.

Runs ONLY in the reference virtualenv (tests/reference/setup_venv.sh); never imports vjax.
    /work/mmaction2-ref-venv/bin/python tests/reference/make_golden_features.py
writes tests/golden/features/ from inputs drawn with numpy.random.default_rng(SEED):
- arrays.npz: ``pool/<case>/input`` and ``pool/<case>/output`` of the tool's ``pool_feature``
  on random (T, C) sequences (float32 as the pickled TSN features, some float64), T from 1 to
  333, i.e. below, at and above the 100 output steps, and other step counts, bin counts and
  the max pooling; ``csv/<video>/rgb`` and ``csv/<video>/flow``: (T, 200) float32 inputs of
  the tool's ``merge_feat`` (one video of 57 clips, one of a single clip);
- cases.json: each pool case's parameters; each csv's sha256, first line and size;
- meta.json: seed and versions.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import runpy
import sys
import tempfile
import types
from pathlib import Path

import numpy as np

# MMAction2 0.24.1 predates numpy 1.24, which removed these aliases.
for _name, _alias in (('int', int), ('float', float), ('bool', bool), ('object', object),
                      ('str', str)):
  if _name not in np.__dict__:
    setattr(np, _name, _alias)

import mmaction  # noqa: E402
import mmcv  # noqa: E402
import scipy  # noqa: E402
from golden_io import golden_dir  # noqa: E402

HERE = Path(__file__).resolve().parent
TOOL = (Path(mmaction.__file__).resolve().parent / '.mim' / 'tools' / 'data' / 'activitynet' /
        'activitynet_feature_postprocessing.py')
SEED = 20240916

# name: (T, C, dtype, num_proposals, num_sample_bins, pool_type)
POOL_CASES = {
    't1': (1, 5, 'float32', 100, 3, 'mean'),
    't2': (2, 5, 'float32', 100, 3, 'mean'),
    't3': (3, 4, 'float32', 100, 3, 'mean'),
    't7': (7, 6, 'float32', 100, 3, 'mean'),
    't57': (57, 6, 'float32', 100, 3, 'mean'),
    't99': (99, 3, 'float32', 100, 3, 'mean'),
    't100': (100, 3, 'float32', 100, 3, 'mean'),
    't101': (101, 3, 'float32', 100, 3, 'mean'),
    't150': (150, 4, 'float32', 100, 3, 'mean'),
    't333': (333, 2, 'float32', 100, 3, 'mean'),
    't40_f64': (40, 4, 'float64', 100, 3, 'mean'),
    't250_f64': (250, 2, 'float64', 100, 3, 'mean'),
    't37_max': (37, 4, 'float32', 100, 3, 'max'),
    't64_dim32_bins5': (64, 3, 'float32', 32, 5, 'mean'),
    't20_dim128_bins1': (20, 3, 'float32', 128, 1, 'mean'),
}
CSV_VIDEOS = {'v_long': 57, 'v_one': 1}


def run_pool(rng, tool, arrays):
  cases = {}
  for name, (t, c, dtype, dim, bins, pool) in POOL_CASES.items():
    data = rng.standard_normal((t, c)).astype(dtype)
    out = tool['pool_feature'](data, num_proposals=dim, num_sample_bins=bins, pool_type=pool)
    arrays[f'pool/{name}/input'] = data
    arrays[f'pool/{name}/output'] = np.asarray(out)
    cases[name] = dict(T=t, C=c, dtype=dtype, num_proposals=dim, num_sample_bins=bins,
                       pool_type=pool, output_dtype=str(np.asarray(out).dtype))
  return cases


def run_csv(rng, tool, arrays, work: Path):
  rgb, flow, dest = work / 'rgb', work / 'flow', work / 'dest'
  rgb.mkdir()
  flow.mkdir()
  for video, t in CSV_VIDEOS.items():
    for root, key in ((rgb, 'rgb'), (flow, 'flow')):
      feat = (rng.standard_normal((t, 200)) * 3).astype(np.float32)
      arrays[f'csv/{video}/{key}'] = feat
      with open(root / f'{video}.pkl', 'wb') as f:
        pickle.dump(feat, f)
  merge = tool['merge_feat']
  merge.__globals__['args'] = types.SimpleNamespace(rgb=str(rgb), flow=str(flow),
                                                    dest=str(dest), output_format='csv')
  cases = {}
  for video in CSV_VIDEOS:
    merge(f'{video}.pkl')
    text = (dest / f'{video}.csv').read_bytes()
    cases[video] = dict(sha256=hashlib.sha256(text).hexdigest(),
                        first_line=text.decode().split('\n')[0][:40], size=len(text))
  return cases


def main():
  golden = golden_dir(__doc__, 'features')
  rng = np.random.default_rng(SEED)
  tool = runpy.run_path(str(TOOL))
  arrays = {}
  with tempfile.TemporaryDirectory() as tmp:
    cases = {'pool': run_pool(rng, tool, arrays), 'csv': run_csv(rng, tool, arrays, Path(tmp))}
  meta = {'seed': SEED, 'mmaction2': mmaction.__version__, 'mmcv': mmcv.__version__,
          'scipy': scipy.__version__, 'numpy': np.__version__,
          'python': sys.version.split()[0],
          'generator': 'tests/reference/make_golden_features.py'}
  np.savez_compressed(golden / 'arrays.npz', **arrays)
  (golden / 'cases.json').write_text(json.dumps(cases, indent=1) + '\n')
  (golden / 'meta.json').write_text(json.dumps(meta) + '\n')
  print(f'wrote {golden}: {len(cases["pool"])} pool cases, {len(cases["csv"])} csv files')


if __name__ == '__main__':
  main()
