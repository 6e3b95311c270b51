"""Sliding-window inference and multi-scale + flip TTA: what is provable is checked exactly.

- A pointwise network (a 1x1 convolution: a pixel's logits depend on that pixel alone) gives the same
  logits in any window, so every window size, overlap and blend must reproduce whole-image inference.
- A real U-Net sees context, so windows change its output, except where one window covers the image
  (it is then whole-image inference) or windows tile it exactly once (it is then each tile's output).
- Memory: a label-only request never allocates a float tensor as large as the image's logits.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

import pixelwise
from pixelwise.cli.main import main
from pixelwise.errors import PixelwiseError
from pixelwise.inference import NetworkPredictor, Strategy
from pixelwise.inference.backends.torch import TorchBackend
from pixelwise.inference.sliding import importance_map, window_starts, window_stride
from pixelwise.modelfile import Labels, ModelSpec, Preprocess

CLASSES = 5


def pointwise_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Conv2d(3, CLASSES, kernel_size=1).eval()


def tiny_unet() -> nn.Module:
    torch.manual_seed(0)
    return pixelwise.create_model("unet", num_classes=CLASSES, base_channels=4, depth=2).eval()


def predictor_for(model: nn.Module, **options) -> NetworkPredictor:
    spec = ModelSpec(model="test", model_options={}, labels=Labels(class_names=tuple(f"c{i}" for i in range(CLASSES))),
                     preprocess=Preprocess())  # fmt: skip
    backend = TorchBackend(model, device=torch.device("cpu"), amp_dtype=None, channels_last=False)
    return NetworkPredictor(backend=backend, spec=spec, strategy=Strategy(**options))


def random_image(height: int, width: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (1, 3, height, width), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def test_the_last_window_is_shifted_back_inside_the_image():
    assert window_starts(length=100, window=64, stride=32) == [0, 32, 36]  # not 64, which would hang over
    assert window_starts(length=128, window=64, stride=64) == [0, 64]  # an exact tiling stays one
    assert window_starts(length=40, window=64, stride=32) == [0]  # smaller than a window: one, padded
    assert window_stride(64, 0.5) == 32 and window_stride(64, 0.25) == 48 and window_stride(64, 0.0) == 64
    assert window_stride(3, 0.9) == 1


def test_the_gaussian_importance_map_is_symmetric_positive_and_peaks_at_the_centre():
    for window in ((64, 64), (33, 48), (1, 7)):
        weights = importance_map(window, blend="gaussian")
        assert weights.shape == window and bool((weights > 0).all())
        assert torch.equal(weights, weights.flip(0)) and torch.equal(weights, weights.flip(1))
        assert torch.equal(weights, weights.flip(0, 1))
        assert weights.max() == 1.0 and weights.min() >= 1e-3
    weights = importance_map((64, 64), blend="gaussian")
    assert weights[31, 31] > weights[31, 10] > weights[31, 0]  # the centre counts most, the border least
    assert torch.equal(importance_map((8, 9), blend="mean"), torch.ones(8, 9))


@pytest.mark.parametrize(
    ("size", "window", "overlap", "blend"),
    [((64, 96), 32, 0.0, "gaussian"), ((50, 70), 32, 0.5, "gaussian"), ((50, 70), (24, 40), 0.25, "mean"),
     ((20, 30), 64, 0.5, "gaussian"), ((33, 100), (16, 64), 0.9, "gaussian")],
)  # fmt: skip
def test_a_pointwise_network_gives_the_whole_image_result_in_any_windows(size, window, overlap, blend):
    image = random_image(*size)
    whole = predictor_for(pointwise_net())
    windowed = predictor_for(pointwise_net(), window=window, overlap=overlap, blend=blend, window_batch=3)
    torch.testing.assert_close(windowed.class_scores(image), whole.class_scores(image), rtol=1e-5, atol=1e-5)
    expected = whole.predict_batch(image)[0]
    got = windowed.predict_batch(image)[0]
    assert got.label_map.dtype == torch.uint8 and torch.equal(got.label_map.long(), expected.label_map)
    torch.testing.assert_close(got.probabilities, expected.probabilities, rtol=1e-5, atol=1e-6)


def test_a_real_unet_in_one_window_or_an_exact_tiling():
    image = random_image(64, 96)
    net = tiny_unet()
    whole = predictor_for(net).class_scores(image)  # (1, K, 64, 96)
    one_window = predictor_for(net, window=(64, 96)).class_scores(image)
    torch.testing.assert_close(one_window, whole, rtol=1e-5, atol=1e-5)  # Gaussian weights cancel: w * l / w
    # overlap 0, 64 x 96 = 2 x 3 windows of 32: each pixel is its own tile's output, whatever the blend
    tiles = predictor_for(net, window=32, overlap=0.0, blend="mean").class_scores(image)
    with torch.no_grad():
        normalised = pixelwise.inference.preprocess.normalize(image, Preprocess())
        for y in (0, 32):
            for x in (0, 32, 64):
                torch.testing.assert_close(tiles[..., y : y + 32, x : x + 32], net(normalised[..., y : y + 32, x : x + 32]))
    assert not torch.allclose(tiles, whole, atol=1e-3)  # context matters to a U-Net: the check above is not vacuous


def test_an_image_smaller_than_a_window_is_padded_to_it_and_cropped_back():
    shapes = []
    net = pointwise_net()

    def spy(x):
        shapes.append(tuple(x.shape))
        return net(x)

    image = random_image(20, 50)
    whole = predictor_for(net).class_scores(image)
    windowed = predictor_for(net, window=(32, 32), overlap=0.25, window_batch=8)
    windowed.backend.model = spy
    scores = windowed.class_scores(image)
    assert scores.shape == (1, CLASSES, 20, 50)
    torch.testing.assert_close(scores, whole, rtol=1e-5, atol=1e-5)
    assert shapes == [(2, 3, 32, 32)]  # 20 rows padded to 32; 50 columns: windows at 0 and 18, batched together


class LargestFloat(TorchDispatchMode):
    """Records the largest floating-point tensor any operation returns."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for tensor in out if isinstance(out, tuple | list) else (out,):
            if isinstance(tensor, torch.Tensor) and tensor.is_floating_point():
                self.largest = max(self.largest, tensor.numel())
        return out


def test_a_label_only_request_never_holds_the_image_s_logits():
    height, width, window = 256, 192, 32
    image = random_image(height, width)
    full = CLASSES * height * width
    for scales in ((1.0,), (0.75, 1.25)):
        predictor = predictor_for(pointwise_net(), window=window, overlap=0.5, scales=scales, flip=True)
        with LargestFloat() as labels_only:
            prediction = predictor.predict_batch(image, probabilities=False)[0]
        assert prediction.probabilities is None and prediction.label_map.shape == (height, width)
        # a band of rows: K x (window + stride) rows x width at the largest scale, far below the image's K x H x W
        assert labels_only.largest <= CLASSES * 2 * (window + 16) * int(width * max(scales)), labels_only.largest
        assert labels_only.largest < full / 2
    with LargestFloat() as with_probabilities:
        predictor_for(pointwise_net(), window=window).predict_batch(image, probabilities=True)
    assert with_probabilities.largest >= full  # the instrument sees a full allocation when there is one


def test_tta_defaults_are_plain_inference_and_a_mirror_symmetric_net_is_unchanged_by_flip():
    image = random_image(40, 56)
    net = tiny_unet()
    plain = predictor_for(net).class_scores(image)
    assert torch.equal(predictor_for(net, scales=(1,), flip=False).class_scores(image), plain)
    # a convolution whose kernels are mirror images of themselves commutes with a horizontal flip
    torch.manual_seed(0)
    symmetric = nn.Conv2d(3, CLASSES, kernel_size=3, padding=1)
    with torch.no_grad():
        symmetric.weight.copy_((symmetric.weight + symmetric.weight.flip(-1)) / 2)
    for options in ({}, {"window": 24, "overlap": 0.5}):
        no_flip = predictor_for(symmetric, **options).class_scores(image)
        torch.testing.assert_close(predictor_for(symmetric, flip=True, **options).class_scores(image), no_flip)
    # an asymmetric net: flip TTA is the mean of the logits of the image and of its mirror (mirrored back)
    mirrored = predictor_for(net).class_scores(image.flip(-1)).flip(-1)
    torch.testing.assert_close(predictor_for(net, flip=True).class_scores(image), (plain + mirrored) / 2)


def test_multi_scale_averages_probabilities_over_every_scale_and_flip():
    image = random_image(32, 48)
    net = tiny_unet()
    passes = []
    for scale in (0.5, 1.0):
        for flip in (False, True):
            seen = image.flip(-1) if flip else image
            logits = predictor_for(net, scale=scale).class_scores(seen)
            passes.append(logits.flip(-1) if flip else logits)
    # within a scale the flip averages logits; across scales the softmax probabilities are averaged
    expected = torch.stack([torch.softmax((passes[0] + passes[1]) / 2, 1), torch.softmax((passes[2] + passes[3]) / 2, 1)]).mean(0)
    got = predictor_for(net, scales=(0.5, 1.0), flip=True).predict_batch(image)[0]
    torch.testing.assert_close(got.probabilities, expected[0], rtol=1e-5, atol=1e-6)
    assert torch.equal(got.label_map, expected[0].argmax(0))


def test_windows_compose_with_the_input_scale_and_with_multi_scale():
    """A pointwise net at input scale 0.5 and scales (0.75, 1.25): windows over each resized image give what
    whole-image inference gives, up to the uint8 rounding of the resized windows' pixels. (The sizes scale
    to whole pixels: resizing by a factor that does not is not mirror-symmetric, and the whole image is
    mirrored before resizing where windows are mirrored after.)"""
    image = random_image(64, 96)
    options = {"scale": 0.5, "scales": (0.75, 1.25), "flip": True}
    whole = predictor_for(pointwise_net(), **options).predict_batch(image)[0]
    windowed = predictor_for(pointwise_net(), window=16, **options).predict_batch(image)[0]
    torch.testing.assert_close(windowed.probabilities, whole.probabilities, rtol=0, atol=0.01)
    assert (windowed.label_map.long() == whole.label_map).float().mean() > 0.97
    # the same on float images through Strategy directly (the path validation uses): no rounding at all
    x = torch.randn(2, 3, 64, 96)
    strategy = Strategy(window=16, **options)
    torch.testing.assert_close(strategy(pointwise_net(), x).exp(), Strategy(**options)(pointwise_net(), x).exp(),
                               rtol=1e-5, atol=1e-6)  # fmt: skip


@pytest.mark.parametrize(
    ("options", "message"),
    [({"window": 0}, "window 0 is out of range"), ({"window": (32, 16, 8)}, "window (32, 16, 8) is not a size"),
     ({"overlap": 1.0}, "overlap 1.0 is out of range"), ({"overlap": -0.1}, "overlap -0.1 is out of range"),
     ({"scales": ()}, "scales () is not a non-empty list"), ({"scales": (1.0, 0.0)}, "scales 0.0 is out of range"),
     ({"window_batch": 0}, "window_batch 0 is out of range"), ({"blend": "max"}, "blend 'max' is not one of gaussian, mean")],
)  # fmt: skip
def test_bad_options_are_refused_in_one_line_naming_the_option(options, message):
    with pytest.raises(PixelwiseError, match=message.replace("(", r"\(").replace(")", r"\)")) as error:
        Strategy(**options)
    assert "\n" not in str(error.value)


def test_cli_flags_reach_the_predictor(tiny_run, tmp_path, monkeypatch, capsys):
    seen = []
    original = NetworkPredictor.predict_batch

    def spy(self, images, **kwargs):
        seen.append((self.strategy, kwargs))
        return original(self, images, **kwargs)

    monkeypatch.setattr(NetworkPredictor, "predict_batch", spy)
    from PIL import Image

    Image.fromarray(np.random.default_rng(0).integers(0, 256, (90, 150, 3), dtype=np.uint8)).save(tmp_path / "x.png")
    assert main(["predict", "--checkpoint", str(tiny_run / "best.pt"), str(tmp_path / "x.png"), "--out", str(tmp_path / "pred"),
                 "--window", "64", "--overlap", "0.25", "--scales", "0.75,1", "--flip", "--no-progress"]) == 0  # fmt: skip
    expected = Strategy(scale=0.5, window=(64, 64), overlap=0.25, scales=(0.75, 1.0), flip=True)
    assert seen == [(expected, {"probabilities": False})]  # the file's input scale kept; label maps only
    assert Image.open(tmp_path / "pred" / "x.png").size == (150, 90)

    seen.clear()
    assert main(["evaluate", "--checkpoint", str(tiny_run / "best.pt"), "--split", "val", "--dataset-option", "length=2",
                 "--window", "12,16", "--window-batch", "2", "--blend", "mean", "--overlap", "0"]) == 0  # fmt: skip
    assert seen and seen[0][0] == Strategy(scale=0.5, window=(12, 16), window_batch=2, blend="mean", overlap=0.0)

    capsys.readouterr()
    assert main(["predict", "--checkpoint", str(tiny_run / "best.pt"), str(tmp_path / "x.png"), "--out", str(tmp_path / "p2"),
                 "--overlap", "1"]) == 2  # fmt: skip
    assert "overlap 1.0 is out of range" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["predict", "--checkpoint", "m.pt", "x.png", "--out", "o", "--scales", "0.75,big"])


def test_predict_paints_colour_and_overlay_in_strips_pixel_for_pixel():
    from pixelwise.engine.predict import in_strips
    from pixelwise.visual.overlay import overlay
    from pixelwise.visual.palette import colorize, default_palette

    image, label = random_image(50, 30)[0], torch.randint(0, CLASSES, (50, 30), dtype=torch.uint8)
    palette = default_palette(CLASSES)
    assert np.array_equal(in_strips(lambda rows: colorize(label[rows], palette=palette), 50, rows=7), colorize(label, palette=palette))
    strips = in_strips(lambda rows: overlay(image[:, rows], label[rows], palette=palette, alpha=0.4), 50, rows=16)
    assert np.array_equal(strips, overlay(image, label, palette=palette, alpha=0.4))


def test_serve_takes_the_same_inference_options(monkeypatch, tiny_run):
    """One spelling everywhere: `pixelwise serve --window ... --scales ... --flip` reaches Predictor.from_file."""
    from pixelwise.inference import Predictor

    seen = {}

    def fake_from_file(path, **options):
        seen.update(options)
        raise SystemExit(0)  # stop before a socket is bound

    monkeypatch.setattr(Predictor, "from_file", staticmethod(fake_from_file))
    with pytest.raises(SystemExit):
        main(["serve", "--checkpoint", str(tiny_run / "best.pt"), "--window", "64", "--overlap", "0.25",
              "--scales", "0.75,1", "--flip", "--port", "0"])
    assert (seen["window"], seen["overlap"], seen["scales"], seen["flip"]) == (64, 0.25, (0.75, 1.0), True)
