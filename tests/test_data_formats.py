"""Every dataset format on tiny fixtures written here: layouts, label mappings, splits, options."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pixelwise.data import create_dataset, list_datasets, list_splits
from pixelwise.data.labels import voc_palette
from pixelwise.errors import PixelwiseError


def save(path: Path, array: np.ndarray, mode: str | None = None, palette: list[int] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    picture = Image.fromarray(array, mode=mode) if mode else Image.fromarray(array)
    if palette is not None:
        picture.putpalette(palette)
    picture.save(path)
    return path


def rgb(h: int = 6, w: int = 8, value: int = 100) -> np.ndarray:
    return np.full((h, w, 3), value, dtype=np.uint8)


def test_every_format_is_registered():
    assert list_datasets() == ["ade20k", "camvid", "cityscapes", "folder", "isbi2012-em", "pennfudan", "pets", "shapes", "voc"]


# --- camvid -------------------------------------------------------------------------------------


def make_camvid(root: Path) -> None:
    mask = np.array([[0, 1, 2, 3], [8, 9, 10, 11]], dtype=np.uint8)
    for split, names in (("train", ["a", "b"]), ("val", ["c"])):
        for name in names:
            save(root / split / f"{name}.png", rgb(2, 4))
            save(root / f"{split}annot" / f"{name}.png", mask)
    # SegNet's list file: absolute paths from another machine.
    (root / "train.txt").write_text("".join(f"/SegNet/CamVid/train/{n}.png /SegNet/CamVid/trainannot/{n}.png\n" for n in "ab"))


def test_camvid_segnet_list_11_classes_ignores_void(tmp_path):
    make_camvid(tmp_path)
    assert list_splits("camvid", root=tmp_path) == ["train", "val"]
    data = create_dataset("camvid", root=tmp_path, split="train")
    assert len(data) == 2 and data.num_classes == 11 and data.class_names[10] == "bicyclist"
    image, mask = data[0]
    assert image.dtype == torch.uint8 and image.shape == (3, 2, 4)
    assert mask.dtype == torch.int64
    assert mask.tolist() == [[0, 1, 2, 3], [8, 9, 10, 255]]


def test_camvid_12_classes_keeps_void_and_pairs_folders_without_list(tmp_path):
    make_camvid(tmp_path)
    data = create_dataset("camvid", root=tmp_path, split="val", num_classes=12)
    assert data.class_names[11] == "void"
    assert data[0][1].tolist() == [[0, 1, 2, 3], [8, 9, 10, 11]]
    with pytest.raises(PixelwiseError, match="num_classes=13"):
        create_dataset("camvid", root=tmp_path, num_classes=13)


def test_camvid_divamgupta_layout(tmp_path):
    save(tmp_path / "images_prepped_test" / "x.png", rgb(2, 2))
    save(tmp_path / "annotations_prepped_test" / "x.png", np.array([[3, 11], [0, 5]], dtype=np.uint8))
    data = create_dataset("camvid", root=tmp_path, split="test")
    assert data[0][1].tolist() == [[3, 255], [0, 5]]
    with pytest.raises(PixelwiseError, match="camvid split 'train' not found"):
        create_dataset("camvid", root=tmp_path, split="train")


def test_camvid_out_of_range_label_names_the_mask(tmp_path):
    make_camvid(tmp_path)
    save(tmp_path / "valannot" / "c.png", np.array([[0, 40, 1, 1], [12, 1, 1, 1]], dtype=np.uint8))
    data = create_dataset("camvid", root=tmp_path, split="val")
    with pytest.raises(PixelwiseError, match=r"valannot/c\.png has value\(s\) 12, 40"):
        data[0]


# --- pets ---------------------------------------------------------------------------------------


def make_pets(root: Path, count: int = 10) -> list[str]:
    names = [f"Cat_{i}" for i in range(count)]
    trimap = np.array([[1, 2], [3, 1]], dtype=np.uint8)
    for name in names:
        save(root / "images" / f"{name}.jpg", rgb(2, 2))
        save(root / "annotations" / "trimaps" / f"{name}.png", trimap)
    (root / "annotations" / "trainval.txt").write_text("".join(f"{n} 1 1 1\n" for n in names))
    (root / "images" / "Cat_0.mat").write_bytes(b"MATLAB 5.0 MAT-file")
    return names


@pytest.mark.parametrize(
    ("mode", "expected", "classes"),
    [
        ("trimap", [[0, 1], [2, 0]], ("pet", "background", "border")),
        ("binary", [[1, 0], [1, 1]], ("background", "pet")),
        ("binary-ignore", [[1, 0], [255, 1]], ("background", "pet")),
    ],
)
def test_pets_modes(tmp_path, mode, expected, classes):
    make_pets(tmp_path)
    data = create_dataset("pets", root=tmp_path, split="trainval", mode=mode)
    assert data.class_names == classes
    assert data[0][1].tolist() == expected


def test_pets_holdout_is_deterministic_disjoint_and_complete(tmp_path):
    names = make_pets(tmp_path, count=20)
    train = [s.name for s in create_dataset("pets", root=tmp_path, split="train").samples]
    val = [s.name for s in create_dataset("pets", root=tmp_path, split="val").samples]
    assert len(val) == 2 and len(train) == 18  # val_fraction 0.1 of 20
    assert sorted(train + val) == sorted(names)
    assert val == [s.name for s in create_dataset("pets", root=tmp_path, split="val").samples]
    other = [s.name for s in create_dataset("pets", root=tmp_path, split="val", seed=1, val_fraction=0.25).samples]
    assert len(other) == 5
    assert list_splits("pets", root=tmp_path) == ["trainval"]
    with pytest.raises(PixelwiseError, match="test.txt"):
        create_dataset("pets", root=tmp_path, split="test")


def test_pets_quirks_gif_and_rgba_png_named_jpg(tmp_path):
    make_pets(tmp_path, count=2)
    gif = Image.fromarray(np.full((2, 2), 7, dtype=np.uint8), mode="L").convert("P")
    gif.save(tmp_path / "images" / "Cat_0.jpg", format="GIF")
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 10  # nearly transparent red
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "images" / "Cat_1.jpg", format="PNG")
    data = create_dataset("pets", root=tmp_path, split="trainval")
    gif_image, _ = data[0]
    png_image, _ = data[1]
    assert gif_image.shape == (3, 2, 2) and png_image.shape == (3, 2, 2)
    assert gif_image.unique().tolist() == [7]
    assert png_image[:, 0, 0].tolist() == [200, 0, 0]  # alpha dropped, colour kept


# --- voc ----------------------------------------------------------------------------------------

VOC_PALETTE = [v for colour in voc_palette(256) for v in colour]


def make_voc(root: Path) -> Path:
    voc = root / "VOCdevkit" / "VOC2012"
    lists = voc / "ImageSets" / "Segmentation"
    lists.mkdir(parents=True)
    for name in ("2007_000001", "2007_000002", "2007_000003"):
        save(voc / "JPEGImages" / f"{name}.jpg", rgb(2, 2))
    for name in ("2007_000001", "2007_000002"):
        save(voc / "SegmentationClass" / f"{name}.png", np.array([[0, 15], [255, 20]], dtype=np.uint8), "P", VOC_PALETTE)
    (lists / "train.txt").write_text("2007_000001\n")
    (lists / "val.txt").write_text("2007_000002\n")
    return voc


def test_voc_palette_indices_and_border(tmp_path):
    make_voc(tmp_path)
    data = create_dataset("voc", root=tmp_path, split="val")
    assert data.num_classes == 21 and data.palette[15] == (192, 128, 128)  # person
    assert data[0][1].tolist() == [[0, 15], [255, 20]]
    assert list_splits("voc", root=tmp_path) == ["train", "val"]


def test_voc_train_aug_with_segmentation_class_aug(tmp_path):
    make_voc(tmp_path)
    aug = tmp_path / "SegmentationClassAug"
    for name in ("2007_000002", "2007_000003"):  # 2007_000002 is VOC val: must stay out of train_aug
        save(aug / f"{name}.png", np.array([[1, 1], [1, 1]], dtype=np.uint8))
    data = create_dataset("voc", root=tmp_path, split="train_aug", sbd_root=tmp_path)
    assert [s.name for s in data.samples] == ["2007_000001", "2007_000003"]
    assert data[1][1].tolist() == [[1, 1], [1, 1]]
    with pytest.raises(PixelwiseError, match="sbd_root"):
        create_dataset("voc", root=tmp_path, split="train_aug")


# --- cityscapes / ade20k ------------------------------------------------------------------------


def test_cityscapes_label_ids_to_train_ids(tmp_path):
    name = "aachen_000000_000019"
    save(tmp_path / "leftImg8bit" / "val" / "aachen" / f"{name}_leftImg8bit.png", rgb(2, 3))
    label_ids = np.array([[7, 8, 26], [1, 33, 255]], dtype=np.uint8)
    save(tmp_path / "gtFine" / "val" / "aachen" / f"{name}_gtFine_labelIds.png", label_ids)
    save(tmp_path / "gtFine" / "val" / "aachen" / f"{name}_gtFine_color.png", rgb(2, 3))
    data = create_dataset("cityscapes", root=tmp_path, split="val")
    assert data.num_classes == 19 and data.class_names[13] == "car"
    assert data[0][1].tolist() == [[0, 1, 13], [255, 18, 255]]
    assert list_splits("cityscapes", root=tmp_path) == ["val"]


def test_ade20k_zero_is_ignored_and_labels_shift(tmp_path):
    base = tmp_path / "ADEChallengeData2016"
    save(base / "images" / "validation" / "ADE_val_00000001.jpg", rgb(2, 2))
    save(base / "annotations" / "validation" / "ADE_val_00000001.png", np.array([[0, 1], [150, 13]], dtype=np.uint8))
    data = create_dataset("ade20k", root=tmp_path, split="val")
    assert data.num_classes == 150 and data.class_names[0] == "wall" and data.class_names[149] == "flag"
    assert data[0][1].tolist() == [[255, 0], [149, 12]]
    assert list_splits("ade20k", root=tmp_path) == ["val"]


# --- isbi2012-em --------------------------------------------------------------------------------


def test_isbi_binary_masks_and_channels(tmp_path):
    for i in range(4):
        save(tmp_path / "image" / f"{i}.png", np.full((4, 4), 10 * i, dtype=np.uint8))
        save(tmp_path / "label" / f"{i}.png", np.array([[0, 255] * 2] * 4, dtype=np.uint8))
    grey = create_dataset("isbi2012-em", root=tmp_path, split="all", channels=1)
    replicated = create_dataset("isbi2012-em", root=tmp_path, split="all")
    assert grey.info.image_channels == 1 and replicated.info.image_channels == 3
    assert grey[2][0].shape == (1, 4, 4) and replicated[2][0].shape == (3, 4, 4)
    assert replicated[2][0].unique().tolist() == [20]
    assert grey[0][1][0].tolist() == [0, 1, 0, 1]
    assert len(create_dataset("isbi2012-em", root=tmp_path, split="val")) == 1
    save(tmp_path / "label" / "3.png", np.full((4, 4), 128, dtype=np.uint8))
    with pytest.raises(PixelwiseError, match=r"3\.png has value\(s\) 128"):
        grey[3]


# --- folder -------------------------------------------------------------------------------------


def test_folder_index_masks_with_classes_file_and_subfolder_splits(tmp_path):
    (tmp_path / "classes.txt").write_text("background\nroad\ncar\n")
    for split in ("train", "val"):
        save(tmp_path / "images" / split / "a.jpg", rgb(2, 2))
        save(tmp_path / "masks" / split / "a.png", np.array([[0, 1], [2, 255]], dtype=np.uint8))
    assert list_splits("folder", root=tmp_path) == ["train", "val"]
    data = create_dataset("folder", root=tmp_path, split="val")
    assert data.class_names == ("background", "road", "car")
    assert data[0][1].tolist() == [[0, 1], [2, 255]]
    with pytest.raises(PixelwiseError, match="choose one of train, val"):
        create_dataset("folder", root=tmp_path, split="test")


def test_folder_colour_masks_with_yaml_table(tmp_path):
    (tmp_path / "colors.yaml").write_text("classes:\n  sky: [0, 0, 255]\n  grass: [0, 255, 0]\nignore: [[255, 255, 255]]\n")
    colours = np.array([[[0, 0, 255], [0, 255, 0]], [[255, 255, 255], [0, 255, 0]]], dtype=np.uint8)
    save(tmp_path / "images" / "p.png", rgb(2, 2))
    save(tmp_path / "masks" / "p.png", colours)
    data = create_dataset("folder", root=tmp_path, split="all")
    assert data.class_names == ("sky", "grass") and data.palette == ((0, 0, 255), (0, 255, 0))
    assert data[0][1].tolist() == [[0, 1], [255, 1]]
    save(tmp_path / "masks" / "p.png", np.array([[[1, 2, 3]] * 2] * 2, dtype=np.uint8))
    with pytest.raises(PixelwiseError, match=r"1 unknown colour\(s\) \(1,2,3\)"):
        data[0]


def test_folder_json_table_list_files_suffix_and_16_bit_masks(tmp_path):
    table = {"classes": {f"c{i}": [i, 0, 0] for i in range(3)}}
    (tmp_path / "table.json").write_text(json.dumps(table))
    for name in ("a", "b", "c"):
        save(tmp_path / "images" / f"{name}.png", rgb(2, 2))
        save(tmp_path / "masks" / f"{name}_mask.png", np.array([[[2, 0, 0]] * 2] * 2, dtype=np.uint8))
    (tmp_path / "splits").mkdir()
    (tmp_path / "splits" / "val.txt").write_text("b\nc.png\n")
    data = create_dataset("folder", root=tmp_path, split="val", mask_suffix="_mask", colors=tmp_path / "table.json")
    assert [s.name for s in data.samples] == ["b", "c"] and data[1][1].tolist() == [[2, 2], [2, 2]]
    assert list_splits("folder", root=tmp_path) == ["val"]

    sixteen = tmp_path / "deep"
    save(sixteen / "images" / "x.png", rgb(2, 2))
    save(sixteen / "masks" / "x.png", np.array([[0, 300], [299, 1]], dtype=np.uint16))
    data = create_dataset("folder", root=sixteen, split="all", num_classes=301, ignore_index=None)
    assert data[0][1].tolist() == [[0, 300], [299, 1]]


def test_folder_needs_to_know_its_classes(tmp_path):
    save(tmp_path / "images" / "x.png", rgb(2, 2))
    save(tmp_path / "masks" / "x.png", np.zeros((2, 2), dtype=np.uint8))
    with pytest.raises(PixelwiseError, match="classes.txt"):
        create_dataset("folder", root=tmp_path, split="all")
    with pytest.raises(PixelwiseError, match="num_classes=3 but 2 class names"):
        create_dataset("folder", root=tmp_path, split="all", num_classes=3, class_names=["a", "b"])


def test_folder_colour_mask_without_table_is_refused_but_grey_rgb_is_read(tmp_path):
    save(tmp_path / "images" / "x.png", rgb(2, 2))
    save(tmp_path / "masks" / "x.png", np.array([[[1, 1, 1], [0, 0, 0]]] * 2, dtype=np.uint8))
    data = create_dataset("folder", root=tmp_path, split="all", num_classes=2)
    assert data[0][1].tolist() == [[1, 0], [1, 0]]  # an index mask saved as grey RGB
    save(tmp_path / "masks" / "x.png", np.array([[[1, 0, 0], [0, 0, 0]]] * 2, dtype=np.uint8))
    with pytest.raises(PixelwiseError, match="colour image"):
        data[0]


def test_voc_train_aug_with_sbd_mat_files(tmp_path):
    from scipy.io import savemat

    make_voc(tmp_path)
    dataset = tmp_path / "benchmark_RELEASE" / "dataset"
    (dataset / "cls").mkdir(parents=True)
    savemat(dataset / "cls" / "2007_000003.mat", {"GTcls": {"Segmentation": np.array([[0, 7], [7, 20]], dtype=np.uint8)}})
    (dataset / "train.txt").write_text("2007_000003\n")
    (dataset / "val.txt").write_text("")
    data = create_dataset("voc", root=tmp_path, split="train_aug", sbd_root=tmp_path / "benchmark_RELEASE")
    assert [s.name for s in data.samples] == ["2007_000001", "2007_000003"]
    assert data[1][1].tolist() == [[0, 7], [7, 20]]


def test_data_list_names_every_format_and_its_options(capsys):
    from pixelwise.cli.main import main

    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    for name in list_datasets():
        assert f"\n{name} " in f"\n{out}"
    assert "options: mode, val_fraction, seed, missing_masks, cache" in out
