"""Metrics against the course's worked example and an independent per-class computation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from pixelwise.constants import IGNORE_INDEX
from pixelwise.data.labels import LabelError
from pixelwise.errors import PixelwiseError
from pixelwise.metrics import ConfusionMatrix, confusion_matrix, format_table, scores_from_confusion


def worked_example_maps() -> tuple[torch.Tensor, torch.Tensor]:
    """The course's 4x4 image: class A (1) covers 2 truth pixels, the prediction hits one of them."""
    truth = torch.zeros(4, 4, dtype=torch.long)
    pred = torch.zeros(4, 4, dtype=torch.long)
    truth[0, 0] = truth[0, 1] = 1  # two A pixels
    pred[0, 0] = pred[1, 0] = 1  # one right, one false positive
    return pred, truth


def test_worked_example_confusion_and_scores():
    pred, truth = worked_example_maps()
    cm = confusion_matrix(pred, truth, num_classes=2)
    assert cm.tolist() == [[13, 1], [1, 1]]  # rows = truth (BG, A)
    # The course orders the matrix (A, BG): [[1, 1], [1, 13]]; the scores do not depend on order.
    s = scores_from_confusion(np.array([[1, 1], [1, 13]]), class_names=["A", "BG"])
    assert s.per_class["iou"][0] == pytest.approx(1 / 3)
    assert s.per_class["dice"][0] == pytest.approx(0.5)
    assert s.per_class["iou"][1] == pytest.approx(13 / 15)
    assert s.mean_iou == pytest.approx(0.6)
    assert s.pixel_accuracy == pytest.approx(14 / 16)
    for key in ("precision", "recall", "f1"):
        assert s.per_class[key][0] == pytest.approx(0.5)
        assert s.per_class[key][1] == pytest.approx(13 / 14)
    assert s.macro_f1 == pytest.approx((0.5 + 13 / 14) / 2)
    assert s.macro_f1 == pytest.approx(0.714285714)
    assert s.micro_f1 == pytest.approx(0.875)
    assert s.mean_accuracy == pytest.approx((0.5 + 13 / 14) / 2)
    assert s.fw_iou == pytest.approx(2 / 16 * 1 / 3 + 14 / 16 * 13 / 15)


def independent_scores(pred: np.ndarray, truth: np.ndarray, num_classes: int, ignore: int | None):
    """Per-class counts by boolean masks, one class at a time (no bincount, no confusion matrix)."""
    valid = np.ones_like(truth, dtype=bool) if ignore is None else truth != ignore
    out = {"iou": [], "dice": [], "precision": [], "recall": []}
    for c in range(num_classes):
        tp = np.sum((pred == c) & (truth == c) & valid)
        fp = np.sum((pred == c) & (truth != c) & valid)
        fn = np.sum((pred != c) & (truth == c) & valid)
        if tp + fp + fn == 0:
            for values in out.values():
                values.append(math.nan)
            continue
        out["iou"].append(tp / (tp + fp + fn))
        out["dice"].append(2 * tp / (2 * tp + fp + fn))
        out["precision"].append(tp / (tp + fp) if tp + fp else 0.0)
        out["recall"].append(tp / (tp + fn) if tp + fn else 0.0)
    accuracy = np.sum((pred == truth) & valid) / np.sum(valid)
    return {k: np.array(v) for k, v in out.items()}, accuracy


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_maps_match_independent_computation(seed):
    rng = np.random.default_rng(seed)
    num_classes, ignore = 6, 255
    truth = rng.integers(0, num_classes - 2, size=(5, 17, 23))  # classes 4 and 5 never in the truth
    pred = rng.integers(0, num_classes - 1, size=(5, 17, 23))  # class 4 predicted, 5 absent from both
    truth[rng.random(truth.shape) < 0.1] = ignore
    cm = ConfusionMatrix(num_classes=num_classes, ignore_index=ignore)
    for i in range(5):  # accumulate image by image
        cm.update(torch.from_numpy(pred[i]), torch.from_numpy(truth[i]))
    s = cm.compute()
    expected, accuracy = independent_scores(pred, truth, num_classes, ignore)
    for key, values in expected.items():
        np.testing.assert_allclose(s.per_class[key], values, equal_nan=True)
    assert math.isnan(s.per_class["iou"][5])  # absent from both -> undefined
    assert s.per_class["iou"][4] == 0.0  # predicted but absent from truth -> 0
    assert s.mean_iou == pytest.approx(np.nanmean(expected["iou"]))
    assert s.pixel_accuracy == pytest.approx(accuracy)
    assert s.micro_f1 == pytest.approx(accuracy)
    # Batch-wise accumulation equals one call on the whole stack.
    whole = confusion_matrix(torch.from_numpy(pred), torch.from_numpy(truth), num_classes=num_classes, ignore_index=ignore)
    assert torch.equal(whole, cm.matrix)


def test_ignored_pixels_are_not_counted_and_out_of_range_labels_raise():
    truth = torch.tensor([[0, 1, 255]])
    pred = torch.tensor([[0, 0, 1]])
    cm = confusion_matrix(pred, truth, num_classes=2, ignore_index=255)
    assert cm.tolist() == [[1, 0], [1, 0]]
    with pytest.raises(ValueError, match=r"truth has value\(s\) 2, not a class \(0\.\.1 or the ignore index 255\)"):
        confusion_matrix(pred, torch.tensor([[0, 2, 1]]), num_classes=2, ignore_index=255)
    with pytest.raises(ValueError, match=r"prediction has value\(s\) 7, not a class \(0\.\.1\)"):
        confusion_matrix(torch.tensor([[0, 7, 1]]), truth, num_classes=2, ignore_index=255)
    # a prediction at an ignored pixel is never counted, so any value is fine there
    assert confusion_matrix(torch.tensor([[0, 0, 9]]), truth, num_classes=2).tolist() == [[1, 0], [1, 0]]


def test_ignore_index_defaults_to_the_constant_and_none_counts_every_pixel():
    assert IGNORE_INDEX == 255
    truth = torch.tensor([[0, 1, 255]])
    pred = torch.tensor([[0, 0, 1]])
    assert confusion_matrix(pred, truth, num_classes=2).tolist() == [[1, 0], [1, 0]]  # 255 left out
    cm = ConfusionMatrix(num_classes=2)
    assert cm.ignore_index == IGNORE_INDEX
    cm.update(pred, truth)
    assert cm.matrix.tolist() == [[1, 0], [1, 0]]
    # ignore_index=None: every pixel counts, so a 255 in the truth is an error, not a skipped pixel
    with pytest.raises(LabelError, match=r"value\(s\) 255, not a class \(0\.\.1\)") as raised:
        confusion_matrix(pred, truth, num_classes=2, ignore_index=None)
    assert isinstance(raised.value, PixelwiseError) and isinstance(raised.value, ValueError)
    assert confusion_matrix(pred, torch.tensor([[0, 1, 1]]), num_classes=2, ignore_index=None).tolist() == [[1, 0], [1, 1]]


def test_undefined_scores_are_null_in_json_and_dash_in_table():
    s = scores_from_confusion(np.array([[3, 0, 0], [0, 0, 0], [1, 0, 2]]), class_names=["a", "b", "c"])
    data = json.loads(json.dumps(s.to_dict(), allow_nan=False))
    assert data["per_class"]["iou"][1] is None
    assert data["per_class"]["iou"][0] == pytest.approx(3 / 4)
    assert data["mean_iou"] == pytest.approx((3 / 4 + 2 / 3) / 2)  # class b left out of the mean
    assert data["confusion_matrix"] == [[3, 0, 0], [0, 0, 0], [1, 0, 2]]
    row_b = next(line for line in format_table(s).splitlines() if line.startswith("b "))
    assert "–" in row_b and "0." not in row_b


def test_table_has_one_row_per_class_with_name_iou_and_dice():
    s = scores_from_confusion(np.array([[1, 1], [1, 13]]), class_names=["sky", "road"])
    lines = format_table(s).splitlines()
    sky = next(line for line in lines if line.startswith("sky"))
    assert sky.split()[1:3] == ["0.333", "0.500"]
    assert "mIoU 0.600" in lines[-1]
