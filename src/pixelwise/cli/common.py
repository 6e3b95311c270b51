"""Flag parsers shared by several subcommands."""

from __future__ import annotations

from typing import Any

import yaml

from pixelwise.errors import PixelwiseError


def parse_class_names(text: str) -> list[str]:
    """``"sky,road,car"`` -> ``["sky", "road", "car"]``."""
    return [name.strip() for name in text.split(",")]


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}`` (values parsed as YAML)."""
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise PixelwiseError(f"option {pair!r} is not KEY=VALUE; write e.g. base_channels=32")
        options[key.strip()] = yaml.safe_load(value)
    return options
