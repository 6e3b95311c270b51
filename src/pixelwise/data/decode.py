"""Decode image and mask files into tensors: torchvision's fast decoder for JPEG, Pillow for the rest.

JPEG (recognised by its bytes, not its name: Oxford-IIIT Pet has GIFs and PNGs named ``.jpg``)
is decoded by ``torchvision.io.decode_image`` with EXIF orientation applied; PNG, GIF, WebP, BMP
and TIFF by Pillow, which reports a damaged file as an exception where torchvision's PNG decoder
can crash the process. Every image's size is read from its header first and an image over
:func:`max_pixels` is refused before decoding. A file neither can read raises
:class:`PixelwiseError` naming it.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor
from torchvision.io import ImageReadMode, decode_image

from pixelwise.errors import PixelwiseError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif")
"""File endings treated as images when a folder is scanned (compared lower-case)."""

_JPEG_MAGIC = b"\xff\xd8\xff"

MAX_PIXELS = 2**27
"""The largest image (width x height, about 11585 x 11585) decoded by default: a small file can decode to
gigapixels (a "decompression bomb"), so the size is read from the header first and a larger image is
refused before any decoding. Raise it with the environment variable ``PIXELWISE_MAX_PIXELS``."""


def max_pixels() -> int:
    """The pixel limit in force: ``$PIXELWISE_MAX_PIXELS`` or :data:`MAX_PIXELS`."""
    text = os.environ.get("PIXELWISE_MAX_PIXELS")
    if text is None:
        return MAX_PIXELS
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise PixelwiseError(f"PIXELWISE_MAX_PIXELS={text!r} is not a positive whole number of pixels")
    return value


Source = Path | bytes | bytearray
"""A file on disk, or a file's bytes (an upload)."""


class ImageTooLarge(PixelwiseError):
    """An image whose header announces more pixels than the limit (a web server answers 413)."""


def read_image(path: Source, *, channels: int = 3, limit: int | None = None) -> Tensor:
    """Read an image as ``uint8`` with EXIF orientation applied.

    Greyscale, palette and RGBA files are converted to ``channels`` (alpha is dropped); GIFs give
    their first frame.

    Args:
        path: The image file, or its bytes.
        channels: 3 for RGB, 1 for greyscale.
        limit: Refuse more pixels than this (default: :func:`max_pixels`).

    Returns:
        ``uint8`` tensor.

    Shape:
        ``(channels, H, W)``.
    """
    mode = ImageReadMode.RGB if channels == 3 else ImageReadMode.GRAY
    check_pixels(path, what="image", limit=limit)
    if not _is_jpeg_file(path):  # torchvision only where it is safe: see _is_jpeg_file
        return _pil_read(path, mode="RGB" if channels == 3 else "L", what="image")
    try:
        image = decode_image(_torchvision_input(path), mode=mode, apply_exif_orientation=True)
    except RuntimeError:
        image = _pil_read(path, mode="RGB" if channels == 3 else "L", what="image")
    return image


def read_mask(path: Source) -> Tensor:
    """Read a mask's stored values without changing them.

    This is pixelwise's one reader of label files: datasets, ``pixelwise data verify`` and
    ``pixelwise score`` all read masks here. Palette PNGs give their palette *indices* (as VOC
    stores labels), 16-bit PNGs their 16-bit values, 1-bit PNGs 0 and 1, colour masks their RGB
    colours. Only JPEG goes through torchvision; everything else through Pillow (see :func:`_is_jpeg_file`),
    which also keeps GIF palette indices and unpacks PNGs of fewer than 8 bits per pixel.

    Args:
        path: The mask file.

    Returns:
        ``uint8`` (or ``uint16`` for 16-bit files) tensor.

    Shape:
        ``(C, H, W)`` with ``C`` = 1 (index masks), 2 (grey + alpha), 3 (colour) or 4 (colour + alpha).
    """
    check_pixels(path, what="mask")
    if not _is_jpeg_file(path):
        return _pil_read(path, mode=None, what="mask")
    try:
        return decode_image(_torchvision_input(path), mode=ImageReadMode.UNCHANGED, apply_exif_orientation=True)
    except RuntimeError:
        return _pil_read(path, mode=None, what="mask")


def _is_jpeg_file(path: Source) -> bool:
    """Whether torchvision decodes this file: JPEG only.

    torchvision's PNG decoder crashes the whole process (a segmentation fault, not an exception) on
    some damaged PNGs — found here by the property tests: an IDAT chunk whose zlib header is corrupt
    (torchvision 0.29.1; a long-known class of libpng-glue bugs, pytorch/vision#3613). A dataset, a
    verifier or a web server must survive any file, so PNG, GIF, WebP, BMP and TIFF go through Pillow,
    which reports damage as an exception. PNG is lossless, so the pixels are the same.
    """
    return is_jpeg(path)


def is_jpeg(path: Source) -> bool:
    """True when the file holds JPEG data (whatever its name says)."""
    if isinstance(path, bytes | bytearray):
        return bytes(path[:3]) == _JPEG_MAGIC
    with open(path, "rb") as handle:
        return handle.read(3) == _JPEG_MAGIC


def image_header(path: Source, *, what: str = "image") -> tuple[int, int, str]:
    """``(width, height, format)`` from the file's header alone (format as Pillow names it, e.g. ``"PNG"``);
    no pixel is decoded.

    Raises:
        PixelwiseError: The file is missing, empty, or not an image Pillow recognises.
    """
    if not isinstance(path, bytes | bytearray) and not Path(path).is_file():
        raise PixelwiseError(f"{what} file {path} not found; restore it or remove it from the split list")
    if isinstance(path, bytes | bytearray) and not path:
        raise PixelwiseError(f"the {what} is empty (0 bytes)")
    try:
        with _pil_pixel_limit(None), Image.open(_pil_input(path)) as picture:  # reads the header only
            size = picture.size[0], picture.size[1], str(picture.format)
    except UnidentifiedImageError:
        reason = "no image format recognised"
    except Exception as error:  # a damaged header...
        reason = (str(error).splitlines() or [type(error).__name__])[0]
    else:
        return size
    raise PixelwiseError(f"{_name(path, what)} is not an image ({reason}); send a PNG, JPEG, WebP, GIF, BMP or TIFF")


def check_pixels(path: Source, *, what: str, limit: int | None = None) -> None:
    """The file exists and its header declares no more than ``limit`` (:func:`max_pixels`) pixels.

    A file Pillow does not recognise passes: the decoders name its problem.

    Raises:
        ImageTooLarge: Too many pixels (a decompression bomb, or an image for tiled prediction).
    """
    if not isinstance(path, bytes | bytearray) and not Path(path).is_file():
        raise PixelwiseError(f"{what} file {path} not found; restore it or remove it from the split list")
    limit = max_pixels() if limit is None else limit
    try:
        width, height, _ = image_header(path, what=what)
    except PixelwiseError:
        return
    if width * height > limit:
        raise ImageTooLarge(
            f"{_name(path, what)} is {width}x{height} ({width * height / 1e6:.0f} megapixels), over the limit of "
            f"{limit / 1e6:.0f} megapixels that guards against decompression bombs; if you trust the file and have "
            "the memory, raise it with PIXELWISE_MAX_PIXELS (tiled sliding-window prediction is planned)"
        )


def _name(path: Source, what: str) -> str:
    return f"the {what}" if isinstance(path, bytes | bytearray) else f"{what} file {path}"


def _pil_input(path: Source):
    return io.BytesIO(path) if isinstance(path, bytes | bytearray) else path


def _torchvision_input(path: Source):
    return torch.frombuffer(bytearray(path), dtype=torch.uint8) if isinstance(path, bytes | bytearray) else str(path)


@contextlib.contextmanager
def _pil_pixel_limit(limit: int | None) -> Iterator[None]:
    """PIL's own decompression-bomb guard set to ``limit`` (``None``: off) for a moment; pixelwise checks
    :func:`max_pixels` itself, from the header, before anything is decoded."""
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = limit
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def _pil_read(path: Source, *, mode: str | None, what: str) -> Tensor:
    """Decode with PIL; ``mode=None`` keeps the stored values (palette indices, 16-bit)."""
    try:
        with _pil_pixel_limit(None), Image.open(_pil_input(path)) as picture:  # check_pixels ran first
            picture = ImageOps.exif_transpose(picture)
            if mode is not None and picture.mode in ("I;16", "I;16B", "I;16L", "I"):
                wide = np.array(picture).astype(np.int64)  # a 16-bit photo: keep the top 8 bits
                picture = Image.fromarray((wide.clip(0, 65535) >> 8).astype(np.uint8)).convert(mode)
            elif mode is not None:
                picture = picture.convert(mode)
            elif picture.mode in ("I;16", "I;16B", "I;16L"):
                picture = picture.convert("I")  # 16-bit greyscale: read as 32-bit, stored values kept
            elif picture.mode not in ("1", "L", "P", "LA", "RGB", "RGBA", "I"):
                picture = picture.convert("RGB")  # CMYK, YCbCr, ...: only colour is meaningful
            array = np.array(picture)  # a writable copy: torch.from_numpy warns on read-only arrays
    except Exception as error:  # PIL raises OSError, SyntaxError, ValueError... for damaged files
        reason = (str(error).splitlines() or [type(error).__name__])[0]
        raise PixelwiseError(
            f"{_name(path, what)} cannot be decoded ({reason}); it is damaged or not an image: "
            "re-export it as PNG/JPEG or remove it from the dataset"
        ) from None
    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
    elif array.dtype == np.int32:  # PIL "I" mode: 16-bit data widened by PIL
        array = array.astype(np.uint16) if array.min() >= 0 and array.max() <= 65535 else array
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    return tensor.unsqueeze(0) if tensor.ndim == 2 else tensor.permute(2, 0, 1).contiguous()  # (C, H, W)
