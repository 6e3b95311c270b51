"""Panoptic FPN and the panoptic task: one network for stuff and things, trained and scored through the engine."""

from __future__ import annotations

import pytest
import torch

from pixelwise.errors import PixelwiseError
from pixelwise.models import create_model
from pixelwise.models.registry import model_task

TINY = ["--dataset", "shapes", "--dataset-option", "size=64", "--dataset-option", "length=4",
        "--model", "panoptic_fpn", "--model-option", "min_size=64", "--model-option", "max_size=64",
        "--model-option", "fpn_channels=32", "--model-option", "semantic_channels=16", "--model-option", "mask_head_convs=1",
        "--batch-size", "2", "--eval-batch-size", "2", "--workers", "0", "--no-progress", "--no-tensorboard", "--log-every", "1"]


def tiny_panoptic():
    torch.manual_seed(0)
    return create_model("panoptic_fpn", num_classes=5, things=[2, 4], fpn_channels=32, semantic_channels=16,
                        mask_head_convs=1, min_size=64, max_size=64)


def target(size: int = 64) -> dict:
    masks = torch.zeros(2, size, size, dtype=torch.uint8)
    masks[0, 5:30, 5:25] = 1
    masks[1, 30:60, 30:60] = 1
    semantic = torch.ones(size, size, dtype=torch.int64)  # stuff class 1 ...
    semantic[: size // 4] = 0  # ... and stuff class 0 on top
    semantic[masks[0].bool()], semantic[masks[1].bool()] = 2, 4  # the two things
    return {"boxes": torch.tensor([[5.0, 5, 25, 30], [30, 30, 60, 60]]), "labels": torch.tensor([2, 4]), "masks": masks,
            "iscrowd": torch.tensor([0, 0]), "area": masks.flatten(1).sum(1).float(), "semantic": semantic, "image_id": 1}


def test_panoptic_fpn_is_a_panoptic_model_and_needs_its_things():
    assert model_task("panoptic_fpn") == "panoptic"
    with pytest.raises(PixelwiseError, match="things"):
        create_model("panoptic_fpn", num_classes=5)
    with pytest.raises(PixelwiseError, match="things"):
        create_model("panoptic_fpn", num_classes=5, things=[2, 7])


def test_the_detector_sees_things_only_and_outputs_speak_panoptic_classes():
    model = tiny_panoptic()
    assert model.detector.roi_heads.box_predictor.cls_score.out_features == 3  # background + 2 things
    assert model.to_detector.tolist() == [0, 0, 1, 0, 2] and model.to_panoptic.tolist() == [0, 2, 4]
    model.train()
    losses = model([torch.rand(3, 64, 64), torch.rand(3, 64, 64)], [target(), target()])
    assert {"loss_semantic", "loss_mask", "loss_classifier", "loss_objectness"} <= set(losses)
    sum(losses.values()).backward()
    assert model.semantic_head.classifier.weight.grad is not None
    model.eval()
    with torch.no_grad():
        output = model([torch.rand(3, 48, 80)])[0]
    assert output["semantic"].shape == (5, 48, 80)  # logits at the input's size
    assert set(output["labels"].tolist()) <= {2, 4}  # detector labels mapped back to panoptic classes


def test_the_semantic_branch_learns_a_fixed_map():
    """Twenty steps on one image bring the semantic loss well down: the branch and its target resizing line up."""
    model = tiny_panoptic()
    image, truth = torch.rand(3, 64, 64), target()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    first = None
    for _ in range(20):
        loss = model([image], [truth])["loss_semantic"]
        first = first if first is not None else float(loss)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert float(loss) < 0.5 * first
