"""Golden outputs of MMAction2 0.24.1's skeleton data tools (gen_ntu_rgbd_raw.py,
babel2mma2.py) on small inputs written here.

Runs ONLY in the reference virtualenv (tests/reference/setup_venv.sh); never imports vjax.
    /work/mmaction2-ref-venv/bin/python tests/reference/make_golden_skeleton_tools.py
writes tests/golden/skeleton_tools/ from inputs drawn with numpy.random.default_rng(SEED):
- ntu/: .skeleton files in NTU RGB+D's text format (one body; three bodies of different
  motion; empty frames at the start and end; a body that appears late; five bodies in a frame;
  an ignored sample) and ignored.txt (the ignored list, beside ntu/);
- babel/: train_ntu_sk_120.npy (N, 3, 150, 25, 1) and train_label_120.pkl (BABEL's layout);
- ntu.npz / ntu.json: gendata's entries for ntu60 (xsub, xview) and ntu120 (xsub, xsetup),
  train and val: keypoints under ``<task>/<benchmark>/<part>/<frame_dir>``, the other fields in
  the json (in MMAction2's order, which is the directory's);
- babel.npz / babel.json: babel2mma2.py's babel120_train.pkl entries (run in babel/);
- meta.json: seed and versions.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import runpy
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

from golden_io import golden_dir, jsonable  # noqa: E402

SEED = 20240601
TOOLS = Path(mmaction.__file__).parent / '.mim' / 'tools' / 'data' / 'skeleton'
IGNORED = 'S005C002P010R001A020'
# name: (frames, bodies per frame as a function of the frame index)
SAMPLES = {
    'S001C001P001R001A001': (12, lambda t: 1),
    'S002C002P003R002A013': (10, lambda t: 3),
    'S017C003P045R001A050': (9, lambda t: 0 if t in (0, 1, 8) else 1),
    'S018C001P008R002A061': (8, lambda t: 1 if t < 3 else 2),
    'S003C003P009R002A007': (6, lambda t: 5 if t == 2 else 2),
    IGNORED: (4, lambda t: 1),
}


def body_tracks(rng, frames: int, bodies: int) -> np.ndarray:
  """(bodies, frames, 25, 3): standing skeletons moving by different amounts."""
  base = np.stack([rng.uniform(-0.3, 0.3, 25), rng.uniform(-0.8, 0.6, 25),
                   rng.uniform(2.5, 3.5, 25)], -1)
  out = []
  for b in range(bodies):
    offset = np.array([0.6 * b - 0.5, 0.0, 0.2 * b])
    motion = np.cumsum(rng.normal(0, 0.02 * (b + 1), (frames, 25, 3)), 0)
    out.append(base + offset + rng.normal(0, 0.03, (25, 3)) + motion)
  return np.stack(out)


def write_skeleton(path: Path, rng, frames: int, bodies_at) -> None:
  most = max(bodies_at(t) for t in range(frames))
  tracks = body_tracks(rng, frames, max(most, 1))
  lines = [str(frames)]
  for t in range(frames):
    lines.append(str(bodies_at(t)))
    for b in range(bodies_at(t)):
      lines.append(f'{72057594037930000 + b} 0 1 1 1 1 0 {rng.uniform(-.1, .1):.8f} '
                   f'{rng.uniform(-.1, .1):.8f} 2')
      lines.append('25')
      for x, y, z in tracks[b, t]:
        extra = ' '.join(f'{v:.7g}' for v in rng.uniform(-1, 1, 8))
        lines.append(f'{x:.7f} {y:.7f} {z:.7f} {extra} 2')
  path.write_text('\n'.join(lines) + '\n')


def run_gen_ntu(golden: Path) -> tuple[dict, dict]:
  sys.argv = ['gen_ntu_rgbd_raw.py']
  module = runpy.run_path(str(TOOLS / 'gen_ntu_rgbd_raw.py'))
  arrays, fields = {}, {}
  tmp = golden / 'tmp_out'
  for task, benchmarks in (('ntu60', ('xsub', 'xview')), ('ntu120', ('xsub', 'xsetup'))):
    for benchmark in benchmarks:
      for part in ('train', 'val'):
        tmp.mkdir(exist_ok=True)
        with contextlib.redirect_stdout(io.StringIO()):
          module['gendata'](str(golden / 'ntu'), str(tmp), str(golden / 'ignored.txt'),
                            task, benchmark=benchmark, part=part)
        entries = mmcv.load(str(tmp / f'{part}.pkl'))
        (tmp / f'{part}.pkl').unlink()
        rows = []
        for e in entries:
          arrays[f"{task}/{benchmark}/{part}/{e['frame_dir']}"] = e['keypoint']
          rows.append({k: v for k, v in e.items() if k != 'keypoint'})
        fields.setdefault(task, {}).setdefault(benchmark, {})[part] = rows
  tmp.rmdir()
  return arrays, fields


def run_babel(golden: Path, rng) -> tuple[dict, list]:
  folder = golden / 'babel'
  folder.mkdir()
  n = 3
  x = rng.normal(0, 0.5, (n, 3, 150, 25, 1)).astype(np.float32)
  np.save(folder / 'train_ntu_sk_120.npy', x)
  labels = ([f'seg{i:03d}' for i in range(n)],
            (list(rng.integers(0, 120, n)), [int(s) for s in rng.integers(1000, 9999, n)],
             [0, 1, 0], [int(a) for a in rng.integers(1, 5, n)]))
  with open(folder / 'train_label_120.pkl', 'wb') as f:
    pickle.dump(labels, f)
  cwd = os.getcwd()
  os.chdir(folder)
  try:
    runpy.run_path(str(TOOLS / 'babel2mma2.py'))
    entries = mmcv.load('babel120_train.pkl')
    os.remove('babel120_train.pkl')
  finally:
    os.chdir(cwd)
  arrays = {f'{i}': e['keypoint'] for i, e in enumerate(entries)}
  return arrays, [{k: v for k, v in e.items() if k != 'keypoint'} for e in entries]


def main():
  golden = golden_dir(__doc__, 'skeleton_tools')
  rng = np.random.default_rng(SEED)
  (golden / 'ntu').mkdir()
  for name, (frames, bodies_at) in SAMPLES.items():
    write_skeleton(golden / 'ntu' / f'{name}.skeleton', rng, frames, bodies_at)
  (golden / 'ignored.txt').write_text(f'{IGNORED}\nS099C001P001R001A001\n')
  ntu_arrays, ntu_fields = run_gen_ntu(golden)
  babel_arrays, babel_fields = run_babel(golden, rng)
  np.savez_compressed(golden / 'ntu.npz', **ntu_arrays)
  (golden / 'ntu.json').write_text(json.dumps(jsonable(ntu_fields), indent=1) + '\n')
  np.savez_compressed(golden / 'babel.npz', **babel_arrays)
  (golden / 'babel.json').write_text(json.dumps(jsonable(babel_fields), indent=1) + '\n')
  meta = {'seed': SEED, 'mmaction2': mmaction.__version__, 'mmcv': mmcv.__version__,
          'numpy': np.__version__, 'python': sys.version.split()[0],
          'generator': 'tests/reference/make_golden_skeleton_tools.py'}
  (golden / 'meta.json').write_text(json.dumps(meta) + '\n')
  size = sum(f.stat().st_size for f in golden.rglob('*') if f.is_file())
  print(f'wrote {golden}: {size / 1024:.0f} KiB')


if __name__ == '__main__':
  main()
