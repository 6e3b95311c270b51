"""The shared real data (CamVid, Oxford-IIIT Pet, ISBI 2012) through the one dataset interface."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from pixelwise.data import create_dataset, list_splits
from pixelwise.data.transforms import eval_transform, train_transform

REPO = Path(__file__).resolve().parents[1]
SHARED = next((p for p in (Path("/work/shared/data"), REPO.parent / "shared" / "data") if p.is_dir()), None)
pytestmark = pytest.mark.skipif(SHARED is None, reason="needs the shared real data (../shared/data)")


def test_camvid_split_sizes_and_labels():
    root = SHARED / "camvid"
    assert list_splits("camvid", root=root) == ["train", "val"]
    train, val = (create_dataset("camvid", root=root, split=s) for s in ("train", "val"))
    assert (len(train), len(val)) == (367, 101)
    assert train.samples[0].image == root / "train" / "0001TP_006690.png"  # from train.txt's /SegNet/CamVid/ paths
    image, mask = val[0]
    assert image.shape == (3, 360, 480) and image.dtype == torch.uint8
    assert mask.shape == (360, 480) and set(mask.unique().tolist()) <= set(range(11)) | {255}
    twelve = create_dataset("camvid", root=root, split="val", num_classes=12)
    assert torch.equal(twelve[0][1] == 11, mask == 255)  # void is class 11 exactly where 11 classes ignore


def test_pets_split_sizes_modes_and_holdout():
    root = SHARED / "pets"
    assert list_splits("pets", root=root) == ["trainval"]
    trainval = create_dataset("pets", root=root, split="trainval")
    train = create_dataset("pets", root=root, split="train")
    val = create_dataset("pets", root=root, split="val")
    assert (len(trainval), len(train), len(val)) == (300, 270, 30)
    assert not {s.name for s in train.samples} & {s.name for s in val.samples}
    trimap = trainval[0][1]
    binary = create_dataset("pets", root=root, split="trainval", mode="binary-ignore")[0][1]
    assert torch.equal(binary == 255, trimap == 2) and torch.equal(binary == 1, trimap == 0)


def test_isbi_slices():
    data = create_dataset("isbi2012-em", root=SHARED / "isbi2012-em", split="all", channels=1)
    assert len(data) == 30
    image, mask = data[0]
    assert image.shape == (1, 512, 512) and mask.unique().tolist() == [0, 1]


def test_camvid_batches_through_a_dataloader_worker():
    data = create_dataset("camvid", root=SHARED / "camvid", split="val", transform=train_transform(crop_size=64))
    pickle.dumps(data)  # workers started with "spawn" (macOS, Windows) receive the dataset pickled
    images, masks = next(iter(DataLoader(data, batch_size=2, num_workers=1)))
    assert images.shape == (2, 3, 64, 64) and images.dtype == torch.float32
    assert masks.shape == (2, 64, 64) and masks.dtype == torch.int64
    evaluated = create_dataset("camvid", root=SHARED / "camvid", split="val", transform=eval_transform())
    assert evaluated[0][0].shape == (3, 360, 480)
