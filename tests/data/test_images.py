"""Still images as training samples (OmniSource's web images): ``ImageDataset`` lists,
``ImageDecode`` and ``BuildPseudoClip``, in the pipelines MMAction2's omnisource configs use."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vjax.data import DATASETS, Compose

H, W = 6, 10


def image() -> np.ndarray:
  """RGB with distinct channels (red ramps across, green down, blue fixed): a swap shows."""
  img = np.empty((H, W, 3), np.uint8)
  img[..., 0] = np.arange(W, dtype=np.uint8)[None] * 20
  img[..., 1] = np.arange(H, dtype=np.uint8)[:, None] * 30
  img[..., 2] = 77
  return img


@pytest.fixture
def image_list(tmp_path):
  (tmp_path / "web").mkdir()
  assert cv2.imwrite(str(tmp_path / "web" / "a.png"), image()[..., ::-1])  # cv2 writes BGR
  ann = tmp_path / "web.txt"
  ann.write_text("a.png 3\nmissing.png 1\n")
  return DATASETS.build(dict(type="ImageDataset", ann_file=str(ann),
                             data_prefix=str(tmp_path / "web")))


def test_image_list_and_decode(image_list):
  assert len(image_list) == 2
  sample = image_list[0]
  assert sample["filename"].endswith("web/a.png") and sample["label"] == 3
  assert sample["start_index"] is None  # MMAction2's mark of an image sample
  tsn = Compose([dict(type="ImageDecode"), dict(type="FormatShape", input_format="NCHW"),
                 dict(type="Collect", keys=["imgs", "label"], meta_keys=[])])
  out = tsn(sample, np.random.default_rng(0))
  assert out["imgs"].shape == (1, H, W, 3) and out["label"] == 3  # one segment
  np.testing.assert_array_equal(out["imgs"][0], image())  # PNG: lossless, RGB order
  with pytest.raises(FileNotFoundError, match="missing.png"):
    tsn(image_list[1])


def test_pseudo_clip_repeats_the_image(image_list):
  slowonly = Compose([dict(type="ImageDecode"), dict(type="BuildPseudoClip", clip_len=4),
                      dict(type="FormatShape", input_format="NCTHW"),
                      dict(type="Collect", keys=["imgs", "label"], meta_keys=[])])
  out = slowonly(image_list[0])
  assert out["imgs"].shape == (1, 4, H, W, 3)  # one clip of 4 identical frames
  np.testing.assert_array_equal(out["imgs"][0], np.broadcast_to(image(), (4, H, W, 3)))
  with pytest.raises(ValueError, match="needs one image"):
    Compose([dict(type="BuildPseudoClip", clip_len=2)])(dict(imgs=np.zeros((2, 1, 1, 3))))
