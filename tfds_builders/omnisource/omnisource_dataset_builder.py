"""The ``omnisource`` TFDS builder (the class says what it holds)."""

from __future__ import annotations

import dataclasses
import os.path as osp

from tfds_builders.common import builder as base
from tfds_builders.common import encode as enc
from tfds_builders.common import storage as st

# Config prefix -> (the parser's source, whether it is images, the media folder per split
# relative to manual_dir: MMAction2's OmniSource configs' data_prefix).
SOURCES = {
    "kinetics_200": ("kinetics_200", False, {"train": "kinetics_200_train",
                                             "val": "kinetics_200_val"}),
    "googleimage": ("googleimage_200", True, {"train": "."}),
    "insimage": ("insimage_200", True, {"train": "."}),
    "webimage": ("webimage_200", True, {"train": "."}),
    "insvideo": ("insvideo_200", False, {"train": "insvideo_200"}),
    "kinetics_raw": ("kinetics_raw_200", False, {"train": "kinetics_raw_200_train"}),
}
_RAW_CLIP = "part_{}.mp4"  # trim_raw_video.py's names (MMAction2's clipname_tmpl)


@dataclasses.dataclass(eq=False)
class OmnisourceConfig(st.StorageConfig):
  """A storage config for one OmniSource source (``SOURCES``'s keys)."""

  source: str = "kinetics_200"


def _configs() -> list[OmnisourceConfig]:
  out = []
  for prefix, (_, images, _) in SOURCES.items():
    # Web images become one-frame videos: frames only (no video files, no flow released).
    storages = st.FRAME_CONFIGS if images else st.FRAME_CONFIGS + st.VIDEO_CONFIGS
    for c in storages:
      fields = {f.name: getattr(c, f.name) for f in dataclasses.fields(st.StorageConfig)
                if f.init and f.name not in ("name", "description")}
      out.append(OmnisourceConfig(name=f"{prefix}_{c.name}", source=prefix,
                                  description=f"OmniSource {SOURCES[prefix][0]}: {c.description}",
                                  **fields))
  return out


class Omnisource(base.OfficialRecognitionBuilder):
  """OmniSource (Mini-Kinetics-200 classes): the trimmed Kinetics-200 clips (train/val) and the
  web sources MMAction2's OmniSource configs train on with them (Google and Instagram images,
  Instagram videos, raw Kinetics videos cut into 10 s parts), each a config
  ``<source>_<storage>``; images are stored as one-frame videos."""

  DATASET = "omnisource"
  HOMEPAGE = "https://github.com/open-mmlab/mmaction2/tree/master/tools/data/omnisource"
  BUILDER_CONFIGS = _configs()
  # 'wodup': teacher-filtered and de-duplicated against Kinetics-200 val, the lists
  # MMAction2's OmniSource configs train on.
  VARIANT = "wodup"
  MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Put in manual_dir (the OmniSource release, laid out as MMAction2's data/OmniSource):
  annotations/: k200_actions.txt, kinetics_200/k200_{train,val}.txt,
    googleimage_200/tsn_8seg_googleimage_200_wodup.txt,
    insimage_200/tsn_8seg_insimage_200_wodup.txt, webimage_200/tsn_8seg_webimage_200_wodup.txt,
    insvideo_200/slowonly_8x8_insvideo_200_wodup.txt,
    kinetics_raw_200/slowonly_8x8_kinetics_raw_200.json (those of the sources you build).
  kinetics_200_train/, kinetics_200_val/: `<youtube_id>.mp4` (configs kinetics_200_*).
  googleimage_200/000/00/000001.jpg ... and insimage_200/<class>/<id>.jpg: the images, at the
    paths the lists give relative to manual_dir (configs googleimage_*, insimage_*,
    webimage_*; webimage is the union of both).
  insvideo_200/<class>/<id>.mp4 (configs insvideo_*).
  kinetics_raw_200_train/<pref>/<youtube_id>/part_<i>.mp4, as trim_raw_video.py leaves them
    (configs kinetics_raw_*): each positive part (every part of a video listing none) is
    stored as a sample `<video_dir>/part_<i>`.
"""

  def parse_options(self) -> dict:
    return {"source": SOURCES[self.builder_config.source][0], "variant": self.VARIANT}

  def plan(self, manual_dir: str):
    official = self.official(manual_dir)
    source, _, folders = SOURCES[self.builder_config.source]
    plan = {}
    for split, entries in official.splits.items():
      root = osp.normpath(osp.join(manual_dir, folders[split]))
      if not osp.isdir(root):
        print(f"vjax: {self.name}: no media folder {root} for split {split!r}; split left out")
        continue
      samples = []
      for e in entries:
        if source == "kinetics_raw_200":
          parts = e.extra.get("positive_clip_inds") or range(e.extra.get("num_clips", 1))
          for i in parts:
            samples.append(enc.Sample(
                video_id=f"{e.video_id}/{osp.splitext(_RAW_CLIP.format(i))[0]}",
                path=osp.join(root, e.video_id, _RAW_CLIP.format(i)), label=e.label))
        else:
          samples.append(enc.Sample(video_id=e.video_id, path=osp.join(root, e.extra["path"]),
                                    label=e.label))
      plan[split] = samples
    if not plan:
      raise FileNotFoundError(f"{manual_dir}: no media folder of OmniSource's "
                              f"{source} ({', '.join(folders.values())}); see the builder's "
                              "MANUAL_DOWNLOAD_INSTRUCTIONS")
    self._official = official
    return official.class_names, plan
