"""Input-pipeline throughput: vjax's grain loader vs MMAction2 0.24.1's DataLoader, same videos.

    .venv/bin/python benchmarks/input_pipeline.py                    # 8 videos, 20 batches
    .venv/bin/python benchmarks/input_pipeline.py --num-videos 2 --batches 2 --warmup 1  # smoke

1. Encodes ``--num-videos`` synthetic h264 mp4s once into ``--cache-dir`` (PyAV/libx264,
   340x256, 300 frames at 30 fps: panning texture, moving shapes and grain, so the encoder
   does real work and decoding costs what a Kinetics-like clip costs).
2. Times the training pipelines of SlowFast 4x16x1 (SampleFrames(32, 2, 1)) and TSN 1x1x3
   (SampleFrames(1, 1, 3)), each decode -> Resize(-1, 256) -> crop -> Resize(224, 224) ->
   Flip -> [Normalize] -> FormatShape, batch size 8:
   * vjax: ``make_train_iterator`` (grain worker processes) over a ``VideoDataset`` on an
     annotation list written here. vjax normalizes on the device, so its host pipeline has no
     Normalize and yields uint8, channels-last (N, T, H, W, C) / (N, H, W, C) arrays.
   * MMAction2: benchmarks/_mmaction2_input_runner.py in the reference venv, a subprocess
     per measurement: its VideoDataset and build_dataloader (torch DataLoader), with
     Normalize, yielding float32 channels-first tensors, as its configs do.
   MMAction2 decodes with decord if it imports in the reference venv, else PyAV (``--decoder``
   forces one); vjax with ``--vjax-decoder`` (default PyAV, whose accurate mode decodes only
   what the sampled frames need; ``same`` = MMAction2's). Before timing, the script checks
   that vjax's decoder returns exactly the frames the other one does on these videos.
3. Prints clips/s (training samples per second: one SlowFast sample is a 32-frame clip, one
   TSN sample 3 frames) per pipeline and worker count, and vjax / MMAction2; the CPU time
   per clip of each whole loader (main process + workers, benchmarks/_cpu.py), which wall
   time on a shared VM blurs; with ``--repeats`` the sides alternate and the table gives
   medians, the ratios as medians of the back-to-back pairs.
4. Profiles vjax's pipeline op by op in one process, and prints the ratio that opening and
   decoding alone leave possible against MMAction2's CPU per clip.

The first ``--warmup`` batches (worker start-up included) are not timed. Measure on a quiet
machine: both loaders are CPU-bound and share the cores with everything else running. The
script waits up to ``--wait-idle`` seconds for the load average to drop below 0.75 per core and
refuses otherwise (``--allow-busy`` runs anyway and marks the figures BUSY); each run records
the CPU used by processes outside the benchmark and the hypervisor's steal, a pair with a busy
run is left out of the ratios, and a row whose every pair was busy is marked BUSY.
"""

from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import _cpu  # benchmarks/, this script's folder
from _cpu import tree_cpu_seconds

ROOT = Path(__file__).resolve().parents[1]
RUNNER = Path(__file__).resolve().parent / '_mmaction2_input_runner.py'
PIPELINES = ('slowfast', 'tsn')


# ------------------------------------------------------------------ videos
def _texture(rng, h, w):
  """Smooth colour noise with some fine detail: something for motion search to lock onto."""
  import cv2  # pylint: disable=g-import-not-at-top
  coarse = rng.integers(0, 256, size=(h // 16, w // 16, 3), dtype=np.uint8)
  fine = rng.integers(0, 256, size=(h // 2, w // 2, 3), dtype=np.uint8)
  tex = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC).astype(np.int16)
  tex += (cv2.resize(fine, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.int16) - 128) // 4
  return np.clip(tex, 0, 255).astype(np.uint8)


def encode_video(path: Path, seed: int, width: int, height: int, num_frames: int, fps: int):
  """One h264 (yuv420p, x264 defaults: crf 23, preset medium) mp4 with moving content."""
  import av  # pylint: disable=g-import-not-at-top
  import cv2  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(seed)
  canvas = _texture(rng, height * 2, width * 2)  # the camera pans across this
  pan = rng.uniform(-1.5, 1.5, size=2)
  shapes = [dict(pos=rng.uniform([0, 0], [width, height]), vel=rng.uniform(-4, 4, size=2),
                 r=int(rng.integers(10, 40)), color=tuple(int(c) for c in rng.integers(0, 256, 3)))
            for _ in range(6)]
  tmp = path.with_suffix('.tmp.mp4')
  with av.open(str(tmp), 'w') as container:
    stream = container.add_stream('libx264', rate=fps)
    stream.width, stream.height, stream.pix_fmt = width, height, 'yuv420p'
    for t in range(num_frames):
      x0 = int(width / 2 + pan[0] * t) % width
      y0 = int(height / 2 + pan[1] * t) % height
      img = np.ascontiguousarray(canvas[y0:y0 + height, x0:x0 + width])
      for s in shapes:
        s['pos'] += s['vel']
        for i, lim in enumerate((width, height)):
          if not 0 <= s['pos'][i] < lim:
            s['vel'][i] *= -1
            s['pos'][i] = np.clip(s['pos'][i], 0, lim - 1)
        cv2.circle(img, (int(s['pos'][0]), int(s['pos'][1])), s['r'], s['color'], -1)
      noise = rng.integers(-6, 7, size=img.shape, dtype=np.int16)  # sensor grain
      img = np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)
      for packet in stream.encode(av.VideoFrame.from_ndarray(img, format='rgb24')):
        container.mux(packet)
    for packet in stream.encode():
      container.mux(packet)
  os.replace(tmp, path)


def prepare_videos(cache_dir: Path, num_videos: int, width: int, height: int, num_frames: int,
                   fps: int) -> tuple[Path, Path]:
  """Encodes missing videos; returns (video dir, annotation list of the first num_videos)."""
  video_dir = cache_dir / f'{width}x{height}_{num_frames}f_{fps}fps'
  video_dir.mkdir(parents=True, exist_ok=True)
  for i in range(num_videos):
    path = video_dir / f'video_{i:03d}.mp4'
    if not path.exists():
      start = time.perf_counter()
      encode_video(path, seed=i, width=width, height=height, num_frames=num_frames, fps=fps)
      print(f'  encoded {path} ({path.stat().st_size / 1e6:.2f} MB, '
            f'{time.perf_counter() - start:.1f} s)', flush=True)
  ann = video_dir / f'train_list_{num_videos}.txt'
  ann.write_text(''.join(f'video_{i:03d}.mp4 {i % 400}\n' for i in range(num_videos)))
  return video_dir, ann


# ------------------------------------------------------------------ vjax
def vjax_pipeline(name: str, decoder: str) -> list[dict]:
  """The same train pipeline as the MMAction2 runner's, minus Normalize (done on device)."""
  init, decode = {'decord': ('DecordInit', 'DecordDecode'),
                  'pyav': ('PyAVInit', 'PyAVDecode')}[decoder]
  if name == 'slowfast':
    sample = dict(type='SampleFrames', clip_len=32, frame_interval=2, num_clips=1)
    crop = dict(type='RandomResizedCrop')
    fmt = 'NCTHW'
  else:
    sample = dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=3)
    crop = dict(type='MultiScaleCrop', input_size=224, scales=(1, 0.875, 0.75, 0.66),
                random_crop=False, max_wh_scale_gap=1)
    fmt = 'NCHW'
  return [dict(type=init), sample, dict(type=decode), dict(type='Resize', scale=(-1, 256)),
          crop, dict(type='Resize', scale=(224, 224), keep_ratio=False),
          dict(type='Flip', flip_ratio=0.5), dict(type='FormatShape', input_format=fmt),
          dict(type='Collect', keys=['imgs', 'label'], meta_keys=[])]


def check_same_frames(video_dir: Path, ann: Path, decoder: str, vjax_decoder: str) -> str:
  """Decodes one SlowFast and one TSN clip of every video with both decoders in vjax; the
  benchmark only compares decoders that return identical frames."""
  from vjax.data import VideoDataset  # pylint: disable=g-import-not-at-top
  from vjax.data.pipeline import Compose  # pylint: disable=g-import-not-at-top
  if decoder == vjax_decoder:
    return 'same decoder on both sides'
  source = VideoDataset(str(ann), data_prefix=str(video_dir))
  for name in PIPELINES:
    outs = []
    for dec in (decoder, vjax_decoder):
      pipe = Compose(vjax_pipeline(name, dec)[:3])  # init, sample, decode
      outs.append([pipe(dict(source[i]), np.random.default_rng(i))['imgs']
                   for i in range(len(source))])
    for i, (a, b) in enumerate(zip(*outs)):
      if a.shape != b.shape or not np.array_equal(a, b):
        raise SystemExit(f'{vjax_decoder} and {decoder} decode different frames for video {i} '
                         f'({name} sampling); compare with --vjax-decoder same')
  return f'{vjax_decoder} returns the same frames as {decoder} on every video (checked)'


def profile_ops(name, decoder, video_dir, ann, clips: int) -> list[tuple[str, float]]:
  """CPU ms per clip of each op of vjax's pipeline, run in this process (no workers)."""
  from vjax.data import VideoDataset  # pylint: disable=g-import-not-at-top
  from vjax.data.pipeline import Compose  # pylint: disable=g-import-not-at-top
  source = VideoDataset(str(ann), data_prefix=str(video_dir))
  ops = vjax_pipeline(name, decoder)
  steps = [Compose([op]) for op in ops]
  cost = np.zeros(len(ops))
  for n in range(clips):
    results, rng = dict(source[n % len(source)]), np.random.default_rng(n)
    for k, step in enumerate(steps):
      start = time.process_time()
      results = step(results, rng)
      cost[k] += time.process_time() - start
  return [(op['type'], c / clips * 1e3) for op, c in zip(ops, cost)]


def time_vjax(name, decoder, video_dir, ann, workers, batch_size, batches, warmup, seed=0):
  from vjax.data import VideoDataset, make_train_iterator  # pylint: disable=g-import-not-at-top
  source = VideoDataset(str(ann), data_prefix=str(video_dir))
  it = make_train_iterator(source, vjax_pipeline(name, decoder), global_batch_size=batch_size,
                           seed=seed, worker_count=workers, keys=('imgs', 'label'))
  try:
    start = time.perf_counter()
    for _ in range(warmup):
      batch = next(it)
    warm, cpu_warm = time.perf_counter(), tree_cpu_seconds()
    for _ in range(batches):
      batch = next(it)
    end, cpu_end = time.perf_counter(), tree_cpu_seconds()
  finally:
    it.close()
  clips = batches * batch_size
  return dict(clips_per_s=clips / (end - warm), time_s=end - warm,
              cpu_ms_per_clip=None if cpu_warm is None else (cpu_end - cpu_warm) / clips * 1e3,
              warmup_s=warm - start, batch_shape=list(batch['imgs'].shape),
              dtype=str(batch['imgs'].dtype))


# ------------------------------------------------------------------ MMAction2
def time_mmaction2(python, name, decoder, video_dir, ann, workers, batch_size, batches, warmup):
  cmd = [python, str(RUNNER), '--ann-file', str(ann), '--data-prefix', str(video_dir),
         '--pipeline', name, '--decoder', decoder, '--workers', str(workers),
         '--batch-size', str(batch_size), '--batches', str(batches), '--warmup', str(warmup)]
  proc = subprocess.run(cmd, capture_output=True, text=True, cwd=str(ROOT), check=False)
  lines = proc.stdout.strip().splitlines()
  if proc.returncode or not lines:
    raise RuntimeError(f'MMAction2 runner failed ({proc.returncode}): {" ".join(cmd)}\n'
                       f'{proc.stderr[-3000:]}')
  return json.loads(lines[-1])


def _imports_in(python: str, module: str) -> bool:
  return subprocess.run([python, '-c', f'import {module}'], capture_output=True,
                        check=False).returncode == 0


def choose_decoder(requested: str, ref_python: str) -> tuple[str, str]:
  """(decoder, why): decord only if both sides have it, so both decode with the same library."""
  from vjax.data import PIPELINES  # pylint: disable=g-import-not-at-top
  missing = []
  if 'DecordInit' not in PIPELINES or 'DecordDecode' not in PIPELINES:
    missing.append('vjax has no DecordInit/DecordDecode op')
  if not _imports_in(sys.executable, 'decord'):
    missing.append('decord is not installed in the vjax venv')
  if not _imports_in(ref_python, 'decord'):
    missing.append('decord is not installed in the reference venv')
  if requested == 'decord' and missing:
    raise SystemExit('--decoder decord: ' + '; '.join(missing))
  if requested == 'pyav':
    return 'pyav', 'requested'
  if missing:
    return 'pyav', 'decord unavailable: ' + '; '.join(missing)
  return 'decord', 'available on both sides'


def _summary(runs: dict[str, list[dict]]) -> dict:
  """Each side's median clips/s and CPU ms/clip, and the medians of the per-repeat ratios
  (vjax run i against MMAction2 run i, taken back to back, so a drift in the machine's speed
  hits both)."""
  med = lambda xs: float(np.median(xs)) if xs and None not in xs else None  # noqa: E731
  if runs['mmaction2']:
    pairs = list(zip(runs['vjax'], runs['mmaction2']))
    quiet = [(v, m) for v, m in pairs if not (v['busy'] or m['busy'])]
    all_busy = not quiet
    pairs = quiet or pairs
    runs = dict(vjax=[v for v, _ in pairs], mmaction2=[m for _, m in pairs])
  else:
    pairs, all_busy = [], all(r['busy'] for r in runs['vjax'])
  out = {side: dict(clips_per_s=med([r['clips_per_s'] for r in rs]),
                    cpu_ms_per_clip=med([r['cpu_ms_per_clip'] for r in rs])) if rs else None
         for side, rs in runs.items()}
  out['all_busy'] = all_busy
  out['clips_ratio'] = med([_ratio(v['clips_per_s'], m['clips_per_s']) for v, m in pairs])
  out['cpu_ratio'] = med([_ratio(m['cpu_ms_per_clip'], v['cpu_ms_per_clip']) for v, m in pairs])
  return out


def _ratio(a, b):
  return a / b if a and b else None


def _fmt(x, width: int = 9, digits: int = 2) -> str:
  return f'{x:{width}.{digits}f}' if x is not None else ' ' * (width - 1) + '-'


def _print_run(side, name, workers, rep, r):
  cpu = _fmt(r['cpu_ms_per_clip'], 6, 1).strip()
  print(f'  {side:9s} {name:8s} workers={workers} run {rep + 1}: {r["clips_per_s"]:7.2f} clips/s, '
        f'{cpu} CPU ms/clip (batch {r["batch_shape"]} {r["dtype"]}, '
        f'warm-up {r["warmup_s"]:.1f} s)' + ('  BUSY' if r['busy'] else ''), flush=True)


def _measured(fn, *args) -> dict:
  """``fn(*args)``, with whether the machine was busy meanwhile."""
  with _cpu.Quiet() as quiet:
    r = fn(*args)
  return dict(r, busy=quiet.busy, foreign_cores=quiet.foreign_cores, steal=quiet.steal)


# ------------------------------------------------------------------ main
def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--num-videos', type=int, default=8)
  parser.add_argument('--batches', type=int, default=20, help='timed batches per measurement')
  parser.add_argument('--warmup', type=int, default=3, help='untimed batches first')
  parser.add_argument('--workers', type=int, nargs='+', default=[1, 2])
  parser.add_argument('--batch-size', type=int, default=8)
  parser.add_argument('--pipelines', nargs='+', choices=PIPELINES, default=list(PIPELINES))
  parser.add_argument('--decoder', choices=('auto', 'decord', 'pyav'), default='auto',
                      help="MMAction2's decoder (auto: decord if both venvs have it)")
  parser.add_argument('--vjax-decoder', choices=('same', 'decord', 'pyav'), default='pyav',
                      help="vjax's decoder (same: MMAction2's)")
  parser.add_argument('--ref-venv', default=os.environ.get('MMACTION2_REF_VENV',
                                                          '/work/mmaction2-ref-venv'))
  parser.add_argument('--cache-dir', default=osp.expanduser('~/.cache/vjax/bench_videos'))
  parser.add_argument('--size', default='340x256', help='WxH of the generated videos')
  parser.add_argument('--frames', type=int, default=300)
  parser.add_argument('--fps', type=int, default=30)
  parser.add_argument('--repeats', type=int, default=1,
                      help='measurements per side, alternating; the table shows medians')
  parser.add_argument('--profile-clips', type=int, default=24,
                      help='clips for the per-op CPU profile of vjax (0: no profile)')
  parser.add_argument('--skip-mmaction2', action='store_true')
  parser.add_argument('--wait-idle', type=float, default=300,
                      help='seconds to wait for a quiet machine before refusing')
  parser.add_argument('--allow-busy', action='store_true',
                      help='run on a busy machine anyway; every figure is marked BUSY')
  parser.add_argument('--json-out', help='also write all measurements here')
  args = parser.parse_args()

  ref_python = str(Path(args.ref_venv) / 'bin' / 'python')
  if not args.skip_mmaction2 and not Path(ref_python).exists():
    raise SystemExit(f'No reference venv at {args.ref_venv} (tests/reference/setup_venv.sh '
                     'builds it), or pass --skip-mmaction2.')
  width, height = (int(v) for v in args.size.lower().split('x'))
  print(f'videos: {args.num_videos} x {args.frames} frames {width}x{height} @ {args.fps} fps, '
        f'h264 (cache {args.cache_dir})', flush=True)
  video_dir, ann = prepare_videos(Path(args.cache_dir), args.num_videos, width, height,
                                  args.frames, args.fps)
  sizes = [(video_dir / f'video_{i:03d}.mp4').stat().st_size for i in range(args.num_videos)]
  print(f'  mean {np.mean(sizes) / 1e6:.2f} MB/video = '
        f'{np.mean(sizes) * 8 / (args.frames / args.fps) / 1e6:.2f} Mbit/s')
  decoder, why = choose_decoder(args.decoder, ref_python)
  vjax_decoder = decoder if args.vjax_decoder == 'same' else args.vjax_decoder
  print(f'decoder: MMAction2 {decoder} ({why}); vjax {vjax_decoder}: '
        f'{check_same_frames(video_dir, ann, decoder, vjax_decoder)}')
  cores = len(os.sched_getaffinity(0))
  load = _cpu.wait_until_idle(cores, 0 if args.allow_busy else args.wait_idle)
  busy_start = load >= _cpu.IDLE_LOAD_PER_CORE * cores
  print(f'machine: {cores} CPUs, load average {load:.2f} at start')
  if busy_start and not args.allow_busy:
    raise SystemExit(f'Refusing to measure: the load average is {load:.2f} on {cores} cores (a '
                     f'figure counts below {_cpu.IDLE_LOAD_PER_CORE * cores:.1f}). Stop what '
                     'else runs, or pass --allow-busy to mark every figure BUSY.')
  if busy_start:
    print('!!! BUSY MACHINE: the figures below do not count !!!')
  print('vjax: no Normalize on the host (vjax normalizes on device), uint8 channels-last output;'
        ' MMAction2: Normalize on the host, float32 channels-first output.\n', flush=True)

  rows = []
  for name in args.pipelines:
    for workers in args.workers:
      common = (video_dir, ann, workers, args.batch_size, args.batches, args.warmup)
      runs = dict(vjax=[], mmaction2=[])
      for rep in range(args.repeats):  # alternate the two sides so drifts in load hit both
        v = _measured(time_vjax, name, vjax_decoder, *common)
        runs['vjax'].append(v)
        _print_run('vjax', name, workers, rep, v)
        if not args.skip_mmaction2:
          m = _measured(time_mmaction2, ref_python, name, decoder, *common)
          runs['mmaction2'].append(m)
          _print_run('MMAction2', name, workers, rep, m)
      rows.append(dict(pipeline=name, workers=workers, runs=runs, **_summary(runs)))

  print(f'\nmedians of {args.repeats} run(s) per side; ratios: median of the per-repeat ratios. '
        f'Batch size {args.batch_size}, {args.batches} timed batches after {args.warmup} '
        f'warm-up, decoders vjax {vjax_decoder} / MMAction2 {decoder}, {args.num_videos} videos. '
        'CPU ms/clip: main process + workers over the timed batches (at equal cores, '
        'throughput goes as its inverse).')
  print(f'{"pipeline":9s} {"workers":>7s} | {"clips/s: vjax":>13s} {"MMAction2":>9s} {"ratio":>6s} | '
        f'{"CPU ms/clip: vjax":>17s} {"MMAction2":>9s} {"ratio":>6s}')
  for r in rows:
    v, m = r['vjax'], r['mmaction2'] or {}
    print(f'{r["pipeline"]:9s} {r["workers"]:7d} | {v["clips_per_s"]:13.2f} '
          f'{_fmt(m.get("clips_per_s"))} {_fmt(r["clips_ratio"], 5)}x | '
          f'{_fmt(v["cpu_ms_per_clip"], 17, 1)} {_fmt(m.get("cpu_ms_per_clip"), 9, 1)} '
          f'{_fmt(r["cpu_ratio"], 5)}x' + ('  BUSY' if r['all_busy'] or busy_start else ''))
  print(f'load average at end: {os.getloadavg()[0]:.2f}')

  profiles = {}
  if args.profile_clips:
    print(f'\nvjax host CPU per op, one process, {args.profile_clips} clips (ms/clip):')
    for name in args.pipelines:
      prof = profiles[name] = profile_ops(name, vjax_decoder, video_dir, ann, args.profile_clips)
      total = sum(ms for _, ms in prof)
      decode = sum(ms for op, ms in prof if op.endswith(('Init', 'Decode')))
      print(f'  {name}: total {total:.1f}, of which opening + decoding {decode:.1f} '
            f'({decode / total:.0%}): ' + ', '.join(f'{op} {ms:.1f}' for op, ms in prof))
      mma2 = [r['mmaction2']['cpu_ms_per_clip'] for r in rows
              if r['pipeline'] == name and r['mmaction2'] and r['mmaction2']['cpu_ms_per_clip']]
      if mma2:
        print(f'    MMAction2 costs {min(mma2):.1f} ms/clip at best: opening + decoding alone caps '
              f'vjax / MMAction2 at {min(mma2) / decode:.2f}x at equal cores')
  if args.json_out:
    Path(args.json_out).write_text(json.dumps(dict(args=vars(args), decoder=decoder,
                                                   vjax_decoder=vjax_decoder, rows=rows,
                                                   profiles=profiles),
                                              indent=1, default=str) + '\n')


if __name__ == '__main__':
  main()
