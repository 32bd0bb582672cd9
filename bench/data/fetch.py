"""Download a dataset's files into the data folder, verified against published checksums."""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from bench.api.errors import BenchError
from bench.data import galaxy10, galaxy_mnist
from bench.io.progress import console

CHUNK_BYTES = 1 << 20
TIMEOUT_S = 60
DEFAULT_DATA_DIR = Path.home() / "galaxy-bench-data"  # where `bench data fetch` puts files without --data-dir


@dataclass(frozen=True)
class RemoteFile:
    """One downloadable file: where it lives, what it is called locally, and its checksum."""

    url: str
    file_name: str
    algorithm: str  # a hashlib name: "md5" or "sha256"
    checksum: str | None  # None: no published checksum, so fetch refuses
    checksum_source: str  # where the checksum was published
    folder: str = ""  # the subfolder of the data folder it goes into ('': the data folder itself)


_GALAXY_MNIST_SOURCE = "mwalmsley/galaxy_mnist, galaxy_mnist.py, GalaxyMNIST.resources"
_GALAXY_MNIST_224_SOURCE = "mwalmsley/galaxy_mnist, galaxy_mnist.py, GalaxyMNISTHighrez.resources"


def _galaxy_mnist_files(
    resolution: galaxy_mnist.Resolution, train: tuple[str, str], test: tuple[str, str], source: str
) -> tuple[RemoteFile, ...]:
    """The two gzipped GalaxyMNIST files of ``resolution``, from their Dropbox folder and md5 (``train``, ``test``)."""
    return tuple(
        RemoteFile(
            url=f"https://dl.dropboxusercontent.com/s/{folder}/{name}.gz",
            file_name=f"{name}.gz",
            algorithm="md5",
            checksum=md5,
            checksum_source=source,
            folder=resolution.subfolder,
        )
        for name, (folder, md5) in ((galaxy_mnist.TRAIN_FILE, train), (galaxy_mnist.TEST_FILE, test))
    )


SOURCES: dict[str, tuple[RemoteFile, ...]] = {
    galaxy10.NAME: (
        RemoteFile(
            url=f"https://zenodo.org/records/10845026/files/{galaxy10.FILE_NAME}",
            file_name=galaxy10.FILE_NAME,
            algorithm="sha256",
            checksum="19aefc477c41bb7f77ff07599a6b82a038dc042f889a111b0d4d98bb755c1571",
            checksum_source="astroNN docs (galaxy10.rst) and astroNN.datasets.galaxy10",
        ),
    ),
    galaxy_mnist.NAME: _galaxy_mnist_files(
        galaxy_mnist.LOW_RES,
        train=("5a14de0o7slyif9", "e408ae294e9b975482dc1abffeb373a6"),
        test=("5rza12nn24cwd2k", "7a940e4cea64a8b7cb60339098f74490"),
        source=_GALAXY_MNIST_SOURCE,
    ),
    galaxy_mnist.HIGH_RES.name: _galaxy_mnist_files(
        galaxy_mnist.HIGH_RES,
        train=("xenuo0ekgyi10ru", "3391dcddac14d5b4055db73fb600ae63"),
        test=("lczri4sb4bbcgyh", "fb272c4e94000b4d99a09d638977b0b9"),
        source=_GALAXY_MNIST_224_SOURCE,
    ),
}


def _by_hand(remote: RemoteFile, destination: Path) -> str:
    return f"download {remote.url} on a connected machine and put it at {destination}"


def _file_digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as file:
        while chunk := file.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _download(remote: RemoteFile, destination: Path, progress: Progress) -> None:
    """Stream ``remote`` to a temp file beside ``destination``, check it, then rename it into place."""
    handle, temp_name = tempfile.mkstemp(
        dir=destination.parent, prefix=f".{destination.name}.", suffix=".part"
    )
    temp = Path(temp_name)
    digest = hashlib.new(remote.algorithm)
    try:
        with os.fdopen(handle, "wb") as out:
            try:
                with urllib.request.urlopen(remote.url, timeout=TIMEOUT_S) as response:
                    size = response.headers.get("Content-Length")
                    task = progress.add_task(remote.file_name, total=int(size) if size else None)
                    while chunk := response.read(CHUNK_BYTES):
                        out.write(chunk)
                        digest.update(chunk)
                        progress.advance(task, len(chunk))
            except urllib.error.HTTPError as error:
                raise BenchError(
                    f"{remote.url} answered HTTP {error.code} ({error.reason}); the file may have moved",
                    _by_hand(remote, destination),
                ) from error
            except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as error:
                raise BenchError(
                    f"cannot download {remote.url} ({getattr(error, 'reason', error)}); "
                    "this machine seems to be offline",
                    _by_hand(remote, destination),
                ) from error
        if digest.hexdigest() != remote.checksum:
            raise BenchError(
                f"{remote.file_name} from {remote.url} has {remote.algorithm} {digest.hexdigest()}, "
                f"expected {remote.checksum}, so it was discarded",
                f"fetch again; if the checksum still differs, the upstream file has changed: "
                f"{_by_hand(remote, destination)}",
            )
        os.replace(temp, destination)
    finally:
        temp.unlink(missing_ok=True)


def fetch(dataset_name: str, data_dir: Path) -> list[Path]:
    """Download ``dataset_name``'s files into ``data_dir`` (or the subfolder of it where its loader looks);
    files already there and intact are kept."""
    key = dataset_name.lower().replace("-", "_")
    if key not in SOURCES:
        raise BenchError(
            f"no download known for dataset '{dataset_name}'", f"choose one of: {', '.join(sorted(SOURCES))}"
        )
    data_dir = Path(data_dir).expanduser()
    data_dir.mkdir(parents=True, exist_ok=True)
    for remote in SOURCES[key]:
        if remote.checksum is None:
            raise BenchError(
                f"no published checksum for {remote.url}, so a download cannot be verified",
                _by_hand(remote, data_dir / remote.folder / remote.file_name),
            )
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=bool(os.environ.get("BENCH_NO_PROGRESS")),
    )
    paths = []
    with progress:
        for remote in SOURCES[key]:
            destination = data_dir / remote.folder / remote.file_name
            destination.parent.mkdir(parents=True, exist_ok=True)
            if not (destination.is_file() and _file_digest(destination, remote.algorithm) == remote.checksum):
                _download(remote, destination, progress)
            paths.append(destination)
    return paths
