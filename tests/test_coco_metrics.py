"""Instance metrics: RLE against pycocotools, COCO AP of hand-computed cases, the components baseline, ``score --coco-gt``."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_api

from pixelwise.cli.main import main
from pixelwise.errors import PixelwiseError
from pixelwise.inference.components import paint_instances, semantic_to_instances
from pixelwise.metrics import (
    coco_ground_truth,
    decode_masks,
    detections_to_results,
    encode_masks,
    evaluate_coco,
    evaluate_coco_files,
    format_instance_table,
    ground_truth_annotations,
    rle_area,
    rle_to_box,
    write_instance_outputs,
)

# --- RLE ---------------------------------------------------------------------------------------------------


def reference_rles(masks: np.ndarray) -> list[dict]:
    """pycocotools' own encoding of (N, H, W) masks, the way its docs ask for it."""
    return mask_api.encode(np.asfortranarray(masks.transpose(1, 2, 0).astype(np.uint8)))


@pytest.mark.parametrize("shape", [(3, 7, 5), (2, 1, 1), (1, 33, 17), (4, 64, 48)])
def test_rle_round_trip_matches_pycocotools(shape):
    rng = np.random.default_rng(sum(shape))
    masks = rng.random(shape) > 0.5
    masks[0] = False  # empty
    if shape[0] > 1:
        masks[1] = True  # full
    rles = encode_masks(masks)  # C-ordered input
    assert all(isinstance(r["counts"], str) for r in rles)
    assert [r["counts"].encode() for r in rles] == [r["counts"] for r in reference_rles(masks)]
    assert json.loads(json.dumps(rles)) == rles
    decoded = decode_masks(rles)
    assert decoded.dtype == np.uint8 and decoded.shape == shape
    np.testing.assert_array_equal(decoded, masks)
    # bytes counts, a torch tensor, a non-contiguous view and uint8 input all give the same
    as_bytes = [{"size": r["size"], "counts": r["counts"].encode()} for r in rles]
    np.testing.assert_array_equal(decode_masks(as_bytes), masks)
    assert encode_masks(torch.from_numpy(masks)) == rles
    transposed = np.ascontiguousarray(masks.transpose(0, 2, 1)).transpose(0, 2, 1)  # same values, F-like strides
    assert encode_masks(transposed) == rles
    assert encode_masks(np.asfortranarray(masks)) == rles
    assert encode_masks(masks.astype(np.uint8) * 3) == rles  # nonzero is foreground
    np.testing.assert_array_equal(rle_area(rles), masks.reshape(shape[0], -1).sum(1))
    np.testing.assert_allclose(rle_to_box(rles, fmt="xywh"), mask_api.toBbox(reference_rles(masks)))


def test_area_of_more_rles_than_pycocotools_counts_in_a_byte():
    masks = np.zeros((300, 6, 5), bool)
    for k in range(300):
        masks[k].flat[: k % 31] = True
    np.testing.assert_array_equal(rle_area(encode_masks(masks)), masks.reshape(300, -1).sum(1))


def test_rle_single_mask_boxes_and_other_forms():
    mask = np.zeros((6, 8), bool)
    mask[1:3, 2:7] = True
    (rle,) = encode_masks(mask)
    assert rle["size"] == [6, 8]
    assert rle_area(rle) == 10
    np.testing.assert_array_equal(rle_to_box(rle), [2, 1, 7, 3])  # xyxy, one past the last pixel
    np.testing.assert_array_equal(rle_to_box(rle, fmt="xywh"), [2, 1, 5, 2])
    # uncompressed RLE (column-major runs: 8 zeros, then 2 ones, 4 zeros, ...) and a polygon
    uncompressed = {"size": [6, 8], "counts": [13, 2, 4, 2, 4, 2, 4, 2, 4, 2, 9]}
    polygon = [[2, 1, 7, 1, 7, 3, 2, 3]]  # pixel corners of the same rectangle
    decoded = decode_masks([rle, uncompressed, polygon], height=6, width=8)
    assert decoded.shape == (3, 6, 8)
    np.testing.assert_array_equal(decoded[0], mask)
    np.testing.assert_array_equal(decoded[1], mask)
    reference = decode_masks([mask_api.merge(mask_api.frPyObjects(polygon, 6, 8))])[0]  # pycocotools' rasterisation
    np.testing.assert_array_equal(decoded[2], reference)
    assert decode_masks([], height=6, width=8).shape == (0, 6, 8)
    assert encode_masks(np.zeros((0, 6, 8), bool)) == []
    with pytest.raises(PixelwiseError, match="threshold"):
        encode_masks(np.zeros((1, 6, 8), np.float32))
    with pytest.raises(PixelwiseError, match="height and width"):
        decode_masks([polygon])
    with pytest.raises(PixelwiseError, match="does not match"):
        decode_masks([rle], height=5, width=8)


# --- COCO AP -----------------------------------------------------------------------------------------------

SIZE = 100
CATEGORIES = [{"id": 7, "name": "person"}, {"id": 9, "name": "dog"}]
CATEGORY_IDS = [0, 7, 9]  # model label -> dataset category id; label 0 is the background


def box_masks(boxes: list[list[int]]) -> np.ndarray:
    masks = np.zeros((len(boxes), SIZE, SIZE), bool)
    for index, (x1, y1, x2, y2) in enumerate(boxes):
        masks[index, y1:y2, x1:x2] = True
    return masks


def dataset(boxes_per_image: dict[int, list[list[int]]], *, crowd: dict[int, list[int]] | None = None) -> dict:
    annotations = []
    for image_id, boxes in boxes_per_image.items():
        annotations += ground_truth_annotations(
            image_id=image_id, boxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
            labels=torch.ones(len(boxes), dtype=torch.int64), masks=torch.from_numpy(box_masks(boxes)),
            iscrowd=torch.tensor((crowd or {}).get(image_id, [0] * len(boxes))), category_ids=CATEGORY_IDS,
        )  # fmt: skip
    images = [{"id": image_id, "width": SIZE, "height": SIZE} for image_id in boxes_per_image]
    return coco_ground_truth(images=images, annotations=annotations, categories=CATEGORIES)


def detections(image_id: int, boxes: list[list[int]], scores: list[float], *, label: int = 1) -> list[dict]:
    probabilities = box_masks(boxes).astype(np.float32) * 0.9  # Mask R-CNN's float masks, thresholded at 0.5
    return detections_to_results(
        image_id=image_id, boxes=np.array(boxes, np.float32), labels=[label] * len(boxes), scores=scores,
        masks=probabilities[:, None], category_ids=CATEGORY_IDS,
    )  # fmt: skip


A, B = [10, 10, 30, 30], [60, 60, 80, 80]  # 20 x 20 boxes: "small" objects (area 400 < 32^2)


def test_perfect_predictions_score_one():
    gt = dataset({1: [A, B], 2: [B]})
    scores = evaluate_coco(ground_truth=gt, results=detections(1, [A, B], [0.9, 0.8]) + detections(2, [B], [0.7]))
    assert scores.kinds == ("box", "mask")
    assert scores.box_ap == scores.mask_ap == 1.0
    assert scores.per_class["mask"]["person"] == {"AP": 1.0, "AP50": 1.0, "AP75": 1.0}
    assert math.isnan(scores.per_class["box"]["dog"]["AP"])  # no ground truth: undefined, not 0
    assert math.isnan(scores.summary["box"]["AP_large"])  # COCOeval's -1
    assert scores.num_instances == {"person": 3, "dog": 0}
    assert any("dog" in note for note in scores.notes)
    data = json.loads(json.dumps(scores.to_dict(), allow_nan=False))
    assert data["summary"]["mask"]["AP"] == 1.0 and data["per_class"]["box"]["dog"]["AP"] is None
    assert "person" in format_instance_table(scores)


def test_hand_computed_ap_of_a_tp_fp_tp_ranking():
    # One image, two true persons A and B; three detections ranked by score:
    #   0.9 on A (TP), 0.8 on empty ground (FP), 0.7 on B (TP); IoU is 1 or 0, so every IoU threshold agrees.
    # Precision / recall after each rank: 1/1 @ 0.5, 1/2 @ 0.5, 2/3 @ 1.0.
    # Interpolated precision (best precision at recall >= r): 1 for r <= 0.5, 2/3 for r > 0.5.
    # COCO samples r = 0, 0.01, .., 1: 51 points (0 .. 0.50) at 1 and 50 points (0.51 .. 1) at 2/3,
    # so AP = (51 + 50 * 2/3) / 101 = 253/303 = 0.83498...
    # AR1 keeps only the best-scored detection: recall 1/2.
    gt = dataset({1: [A, B]})
    scores = evaluate_coco(ground_truth=gt, results=detections(1, [A, [40, 0, 50, 10], B], [0.9, 0.8, 0.7]))
    for kind in ("box", "mask"):
        summary = scores.summary[kind]
        for key in ("AP", "AP50", "AP75", "AP_small"):
            assert summary[key] == pytest.approx(253 / 303)
        assert (summary["AR1"], summary["AR10"], summary["AR100"]) == (0.5, 1.0, 1.0)
        assert math.isnan(summary["AP_medium"]) and math.isnan(summary["AP_large"])
        assert scores.per_class[kind]["person"]["AP"] == pytest.approx(253 / 303)
        curve = scores.pr_curves[kind]["person"]["AP50"]
        np.testing.assert_allclose(curve, [1.0] * 51 + [2 / 3] * 50)
        assert curve.mean() == pytest.approx(253 / 303)
    np.testing.assert_allclose(scores.recall_thresholds, np.linspace(0, 1, 101))


def test_crowd_regions_are_neither_missed_nor_false_positives():
    # Truth: person A and a crowd region B. A detection on the crowd (0.95) is ignored, not an FP;
    # the crowd without its own detection would not be an FN either: AP = 1.
    gt = dataset({1: [A, B]}, crowd={1: [0, 1]})
    assert evaluate_coco(ground_truth=gt, results=detections(1, [B, A], [0.95, 0.9])).mask_ap == pytest.approx(1.0)
    assert evaluate_coco(ground_truth=gt, results=detections(1, [A], [0.9])).box_ap == pytest.approx(1.0)
    # An FP (0.99) first, then the ignored crowd detection, then A: precision 1/2 at recall 1, so AP = 0.5
    # (it would be 1/3 if the crowd detection counted as an FP).
    scores = evaluate_coco(ground_truth=gt, results=detections(1, [[40, 0, 50, 10], B, A], [0.99, 0.95, 0.9]))
    assert scores.box_ap == pytest.approx(0.5) and scores.mask_ap == pytest.approx(0.5)
    assert scores.num_instances["person"] == 1


def test_images_without_annotations_and_empty_results():
    gt = dataset({1: [A], 2: []})
    # A detection on the empty image 2 outranks the TP: precision 1/2 at recall 1, AP = 0.5.
    scores = evaluate_coco(ground_truth=gt, results=detections(1, [A], [0.9]) + detections(2, [B], [0.95]))
    assert scores.box_ap == pytest.approx(0.5) and scores.num_images == 2
    empty = evaluate_coco(ground_truth=gt, results=[])
    assert empty.box_ap == 0.0 and empty.mask_ap == 0.0 and empty.num_detections == 0
    assert any("no detections" in note for note in empty.notes)
    nothing = evaluate_coco(ground_truth=dataset({1: []}), results=detections(1, [A], [0.9]))
    assert math.isnan(nothing.box_ap) and any("no instances" in note for note in nothing.notes)


def test_box_only_results_score_boxes_only():
    results = [{k: v for k, v in r.items() if k != "segmentation"} for r in detections(1, [A], [0.9])]
    scores = evaluate_coco(ground_truth=dataset({1: [A]}), results=results)
    assert scores.kinds == ("box",) and scores.box_ap == pytest.approx(1.0)
    with pytest.raises(PixelwiseError, match="mask AP was not computed"):
        _ = scores.mask_ap
    with pytest.raises(PixelwiseError, match="no 'segmentation'"):
        evaluate_coco(ground_truth=dataset({1: [A]}), results=results, iou_types=("bbox", "segm"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"category_id": 3}, "category_id 3, which is unknown; .* defines categories 7, 9"),
        ({"image_id": 42}, "image_id 42, which is unknown"),
        ({"score": float("nan")}, "'score' is nan"),
        ({"bbox": [0, 0, 10]}, "is not \\[x, y, width, height\\]"),
        ({"segmentation": {"size": [50, 50], "counts": "PPYo1"}}, "does not match the image's 100x100"),
    ],
)
def test_bad_results_are_one_line_errors(change, message):
    results = detections(1, [A], [0.9])
    results[0].update(change)
    with pytest.raises(PixelwiseError, match=message) as caught:
        evaluate_coco(ground_truth=dataset({1: [A]}), results=results)
    assert len(str(caught.value).splitlines()) == 1


def test_evaluate_coco_files_name_the_file(tmp_path):
    gt_path, res_path = tmp_path / "gt.json", tmp_path / "res.json"
    gt_path.write_text(json.dumps(dataset({1: [A]})))
    res_path.write_text(json.dumps(detections(1, [A], [0.9], label=2)))  # dog, which the truth does not have
    assert evaluate_coco_files(ground_truth=gt_path, results=res_path).per_class["box"]["person"]["AP"] == 0.0
    with pytest.raises(PixelwiseError, match=re.escape(f"{gt_path}: results must be a list") + ".*swap"):
        evaluate_coco_files(ground_truth=gt_path, results=gt_path)
    res_path.write_text("[{")
    with pytest.raises(PixelwiseError, match=re.escape(f"{res_path}: not valid JSON")):
        evaluate_coco_files(ground_truth=gt_path, results=res_path)
    with pytest.raises(PixelwiseError, match="missing.json: ground truth file does not exist"):
        evaluate_coco_files(ground_truth=tmp_path / "missing.json", results=res_path)


def test_ground_truth_ids_and_polygons():
    # Annotations numbered from 1 (COCOeval cannot match id 0); polygons and missing fields filled in.
    raw = {
        "images": [{"id": 5, "width": SIZE, "height": SIZE}],
        "annotations": [{"id": 0, "image_id": 5, "category_id": 7, "segmentation": [[10, 10, 30, 10, 30, 30, 10, 30]]}],
        "categories": CATEGORIES,
    }
    checked = coco_ground_truth(**raw)
    annotation = checked["annotations"][0]
    assert annotation["id"] == 1 and annotation["iscrowd"] == 0
    assert annotation["bbox"] == [10.0, 10.0, 20.0, 20.0] and isinstance(annotation["segmentation"]["counts"], str)
    results = detections(5, [A], [0.9])
    assert evaluate_coco(ground_truth=raw, results=results).mask_ap == pytest.approx(1.0)
    raw["annotations"][0]["category_id"] = 8
    with pytest.raises(PixelwiseError, match="annotation 0 has category_id 8"):
        coco_ground_truth(**raw)


# --- semantic -> instances -----------------------------------------------------------------------------------


def test_semantic_to_instances_on_a_hand_made_map():
    label_map = torch.tensor([
        [1, 1, 2, 0, 0, 0],
        [1, 1, 2, 0, 1, 1],
        [0, 0, 0, 0, 1, 1],
        [3, 0, 0, 0, 0, 0],
    ])  # fmt: skip
    probabilities = torch.zeros(4, 4, 6)
    probabilities[1] = 0.5
    probabilities[1, 0, 0] = 0.9  # first blob of class 1: mean (0.9 + 3 * 0.5) / 4 = 0.6
    found = semantic_to_instances(label_map, probabilities=probabilities, thing_classes=[1, 2])
    # two separate blobs of class 1, then the class-2 blob touching the first (a separate instance);
    # class 3 is not a thing class
    assert found["labels"].tolist() == [1, 1, 2]
    assert found["boxes"].tolist() == [[0, 0, 2, 2], [4, 1, 6, 3], [2, 0, 3, 2]]
    assert found["scores"].tolist() == pytest.approx([0.6, 0.5, 0.0])
    assert found["masks"].shape == (3, 4, 6) and found["masks"].dtype == torch.bool
    assert found["masks"].sum((1, 2)).tolist() == [4, 4, 2]
    assert found["boxes"].dtype == torch.float32 and found["scores"].dtype == torch.float32
    # the boxes agree with COCO's boxes of the masks
    np.testing.assert_array_equal(rle_to_box(encode_masks(found["masks"])), found["boxes"].numpy())
    assert semantic_to_instances(label_map, thing_classes=[1])["scores"].tolist() == [1.0, 1.0]
    assert len(semantic_to_instances(label_map, thing_classes=[1], min_area=5)["labels"]) == 0
    diagonal = torch.tensor([[1, 0], [0, 1]])
    assert len(semantic_to_instances(diagonal, thing_classes=[1])["labels"]) == 1
    assert len(semantic_to_instances(diagonal, thing_classes=[1], connectivity=4)["labels"]) == 2
    empty = semantic_to_instances(torch.zeros(4, 6, dtype=torch.int64), thing_classes=[1, 2])
    assert empty["boxes"].shape == (0, 4) and empty["masks"].shape == (0, 4, 6) and empty["labels"].dtype == torch.int64


def test_paint_instances_puts_the_most_confident_on_top():
    masks = torch.zeros(3, 2, 4, dtype=torch.bool)
    masks[0, :, :3] = True  # class 1, score 0.9
    masks[1, :, 1:] = True  # class 2, score 0.5
    masks[2, 0, 0] = True  # class 3, score 0.95
    painted = paint_instances(masks=masks, labels=torch.tensor([1, 2, 3]), scores=torch.tensor([0.9, 0.5, 0.95]), shape=(2, 4))
    assert painted.dtype == torch.int64
    assert painted.tolist() == [[3, 1, 1, 2], [1, 1, 1, 2]]
    blank = paint_instances(masks=torch.zeros(0, 2, 4), labels=torch.zeros(0), scores=torch.zeros(0), shape=(2, 4), background=7)
    assert blank.tolist() == [[7] * 4] * 2


# --- pixelwise score --coco-gt ---------------------------------------------------------------------------------


def test_score_cli_coco_end_to_end(tmp_path, capsys):
    gt_path, res_path = tmp_path / "gt.json", tmp_path / "res.json"
    gt_path.write_text(json.dumps(dataset({1: [A, B]})))
    res_path.write_text(json.dumps(detections(1, [A, [40, 0, 50, 10], B], [0.9, 0.8, 0.7])))
    out = tmp_path / "out"
    assert main(["score", "--coco-gt", str(gt_path), "--coco-results", str(res_path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "mask AP" in printed and "person" in printed and "0.835" in printed
    data = json.loads((out / "scores.json").read_text())
    assert data["summary"]["box"]["AP"] == pytest.approx(253 / 303)
    assert (out / "per_class.csv").read_text().splitlines()[0].startswith("class,category_id,instances,box_AP")
    assert (out / "pr_curves.png").read_bytes()[:4] == b"\x89PNG"

    res_path.write_text(json.dumps([{**detections(1, [A], [0.9])[0], "category_id": 3}]))
    assert main(["score", "--coco-gt", str(gt_path), "--coco-results", str(res_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(res_path) in err and "category_id 3" in err
    assert main(["score", "--coco-gt", str(gt_path)]) == 2
    assert "go together" in capsys.readouterr().err
    assert main(["score", str(tmp_path), str(tmp_path), "--coco-gt", str(gt_path), "--coco-results", str(res_path)]) == 2
    assert "not both" in capsys.readouterr().err


def test_written_outputs_handle_undefined_values(tmp_path):
    scores = evaluate_coco(ground_truth=dataset({1: [A]}), results=[])
    paths = write_instance_outputs(scores, tmp_path)
    assert [p.name for p in paths] == ["scores.json", "per_class.csv", "pr_curves.png"]
    rows = (tmp_path / "per_class.csv").read_text().splitlines()
    assert rows[2].startswith("dog,9,0,,")  # undefined -> empty cells
