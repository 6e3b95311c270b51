"""``pixelwise.apps.web.serve``: load a model file once and serve the app with uvicorn."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from pixelwise.apps.web.app import create_app
from pixelwise.apps.web.limits import ServeLimits
from pixelwise.errors import PixelwiseError
from pixelwise.inference import Predictor

# Connections uvicorn takes at once before it answers 503 itself: a backstop above the app's own queue, so
# that bodies still arriving cannot pile up without bound.
_MAX_CONNECTIONS = 64


def serve(
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    predictor: Predictor | None = None,
    demo: bool = False,
    demo_dir: str | os.PathLike[str] = "pixelwise-demo",
    host: str = "127.0.0.1",
    port: int = 8000,
    limits: ServeLimits | None = None,
    device: str = "auto",
    precision: str = "auto",
    score_threshold: float = 0.5,
    strategy: Mapping[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
) -> None:
    """Serve the page and API for a model file, a predictor, or the demo model, until interrupted.

    Args:
        checkpoint: A model file (``best.pt``, an exported ``.onnx``, a ``save_pretrained`` folder).
        predictor: Instead, any predictor object.
        demo: Instead, the model ``pixelwise demo`` trains in ``demo_dir`` (trained first when missing).
        host: Interface to bind: ``127.0.0.1`` (this machine only) unless you mean to share it; the app has
            no authentication.
        port: TCP port (0: any free one; the URL printed says which).
        limits: Upload size, pixel count and concurrency (default :class:`ServeLimits`).
        device, precision: Where and how a model file runs.
        score_threshold: Instance models: instances less confident than this are not shown.
        strategy: How a model file is applied: ``Predictor.from_file``'s ``window``, ``overlap``,
            ``window_batch``, ``blend``, ``scales``, ``flip``, ``backend``, ``calibration`` (sliding windows,
            test-time augmentation, the runtime).
        log: Where the one-line messages go (default: standard output, flushed at once).
    """
    log = log or _say
    if sum((checkpoint is not None, predictor is not None, demo)) != 1:
        raise PixelwiseError("give exactly one of a checkpoint (--checkpoint MODEL), a predictor, or --demo")
    title = None
    if demo:
        from pixelwise.engine.demo import demo_model_file

        checkpoint = demo_model_file(out=demo_dir, log=log)
    if checkpoint is not None:
        predictor = Predictor.from_file(checkpoint, device=device, precision=precision, score_threshold=score_threshold,
                                        **dict(strategy or {}))
        path = Path(checkpoint).resolve()
        title = f"{path.parent.name}/{path.name}" if path.name in ("best.pt", "last.pt") else path.name  # a run's folder names it
    app = create_app(predictor, limits=limits, title=title)
    sock = bind(host, port)
    if not _is_loopback(host):
        log(f"warning: serving on {host}, reachable from other machines; the app has no authentication")
    log(f"pixelwise serve: a {predictor.task} model of {predictor.labels.num_classes} classes; open {url_of(sock)}/ (Ctrl+C stops)")
    server = uvicorn.Server(_config(app))
    server.run(sockets=[sock])


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (IPv4 or IPv6), bound before uvicorn starts so that port 0
    gets a free port and the URL printed is the real one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise PixelwiseError(f"cannot listen on {host}:{port} ({error.strerror}); choose another --port or --host") from None
    sock.listen(128)
    return sock


def url_of(sock: socket.socket) -> str:
    """``http://HOST:PORT`` of a bound socket."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@contextlib.contextmanager
def running_in_thread(app: FastAPI, *, host: str = "127.0.0.1", port: int = 0, timeout: float = 30.0) -> Iterator[str]:
    """Serve ``app`` from a background thread (a notebook, a test); yields its URL and stops it on exit."""
    sock = bind(host, port)
    server = uvicorn.Server(_config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="pixelwise-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise PixelwiseError(f"the web server did not start within {timeout:g} s")
        time.sleep(0.02)
    try:
        yield url_of(sock)
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()


def _config(app: FastAPI, *, log_level: str = "info") -> uvicorn.Config:
    return uvicorn.Config(
        app, log_level=log_level, access_log=False, limit_concurrency=_MAX_CONNECTIONS, timeout_graceful_shutdown=5
    )


def _say(message: str) -> None:
    print(message, flush=True)  # flushed: a log file or a pipe sees the URL before the server blocks


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
