"""Sliding-window inference in memory bounded by the window, not the image.

Windows of the network's working size slide over the (resized) image with a step of
``window * (1 - overlap)``; the last window of each row and column is shifted back inside the image
rather than hanging over its border (MMSegmentation's rule). Windows run ``window_batch`` at a time;
their logits are blended with an importance map — a Gaussian with σ = window / 8 per axis, as nnU-Net
and MONAI use, or a plain mean — so a pixel near a window's border, where the network saw the least
context, counts least where another window sees it better. An image smaller than a window is padded at
the bottom and right with zeros after normalisation (the mean colour: what the networks pad
themselves with to reach a multiple of their stride) and cropped back, so every forward has the
window's shape (one shape for compiled and exported runtimes).

Memory: windows run row by row, so the rows above the next window row are final. A :class:`WindowPass`
keeps only the rows windows still add to — ``(K, about window + step rows, width)`` floats — and hands
out finished rows resampled to the image's size a band at a time; callers keep what they need of each
band (argmax labels, probabilities only when asked for). Peak memory grows with width × window height
× K, not with the image's area.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

from pixelwise.inference.tta import Forward, average_scales, mirrored_mean

MIN_WEIGHT = 1e-3
"""Smallest Gaussian weight, relative to the centre's: a window's corner (exp(-16) unclamped) still counts
where no other window covers it, and the blend never divides by a vanishing sum."""

BLENDS = ("gaussian", "mean")


def window_stride(window: int, overlap: float) -> int:
    """Step between window starts: ``window * (1 - overlap)`` rounded down (so the overlap is at least the
    one asked for), and at least one pixel."""
    return max(1, int(window * (1 - overlap)))


def window_starts(*, length: int, window: int, stride: int) -> list[int]:
    """Where windows start along an axis of ``length`` pixels: every ``stride``, the last one shifted back
    so that it ends at the border; ``[0]`` when the axis is no longer than a window (it is padded)."""
    if length <= window:
        return [0]
    count = -(-(length - window) // stride) + 1  # ceil((length - window) / stride) + 1
    return [min(i * stride, length - window) for i in range(count)]


def importance_map(window: tuple[int, int], *, blend: str) -> Tensor:
    """Per-pixel weight of a window's logits: a Gaussian (σ = size / 8 per axis, centre weight 1, at least
    :data:`MIN_WEIGHT`) or ones for ``"mean"``. Symmetric under flipping either axis, bit for bit.

    Shape:
        ``(window height, window width)`` float32.
    """
    if blend == "mean":
        return torch.ones(window)
    axes = []
    for size in window:
        offset = torch.arange(size, dtype=torch.float64) - (size - 1) / 2  # exact: symmetric about the centre
        axes.append(torch.exp(-(offset**2) / (2 * (size / 8) ** 2)))
    weights = axes[0][:, None] * axes[1][None, :]  # (h, w)
    return (weights / weights.max()).clamp(min=MIN_WEIGHT).float()


def label_dtype(num_classes: int) -> torch.dtype:
    """The smallest integer type that holds every class index: ``uint8`` up to 256 classes."""
    if num_classes <= 256:
        return torch.uint8
    return torch.int16 if num_classes <= 2**15 else torch.int32


def source_rows(start: int, stop: int, *, size_in: int, size_out: int) -> tuple[Tensor, Tensor, Tensor]:
    """For output rows ``[start, stop)`` of a bilinear resize from ``size_in`` to ``size_out`` rows
    (``align_corners=False``, as ``F.interpolate`` computes it): the source row above, the one below, and
    the weight of the one below."""
    scale = torch.tensor(size_in, dtype=torch.float32) / size_out
    position = ((torch.arange(start, stop, dtype=torch.float32) + 0.5) * scale - 0.5).clamp(min=0)
    above = position.long().clamp(max=size_in - 1)
    below = (above + 1).clamp(max=size_in - 1)
    return above, below, (position - above).clamp(0, 1)


class WindowPass:
    """Windows over one image at one scale: blended logits, handed out row band by row band at the output size.

    Args:
        image: ``(C, h, w)``, uint8 or float: the image at the scale the network runs at.
        out_size: ``(H, W)``: the size the logits are resized to (the original image's).
        window: ``(height, width)`` of a window, in ``image`` pixels.
        stride: Step between window starts ``(rows, columns)``.
        blend: ``"gaussian"`` or ``"mean"``.
        window_batch: Windows per forward (twice as many images with ``flip``).
        flip: Average each window's logits with its mirror image's.
        prepare: Crops ``(B, C, h', w')`` as ``image`` stores them -> normalised float network input.
        forward: Normalised ``(B, C, window)`` -> logits ``(B, K, window)``.

    Rows must be asked for in order (:meth:`rows`); a row is forgotten once the rows after it no longer
    need it. :attr:`peak_rows` is the most rows of logits held at once.
    """

    def __init__(
        self,
        image: Tensor,
        *,
        out_size: tuple[int, int],
        window: tuple[int, int],
        stride: tuple[int, int],
        blend: str,
        window_batch: int,
        flip: bool,
        prepare: Callable[[Tensor], Tensor],
        forward: Forward,
    ) -> None:
        _, self.height, self.width = image.shape
        self.image, self.out_size, self.window = image, out_size, window
        self.inside = (min(window[0], self.height), min(window[1], self.width))  # a window's part within the image
        self.ys = window_starts(length=self.height, window=window[0], stride=stride[0])
        self.xs = window_starts(length=self.width, window=window[1], stride=stride[1])
        self.weights = importance_map(window, blend=blend)[: self.inside[0], : self.inside[1]]  # (h, w)
        self.window_batch, self.flip, self.prepare, self.forward = window_batch, flip, prepare, forward
        self.next_row = 0  # index in ys of the next window row to run
        self.top = 0  # image row held in sums[:, 0]
        self.sums: Tensor | None = None  # (K, rows, w) weighted logits
        self.norm: Tensor | None = None  # (rows, w) weights
        self.peak_rows = 0

    def finished(self) -> int:
        """Image rows above this one get no more windows."""
        return self.ys[self.next_row] if self.next_row < len(self.ys) else self.height

    def rows(self, start: int, stop: int) -> Tensor:
        """Blended logits of output rows ``[start, stop)``, resized to the output width.

        Shape:
            ``(K, stop - start, W)`` float32.
        """
        out_height, out_width = self.out_size
        if out_height == self.height:
            first, last = start, stop
        else:
            above, below, weight = source_rows(start, stop, size_in=self.height, size_out=out_height)
            first, last = int(above[0]), int(below[-1]) + 1
        while self.finished() < last:
            self._run_window_row()
        assert self.sums is not None and self.norm is not None
        held = slice(first - self.top, last - self.top)
        blended = self.sums[:, held] / self.norm[held]  # (K, last - first, w)
        if out_height != self.height:
            weight = weight[:, None]  # (rows, 1)
            blended = blended[:, above - first] * (1 - weight) + blended[:, below - first] * weight  # (K, rows, w)
        if out_width != self.width:
            classes, rows, width = blended.shape
            blended = F.interpolate(blended.reshape(1, classes * rows, width), size=out_width, mode="linear",
                                    align_corners=False).reshape(classes, rows, out_width)  # fmt: skip
        self._forget_above(stop)
        return blended

    def _forget_above(self, stop: int) -> None:
        """Drop the rows that output rows from ``stop`` on do not read (never one a window still to run adds to)."""
        out_height = self.out_size[0]
        if stop >= out_height:
            self.sums = self.norm = None
            return
        needed = stop if out_height == self.height else int(source_rows(stop, stop + 1, size_in=self.height, size_out=out_height)[0][0])
        keep = min(needed, self.finished())
        if keep > self.top and self.sums is not None and self.norm is not None:
            self.sums, self.norm = self.sums[:, keep - self.top :], self.norm[keep - self.top :]
            self.top = keep

    def _run_window_row(self) -> None:
        y = self.ys[self.next_row]
        self.next_row += 1
        height, width = self.inside
        for i in range(0, len(self.xs), self.window_batch):
            xs = self.xs[i : i + self.window_batch]
            crops = torch.stack([self.image[:, y : y + height, x : x + width] for x in xs])  # (B, C, h, w)
            logits = self._logits(crops)  # (B, K, h, w)
            self._reserve(y + height, logits)
            assert self.sums is not None and self.norm is not None
            top = y - self.top
            for x, window_logits in zip(xs, logits, strict=True):
                self.sums[:, top : top + height, x : x + width].addcmul_(window_logits, self.weights)
                self.norm[top : top + height, x : x + width] += self.weights

    def _logits(self, crops: Tensor) -> Tensor:
        """Logits ``(B, K, h, w)`` float32 of crops ``(B, C, h, w)``, padded to the window for the network."""
        height, width = crops.shape[-2:]
        x = self.prepare(crops)  # (B, C, h, w) normalised
        pad_rows, pad_columns = self.window[0] - height, self.window[1] - width
        if pad_rows or pad_columns:
            x = F.pad(x, (0, pad_columns, 0, pad_rows))  # (B, C, window)
        logits = mirrored_mean(self.forward, x) if self.flip else self.forward(x)  # (B, K, window)
        return logits[..., :height, :width].float()

    def _reserve(self, bottom: int, like: Tensor) -> None:
        """Hold rows down to ``bottom`` (zeros where new), on the device and with the classes of ``like``."""
        if self.sums is None or self.norm is None:
            self.top = self.ys[self.next_row - 1]
            self.sums = like.new_zeros((like.shape[1], bottom - self.top, self.width))
            self.norm = like.new_zeros((bottom - self.top, self.width))
            self.weights = self.weights.to(like.device)
        elif bottom > self.top + self.norm.shape[0]:
            extra = bottom - self.top - self.norm.shape[0]
            self.sums = torch.cat([self.sums, self.sums.new_zeros((self.sums.shape[0], extra, self.width))], dim=1)
            self.norm = torch.cat([self.norm, self.norm.new_zeros((extra, self.width))])
        self.peak_rows = max(self.peak_rows, self.norm.shape[0])


def blended_bands(passes: list[WindowPass], *, height: int, band: int) -> Iterator[tuple[int, Tensor]]:
    """``(first row, scores (K, rows, W))`` for each band of ``band`` output rows, top to bottom: the logits
    of one pass, or the log of the mean probability of several (:func:`~pixelwise.inference.tta.average_scales`)."""
    for start in range(0, height, band):
        stop = min(start + band, height)
        yield start, average_scales([one.rows(start, stop) for one in passes], dim=0)


def stitch_scores(bands: Iterable[tuple[int, Tensor]], *, height: int) -> Tensor:
    """All the bands' scores in one tensor ``(K, H, W)``: as much memory as the image's logits take."""
    scores = None
    for start, band in bands:
        if scores is None:
            scores = band.new_empty((band.shape[0], height, band.shape[2]))
        scores[:, start : start + band.shape[1]] = band
    assert scores is not None
    return scores


def labels_from_bands(bands: Iterable[tuple[int, Tensor]], *, height: int, probabilities: bool) -> tuple[Tensor, Tensor | None]:
    """The label map ``(H, W)`` (:func:`label_dtype`) of the bands' argmax, and their softmax ``(K, H, W)``
    only when ``probabilities`` is asked for: a label map alone costs one byte per pixel."""
    labels = probs = None
    for start, band in bands:  # (K, rows, W)
        classes, rows, width = band.shape
        if labels is None:
            labels = torch.empty((height, width), dtype=label_dtype(classes))
            probs = torch.empty((classes, height, width)) if probabilities else None
        labels[start : start + rows] = band.argmax(0).cpu()
        if probs is not None:
            probs[:, start : start + rows] = torch.softmax(band, dim=0).cpu()
    assert labels is not None
    return labels, probs
