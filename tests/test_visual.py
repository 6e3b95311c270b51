"""Tests of pixelwise.visual: exact colours and indices, decodable files, atomic writes."""

from __future__ import annotations

import inspect
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from pixelwise.constants import IGNORE_INDEX
from pixelwise.data.labels import voc_palette
from pixelwise.errors import PixelwiseError
from pixelwise.metrics import scores_from_confusion
from pixelwise.visual import (
    bar_chart,
    colorize,
    default_palette,
    error_image,
    normalize_confusion,
    overlay,
    plot_confusion_heatmap,
    plot_per_class_iou,
    plot_training_curves,
    save_label_png,
    save_panels,
    save_png,
    to_rgb_uint8,
)
from pixelwise.visual.panels import IGNORED_COLOR, RIGHT_COLOR, WRONG_COLOR

PALETTE = [(0, 0, 0), (230, 25, 75), (60, 180, 75), (0, 130, 200)]
NAMES = ["background", "circle", "square", "triangle"]


def _decode(path) -> Image.Image:
    with Image.open(path) as image:
        image.load()
        return image


# --- palette -------------------------------------------------------------------------------


def test_default_palette_is_voc_and_distinct():
    assert default_palette(5) == [(0, 0, 0), (128, 0, 0), (0, 128, 0), (128, 128, 0), (0, 0, 128)]
    colors = default_palette(256)
    assert len(set(colors)) == 256
    assert colors[255] == (224, 224, 192)  # VOC's colour of its 255 "void" border
    assert default_palette(300) == list(voc_palette(300))  # one colour map for datasets and pictures


def test_every_drawing_defaults_to_the_one_ignore_index():
    for draw in (colorize, overlay, save_label_png, error_image, save_panels):
        assert inspect.signature(draw).parameters["ignore_index"].default == IGNORE_INDEX, draw
    assert colorize(np.array([[0, IGNORE_INDEX]]), palette=PALETTE)[0, 1].tolist() == [255, 255, 255]


def test_importing_the_library_loads_no_matplotlib_tensorboard_or_onnx():
    # matplotlib is imported when a picture is drawn, TensorBoard when a run logs to it, onnx on export.
    modules = "pixelwise.data, pixelwise.losses, pixelwise.metrics, pixelwise.metrics.folders, pixelwise.visual, pixelwise.utils.atomic, pixelwise.utils.hardware"
    heavy = "{'matplotlib', 'tensorboard', 'onnx', 'onnxruntime', 'onnxscript'}"
    code = f"import sys, {modules}; print(sorted({heavy} & {{m.split('.')[0] for m in sys.modules}}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_colorize_maps_each_label_and_ignore_exactly():
    mask = torch.tensor([[0, 1, 2], [3, 255, 1]])
    out = colorize(mask, palette=PALETTE, ignore_index=255, ignore_color=(9, 8, 7))
    assert out.dtype == np.uint8 and out.shape == (2, 3, 3)
    expected = np.array([[PALETTE[0], PALETTE[1], PALETTE[2]], [PALETTE[3], (9, 8, 7), PALETTE[1]]], dtype=np.uint8)
    np.testing.assert_array_equal(out, expected)


def test_colorize_rejects_label_without_colour():
    with pytest.raises(ValueError, match=r"\[4\]"):
        colorize(np.array([[0, 4]]), palette=PALETTE)
    with pytest.raises(ValueError, match=r"\[-1\]"):
        colorize(np.array([[0, -1]]), palette=PALETTE)


def test_to_rgb_uint8_from_uint8_float_and_normalised():
    chw = torch.arange(3 * 2 * 4, dtype=torch.uint8).reshape(3, 2, 4)
    np.testing.assert_array_equal(to_rgb_uint8(chw), chw.permute(1, 2, 0).numpy())
    np.testing.assert_array_equal(to_rgb_uint8(chw.permute(1, 2, 0).numpy()), chw.permute(1, 2, 0).numpy())
    unit = torch.tensor([0.0, 0.5, 1.0]).reshape(3, 1, 1).expand(3, 2, 2)
    assert to_rgb_uint8(unit)[0, 0].tolist() == [0, 128, 255]
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    normalised = (unit - torch.tensor(mean).reshape(3, 1, 1)) / torch.tensor(std).reshape(3, 1, 1)
    assert to_rgb_uint8(normalised, mean=mean, std=std)[1, 1].tolist() == [0, 128, 255]
    grey = torch.full((1, 2, 2), 7, dtype=torch.uint8)
    assert to_rgb_uint8(grey)[0, 0].tolist() == [7, 7, 7]
    with pytest.raises(ValueError, match="mean= and std="):
        to_rgb_uint8(normalised)


# --- overlay and PNG files -----------------------------------------------------------------


def test_overlay_alpha_zero_is_image_and_alpha_one_is_colours():
    image = torch.randint(0, 256, (3, 5, 6), dtype=torch.uint8)
    mask = torch.randint(0, 4, (5, 6))
    mask[0, 0] = 255
    rgb = image.permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(overlay(image, mask, palette=PALETTE, alpha=0.0), rgb)
    full = overlay(image, mask, palette=PALETTE, alpha=1.0)
    np.testing.assert_array_equal(full[1:], colorize(mask, palette=PALETTE)[1:])
    np.testing.assert_array_equal(full[0, 0], rgb[0, 0])  # ignored pixels keep the image


def test_overlay_half_blend_by_hand():
    image = torch.tensor([100, 0, 201], dtype=torch.uint8).reshape(3, 1, 1)
    out = overlay(image, torch.tensor([[1]]), palette=PALETTE, alpha=0.5)
    # (100 + 230) / 2 = 165, (0 + 25) / 2 = 12.5 -> 12 (round half to even), (201 + 75) / 2 = 138
    assert out[0, 0].tolist() == [165, 12, 138]


def test_label_png_round_trips_indices_and_carries_palette(tmp_path):
    mask = np.random.default_rng(0).integers(0, 4, size=(7, 9))
    mask[0, :3] = 255
    path = save_label_png(torch.from_numpy(mask), tmp_path / "pred.png", palette=PALETTE)
    image = _decode(path)
    assert image.mode == "P" and image.size == (9, 7)
    np.testing.assert_array_equal(np.array(image), mask)
    table = np.array(image.getpalette()).reshape(-1, 3)
    np.testing.assert_array_equal(table[:4], PALETTE)
    assert table[255].tolist() == [255, 255, 255]  # the ignore index shows white

    plain = _decode(save_label_png(mask, tmp_path / "plain.png"))
    assert plain.mode == "L"
    np.testing.assert_array_equal(np.array(plain), mask)
    with pytest.raises(ValueError, match="0..255"):
        save_label_png(np.array([[0, 256]]), tmp_path / "big.png")


def test_save_png_rgb_and_16_bit(tmp_path):
    rgb = np.random.default_rng(1).integers(0, 256, size=(4, 5, 3), dtype=np.uint8)
    np.testing.assert_array_equal(np.array(_decode(save_png(rgb, tmp_path / "rgb.png"))), rgb)
    labels = np.array([[0, 300], [65535, 7]])
    np.testing.assert_array_equal(np.array(_decode(save_png(labels, tmp_path / "wide.png"))), labels)


# --- panels --------------------------------------------------------------------------------


def test_error_image_colours():
    truth = np.array([[0, 1, 255]])
    prediction = np.array([[0, 2, 3]])
    out = error_image(truth, prediction, ignore_index=255)
    assert [tuple(c) for c in out[0]] == [RIGHT_COLOR, WRONG_COLOR, IGNORED_COLOR]


def _samples(count: int, *, size: int = 32):
    generator = torch.Generator().manual_seed(count)
    images = torch.randint(0, 256, (count, 3, size, size), dtype=torch.uint8, generator=generator)
    truths = torch.randint(0, 4, (count, size, size), generator=generator)
    truths[:, :2] = 255
    predictions = torch.randint(0, 4, (count, size, size), generator=generator)
    return images, truths, predictions


def test_panels_height_grows_with_rows_and_width_with_error_map(tmp_path):
    sizes = {}
    for count, errors in ((1, False), (3, False), (3, True), (12, False)):
        images, truths, predictions = _samples(count)
        path = save_panels(images=images, truths=truths, predictions=predictions, path=tmp_path / f"{count}{errors}.png",
                           class_names=NAMES, palette=PALETTE, error_map=errors, max_rows=4)
        sizes[count, errors] = _decode(path).size  # (width, height)
    one, three, three_errors, capped = sizes[1, False], sizes[3, False], sizes[3, True], sizes[12, False]
    row_height = (three[1] - one[1]) / 2
    assert row_height > 150  # a 2.6-inch square cell at 100 dpi is ~260 px
    # 12 samples capped at 4 rows: 3 rows more than one sample (layout spacing shifts a few pixels).
    assert one[1] + 2.5 * row_height < capped[1] < one[1] + 3.5 * row_height
    assert three_errors[0] > three[0] * 1.25  # a fourth column
    assert three_errors[1] == pytest.approx(three[1], rel=0.05)


def test_panels_accept_normalised_float_images(tmp_path):
    images, truths, predictions = _samples(2)
    mean, std = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)
    normalised = (images.float() / 255 - 0.5) / 0.25
    path = save_panels(images=normalised, truths=truths, predictions=predictions, path=tmp_path / "p.png",
                       class_names=NAMES, palette=PALETTE, mean=mean, std=std, titles=["a.png", "b.png"])
    assert _decode(path).size[1] > 2 * 150
    with pytest.raises(ValueError, match="counts differ"):
        save_panels(images=images, truths=truths[:1], predictions=predictions, path=tmp_path / "x.png",
                    class_names=NAMES, palette=PALETTE)


# --- charts and curves ---------------------------------------------------------------------


def test_normalize_confusion_by_hand_with_empty_row():
    counts = torch.tensor([[3, 1, 0], [0, 0, 0], [2, 0, 2]])
    rows = normalize_confusion(counts, normalize="true")
    np.testing.assert_allclose(rows[0], [0.75, 0.25, 0.0])
    assert np.isnan(rows[1]).all()  # no truth pixels: blank, not "always wrong"
    np.testing.assert_allclose(rows[2], [0.5, 0.0, 0.5])
    columns = normalize_confusion(counts, normalize="pred")
    np.testing.assert_allclose(columns[:, 0], [0.6, 0.0, 0.4])
    assert np.isnan(columns[:, 1]).sum() == 0 and columns[0, 1] == 1.0
    np.testing.assert_allclose(normalize_confusion(counts, normalize="all").sum(), 1.0)
    np.testing.assert_array_equal(normalize_confusion(counts, normalize=None), counts.numpy())
    with pytest.raises(ValueError, match="normalize"):
        normalize_confusion(counts, normalize="rows")


def test_charts_and_curves_are_written_and_decodable(tmp_path):
    confusion = np.array([[50, 3, 2, 0], [4, 30, 1, 0], [0, 0, 0, 0], [1, 2, 3, 20]])
    scores = scores_from_confusion(confusion, class_names=NAMES)
    outputs = [
        plot_confusion_heatmap(confusion=confusion, class_names=NAMES, path=tmp_path / "cm.png"),
        plot_per_class_iou(scores=scores, path=tmp_path / "iou.png", palette=PALETTE),
        bar_chart(values=[0.5, math.nan, 0.25], labels=["a", "b", "c"], path=tmp_path / "bar.png",
                  title="share", xlabel="fraction", colors=PALETTE[1:]),
        plot_training_curves(history=[{"epoch": 1, "train_loss": 1.0, "val_loss": 1.2, "val_miou": 0.3},
                                      {"epoch": 2, "train_loss": 0.6},
                                      {"epoch": 3, "train_loss": 0.4, "val_loss": 0.5, "val_miou": 0.6}],
                             path=tmp_path / "curves.png"),
    ]
    for path in outputs:
        width, height = _decode(path).size
        assert width > 200 and height > 150, path
    # Without any mIoU the curves figure has one panel, so it is narrower.
    narrow = plot_training_curves(history=[{"train_loss": 1.0}, {"train_loss": 0.5}], path=tmp_path / "loss.png")
    assert _decode(narrow).size[0] < 0.8 * _decode(outputs[3]).size[0]


def test_vector_formats_follow_the_suffix(tmp_path):
    svg = bar_chart(values=[1.0], labels=["a"], path=tmp_path / "b.svg", title="t", xlabel="x")
    pdf = bar_chart(values=[1.0], labels=["a"], path=tmp_path / "b.pdf", title="t", xlabel="x")
    assert b"<svg" in svg.read_bytes()[:1000]
    assert pdf.read_bytes().startswith(b"%PDF")


def test_pyplot_global_state_is_untouched(tmp_path):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    bar_chart(values=[1.0], labels=["a"], path=tmp_path / "b.png", title="t", xlabel="x")
    plot_training_curves(history=[{"train_loss": 1.0}], path=tmp_path / "c.png")
    assert plt.get_fignums() == before


# --- atomic writes -------------------------------------------------------------------------


def test_failed_save_leaves_nothing_behind(tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("keep me")
    with pytest.raises(PixelwiseError, match="a file stands where a folder of its path should be"):
        bar_chart(values=[1.0], labels=["a"], path=blocker / "chart.png", title="t", xlabel="x")
    with pytest.raises(PixelwiseError, match="a file stands where a folder of its path should be"):
        save_label_png(np.zeros((2, 2), dtype=np.uint8), blocker / "mask.png")
    assert blocker.read_text() == "keep me"

    # A failure while writing (matplotlib knows no ".xyz" format) keeps the old file and no temporary one.
    existing = tmp_path / "chart.xyz"
    existing.write_bytes(b"old")
    with pytest.raises(ValueError):
        bar_chart(values=[1.0], labels=["a"], path=existing, title="t", xlabel="x")
    assert existing.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chart.xyz", "not_a_folder"]
