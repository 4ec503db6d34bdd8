"""NTU RGB+D raw skeletons -> MMAction2's 3D pose annotation files (MMAction2's
tools/data/skeleton/gen_ntu_rgbd_raw.py).

    python -m vjax.tools.gen_ntu_rgbd_raw --data-path data/ntu/nturgb+d_skeletons_60/ \
        --ignored-sample-path NTU_RGBD_samples_with_missing_skeletons.txt \
        --out-folder data/ntu/nturgb+d_skeletons_60_3d --task ntu60

reads every ``S###C###P###R###A###.skeleton`` file (the Kinect text format) that the ignored
list (one sample name per line) does not name, and writes ``OUT/<benchmark>/{train,val}.pkl``
for benchmarks ``xsub`` and ``xview`` (ntu60) or ``xsub`` and ``xsetup`` (ntu120):

* xsub: training subjects (``P``) are MMAction2's lists for NTU60 / NTU120;
* xview (NTU60): cameras 2 and 3 train; xsetup (NTU120): even setups train.

Each pickle is a list, per sample, of ``{'total_frames', 'keypoint' (2, T, 25, 3) float32,
'frame_dir' (the file name without .skeleton), 'img_shape' (1080, 1920), 'original_shape',
'label' (action - 1)}``. Of up to 4 bodies per frame (bodies are numbered by their position in
the frame's list) the 2 with the most motion are kept, most first (motion: the summed standard
deviations of x, y and z over the body's non-empty frames). Then, per sample, MMAction2's
pre-normalization: a body's empty frames at the start are dropped and its trailing empty frames
filled by repeating its frames from the start; joints are centred on the first body's joint 1
(middle of the spine) frame by frame (empty joints stay 0); the sample is rotated so that the
first body's hip-to-spine bone (joints 0 -> 1) in the first frame points along +z, then so that
its shoulders (joint 4 -> 8) point along +x.

Differences from MMAction2: samples are written in file-name order (MMAction2: directory order);
files that are not ``.skeleton`` files are left out; a sample longer than 300 frames is kept
whole (MMAction2's fixed 300-frame buffer fails on it); ``--num-workers`` reads files in
parallel, each once for every benchmark.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import math
import multiprocessing
import os
import os.path as osp
import pickle
import re
import sys

import numpy as np

TRAINING_SUBJECTS_60 = (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35,
                        38)
TRAINING_CAMERAS_60 = (2, 3)
TRAINING_SUBJECTS_120 = TRAINING_SUBJECTS_60 + (
    45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86,
    89, 91, 92, 93, 94, 95, 97, 98, 100, 103)
TRAINING_SETUPS_120 = tuple(range(2, 33, 2))
BENCHMARKS = {"ntu60": ("xsub", "xview"), "ntu120": ("xsub", "xsetup")}
PARTS = ("train", "val")
MAX_BODY_KINECT, MAX_BODY_TRUE, NUM_JOINT = 4, 2, 25
IMG_SHAPE = (1080, 1920)
_NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")


def parse_name(filename: str) -> dict[str, int]:
  """``S001C002P003R002A013.skeleton`` -> setup, camera, subject, replication, action."""
  m = _NAME.search(filename)
  if m is None:
    raise ValueError(f"{filename}: not an NTU RGB+D sample name (S###C###P###R###A###)")
  return dict(zip(("setup", "camera", "subject", "replication", "action"),
                  (int(g) for g in m.groups())))


def is_training(name: dict[str, int], task: str, benchmark: str) -> bool:
  if benchmark == "xsub":
    return name["subject"] in (TRAINING_SUBJECTS_60 if task == "ntu60" else TRAINING_SUBJECTS_120)
  if benchmark == "xview":
    return name["camera"] in TRAINING_CAMERAS_60
  if benchmark == "xsetup":
    return name["setup"] in TRAINING_SETUPS_120
  raise ValueError(f"unknown benchmark {benchmark!r}; benchmarks: xsub, xview, xsetup")


def read_bodies(path: str) -> list[list[np.ndarray]]:
  """A .skeleton file as, per frame, its bodies' joints ``(num_joints, 3)`` x, y, z (the
  other 9 values of a joint line are not needed)."""
  with open(path) as f:
    lines = f.read().splitlines()
  try:
    pos, frames = 1, []
    for _ in range(int(lines[0])):
      bodies = []
      num_bodies = int(lines[pos])
      pos += 1
      for _ in range(num_bodies):
        num_joints = int(lines[pos + 1])  # after the body's info line
        block = lines[pos + 2:pos + 2 + num_joints]
        if len(block) != num_joints:
          raise IndexError("file ends inside a body")
        bodies.append(np.array([line.split()[:3] for line in block], np.float64).reshape(-1, 3))
        pos += 2 + num_joints
      frames.append(bodies)
  except (IndexError, ValueError) as e:
    raise ValueError(f"{path}: not in NTU RGB+D's .skeleton format (line {pos + 1}): "
                     f"{e}") from None
  return frames


def nonzero_std(body: np.ndarray) -> float:
  """Motion of a body (T, V, 3): summed std of x, y, z over its frames that are not empty."""
  frames = body[body.sum(-1).sum(-1) != 0]
  if len(frames) == 0:
    return 0.0
  return float(frames[..., 0].std() + frames[..., 1].std() + frames[..., 2].std())


def read_xyz(path: str) -> np.ndarray:
  """The 2 bodies with the most motion (of the first 4), most first: (2, T, 25, 3) float32."""
  frames = read_bodies(path)
  data = np.zeros((MAX_BODY_KINECT, len(frames), NUM_JOINT, 3))
  for t, bodies in enumerate(frames):
    for m, joints in enumerate(bodies[:MAX_BODY_KINECT]):
      data[m, t, :len(joints[:NUM_JOINT])] = joints[:NUM_JOINT]
  energy = np.array([nonzero_std(body) for body in data])
  # Most motion first; among equals the later body first (a reversed ascending sort).
  order = np.argsort(energy, kind="stable")[::-1][:MAX_BODY_TRUE]
  return data[order].astype(np.float32)


def _rotation(axis: np.ndarray, theta: float) -> np.ndarray:
  """Counterclockwise rotation by ``theta`` about ``axis`` (Euler-Rodrigues); the identity for
  a vanishing axis or angle."""
  if np.abs(axis).sum() < 1e-6 or abs(theta) < 1e-6:
    return np.eye(3)
  axis = axis / math.sqrt(np.dot(axis, axis))
  a = math.cos(theta / 2.0)
  b, c, d = -axis * math.sin(theta / 2.0)
  return np.array([[a * a + b * b - c * c - d * d, 2 * (b * c + a * d), 2 * (b * d - a * c)],
                   [2 * (b * c - a * d), a * a + c * c - b * b - d * d, 2 * (c * d + a * b)],
                   [2 * (b * d + a * c), 2 * (c * d - a * b), a * a + d * d - b * b - c * c]])


def _align(vector: np.ndarray, target: int) -> np.ndarray:
  """The rotation taking float32 ``vector`` onto the positive ``target`` axis, as
  MMAction2 computes it (angle from the float32 unit vector, axis = vector x target)."""
  unit = np.zeros(3)
  unit[target] = 1.0
  if np.abs(vector).sum() < 1e-6:
    angle = 0.0
  else:
    angle = float(np.arccos(np.clip(np.dot(vector / np.linalg.norm(vector), unit), -1.0, 1.0)))
  return _rotation(np.cross(vector.astype(np.float64), unit), angle)


def pre_normalize(sample: np.ndarray) -> np.ndarray:
  """MMAction2's ``pre_normalization`` of one sample (M, T, V, 3) float32 (see the module
  docstring); a new array."""
  s = np.array(sample, np.float32)
  num_frames = s.shape[1]
  if s.sum() == 0:
    return s
  for person in s:
    if person.sum() == 0:
      continue
    if person[0].sum() == 0:  # drop the empty frames before the first non-empty one
      kept = person[person.sum(-1).sum(-1) != 0].copy()
      person[:] = 0
      person[:len(kept)] = kept
    for t in range(num_frames):
      if person[t].sum() == 0 and person[t:].sum() == 0:
        person[t:] = np.concatenate([person[:t]] * math.ceil((num_frames - t) / t))[:num_frames - t]
        break
  center = s[0, :, 1:2].copy()
  for m, person in enumerate(s):
    if person.sum() != 0:
      s[m] = (person - center) * (person.sum(-1) != 0)[..., None]
  for joints, target in (((0, 1), 2), ((4, 8), 0)):
    matrix = _align(s[0, 0, joints[1]] - s[0, 0, joints[0]], target)
    for m in range(len(s)):
      if s[m].sum() == 0:
        continue
      frames = s[m].sum(-1).sum(-1) != 0
      s[m, frames] = (s[m, frames].astype(np.float64) @ matrix.T).astype(np.float32)
  return s


def sample_annotation(path: str, pre_norm: bool = True) -> dict:
  """One sample's entry (label from the file name)."""
  keypoint = read_xyz(path)
  if pre_norm:
    keypoint = pre_normalize(keypoint)
  name = osp.splitext(osp.basename(path))[0]
  return {"total_frames": keypoint.shape[1], "keypoint": keypoint, "frame_dir": name,
          "img_shape": IMG_SHAPE, "original_shape": IMG_SHAPE,
          "label": parse_name(name)["action"] - 1}


def read_ignored(path: str | None) -> set[str]:
  if not path:
    return set()
  if not osp.isfile(path):
    raise FileNotFoundError(f"ignored sample list {path} does not exist: pass the list that "
                            "comes with MMAction2 (NTU_RGBD_samples_with_missing_skeletons.txt"
                            " / NTU_RGBD120_samples_with_missing_skeletons.txt), or "
                            "--ignored-sample-path '' to ignore none")
  with open(path) as f:
    return {line.strip() + ".skeleton" for line in f}


def _job(args: tuple[str, bool]) -> dict:
  return sample_annotation(*args)


def generate(data_path: str, out_folder: str, ignored_sample_path: str | None = None,
             task: str = "ntu60", pre_norm: bool = True,
             num_workers: int = 1) -> dict[str, dict[str, list[dict]]]:
  """Writes ``out_folder/<benchmark>/<part>.pkl`` for ``task``'s benchmarks; returns
  ``{benchmark: {part: entries}}``."""
  from tqdm import tqdm  # pylint: disable=g-import-not-at-top
  if task not in BENCHMARKS:
    raise ValueError(f"task must be one of {sorted(BENCHMARKS)}, got {task!r}")
  if not osp.isdir(data_path):
    raise FileNotFoundError(f"--data-path {data_path} is not a folder of .skeleton files")
  ignored = read_ignored(ignored_sample_path)
  files = sorted(f for f in os.listdir(data_path) if f.endswith(".skeleton") and f not in ignored)
  names = [parse_name(f) for f in files]
  jobs = [(osp.join(data_path, f), pre_norm) for f in files]
  bar = dict(total=len(jobs), desc="vjax: reading skeletons", unit=" samples",
             dynamic_ncols=True)
  if num_workers > 1 and len(jobs) > 1:
    ctx = multiprocessing.get_context("spawn")  # no forked copies of a threaded parent
    with concurrent.futures.ProcessPoolExecutor(num_workers, mp_context=ctx) as pool:
      samples = list(tqdm(pool.map(_job, jobs, chunksize=32), **bar))
  else:
    samples = [_job(j) for j in tqdm(jobs, **bar)]
  out = {}
  for benchmark in BENCHMARKS[task]:
    train = [is_training(n, task, benchmark) for n in names]
    out[benchmark] = {"train": [s for s, t in zip(samples, train) if t],
                      "val": [s for s, t in zip(samples, train) if not t]}
    os.makedirs(osp.join(out_folder, benchmark), exist_ok=True)
    for part in PARTS:
      path = osp.join(out_folder, benchmark, f"{part}.pkl")
      with open(path + ".incomplete", "wb") as f:
        pickle.dump(out[benchmark][part], f, protocol=4)
      os.replace(path + ".incomplete", path)
      print(f"{benchmark}-{part}: {len(out[benchmark][part])} samples -> {path}")
  return out


def parse_args(argv=None):
  parser = argparse.ArgumentParser(
      description="Generate Pose Annotation for NTURGB-D raw skeleton data")
  parser.add_argument("--data-path", default="data/ntu/nturgb+d_skeletons_60/",
                      help="raw skeleton data path")
  parser.add_argument("--ignored-sample-path",
                      default="NTU_RGBD_samples_with_missing_skeletons.txt",
                      help="samples to leave out, one name per line ('' for none)")
  parser.add_argument("--out-folder", default="data/ntu/nturgb+d_skeletons_60_3d")
  parser.add_argument("--task", default="ntu60", choices=sorted(BENCHMARKS))
  parser.add_argument("--num-workers", type=int, default=1,
                      help="processes reading the skeleton files")
  return parser.parse_args(argv)


def main(argv=None) -> None:
  args = parse_args(argv)
  try:
    generate(args.data_path, args.out_folder, args.ignored_sample_path, args.task,
             num_workers=args.num_workers)
  except (FileNotFoundError, ValueError) as e:
    sys.exit(f"vjax: {e}")


if __name__ == "__main__":
  main(sys.argv[1:])
