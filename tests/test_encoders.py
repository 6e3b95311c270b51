"""Encoders: what they report, where their weights come from, freezing, and the ONNX-safe pooling.

Nothing is downloaded: "no network" is simulated by making timm's and torchvision's download
functions raise the ``OSError`` they raise offline.
"""

from __future__ import annotations

import re
import urllib.error

import pytest
import safetensors.torch
import timm
import timm.models._builder
import torch
import torch.nn.functional as F
import torchvision.models._api
from torchvision.models.vgg import make_layers

from pixelwise.errors import PixelwiseError
from pixelwise.models import create_encoder, create_model, list_encoders
from pixelwise.models.pooling import adaptive_avg_pool2d

pytestmark = pytest.mark.usefixtures("one_cpu_thread")


OFFLINE_MESSAGE = (
    "could not download ImageNet weights for {} (no network?); pass pretrained=PATH to a local weights file"
)


@pytest.mark.parametrize(
    ("name", "options", "strides"),
    [
        ("test_resnet", {}, [2, 4, 8, 16, 32]),
        ("test_efficientnet", {"output_stride": 8}, [2, 4, 8, 8, 8]),
        ("vgg16", {"options": {"base_channels": 4}}, [2, 4, 8, 16, 32]),
        ("mobilenetv2_tf", {}, [2, 4, 8, 16, 32]),
    ],
)
def test_encoder_features_match_what_it_reports(name: str, options: dict, strides: list[int]) -> None:
    encoder = create_encoder(name, **options)
    assert encoder.reductions == strides
    features = encoder(torch.randn(1, 3, 64, 96))
    assert [f.shape[1] for f in features] == encoder.out_channels
    assert [(f.shape[2], f.shape[3]) for f in features] == [(64 // s, 96 // s) for s in strides]


def test_mobilenetv2_tf_taps_the_tutorials_layers() -> None:
    encoder = create_encoder("mobilenetv2_tf")
    # Keras MobileNetV2 (alpha 1.0): block_1/3/6/13_expand_relu and block_16_project.
    assert encoder.out_channels == [96, 144, 192, 576, 320]


def test_list_encoders_names_the_papers_encoders() -> None:
    assert {"vgg16", "vgg16_bn", "resnet18", "resnet34", "resnet50", "resnet101", "mobilenetv2_100",
            "mobilenetv3_large_100"} <= set(list_encoders())


def test_unknown_encoder_lists_names_and_similar_timm_models() -> None:
    with pytest.raises(PixelwiseError, match=r"unknown encoder 'resnt18'; use one of .*vgg16.* or any timm model name"):
        create_encoder("resnt18")


def test_encoder_option_it_does_not_take() -> None:
    with pytest.raises(PixelwiseError, match=r"encoder 'test_resnet' does not take the option\(s\) \['depth'\]"):
        create_encoder("test_resnet", options={"depth": 3})


def test_output_stride_errors() -> None:
    with pytest.raises(PixelwiseError, match="vgg16 has no dilated form"):
        create_encoder("vgg16", output_stride=16)
    with pytest.raises(PixelwiseError, match="output_stride must be one of 8, 16, 32, got 4"):
        create_encoder("test_resnet", output_stride=4)
    with pytest.raises(PixelwiseError, match="multi_grid needs a ResNet encoder"):
        create_encoder("test_efficientnet", output_stride=16, multi_grid=(1, 2, 4))


# --- pretrained weights ----------------------------------------------------------------------------


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(timm.models._builder, "load_state_dict_from_hf", no_network)
    monkeypatch.setattr(timm.models._builder, "load_state_dict_from_url", no_network)
    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", no_network)


@pytest.mark.parametrize("name", ["resnet18", "vgg16"])
def test_imagenet_weights_offline_give_one_line_error(name: str, offline: None) -> None:
    with pytest.raises(PixelwiseError) as error:
        create_encoder(name, pretrained="imagenet")
    assert str(error.value) == OFFLINE_MESSAGE.format(name)
    assert error.value.__suppress_context__  # no chained traceback from the download code


def test_imagenet_offline_through_create_model(offline: None) -> None:
    with pytest.raises(PixelwiseError, match=re.escape(OFFLINE_MESSAGE.format("resnet34"))):
        create_model("unet", num_classes=2, encoder="resnet34", pretrained="imagenet")


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_timm_encoder_loads_a_local_checkpoint(tmp_path, suffix: str) -> None:
    torch.manual_seed(1)
    source = timm.create_model("test_resnet")  # a whole classifier checkpoint, as timm publishes them
    path = tmp_path / f"weights{suffix}"
    if suffix == ".pth":
        torch.save(source.state_dict(), path)
    else:
        safetensors.torch.save_file(source.state_dict(), str(path))
    encoder = create_encoder("test_resnet", pretrained=str(path))
    loaded, expected = encoder.model.state_dict(), source.state_dict()
    assert len(loaded) > 20 and set(loaded) <= set(expected)  # every encoder tensor; the classifier is dropped
    for key, value in loaded.items():
        torch.testing.assert_close(value, expected[key], rtol=0, atol=0)


def test_checkpoint_of_another_model_is_a_clear_error(tmp_path) -> None:
    path = tmp_path / "other.pth"
    torch.save(timm.create_model("test_efficientnet").state_dict(), path)
    with pytest.raises(PixelwiseError, match=f"could not load {path} weights into encoder test_resnet"):
        create_encoder("test_resnet", pretrained=str(path))


def test_missing_or_broken_weights_file(tmp_path) -> None:
    with pytest.raises(PixelwiseError, match="pretrained weights file .*nope.pth does not exist"):
        create_encoder("vgg16", pretrained=str(tmp_path / "nope.pth"))
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(PixelwiseError, match=f"could not read weights file {broken}"):
        create_encoder("vgg16", pretrained=str(broken), options={"base_channels": 4})


@pytest.mark.parametrize("batch_norm", [False, True])
def test_vgg16_loads_torchvision_layout_in_layer_order(tmp_path, batch_norm: bool) -> None:
    # torchvision's VGG16 "D" configuration, 16x narrower: same layer order and indices.
    config = [4, 4, "M", 8, 8, "M", 16, 16, 16, "M", 32, 32, 32, "M", 32, 32, 32, "M"]
    torch.manual_seed(2)
    reference = make_layers(config, batch_norm=batch_norm).eval()
    path = tmp_path / "vgg.pth"
    torch.save({f"features.{key}": value for key, value in reference.state_dict().items()}, path)
    name = "vgg16_bn" if batch_norm else "vgg16"
    encoder = create_encoder(name, pretrained=str(path), options={"base_channels": 4}).eval()
    images = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(encoder(images)[-1], reference(images))


def test_vgg16_weights_that_do_not_fit(tmp_path) -> None:
    path = tmp_path / "vgg.pth"
    torch.save(create_encoder("vgg16", options={"base_channels": 8}).state_dict(), path)
    with pytest.raises(PixelwiseError, match="do not fit this VGG16 encoder"):
        create_encoder("vgg16", pretrained=str(path), options={"base_channels": 4})


def test_pretrained_rgb_weights_adapt_to_one_channel(tmp_path) -> None:
    path = tmp_path / "vgg.pth"
    rgb = create_encoder("vgg16", options={"base_channels": 4})
    torch.save(rgb.state_dict(), path)
    gray = create_encoder("vgg16", in_channels=1, pretrained=str(path), options={"base_channels": 4})
    # timm's rule for one channel: sum the RGB filters, so a grey image gives the same response.
    torch.testing.assert_close(gray.block1_conv1.weight, rgb.block1_conv1.weight.sum(dim=1, keepdim=True))


# --- freezing --------------------------------------------------------------------------------------


def test_frozen_encoder_gets_no_gradient_and_keeps_batchnorm_statistics() -> None:
    model = create_model("deeplabv3", num_classes=2, encoder="test_resnet", channels=8, freeze_encoder=True)
    model.train()
    assert not model.encoder.training and model.decoder.training
    before = model.encoder.model.bn1.running_mean.clone()
    F.cross_entropy(model(torch.randn(2, 3, 48, 48)), torch.randint(0, 2, (2, 48, 48))).backward()
    assert all(not p.requires_grad and p.grad is None for p in model.encoder.parameters())
    assert all(p.grad is not None for p in model.decoder.parameters())
    torch.testing.assert_close(model.encoder.model.bn1.running_mean, before, rtol=0, atol=0)


# --- pooling that exports with dynamic sizes -------------------------------------------------------


def test_adaptive_pool_hand_case() -> None:
    x = torch.arange(4.0).reshape(1, 1, 1, 4)  # 0 1 2 3
    # Width 4 into 3 bins: windows [0, 2), [1, 3), [2, 4) -> means 0.5, 1.5, 2.5.
    torch.testing.assert_close(adaptive_avg_pool2d(x, 3)[0, 0, 0], torch.tensor([0.5, 1.5, 2.5]))


@pytest.mark.parametrize("size", [(13, 17), (6, 6), (5, 3), (1, 1), (64, 48)])
@pytest.mark.parametrize("bins", [1, 2, 3, 6])
def test_adaptive_pool_equals_torch(size: tuple[int, int], bins: int) -> None:
    x = torch.randn(2, 3, *size)
    torch.testing.assert_close(adaptive_avg_pool2d(x, bins), F.adaptive_avg_pool2d(x, bins))
