"""Masks kept as crops: the same pixels, class maps and COCO RLE as the full (N, H, W) stack."""

from __future__ import annotations

import pytest
import torch

from pixelwise.inference.components import paint_instances
from pixelwise.inference.mask_crops import MaskCrops

pytest.importorskip("pycocotools")


def random_masks(generator: torch.Generator, count: int, height: int, width: int) -> torch.Tensor:
    """Blobs of random density inside random rectangles (some masks empty, some the whole image)."""
    masks = torch.zeros(count, height, width, dtype=torch.bool)
    for k in range(count):
        y0, y1 = sorted(torch.randint(0, height + 1, (2,), generator=generator).tolist())
        x0, x1 = sorted(torch.randint(0, width + 1, (2,), generator=generator).tolist())
        density = float(torch.rand(1, generator=generator))
        masks[k, y0:y1, x0:x1] = torch.rand(y1 - y0, x1 - x0, generator=generator) < density
    return masks


def test_crops_hold_the_same_masks_in_their_rectangles():
    masks = torch.zeros(3, 40, 50, dtype=torch.bool)
    masks[0, 5:10, 20:31] = True
    masks[1, 0, 0] = masks[1, 39, 49] = True  # two corners: the whole image is its rectangle
    crops = MaskCrops.from_masks(masks)  # masks[2] is empty
    assert crops.rects == [(5, 20, 10, 31), (0, 0, 40, 50), (0, 0, 0, 0)]
    assert [tuple(c.shape) for c in crops.crops] == [(5, 11), (40, 50), (0, 0)]
    assert torch.equal(crops.full(), masks)
    assert crops.areas().tolist() == [55, 2, 0]
    assert torch.equal(crops.select(torch.tensor([False, True, True])).full(), masks[1:])


def test_rle_from_crops_equals_pycocotools_on_the_full_masks():
    from pixelwise.metrics.rle import decode_masks, encode_masks

    generator = torch.Generator().manual_seed(0)
    for height, width in [(1, 1), (1, 7), (7, 1), (13, 17), (32, 24)]:
        masks = random_masks(generator, 12, height, width)
        masks[0] = False  # empty
        masks[1] = True  # full
        masks[2, 0, 0] = True  # a run of ones at the very start
        rles = MaskCrops.from_masks(masks).to_rle()
        assert rles == encode_masks(masks)
        assert (decode_masks(rles) == masks.numpy()).all()


def test_painting_crops_follows_the_full_mask_rule():
    generator = torch.Generator().manual_seed(1)
    masks = random_masks(generator, 8, 30, 40)
    scores = torch.rand(8, generator=generator)
    scores[3] = scores[5]  # a tie: the later mask is on top
    values = torch.arange(1, 9)
    painted = MaskCrops.from_masks(masks).paint(values=values, scores=scores)
    assert torch.equal(painted, paint_instances(masks=masks, labels=values, scores=scores, shape=(30, 40)))
    # paint_instances now paints through MaskCrops too, so also check against the rule itself, pixel by pixel:
    # the highest score among the masks that cover a pixel wins, a tie goes to the later mask, 0 where none does
    expected = torch.zeros(30, 40, dtype=torch.int64)
    for y in range(30):
        for x in range(40):
            covering = [k for k in range(8) if masks[k, y, x]]
            if covering:
                expected[y, x] = values[max(covering, key=lambda k: (float(scores[k]), k))]
    assert torch.equal(painted, expected)


def test_an_instance_prediction_paints_and_encodes_from_its_crops():
    from pixelwise.inference import InstancePrediction
    from pixelwise.metrics.coco_results import detections_to_results

    generator = torch.Generator().manual_seed(2)
    masks = random_masks(generator, 5, 20, 30)
    boxes, labels, scores = torch.rand(5, 4) * 20, torch.tensor([1, 2, 1, 2, 1]), torch.linspace(0.9, 0.1, 5)
    prediction = InstancePrediction(boxes=boxes, labels=labels, scores=scores, masks=masks, class_names=("bg", "a", "b"))
    assert torch.equal(prediction.masks, masks) and prediction.size == (20, 30)
    assert torch.equal(prediction.label_map, paint_instances(masks=masks, labels=labels, scores=scores, shape=(20, 30)))
    expected = detections_to_results(image_id=7, boxes=boxes, labels=labels, scores=scores, masks=masks, category_ids=[0, 1, 2])
    assert prediction.to_coco(image_id=7) == expected
