"""Every runtime behind ``--backend`` gives the eager fp32 network's answers (int8: nearly), and each
misuse is one line naming the fix.

The ONNX export (dynamo exporter, 5-15 s) runs once per module: the ONNX runtimes read the exported
file; one CLI test exports on the fly from the ``.pt`` file as a user's ``--backend openvino`` does.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from PIL import Image

import pixelwise
import pixelwise.export
from pixelwise.cli.main import main
from pixelwise.data import create_dataset
from pixelwise.errors import PixelwiseError
from pixelwise.inference import Strategy, list_backends
from pixelwise.inference.calibration import calibration_images, network_inputs

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "m.onnx"
    pixelwise.export.export_model(model=tiny_run / "best.pt", out=path)
    return path


@pytest.fixture(scope="module")
def images():
    data = create_dataset("shapes", split="val", size=32, length=4)
    return torch.stack([data[i][0] for i in range(4)])  # (4, 3, 32, 32) uint8


def _eager(tiny_run, images):
    return pixelwise.Predictor.from_file(tiny_run / "best.pt", precision="fp32").class_scores(images)


def test_the_names_the_cli_offers():
    assert list_backends() == ["auto", "compile", "onnxruntime", "openvino", "openvino-int8", "torch"]


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_fp32_runtimes_give_the_eager_logits(backend, tiny_run, exported, images):
    if backend == "openvino":
        pytest.importorskip("openvino")
    scores = pixelwise.Predictor.from_file(exported, backend=backend).class_scores(images)
    assert (scores - _eager(tiny_run, images)).abs().max() < 1e-4


def test_compiled_network_gives_the_eager_logits(tiny_run, images):
    predictor = pixelwise.Predictor.from_file(tiny_run / "best.pt", backend="compile", precision="fp32")
    assert (predictor.class_scores(images) - _eager(tiny_run, images)).abs().max() < 1e-4


def _in_fresh_python(code: str, **values: str) -> dict:
    """Run ``code`` (``{name}`` fields filled from ``values``) in a new interpreter; return the JSON it prints.

    NNCF's accuracy control, run inside the pytest process, was followed minutes later by a segfault in an
    unrelated in-process training test (test_engine's kill-and-resume; not found: the ranking threads and a
    garbage collection were ruled out), so the tests that run it keep it in a process of its own.
    """
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code).format(**values)], capture_output=True,
                          text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_int8_is_quantised_and_keeps_the_classes(tiny_run, exported):
    pytest.importorskip("nncf")
    result = _in_fresh_python("""
        import json, torch, pixelwise
        from pixelwise.data import create_dataset
        data = create_dataset("shapes", split="val", size=32, length=4)
        images = torch.stack([data[i][0] for i in range(4)])
        scores = pixelwise.Predictor.from_file({exported!r}, backend="openvino-int8").class_scores(images)
        eager = pixelwise.Predictor.from_file({model!r}, precision="fp32").class_scores(images)
        agreement = (scores.argmax(1) == eager.argmax(1)).float().mean()
        print(json.dumps({{"difference": float((scores - eager).abs().max()), "agreement": float(agreement)}}))
    """, exported=str(exported), model=str(tiny_run / "best.pt"))
    assert result["difference"] > 1e-4  # it really runs quantised ...
    assert result["agreement"] >= 0.95  # ... and still segments


def test_int8_accuracy_control_reaches_its_agreement_where_plain_quantisation_does_not(exported):
    pytest.importorskip("openvino")
    pytest.importorskip("nncf")
    result = _in_fresh_python("""
        import json
        import numpy as np, openvino as ov
        from pixelwise.inference.backends.openvino import OpenVinoBackend, quantize

        rng = np.random.default_rng(0)
        inputs = [rng.standard_normal((2, 3, 32, 32)).astype(np.float32) for _ in range(6)]

        def classes(model):
            compiled = OpenVinoBackend(model, threads=1, precision="f32").compiled
            return [np.asarray(compiled(x)[0]).argmax(1) for x in inputs]

        def agreement(model):
            return float(np.mean([(a == b).mean() for a, b in zip(classes(model), fp32)]))

        fp32 = classes(ov.Core().read_model({exported!r}))
        plain = agreement(quantize(ov.Core().read_model({exported!r}), inputs, agreement=None))
        controlled = agreement(quantize(ov.Core().read_model({exported!r}), inputs, agreement=0.999))
        print(json.dumps({{"plain": plain, "controlled": controlled}}))
    """, exported=str(exported))
    assert result["plain"] < 0.999 <= result["controlled"]


def test_int8_warns_when_accuracy_control_runs_out_of_layers(exported, monkeypatch):
    ov = pytest.importorskip("openvino")
    nncf = pytest.importorskip("nncf")
    import logging

    from pixelwise.inference.backends.openvino import quantize

    def gives_up(model, calibration, validation, validate, **options):  # NNCF's words when nothing is left to revert
        logging.getLogger("nncf").info("The algorithm could not achieve the required accuracy drop.")
        return nncf.quantize(model, calibration, subset_size=6)

    monkeypatch.setattr(nncf, "quantize_with_accuracy_control", gives_up)
    inputs = [np.random.default_rng(i).standard_normal((2, 3, 32, 32)).astype(np.float32) for i in range(6)]
    with pytest.warns(UserWarning, match=r"of the calibration pixels their fp32 class, short of 99\.9%"):
        quantize(ov.Core().read_model(str(exported)), inputs, agreement=0.999)


def test_calibration_records_what_the_strategy_feeds_the_network(tiny_run, images):
    spec = pixelwise.Predictor.from_file(tiny_run / "best.pt").spec
    inputs = network_inputs(spec=spec, strategy=Strategy(scale=0.5, flip=True), images=[images[0], images[1]])
    assert [tuple(x.shape) for x in inputs] == [(2, 3, 16, 16)] * 2  # the image and its mirror at half size
    assert inputs[0].dtype == torch.float32 and inputs[0].mean().abs() < 3  # normalised, not 0-255
    windows = network_inputs(spec=spec, strategy=Strategy(window=8, overlap=0.0, window_batch=4), images=[images[0]])
    assert sum(x.shape[0] for x in windows) == 16 and {tuple(x.shape[-2:]) for x in windows} == {(8, 8)}


def test_calibration_images_come_from_the_training_split_or_a_folder(tiny_run, tmp_path):
    spec = pixelwise.Predictor.from_file(tiny_run / "best.pt").spec
    train = create_dataset("shapes", split="train", size=32, length=16)
    chosen = calibration_images(spec=spec, count=3)
    assert [torch.equal(chosen[k], train[i][0]) for k, i in enumerate((0, 8, 15))] == [True] * 3  # spread, first and last
    with pytest.raises(PixelwiseError, match="holds no images; pass --calibration FOLDER"):
        calibration_images(spec=spec, source=tmp_path)
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tmp_path / "a.png")
    assert [tuple(x.shape) for x in calibration_images(spec=spec, source=tmp_path)] == [(3, 20, 30)]


def test_misuse_is_one_line(tiny_run, exported):
    with pytest.raises(PixelwiseError, match="unknown backend 'tensorrt'; valid names: auto, compile"):
        pixelwise.Predictor.from_file(tiny_run / "best.pt", backend="tensorrt")
    with pytest.raises(PixelwiseError, match=r"runs the PyTorch model file \(.pt\); an .onnx file runs in onnxruntime"):
        pixelwise.Predictor.from_file(exported, backend="torch")
    from pixelwise.inference.backends.registry import BackendRequest, create_backend

    on_gpu = BackendRequest(network=None, in_channels=3, device=torch.device("cuda"), amp_dtype=None, calibration=list)
    with pytest.raises(PixelwiseError, match="backend 'openvino' runs on the CPU; pass --device cpu"):
        create_backend("openvino", on_gpu)


def test_detection_models_run_in_pytorch_or_onnxruntime_only(tmp_path):
    from pixelwise.modelfile import save_pretrained

    model = pixelwise.create_model("maskrcnn_r18", num_classes=2, fpn_channels=32, min_size=64, max_size=64)
    save_pretrained(model, tmp_path / "m")
    with pytest.raises(PixelwiseError, match="backend 'openvino' runs semantic networks; an instance maskrcnn_r18 model runs in torch or onnxruntime"):
        pixelwise.Predictor.from_file(tmp_path / "m", backend="openvino")


def test_cli_predicts_and_evaluates_in_openvino(tiny_run, tmp_path, capsys):
    pytest.importorskip("openvino")
    image = np.random.default_rng(0).integers(0, 256, (37, 45, 3), dtype=np.uint8)
    Image.fromarray(image).save(tmp_path / "x.png")
    for backend in ("torch", "openvino"):
        assert main(["predict", "--checkpoint", str(tiny_run / "best.pt"), str(tmp_path / "x.png"), "--out",
                     str(tmp_path / backend), "--backend", backend, "--precision", "fp32", "--no-progress"]) == 0
    same = np.asarray(Image.open(tmp_path / "torch" / "x.png")) == np.asarray(Image.open(tmp_path / "openvino" / "x.png"))
    assert same.mean() >= 0.999
    assert main(["evaluate", "--checkpoint", str(tiny_run / "best.pt"), "--split", "val", "--backend", "openvino",
                 "--out", str(tmp_path / "eval")]) == 0
    assert "mIoU" in capsys.readouterr().out
