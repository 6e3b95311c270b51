"""One model file: what it records, every way it loads (best.pt, last.pt, save_pretrained folders, old formats)."""

from __future__ import annotations

import json

import pytest
import torch

import pixelwise
from pixelwise.errors import PixelwiseError
from pixelwise.modelfile import load_model, read_any, save_model, save_pretrained, spec_for_model


def test_best_and_last_load_and_record_what_inference_needs(tiny_run):
    best, last = read_any(tiny_run / "best.pt"), read_any(tiny_run / "last.pt")
    spec = best.spec
    assert spec.task == "semantic" and spec.model == "unet"
    assert spec.model_options["base_channels"] == 4
    assert spec.labels.class_names == ("background", "circle", "square", "triangle") and len(spec.labels.palette) == 4
    assert spec.preprocess.input_scale == 0.5 and spec.preprocess.size_divisor == 4
    assert spec.dataset == {"name": "shapes", "root": None, "options": {"size": 32, "length": 16},
                            "train_split": "train", "val_split": "val"}
    assert spec.source["train_config"]["lr"] == 1e-2
    assert best.training is None and "epoch" in spec.source  # best.pt: weights and spec only
    assert set(last.training) >= {"optimizer", "rng", "epoch", "step", "extra"}  # last.pt resumes
    for name in ("best.pt", "last.pt"):
        model = pixelwise.load_model(tiny_run / name)
        assert not model.training and model.pixelwise_spec.labels == spec.labels


def test_save_pretrained_folder_round_trips_bit_exactly(tiny_run, tmp_path):
    model = load_model(tiny_run / "best.pt")
    folder = save_pretrained(model, tmp_path / "shared")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    config = json.loads((folder / "config.json").read_text())
    assert config["format"] == "pixelwise.model" and config["spec"]["labels"]["class_names"][1] == "circle"
    images = torch.rand(2, 3, 20, 28)
    again = load_model(folder)
    assert again.pixelwise_spec == model.pixelwise_spec
    with torch.no_grad():
        torch.testing.assert_close(again(images), model(images), rtol=0, atol=0)
    (folder / "config.json").write_text("{not json")
    with pytest.raises(PixelwiseError, match=r"config\.json is not valid JSON"):
        load_model(folder)
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "model.safetensors").write_bytes(b"\x00" * 10)
    with pytest.raises(PixelwiseError, match=r"model\.safetensors is truncated or corrupt"):
        load_model(folder)


def test_files_in_the_two_earlier_formats_still_load(tmp_path):
    model = pixelwise.create_model("unet", num_classes=3, base_channels=4, depth=2).eval()
    recipe = dict(model.pixelwise_config)
    torch.save({"format": "pixelwise.model", "version": 1, "config": recipe, "state_dict": model.state_dict()},
               tmp_path / "saved.pt")
    torch.save({"format": "pixelwise-checkpoint", "format_version": 1, "model": model.state_dict(), "model_config": recipe,
                "class_names": ["a", "b", "c"], "palette": [[0, 0, 0], [1, 2, 3], [4, 5, 6]], "optimizer": None,
                "config": {"dataset": "shapes", "root": None, "dataset_options": {"size": 32}, "input_scale": 0.75},
                "epoch": 3, "step": 30}, tmp_path / "best.pt")  # fmt: skip
    images = torch.rand(1, 3, 24, 24)
    for name in ("saved.pt", "best.pt"):
        with torch.no_grad():
            torch.testing.assert_close(load_model(tmp_path / name)(images), model(images), rtol=0, atol=0)
    spec = read_any(tmp_path / "best.pt").spec
    assert spec.labels.class_names == ("a", "b", "c") and spec.preprocess.input_scale == 0.75
    assert spec.dataset["options"] == {"size": 32}
    torch.save({"format": "pixelwise-checkpoint", "format_version": 1, "model": {}, "model_config": None},
               tmp_path / "nameless.pt")
    with pytest.raises(PixelwiseError, match="does not say which model it holds; it cannot be converted"):
        load_model(tmp_path / "nameless.pt")


def test_weights_that_do_not_fit_the_recipe_and_onnx_files_get_one_line(tmp_path):
    model = pixelwise.create_model("unet", num_classes=3, base_channels=4, depth=2)
    spec = spec_for_model(model)
    other = pixelwise.create_model("unet", num_classes=3, base_channels=8, depth=2)
    from pixelwise.modelfile import write_model_file

    write_model_file(tmp_path / "mismatch.pt", spec=spec, state_dict=other.state_dict())
    with pytest.raises(PixelwiseError, match=r"weights in .*mismatch\.pt do not fit model 'unet'"):
        load_model(tmp_path / "mismatch.pt")
    (tmp_path / "m.onnx").write_bytes(b"")
    with pytest.raises(PixelwiseError, match="use pixelwise.Predictor.from_file"):
        load_model(tmp_path / "m.onnx")
    with pytest.raises(PixelwiseError, match="2 class names for a model with 3 classes; give one per class"):
        spec_for_model(model, class_names=["a", "b"])
    assert save_model(model, tmp_path / "plain.pt").is_file()
    assert read_any(tmp_path / "plain.pt").spec.labels.class_names == ("class_0", "class_1", "class_2")
