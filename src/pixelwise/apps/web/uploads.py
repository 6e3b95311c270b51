"""Uploaded bytes -> a ``uint8`` image, refusing what a server must not decode.

The limits are checked in the cheapest order: the body size while it arrives (the app), the pixel count from
the file's header (PIL reads the header only, never the pixel data), and only then the pixels are decoded.
A decompression bomb — a small file whose header announces gigapixels — is refused before any pixel is
decoded. Every refusal is an :class:`UploadRejected` with an HTTP status and a one-line reason.
"""

from __future__ import annotations

from torch import Tensor

from pixelwise.apps.web.limits import MAX_PIXELS, MIN_SIDE
from pixelwise.data.decode import ImageTooLarge, image_header, read_image
from pixelwise.errors import PixelwiseError

READABLE = "PNG, JPEG, WebP, GIF, BMP or TIFF"


class UploadRejected(Exception):
    """An upload the server refuses: ``status`` is the HTTP status, ``reason`` one line for the user."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def decode_upload(data: bytes | bytearray, *, channels: int = 3, max_pixels: int = MAX_PIXELS) -> Tensor:
    """Decode an uploaded image file with EXIF orientation applied, after checking its pixel count.

    Decoding is pixelwise's one image reader (:func:`pixelwise.data.decode.read_image`): torchvision for
    JPEG, Pillow for everything else (torchvision's PNG decoder can crash the process on a damaged file),
    the first frame of a GIF, the top 8 bits of a 16-bit PNG.

    Args:
        data: The file's bytes.
        channels: 3 for RGB, 1 for greyscale (alpha is dropped, palettes expanded).
        max_pixels: Refuse images with more pixels than this (from the header, before decoding).

    Returns:
        ``uint8`` tensor.

    Shape:
        ``(channels, H, W)``.

    Raises:
        UploadRejected: 400 for an empty, non-image or damaged file; 413 for too many pixels.
    """
    check_upload(data, max_pixels=max_pixels)
    try:
        return read_image(data, channels=channels, limit=max_pixels)
    except ImageTooLarge as error:
        raise UploadRejected(413, str(error)) from None
    except PixelwiseError as error:
        raise UploadRejected(400, f"{error}") from None


def check_upload(data: bytes | bytearray, *, max_pixels: int = MAX_PIXELS) -> str:
    """Refuse an empty file, a file that is not an image, an image of more than ``max_pixels`` pixels and one
    narrower than :data:`~pixelwise.apps.web.limits.MIN_SIDE`, from its header alone (cheap: the app checks
    this before a request waits for a prediction slot).

    Returns:
        The image format, as Pillow names it (``"PNG"``, ``"JPEG"``, ...).

    Raises:
        UploadRejected: 400 or 413, with the reason.
    """
    if not data:
        raise UploadRejected(400, f"the upload is empty; send a {READABLE} file")
    try:
        width, height, file_format = image_header(data, what="upload")
    except PixelwiseError as error:
        raise UploadRejected(400, str(error)) from None
    if width * height > max_pixels:
        raise UploadRejected(
            413, f"the image is {width}x{height} = {width * height:,} pixels; the limit is {max_pixels:,}: resize it"
        )
    if min(width, height) < MIN_SIDE:
        raise UploadRejected(400, f"the image is {width}x{height} pixels; send one at least {MIN_SIDE}x{MIN_SIDE}")
    return file_format


def first_line(error: BaseException) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0]
