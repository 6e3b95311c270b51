"""Panoptic Quality against numbers computed by hand, rule by rule of panopticapi's ``pq_compute``, and the
COCO panoptic format (PNG + JSON): round trip, one line per fault, ``pixelwise score`` end to end.

Every image is 10 x 10 = 100 pixels unless said otherwise, so pixel counts read as percentages.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pixelwise.cli.main import main
from pixelwise.data.panoptic_format import (
    id_to_rgb,
    load_panoptic_pair,
    read_panoptic_json,
    read_panoptic_png,
    rgb_to_id,
    write_panoptic,
    write_panoptic_json,
)
from pixelwise.errors import PixelwiseError
from pixelwise.metrics.panoptic_files import evaluate_panoptic_files
from pixelwise.metrics.panoptic_quality import PanopticQuality
from pixelwise.metrics.panoptic_report import format_panoptic_table, write_panoptic_csv

PERSON, CAR, SKY, ROAD = 1, 2, 3, 4
CATEGORIES = [
    {"id": PERSON, "name": "person", "isthing": 1},
    {"id": CAR, "name": "car", "isthing": 1},
    {"id": SKY, "name": "sky", "isthing": 0},
    {"id": ROAD, "name": "road", "isthing": 0},
]


def seg(segment_id: int, category_id: int, iscrowd: int = 0) -> dict:
    return {"id": segment_id, "category_id": category_id, "iscrowd": iscrowd}


def grid() -> np.ndarray:
    return np.zeros((10, 10), dtype=np.int64)


def score(pred, pred_segments, truth, truth_segments) -> PanopticQuality:
    quality = PanopticQuality(categories=CATEGORIES)
    quality.update(pred=pred, pred_segments=pred_segments, truth=truth, truth_segments=truth_segments)
    return quality


def counts(quality: PanopticQuality, name: str) -> tuple[int, int, int, float]:
    """(TP, FP, FN, IoU sum) of one category."""
    k = [c["name"] for c in CATEGORIES].index(name)
    return int(quality.tp[k]), int(quality.fp[k]), int(quality.fn[k]), float(quality.iou_sum[k])


# --- the matching rule: IoU strictly above 0.5 ------------------------------------------------------


def test_match_at_iou_0_51():
    truth = grid().reshape(-1)
    truth[:51], truth[51:] = 1, 2  # person (51 px), sky (49 px)
    pred = np.full((10, 10), 7)  # one person prediction over the whole image (100 px)
    quality = score(pred, [seg(7, PERSON)], truth.reshape(10, 10), [seg(1, PERSON), seg(2, SKY)])
    # (person 1, pred 7): I = 51, union = 100 + 51 - 51 - 0 void = 100 -> IoU 0.51 > 0.5: TP
    # sky: no sky prediction -> FN
    assert counts(quality, "person") == (1, 0, 0, pytest.approx(0.51))
    assert counts(quality, "sky") == (0, 0, 1, 0.0)
    scores = quality.compute()
    # person: PQ = 0.51 / (1 + 0 + 0) = 0.51, SQ = 0.51 / 1, RQ = 1; sky: PQ = 0 / (0 + ½·1) = 0, SQ 0 (TP = 0), RQ 0
    assert scores.per_class["person"] == {"pq": pytest.approx(0.51), "sq": pytest.approx(0.51), "rq": 1.0, "tp": 1, "fp": 0, "fn": 0}
    assert scores.per_class["sky"] == {"pq": 0.0, "sq": 0.0, "rq": 0.0, "tp": 0, "fp": 0, "fn": 1}
    # All: mean over person and sky (car and road have nothing: left out, n = 2)
    assert scores.groups["all"] == {"pq": pytest.approx(0.255), "sq": pytest.approx(0.255), "rq": 0.5, "n": 2}
    assert scores.groups["things"] == {"pq": pytest.approx(0.51), "sq": pytest.approx(0.51), "rq": 1.0, "n": 1}
    assert scores.groups["stuff"] == {"pq": 0.0, "sq": 0.0, "rq": 0.0, "n": 1}


def test_miss_at_iou_0_49():
    truth = grid().reshape(-1)
    truth[:49], truth[49:] = 1, 2  # person (49 px), sky (51 px)
    pred = np.full((10, 10), 7)
    quality = score(pred, [seg(7, PERSON)], truth.reshape(10, 10), [seg(1, PERSON), seg(2, SKY)])
    # (person 1, pred 7): I = 49, union = 100 + 49 - 49 = 100 -> IoU 0.49: no match
    # person truth -> FN; pred 7 -> FP (0 of its 100 px on void: 0 <= 0.5); sky -> FN
    assert counts(quality, "person") == (0, 1, 1, 0.0)
    assert counts(quality, "sky") == (0, 0, 1, 0.0)
    scores = quality.compute()
    # person: PQ = 0 / (0 + ½ + ½) = 0, RQ 0, SQ 0 (no TP)
    assert scores.per_class["person"]["pq"] == 0.0 and scores.per_class["person"]["rq"] == 0.0
    assert scores.pq == 0.0 and scores.groups["all"]["n"] == 2


# --- void --------------------------------------------------------------------------------------------


def test_void_pixels_are_taken_out_of_the_union():
    truth = grid()
    truth[0:4] = 1  # person, rows 0-3: 40 px
    truth[8:10] = 2  # sky, rows 8-9: 20 px; rows 4-7 stay void (40 px)
    pred = grid()
    pred[0:6] = 5  # person prediction: 40 px on the person + 20 px on void (rows 4-5)
    pred[8:10] = 5  # ... + 20 px on the sky: 80 px; rows 6-7 unpredicted (id 0)
    quality = score(pred, [seg(5, PERSON)], truth, [seg(1, PERSON), seg(2, SKY)])
    # I = 40, union = 80 + 40 - 40 - 20 (pred on void) = 60 -> IoU 2/3: TP.
    # Without the void rule the union would be 80 and IoU 40/80 = 0.5: no match.
    assert counts(quality, "person") == (1, 0, 0, pytest.approx(2 / 3))
    assert counts(quality, "sky") == (0, 0, 1, 0.0)  # the sky has no sky prediction
    assert quality.compute().per_class["person"]["pq"] == pytest.approx(2 / 3)


def test_prediction_mostly_on_void_is_ignored():
    truth = grid()
    truth[0:5] = 1  # sky, rows 0-4: 50 px; rows 5-9 void
    pred = grid()
    pred[0:5] = 2  # sky prediction ...
    pred[4:10, 0:5] = 9  # ... less 5 px taken by a person prediction: 5 px on sky + 25 px on void = 30 px
    quality = score(pred, [seg(2, SKY), seg(9, PERSON)], truth, [seg(1, SKY)])
    # (sky 1, pred 2): I = 45, union = 45 + 50 - 45 - 0 = 50 -> IoU 0.9: TP
    # person pred 9: no person truth; 25 / 30 = 0.83 of it on void > 0.5 -> ignored, not FP
    assert counts(quality, "sky") == (1, 0, 0, pytest.approx(0.9))
    assert counts(quality, "person") == (0, 0, 0, 0.0)
    scores = quality.compute()
    assert math.isnan(scores.per_class["person"]["pq"])  # nothing to count: undefined, out of the mean
    assert scores.groups["all"]["n"] == 1 and scores.pq == pytest.approx(0.9)


def test_prediction_half_on_void_is_a_false_positive():
    truth = grid()
    truth[0:5] = 1  # sky, 50 px; rows 5-9 void
    pred = grid()
    pred[0:4] = 2  # sky prediction, 40 px
    pred[4:6] = 8  # car prediction: row 4 on sky (10 px) + row 5 on void (10 px)
    quality = score(pred, [seg(2, SKY), seg(8, CAR)], truth, [seg(1, SKY)])
    # (sky 1, pred 2): I = 40, union = 40 + 50 - 40 = 50 -> IoU 0.8: TP
    # car pred 8: 10 / 20 = 0.5 on void, not more than half -> FP
    assert counts(quality, "sky") == (1, 0, 0, pytest.approx(0.8))
    assert counts(quality, "car") == (0, 1, 0, 0.0)


# --- crowd -------------------------------------------------------------------------------------------


def test_crowd_region_is_neither_missed_nor_a_false_positive_for_its_category():
    truth = grid()
    truth[0:5] = 1  # person crowd, rows 0-4: 50 px
    truth[5:7] = 2  # a person, rows 5-6: 20 px; rows 7-9 void
    pred = grid()
    pred[0:4] = 11  # person prediction on the crowd (40 px)
    pred[4] = 13  # car prediction on the person crowd (10 px)
    pred[5:7] = 12  # person prediction on the person
    quality = score(pred, [seg(11, PERSON), seg(12, PERSON), seg(13, CAR)], truth,
                    [seg(1, PERSON, iscrowd=1), seg(2, PERSON)])  # fmt: skip
    # crowd 1: never matched, never a FN
    # (person 2, pred 12): I = 20, union = 20 + 20 - 20 = 20 -> IoU 1: TP
    # pred 11: (0 void + 40 on the person crowd) / 40 = 1 > 0.5 -> ignored
    # pred 13 (car): the crowd is a person crowd, not a car one: 0 / 10 -> FP
    assert counts(quality, "person") == (1, 0, 0, 1.0)
    assert counts(quality, "car") == (0, 1, 0, 0.0)


def test_crowd_pixels_stay_in_the_union_when_matching():
    truth = grid()
    truth[0:2] = 1  # person crowd, 20 px
    truth[2:4] = 2  # a person, 20 px
    truth[4:10] = 3  # sky, 60 px
    pred = grid()
    pred[0:4] = 5  # person prediction: 20 px on the crowd + 20 px on the person
    pred[4:10] = 6  # sky prediction
    quality = score(pred, [seg(5, PERSON), seg(6, SKY)], truth, [seg(1, PERSON, iscrowd=1), seg(2, PERSON), seg(3, SKY)])
    # (person 2, pred 5): I = 20, union = 40 + 20 - 20 - 0 void = 40 -> IoU 0.5: no match (panopticapi takes
    # only void out of the union, not crowd). person 2 -> FN; pred 5: (0 + 20 crowd) / 40 = 0.5, not more -> FP
    # (sky 3, pred 6): IoU 1: TP
    assert counts(quality, "person") == (0, 1, 1, 0.0)
    assert counts(quality, "sky") == (1, 0, 0, 1.0)
    assert quality.compute().pq == pytest.approx(0.5)  # (0 + 1) / 2


# --- means ---------------------------------------------------------------------------------------------


def test_category_absent_everywhere_is_left_out_of_the_means():
    truth, pred = grid(), grid()
    truth[:] = 1
    pred[:] = 1  # sky everywhere, predicted exactly
    scores = score(pred, [seg(1, SKY)], truth, [seg(1, SKY)]).compute()
    # sky: TP 1, IoU 1 -> PQ 1; person, car, road: TP + FP + FN = 0 -> undefined, not in n
    assert scores.groups["all"]["n"] == 1 and scores.pq == 1.0
    assert scores.groups["stuff"] == {"pq": 1.0, "sq": 1.0, "rq": 1.0, "n": 1}
    assert scores.groups["things"]["n"] == 0 and math.isnan(scores.pq_things)  # no thing counted at all
    assert all(math.isnan(scores.per_class[name]["pq"]) for name in ("person", "car", "road"))
    data = scores.to_dict()
    assert data["things"]["pq"] is None and data["per_class"]["road"]["pq"] is None
    json.dumps(data, allow_nan=False)
    assert "3 categories have no segment" in scores.notes[0]


def things_and_stuff_image() -> tuple[np.ndarray, list[dict], np.ndarray, list[dict]]:
    truth = grid()
    truth[0:2] = 1  # person, 20 px
    truth[2:4] = 2  # car, 20 px
    truth[4:9] = 3  # sky, 50 px; row 9 void
    pred = grid()
    pred[0:2] = 1  # person, exact
    pred[4:8] = 3  # sky, 40 px; rows 2-3 unpredicted
    pred[8:10] = 4  # road: 10 px on sky + 10 px on void
    return pred, [seg(1, PERSON), seg(3, SKY), seg(4, ROAD)], truth, [seg(1, PERSON), seg(2, CAR), seg(3, SKY)]


def test_things_and_stuff_split():
    scores = score(*things_and_stuff_image()).compute()
    # person: IoU 1 -> PQ 1, SQ 1, RQ 1.  car: FN -> PQ 0, SQ 0, RQ 0.
    # sky: I = 40, union = 40 + 50 - 40 = 50 -> IoU 0.8: PQ 0.8, SQ 0.8, RQ 1.
    # road: 10 / 20 on void, not more than half -> FP: PQ 0, SQ 0, RQ 0.
    assert scores.groups["things"] == {"pq": 0.5, "sq": 0.5, "rq": 0.5, "n": 2}  # (1 + 0) / 2
    assert scores.groups["stuff"] == {"pq": pytest.approx(0.4), "sq": pytest.approx(0.4), "rq": 0.5, "n": 2}  # (0.8 + 0) / 2
    assert scores.groups["all"] == {"pq": pytest.approx(0.45), "sq": pytest.approx(0.45), "rq": 0.5, "n": 4}  # 1.8 / 4
    assert scores.pq_stuff == pytest.approx(0.4) and scores.pq_things == 0.5


def test_two_images_add_up_to_one_image_holding_both_side_by_side():
    a = things_and_stuff_image()
    b_truth = grid()
    b_truth[0:5], b_truth[5:7] = 1, 2  # person crowd, a person
    b_pred = grid()
    b_pred[0:4], b_pred[4], b_pred[5:7] = 11, 13, 12
    b = (b_pred, [seg(11, PERSON), seg(12, PERSON), seg(13, CAR)], b_truth, [seg(1, PERSON, 1), seg(2, PERSON)])
    two = PanopticQuality(categories=CATEGORIES)
    for pred, pred_segments, truth, truth_segments in (a, b):
        two.update(pred=pred, pred_segments=pred_segments, truth=truth, truth_segments=truth_segments)

    def shifted(segments):  # image b's ids + 100, so they stay apart from image a's
        return [{**s, "id": s["id"] + 100} for s in segments]

    wide_pred = np.concatenate([a[0], np.where(b[0] > 0, b[0] + 100, 0)], axis=1)  # (10, 20)
    wide_truth = np.concatenate([a[2], np.where(b[2] > 0, b[2] + 100, 0)], axis=1)
    one = score(wide_pred, a[1] + shifted(b[1]), wide_truth, a[3] + shifted(b[3]))
    assert torch.equal(two.stats, one.stats)
    assert two.compute().groups == one.compute().groups
    assert two.compute().num_images == 2


def test_update_takes_tensors_and_all_reduce_sums_over_processes(tmp_path):
    pred, pred_segments, truth, truth_segments = things_and_stuff_image()
    quality = PanopticQuality(categories=CATEGORIES)
    quality.update(pred=torch.from_numpy(pred).int(), pred_segments=pred_segments,
                   truth=torch.from_numpy(truth), truth_segments=truth_segments)  # fmt: skip
    before = quality.stats.clone()
    assert quality.stats.dtype == torch.float64
    quality.all_reduce()  # not initialised: nothing to do
    torch.distributed.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        quality.all_reduce()  # one process: the sum is itself
    finally:
        torch.distributed.destroy_process_group()
    assert torch.equal(quality.stats, before)
    quality.reset()
    assert quality.stats.sum() == 0 and quality.compute().num_images == 0


def test_a_truth_segment_without_pixels_is_missed_as_panopticapi_counts_it():
    truth, pred = grid(), grid()
    truth[:], pred[:] = 1, 1
    quality = score(pred, [seg(1, SKY)], truth, [seg(1, SKY), seg(2, PERSON)])  # person 2 lost to a resize
    assert counts(quality, "person") == (0, 0, 1, 0.0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p, ps, t, ts: (p, ps[:1], t, ts), "prediction: segment id 3 is in the PNG but not in segments_info"),
        (lambda p, ps, t, ts: (p, [*ps, seg(50, CAR)], t, ts), "segment id 50 is in segments_info but has no pixel"),
        (lambda p, ps, t, ts: (p, [*ps, seg(0, CAR)], t, ts), "segment id 0 is out of range"),
        (lambda p, ps, t, ts: (p, [seg(1, 9), *ps[1:]], t, ts), "segment 1 has category_id 9, which is unknown"),
        (lambda p, ps, t, ts: (p, ps, t, ts[:1] + ts), "truth: segment id 1 is listed twice"),
        (lambda p, ps, t, ts: (p[:, :5], ps, t, ts), "differ in size"),
        (lambda p, ps, t, ts: (p.astype(np.float32), ps, t, ts), "give integer segment ids"),
        (lambda p, ps, t, ts: (p, ps, t, ts[1:]), "truth: segment id 1 is in the PNG but not in segments_info"),
    ],
)
def test_update_refuses_bad_input_with_one_line(change, message):
    pred, pred_segments, truth, truth_segments = change(*things_and_stuff_image())
    with pytest.raises(PixelwiseError, match=message) as error:
        score(pred, pred_segments, truth, truth_segments)
    assert "\n" not in str(error.value)


# --- presentation -----------------------------------------------------------------------------------


def test_per_class_table_and_csv(tmp_path):
    scores = score(*things_and_stuff_image()).compute()
    table = format_panoptic_table(scores)
    lines = table.splitlines()
    assert lines[0].split() == ["class", "kind", "PQ", "SQ", "RQ", "TP", "FP", "FN"]
    assert lines[2].split() == ["person", "thing", "1.000", "1.000", "1.000", "1", "0", "0"]
    assert lines[3].split() == ["car", "thing", "0.000", "0.000", "0.000", "0", "0", "1"]
    assert lines[4].split() == ["sky", "stuff", "0.800", "0.800", "1.000", "1", "0", "0"]
    assert lines[5].split() == ["road", "stuff", "0.000", "0.000", "0.000", "0", "1", "0"]
    assert lines[7].split() == ["All", "0.450", "0.450", "0.500", "n", "=", "4"]
    assert lines[8].split() == ["Things", "0.500", "0.500", "0.500", "n", "=", "2"]
    assert lines[9].split() == ["Stuff", "0.400", "0.400", "0.500", "n", "=", "2"]
    assert "1 image, 4 categories" in table

    absent = format_panoptic_table(score(grid() + 1, [seg(1, SKY)], grid() + 1, [seg(1, SKY)]).compute())
    assert absent.splitlines()[2].split() == ["person", "thing", "–", "–", "–", "0", "0", "0"]
    assert "Things" in absent and "n = 0" in absent and "note: 3 categories" in absent

    rows = list(csv.DictReader(write_panoptic_csv(scores, tmp_path / "pq.csv").open()))
    assert [r["class"] for r in rows] == ["person", "car", "sky", "road", "all", "things", "stuff"]
    assert rows[2] == {"class": "sky", "category_id": "3", "isthing": "0", "pq": "0.800000", "sq": "0.800000",
                       "rq": "1.000000", "tp": "1", "fp": "0", "fn": "0", "n": ""}  # fmt: skip
    assert rows[4]["pq"] == "0.450000" and rows[4]["n"] == "4" and rows[4]["fn"] == "1" and rows[4]["fp"] == "1"


# --- the COCO panoptic format ------------------------------------------------------------------------


def test_id_rgb_round_trip():
    ids = np.array([[0, 1, 256], [65536, 256**3 - 1, 1 + 256 + 65536]])
    rgb = id_to_rgb(ids)  # id = R + 256·G + 256²·B
    assert rgb.dtype == np.uint8
    assert rgb.tolist() == [[[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 0, 1], [255, 255, 255], [1, 1, 1]]]
    assert np.array_equal(rgb_to_id(rgb), ids)


def panoptic_map() -> tuple[np.ndarray, list[dict]]:
    ids = np.zeros((6, 8), dtype=np.int64)
    ids[0:3] = 1  # sky: 24 px, bbox x 0, y 0, w 8, h 3
    ids[3:5, 2:5] = 70000  # a person: 6 px, bbox x 2, y 3, w 3, h 2 (an id needing all three channels)
    ids[5, 7] = 300  # a car: 1 px at x 7, y 5
    return ids, [seg(1, SKY), seg(70000, PERSON), seg(300, CAR)]


def test_format_round_trip(tmp_path):
    ids, segments = panoptic_map()
    annotation = write_panoptic(tmp_path / "png", file_name="a.png", segments=torch.from_numpy(ids),
                                segments_info=segments, image_id=7, categories=CATEGORIES)  # fmt: skip
    assert annotation == {"image_id": 7, "file_name": "a.png", "segments_info": [
        {"id": 1, "category_id": SKY, "iscrowd": 0, "area": 24, "bbox": [0, 0, 8, 3]},
        {"id": 70000, "category_id": PERSON, "iscrowd": 0, "area": 6, "bbox": [2, 3, 3, 2]},
        {"id": 300, "category_id": CAR, "iscrowd": 0, "area": 1, "bbox": [7, 5, 1, 1]},
    ]}  # fmt: skip
    assert np.array_equal(read_panoptic_png(tmp_path / "png" / "a.png"), ids)
    images = [{"id": 7, "width": 8, "height": 6, "file_name": "a.jpg"}]
    write_panoptic_json(tmp_path / "a.json", annotations=[annotation], categories=CATEGORIES, images=images)
    raw = json.loads((tmp_path / "a.json").read_text())
    assert raw["annotations"] == [annotation] and raw["categories"] == CATEGORIES and raw["images"] == images
    data = read_panoptic_json(tmp_path / "a.json")
    back, back_segments = load_panoptic_pair(annotation=data["annotations"][0], png_dir=tmp_path / "png",
                                             categories=data["categories"], size=(6, 8))  # fmt: skip
    assert np.array_equal(back, ids)
    assert [(s["id"], s["category_id"], s["iscrowd"]) for s in back_segments] == [(1, SKY, 0), (70000, PERSON, 0), (300, CAR, 0)]


def write_pair(root: Path, name: str) -> tuple[Path, Path]:
    """A one-image panoptic JSON + PNG folder (``root/name.json``, ``root/name/``), as any tool would write."""
    ids, segments = panoptic_map()
    annotation = write_panoptic(root / name, file_name="a.png", segments=ids, segments_info=segments,
                                image_id=7, categories=CATEGORIES)  # fmt: skip
    images = [{"id": 7, "width": 8, "height": 6, "file_name": "a.jpg"}]
    return write_panoptic_json(root / f"{name}.json", annotations=[annotation], categories=CATEGORIES, images=images), root / name


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("side", "change", "message"),
    [
        ("pred", lambda d: d["annotations"][0]["segments_info"].pop(1),
         r"pred/a\.png \(image 7\): segment id 70000 is in the PNG but not in segments_info"),
        ("pred", lambda d: d["annotations"][0]["segments_info"].append(seg(5, CAR)),
         r"pred/a\.png \(image 7\): segment id 5 is in segments_info but has no pixel in the PNG"),
        ("pred", lambda d: d["annotations"][0]["segments_info"][2].update(category_id=42),
         r"pred/a\.png \(image 7\): segment 300 has category_id 42, which is unknown"),
        ("pred", lambda d: d["annotations"][0]["segments_info"].append(seg(300, CAR)),
         r"pred/a\.png \(image 7\): segment id 300 is listed twice"),
        ("gt", lambda d: d["images"][0].update(width=9),
         r"gt/a\.png \(image 7\): size 8x6 differs from the image's 9x6"),
        ("gt", lambda d: d["categories"][0].pop("isthing"), r"gt\.json: category 1 \(person\) has isthing None"),
        ("pred", lambda d: d["annotations"][0].update(image_id=8), r"pred\.json: no annotation for image_id 7"),
        ("pred", lambda d: d["annotations"].append({**d["annotations"][0], "image_id": 9}),
         r"pred\.json: image_id 9 is not in .*gt\.json"),
        ("pred", lambda d: d.pop("annotations"), r"pred\.json: no 'annotations' list"),
    ],
)
def test_each_format_fault_gives_one_line(tmp_path, side, change, message):
    gt_json, gt_dir = write_pair(tmp_path, "gt")
    pred_json, pred_dir = write_pair(tmp_path, "pred")
    edit_json(gt_json if side == "gt" else pred_json, change)
    with pytest.raises(PixelwiseError, match=message) as error:
        evaluate_panoptic_files(gt_json=gt_json, gt_dir=gt_dir, pred_json=pred_json, pred_dir=pred_dir)
    assert "\n" not in str(error.value)


def test_a_prediction_png_of_another_size_or_kind_gives_one_line(tmp_path):
    gt_json, _ = write_pair(tmp_path, "gt")
    pred_json, pred_dir = write_pair(tmp_path, "pred")
    Image.fromarray(np.zeros((6, 7), np.uint8)).convert("RGB").save(pred_dir / "a.png")
    with pytest.raises(PixelwiseError, match=r"a\.png \(image 7\): size 7x6 differs from the image's 8x6"):
        evaluate_panoptic_files(gt_json=gt_json, pred_json=pred_json)
    Image.fromarray(np.zeros((6, 8), np.uint8)).save(pred_dir / "a.png")  # greyscale
    with pytest.raises(PixelwiseError, match=r"a\.png: has 1 channel\(s\) of 8 bits; a panoptic PNG is 8-bit RGB"):
        evaluate_panoptic_files(gt_json=gt_json, pred_json=pred_json)


def test_score_cli_end_to_end(tmp_path, capsys):
    gt_json, _ = write_pair(tmp_path, "gt")
    pred_json, pred_dir = write_pair(tmp_path, "pred")
    # the prediction misses the car (its pixel painted void) -> car FN; sky and person exact
    ids = read_panoptic_png(pred_dir / "a.png")
    ids[ids == 300] = 0
    Image.fromarray(id_to_rgb(ids)).save(pred_dir / "a.png")
    edit_json(pred_json, lambda d: d["annotations"][0]["segments_info"].pop(2))
    out_json, out_dir = tmp_path / "scores.json", tmp_path / "out"
    code = main(["score", "--panoptic-gt", str(gt_json), "--panoptic-pred", str(pred_json),
                 "--panoptic-pred-dir", str(pred_dir), "--json", str(out_json), "--out", str(out_dir)])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    # person PQ 1, car PQ 0 (FN): things (1 + 0) / 2 = 0.5; sky PQ 1: stuff 1; all (1 + 0 + 1) / 3
    things = next(line for line in printed.splitlines() if line.startswith("Things"))
    assert things.split() == ["Things", "0.500", "0.500", "0.500", "n", "=", "2"]
    data = json.loads(out_json.read_text())
    assert data["all"]["pq"] == pytest.approx(2 / 3) and data["all"]["n"] == 3 and data["stuff"]["pq"] == 1.0
    assert data["per_class"]["car"] == {"pq": 0.0, "sq": 0.0, "rq": 0.0, "tp": 0, "fp": 0, "fn": 1}
    assert (out_dir / "scores.json").is_file() and (out_dir / "per_class.csv").is_file()

    code = main(["score", "--panoptic-gt", str(gt_json), "--panoptic-pred", str(tmp_path / "missing.json")])
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1 and "missing" in error
    code = main(["score", "--panoptic-gt", str(gt_json)])
    assert code == 2 and "--panoptic-pred go together" in capsys.readouterr().err
