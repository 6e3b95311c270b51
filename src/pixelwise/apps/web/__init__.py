"""A web page to try a model and a small JSON API around it (``pixelwise serve``).

The app and server need the ``web`` extra: ``python3 -m pip install -c constraints.txt -e ".[web]"``
(FastAPI, uvicorn, python-multipart). Names are imported on first use, so ``limits`` reads without it.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "IMAGE_FIELD": "pixelwise.apps.web.client",
    "get_json": "pixelwise.apps.web.client",
    "post_image": "pixelwise.apps.web.client",
    "create_app": "pixelwise.apps.web.app",
    "MAX_PIXELS": "pixelwise.apps.web.limits",
    "MAX_UPLOAD_BYTES": "pixelwise.apps.web.limits",
    "ServeLimits": "pixelwise.apps.web.limits",
    "running_in_thread": "pixelwise.apps.web.server",
    "serve": "pixelwise.apps.web.server",
    "UploadRejected": "pixelwise.apps.web.uploads",
    "decode_upload": "pixelwise.apps.web.uploads",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
