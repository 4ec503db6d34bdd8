"""What an exact h264 decode must cost: whole-file libavcodec CPU time per skip mode and
thread count, on one of input_pipeline.py's cached benchmark videos.

    .venv/bin/python benchmarks/decode_costs.py [--video PATH] [--repeats 3]

Rows: every frame; non-reference frames skipped (AVDISCARD_NONREF, what PyAVDecode skips when
they are not sampled: the output is unchanged); all B frames skipped (AVDISCARD_BIDIR: fewer
frames still, but with x264's default b-pyramid=normal P frames may reference B frames, so
the result is not an exact decode; shown as a bound only). The script then counts, for both
skip modes, the output frames that differ from a full decode. Then every frame with PyAV's
default threading (thread_count=0: slice threads, one per core) against one thread.
CPU time is ``time.process_time`` (all threads of this process), median of ``--repeats``.
"""

from __future__ import annotations

import argparse
import os.path as osp
import statistics
import time


def decode_cpu_s(path: str, skip: str = 'DEFAULT', threads: int | None = 1) -> tuple[float, int]:
  """(CPU seconds, frames output) to decode the whole video once."""
  import av  # pylint: disable=g-import-not-at-top
  with av.open(path) as container:
    stream = container.streams.video[0]
    if threads is not None:
      stream.codec_context.thread_count = threads
    stream.codec_context.skip_frame = skip
    start = time.process_time()
    frames = sum(1 for _ in container.decode(stream))
    return time.process_time() - start, frames


def frames_changed_by(path: str, skip: str) -> tuple[int, int]:
  """(frames output with ``skip``, how many of them differ from the same frame of a full
  decode): 0 differing means that skip mode is exact on this video."""
  import av  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top

  def decode(mode):
    with av.open(path) as container:
      stream = container.streams.video[0]
      stream.codec_context.skip_frame = mode
      return {f.pts: f.to_ndarray(format='yuv420p') for f in container.decode(stream)}

  full, skipped = decode('DEFAULT'), decode(skip)
  return len(skipped), sum(not np.array_equal(a, full[t]) for t, a in skipped.items())


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--video', default=osp.expanduser(
      '~/.cache/vjax/bench_videos/340x256_300f_30fps/video_000.mp4'),
                      help='default: input_pipeline.py\'s first video (run that script first)')
  parser.add_argument('--repeats', type=int, default=3)
  args = parser.parse_args()
  if not osp.exists(args.video):
    raise SystemExit(f'No video at {args.video}: run benchmarks/input_pipeline.py once (it '
                     'encodes the videos), or pass --video.')
  rows = [('every frame, 1 thread', 'DEFAULT', 1),
          ('non-reference frames skipped, 1 thread (exact)', 'NONREF', 1),
          ('all B frames skipped, 1 thread (NOT exact)', 'BIDIR', 1),
          ("every frame, PyAV's default threads", 'DEFAULT', None)]
  print(f'{args.video}: whole-file decode, median of {args.repeats}')
  for label, skip, threads in rows:
    runs = [decode_cpu_s(args.video, skip, threads) for _ in range(args.repeats)]
    ms = statistics.median(r[0] for r in runs) * 1e3
    print(f'  {label:50s} {runs[0][1]:4d} frames {ms:7.1f} ms CPU')
  for skip in ('NONREF', 'BIDIR'):
    n, changed = frames_changed_by(args.video, skip)
    print(f'  {skip}: {changed} of the {n} frames it outputs differ from a full decode')


if __name__ == '__main__':
  main()
