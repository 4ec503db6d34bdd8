"""Writing a recognition dataset's shards: in parallel over local processes, resumable, with a
summary of what was left out.

Each split's samples are cut into fixed shards in a deterministic order; a worker encodes one
shard's samples and writes the shard under a temporary name, renamed when complete, with a
sidecar json (its example count and skipped samples). A rerun with the same plan skips shards
whose sidecar exists, so an interrupted build of Kinetics resumes where it stopped. When every
shard is done the non-empty ones are moved into the dataset directory under TFDS's names.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json
import multiprocessing
import os
import os.path as osp
import shutil
from typing import Any, Sequence

from tfds_builders.common import encode as enc
from tfds_builders.common import storage as st

SUFFIX = {"array_record": "array_record", "tfrecord": "tfrecord"}
SUMMARY = "build_summary.json"


@dataclasses.dataclass
class Layout:
  """What a worker needs to encode and serialize samples (picklable, no builder object)."""

  config: st.StorageConfig
  label_kind: str
  class_names: list[str]
  categories: dict[str, list[str]] | None
  file_format: str
  min_frames: int = 1

  def features(self):
    feats = st.features(self.config, self.label_kind, self.categories)
    st.set_class_names(feats, self.class_names, self.categories)
    return feats


def example(sample: enc.Sample, layout: Layout) -> dict:
  """``sample`` encoded with its labels, ready for ``features.serialize_example``."""
  ex = enc.encode(sample, layout.config, layout.min_frames)
  if layout.label_kind == st.SINGLE:
    ex["label"] = -1 if sample.label is None else int(sample.label)
  elif layout.label_kind == st.MULTI:
    ex["labels"] = [] if sample.label is None else [int(x) for x in sample.label]
  else:
    tags = dict(sample.label or {})
    ex["tags"] = {c: [int(x) for x in tags.get(c, ())] for c in layout.categories}
  return ex


def _write_records(path: str, records, file_format: str) -> int:
  if file_format == "tfrecord":
    from vjax.data import tfrecord  # pylint: disable=g-import-not-at-top
    return tfrecord.write(path, records)[1]
  from array_record.python import array_record_module  # pylint: disable=g-import-not-at-top
  writer = array_record_module.ArrayRecordWriter(path, "group_size:1")
  size = 0
  for data in records:
    writer.write(data)
    size += len(data)
  writer.close()
  return size


def write_shard(task: dict) -> dict:
  """Encodes and writes one shard (a worker's job); returns its sidecar record."""
  layout: Layout = task["layout"]
  feats = layout.features()
  skipped, count = [], [0]

  def records():
    for sample in task["samples"]:
      try:
        ex = example(sample, layout)
      except enc.Skip as e:
        skipped.append(dict(video_id=sample.video_id, reason=e.reason, detail=e.detail))
        continue
      count[0] += 1
      yield feats.serialize_example(ex)

  tmp = task["path"] + ".incomplete"
  num_bytes = _write_records(tmp, records(), layout.file_format)
  os.replace(tmp, task["path"])
  done = dict(split=task["split"], shard=task["shard"], examples=count[0], num_bytes=num_bytes,
              skipped=skipped)
  with open(task["sidecar"] + ".incomplete", "w") as f:
    json.dump(done, f)
  os.replace(task["sidecar"] + ".incomplete", task["sidecar"])
  return done


def _fingerprint(plan: dict[str, list[enc.Sample]], layout: Layout, per_shard: int) -> str:
  h = hashlib.sha256()
  h.update(repr((layout.config.name, layout.file_format, layout.min_frames, per_shard,
                 layout.class_names)).encode())
  for split in sorted(plan):
    for s in plan[split]:
      h.update(repr((split, s.video_id, s.path, s.label, s.start, s.end)).encode())
  return h.hexdigest()


def _tasks(plan, layout: Layout, work_dir: str, per_shard: int) -> list[dict]:
  tasks = []
  for split, samples in plan.items():
    for shard, i in enumerate(range(0, len(samples), per_shard)):
      stem = osp.join(work_dir, f"{split}-{shard:05d}")
      tasks.append(dict(split=split, shard=shard, samples=samples[i:i + per_shard],
                        layout=layout, path=f"{stem}.{SUFFIX[layout.file_format]}",
                        sidecar=f"{stem}.json"))
  return tasks


def _open_work_dir(work_dir: str, fingerprint: str) -> None:
  """Keeps finished shards of the same plan; a different plan (other annotations, options or
  media) starts over."""
  marker = osp.join(work_dir, "plan.json")
  if osp.exists(marker):
    with open(marker) as f:
      if json.load(f).get("fingerprint") == fingerprint:
        return
    print(f"vjax: the dataset's inputs changed since the interrupted build in {work_dir}; "
          "starting it over")
    shutil.rmtree(work_dir)
  os.makedirs(work_dir, exist_ok=True)
  with open(marker, "w") as f:
    json.dump({"fingerprint": fingerprint}, f)


def _run(tasks: list[dict], num_workers: int, total: int) -> list[dict]:
  from tqdm import tqdm  # pylint: disable=g-import-not-at-top
  done = []
  bar = tqdm(total=total, unit=" videos", desc="vjax: building shards", dynamic_ncols=True)
  if num_workers <= 1 or len(tasks) <= 1:
    for t in tasks:
      done.append(write_shard(t))
      bar.update(len(t["samples"]))
  else:
    ctx = multiprocessing.get_context("spawn")  # no forked copies of a threaded parent
    with concurrent.futures.ProcessPoolExecutor(num_workers, mp_context=ctx) as pool:
      futures = {pool.submit(write_shard, t): t for t in tasks}
      for fut in concurrent.futures.as_completed(futures):
        done.append(fut.result())
        bar.update(len(futures[fut]["samples"]))
  bar.close()
  return done


def build(plan: dict[str, list[enc.Sample]], layout: Layout, *, dataset_name: str,
          work_dir: str, out_dir: str, final_dir: str | None = None, num_workers: int = 1,
          samples_per_shard: int = 256) -> tuple[list[Any], dict]:
  """Writes ``plan``'s splits into ``out_dir`` (TFDS's shard names; TFDS renames it to
  ``final_dir`` when the build succeeds); returns the TFDS split infos and the summary (also
  written to ``out_dir/build_summary.json``)."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  from tensorflow_datasets.core import naming  # pylint: disable=g-import-not-at-top
  _open_work_dir(work_dir, _fingerprint(plan, layout, samples_per_shard))
  tasks = _tasks(plan, layout, work_dir, samples_per_shard)
  finished, todo = [], []
  for t in tasks:
    if osp.exists(t["sidecar"]) and osp.exists(t["path"]):
      with open(t["sidecar"]) as f:
        finished.append(json.load(f))
    else:
      todo.append(t)
  if finished:
    print(f"vjax: resuming: {len(finished)} of {len(tasks)} shards already written")
  results = finished + _run(todo, num_workers, sum(len(t["samples"]) for t in todo))
  by_split: dict[str, list[dict]] = {}
  for r in sorted(results, key=lambda r: (r["split"], r["shard"])):
    by_split.setdefault(r["split"], []).append(r)
  suffix = SUFFIX[layout.file_format]
  split_infos, summary = [], {}
  for split, shards in by_split.items():
    kept = [r for r in shards if r["examples"]]
    template = naming.ShardedFileTemplate(data_dir=out_dir, dataset_name=dataset_name,
                                          split=split, filetype_suffix=suffix)
    for i, r in enumerate(kept):
      src = osp.join(work_dir, f"{split}-{r['shard']:05d}.{suffix}")
      os.replace(src, os.fspath(template.sharded_filepath(shard_index=i, num_shards=len(kept))))
    skipped: dict[str, list] = {}
    for r in shards:
      for s in r["skipped"]:
        skipped.setdefault(s["reason"], []).append({k: s[k] for k in ("video_id", "detail")})
    summary[split] = dict(examples=sum(r["examples"] for r in shards),
                          skipped={k: dict(count=len(v), samples=v) for k, v in skipped.items()})
    if kept:
      split_infos.append(tfds.core.SplitInfo(
          name=split, shard_lengths=[r["examples"] for r in kept],
          num_bytes=sum(r["num_bytes"] for r in kept), filename_template=template))
  with open(osp.join(out_dir, SUMMARY), "w") as f:
    json.dump(summary, f, indent=1)
  shutil.rmtree(work_dir)
  print(describe(summary, final_dir or out_dir))
  return split_infos, summary


def describe(summary: dict, out_dir: str) -> str:
  lines = []
  for split, s in summary.items():
    left = ", ".join(f"{v['count']} {k.replace('_', ' ')}" for k, v in s["skipped"].items())
    lines.append(f"vjax: {split}: {s['examples']} videos written"
                 + (f"; skipped {left}" if left else ""))
  lines.append(f"vjax: skipped files are listed in {osp.join(out_dir, SUMMARY)}")
  return "\n".join(lines)


def default_workers() -> int:
  return int(os.environ.get("VJAX_BUILD_WORKERS", 0)) or len(os.sched_getaffinity(0))


def samples_of(split_samples: Sequence[enc.Sample]) -> list[enc.Sample]:
  """A split's samples in a deterministic order (the shard plan depends on it)."""
  return sorted(split_samples, key=lambda s: s.video_id)
