"""Panoptic data and the two-model path: Detectron2's fusion rule on hand-made cases, the panoptic
``shapes``, Penn-Fudan and COCO panoptic folders, the paired transforms, PanopticPrediction, the
FusedPanopticPredictor on stub models, and the drawing."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import v2

from pixelwise.constants import IGNORE_INDEX
from pixelwise.data.instances import create_instance_dataset
from pixelwise.data.instances.base import mask_boxes
from pixelwise.data.instances.shapes import visible_instances
from pixelwise.data.panoptic import (
    PanopticPipeline,
    create_panoptic_dataset,
    list_panoptic_datasets,
    panoptic_eval_transform,
    panoptic_train_transform,
)
from pixelwise.data.panoptic.shapes import _stuff
from pixelwise.data.panoptic_format import id_to_rgb
from pixelwise.data.shapes import place_shapes, shapes_generator
from pixelwise.errors import PixelwiseError
from pixelwise.inference import InstancePrediction, PanopticPrediction, Predictor, SemanticPredictor
from pixelwise.inference.panoptic import FusedPanopticPredictor
from pixelwise.inference.panoptic_fusion import STUFF_AREA_FRACTION, fuse_panoptic
from pixelwise.modelfile.spec import Labels
from pixelwise.visual.panoptic import draw_panoptic, save_panoptic_legend, save_panoptic_panel, segment_colors

REPO = Path(__file__).resolve().parents[1]
SHARED = next((p for p in (Path("/work/shared/data"), REPO.parent / "shared" / "data") if p.is_dir()), None)
needs_shared = pytest.mark.skipif(SHARED is None, reason="needs the shared real data (../shared/data)")

H, W = 4, 6


def instances(
    masks: list[list[tuple[int, int]]], labels: list[int], scores: list[float], *, shape: tuple[int, int] = (H, W)
) -> SimpleNamespace:
    """Instances whose masks are the listed (row, col) pixels of an image of ``shape``."""
    stack = torch.zeros(len(masks), *shape, dtype=torch.bool)
    for k, pixels in enumerate(masks):
        for r, c in pixels:
            stack[k, r, c] = True
    return SimpleNamespace(masks=stack, labels=torch.tensor(labels), scores=torch.tensor(scores))


def block(rows: range, cols: range) -> list[tuple[int, int]]:
    return [(r, c) for r in rows for c in cols]


# --- fusion: Detectron2's rule ------------------------------------------------------------------------


def test_the_most_confident_instance_takes_shared_pixels_and_the_other_keeps_the_rest():
    # A: 2x2 at cols 0-1 (4 px, score 0.6); B: 2x3 at cols 1-3 (6 px, score 0.9). B first takes its 6;
    # A then overlaps B on 2 of 4 px = 0.5, not more than 0.5: kept with its 2 free pixels.
    found = instances([block(range(2), range(2)), block(range(2), range(1, 4))], labels=[1, 2], scores=[0.6, 0.9])
    semantic = torch.zeros(H, W, dtype=torch.int64)
    segments, info = fuse_panoptic(semantic=semantic, instances=found, things=[1, 2], stuff_area_fraction=0.0)
    assert [(s["id"], s["category_id"], s["instance_id"], s["area"]) for s in info[:2]] == [(1, 2, 1, 6), (2, 1, 0, 2)]
    assert segments[:2].tolist() == [[2, 1, 1, 1, 3, 3]] * 2  # B = 1, A's free part = 2, the stuff class 0 = 3
    assert info[2] == {"id": 3, "category_id": 0, "isthing": False, "iscrowd": 0, "area": 16}
    assert info[0]["score"] == pytest.approx(0.9) and info[0]["isthing"] is True


def test_an_instance_more_than_half_taken_is_dropped():
    # A: 3 px at cols 0-2 of row 0 (score 0.6) overlaps B (cols 1-3, score 0.9) on 2 of 3 px = 0.67 > 0.5.
    found = instances([block(range(1), range(3)), block(range(1), range(1, 4))], labels=[1, 1], scores=[0.6, 0.9])
    segments, info = fuse_panoptic(semantic=torch.zeros(H, W, dtype=torch.int64), instances=found, things=[1],
                                   stuff_area_fraction=0.0)
    assert [s["instance_id"] for s in info if s["isthing"]] == [1]
    assert segments[0, 0] != 1 and segments[0, 1:4].tolist() == [1, 1, 1]
    # The same pair with a looser threshold keeps A's free pixel.
    _, info = fuse_panoptic(semantic=torch.zeros(H, W, dtype=torch.int64), instances=found, things=[1],
                            overlap_threshold=0.7, stuff_area_fraction=0.0)
    assert [(s["instance_id"], s["area"]) for s in info if s["isthing"]] == [(1, 3), (0, 1)]


def test_instances_under_the_score_threshold_are_not_used_and_the_threshold_itself_is_kept():
    found = instances([block(range(1), range(2)), block(range(2, 3), range(2)), block(range(3, 4), range(2))],
                      labels=[1, 1, 1], scores=[0.5, 0.49, 0.95])
    _, info = fuse_panoptic(semantic=torch.zeros(H, W, dtype=torch.int64), instances=found, things=[1])
    assert [s["instance_id"] for s in info if s["isthing"]] == [2, 0]  # score order; 0.49 dropped, 0.5 kept


def test_stuff_smaller_than_the_area_fraction_is_dropped_and_thing_pixels_stay_void():
    semantic = torch.zeros(H, W, dtype=torch.int64)  # 24 px: class 0 sky
    semantic[0, :3] = 1  # 3 px of stuff class 1
    semantic[3, :4] = 2  # 4 px of stuff class 2
    semantic[2, 4:] = 3  # 2 px of thing class 3 that no instance covers
    semantic[1, 5] = IGNORE_INDEX  # a semantic label that is no class
    segments, info = fuse_panoptic(semantic=semantic, instances=instances([], [], []), things=[3],
                                   stuff_area_fraction=4 / 24)  # at least 4 px
    assert [(s["category_id"], s["area"]) for s in info] == [(0, 14), (2, 4)]
    assert (segments[0, :3] == 0).all() and (segments[2, 4:] == 0).all() and segments[1, 5] == 0
    assert int((segments == 0).sum()) == 3 + 2 + 1


def test_the_default_stuff_area_is_detectron2s_4096_pixels_of_a_640_by_480_image():
    assert STUFF_AREA_FRACTION * 640 * 480 == 4096
    semantic = torch.zeros(480, 640, dtype=torch.int64)
    semantic.view(-1)[:4096] = 1
    semantic.view(-1)[4096 : 4096 + 4095] = 2
    _, info = fuse_panoptic(semantic=semantic, instances=instances([], [], [], shape=(480, 640)), things=[])
    assert [s["category_id"] for s in info] == [0, 1]  # class 2 has 4095 px: dropped


def test_fusion_refuses_instances_of_a_stuff_class_and_mismatched_sizes():
    with pytest.raises(PixelwiseError, match="not thing classes"):
        fuse_panoptic(semantic=torch.zeros(H, W, dtype=torch.int64), instances=instances([[(0, 0)]], [0], [0.9]), things=[1])
    with pytest.raises(PixelwiseError, match="masks"):
        fuse_panoptic(semantic=torch.zeros(H + 1, W, dtype=torch.int64), instances=instances([[(0, 0)]], [1], [0.9]), things=[1])


# --- the panoptic prediction ---------------------------------------------------------------------------


def test_panoptic_prediction_views():
    segments = torch.tensor([[1, 1, 2], [3, 3, 0]], dtype=torch.int32)
    info = [{"id": 1, "category_id": 0, "isthing": False, "iscrowd": 0},
            {"id": 2, "category_id": 1, "isthing": True, "iscrowd": 0, "score": 0.7},
            {"id": 3, "category_id": 1, "isthing": True, "iscrowd": 0, "score": 0.9}]
    prediction = PanopticPrediction(segments=segments, segments_info=info, class_names=("sky", "cat"), things=(1,))
    assert prediction.label_map.tolist() == [[0, 0, 1], [1, 1, IGNORE_INDEX]] and prediction.label_map.dtype == torch.int64
    assert prediction.instance_map.tolist() == [[0, 0, 1], [2, 2, 0]] and prediction.instance_map.dtype == torch.int32
    assert prediction.class_areas() == pytest.approx({"sky": 2 / 6, "cat": 3 / 6})
    assert prediction.numpy().dtype == np.int32 and prediction.numpy().tolist() == segments.tolist()
    found = prediction.instances()
    assert found.scores.tolist() == pytest.approx([0.9, 0.7]) and found.labels.tolist() == [1, 1]
    assert found.boxes.tolist() == [[0, 1, 2, 2], [2, 0, 3, 1]] and found.masks.sum().item() == 3


# --- panoptic shapes -----------------------------------------------------------------------------------


def test_panoptic_datasets_are_registered_and_options_checked():
    assert {"coco", "pennfudan", "shapes"} <= set(list_panoptic_datasets())
    with pytest.raises(PixelwiseError, match="has no option colour"):
        create_panoptic_dataset("shapes", colour=1)


def test_panoptic_shapes_are_deterministic_and_shapes_are_their_own_segments():
    one = create_panoptic_dataset("shapes", split="val", length=6, size=64)
    two = create_panoptic_dataset("shapes", split="val", length=6, size=64)
    assert one.class_names == ("sky", "ground", "water", "circle", "square", "triangle") and one.things == (3, 4, 5)
    stuff_seen: set[int] = set()
    for index in range(6):
        image, target = one[index]
        again, target_again = two[index]
        assert torch.equal(image, again) and torch.equal(target["segments"], target_again["segments"])
        assert image.shape == (3, 64, 64) and image.dtype == torch.uint8 and target["segments"].dtype == torch.int32
        assert (target["segments"] != 0).all() and (target["semantic"] != IGNORE_INDEX).all()  # no void
        # Redraw the shapes from the same stream: each visible shape is exactly one thing segment of its class.
        generator = shapes_generator(seed=0, split="panoptic-val", index=index)
        _, colours, picture = _stuff(64, generator)
        _, layers = place_shapes(picture, max_objects=4, avoid=colours, generator=generator)
        masks, labels = visible_instances(layers, size=64)
        info = {s["id"]: s for s in target["segments_info"]}
        for mask, label in zip(masks, labels, strict=True):
            ids = target["segments"][mask].unique().tolist()
            assert len(ids) == 1 and info[ids[0]]["isthing"] and info[ids[0]]["category_id"] == 2 + label
            assert torch.equal(target["segments"] == ids[0], mask)
        assert sum(s["isthing"] for s in target["segments_info"]) == len(labels)
        stuff_seen |= {s["category_id"] for s in target["segments_info"] if not s["isthing"]}
    assert stuff_seen == {0, 1, 2}
    other = create_panoptic_dataset("shapes", split="train", length=1, size=64)[0][0]
    assert not torch.equal(other, one[0][0])


def test_instance_targets_and_the_class_map_agree_with_the_segments():
    image, target = create_panoptic_dataset("shapes", split="train", length=3, size=48)[2]
    things = [s for s in target["segments_info"] if s["isthing"]]
    assert target["labels"].tolist() == [s["category_id"] for s in things]
    for k, segment in enumerate(things):
        assert torch.equal(target["masks"][k].bool(), target["segments"] == segment["id"])
        assert target["area"][k] == segment["area"] == int((target["segments"] == segment["id"]).sum())
    assert torch.equal(target["boxes"], mask_boxes(target["masks"]))
    assert target["masks"].dtype == torch.uint8 and target["iscrowd"].tolist() == [0] * len(things)
    for segment in target["segments_info"]:
        assert (target["semantic"][target["segments"] == segment["id"]] == segment["category_id"]).all()
    assert target["semantic"].dtype == torch.int64 and target["image_id"] == 2


def test_transforms_move_the_maps_with_the_image_and_pad_with_void():
    dataset = create_panoptic_dataset("shapes", split="train", length=1, size=48)
    image, target = dataset.load(0)
    flip = PanopticPipeline(v2.Compose([v2.RandomHorizontalFlip(p=1.0)]))
    flipped, moved = flip(image, target)
    assert torch.equal(flipped, image.flip(-1)) and torch.equal(moved["segments"], target["segments"].flip(-1))
    assert torch.equal(moved["semantic"], target["semantic"].flip(-1)) and torch.equal(moved["masks"], target["masks"].flip(-1))
    padded, grown = panoptic_train_transform(hflip=False, crop_size=64)(image, target)
    assert padded.dtype == torch.float32 and padded.shape == (3, 64, 64) and float(padded.max()) <= 1.0
    void = grown["segments"] == 0
    assert int(void.sum()) == 64 * 64 - 48 * 48 and (grown["semantic"][void] == IGNORE_INDEX).all()
    small, shrunk = panoptic_eval_transform(scale=0.5)(image, target)
    assert small.shape == (3, 24, 24) and set(shrunk["segments"].unique().tolist()) <= set(target["segments"].unique().tolist())
    assert sum(s["area"] for s in shrunk["segments_info"]) == 24 * 24 and len(shrunk["masks"]) == len(shrunk["labels"])
    jittered, _ = panoptic_train_transform(scale_range=(0.5, 1.5), color_jitter=0.4, crop_size=32)(image, target)
    assert jittered.shape == (3, 32, 32)


# --- Penn-Fudan and COCO panoptic ------------------------------------------------------------------


@needs_shared
def test_pennfudan_panoptic_holds_out_the_instance_readings_images():
    root = SHARED / "pennfudan"
    panoptic = create_panoptic_dataset("pennfudan", root=root, split="val")
    instance = create_instance_dataset("pennfudan", root=root, split="val")
    assert [s.name for s in panoptic.instances.samples] == [s.name for s in instance.samples] and len(panoptic) == 12
    assert panoptic.class_names == ("background", "pedestrian") and panoptic.things == (1,)
    image, target = panoptic[0]
    _, truth = instance[0]
    assert target["image_id"] == truth["image_id"] and torch.equal(target["masks"], truth["masks"].as_subclass(torch.Tensor))
    assert torch.equal(target["semantic"], truth["masks"].amax(dim=0).long())  # pedestrians 1, background 0, no void
    assert target["segments_info"][0]["category_id"] == 0 and not target["segments_info"][0]["isthing"]


def write_coco_panoptic(root: Path, *, extra_segment: bool = False) -> None:
    """A 2-image COCO panoptic val split: categories 7 (road, stuff), 3 (car, thing), 5 (person, thing)."""
    (root / "annotations" / "panoptic_val2017").mkdir(parents=True)
    (root / "val2017").mkdir()
    ids = np.zeros((2, 8, 10), dtype=np.int64)
    ids[0, 4:] = 300  # road
    ids[0, :3, :4] = 70000  # a car
    ids[0, :3, 6:] = 70001  # a crowd of people
    ids[1, :, :] = 300
    segments = [[{"id": 300, "category_id": 7, "iscrowd": 0}, {"id": 70000, "category_id": 3, "iscrowd": 0},
                 {"id": 70001, "category_id": 5, "iscrowd": 1}], [{"id": 300, "category_id": 7}]]
    if extra_segment:
        ids[1, 0, 0] = 9
    for k in range(2):
        Image.fromarray(id_to_rgb(ids[k])).save(root / "annotations" / "panoptic_val2017" / f"{k:04d}.png")
        Image.fromarray(np.full((8, 10, 3), 40 * k, dtype=np.uint8)).save(root / "val2017" / f"{k:04d}.jpg")
    data = {
        "images": [{"id": k + 10, "file_name": f"{k:04d}.jpg", "width": 10, "height": 8} for k in range(2)],
        "annotations": [{"image_id": k + 10, "file_name": f"{k:04d}.png", "segments_info": segments[k]} for k in range(2)],
        "categories": [{"id": 7, "name": "road", "isthing": 0}, {"id": 3, "name": "car", "isthing": 1},
                       {"id": 5, "name": "person", "isthing": 1}],
    }
    (root / "annotations" / "panoptic_val2017.json").write_text(json.dumps(data))


def test_coco_panoptic_folders_are_read_with_classes_in_category_id_order(tmp_path):
    write_coco_panoptic(tmp_path)
    dataset = create_panoptic_dataset("coco", root=tmp_path, split="val")
    assert dataset.class_names == ("car", "person", "road") and dataset.category_ids == [3, 5, 7] and dataset.things == (0, 1)
    image, target = dataset[0]
    assert image.shape == (3, 8, 10) and target["image_id"] == 10
    assert target["segments"][0, 0] == 70000 and target["segments"].dtype == torch.int32
    assert target["semantic"][5, 0] == 2 and target["semantic"][0, 0] == 0 and target["semantic"][0, 5] == IGNORE_INDEX
    assert target["labels"].tolist() == [0, 1] and target["iscrowd"].tolist() == [0, 1]
    assert [c["isthing"] for c in dataset.categories()] == [1, 1, 0] and dataset.categories()[2]["id"] == 7


def test_coco_panoptic_names_a_segment_missing_from_the_json(tmp_path):
    write_coco_panoptic(tmp_path, extra_segment=True)
    dataset = create_panoptic_dataset("coco", root=tmp_path, split="val")
    with pytest.raises(PixelwiseError, match=r"0001\.png.*segment id 9 is in the PNG"):
        dataset[1]


# --- the two-model path --------------------------------------------------------------------------------


class LeftHalfPedestrian(SemanticPredictor):
    """Semantic stub: the left half of every image is a pedestrian, the rest background."""

    labels = Labels(class_names=("background", "pedestrian"), palette=((0, 0, 0), (220, 20, 60)))

    def class_scores(self, images):
        n, _, h, w = images.shape
        scores = torch.zeros(n, 2, h, w)
        scores[:, 1, :, : w // 2] = 1.0
        return scores


class OnePerson(Predictor):
    """Instance stub: one 'person' in the top-left quarter (score 0.9) and one below the threshold."""

    task = "instance"
    labels = Labels(class_names=("background", "person"))

    def predict_batch(self, images):
        n, _, h, w = images.shape
        masks = torch.zeros(2, h, w, dtype=torch.bool)
        masks[0, : h // 2, : w // 2] = True
        masks[1, h // 2 :, :] = True
        return [InstancePrediction(boxes=mask_boxes(masks), labels=torch.tensor([1, 1]), scores=torch.tensor([0.9, 0.3]),
                                   masks=masks, class_names=self.labels.class_names) for _ in range(n)]


def test_the_fused_predictor_maps_both_class_lists_and_leaves_uncovered_thing_pixels_void():
    predictor = FusedPanopticPredictor(semantic=LeftHalfPedestrian(), instance=OnePerson(),
                                       class_names=["background", "pedestrian"], things=[1],
                                       instance_classes={"person": "pedestrian"})
    assert predictor.task == "panoptic" and predictor.labels.things == (1,)
    [prediction] = predictor.predict_batch(torch.zeros(1, 3, 8, 12, dtype=torch.uint8))
    assert isinstance(prediction, PanopticPrediction) and prediction.segments.shape == (8, 12)
    assert [(s["category_id"], s["isthing"], s["area"]) for s in prediction.segments_info] == [(1, True, 24), (0, False, 48)]
    labels = prediction.label_map
    assert (labels[:4, :6] == 1).all() and (labels[:, 6:] == 0).all()
    assert (labels[4:, :6] == IGNORE_INDEX).all()  # semantic pedestrian, no instance: void
    assert predictor.labels.palette[1] == (220, 20, 60)  # the semantic model's colour, shared by name


def test_the_fused_predictor_refuses_classes_it_cannot_place():
    with pytest.raises(PixelwiseError, match="'person' is no panoptic class"):
        FusedPanopticPredictor(semantic=LeftHalfPedestrian(), instance=OnePerson(), class_names=["background", "pedestrian"],
                               things=[1])
    with pytest.raises(PixelwiseError, match="not things"):
        FusedPanopticPredictor(semantic=LeftHalfPedestrian(), instance=OnePerson(), class_names=["background", "pedestrian"],
                               things=[1], instance_classes={"person": "background"})
    with pytest.raises(PixelwiseError, match="does not have"):
        FusedPanopticPredictor(semantic=LeftHalfPedestrian(), instance=OnePerson(), class_names=["background", "pedestrian"],
                               things=[1], semantic_classes={"sky": None}, instance_classes={"person": "pedestrian"})
    with pytest.raises(PixelwiseError, match="a semantic and an instance"):
        FusedPanopticPredictor(semantic=OnePerson(), instance=OnePerson(), class_names=["pedestrian"], things=[0])


# --- drawing -------------------------------------------------------------------------------------------


def test_draw_panoptic_shades_instances_of_one_class_differently_and_outlines_segments(tmp_path):
    segments = torch.zeros(6, 9, dtype=torch.int32)
    segments[:, :3], segments[:, 3:6], segments[:, 6:] = 1, 2, 3
    segments[0, 0] = 0  # void
    info = [{"id": 1, "category_id": 0}, {"id": 2, "category_id": 1}, {"id": 3, "category_id": 1}]
    palette = [(0, 128, 0), (200, 40, 40)]
    image = torch.full((3, 6, 9), 100, dtype=torch.uint8)
    drawn = draw_panoptic(image, segments=segments, segments_info=info, class_names=["grass", "cat"], things=[1],
                          palette=palette, alpha=1.0)
    assert drawn.shape == (6, 9, 3) and drawn.dtype == np.uint8
    assert drawn[3, 1].tolist() == [0, 128, 0]  # stuff inside its segment: the class colour
    assert drawn[3, 4].tolist() == [200, 40, 40] and drawn[3, 7].tolist() != drawn[3, 4].tolist()  # two cats, two shades
    assert drawn[3, 2].tolist() == [255, 255, 255] and drawn[3, 3].tolist() == [255, 255, 255]  # the outline
    assert drawn[0, 0].tolist() == [100, 100, 100]  # void: the image
    colours = segment_colors([{"id": k, "category_id": 1} for k in range(1, 9)], things=[1], palette=palette)
    assert len(set(colours.values())) == 8
    assert save_panoptic_legend(tmp_path / "legend.png", class_names=["grass", "cat"], things=[1], palette=palette).is_file()
    assert save_panoptic_panel(tmp_path / "panel.png", image=image, segments=segments, segments_info=info,
                               class_names=["grass", "cat"], things=[1], palette=palette,
                               truth=(segments, info)).is_file()
    with pytest.raises(PixelwiseError, match="not in segments_info"):
        draw_panoptic(image, segments=segments + 10, segments_info=info, class_names=["grass", "cat"], things=[1], palette=palette)
