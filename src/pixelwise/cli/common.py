"""Flag parsers shared by several subcommands."""

from __future__ import annotations


def parse_class_names(text: str) -> list[str]:
    """``"sky,road,car"`` -> ``["sky", "road", "car"]``."""
    return [name.strip() for name in text.split(",")]
