"""What a model file says besides its weights: everything inference needs, nothing passed twice.

A :class:`ModelSpec` travels inside every model file (``best.pt``, ``last.pt``, a file from
:func:`pixelwise.save_model`, a ``save_pretrained`` folder, the metadata of an exported ONNX file):

- ``task`` and the recipe (``model`` + ``model_options``) that rebuilds the network without downloading;
- :class:`Preprocess`: channels, mean/std, the working scale (``input_scale`` or the short side
  ``input_size``) and the size divisor the network pads to;
- :class:`Labels`: class names, palette, ignore index and, for instance tasks, the "thing" classes;
- ``source``: where it came from (dataset name and options, the resolved training config, versions).

Every field is a plain value (str, int, float, bool, None, lists, dicts), so a spec is JSON and
weights-only unpickling reads it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from pixelwise.constants import IGNORE_INDEX
from pixelwise.errors import PixelwiseError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preprocess:
    """How an image becomes the network's input.

    Attributes:
        in_channels: Channels the network reads (1 for greyscale data, 3 for RGB).
        mean, std: Per-channel normalisation of the ``[0, 1]`` image (a 1-channel image uses their means).
        input_scale: The network runs on the image resized by this factor; logits are resized back.
        input_size: Instead of a factor, the shorter side the image is brought to (``None``: use ``input_scale``).
        size_divisor: The network pads its input to a multiple of this internally (informational:
            runtimes without internal padding, e.g. a fixed-size export, need it).
    """

    in_channels: int = 3
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    input_scale: float = 1.0
    input_size: int | None = None
    size_divisor: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))
        if self.in_channels < 1 or self.input_scale <= 0 or (self.input_size is not None and self.input_size < 1):
            raise PixelwiseError(f"preprocessing {self} has a non-positive channel count, scale or size")


@dataclass(frozen=True)
class Labels:
    """What the output channels mean.

    Attributes:
        class_names: One name per output class.
        palette: One RGB colour (0..255) per class.
        ignore_index: The truth label that is not scored (:data:`pixelwise.constants.IGNORE_INDEX`), or ``None``.
        things: For instance and panoptic tasks, the classes that are countable objects.
    """

    class_names: tuple[str, ...]
    palette: tuple[tuple[int, int, int], ...] = ()
    ignore_index: int | None = IGNORE_INDEX
    things: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "class_names", tuple(str(name) for name in self.class_names))
        object.__setattr__(self, "palette", tuple(tuple(int(c) for c in colour) for colour in self.palette))
        object.__setattr__(self, "things", tuple(int(t) for t in self.things))
        if self.palette and len(self.palette) != len(self.class_names):
            raise PixelwiseError(
                f"labels have {len(self.class_names)} class names but {len(self.palette)} palette colours; give one per class"
            )

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


@dataclass(frozen=True)
class ModelSpec:
    """The recipe, task, preprocessing, labels and provenance of a model file."""

    model: str
    model_options: dict[str, Any]
    labels: Labels
    task: str = "semantic"
    preprocess: Preprocess = field(default_factory=Preprocess)
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def dataset(self) -> dict[str, Any]:
        """``{"name", "root", "options"}`` of the data it was trained on (empty when unknown)."""
        return dict(self.source.get("dataset") or {})

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (tuples become lists)."""
        return _listify(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "model file") -> ModelSpec:
        """The inverse of :meth:`to_dict`; a one-line error naming ``where`` for a malformed spec."""
        try:
            return cls(
                model=str(data["model"]),
                model_options=dict(data.get("model_options") or {}),
                labels=Labels(**data["labels"]),
                task=str(data.get("task", "semantic")),
                preprocess=Preprocess(**(data.get("preprocess") or {})),
                source=dict(data.get("source") or {}),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise PixelwiseError(f"{where}: malformed model description ({error}); write it again with pixelwise") from None

    def recipe(self) -> dict[str, Any]:
        """``create_model`` arguments: ``{"name": ..., "num_classes": ..., "in_channels": ..., **options}``."""
        return {
            "name": self.model,
            **self.model_options,
            "num_classes": self.labels.num_classes,
            "in_channels": self.preprocess.in_channels,
        }


def spec_for_model(
    model: Any,
    *,
    class_names: list[str] | tuple[str, ...] | None = None,
    palette: list | tuple = (),
    ignore_index: int | None = IGNORE_INDEX,
    preprocess: Preprocess | None = None,
    task: str | None = None,
    things: list[int] | tuple[int, ...] = (),
    source: dict[str, Any] | None = None,
) -> ModelSpec:
    """The spec of a model built by :func:`pixelwise.create_model` (its ``pixelwise_config``).

    Missing class names become ``class_0``, ``class_1``...; the preprocessing defaults to the
    model's input channels, ImageNet statistics and its own size divisor.
    """
    config = getattr(model, "pixelwise_config", None)
    if not config or "name" not in config:
        raise PixelwiseError(
            f"cannot describe a {type(model).__name__} without pixelwise_config; build it with pixelwise.create_model"
        )
    options = {k: v for k, v in config.items() if k not in ("name", "num_classes", "in_channels")}
    num_classes = int(config["num_classes"])
    names = list(class_names) if class_names is not None else [f"class_{i}" for i in range(num_classes)]
    if len(names) != num_classes:
        raise PixelwiseError(f"{len(names)} class names for a model with {num_classes} classes; give one per class")
    if preprocess is None:
        preprocess = Preprocess(
            in_channels=int(config.get("in_channels", 3)), size_divisor=int(getattr(model, "size_divisor", 1) or 1)
        )
    if task is None:
        from pixelwise.models.registry import model_task  # models import torch; keep this module light

        task = model_task(config["name"])
    return ModelSpec(
        model=str(config["name"]),
        model_options=options,
        labels=Labels(class_names=tuple(names), palette=tuple(palette), ignore_index=ignore_index, things=tuple(things)),
        task=task,
        preprocess=preprocess,
        source=dict(source or {}),
    )


def _listify(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _listify(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_listify(item) for item in value]
    return value
