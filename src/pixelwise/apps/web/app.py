"""The web app: a page to try a model, and a small JSON API, around one :class:`~pixelwise.Predictor`.

Routes:

- ``GET /``: the page (one self-contained HTML file: no CDN, no external fonts or scripts).
- ``GET /api/model``: name, task, classes, palette and upload limits.
- ``POST /api/predict``: a multipart upload with the field ``image`` -> the class map (palette PNG, base64,
  or ``?encoding=rle``), each class's share of the image and the time each step took; for an instance
  model also its instances (class, score, box, COCO RLE mask, area), for a panoptic model its segments,
  and for both the drawing the page shows (:mod:`pixelwise.apps.web.encode`).
- ``GET /healthz``: ``{"status": "ok", ...}`` while the server runs, also while predictions are busy.

Safe by default: the request body is capped (413), the pixel count is checked from the image header before
decoding (413), a non-image or damaged file gets 400 with a one-line reason, at most ``max_running``
predictions run at once while ``max_waiting`` more wait ``wait_timeout_s`` at most (then 503), and no
client-supplied name ever reaches the file system. The predictor is loaded once, by the caller.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict
from importlib.resources import files
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException

from pixelwise.apps.web.client import IMAGE_FIELD
from pixelwise.apps.web.encode import TASKS, check_encoding, describe_model, encode_prediction
from pixelwise.apps.web.limits import ServeLimits
from pixelwise.apps.web.uploads import UploadRejected, check_upload, decode_upload, first_line
from pixelwise.errors import PixelwiseError
from pixelwise.inference import Predictor

# Headers on every response: the page needs nothing from anywhere but this server.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data: blob:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# An over-size body up to this much larger than the limit is read and discarded, so that the client, still
# sending, receives the 413 instead of a reset connection; a body announced larger still is refused at once.
_DRAIN_BYTES = 64 * 2**20


class _Busy(Exception):
    """No prediction slot became free in time."""


class _Gate:
    """At most ``running`` holders at once; at most ``waiting`` more wait, each ``timeout`` seconds at most."""

    def __init__(self, *, running: int, waiting: int, timeout: float) -> None:
        self._slots = asyncio.Semaphore(running)
        self.max_waiting, self.timeout = waiting, timeout
        self.running = self.waiting = 0

    async def __aenter__(self) -> None:
        if self._slots.locked() and self.waiting >= self.max_waiting:
            raise _Busy
        self.waiting += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), timeout=self.timeout)
        except TimeoutError:
            raise _Busy from None
        finally:
            self.waiting -= 1
        self.running += 1

    async def __aexit__(self, *exc_info: object) -> None:
        self.running -= 1
        self._slots.release()


def create_app(predictor: Predictor, *, limits: ServeLimits | None = None, title: str | None = None) -> FastAPI:
    """The web app around ``predictor`` (loaded once by the caller and shared by every request).

    Args:
        predictor: Any semantic, instance or panoptic predictor (a model file's network, an ONNX session, a
            classical method).
        limits: Upload size, pixel count and concurrency (default :class:`ServeLimits`).
        title: Shown on the page (default: the model's name).

    Raises:
        PixelwiseError: The predictor's task is not one the page can show.
    """
    if predictor.task not in TASKS:
        raise PixelwiseError(f"pixelwise serve shows {', '.join(TASKS)} models; this predictor's task is {predictor.task!r}")
    limits = limits or ServeLimits()
    model = {**describe_model(predictor, title=title), "limits": asdict(limits)}
    page = (files("pixelwise.apps.web") / "static" / "index.html").read_text(encoding="utf-8")
    gate = _Gate(running=limits.max_running, waiting=limits.max_waiting, timeout=limits.wait_timeout_s)
    counts = {"served": 0, "refused": 0}

    # The interactive API pages load scripts from a CDN: off (and nothing here may reach the internet).
    app = FastAPI(title="pixelwise", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.update(_SECURITY_HEADERS)
        return response

    @app.exception_handler(UploadRejected)
    async def rejected(request: Request, error: UploadRejected) -> JSONResponse:
        counts["refused"] += 1
        return JSONResponse({"error": error.reason}, status_code=error.status)

    @app.exception_handler(Exception)
    async def failed(request: Request, error: Exception) -> JSONResponse:
        # Starlette raises the error again after this answer, so that uvicorn logs its traceback.
        return JSONResponse({"error": f"the server failed on this request ({type(error).__name__}: {first_line(error)})"},
                            status_code=500)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        return JSONResponse({"error": str(error.detail)}, status_code=error.status_code, headers=error.headers)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "model": model["name"], "running": gate.running, "waiting": gate.waiting, **counts}

    @app.get("/api/model")
    async def model_info() -> dict[str, Any]:
        return model

    @app.post("/api/predict")
    async def predict(request: Request, encoding: str = "png") -> JSONResponse:
        try:
            check_encoding(encoding, labels=predictor.labels)
        except PixelwiseError as error:
            raise UploadRejected(400, str(error)) from None
        data = await _read_image_field(request, limit=limits.max_upload_bytes)
        check_upload(data, max_pixels=limits.max_pixels)  # a non-image or a bomb never waits for a slot
        start = time.perf_counter()
        try:
            async with gate:
                waited = time.perf_counter() - start
                body = await anyio.to_thread.run_sync(_predict, predictor, data, encoding, limits.max_pixels)
        except _Busy:
            counts["refused"] += 1
            return JSONResponse(
                {"error": f"the server is busy ({limits.max_running} predictions running, {gate.waiting} waiting); "
                          "try again in a moment"},
                status_code=503, headers={"Retry-After": "1"},
            )  # fmt: skip
        counts["served"] += 1
        body["timing_ms"]["wait"] = round(waited * 1000, 1)
        return JSONResponse(body)

    return app


def _predict(predictor: Predictor, data: bytes, encoding: str, max_pixels: int) -> dict[str, Any]:
    """Decode, predict, encode (in a worker thread); every step timed."""
    start = time.perf_counter()
    image = decode_upload(data, channels=predictor.in_channels, max_pixels=max_pixels)  # (C, H, W) uint8
    decoded = time.perf_counter()
    prediction = predictor(image)
    predicted = time.perf_counter()
    body = encode_prediction(prediction, labels=predictor.labels, encoding=encoding)
    body["timing_ms"] = {
        "decode": round((decoded - start) * 1000, 1),
        "predict": round((predicted - decoded) * 1000, 1),
        "encode": round((time.perf_counter() - predicted) * 1000, 1),
    }
    return body


async def _read_image_field(request: Request, *, limit: int) -> bytes:
    """The bytes of the multipart field ``image``, the whole body held to ``limit`` bytes."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise UploadRejected(
            400, f"send the image as multipart/form-data in the field {IMAGE_FIELD!r} (curl -F {IMAGE_FIELD}=@photo.jpg)"
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit + _DRAIN_BYTES:
        raise UploadRejected(413, _too_large(int(declared), limit))
    body, received = bytearray(), 0
    async for chunk in request.stream():
        received += len(chunk)
        if received <= limit:
            body += chunk
        elif received > limit + _DRAIN_BYTES:
            break
    if received > limit:
        raise UploadRejected(413, _too_large(received, limit))

    async def replay() -> dict[str, Any]:
        return {"type": "http.request", "body": bytes(body), "more_body": False}

    try:
        form = await Request(request.scope, replay).form(max_files=1, max_fields=8)
    except HTTPException as error:  # python-multipart's complaint about a malformed body
        raise UploadRejected(400, f"malformed multipart body ({error.detail})") from None
    try:
        upload = form.get(IMAGE_FIELD)
        if upload is None or isinstance(upload, str):
            raise UploadRejected(400, f"no file in the multipart field {IMAGE_FIELD!r}; send one image as {IMAGE_FIELD}=@FILE")
        return await upload.read()
    finally:
        await form.close()


def _too_large(size: int, limit: int) -> str:
    return f"the upload is {size:,} bytes or more; the limit is {limit:,} bytes ({limit / 2**20:.0f} MiB): send a smaller image"
