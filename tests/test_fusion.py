"""Folding BatchNorm into convolutions for inference: same outputs, fewer layers, never wrong."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pixelwise.models import create_model
from pixelwise.models.fusion import fold_batchnorm

pytestmark = pytest.mark.usefixtures("one_cpu_thread")


def _randomise_batchnorm(model: nn.Module) -> nn.Module:
    """Give every BatchNorm statistics and affine parameters far from the identity, as after training."""
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            channels = module.num_features
            module.running_mean.copy_(torch.randn(channels, generator=generator))
            module.running_var.copy_(torch.rand(channels, generator=generator) * 3 + 0.1)
            module.weight.data.copy_(torch.randn(channels, generator=generator))
            module.bias.data.copy_(torch.randn(channels, generator=generator))
    return model.eval()


def _count(model: nn.Module, kind: type) -> int:
    return sum(type(m) is kind for m in model.modules())


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("unet", {"base_channels": 4, "depth": 2}),
        ("unet", {"encoder": "test_resnet", "decoder_channels": (16, 8, 8)}),
        ("deeplabv3plus", {"encoder": "test_resnet", "channels": 16, "low_level_channels": 8}),
    ],
)
def test_folded_model_gives_the_same_logits_with_fewer_batchnorms(name: str, options: dict) -> None:
    torch.manual_seed(0)
    model = _randomise_batchnorm(create_model(name, num_classes=3, **options))
    images = torch.randn(2, 3, 45, 61)
    folded = fold_batchnorm(model, example=torch.randn(1, 3, 64, 64))
    assert _count(folded, nn.BatchNorm2d) < _count(model, nn.BatchNorm2d)
    if name == "unet" and "encoder" not in options:
        assert _count(folded, nn.BatchNorm2d) == 0  # every BatchNorm of the classic U-Net follows a convolution
    assert _count(model, nn.BatchNorm2d) > 0  # the original is left alone
    with torch.no_grad():
        torch.testing.assert_close(folded(images), model(images), rtol=1e-4, atol=1e-4)


class _ConvReadTwice(nn.Module):
    """``bn(conv(x)) + conv(x)``: folding the BatchNorm would change the second term."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return self.bn(y) + y


def test_a_convolution_read_elsewhere_is_not_folded() -> None:
    model = _randomise_batchnorm(_ConvReadTwice())
    folded = fold_batchnorm(model, example=torch.randn(1, 3, 8, 8))
    assert _count(folded, nn.BatchNorm2d) == 1
    images = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(folded(images), model(images))
