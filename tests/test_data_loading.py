"""Decoding and loading: image modes, EXIF, 16-bit masks, missing masks, cache, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pixelwise.data import create_dataset
from pixelwise.data.decode import read_image, read_mask
from pixelwise.data.labels import ColorTable, LabelMap, voc_palette
from pixelwise.data.splits import holdout, resolve_listed
from pixelwise.errors import PixelwiseError


def save(path: Path, array: np.ndarray, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **kwargs)
    return path


def folder(root: Path, names: list[str], size: tuple[int, int] = (2, 3)) -> Path:
    (root / "classes.txt").write_text("a\nb\n")
    for name in names:
        save(root / "images" / f"{name}.png", np.full((*size, 3), 50, dtype=np.uint8))
        save(root / "masks" / f"{name}.png", np.ones(size, dtype=np.uint8))
    return root


def test_grey_and_rgba_images_become_rgb_and_rgb_becomes_grey(tmp_path):
    grey = save(tmp_path / "g.png", np.full((2, 2), 9, dtype=np.uint8))
    rgba = save(tmp_path / "a.png", np.dstack([np.full((2, 2, 3), 30, dtype=np.uint8), np.zeros((2, 2), np.uint8)]))
    assert read_image(grey).shape == (3, 2, 2) and read_image(grey).unique().tolist() == [9]
    assert read_image(rgba).shape == (3, 2, 2) and read_image(rgba).unique().tolist() == [30]
    assert read_image(rgba, channels=1).shape == (1, 2, 2)


def test_exif_orientation_is_applied(tmp_path):
    array = np.zeros((2, 4, 3), dtype=np.uint8)
    array[0, 0] = 255  # a marker in the stored top-left corner
    exif = Image.new("RGB", (1, 1)).getexif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    path = tmp_path / "rotated.jpg"
    Image.fromarray(array).save(path, exif=exif, quality=100)
    image = read_image(path)
    assert image.shape == (3, 4, 2)  # displayed upright: 2 wide, 4 tall
    assert image[0, 0, 1] > 200 and image[0, 0, 0] < 60  # the marker moved to the top-right corner


def test_masks_keep_stored_values(tmp_path):
    palette = save(tmp_path / "p.png", np.array([[0, 15], [255, 3]], dtype=np.uint8))
    picture = Image.open(palette).convert("P")
    picture.putpalette([v for c in voc_palette(256) for v in c])
    picture.save(palette)
    sixteen = save(tmp_path / "s.png", np.array([[0, 1000], [65535, 7]], dtype=np.uint16))
    gif = tmp_path / "m.gif"
    Image.fromarray(np.array([[0, 2], [1, 2]], dtype=np.uint8), mode="P").save(gif)
    assert read_mask(palette)[0].tolist() == [[0, 15], [255, 3]]
    assert read_mask(sixteen)[0].to(torch.int64).tolist() == [[0, 1000], [65535, 7]]
    assert read_mask(gif)[0].tolist() == [[0, 2], [1, 2]]  # indices, not expanded colours


def test_masks_of_fewer_than_8_bits_keep_their_indices(tmp_path):
    indices = np.arange(16, dtype=np.uint8).reshape(2, 8)
    four_bit = Image.fromarray(indices).convert("P")
    four_bit.putpalette([v for c in voc_palette(16) for v in c])
    four_bit.save(tmp_path / "p4.png", bits=4)
    Image.fromarray(indices % 2 == 1).save(tmp_path / "b1.png")  # mode "1": a 1-bit greyscale PNG
    assert read_mask(tmp_path / "p4.png")[0].tolist() == indices.tolist()
    assert read_mask(tmp_path / "b1.png")[0].tolist() == (indices % 2).tolist()  # 0 and 1, not 0 and 255


def test_voc_palette_is_vocs_and_stays_distinct_past_256():
    colours = voc_palette(1024)
    assert colours[:4] == ((0, 0, 0), (128, 0, 0), (0, 128, 0), (128, 128, 0))
    assert colours[255] == (224, 224, 192)  # VOC's colour of its 255 "void" border
    assert len(set(colours)) == 1024


def test_label_map_and_colour_table_flag_unknown_values():
    labels = LabelMap({0: 0, 255: 1})
    assert labels(torch.tensor([[0, 255], [3, 70000]])).tolist() == [[0, 1], [-1, -1]]
    table = ColorTable([(0, 0, 0), (255, 0, 0)], ignore_colors=[(9, 9, 9)])
    colours = torch.tensor([[[0, 255], [9, 1]], [[0, 0], [9, 1]], [[0, 0], [9, 1]]], dtype=torch.uint8)  # (3, 2, 2)
    assert table(colours).tolist() == [[0, 1], [255, -1]]
    with pytest.raises(PixelwiseError, match="listed twice"):
        ColorTable([(1, 2, 3), (1, 2, 3)])


def test_holdout_rounds_and_keeps_at_least_one():
    names = [f"n{i}" for i in range(7)]
    assert len(holdout(names, split="val", pool="all", val_fraction=0.1, seed=0)) == 1
    assert len(holdout(names, split="train", pool="all", val_fraction=0.3, seed=0)) == 5
    assert holdout(names, split="all", pool="all", val_fraction=0.5, seed=0) == sorted(names)
    with pytest.raises(PixelwiseError, match="choose all, train or val"):
        holdout(names, split="test", pool="all", val_fraction=0.1, seed=0)


def test_listed_paths_are_rerooted(tmp_path):
    assert resolve_listed(tmp_path, "/SegNet/CamVid/train/x.png", where="l") == tmp_path / "train" / "x.png"
    assert resolve_listed(tmp_path, "val/y.png", where="l") == tmp_path / "val" / "y.png"


def test_missing_masks_policies(tmp_path):
    folder(tmp_path, ["a", "b"])
    save(tmp_path / "images" / "c.png", np.zeros((2, 3, 3), dtype=np.uint8))
    with pytest.raises(PixelwiseError, match=r"1 image\(s\) .* have no mask, e\.g\. .*c\.png"):
        create_dataset("folder", root=tmp_path, split="all")
    assert len(create_dataset("folder", root=tmp_path, split="all", missing_masks="skip")) == 2
    kept = create_dataset("folder", root=tmp_path, split="all", missing_masks="ignore")
    assert len(kept) == 3
    assert kept[2][1].unique().tolist() == [255] and kept[2][1].shape == (2, 3)


def test_size_mismatch_names_both_files_and_hints_exif(tmp_path):
    folder(tmp_path, ["a"], size=(2, 3))
    save(tmp_path / "masks" / "a.png", np.ones((3, 2), dtype=np.uint8))
    data = create_dataset("folder", root=tmp_path, split="all")
    with pytest.raises(PixelwiseError, match=r"masks/a\.png: mask is 2x3 but image .*images/a\.png is 3x2 .*EXIF"):
        data[0]


def test_damaged_and_missing_files_are_named(tmp_path):
    folder(tmp_path, ["a", "b"])
    png = (tmp_path / "images" / "a.png").read_bytes()
    (tmp_path / "images" / "a.png").write_bytes(png[: len(png) // 2])
    (tmp_path / "masks" / "b.png").write_text("not an image")
    data = create_dataset("folder", root=tmp_path, split="all")
    with pytest.raises(PixelwiseError, match=r"image file .*images/a\.png cannot be decoded"):
        data[0]
    with pytest.raises(PixelwiseError, match=r"mask file .*masks/b\.png cannot be decoded"):
        data[1]
    (tmp_path / "images" / "b.png").unlink()
    with pytest.raises(PixelwiseError, match=r"image file .*images/b\.png not found"):
        data[1]


def test_cache_serves_decoded_pairs_without_reading_files(tmp_path):
    folder(tmp_path, ["a", "b"])
    data = create_dataset("folder", root=tmp_path, split="all", cache=True)
    uncached = create_dataset("folder", root=tmp_path, split="all")
    first = data[0]
    (tmp_path / "images" / "a.png").unlink()  # a cached pair no longer needs its file
    again = data[0]
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    data.preload()
    (tmp_path / "images" / "b.png").unlink()
    assert data[1][0].shape == (3, 2, 3)
    with pytest.raises(PixelwiseError, match="not found"):
        uncached[0]


def test_transform_is_applied_on_access(tmp_path):
    folder(tmp_path, ["a"])
    data = create_dataset("folder", root=tmp_path, split="all", transform=lambda image, mask: (image * 0, mask + 1))
    image, mask = data[0]
    assert image.sum() == 0 and mask.unique().tolist() == [2]


def test_bad_root_and_unknown_format_are_clear(tmp_path):
    with pytest.raises(PixelwiseError, match="is not a folder"):
        create_dataset("camvid", root=tmp_path / "nope")
    with pytest.raises(PixelwiseError, match="needs --root"):
        create_dataset("pets", root=None)
    with pytest.raises(PixelwiseError, match="valid names: ade20k, camvid"):
        create_dataset("camvidd", root=tmp_path)


def test_formats_torchvision_cannot_read_fall_back_to_pil(tmp_path):
    array = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    bmp = save(tmp_path / "x.bmp", array)
    tiff = save(tmp_path / "x.tif", array)
    cmyk = tmp_path / "cmyk.jpg"
    Image.fromarray(np.full((2, 2, 3), 200, dtype=np.uint8)).convert("CMYK").save(cmyk)
    assert read_image(bmp).permute(1, 2, 0).numpy().tolist() == array.tolist()
    assert read_image(tiff).permute(1, 2, 0).numpy().tolist() == array.tolist()
    assert read_image(cmyk).shape == (3, 2, 2)
    sixteen_tiff = save(tmp_path / "m.tif", np.array([[0, 513]], dtype=np.uint16))
    assert read_mask(sixteen_tiff)[0].to(torch.int64).tolist() == [[0, 513]]
