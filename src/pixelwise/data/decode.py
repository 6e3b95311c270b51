"""Decode image and mask files into tensors: torchvision's fast decoders first, PIL for the rest.

``torchvision.io.decode_image`` reads PNG (8 and 16 bit, palette), JPEG (with EXIF
orientation), WebP and GIF by their bytes, not their file names, so a GIF or a PNG named
``.jpg`` (both occur in Oxford-IIIT Pet) decodes fine. What it cannot read (BMP, TIFF, odd PNG
modes) falls back to PIL. A file neither can read raises :class:`PixelwiseError` naming it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import Tensor
from torchvision.io import ImageReadMode, decode_image

from pixelwise.errors import PixelwiseError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif")
"""File endings treated as images when a folder is scanned (compared lower-case)."""

_GIF_MAGIC = b"GIF8"
_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PNG_BIT_DEPTH = 24  # byte offset of the bit depth in a PNG's IHDR chunk, which comes first


def read_image(path: Path, *, channels: int = 3) -> Tensor:
    """Read an image as ``uint8`` with EXIF orientation applied.

    Greyscale, palette and RGBA files are converted to ``channels`` (alpha is dropped).

    Args:
        path: The image file.
        channels: 3 for RGB, 1 for greyscale.

    Returns:
        ``uint8`` tensor.

    Shape:
        ``(channels, H, W)``.
    """
    mode = ImageReadMode.RGB if channels == 3 else ImageReadMode.GRAY
    _require_file(path, "image")
    try:
        image = decode_image(str(path), mode=mode, apply_exif_orientation=True)
    except RuntimeError:
        image = _pil_read(path, mode="RGB" if channels == 3 else "L", what="image")
    if image.dtype != torch.uint8:  # a 16-bit PNG photo: keep the top 8 bits
        image = (image.to(torch.int32) >> 8).to(torch.uint8)
    return image


def read_mask(path: Path) -> Tensor:
    """Read a mask's stored values without changing them.

    This is pixelwise's one reader of label files: datasets, ``pixelwise data verify`` and
    ``pixelwise score`` all read masks here. Palette PNGs give their palette *indices* (as VOC
    stores labels), 16-bit PNGs their 16-bit values, 1-bit PNGs 0 and 1, colour masks their RGB
    colours. GIF masks and PNGs of fewer than 8 bits per pixel go through PIL so that palette
    indices are kept (torchvision expands GIFs to RGB and returns packed bits for such PNGs).

    Args:
        path: The mask file.

    Returns:
        ``uint8`` (or ``uint16`` for 16-bit files) tensor.

    Shape:
        ``(C, H, W)`` with ``C`` = 1 (index masks), 2 (grey + alpha), 3 (colour) or 4 (colour + alpha).
    """
    _require_file(path, "mask")
    with open(path, "rb") as handle:
        head = handle.read(_PNG_BIT_DEPTH + 1)
    low_bit_png = head.startswith(_PNG_MAGIC) and len(head) > _PNG_BIT_DEPTH and head[_PNG_BIT_DEPTH] < 8
    if head.startswith(_GIF_MAGIC) or low_bit_png:
        return _pil_read(path, mode=None, what="mask")
    try:
        return decode_image(str(path), mode=ImageReadMode.UNCHANGED, apply_exif_orientation=True)
    except RuntimeError:
        return _pil_read(path, mode=None, what="mask")


def is_jpeg(path: Path) -> bool:
    """True when the file holds JPEG data (whatever its name says)."""
    with open(path, "rb") as handle:
        return handle.read(3) == _JPEG_MAGIC


def _require_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise PixelwiseError(f"{what} file {path} not found; restore it or remove it from the split list")


def _pil_read(path: Path, *, mode: str | None, what: str) -> Tensor:
    """Decode with PIL; ``mode=None`` keeps the stored values (palette indices, 16-bit)."""
    try:
        with Image.open(path) as picture:
            picture = ImageOps.exif_transpose(picture)
            if mode is not None:
                picture = picture.convert(mode)
            elif picture.mode in ("I;16", "I;16B", "I;16L"):
                picture = picture.convert("I")  # 16-bit greyscale: read as 32-bit, stored values kept
            elif picture.mode not in ("1", "L", "P", "LA", "RGB", "RGBA", "I"):
                picture = picture.convert("RGB")  # CMYK, YCbCr, ...: only colour is meaningful
            array = np.array(picture)  # a writable copy: torch.from_numpy warns on read-only arrays
    except Exception as error:  # PIL raises OSError, SyntaxError, ValueError... for damaged files
        raise PixelwiseError(
            f"{what} file {path} cannot be decoded ({error}); it is damaged or not an image: "
            "re-export it as PNG/JPEG or remove it from the dataset"
        ) from error
    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
    elif array.dtype == np.int32:  # PIL "I" mode: 16-bit data widened by PIL
        array = array.astype(np.uint16) if array.min() >= 0 and array.max() <= 65535 else array
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    return tensor.unsqueeze(0) if tensor.ndim == 2 else tensor.permute(2, 0, 1).contiguous()  # (C, H, W)
