"""Small building blocks shared by several architectures."""

from __future__ import annotations

from torch import nn


class ConvBNReLU(nn.Sequential):
    """``k x k`` convolution (no bias) + BatchNorm + ReLU."""

    def __init__(self, in_channels: int, out_channels: int, *, kernel_size: int = 3, dilation: int = 1, stride: int = 1):
        padding = dilation * (kernel_size - 1) // 2
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, dilation=dilation, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class SeparableConvBNReLU(nn.Sequential):
    """Depthwise-separable convolution as in DeepLabv3+ (Xception style).

    A ``k x k`` depthwise convolution (one filter per channel, optionally dilated) and a
    ``1 x 1`` pointwise convolution, each followed by BatchNorm and ReLU. It costs about
    ``1/out_channels + 1/k^2`` of a full convolution's multiply-adds.
    """

    def __init__(self, in_channels: int, out_channels: int, *, kernel_size: int = 3, dilation: int = 1):
        padding = dilation * (kernel_size - 1) // 2
        super().__init__(
            nn.Conv2d(in_channels, in_channels, kernel_size, padding=padding, dilation=dilation, groups=in_channels, bias=False),
            nn.BatchNorm2d(in_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class DoubleConv(nn.Sequential):
    """The U-Net block: two 3x3 convolutions, each followed by BatchNorm and ReLU."""

    def __init__(self, in_channels: int, out_channels: int, *, bias: bool = True):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=bias),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=bias),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class AuxHead(nn.Sequential):
    """The auxiliary classifier of PSPNet (deep supervision) and torchvision's DeepLab: an FCN head.

    3x3 conv to ``in_channels // 4`` channels + BatchNorm + ReLU + dropout 0.1 + 1x1 conv to classes.

    Shape:
        ``(N, in_channels, h, w)`` -> ``(N, num_classes, h, w)``.
    """

    def __init__(self, in_channels: int, num_classes: int):
        hidden = max(in_channels // 4, 1)
        super().__init__(
            ConvBNReLU(in_channels, hidden, kernel_size=3),
            nn.Dropout2d(0.1),
            nn.Conv2d(hidden, num_classes, 1),
        )


class ClassifierHead(nn.Sequential):
    """Dropout then a 1x1 convolution to class scores (PSPNet, DeepLab)."""

    def __init__(self, in_channels: int, num_classes: int, *, dropout: float = 0.1):
        super().__init__(nn.Dropout2d(dropout), nn.Conv2d(in_channels, num_classes, 1))
