"""Downloads, offline: archives built here, served by a bounded HTTP server on 127.0.0.1 or as file:// URLs."""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pixelwise.data import download
from pixelwise.data.download import Resource, Source, download_dataset, download_file, extract_archive
from pixelwise.errors import PixelwiseError


class Handler(BaseHTTPRequestHandler):
    """Serves ``server.files``; honours ``Range: bytes=N-``; cuts the next response short if asked."""

    def do_GET(self) -> None:  # noqa: N802  (http.server's name)
        server = self.server
        server.requests.append((self.path, self.headers.get("Range")))
        body = server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        if self.headers.get("Range") and server.ranges:
            start = int(self.headers["Range"].removeprefix("bytes=").rstrip("-"))
            if start >= len(body):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        if server.cut_after is not None:
            self.wfile.write(body[start : start + server.cut_after])  # then drop the connection
            server.cut_after = None
            self.close_connection = True
            return
        self.wfile.write(body[start:])

    def log_message(self, *args) -> None:  # keep test output quiet
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.files, httpd.requests, httpd.ranges, httpd.cut_after = {}, [], True, None
    httpd.timeout = 5
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def url(httpd, path: str) -> str:
    return f"http://127.0.0.1:{httpd.server_address[1]}{path}"


def tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def quiet(_: str) -> None:
    pass


PAYLOAD = bytes(range(256)) * 400  # 100 KiB


def test_download_verifies_md5_and_sha256(server, tmp_path):
    server.files["/a.bin"] = PAYLOAD
    path = download_file(url=url(server, "/a.bin"), path=tmp_path / "a.bin", md5=md5(PAYLOAD),
                         sha256=hashlib.sha256(PAYLOAD).hexdigest(), log=quiet)
    assert path.read_bytes() == PAYLOAD and not (tmp_path / "a.bin.part").exists()
    download_file(url=url(server, "/a.bin"), path=path, md5=md5(PAYLOAD), log=quiet)
    assert len(server.requests) == 1  # present with the right checksum: not fetched again


def test_interrupted_download_resumes_with_a_range_request(server, tmp_path):
    server.files["/a.bin"] = PAYLOAD
    server.cut_after = 30_000
    with pytest.raises(PixelwiseError, match="run the same command again to resume"):
        download_file(url=url(server, "/a.bin"), path=tmp_path / "a.bin", md5=md5(PAYLOAD), log=quiet, chunk_size=4096)
    part = tmp_path / "a.bin.part"
    kept = part.stat().st_size
    assert 0 < kept < len(PAYLOAD) and not (tmp_path / "a.bin").exists()
    download_file(url=url(server, "/a.bin"), path=tmp_path / "a.bin", md5=md5(PAYLOAD), log=quiet)
    assert server.requests[-1] == ("/a.bin", f"bytes={kept}-")
    assert (tmp_path / "a.bin").read_bytes() == PAYLOAD


def test_server_without_range_support_restarts(server, tmp_path):
    server.files["/a.bin"] = PAYLOAD
    server.ranges = False
    (tmp_path / "a.bin.part").write_bytes(b"stale bytes from another file")
    download_file(url=url(server, "/a.bin"), path=tmp_path / "a.bin", md5=md5(PAYLOAD), log=quiet)
    assert (tmp_path / "a.bin").read_bytes() == PAYLOAD


def test_complete_part_file_answered_416(server, tmp_path):
    server.files["/a.bin"] = PAYLOAD
    (tmp_path / "a.bin.part").write_bytes(PAYLOAD)
    download_file(url=url(server, "/a.bin"), path=tmp_path / "a.bin", md5=md5(PAYLOAD), log=quiet)
    assert (tmp_path / "a.bin").read_bytes() == PAYLOAD


def test_wrong_checksum_keeps_nothing(server, tmp_path):
    server.files["/a.bin"] = PAYLOAD
    with pytest.raises(PixelwiseError, match="wrong checksum"):
        download_file(url=url(server, "/a.bin"), path=tmp_path / "a.bin", md5="0" * 32, log=quiet)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(PixelwiseError, match="HTTP 404"):
        download_file(url=url(server, "/missing"), path=tmp_path / "b.bin", log=quiet)


def test_file_url_and_zip_extraction(tmp_path):
    archive = tmp_path / "src.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("data/images/x.png", b"png")
    fetched = download_file(url=archive.as_uri(), path=tmp_path / "dl" / "src.zip", log=quiet)
    extract_archive(archive=fetched, dest=tmp_path / "out")
    assert (tmp_path / "out" / "data" / "images" / "x.png").read_bytes() == b"png"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["data"]  # no staging folder left behind


def test_unsafe_archives_are_refused(tmp_path):
    evil_zip = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil_zip, "w") as bundle:
        bundle.writestr("../escaped.txt", b"x")
    with pytest.raises(PixelwiseError, match="unsafe path"):
        extract_archive(archive=evil_zip, dest=tmp_path / "out")
    evil_tar = tmp_path / "evil.tar.gz"
    evil_tar.write_bytes(tar_gz({"../escaped.txt": b"x"}))
    with pytest.raises(PixelwiseError, match="unsafe member"):
        extract_archive(archive=evil_tar, dest=tmp_path / "out2")
    assert not (tmp_path / "escaped.txt").exists()
    assert list((tmp_path / "out").iterdir()) == [] and list((tmp_path / "out2").iterdir()) == []
    (tmp_path / "plain.txt").write_text("hello")
    with pytest.raises(PixelwiseError, match="neither a zip nor a tar"):
        extract_archive(archive=tmp_path / "plain.txt", dest=tmp_path / "out3")


def test_download_dataset_fetches_extracts_merges_and_skips_when_done(server, tmp_path, monkeypatch):
    images = tar_gz({"images/Cat_1.jpg": b"jpg"})
    annotations = tar_gz({"annotations/trainval.txt": b"Cat_1 1 1 1\n", "annotations/trimaps/Cat_1.png": b"png"})
    server.files |= {"/images.tar.gz": images, "/annotations.tar.gz": annotations}
    source = Source((
        Resource(url(server, "/images.tar.gz"), "images.tar.gz", md5=md5(images)),
        Resource(url(server, "/annotations.tar.gz"), "annotations.tar.gz", md5=md5(annotations)),
    ))  # fmt: skip
    monkeypatch.setitem(download.SOURCES, "pets", source)
    root = download_dataset(name="pets", cache_dir=tmp_path, log=quiet)
    assert root == tmp_path / "pets" / "."
    assert (root / "images" / "Cat_1.jpg").read_bytes() == b"jpg"
    assert (root / "annotations" / "trainval.txt").read_text() == "Cat_1 1 1 1\n"
    download_dataset(name="pets", cache_dir=tmp_path, log=quiet)
    assert len(server.requests) == 2  # the second call found both archives extracted


def test_sources_that_cannot_be_fetched_say_why():
    with pytest.raises(PixelwiseError, match="cityscapes cannot be downloaded automatically: needs a login"):
        download_dataset(name="cityscapes", log=quiet)
    with pytest.raises(PixelwiseError, match="no download source for 'nope'"):
        download_dataset(name="nope", log=quiet)
