"""Images in: a path, a ``uint8`` HWC array or a ``uint8`` CHW tensor -> the network's normalised input."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torchvision.transforms.v2 import functional as F

from pixelwise.errors import PixelwiseError
from pixelwise.modelfile.spec import Preprocess

ImageInput = np.ndarray | Tensor | str | os.PathLike


def read_input(image: ImageInput, *, channels: int) -> Tensor:
    """``uint8 (C, H, W)`` from a path (decoded as ``channels`` channels), an HWC array or a CHW tensor.

    Raises:
        PixelwiseError: The file cannot be read, or the array is not ``uint8`` with ``channels`` channels.
    """
    if isinstance(image, str | os.PathLike):
        from pixelwise.data.decode import read_image

        return read_image(Path(image), channels=channels)
    if isinstance(image, np.ndarray):
        array = image[:, :, None] if image.ndim == 2 else image
        if array.ndim != 3:
            raise PixelwiseError(f"an image array must be (H, W) or (H, W, C), got shape {image.shape}")
        tensor = torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1)  # (C, H, W)
    elif isinstance(image, Tensor):
        tensor = image.unsqueeze(0) if image.ndim == 2 else image
    else:
        raise PixelwiseError(f"cannot predict on a {type(image).__name__}; pass a path, a uint8 HWC array or a CHW tensor")
    if tensor.dtype != torch.uint8:
        raise PixelwiseError(f"images must be uint8 (0..255), got {tensor.dtype}; convert with .astype('uint8')")
    if tensor.shape[0] != channels:
        raise PixelwiseError(f"the model reads {channels}-channel images, got {tensor.shape[0]} channels; convert the image")
    return tensor


def normalize(images: Tensor, preprocess: Preprocess) -> Tensor:
    """``uint8 (N, C, H, W)`` -> float32 ``(x / 255 - mean) / std``, exactly as the data pipeline does
    (a 1-channel image with RGB statistics uses their means)."""
    mean, std = list(preprocess.mean), list(preprocess.std)
    if images.shape[-3] == 1 and len(mean) > 1:
        mean, std = [sum(mean) / len(mean)], [sum(std) / len(std)]
    return F.normalize(F.to_dtype(images, torch.float32, scale=True), mean=mean, std=std)
