"""The model zoo: every architecture through one parametrized test, plus the papers' details.

Models are tiny (a few thousand to a few hundred thousand parameters: ``base_channels`` 4-8,
timm's ``test_*`` encoders) and inputs 97 x 131 (odd, not a multiple of 32) so the file runs
in well under a minute on two CPU cores. Nothing is downloaded: ImageNet downloads are
simulated to fail.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import pixelwise
from pixelwise.errors import PixelwiseError
from pixelwise.modelfile import load_model, save_model
from pixelwise.models import create_model, list_models
from pixelwise.models.registry import model_task
from pixelwise.models.upsample import bilinear_kernel
from pixelwise.registry import UnknownNameError

VGG_TINY = {"base_channels": 4}


pytestmark = pytest.mark.usefixtures("one_cpu_thread")


# (model, options): every registered model at least once, on at least two encoders where it takes one.
CASES: list[tuple[str, dict[str, Any]]] = [
    ("fcn32s", {"encoder_options": VGG_TINY, "fc_channels": 16}),
    ("fcn16s", {"encoder_options": VGG_TINY, "head": "light", "upsampling": "bilinear"}),
    ("fcn8s", {"encoder_options": VGG_TINY, "fc_channels": 16}),
    ("fcn8s", {"encoder": "test_resnet", "head": "light", "upsampling": "nearest"}),
    ("unet", {"base_channels": 4, "depth": 3}),
    ("unet", {"base_channels": 4, "upsampling": "bilinear"}),
    ("unet", {"encoder": "test_efficientnet", "decoder_channels": (16, 16, 8, 8, 8)}),
    ("unet", {"encoder": "test_convnext", "decoder_channels": (16, 16, 8, 8, 8), "upsampling": "nearest"}),
    ("unet", {"encoder": "test_resnet", "decoder_channels": (16, 8, 8)}),  # decoder stops at stride 4
    ("unet_pix2pix", {"encoder": "test_efficientnet", "decoder_channels": (16, 16, 8, 8)}),
    ("unet_pix2pix", {"encoder": "vgg16", "encoder_options": VGG_TINY, "decoder_channels": (16, 16, 8, 8)}),
    ("segnet", {"encoder_options": VGG_TINY}),
    ("segnet", {"encoder": "vgg16", "encoder_options": VGG_TINY, "dropout": 0.5}),
    ("pspnet", {"encoder": "test_resnet", "channels": 16}),
    ("pspnet", {"encoder": "test_efficientnet", "output_stride": 16, "channels": 16, "aux": False}),
    ("deeplabv3", {"encoder": "test_resnet", "output_stride": 8, "multi_grid": (1, 2, 4), "channels": 16, "aux": True}),
    ("deeplabv3", {"encoder": "test_efficientnet", "channels": 16}),
    ("deeplabv3plus", {"encoder": "test_resnet", "channels": 16, "low_level_channels": 8}),
    ("deeplabv3plus", {"encoder": "test_efficientnet", "output_stride": 8, "channels": 16, "low_level_channels": 8,
                       "separable": False, "upsampling": "transpose"}),
    ("lraspp", {"encoder": "mobilenetv3_small_050", "channels": 16}),
    ("lraspp", {"encoder": "test_efficientnet", "channels": 16, "freeze_encoder": True}),
]


def _case_id(case: tuple[str, dict[str, Any]]) -> str:
    name, options = case
    return f"{name}-{options.get('encoder', 'default')}"


def build(name: str, options: dict[str, Any], *, num_classes: int = 3) -> nn.Module:
    torch.manual_seed(0)
    return create_model(name, num_classes=num_classes, **options)


def test_cases_cover_every_registered_semantic_model() -> None:
    """Every semantic model; the instance models (Mask R-CNN) are tested in test_instance.py."""
    assert {name for name in list_models() if model_task(name) == "semantic"} == {name for name, _ in CASES}
    assert {"fcn32s", "fcn16s", "fcn8s", "unet", "unet_pix2pix", "segnet", "pspnet", "deeplabv3", "deeplabv3plus",
            "lraspp"} <= set(list_models())


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_forward_backward_and_save_load(case: tuple[str, dict[str, Any]], tmp_path) -> None:
    name, options = case
    model = build(name, options)
    images = torch.randn(2, 3, 97, 131)
    target = torch.randint(0, 3, (2, 97, 131))

    if model.aux_head is None:
        logits = model(images)
        loss = F.cross_entropy(logits, target)
    else:  # the papers' deep supervision: the auxiliary loss weighs 0.4
        logits, aux = model(images, return_aux=True)
        assert aux.shape == (2, 3, 97, 131)
        loss = F.cross_entropy(logits, target) + 0.4 * F.cross_entropy(aux, target)
    assert logits.shape == (2, 3, 97, 131)
    assert torch.isfinite(logits).all()
    loss.backward()
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert trainable and all(p.grad is not None and torch.isfinite(p.grad).all() for p in trainable)
    # Some gradient reaches the first layer (the encoder) unless the encoder is frozen.
    first = next(model.encoder.parameters())
    assert (first.grad is not None and first.grad.abs().sum() > 0) == (not options.get("freeze_encoder", False))

    model.eval()
    with torch.no_grad():
        expected = model(images)
    path = save_model(model, tmp_path / "model.pt")
    loaded = load_model(path)
    assert type(loaded) is type(model) and not loaded.training
    # the file holds JSON values: a tuple option (decoder_channels) comes back as a list
    assert json.loads(json.dumps(loaded.pixelwise_config)) == json.loads(json.dumps(model.pixelwise_config))
    with torch.no_grad():
        torch.testing.assert_close(loaded(images), expected, rtol=0, atol=0)


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_only_the_head_makes_class_scores_and_padding_fits_the_encoder(case: tuple[str, dict[str, Any]]) -> None:
    """encoder -> decoder -> head: every class-sized layer is in the head; inputs pad to the deepest stride."""
    name, options = case
    model = build(name, options, num_classes=7).eval()
    other = build(name, options, num_classes=5)
    # Only the heads depend on num_classes: every other parameter has the same name and shape.
    body = {k: v.shape for k, v in model.state_dict().items() if not k.startswith(("head.", "aux_head."))}
    assert body == {k: v.shape for k, v in other.state_dict().items() if not k.startswith(("head.", "aux_head."))}
    assert any(k.startswith("head.") for k in model.state_dict())

    assert model.size_divisor == max(model.encoder.reductions)
    images = torch.randn(1, 3, 37, 53)  # odd, not a multiple of any stride
    padded = torch.zeros(1, 3, 64, 64)  # a multiple of every stride
    with torch.no_grad():
        features = model.encoder(padded)
        decoded = model.decoder(features)
        scores = model.head(decoded)
        logits = model(images)
    for feature, reduction in zip(features, model.encoder.reductions, strict=True):
        assert feature.shape[-2:] == (64 // reduction, 64 // reduction)  # the reductions the divisor comes from
    levels = decoded if isinstance(decoded, list) else [decoded]
    assert all(level.shape[1] != 7 for level in levels)  # features, not class scores
    assert scores.shape[:2] == (1, 7)
    assert logits.shape == (1, 7, 37, 53)


def test_load_model_needs_neither_network_nor_the_original_weights_file(tmp_path) -> None:
    import timm

    weights = tmp_path / "encoder.pth"
    torch.save(timm.create_model("test_resnet").state_dict(), weights)
    model = create_model("unet", num_classes=2, encoder="test_resnet", pretrained=str(weights),
                         decoder_channels=(16, 16, 8, 8, 8)).eval()
    saved = save_model(model, tmp_path / "unet.pt")
    weights.unlink()
    images = torch.randn(1, 3, 40, 40)
    with torch.no_grad():
        torch.testing.assert_close(load_model(saved)(images), model(images), rtol=0, atol=0)


def test_load_model_rejects_other_files(tmp_path) -> None:
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(PixelwiseError, match="is not a pixelwise model file"):
        load_model(tmp_path / "other.pt")
    with pytest.raises(PixelwiseError, match="does not exist"):
        load_model(tmp_path / "missing.pt")


@pytest.mark.parametrize("size", [(1, 1), (17, 23), (64, 64), (33, 200)])
def test_any_input_size_gives_input_sized_logits(size: tuple[int, int]) -> None:
    model = build("deeplabv3plus", {"encoder": "test_resnet", "channels": 8, "low_level_channels": 4}).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, *size)).shape == (1, 3, *size)


@pytest.mark.parametrize("name", ["pspnet", "deeplabv3"])
def test_aux_head_only_when_asked(name: str) -> None:
    model = build(name, {"encoder": "test_resnet", "channels": 8, "aux": True}, num_classes=5)
    images = torch.randn(2, 3, 40, 56)
    assert isinstance(model(images), torch.Tensor)
    logits, aux = model(images, return_aux=True)
    assert logits.shape == aux.shape == (2, 5, 40, 56)
    without = build(name, {"encoder": "test_resnet", "channels": 8, "aux": False})
    with pytest.raises(PixelwiseError, match="no auxiliary head"):
        without(images, return_aux=True)


def test_short_unet_decoder_stops_early_and_upsamples_the_logits() -> None:
    # test_resnet gives strides 2..32: five up-blocks reach stride 1, three stop at stride 4.
    model = create_model("unet", num_classes=3, encoder="test_resnet", decoder_channels=(16, 8, 8)).eval()
    assert len(model.decoder.blocks) == 3
    images = torch.randn(2, 3, 97, 131)
    with torch.no_grad():
        features = model.decoder(model.encoder(torch.zeros(1, 3, 128, 160)))
        logits = model(images)
    assert features.shape[-2:] == (32, 40)  # stride 4 of the padded input
    assert logits.shape == (2, 3, 97, 131)
    with pytest.raises(PixelwiseError, match="decoder_channels takes 1 to 5 widths"):
        create_model("unet", num_classes=3, encoder="test_resnet", decoder_channels=(16, 16, 8, 8, 8, 8))


def test_unknown_model_lists_valid_names() -> None:
    with pytest.raises(UnknownNameError) as error:
        create_model("deeplabv4", num_classes=2)
    for name in list_models():
        assert name in str(error.value)


def test_unknown_option_lists_the_options() -> None:
    with pytest.raises(PixelwiseError, match="no option backbone.*encoder"):
        create_model("pspnet", num_classes=2, backbone="resnet18")


def test_bad_upsampling_is_one_line_error() -> None:
    with pytest.raises(PixelwiseError, match="unknown upsampling 'cubic'; choose one of transpose, nearest, bilinear"):
        create_model("unet", num_classes=2, base_channels=4, upsampling="cubic")


def test_classic_unet_parameter_count() -> None:
    assert sum(p.numel() for p in create_model("unet", num_classes=1).parameters()) == 31_043_521


def test_config_records_defaults_for_rebuilding() -> None:
    model = create_model("unet", num_classes=2, base_channels=4)
    assert model.pixelwise_config == {
        "name": "unet", "num_classes": 2, "in_channels": 3, "encoder": None, "pretrained": None,
        "freeze_encoder": False, "encoder_options": None, "base_channels": 4, "depth": 4,
        "decoder_channels": None, "upsampling": "transpose",
    }


def test_public_api_exports() -> None:
    assert pixelwise.create_model is create_model
    assert callable(pixelwise.load_model) and callable(pixelwise.save_model) and callable(pixelwise.Predictor.from_file)


# --- pixelwise models: the table ----------------------------------------------------------------


def test_flops_count_two_per_multiply_add() -> None:
    from pixelwise.models.profile import count_flops

    conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
    # 8 filters x 3 channels x 3 x 3 taps at each of 10 x 10 positions = 21,600 multiply-adds.
    assert count_flops(conv, height=10, width=10) == 2 * 21_600


def test_models_command_prints_params_and_gflops(capsys: pytest.CaptureFixture[str]) -> None:
    from pixelwise.cli.main import main

    assert main(["models", "unet", "lraspp"]) == 0
    table = capsys.readouterr().out
    assert "| unet | paper | 31.04 |" in table and "| lraspp | mobilenetv3_large_100 |" in table
    assert main(["models", "segnett"]) == 2
    assert "unknown model 'segnett'" in capsys.readouterr().err


def test_models_command_measures_fp32_and_skips_emulated_bf16(monkeypatch, capsys) -> None:
    import pixelwise.models.profile as profile
    from pixelwise.cli.main import main

    monkeypatch.setattr(profile, "cpu_has_fast_bf16", lambda: False)
    assert main(["models", "lraspp", "--measure", "--size", "32", "--repeats", "1"]) == 0
    row = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| lraspp")][0]
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert float(cells[4]) > 0 and cells[5] == "n/a (no bf16 units)"


# --- FCN: the course's network -------------------------------------------------------------------


def test_fcn8s_on_vgg16_is_the_papers_network() -> None:
    with torch.device("meta"):  # shapes only: 134M parameters without the memory or the init time
        model = create_model("fcn8s", num_classes=21)
    layers = [name for name, _ in model.encoder.named_children()]
    expected = []
    for block, convs in enumerate((2, 2, 3, 3, 3), start=1):
        expected += [f"block{block}_conv{i}" for i in range(1, convs + 1)] + [f"block{block}_pool"]
    assert layers == expected
    # VGG16 convs 14,714,688 + fc6 (512*7*7*4096 + 4096) + fc7 (4096*4096 + 4096) + score_fr (4096*21 + 21)
    # + score_pool4 (512*21 + 21) + score_pool3 (256*21 + 21) + two 4x4 and one 16x16 21->21 deconvolutions.
    by_hand = 14_714_688 + 102_760_448 + 4096 + 16_777_216 + 4096 + 86_037 + 10_773 + 5_397 + 2 * 7_056 + 112_896
    assert sum(p.numel() for p in model.parameters()) == by_hand == 134_489_759


def test_fcn_skip_scores_start_at_zero_and_upsampling_starts_bilinear() -> None:
    model = build("fcn8s", {"encoder_options": VGG_TINY, "head": "light"})
    for skip in model.head.skips:
        assert skip["score"].weight.abs().sum() == 0
    # 1D factor of the 4x4 kernel for 2x: 1 - |t - 1.5| / 2 for t = 0..3.
    taps = torch.tensor([0.25, 0.75, 0.75, 0.25])
    torch.testing.assert_close(bilinear_kernel(1, 4)[0, 0], taps[:, None] * taps[None, :])
    upscore = model.head.skips[0]["upscore"].conv.weight
    torch.testing.assert_close(upscore[1, 1], taps[:, None] * taps[None, :])
    assert upscore[0, 1].abs().sum() == 0  # class 1 never leaks into class 0
    assert not model.head.final.conv.weight.requires_grad  # the final 8x deconvolution stays bilinear


def test_fcn_paper_head_starts_from_vggs_fully_connected_layers(tmp_path) -> None:
    from torchvision.models.vgg import make_layers

    # A torchvision-layout VGG16 checkpoint, 16x narrower: pool5 has 32 channels, fc6/fc7 16 units.
    features = make_layers([4, 4, "M", 8, 8, "M", 16, 16, 16, "M", 32, 32, 32, "M", 32, 32, 32, "M"])
    state = {f"features.{key}": value for key, value in features.state_dict().items()}
    state |= {"classifier.0.weight": torch.randn(16, 32 * 7 * 7), "classifier.0.bias": torch.randn(16),
              "classifier.3.weight": torch.randn(16, 16), "classifier.3.bias": torch.randn(16)}
    torch.save(state, tmp_path / "vgg16.pth")
    model = create_model("fcn8s", num_classes=3, pretrained=str(tmp_path / "vgg16.pth"),
                         encoder_options=VGG_TINY, fc_channels=16)
    fc6, fc7 = model.decoder.fc[0], model.decoder.fc[3]
    torch.testing.assert_close(fc6.weight, state["classifier.0.weight"].view(16, 32, 7, 7))
    torch.testing.assert_close(fc7.weight[:, :, 0, 0], state["classifier.3.weight"])
    torch.testing.assert_close(model.encoder.block5_conv3.weight, state["features.28.weight"])


# --- SegNet: max-pooling indices and unpooling -----------------------------------------------------


def test_segnet_decoder_unpools_to_the_encoders_argmax_positions() -> None:
    model = build("segnet", {"encoder_options": VGG_TINY}).eval()
    features = model.encoder(torch.randn(1, 3, 64, 64))
    pooled, indices = list(features), features.indices
    assert len(pooled) == len(indices) == 5  # the feature list holds the pooled maps only
    assert all(i.dtype == torch.int64 and i.shape == p.shape for p, i in zip(pooled, indices, strict=True))
    seen = {}
    model.decoder.stages[0].register_forward_pre_hook(lambda module, args: seen.setdefault("unpooled", args[0]))
    model.decoder(features)
    unpooled = seen["unpooled"]  # (1, 32, 4, 4): pool5 (2x2) unpooled with pool5's indices
    assert unpooled.shape == (1, 32, 4, 4)
    flat = unpooled.flatten(2)  # (1, 32, 16)
    expected = torch.zeros_like(flat).scatter_(2, indices[-1].flatten(2), pooled[-1].flatten(2))
    torch.testing.assert_close(flat, expected)
    assert (flat != 0).sum() <= flat.numel() // 4  # one value per 2x2 window, zeros elsewhere


def test_segnet_parameter_count_matches_the_paper() -> None:
    with torch.device("meta"):
        model = create_model("segnet", num_classes=12)
    # VGG16-BN encoder 14,723,136; decoder (3x3 convs without bias + BN, mirrored) 14,716,160;
    # classifier conv1_1_D 64*12*9 + 12. The paper quotes 29.5M.
    assert sum(p.numel() for p in model.parameters()) == 14_723_136 + 14_716_160 + 6_924 == 29_446_220


def test_segnet_needs_an_encoder_with_pooling_indices() -> None:
    with pytest.raises(PixelwiseError, match="segnet needs an encoder that keeps its max-pooling indices"):
        create_model("segnet", num_classes=2, encoder="test_resnet")


def test_bayesian_segnet_mc_dropout_gives_probabilities_and_uncertainty() -> None:
    from pixelwise.models.segnet import mc_dropout_predict

    model = build("segnet", {"encoder_options": VGG_TINY, "dropout": 0.5}).eval()
    mean, uncertainty = mc_dropout_predict(model, torch.randn(2, 3, 32, 32), samples=4)
    assert mean.shape == (2, 3, 32, 32) and uncertainty.shape == (2, 32, 32)
    torch.testing.assert_close(mean.sum(dim=1), torch.ones(2, 32, 32))
    assert uncertainty.max() > 0  # dropout was sampling
    assert not model.training and not any(m.training for m in model.modules())


# --- Dilated encoders ------------------------------------------------------------------------------


def test_multi_grid_sets_deeplab_rates_in_the_last_stage() -> None:
    with torch.device("meta"):
        model = create_model("deeplabv3", num_classes=2, encoder="resnet50", multi_grid=(1, 2, 4))
    rates = [block.conv2.dilation for block in model.encoder.model.layer4]
    assert rates == [(2, 2), (4, 4), (8, 8)]  # rate 2 at output stride 16 times (1, 2, 4)
    assert model.encoder.reductions == [2, 4, 8, 16, 16]


def test_output_stride_8_doubles_the_aspp_rates() -> None:
    model = build("deeplabv3", {"encoder": "test_resnet", "output_stride": 8, "channels": 8})
    dilations = [branch[0].dilation for branch in model.decoder.aspp.branches[1:4]]
    assert dilations == [(12, 12), (24, 24), (36, 36)]
    assert model.encoder.reductions[-1] == 8


# --- Every architecture learns: overfit one small batch --------------------------------------------

OVERFIT: list[tuple[str, dict[str, Any]]] = [
    ("unet", {"base_channels": 8, "depth": 3}),
    ("fcn8s", {"encoder_options": {"base_channels": 8}, "head": "light"}),
    ("unet_pix2pix", {"encoder": "test_efficientnet", "decoder_channels": (32, 32, 16, 16)}),
    ("segnet", {"encoder_options": {"base_channels": 16}}),
    ("pspnet", {"encoder": "test_resnet", "channels": 32}),
    ("deeplabv3", {"encoder": "test_resnet", "output_stride": 8, "channels": 32}),
    ("deeplabv3plus", {"encoder": "test_resnet", "channels": 32, "low_level_channels": 16}),
    ("lraspp", {"encoder": "test_resnet", "output_stride": 16, "channels": 32}),
]


def _shapes_batch(count: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    dataset = pixelwise.create_dataset("shapes", split="train", size=64)
    pairs = [dataset[i] for i in range(count)]
    images = torch.stack([image for image, _ in pairs]).float() / 255  # (B, 3, 64, 64)
    masks = torch.stack([mask for _, mask in pairs])  # (B, 64, 64)
    return (images - 0.5) / 0.25, masks


@pytest.mark.parametrize("case", OVERFIT, ids=[name for name, _ in OVERFIT])
def test_overfits_one_small_batch(case: tuple[str, dict[str, Any]]) -> None:
    """Adam at 1e-2 on two 64 x 64 shapes images; every architecture gets there in 20-100 steps."""
    name, options = case
    images, masks = _shapes_batch()
    model = build(name, options, num_classes=4)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    accuracy = 0.0
    for step in range(1, 301):
        model.train()
        loss = F.cross_entropy(model(images), masks)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 10 == 0:
            model.eval()
            with torch.no_grad():
                accuracy = (model(images).argmax(dim=1) == masks).float().mean().item()
            if accuracy >= 0.95:
                break
    assert accuracy >= 0.95, f"{name} reached {accuracy:.3f} pixel accuracy in 300 steps"


def test_large_transposed_convolutions_run_in_fp32_under_cpu_bf16_autocast() -> None:
    # oneDNN's bf16 kernels for FCN's 64x64 / 32x32 transposed convolutions are many times slower than fp32.
    from pixelwise.models.upsample import Upsample

    torch.manual_seed(0)
    large = Upsample(5, 5, scale=32, mode="transpose", kernel_size=64, bilinear_init=True)
    small = Upsample(5, 5, scale=2, mode="transpose", kernel_size=4)
    x = torch.randn(1, 5, 4, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y_large, y_small = large(x.bfloat16()), small(x)
    assert y_large.dtype == torch.float32 and y_large.shape == (1, 5, 128, 128)
    assert torch.allclose(y_large, large(x.bfloat16().float()), atol=1e-6)  # the same result as fp32 throughout
    assert y_small.dtype == torch.bfloat16  # small kernels keep bf16, where it is faster
