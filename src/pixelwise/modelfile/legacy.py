"""Read model files written before the one-format change (format 2), converting them in memory.

Two formats existed: ``pixelwise-checkpoint`` v1 (``best.pt`` / ``last.pt`` of ``pixelwise train``)
and ``pixelwise.model`` v1 (``pixelwise.save_model``). Both carry everything the current spec
needs except what they never recorded (the dataset of a ``save_model`` file), so they load as
they are; ``pixelwise.save_model(pixelwise.load_model(old), new)`` rewrites one in the current format.
"""

from __future__ import annotations

from typing import Any

from pixelwise.constants import IGNORE_INDEX
from pixelwise.errors import PixelwiseError
from pixelwise.modelfile.spec import Labels, ModelSpec, Preprocess

LEGACY_FORMATS = ("pixelwise-checkpoint", "pixelwise.model")


def convert_legacy(payload: dict[str, Any], *, where: str) -> dict[str, Any]:
    """``{"spec": ModelSpec, "state_dict": ..., "training": ...}`` from an earlier format's payload."""
    if payload["format"] == "pixelwise.model":
        if payload.get("version") != 1:
            return payload  # the current format: nothing to convert
        recipe = dict(payload.get("config") or {})
        return {"spec": _spec(recipe, class_names=None, palette=(), config={}, where=where),
                "state_dict": payload["state_dict"], "training": None}
    if payload.get("format_version", 0) > 1:
        raise PixelwiseError(
            f"{where} has checkpoint format {payload['format_version']}, newer than this pixelwise reads; upgrade pixelwise"
        )
    config = dict(payload.get("config") or {})
    spec = _spec(
        dict(payload.get("model_config") or {}), class_names=payload.get("class_names"),
        palette=payload.get("palette") or (), config=config, where=where,
    )
    training = {key: payload.get(key) for key in ("optimizer", "scheduler", "scaler", "epoch", "step", "metrics", "extra", "rng")}
    return {"spec": spec, "state_dict": payload["model"], "training": training if payload.get("optimizer") is not None else None}


def _spec(recipe: dict[str, Any], *, class_names, palette, config: dict[str, Any], where: str) -> ModelSpec:
    if "name" not in recipe:
        raise PixelwiseError(
            f"{where}: this old checkpoint does not say which model it holds; it cannot be converted, train again"
        )
    num_classes = int(recipe.get("num_classes", len(class_names or ())))
    names = list(class_names) if class_names else [f"class_{i}" for i in range(num_classes)]
    dataset = {"name": config["dataset"], "root": config.get("root"), "options": dict(config.get("dataset_options") or {})} \
        if "dataset" in config else {}
    return ModelSpec(
        model=str(recipe["name"]),
        model_options={k: v for k, v in recipe.items() if k not in ("name", "num_classes", "in_channels")},
        labels=Labels(class_names=tuple(names), palette=tuple(tuple(c) for c in palette), ignore_index=IGNORE_INDEX),
        preprocess=Preprocess(
            in_channels=int(recipe.get("in_channels", 3)),
            input_scale=float(config.get("input_scale", 1.0)),
            input_size=config.get("input_size"),
        ),
        source={"dataset": dataset, "train_config": config} if config else {},
    )
