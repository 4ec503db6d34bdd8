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
   TSN sample 3 frames) per pipeline and worker count, and vjax / MMAction2.

The first ``--warmup`` batches (worker start-up included) are not timed. Measure on a quiet
machine: both loaders are CPU-bound and share the cores with everything else running.
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


def time_vjax(name, decoder, video_dir, ann, workers, batch_size, batches, warmup, seed=0):
  from vjax.data import VideoDataset, make_train_iterator  # pylint: disable=g-import-not-at-top
  source = VideoDataset(str(ann), data_prefix=str(video_dir))
  it = make_train_iterator(source, vjax_pipeline(name, decoder), global_batch_size=batch_size,
                           seed=seed, worker_count=workers, keys=('imgs', 'label'))
  try:
    start = time.perf_counter()
    for _ in range(warmup):
      batch = next(it)
    warm = time.perf_counter()
    for _ in range(batches):
      batch = next(it)
    end = time.perf_counter()
  finally:
    it.close()
  return dict(clips_per_s=batches * batch_size / (end - warm), time_s=end - warm,
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
  parser.add_argument('--skip-mmaction2', action='store_true')
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
  print(f'machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start')
  print('vjax: no Normalize on the host (vjax normalizes on device), uint8 channels-last output;'
        ' MMAction2: Normalize on the host, float32 channels-first output.\n', flush=True)

  rows = []
  for name in args.pipelines:
    for workers in args.workers:
      common = (video_dir, ann, workers, args.batch_size, args.batches, args.warmup)
      v = time_vjax(name, vjax_decoder, *common)
      print(f'  vjax      {name:8s} workers={workers}: {v["clips_per_s"]:7.2f} clips/s '
            f'(batch {v["batch_shape"]} {v["dtype"]}, warm-up {v["warmup_s"]:.1f} s)',
            flush=True)
      m = None
      if not args.skip_mmaction2:
        m = time_mmaction2(ref_python, name, decoder, *common)
        print(f'  MMAction2 {name:8s} workers={workers}: {m["clips_per_s"]:7.2f} clips/s '
              f'(batch {m["batch_shape"]} {m["dtype"]}, warm-up {m["warmup_s"]:.1f} s)',
              flush=True)
      rows.append(dict(pipeline=name, workers=workers, vjax=v, mmaction2=m))

  print(f'\nclips/s, batch size {args.batch_size}, {args.batches} timed batches after '
        f'{args.warmup} warm-up, decoders vjax {vjax_decoder} / MMAction2 {decoder}, '
        f'{args.num_videos} videos:')
  print(f'{"pipeline":10s} {"workers":>7s} {"vjax":>9s} {"MMAction2":>10s} {"vjax/MMA2":>10s}')
  for r in rows:
    v = r['vjax']['clips_per_s']
    m = r['mmaction2']['clips_per_s'] if r['mmaction2'] else float('nan')
    print(f'{r["pipeline"]:10s} {r["workers"]:7d} {v:9.2f} {m:10.2f} {v / m:9.2f}x')
  print(f'load average at end: {os.getloadavg()[0]:.2f}')
  if args.json_out:
    Path(args.json_out).write_text(json.dumps(dict(args=vars(args), decoder=decoder,
                                                   vjax_decoder=vjax_decoder, rows=rows),
                                              indent=1, default=str) + '\n')


if __name__ == '__main__':
  main()
