"""A small client of the web API, on the standard library only (scripts, tests, the load test).

Example:
    >>> status, body = post_image("http://127.0.0.1:8000", open("photo.jpg", "rb").read())  # doctest: +SKIP
    >>> status, [area["name"] for area in body["areas"] if area["fraction"] > 0.1]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Any

IMAGE_FIELD = "image"
"""The multipart field that carries the image: ``curl -F image=@photo.jpg http://127.0.0.1:8000/api/predict``."""


def multipart_body(data: bytes, *, field: str = IMAGE_FIELD, filename: str = "upload") -> tuple[bytes, str]:
    """``(body, content type)`` of a ``multipart/form-data`` request carrying one file."""
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def post_image(
    url: str, data: bytes, *, encoding: str = "png", field: str = IMAGE_FIELD, timeout: float = 120.0
) -> tuple[int, dict[str, Any]]:
    """``POST url/api/predict`` with ``data`` as the image; returns ``(HTTP status, JSON body)``, errors included."""
    body, content_type = multipart_body(data, field=field)
    request = urllib.request.Request(
        f"{url}/api/predict?encoding={encoding}", data=body, method="POST", headers={"Content-Type": content_type}
    )
    return _send(request, timeout=timeout)


def get_json(url: str, *, timeout: float = 30.0) -> tuple[int, dict[str, Any]]:
    """``GET url``; returns ``(HTTP status, JSON body)``."""
    return _send(urllib.request.Request(url), timeout=timeout)


def _send(request: urllib.request.Request, *, timeout: float) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (the caller's URL)
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            return error.code, json.loads(text)
        except ValueError:
            return error.code, {"error": text.decode(errors="replace")}
