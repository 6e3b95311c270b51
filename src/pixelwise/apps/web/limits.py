"""What the web app accepts and how much it runs at once (no web dependency: the CLI reads the defaults)."""

from __future__ import annotations

from dataclasses import dataclass

from pixelwise.errors import PixelwiseError

MAX_UPLOAD_BYTES = 20 * 2**20
"""Largest request body accepted by default: 20 MiB, more than a 12-megapixel phone JPEG."""

MAX_PIXELS = 4096 * 4096
"""Most pixels (width x height) an upload may have by default: 16.8 megapixels. A larger image is refused from
its header, before decoding: decoded, it would take 3 bytes a pixel and the network's activations far more."""

MIN_SIDE = 8
"""Fewest pixels an image's width and height may have: a smaller one has nothing to segment (400)."""


@dataclass(frozen=True)
class ServeLimits:
    """What the server accepts and how much it runs at once.

    Attributes:
        max_upload_bytes: Largest request body (413 beyond).
        max_pixels: Most pixels an image may have, read from its header before decoding (413 beyond).
        max_running: Predictions computed at the same time (each uses the CPU threads torch has).
        max_waiting: Requests that may wait for a free slot; one more gets 503 at once.
        wait_timeout_s: Longest wait for a slot before 503.
    """

    max_upload_bytes: int = MAX_UPLOAD_BYTES
    max_pixels: int = MAX_PIXELS
    max_running: int = 2
    max_waiting: int = 8
    wait_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if min(self.max_upload_bytes, self.max_pixels, self.max_running) < 1 or self.max_waiting < 0 or self.wait_timeout_s < 0:
            raise PixelwiseError(f"{self}: sizes and counts must be positive, max_waiting and wait_timeout_s non-negative")
