"""What a predictor returns for one image."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import Tensor


@dataclass
class SemanticPrediction:
    """A class for every pixel.

    Attributes:
        label_map: ``(H, W)`` int64 class indices, at the input image's size.
        probabilities: ``(K, H, W)`` float32 class probabilities (softmax of the logits; a method
            without scores gives one-hot rows).
        class_names: One name per class.
    """

    label_map: Tensor
    probabilities: Tensor
    class_names: tuple[str, ...]

    def numpy(self) -> np.ndarray:
        """The label map as a ``uint8`` (fewer than 256 classes) or ``int32`` numpy array."""
        dtype = np.uint8 if len(self.class_names) <= 256 else np.int32
        return self.label_map.cpu().numpy().astype(dtype)

    def class_areas(self) -> dict[str, float]:
        """Each class's share of the image (fractions summing to 1)."""
        counts = np.bincount(self.label_map.cpu().numpy().ravel(), minlength=len(self.class_names))
        total = max(int(counts.sum()), 1)
        return {name: float(count) / total for name, count in zip(self.class_names, counts, strict=False)}


Prediction = SemanticPrediction
"""Every prediction type (instance and panoptic predictions join this union as those tasks land)."""
