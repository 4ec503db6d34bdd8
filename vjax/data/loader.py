"""grain loaders: deterministic, resumable, process-sharded batches of numpy arrays.

Both loaders are built on one idea: batch ``step`` of this process is a pure
function of ``(seed, step, process_index, ...)``. Global sample position
``g = step * global_batch_size + process_index * local_batch + j`` is what every
process agrees on, so

* the global batch at a step (all processes' local batches concatenated in
  process order) does not depend on the number of processes or workers;
* the iterator state is just the next step, restorable anywhere (other worker
  counts, other process counts with the same global batch size);
* each sample's augmentation rng is derived from ``(seed, epoch, dataset index)``.

Bad samples (a missing or corrupt file, a decoder error) follow ``on_error``:
'raise' stops with a ``SampleError`` naming the file; 'skip' loads the next
index in dataset order that works instead (its own frames and label, with that
index's rng, so it stays deterministic) and reports the skipped sample inside
the batch, so counts come back from worker processes too. The iterator keeps
them (``bad_samples()``), logs each new file once, and carries them in its
state so a resumed run reports the same totals.

grain does the execution: a ``MapDataset`` over steps, thread prefetch, and
``mp_prefetch`` worker processes that each produce whole batches.
"""

from __future__ import annotations

import collections
import math
import sys
from typing import Any, Callable, Mapping, Sequence

import grain
import numpy as np
from absl import logging

from vjax.data.pipeline import Compose
from vjax.data.sources.base import sample_from

_STATE_VERSION = 1
# Domain tags keep the shuffle, train-augmentation and eval rng streams apart.
_SHUFFLE, _TRAIN, _EVAL = 0, 1, 2
ON_ERROR = ("raise", "skip")
# With on_error='skip', this many following samples are tried before giving up: a longer
# run of failures means a setup problem (wrong data_prefix, a broken pipeline), not bad files.
_MAX_SUBSTITUTES = 64
_BAD_KEY = "_bad_samples"  # Batch entry that carries skipped samples out of grain workers.
# Added to evaluation batches: ``valid`` (False on padding rows), ``index`` (dataset index).
RESERVED_KEYS = ("valid", "index")


class SampleError(RuntimeError):
  """A sample failed to load or transform; the message names the sample."""


def _describe(source, index: int) -> str:
  try:
    return source.describe(index)
  except Exception:  # pylint: disable=broad-except  # Naming must never mask the real error.
    return f"index {index} of {type(source).__name__}"


def _as_pipeline(pipeline_cfg) -> Callable:
  if isinstance(pipeline_cfg, Compose) or (callable(pipeline_cfg) and
                                           not isinstance(pipeline_cfg, (list, tuple))):
    return pipeline_cfg
  return Compose(pipeline_cfg)


_IN_WORKER = False  # Set in grain worker processes by _init_worker.
_SHM_MIN_BYTES = 1 << 20


def _stack(key: str, values: Sequence[Any]) -> np.ndarray:
  """The batch array of ``key``. In a grain worker a large batch is stacked straight into
  shared memory, which grain then hands to the main process without its own copy (a
  38 MB SlowFast batch of 8 would otherwise be written twice and fault in twice).

  Values that are not arrays (``Collect``'s meta dicts, file names) become a 1-D object
  array: host-side fields that ``split_host_fields`` keeps off the device. Arrays of
  different shapes are an error: a variable-size field needs padding (``PadTo``)."""
  if any(isinstance(v, (Mapping, str, bytes)) for v in values):
    out = np.empty(len(values), object)
    out[:] = list(values)
    return out
  arrays = [np.asarray(v) for v in values]
  shapes = {a.shape for a in arrays}
  if len(shapes) > 1:
    raise ValueError(f"batch key {key!r} has samples of shapes {sorted(shapes)}; a batch needs "
                     f"one shape per key: pad variable-size fields to a fixed maximum with "
                     f"the PadTo pipeline op (it adds a validity mask)")
  first = arrays[0]
  out = None
  if (_IN_WORKER and first.nbytes * len(arrays) >= _SHM_MIN_BYTES and not first.dtype.hasobject
      and all(a.shape == first.shape and a.dtype == first.dtype for a in arrays)):
    shared = getattr(grain, "multiprocessing", None)
    if shared is not None and hasattr(shared, "SharedMemoryArray"):
      out = shared.SharedMemoryArray((len(arrays), *first.shape), first.dtype)
  arr = np.stack(arrays, out=out)
  if key == "label" and np.issubdtype(arr.dtype, np.integer):
    arr = arr.astype(np.int32)
  return arr


def split_host_fields(batch: Mapping[str, Any]) -> tuple[dict, dict]:
  """``(device fields, host fields)``: numeric and bool arrays go to the accelerator;
  object arrays (meta dicts, names) stay on the host."""
  device, host = {}, {}
  for k, v in batch.items():
    (host if np.asarray(v).dtype.hasobject else device)[k] = v
  return device, host


class _SampleLoader:
  """source[i] -> pipeline -> the kept keys. Picklable; lives in grain workers.

  ``keys=None`` keeps every key the pipeline returns: its ``Collect`` decides a batch's keys.

  Called as ``loader(index, rng_for)`` where ``rng_for(i)`` is sample ``i``'s
  rng; returns ``(sample, skipped)``. ``skipped`` lists ``(name, error)`` of the
  requested sample when ``on_error='skip'`` replaced it by a later one.
  """

  def __init__(self, source, pipeline, keys: Sequence[str] | None, on_error: str = "raise"):
    if on_error not in ON_ERROR:
      raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
    self.source = source
    self.pipeline = pipeline
    self.keys = None if keys is None else tuple(keys)
    self.on_error = on_error

  def _load(self, index: int, rng: np.random.Generator) -> dict[str, Any]:
    results = self.pipeline(sample_from(self.source, index, rng), rng)
    if results is None:
      raise ValueError("the pipeline returned None")
    if self.keys is None:
      reserved = [k for k in RESERVED_KEYS if k in results]
      if reserved:
        raise KeyError(f"pipeline output has {reserved}, which the loader adds itself to "
                       f"evaluation batches; rename them (Rename op)")
      return dict(results)
    missing = [k for k in self.keys if k not in results]
    if missing:
      raise KeyError(f"pipeline output lacks keys {missing}; it has {sorted(results)}")
    return {k: results[k] for k in self.keys}

  def _error(self, index: int, e: Exception) -> str:
    return f"Failed to load sample {_describe(self.source, index)}: {type(e).__name__}: {e}"

  def __call__(self, index: int, rng_for: Callable[[int], np.random.Generator]
               ) -> tuple[dict[str, Any], tuple]:
    try:
      return self._load(index, rng_for(index)), ()
    except Exception as e:  # pylint: disable=broad-except
      if self.on_error == "raise":
        raise SampleError(self._error(index, e)) from e
      skipped = ((_describe(self.source, index), f"{type(e).__name__}: {e}"),)
    tries = min(len(self.source), _MAX_SUBSTITUTES + 1)
    last = None
    for step in range(1, tries):
      j = (index + step) % len(self.source)
      try:
        return self._load(j, rng_for(j)), skipped
      except Exception as e:  # pylint: disable=broad-except  # Counted when j is drawn itself.
        last = f"; last: {type(e).__name__}: {e}"
    raise SampleError(
        f"on_error='skip' found no loadable sample among the {tries} from "
        f"{_describe(self.source, index)} on; check data_prefix and the pipeline. First error: "
        f"{skipped[0][1]}{last or ''}")


def example_sample(source, pipeline_cfg, keys: Sequence[str] | None = ("imgs",),
                   on_error: str = "raise") -> dict[str, Any]:
  """One processed sample (index 0, or the next loadable one under ``on_error='skip'``):
  what model initialisation needs to know the input shape."""
  loader = _SampleLoader(source, _as_pipeline(pipeline_cfg), keys, on_error)
  return loader(0, lambda i: np.random.default_rng(i))[0]


def _with_skipped(batch: dict[str, Any], skipped: list) -> dict[str, Any]:
  if skipped:
    batch[_BAD_KEY] = tuple(skipped)
  return batch


def _check_sharding(global_batch_size: int, process_index: int, process_count: int) -> int:
  if process_count < 1 or not 0 <= process_index < process_count:
    raise ValueError(f"Bad process_index/process_count {process_index}/{process_count}")
  if global_batch_size < 1 or global_batch_size % process_count:
    raise ValueError(f"global_batch_size {global_batch_size} must be a positive multiple of "
                     f"process_count {process_count}")
  return global_batch_size // process_count


class _TrainBatch:
  """step -> this process's training batch (a dict of stacked arrays)."""

  def __init__(self, loader: _SampleLoader, size: int, seed: int, global_batch_size: int,
               process_index: int, local_batch_size: int):
    self.loader = loader
    self.size = size
    self.seed = seed
    self.global_batch_size = global_batch_size
    self.offset = process_index * local_batch_size
    self.local_batch_size = local_batch_size
    self.weights = _sample_weights(loader.source, size)
    self._orders: dict[int, np.ndarray] = {}
    # Step ``base_step`` starts at sample ``base_sample`` of the global order; both move when
    # a run resumes with another global batch size (another device count).
    self.base_step = 0
    self.base_sample = 0

  def position(self, step: int) -> int:
    """Where batch ``step`` starts in the global sample order (epochs back to back)."""
    return self.base_sample + (step - self.base_step) * self.global_batch_size

  def rebase(self, step: int, sample: int) -> None:
    self.base_step, self.base_sample = step, sample

  def order(self, epoch: int) -> np.ndarray:
    """The epoch's dataset indices: a permutation, or with per-sample weights (MMAction2's
    ``sample_by_class``) ``size`` draws with replacement, as its ClassSpecificDistributedSampler
    with a fixed length. Cached: a batch touches at most two epochs."""
    order = self._orders.get(epoch)
    if order is None:
      rng = np.random.default_rng([self.seed, _SHUFFLE, epoch])
      if self.weights is None:
        order = rng.permutation(self.size)
      else:
        order = rng.choice(self.size, size=self.size, p=self.weights)
      self._orders = {e: o for e, o in self._orders.items() if e >= epoch - 1}
      self._orders[epoch] = order
    return order

  def __call__(self, step: int) -> dict[str, np.ndarray]:
    return self.at(self.position(step))

  def at(self, position: int) -> dict[str, np.ndarray]:
    """This process's share of the global batch starting at sample ``position``."""
    samples, skipped = [], []
    start = position + self.offset
    for g in range(start, start + self.local_batch_size):
      epoch, pos = divmod(g, self.size)
      index = int(self.order(epoch)[pos])
      sample, bad = self.loader(
          index, lambda i, e=epoch: np.random.default_rng([self.seed, _TRAIN, e, i]))
      samples.append(sample)
      skipped.extend(bad)
    batch = {k: _stack(k, [s[k] for s in samples]) for k in samples[0]}
    return _with_skipped(batch, skipped)


def _sample_weights(source, size: int) -> np.ndarray | None:
  """The source's per-sample draw probabilities (``sample_weights()``), checked, or None."""
  fn = getattr(source, "sample_weights", None)
  weights = fn() if fn is not None else None
  if weights is None:
    return None
  weights = np.asarray(weights, np.float64)
  if weights.shape != (size,) or (weights < 0).any() or not weights.sum() > 0:
    raise ValueError(f"{type(source).__name__}.sample_weights() must give {size} non-negative "
                     f"weights with a positive sum, got shape {weights.shape}")
  return weights / weights.sum()


class _EvalBatch:
  """step -> this process's eval batch, padded past the dataset's end with ``valid`` False."""

  def __init__(self, loader: _SampleLoader, size: int, global_batch_size: int,
               process_index: int, local_batch_size: int):
    self.loader = loader
    self.size = size
    self.global_batch_size = global_batch_size
    self.offset = process_index * local_batch_size
    self.local_batch_size = local_batch_size

  def _load(self, index: int) -> tuple[dict[str, Any], tuple]:
    return self.loader(index, lambda i: np.random.default_rng([0, _EVAL, i]))

  def __call__(self, step: int) -> dict[str, np.ndarray]:
    start = step * self.global_batch_size + self.offset
    positions = range(start, start + self.local_batch_size)
    real = {g: self._load(g) for g in positions if g < self.size}
    # Padding repeats a real sample (masked out) so shapes match without knowing them up front;
    # a padding load's skips are not counted (the sample is counted where it is real).
    filler = next(iter(real.values()))[0] if real else self._load(start % self.size)[0]
    samples = [real[g][0] if g in real else filler for g in positions]
    batch = {k: _stack(k, [s[k] for s in samples]) for k in samples[0]}
    batch["valid"] = np.array([g < self.size for g in positions], dtype=bool)
    batch["index"] = np.array([g if g < self.size else -1 for g in positions], dtype=np.int64)
    return _with_skipped(batch, [b for _, bad in real.values() for b in bad])


def _ensure_absl_flags_parsed() -> None:
  """grain's worker start-up reads absl flags; outside an absl app nobody parsed them."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  if not flags.FLAGS.is_parsed():
    flags.FLAGS.mark_as_parsed()


def _init_worker(worker_index: int, worker_count: int) -> None:
  del worker_index, worker_count
  global _IN_WORKER
  _IN_WORKER = True
  import cv2  # pylint: disable=g-import-not-at-top
  cv2.setNumThreads(1)  # Parallelism comes from the workers; OpenCV threads would oversubscribe.


class DataIterator(grain.DatasetIterator):
  """Iterator over ``batch_fn(step)`` for steps ``[start, stop)``; state = next step.

  A ``grain.DatasetIterator``, so ``grain.checkpoint.CheckpointSave(it)`` /
  ``CheckpointRestore(it)`` (orbax) and ``get_state``/``set_state`` (JSON) both
  work. ``set_state`` rebuilds the grain pipeline from the restored step, so a
  state also restores into an iterator with a different worker count. Samples
  skipped under ``on_error='skip'`` are counted per sample in yielded batches
  (``bad_samples()``, part of the state); ``what`` names the data in the logs.
  """

  def __init__(self, batch_fn: Callable[[int], dict], *, stop: int, fingerprint: dict,
               worker_count: int = 0, worker_buffer_size: int = 2, read_threads: int = 1,
               prefetch: int = 2, what: str = "data"):
    super().__init__()
    self._what = what
    self._bad: collections.Counter = collections.Counter()
    self._reported_end = False
    self._batch_fn = batch_fn
    self._stop = stop
    self._fingerprint = dict(fingerprint)
    self._worker_count = worker_count
    self._worker_buffer_size = worker_buffer_size
    self._read_threads = read_threads
    self._prefetch = prefetch
    self._step = 0
    self._it = None

  def _dataset(self, start: int) -> grain.IterDataset:
    ds = grain.MapDataset.range(start, self._stop).map(self._batch_fn)
    if self._worker_count > 0:
      _ensure_absl_flags_parsed()
      ds = ds.to_iter_dataset(grain.ReadOptions(num_threads=1, prefetch_buffer_size=1))
      return ds.mp_prefetch(
          grain.MultiprocessingOptions(num_workers=self._worker_count,
                                       per_worker_buffer_size=self._worker_buffer_size),
          worker_init_fn=_init_worker)
    return ds.to_iter_dataset(grain.ReadOptions(num_threads=self._read_threads,
                                                prefetch_buffer_size=self._prefetch))

  def _inner(self):
    if self._it is None:
      self._it = iter(self._dataset(self._step))
    return self._it

  def __next__(self) -> dict[str, np.ndarray]:
    if self._step >= self._stop:
      self._close_inner()  # Finished: release worker processes and their shared memory.
      self._report_end()
      raise StopIteration
    batch = next(self._inner())
    self._step += 1
    self._count_skipped(batch.pop(_BAD_KEY, ()))
    return batch

  def _count_skipped(self, skipped) -> None:
    new = [(name, err) for name, err in dict(skipped).items() if name not in self._bad]
    self._bad.update(name for name, _ in skipped)
    if new:
      logging.warning(
          "%s: on_error='skip' replaced %d sample(s) that failed to load with the next loadable "
          "sample (%d skipped so far, %d distinct):\n  %s", self._what, len(skipped),
          sum(self._bad.values()), len(self._bad),
          "\n  ".join(f"{name}: {err}" for name, err in new))

  def _report_end(self) -> None:
    if self._bad and not self._reported_end:
      self._reported_end = True
      logging.warning(
          "%s: %d sample(s) failed to load and were replaced by the next loadable sample "
          "(on_error='skip'); results computed on this pass count those substitutes in their "
          "place. Skipped: %s", self._what, sum(self._bad.values()),
          ", ".join(f"{name} (x{n})" for name, n in sorted(self._bad.items())))

  def bad_samples(self) -> dict[str, int]:
    """Samples skipped so far (``on_error='skip'``): name (file and list entry) -> times."""
    return dict(self._bad)

  @property
  def step(self) -> int:
    """Number of batches this iterator has yielded (the next step to produce)."""
    return self._step

  def get_state(self) -> dict[str, Any]:
    state = {"version": _STATE_VERSION, "step": self._step, **self._fingerprint,
             "bad_samples": dict(self._bad)}
    if hasattr(self._batch_fn, "position"):
      state["sample"] = self._batch_fn.position(self._step)
    return state

  def set_state(self, state: Mapping[str, Any]) -> None:
    if state.get("version") != _STATE_VERSION:
      raise ValueError(f"Unsupported data iterator state version {state.get('version')}")
    # A train iterator continues the global sample order under another global batch size
    # (a checkpoint taken on N devices resuming on M): the saved position says where.
    movable = hasattr(self._batch_fn, "rebase")
    mismatched = {k: (state.get(k), v) for k, v in self._fingerprint.items()
                  if state.get(k) != v and not (movable and k == "global_batch_size")}
    if mismatched:
      detail = ", ".join(f"{k}: saved {a!r} vs now {b!r}" for k, (a, b) in mismatched.items())
      raise ValueError(f"Data iterator state does not match this iterator ({detail}); "
                       "resuming would not reproduce the same batches.")
    self._close_inner()
    self._step = int(state["step"])
    if movable:
      saved_batch = int(state.get("global_batch_size", 0))
      sample = state.get("sample", self._step * saved_batch)
      self._batch_fn.rebase(self._step, int(sample))
      if saved_batch != self._fingerprint.get("global_batch_size"):
        logging.warning("%s: the checkpoint was taken with global batch %d, this run has %d; "
                        "continuing at sample %d of the global order", self._what,
                        saved_batch, self._fingerprint.get("global_batch_size"), sample)
    # States saved before skip counting existed have no counts: start from none.
    self._bad = collections.Counter({str(k): int(v)
                                     for k, v in state.get("bad_samples", {}).items()})
    self._reported_end = False

  def start_prefetch(self) -> None:
    it = self._inner()
    if hasattr(it, "start_prefetch"):
      it.start_prefetch()

  def _close_inner(self) -> None:
    if self._it is not None:
      if hasattr(self._it, "close"):
        self._it.close()
      self._it = None

  def close(self) -> None:
    self._close_inner()
    super().close()

  def __del__(self):
    try:
      self._close_inner()
    except Exception:  # pylint: disable=broad-except
      pass


def derived_seed(*parts: int) -> int:
  """A non-negative iterator seed derived from ``parts`` (the run's seed, a stream tag, an
  epoch...), so extra passes over the training data shuffle independently of the main one."""
  return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0] >> 1)


def train_batch_fn(source, pipeline_cfg, *, seed: int, global_batch_size: int,
                   process_index: int = 0, process_count: int = 1,
                   keys: Sequence[str] | None = None, on_error: str = "raise") -> _TrainBatch:
  """What a train iterator calls per step: ``fn(step)`` or ``fn.at(sample position)`` gives
  this process's share of a global batch, for schedules whose batches vary (multigrid)."""
  local = _check_sharding(global_batch_size, process_index, process_count)
  loader = _SampleLoader(source, _as_pipeline(pipeline_cfg), keys, on_error)
  return _TrainBatch(loader, len(source), seed, global_batch_size, process_index, local)


def make_train_iterator(source, pipeline_cfg, *, global_batch_size: int, seed: int,
                        worker_count: int = 0, process_index: int = 0, process_count: int = 1,
                        keys: Sequence[str] | None = None, worker_buffer_size: int = 2,
                        read_threads: int = 1, prefetch: int = 2,
                        on_error: str = "raise") -> DataIterator:
  """Infinite training iterator over this process's share of each global batch.

  Every epoch is a fresh permutation of the source (seeded by ``seed`` and the
  epoch), or ``len(source)`` weighted draws if the source has
  ``sample_weights()`` (``sample_by_class``); epochs run back to back, so a
  batch can straddle an epoch boundary.
  Yields ``{key: array}`` with ``global_batch_size // process_count`` rows for the kept
  keys (``keys``, or by default all that the pipeline's ``Collect`` keeps: ``imgs`` as
  produced by the pipeline, usually uint8; integer labels as int32).
  ``pipeline_cfg`` is a list of op dicts or a ``Compose``. ``on_error`` is
  'raise' or 'skip' (see the module docstring).
  """
  if seed < 0:
    raise ValueError(f"seed must be >= 0, got {seed}")
  size = len(source)
  if size == 0:
    raise ValueError(f"Cannot train on an empty source: {source!r}")
  batch_fn = train_batch_fn(source, pipeline_cfg, seed=seed, global_batch_size=global_batch_size,
                            process_index=process_index, process_count=process_count, keys=keys,
                            on_error=on_error)
  it = DataIterator(batch_fn, stop=sys.maxsize,
                    fingerprint={"seed": seed, "global_batch_size": global_batch_size,
                                 "dataset_size": size},
                    worker_count=worker_count, worker_buffer_size=worker_buffer_size,
                    read_threads=read_threads, prefetch=prefetch, what="train data")
  it.steps_per_epoch = size / global_batch_size
  return it


def make_eval_iterator(source, pipeline_cfg, *, global_batch_size: int, worker_count: int = 0,
                       process_index: int = 0, process_count: int = 1,
                       keys: Sequence[str] | None = None, worker_buffer_size: int = 2,
                       read_threads: int = 1, prefetch: int = 2,
                       on_error: str = "raise") -> DataIterator:
  """Finite iterator that visits every sample exactly once, in dataset order.

  Global batch ``s`` holds positions ``s*G .. s*G+G-1``; this process gets its
  contiguous ``G // process_count`` slice. Positions past the end are padding:
  ``valid`` False and ``index`` -1 (their other values repeat a real sample).
  Every process yields ``num_batches = ceil(len(source) / G)`` batches, each with
  the kept keys (``keys``, or by default all that the pipeline's ``Collect`` keeps) plus
  ``valid`` (bool) and ``index`` (int64 dataset index), which are always added (listing them
  in ``keys`` is allowed). With ``on_error='skip'``
  a failed sample's row holds the next loadable sample (its label too) under the
  failed ``index``; the skips are counted and logged, and summarised when the
  pass ends, since they change what the metrics measure.
  """
  size = len(source)
  local = _check_sharding(global_batch_size, process_index, process_count)
  if keys is not None:  # the loader adds these itself
    keys = [k for k in keys if k not in RESERVED_KEYS]
  loader = _SampleLoader(source, _as_pipeline(pipeline_cfg), keys, on_error)
  num_batches = math.ceil(size / global_batch_size)
  batch_fn = _EvalBatch(loader, size, global_batch_size, process_index, local)
  it = DataIterator(batch_fn, stop=num_batches,
                    fingerprint={"global_batch_size": global_batch_size, "dataset_size": size},
                    worker_count=worker_count, worker_buffer_size=worker_buffer_size,
                    read_threads=read_threads, prefetch=prefetch, what="evaluation data")
  it.num_batches = num_batches
  return it
