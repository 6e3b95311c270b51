"""Instance datasets: COCO (polygons, RLE, crowds), Penn-Fudan, instance folders, synthetic shapes,
the paired transforms, collation and ``pixelwise data verify --task instance``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from pycocotools import mask as coco_mask
from torchvision import tv_tensors

from pixelwise.cli.main import main
from pixelwise.data import create_dataset
from pixelwise.data.instances import (
    PER_INSTANCE,
    collate_instances,
    create_instance_dataset,
    instance_eval_transform,
    instance_train_transform,
    list_instance_datasets,
    make_target,
)
from pixelwise.data.instances.base import mask_boxes
from pixelwise.data.instances.registry import resolve_task
from pixelwise.data.instances.shapes import visible_instances
from pixelwise.data.shapes import ShapesDataset, draw_shapes, shapes_generator
from pixelwise.data.verify import verify_dataset
from pixelwise.errors import PixelwiseError

REPO = Path(__file__).resolve().parents[1]
SHARED = next((p for p in (Path("/work/shared/data"), REPO.parent / "shared" / "data") if p.is_dir()), None)
needs_shared = pytest.mark.skipif(SHARED is None, reason="needs the shared real data (../shared/data)")

H, W = 10, 12


def save(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def uncompressed_rle(mask: np.ndarray) -> dict:
    """COCO's uncompressed RLE: run lengths of 0s and 1s in column-major order, starting with 0s."""
    flat, counts, current, run = mask.flatten(order="F"), [], 0, 0
    for value in flat:
        if value != current:
            counts.append(run)
            current, run = value, 0
        run += 1
    counts.append(run)
    return {"size": list(mask.shape), "counts": counts}


RLE_MASK = np.zeros((H, W), dtype=np.uint8)
RLE_MASK[6:9, 1:4] = 1
CROWD_MASK = np.zeros((H, W), dtype=np.uint8)
CROWD_MASK[0:4, 7:12] = 1
CROWD_MASK[5, 9] = 1


def coco_file(images: list[dict], annotations: list[dict]) -> dict:
    categories = [{"id": 7, "name": "cat"}, {"id": 3, "name": "dog"}]  # unsorted on purpose
    return {"images": images, "annotations": annotations, "categories": categories}


def make_coco(root: Path, *, count: int = 3, extra: list[dict] | None = None) -> Path:
    """A COCO layout: a polygon, a compressed RLE, an uncompressed crowd RLE, and images without annotations."""
    images = []
    for k in range(count):
        name = f"{k:03d}.png"
        save(root / "train2017" / name, np.full((H, W, 3), 40 * k % 256, dtype=np.uint8))
        images.append({"id": 100 + k, "file_name": name, "width": W, "height": H})
    compressed = coco_mask.encode(np.asfortranarray(RLE_MASK))
    annotations = [
        {"id": 1, "image_id": 100, "category_id": 7, "iscrowd": 0, "area": 12.5, "bbox": [2, 2, 4, 3],
         "segmentation": [[2, 2, 6, 2, 6, 5, 2, 5]]},
        {"id": 2, "image_id": 100, "category_id": 3, "iscrowd": 0,
         "segmentation": {"size": [H, W], "counts": compressed["counts"].decode()}},
        {"id": 3, "image_id": 101, "category_id": 7, "iscrowd": 1, "area": 21.0, "bbox": [7, 0, 5, 6],
         "segmentation": uncompressed_rle(CROWD_MASK)},
    ] + (extra or [])  # fmt: skip
    path = root / "annotations" / "instances_train2017.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(coco_file(images, annotations)))
    return root


# --- COCO ---------------------------------------------------------------------------------------


def test_coco_decodes_polygons_and_both_rles_and_remaps_categories(tmp_path):
    data = create_instance_dataset("coco", root=make_coco(tmp_path), split="all")
    assert data.class_names == ("background", "dog", "cat") and data.category_ids == [0, 3, 7]
    assert data.num_classes == 3 and data.ignore_index is None and len(data) == 3
    image, target = data[0]  # no transform: the raw load
    assert image.dtype == torch.uint8 and image.shape == (3, H, W)
    assert isinstance(target["boxes"], tv_tensors.BoundingBoxes) and target["boxes"].canvas_size == (H, W)
    assert isinstance(target["masks"], tv_tensors.Mask) and target["masks"].dtype == torch.uint8
    assert target["labels"].tolist() == [2, 1] and target["iscrowd"].tolist() == [0, 0] and target["image_id"] == 100
    polygon = np.zeros((H, W), dtype=np.uint8)
    polygon[2:5, 2:6] = 1
    assert np.array_equal(target["masks"][0].numpy(), polygon)
    assert np.array_equal(target["masks"][1].numpy(), RLE_MASK)
    assert target["boxes"].tolist() == [[2, 2, 6, 5], [1, 6, 4, 9]]  # the file's box; the RLE's from its mask
    assert target["area"].tolist() == [12.5, 9.0]  # the file's area; the mask's where the file has none
    _, crowd = data[1]
    assert crowd["iscrowd"].tolist() == [1] and crowd["labels"].tolist() == [2] and crowd["area"].tolist() == [21.0]
    assert np.array_equal(crowd["masks"][0].numpy(), CROWD_MASK)
    assert data.image_info(1) == {"id": 101, "width": W, "height": H, "file_name": "001.png"}


def test_coco_image_without_annotations_has_empty_targets_of_the_right_shape(tmp_path):
    _, target = create_instance_dataset("coco", root=make_coco(tmp_path), split="all")[2]
    assert target["boxes"].shape == (0, 4) and target["masks"].shape == (0, H, W)
    assert target["labels"].shape == target["iscrowd"].shape == target["area"].shape == (0,)
    assert target["labels"].dtype == torch.int64 and target["area"].dtype == torch.float32
    images, targets = instance_train_transform(crop_size=8)(*create_instance_dataset("coco", root=tmp_path, split="all").load(2))
    assert images.shape == (3, 8, 8) and targets["masks"].shape == (0, 8, 8)


def test_coco_train_and_val_are_carved_from_the_train_file_when_there_is_no_val_file(tmp_path):
    make_coco(tmp_path, count=10)
    train = create_instance_dataset("coco", root=tmp_path, split="train")
    val = create_instance_dataset("coco", root=tmp_path, split="val", val_fraction=0.2, seed=0)
    again = create_instance_dataset("coco", root=tmp_path, split="val", val_fraction=0.2, seed=0)
    ids = lambda d: [d.image_info(i)["id"] for i in range(len(d))]  # noqa: E731
    assert len(val) == 2 and ids(val) == ids(again)
    assert not set(ids(create_instance_dataset("coco", root=tmp_path, split="train", val_fraction=0.2))) & set(ids(val))
    assert len(train) == 9  # default val_fraction 0.1
    pointed = create_instance_dataset(
        "coco", root=tmp_path, split="val", annotation_file="annotations/instances_train2017.json", image_dir="train2017",
        val_fraction=0.2,
    )  # fmt: skip
    assert ids(pointed) == ids(val)


def test_coco_refuses_an_unusable_annotation_by_default_and_skips_it_on_request(tmp_path):
    make_coco(tmp_path, extra=[{"id": 9, "image_id": 555, "category_id": 7, "segmentation": [[0, 0, 3, 0, 3, 3]]}])
    with pytest.raises(PixelwiseError, match=r"annotation 9 points at image 555.*bad_annotations='skip'"):
        create_instance_dataset("coco", root=tmp_path, split="all")
    data = create_instance_dataset("coco", root=tmp_path, split="all", bad_annotations="skip")
    assert len(data) == 3


# --- Penn-Fudan, folders, shapes -------------------------------------------------------------------


def make_instance_folder(root: Path, *, table: dict | None = None) -> Path:
    ids = np.zeros((H, W), dtype=np.uint16)
    ids[1:4, 1:5] = 1
    ids[5:9, 6:11] = 300  # 16-bit instance ids
    for name in ("a", "b"):
        save(root / "images" / f"{name}.png", np.full((H, W, 3), 90, dtype=np.uint8))
        save(root / "instances" / f"{name}.png", ids)
    if table is not None:
        (root / "classes.json").write_text(json.dumps(table))
    return root


def test_instance_folder_reads_16_bit_ids_and_the_class_table(tmp_path):
    table = {"class_names": ["cat", "dog"], "instances": {"a": {"1": "dog", "300": "cat"}, "b": {"1": 1, "300": 2}}}
    data = create_instance_dataset("folder", root=make_instance_folder(tmp_path, table=table), split="all")
    assert data.class_names == ("background", "cat", "dog") and data.category_ids == [0, 1, 2]
    _, target = data[0]
    assert target["labels"].tolist() == [2, 1] and target["area"].tolist() == [12.0, 20.0]
    assert target["boxes"].tolist() == [[1, 1, 5, 4], [6, 5, 11, 9]]
    assert data[1][1]["labels"].tolist() == [1, 2] and [data.image_info(i)["id"] for i in range(2)] == [0, 1]


def test_instance_folder_without_a_table_is_one_class_object(tmp_path):
    data = create_instance_dataset("folder", root=make_instance_folder(tmp_path), split="all")
    assert data.class_names == ("background", "object") and data[0][1]["labels"].tolist() == [1, 1]


def test_shapes_instances_are_deterministic_and_own_what_they_cover():
    first = create_instance_dataset("shapes", split="val", length=6, size=48)
    second = create_instance_dataset("shapes", split="val", length=6, size=48)
    semantic = ShapesDataset(split="val", length=6, size=48, max_objects=4)
    overlapped = 0
    for index in range(6):
        (image, target), (image2, target2) = first[index], second[index]
        assert torch.equal(image, image2) and torch.equal(target["masks"], target2["masks"])
        masks = target["masks"].to(torch.int64)  # (N, 48, 48)
        assert masks.sum(dim=0).max() <= 1 and bool(masks.flatten(1).any(dim=1).all())  # disjoint, none empty
        composed = (masks * target["labels"][:, None, None]).sum(dim=0)
        assert torch.equal(composed, semantic[index][1]) and torch.equal(image, semantic[index][0])  # one renderer
        _, layers = draw_shapes(size=48, max_objects=4, generator=shapes_generator(seed=0, split="val", index=index))
        overlapped += int(torch.stack([m for _, m in layers]).sum(dim=0).max()) > 1
    assert overlapped > 0  # the stream does draw overlapping shapes


def test_a_shape_covered_entirely_is_no_instance():
    low, high = torch.zeros(8, 8, dtype=torch.bool), torch.zeros(8, 8, dtype=torch.bool)
    low[2:4, 2:4] = True
    high[1:6, 1:6] = True
    masks, labels = visible_instances([(1, low), (2, high), (3, low.roll(4, dims=1))], size=8)
    assert labels == [2, 3] and masks.shape == (2, 8, 8)


# --- transforms and collation ---------------------------------------------------------------------


@pytest.mark.parametrize("scale_range", [(1.0, 1.6), (0.75, 1.0)])
def test_train_transform_keeps_each_box_on_its_mask_after_flip_and_resize(scale_range):
    data = create_instance_dataset("shapes", split="train", length=6, size=64)
    transform = instance_train_transform(scale_range=scale_range, hflip=True)
    # Within 1 px when upscaling; downscaling may lose the rows of a triangle's tip thinner than a pixel.
    tolerance = 1.0 if scale_range[0] >= 1 else 2.0
    torch.manual_seed(0)
    for index in range(6):
        for _ in range(3):
            image, target = transform(*data.load(index))
            assert isinstance(image, tv_tensors.Image) and image.dtype == torch.float32 and float(image.max()) <= 1
            assert target["masks"].shape[-2:] == image.shape[-2:] == target["boxes"].canvas_size
            difference = (target["boxes"] - mask_boxes(target["masks"])).abs()  # (N, 4)
            assert len(target["labels"]) > 0 and float(difference.max()) <= tolerance
            assert torch.equal(target["area"], target["masks"].flatten(1).sum(dim=1).float())


def test_crop_drops_instances_cut_away_with_their_crowd_flag_and_area():
    masks = torch.zeros(3, 20, 40, dtype=torch.uint8)
    masks[0, 5:15, 0:6] = 1  # left
    masks[1, 5:15, 32:40] = 1  # right
    masks[2, 0:2, 0:2] = masks[2, 18:20, 38:40] = 1  # two far corners: a crop of the middle keeps its box, not its mask
    target = make_target(masks=masks, labels=[1, 2, 3], iscrowd=[1, 0, 0], area=[601.0, 602.0, 603.0], image_id=5)
    image = torch.zeros(3, 20, 40, dtype=torch.uint8)
    transform = instance_train_transform(scale_range=(1.0, 1.0), hflip=False, crop_size=(20, 16))
    torch.manual_seed(0)
    dropped = set()
    for _ in range(30):
        _, out = transform(image, target)
        count = len(out["labels"])
        assert all(len(out[key]) == count for key in PER_INSTANCE)
        assert out["iscrowd"].tolist() == [int(label == 1) for label in out["labels"].tolist()]  # filtered in step
        assert out["area"].tolist() == out["masks"].flatten(1).sum(dim=1).float().tolist()
        assert bool((out["masks"].flatten(1) != 0).any(dim=1).all())
        dropped |= {1, 2, 3} - set(out["labels"].tolist())
    assert dropped == {1, 2, 3}


def test_eval_transform_only_converts_unless_asked_to_resize():
    data = create_instance_dataset("shapes", split="val", length=1, size=32)
    raw_image, raw = data.load(0)
    image, target = instance_eval_transform()(raw_image, raw)
    assert isinstance(image, tv_tensors.Image) and torch.allclose(image * 255, raw_image.float())
    assert torch.equal(target["boxes"], raw["boxes"]) and torch.equal(target["area"], raw["area"])
    image, target = instance_eval_transform(short_side=64)(raw_image, raw)
    assert image.shape == (3, 64, 64) and torch.allclose(target["boxes"], raw["boxes"] * 2)


def test_collate_keeps_lists():
    data = create_instance_dataset("shapes", split="val", length=2, size=32, transform=instance_eval_transform())
    images, targets = collate_instances([data[0], data[1]])
    assert len(images) == len(targets) == 2 and targets[1]["image_id"] == 1 and images[0].shape == (3, 32, 32)


# --- registry -------------------------------------------------------------------------------------


def test_unknown_names_and_options_list_the_valid_ones():
    assert list_instance_datasets() == ["coco", "folder", "pennfudan", "shapes"]
    with pytest.raises(PixelwiseError, match="unknown instance dataset 'cityscapes'; valid names: coco, folder"):
        create_instance_dataset("cityscapes")
    with pytest.raises(PixelwiseError, match="has no option colour; its options are: length, size, max_objects, seed"):
        create_instance_dataset("shapes", colour=1)
    assert (resolve_task("coco"), resolve_task("pennfudan"), resolve_task("pennfudan", "instance")) == (
        "instance", "semantic", "instance")  # fmt: skip
    with pytest.raises(PixelwiseError, match="semantic formats: .*instance formats: coco"):
        resolve_task("nope")


# --- verify ---------------------------------------------------------------------------------------


def problem_lines(report) -> list[str]:
    return [f"{Path(p.path).name}: {p.problem}; fix: {p.fix}" for p in report.problems]


def test_verify_names_every_coco_fault_with_its_fix(tmp_path, capsys):
    faults = [
        {"id": 20, "image_id": 555, "category_id": 7, "segmentation": [[0, 0, 3, 0, 3, 3]]},
        {"id": 21, "image_id": 100, "category_id": 99, "segmentation": [[0, 0, 3, 0, 3, 3]]},
        {"id": 22, "image_id": 101, "category_id": 3, "segmentation": [[0, 0, 3, 0, 3, 3], [1, 1, 2, 2]]},
        {"id": 23, "image_id": 101, "category_id": 3, "bbox": [8, 2, 9, 3], "segmentation": [[8, 2, 11, 2, 11, 5]]},
        {"id": 1, "image_id": 101, "category_id": 3, "segmentation": [[0, 0, 3, 0, 3, 3]]},
        {"id": 24, "image_id": 102, "category_id": 3, "segmentation": [[30, 30, 40, 30, 40, 40]]},
    ]
    root = make_coco(tmp_path, count=5, extra=faults)
    path = root / "annotations" / "instances_train2017.json"
    data = json.loads(path.read_text())
    data["images"].append({"id": 101, "file_name": "001.png", "width": W, "height": H})
    path.write_text(json.dumps(data))
    (root / "train2017" / "003.png").unlink()
    (root / "train2017" / "004.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    report = verify_dataset(dataset="coco", root=root)
    lines = "\n".join(problem_lines(report))
    expected = [
        "instances_train2017.json: annotation 20 points at image 555, which the file does not list",
        "instances_train2017.json: annotation 21 has category 99, which the file does not list",
        "instances_train2017.json: annotation 22 (image 001.png) has a polygon of 2 point(s); a polygon needs at least 3",
        "instances_train2017.json: annotation 23 (image 001.png) has box [x, y, w, h] = [8, 2, 9, 3] outside the 12x10 image",
        "instances_train2017.json: annotation id 1 is used by 2 entries",
        "instances_train2017.json: image id 101 is used by 2 entries",
        "instances_train2017.json: annotation 24 (image 002.png): mask is empty",
        "003.png: image file is missing; fix: restore it",
        "004.png: image file ",  # cannot be decoded
    ]
    for text in expected:
        assert text in lines, f"{text!r} not in\n{lines}"
    assert "fix: add the image or delete the annotation" in lines and not report.ok
    (split,) = report.splits
    assert (split.name, split.images, split.pairs) == ("all", 5, 3)
    assert main(["data", "verify", "--dataset", "coco", "--root", str(root), "--workers", "0"]) == 1
    assert "annotation 22" in capsys.readouterr().out


def test_verify_names_instance_folder_faults(tmp_path):
    table = {"instances": {"a": {"1": 1, "300": 1, "7": 1}, "b": {"1": 1, "300": 1}}}
    root = make_instance_folder(tmp_path, table=table)
    save(root / "images" / "c.png", np.zeros((H, W, 3), dtype=np.uint8))  # no mask
    save(root / "images" / "d.png", np.zeros((H, W, 3), dtype=np.uint8))
    save(root / "instances" / "d.png", np.zeros((4, 4), dtype=np.uint8))  # wrong size
    table["instances"]["d"] = {}
    (root / "classes.json").write_text(json.dumps(table))
    lines = "\n".join(problem_lines(verify_dataset(dataset="folder", root=root, task="instance")))
    assert "classes.json gives instance 7 a class but the mask has no pixel of it (empty mask); fix: paint instance 7" in lines
    assert "c.png: image has no instance mask; fix: add its instance mask, or remove the image" in lines
    assert "instances/d.png: mask is 4x4 but image" in lines
    assert verify_dataset(dataset="folder", root=make_instance_folder(tmp_path / "clean"), task="instance").ok


def test_verify_refuses_synthetic_instances():
    with pytest.raises(PixelwiseError, match="not read from files"):
        verify_dataset(dataset="shapes", root=".", task="instance")


# --- real data ------------------------------------------------------------------------------------


@needs_shared
def test_pennfudan_instances_hold_out_the_same_images_as_the_semantic_task():
    root = SHARED / "pennfudan"
    instances = create_instance_dataset("pennfudan", root=root, split="val")
    semantic = create_dataset("pennfudan", root=root, split="val")
    assert [s.name for s in instances.samples] == [s.name for s in semantic.samples] and len(instances) == 12
    image, target = instances[0]
    assert instances.class_names == ("background", "pedestrian") and target["labels"].tolist() == [1] * len(target["labels"])
    assert len(target["labels"]) >= 1 and target["masks"].shape[-2:] == image.shape[-2:]
    pedestrians = semantic[0][1] == 1
    assert torch.equal(target["masks"].amax(dim=0).bool(), pedestrians)


@needs_shared
def test_coco_tiny_opens_with_train_and_val_carved():
    root = SHARED / "coco-tiny"
    train = create_instance_dataset("coco", root=root, split="train")
    val = create_instance_dataset("coco", root=root, split="val")
    assert (len(train), len(val), train.num_classes) == (72, 8, 81)
    assert not {train.image_info(i)["id"] for i in range(len(train))} & {val.image_info(i)["id"] for i in range(len(val))}
    image, target = val[0]
    assert image.shape[0] == 3 and target["masks"].shape[1:] == image.shape[1:]
    assert target["image_id"] == val.image_info(0)["id"]
    assert all(val.category_ids[label] in {c["id"] for c in val.index.categories} for label in target["labels"].tolist())
