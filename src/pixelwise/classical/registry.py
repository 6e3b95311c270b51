"""The registry of classical methods: ``@register_method`` fills it, ``create_method`` reads it."""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Callable
from typing import Any

from pixelwise.classical.base import ClassicalMethod
from pixelwise.errors import PixelwiseError
from pixelwise.registry import Registry

METHODS: Registry[type[ClassicalMethod]] = Registry("classical method")
DEPENDENCIES = {"skimage": "scikit-image", "sklearn": "scikit-learn", "scipy": "scipy"}


def register_method(name: str) -> Callable[[type[ClassicalMethod]], type[ClassicalMethod]]:
    """Register a :class:`ClassicalMethod` dataclass under ``name`` (its ``name`` attribute is set to it)."""

    def decorator(cls: type[ClassicalMethod]) -> type[ClassicalMethod]:
        cls.name = name
        return METHODS.register(name)(cls)

    return decorator


def list_methods() -> list[str]:
    """Names of every classical method, sorted."""
    import pixelwise.classical  # noqa: F401  (registers every method)

    return METHODS.names()


def is_classical(name: str) -> bool:
    """Whether ``name`` is a classical method (not a network from :func:`pixelwise.list_models`)."""
    return name in list_methods()


def method_options(name: str) -> dict[str, Any]:
    """``option -> default`` of a method, in declaration order."""
    list_methods()
    return {f.name: f.default for f in dataclasses.fields(METHODS.get(name))}


def describe_method(name: str) -> str:
    """The first line of a method's docstring."""
    list_methods()
    return (METHODS.get(name).__doc__ or "").strip().splitlines()[0]


def create_method(name: str, **options: Any) -> ClassicalMethod:
    """Build a classical method by name.

    Args:
        name: A name from :func:`list_methods` (``"otsu"``, ``"watershed"``, ``"superpixel_forest"``, ...).
        **options: Its options (see ``pixelwise models`` or :func:`method_options`).

    Raises:
        PixelwiseError: An unknown name or option (the message lists the valid ones), or scikit-image,
            scikit-learn or SciPy missing.
    """
    list_methods()
    cls = METHODS.get(name)
    missing = [package for module, package in DEPENDENCIES.items() if importlib.util.find_spec(module) is None]
    if missing:
        raise PixelwiseError(
            f"classical method {name!r} needs {', '.join(missing)}; install them with pip install -e '.[classical]'"
        )
    valid = method_options(name)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise PixelwiseError(f"{name} has no option {', '.join(unknown)}; its options are {', '.join(valid)}")
    return cls(**options)
