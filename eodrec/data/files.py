"""Where the data lives: the data directory, the pinned file manifest, checksums.

Every file is pinned to a public commit and a sha256 so that a result can be traced to the exact
bytes it was computed from.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from eodrec.data.errors import DataMissingError

DATA_ENV = "EODREC_DATA"
GITHUB_RAW = "https://raw.githubusercontent.com"


@dataclass(frozen=True)
class RemoteFile:
    """One data file: where it goes under the data directory and where it is published."""

    folder: str
    name: str
    sha256: str
    repo: str
    commit: str
    source_path: str

    @property
    def relpath(self) -> str:
        """Path under the data directory (and under a mirror), e.g. ``Tmall/test.txt``."""
        return f"{self.folder}/{self.name}"

    @property
    def url(self) -> str:
        return f"{GITHUB_RAW}/{self.repo}/{self.commit}/{self.source_path}"


@dataclass(frozen=True)
class DatasetFiles:
    """The two preprocessed pickles of one benchmark dataset."""

    name: str
    folder: str
    train: RemoteFile
    test: RemoteFile

    @property
    def files(self) -> tuple[RemoteFile, RemoteFile]:
        return (self.train, self.test)


def _pair(name: str, repo: str, commit: str, train_sha: str, test_sha: str) -> DatasetFiles:
    def entry(file: str, sha: str) -> RemoteFile:
        return RemoteFile(name, file, sha, repo, commit, f"datasets/{name}/{file}")

    train = entry("all_train_seq.txt", train_sha)
    return DatasetFiles(name, name, train, entry("test.txt", test_sha))


DATASETS: dict[str, DatasetFiles] = {
    "Tmall": _pair(
        "Tmall",
        "CCIIPLab/GCE-GNN",
        "212575302e42d64b8cf0b9ffe1b71b0db398d5be",
        "40219a3222bc575e7061bd665c6dcaa4af3c37a8f8975868689ae0375b765d9c",
        "7813a743324943488c37efa35b511ec649dfcd7697f28f33dcb3d18420d3da5d",
    ),
    "retailrocket": _pair(
        "retailrocket",
        "MSJeinlong/CGENet",
        "361cab1829696845656c0b3727a837ff7e1d6991",
        "f0fc2bed6f2523a4fce2fe75a14f4788865c0461afead1566ba51273438908a4",
        "cbbf1693a3c548390177a56227fe119b93b51cd90445c9224fe52ce50e32a400",
    ),
}

RAW_SAMPLE = RemoteFile(
    "raw",
    "retailrocket_sample.tsv",
    "708b8466f897474c9b00963c69f2152e4efe1255ab43e23cb071d8ce0f6d86c9",
    "kangshitao/SR-GTM",
    "264e1fa19d39ab883c7635b30a5fd3c848b3b5e5",
    "datasets/sample_retailrocket.csv",
)

ALL_FILES: tuple[RemoteFile, ...] = (
    *(f for d in DATASETS.values() for f in (d.train, d.test)),
    RAW_SAMPLE,
)

_HOW_TO_GET = (
    "run `eodrec data download --dest DIR`, or point the project at an existing copy by "
    f"setting {DATA_ENV}=DIR or passing --data-dir DIR"
)


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: the argument, else ``$EODREC_DATA``, else ``./data``."""
    if data_dir is not None:
        return Path(data_dir)
    return Path(os.environ.get(DATA_ENV) or "data")


def require_file(data_dir: str | os.PathLike[str] | None, relpath: str) -> Path:
    """The path of ``relpath`` under the data directory, or a :class:`DataMissingError`."""
    root = resolve_data_dir(data_dir)
    if not root.is_dir():
        raise DataMissingError(root, f"data directory not found; {_HOW_TO_GET}")
    path = root / relpath
    if not path.is_file():
        raise DataMissingError(path, f"data file not found; {_HOW_TO_GET}")
    return path


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
