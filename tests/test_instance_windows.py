"""Sliding windows for instance models: every object once, whole, whatever windows saw it.

The detector here finds the connected bright regions of a crop (scipy), so what each window
returns is known exactly: a region cut by the crop comes back as the fragment inside it.
"""

from __future__ import annotations

import pytest
import torch

from pixelwise.inference.instance_windows import Detections, detect_in_windows
from pixelwise.inference.mask_crops import MaskCrops

ndimage = pytest.importorskip("scipy.ndimage")


def regions(crops: list[torch.Tensor], origins=()) -> list[Detections]:
    found = []
    for crop in crops:
        labelled, count = ndimage.label(crop[0].numpy() > 0)
        masks = torch.stack([torch.from_numpy(labelled == i + 1) for i in range(count)]) if count else torch.zeros(0, *crop.shape[-2:], dtype=torch.bool)
        boxes = []
        for mask in masks:
            ys, xs = torch.nonzero(mask, as_tuple=True)
            boxes.append(torch.tensor([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=torch.float32))
        found.append(Detections(boxes=torch.stack(boxes) if boxes else torch.zeros(0, 4), labels=torch.ones(count, dtype=torch.int64),
                                scores=torch.linspace(0.9, 0.5, count), masks=MaskCrops.from_masks(masks)))  # fmt: skip
    return found


def image_with(*rectangles: tuple[int, int, int, int], size: tuple[int, int] = (60, 100)) -> torch.Tensor:
    image = torch.zeros(1, *size, dtype=torch.uint8)
    for y0, x0, y1, x1 in rectangles:
        image[0, y0:y1, x0:x1] = 255
    return image


def test_an_object_inside_the_overlap_is_found_once():
    image = image_with((20, 45, 30, 55))  # windows 0-59 and 40-99 both hold it whole
    found = detect_in_windows(image, regions, window=(60, 60), overlap=0.4, window_batch=2)
    assert len(found.scores) == 1
    assert torch.equal(found.masks.full()[0], image[0] > 0)
    assert found.boxes[0].tolist() == [45, 20, 55, 30]


def test_windows_two_steps_apart_still_meet_when_the_overlap_is_large():
    image = image_with((20, 50, 30, 58), size=(60, 140))  # windows start at x = 0, 24, 48, 72, 80: three hold it whole
    found = detect_in_windows(image, regions, window=(60, 60), overlap=0.6, window_batch=8)
    assert len(found.scores) == 1 and found.boxes[0].tolist() == [50, 20, 58, 30]


def test_an_object_larger_than_the_overlap_is_put_back_together():
    image = image_with((10, 10, 50, 90))  # cut by the right border of window 1 and the left border of window 2
    found = detect_in_windows(image, regions, window=(60, 60), overlap=0.4, window_batch=1)
    assert len(found.scores) == 1
    assert torch.equal(found.masks.full()[0], image[0] > 0)
    assert found.boxes[0].tolist() == [10, 10, 90, 50]


def test_a_fragment_gives_way_to_the_whole_object_of_another_window():
    image = image_with((20, 30, 30, 50))  # whole in window 0-59, cut (x 40-50) in window 40-99
    found = detect_in_windows(image, regions, window=(60, 60), overlap=0.4, window_batch=2)
    assert len(found.scores) == 1 and found.boxes[0].tolist() == [30, 20, 50, 30]


def test_distinct_objects_stay_distinct():
    image = image_with((5, 5, 15, 15), (20, 45, 30, 55), (40, 80, 55, 95))
    found = detect_in_windows(image, regions, window=(60, 60), overlap=0.4, window_batch=2)
    assert len(found.scores) == 3
    masks = found.masks.full()
    assert torch.equal(masks.any(0), image[0] > 0)
    assert (masks.sum(0) <= 1).all()  # no pixel claimed twice
    # each merged mask is held as its object's rectangle, not as an image-sized plane
    assert sorted(found.masks.rects) == [(5, 5, 15, 15), (20, 45, 30, 55), (40, 80, 55, 95)]


def test_one_window_over_the_whole_image_is_the_whole_image_pass():
    image = image_with((5, 5, 15, 15), (20, 45, 30, 55))
    windowed = detect_in_windows(image, regions, window=(512, 512), overlap=0.5, window_batch=4)
    (whole,) = regions([image])
    assert torch.equal(windowed.masks.full(), whole.masks.full()) and torch.equal(windowed.boxes, whole.boxes)


def test_a_mask_rcnn_file_predicts_in_windows(tmp_path):
    import pixelwise
    from pixelwise.errors import PixelwiseError
    from pixelwise.modelfile import save_pretrained

    torch.manual_seed(0)
    model = pixelwise.create_model("maskrcnn_r18", num_classes=2, fpn_channels=32, min_size=64, max_size=64)
    save_pretrained(model, tmp_path / "m")
    predictor = pixelwise.Predictor.from_file(tmp_path / "m", window=64, overlap=0.25, score_threshold=0.0)
    prediction = predictor(torch.randint(0, 256, (3, 80, 150), dtype=torch.uint8))
    assert prediction.masks.shape[1:] == (80, 150) and len(prediction.boxes) == len(prediction.masks)
    with pytest.raises(PixelwiseError, match="test-time augmentation .* is for semantic models"):
        pixelwise.Predictor.from_file(tmp_path / "m", flip=True)


def test_a_panoptic_file_predicts_in_windows(tmp_path):
    import pixelwise
    from pixelwise.modelfile import save_pretrained
    from pixelwise.modelfile.spec import spec_for_model

    torch.manual_seed(0)
    model = pixelwise.create_model("panoptic_fpn", num_classes=5, things=[2, 4], fpn_channels=32, semantic_channels=16,
                                   mask_head_convs=1, min_size=64, max_size=64)  # fmt: skip
    save_pretrained(model, tmp_path / "m", spec=spec_for_model(model, class_names=list("abcde"), ignore_index=None, things=[2, 4]))
    image = torch.randint(0, 256, (3, 64, 64), dtype=torch.uint8)
    whole = pixelwise.Predictor.from_file(tmp_path / "m")(image)
    one_window = pixelwise.Predictor.from_file(tmp_path / "m", window=96)(image)  # the image fits one window
    assert torch.equal(whole.segments, one_window.segments) and whole.segments_info == one_window.segments_info
    wide = pixelwise.Predictor.from_file(tmp_path / "m", window=64, overlap=0.5)(torch.randint(0, 256, (3, 64, 150), dtype=torch.uint8))
    assert wide.segments.shape == (64, 150)
    assert {s["id"] for s in wide.segments_info} == set(wide.segments.unique().tolist()) - {0}


def test_panoptic_windows_blend_in_bands_exactly_as_over_the_whole_image():
    from pixelwise.inference.panoptic_network import BandedClassMap
    from pixelwise.inference.sliding import importance_map, window_starts

    torch.manual_seed(0)
    height, width, classes, window = 150, 110, 5, (48, 40)
    origins = [(y, x) for y in window_starts(length=height, window=window[0], stride=20)
               for x in window_starts(length=width, window=window[1], stride=24)]  # fmt: skip
    logits = {origin: torch.randn(classes, *window) for origin in origins}
    sums, norm = torch.zeros(classes, height, width), torch.zeros(height, width)  # the whole-image accumulation
    gaussian = importance_map(window, blend="gaussian")
    banded = BandedClassMap(height=height, width=width, num_classes=classes)
    for (y, x), values in logits.items():
        sums[:, y : y + window[0], x : x + window[1]] += values * gaussian
        norm[y : y + window[0], x : x + window[1]] += gaussian
        banded.add(values, y=y, x=x)
    assert len({y for y, _ in origins}) > 3  # several rows of windows, so rows are finished along the way
    assert torch.equal(banded.finish().long(), (sums / norm).argmax(0))
    assert banded.peak_rows == window[0]  # one window's height of logits, not the image's 150 rows
    late = BandedClassMap(height=height, width=width, num_classes=classes)
    late.add(logits[origins[0]], y=0, x=0)
    late.add(logits[origins[-1]], y=origins[-1][0], x=origins[-1][1])
    with pytest.raises(ValueError, match="row order"):
        late.add(logits[origins[1]], y=0, x=origins[1][1])


def test_panoptic_windows_merge_only_detections_the_fusion_would_use(tmp_path, monkeypatch):
    import pixelwise
    from pixelwise.inference import panoptic_network
    from pixelwise.inference.panoptic_fusion import SCORE_THRESHOLD
    from pixelwise.modelfile import save_pretrained
    from pixelwise.modelfile.spec import spec_for_model

    torch.manual_seed(0)
    model = pixelwise.create_model("panoptic_fpn", num_classes=5, things=[2, 4], fpn_channels=32, semantic_channels=16,
                                   mask_head_convs=1, min_size=64, max_size=64)  # fmt: skip
    save_pretrained(model, tmp_path / "m", spec=spec_for_model(model, class_names=list("abcde"), ignore_index=None, things=[2, 4]))
    raw, merged = [], []  # each window's scores from the network; each window's detections given to the merge
    network_instances, merge = panoptic_network.NetworkInstances, panoptic_network.detect_in_windows

    def recorded_instances(output):
        raw.append(output["scores"])
        return network_instances(output)

    def recorded_merge(image, detect, **options):
        def recorded_detect(crops, origins):
            found = detect(crops, origins)
            merged.extend(found)
            return found

        return merge(image, recorded_detect, **options)

    monkeypatch.setattr(panoptic_network, "NetworkInstances", recorded_instances)
    monkeypatch.setattr(panoptic_network, "detect_in_windows", recorded_merge)
    pixelwise.Predictor.from_file(tmp_path / "m", window=64, overlap=0.5)(torch.randint(0, 256, (3, 64, 150), dtype=torch.uint8))
    assert (torch.cat(raw) < SCORE_THRESHOLD).any()  # the random network does give low scores ...
    assert all(bool((d.scores >= SCORE_THRESHOLD).all()) for d in merged)  # ... and none of them reach the merge
    assert len(merged) == len(raw)  # one Detections per window
