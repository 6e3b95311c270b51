"""A random forest on superpixel features, trained on the train split like any model.

scikit-learn grows the forest (Breiman 2001); its trees are then kept as plain arrays
(:class:`TreeEnsemble`: each tree's node table from ``Tree.__getstate__``, split into child, feature,
threshold and class-distribution arrays), so a model file holds tensors only and weights-only loading
reads it back. Prediction walks those arrays with NumPy: the same comparisons scikit-learn makes
(``float32`` feature ``<=`` ``float64`` threshold) and the same average of the trees' class shares.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor

from pixelwise.classical import features
from pixelwise.classical.base import ClassicalMethod, Pairs
from pixelwise.classical.mapping import region_confusion
from pixelwise.classical.registry import register_method
from pixelwise.errors import PixelwiseError

LEAF = -1
"""scikit-learn's child index at a leaf."""


@dataclass
class TreeEnsemble:
    """A fitted forest of classification trees as arrays; node indices are global over all trees.

    Attributes:
        left, right: ``int64 (nodes,)``: the children of each node, :data:`LEAF` at a leaf.
        feature, threshold: ``int64`` / ``float64 (nodes,)``: go left when ``x[feature] <= threshold``.
        value: ``float64 (nodes, C)``: the training class distribution at each node.
        roots: ``int64 (trees,)``: each tree's root node.
        classes: ``int64 (C,)``: the dataset class of each column of ``value``.
    """

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    classes: np.ndarray

    @classmethod
    def from_sklearn(cls, forest) -> TreeEnsemble:
        """Copy the trees of a fitted ``sklearn.ensemble.RandomForestClassifier`` (single output)."""
        parts: dict[str, list[np.ndarray]] = {name: [] for name in ("left", "right", "feature", "threshold", "value")}
        roots, offset = [], 0
        for estimator in forest.estimators_:
            state = estimator.tree_.__getstate__()
            nodes = state["nodes"]  # structured array: left_child, right_child, feature, threshold, ...
            for name, field in (("left", "left_child"), ("right", "right_child")):
                children = nodes[field].astype(np.int64)
                parts[name].append(np.where(children == LEAF, LEAF, children + offset))
            parts["feature"].append(nodes["feature"].astype(np.int64))
            parts["threshold"].append(nodes["threshold"].astype(np.float64))
            parts["value"].append(state["values"][:, 0, :].astype(np.float64))  # (n, 1, C) -> (n, C)
            roots.append(offset)
            offset += int(state["node_count"])
        arrays = {name: np.concatenate(chunks) for name, chunks in parts.items()}
        return cls(**arrays, roots=np.array(roots, dtype=np.int64), classes=forest.classes_.astype(np.int64))

    def predict_proba(self, x: np.ndarray, *, num_classes: int) -> np.ndarray:
        """Class probabilities ``float64 (N, num_classes)`` of feature rows ``x (N, F)``: the mean over the
        trees of each leaf's class shares, as ``RandomForestClassifier.predict_proba`` computes them."""
        x = np.asarray(x, dtype=np.float32)
        samples = np.arange(len(x))[None, :]
        node = np.repeat(self.roots[:, None], len(x), axis=1)  # (T, N)
        while True:
            left = self.left[node]
            inner = left != LEAF
            if not inner.any():
                break
            go_left = x[samples, self.feature[node]] <= self.threshold[node]  # a leaf's feature (-2) is masked below
            node = np.where(inner, np.where(go_left, left, self.right[node]), node)
        shares = self.value[node]  # (T, N, C)
        totals = shares.sum(axis=-1, keepdims=True)
        shares = shares / np.where(totals == 0, 1.0, totals)
        probabilities = np.zeros((len(x), num_classes))
        probabilities[:, self.classes] = shares.mean(axis=0)
        return probabilities

    def state_dict(self) -> dict[str, Tensor]:
        return {name: torch.from_numpy(np.ascontiguousarray(getattr(self, name))) for name in self.__dataclass_fields__}

    @classmethod
    def from_state_dict(cls, state: dict[str, Tensor]) -> TreeEnsemble:
        return cls(**{name: state[name].numpy() for name in cls.__dataclass_fields__})


@register_method("superpixel_forest")
@dataclass(kw_only=True)
class SuperpixelForest(ClassicalMethod):
    """Superpixels described by colour, LBP, HOG, filter-bank and position features, classified by a random forest.

    Each training superpixel takes the majority class of its labelled pixels; a superpixel predicts
    the class the forest finds most probable.

    Attributes:
        superpixels: ``"slic"`` or ``"felzenszwalb"``.
        segments: Approximate number of superpixels per image.
        compactness: SLIC's balance of colour and space.
        trees, max_depth, min_samples_leaf: The forest's size (``max_depth=None``: grow until pure).
        seed: Seed of the forest's bootstrap samples and feature draws.
    """

    supervised: ClassVar[bool] = True

    fit_images: int = 40
    superpixels: str = "slic"
    segments: int = 300
    compactness: float = 10.0
    trees: int = 50
    max_depth: int | None = 16
    min_samples_leaf: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.superpixels not in features.SUPERPIXELS:
            raise PixelwiseError(f"superpixel_forest superpixels={self.superpixels!r}; choose {' or '.join(features.SUPERPIXELS)}")
        self.ensemble: TreeEnsemble | None = None
        self.num_classes = 0

    @property
    def num_regions(self) -> int:
        self._require_fitted()
        return self.num_classes

    def segment(self, image: np.ndarray) -> np.ndarray:
        """Superpixel ids ``(H, W)`` of an image ``uint8 (H, W, C)``."""
        return features.superpixels(image, method=self.superpixels, segments=self.segments, compactness=self.compactness)

    def fit(self, pairs: Pairs, *, num_classes: int, ignore_index: int | None) -> None:
        from sklearn.ensemble import RandomForestClassifier

        rows, targets = [], []
        for image, mask in pairs:
            labels = self.segment(image)
            votes = region_confusion(labels, mask, num_regions=int(labels.max()) + 1, num_classes=num_classes,
                                     ignore_index=ignore_index)  # (S, K) labelled pixels per class
            labelled = votes.sum(axis=1) > 0
            rows.append(features.superpixel_features(image, labels)[labelled])
            targets.append(votes.argmax(axis=1)[labelled])
        if not rows or sum(len(t) for t in targets) == 0:
            raise PixelwiseError("superpixel_forest found no labelled pixel in the training images; check the masks")
        forest = RandomForestClassifier(
            n_estimators=self.trees, max_depth=self.max_depth, min_samples_leaf=self.min_samples_leaf, random_state=self.seed,
        ).fit(np.concatenate(rows), np.concatenate(targets))  # fmt: skip
        self.ensemble, self.num_classes = TreeEnsemble.from_sklearn(forest), num_classes

    def probabilities(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(superpixel ids (H, W), class probabilities (S, K))`` of an image ``uint8 (H, W, C)``."""
        self._require_fitted()
        labels = self.segment(image)
        rows = features.superpixel_features(image, labels)
        return labels, self.ensemble.predict_proba(rows, num_classes=self.num_classes)

    def regions(self, image: np.ndarray) -> np.ndarray:
        labels, probabilities = self.probabilities(image)
        return probabilities.argmax(axis=1)[labels].astype(np.int64)

    def state_dict(self) -> dict[str, Tensor]:
        self._require_fitted()
        trees = {f"forest.{name}": value for name, value in self.ensemble.state_dict().items()}
        return {"num_classes": torch.tensor(self.num_classes), **trees}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.num_classes = int(state["num_classes"])
        self.ensemble = TreeEnsemble.from_state_dict({k[len("forest."):]: v for k, v in state.items() if k.startswith("forest.")})

    def _require_fitted(self) -> None:
        if self.ensemble is None:
            raise PixelwiseError("superpixel_forest is not trained; train it with pixelwise train --model superpixel_forest")
