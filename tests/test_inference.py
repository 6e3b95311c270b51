"""The Predictor contract: any predictor through evaluate and predict; preprocessing and scale from the file;
the exported ONNX file predicts what PyTorch predicts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import pixelwise
from pixelwise.cli.main import main
from pixelwise.data.transforms import eval_transform
from pixelwise.errors import PixelwiseError
from pixelwise.inference import NetworkPredictor, SemanticPredictor, Strategy
from pixelwise.inference.preprocess import normalize
from pixelwise.modelfile import Labels, Preprocess, read_any


class BrightIsForeground(SemanticPredictor):
    """A predictor with no network: class 1 where the mean intensity is above 127 (a fixed threshold)."""

    labels = Labels(class_names=("background", "foreground"))

    def class_scores(self, images):
        bright = images.float().mean(1) > 127  # (N, H, W)
        return torch.stack([~bright, bright], dim=1).float() * 10  # (N, 2, H, W)


def test_a_predictor_without_a_network_goes_through_evaluate_and_predict(tmp_path):
    predictor = BrightIsForeground()
    image = np.zeros((10, 12, 3), np.uint8)
    image[:, 6:] = 200
    prediction = predictor(image)
    assert prediction.label_map[:, :6].eq(0).all() and prediction.label_map[:, 6:].eq(1).all()
    torch.testing.assert_close(prediction.probabilities.sum(0), torch.ones(10, 12))
    assert prediction.class_areas() == {"background": 0.5, "foreground": 0.5}

    # shapes has 4 classes: scoring a 2-class predictor on it is refused, naming both counts
    with pytest.raises(PixelwiseError, match="model predicts 2 classes but shapes val has 4"):
        pixelwise.evaluate(predictor=predictor, dataset="shapes", split="val", dataset_options={"size": 32, "length": 4})

    Image.fromarray(image).save(tmp_path / "half.png")
    report = pixelwise.predict(predictor=predictor, inputs=[tmp_path / "half.png"], out=tmp_path / "pred", progress=False)
    written = np.asarray(Image.open(report.written[tmp_path / "half.png"][0]))
    assert written[:, :6].max() == 0 and written[:, 6:].min() == 1


def test_evaluate_scores_any_predictor_against_the_truth():
    """A predictor that returns the truth itself scores 1.0; evaluate counts every pixel of the split once."""
    data = pixelwise.create_dataset("shapes", split="val", size=32, length=6)
    truths = {data.load(i)[0].numpy().tobytes(): data.load(i)[1] for i in range(len(data))}

    class Oracle(SemanticPredictor):
        labels = Labels(class_names=data.class_names)

        def class_scores(self, images):
            masks = torch.stack([truths[image.numpy().tobytes()] for image in images])  # (N, H, W)
            return torch.nn.functional.one_hot(masks, 4).permute(0, 3, 1, 2).float()

    scores = pixelwise.evaluate(predictor=Oracle(), dataset="shapes", split="val", dataset_options={"size": 32, "length": 6},
                                batch_size=4)
    assert scores.mean_iou == 1.0 and int(scores.confusion.sum()) == 6 * 32 * 32


def test_predictor_normalises_exactly_like_the_data_pipeline():
    images = torch.randint(0, 256, (2, 3, 9, 7), dtype=torch.uint8)
    expected = torch.stack([eval_transform()(image, torch.zeros(9, 7, dtype=torch.int64))[0] for image in images])
    assert torch.equal(normalize(images, Preprocess()), expected)
    grey = torch.randint(0, 256, (1, 1, 5, 5), dtype=torch.uint8)
    assert torch.equal(normalize(grey, Preprocess(in_channels=1)), eval_transform()(grey[0], torch.zeros(5, 5))[0][None])


def test_the_file_s_input_scale_travels_to_every_path(tiny_run):
    """The tiny run trained at input_scale 0.5: the predictor runs the network at half size with no flag."""
    predictor = pixelwise.Predictor.from_file(tiny_run / "best.pt")
    assert predictor.strategy == Strategy(scale=0.5)
    seen = []
    backend = predictor.backend
    original = backend.__call__

    class Spy:
        def prepare(self, x):
            return backend.prepare(x)

        def __call__(self, x):
            seen.append(tuple(x.shape[-2:]))
            return original(x)

    spied = NetworkPredictor(backend=Spy(), spec=predictor.spec)
    assert spied(np.zeros((40, 60, 3), np.uint8)).label_map.shape == (40, 60)
    assert seen == [(20, 30)]
    assert pixelwise.Predictor.from_file(tiny_run / "best.pt", input_scale=1.0).strategy.scale == 1.0


def test_evaluate_reads_the_dataset_from_the_model_file(tiny_run, tmp_path, capsys):
    assert main(["evaluate", "--checkpoint", str(tiny_run / "best.pt"), "--split", "val", "--out", str(tmp_path)]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert sum(map(sum, metrics["confusion_matrix"])) == 16 * 32 * 32  # the recorded size and length
    # a flag overrides one recorded option and keeps the others
    scores = pixelwise.evaluate(checkpoint=tiny_run / "best.pt", split="val", dataset_options={"length": 3})
    assert int(scores.confusion.sum()) == 3 * 32 * 32


def test_export_writes_onnx_that_predicts_what_pytorch_predicts(tiny_run, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    onnx_path = tmp_path / "m.onnx"
    assert main(["export", str(tiny_run / "best.pt"), "--out", str(onnx_path)]) == 0
    printed = capsys.readouterr().out
    assert "checked on shapes val #0" in printed and "same class on" in printed
    report = pixelwise.export.export_model(model=tiny_run / "best.pt", out=onnx_path)
    assert report.max_logit_difference < 1e-3 and report.argmax_agreement >= 0.999

    onnx_predictor = pixelwise.Predictor.from_file(onnx_path)
    assert onnx_predictor.spec == read_any(tiny_run / "best.pt").spec  # preprocessing and labels travel in the metadata
    torch_predictor = pixelwise.Predictor.from_file(tiny_run / "best.pt", precision="fp32")
    image = np.random.default_rng(0).integers(0, 256, (37, 45, 3), dtype=np.uint8)
    agree = (onnx_predictor(image).label_map == torch_predictor(image).label_map).float().mean()
    assert agree >= 0.999

    Image.fromarray(image).save(tmp_path / "x.png")
    assert main(["predict", "--checkpoint", str(onnx_path), str(tmp_path / "x.png"), "--out", str(tmp_path / "pred"),
                 "--no-progress"]) == 0
    assert Image.open(tmp_path / "pred" / "x.png").size == (45, 37)


def test_a_sliver_of_an_image_keeps_at_least_one_pixel_when_shrunk():
    from pixelwise.inference.strategies import forward_at_scale

    def two_classes(x):
        return x[:, :2]

    assert forward_at_scale(two_classes, torch.rand(1, 3, 1, 1), scale=0.75).shape == (1, 2, 1, 1)
    assert forward_at_scale(two_classes, torch.rand(1, 3, 1, 40), scale=0.5).shape == (1, 2, 1, 40)
