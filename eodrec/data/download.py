"""Fetch the pinned data files, verified, without ever leaving a partial file behind.

Each file is streamed into a temporary file next to its destination, checked against its pinned
sha256 and only then renamed into place (``os.replace`` is atomic on one filesystem), so an
interrupted or corrupted download cannot be mistaken for data.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.request
from pathlib import Path
from typing import BinaryIO

from tqdm import tqdm

from eodrec.data.errors import ChecksumError, DataError
from eodrec.data.files import ALL_FILES, RemoteFile, sha256_file

_CHUNK = 1 << 16


def download(
    dest: str | os.PathLike[str], mirror: str | None = None, progress: bool = True
) -> list[Path]:
    """Download every manifest file into ``dest`` and return their paths.

    ``mirror`` replaces the GitHub sources: ``f"{mirror}/{folder}/{file}"`` is fetched instead
    (any URL urllib understands, including ``file://``). Files already present with the right
    checksum are skipped.
    """
    dest = Path(dest)
    paths = []
    for entry in ALL_FILES:
        target = dest / entry.relpath
        if not (target.is_file() and sha256_file(target) == entry.sha256):
            url = entry.url if mirror is None else f"{mirror.rstrip('/')}/{entry.relpath}"
            _fetch(url, target, entry, progress)
        paths.append(target)
    return paths


def _fetch(url: str, target: Path, entry: RemoteFile, progress: bool) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _stream(url, out, entry.relpath, progress)
        if digest != entry.sha256:
            raise ChecksumError(
                url,
                f"sha256 {digest} differs from the pinned {entry.sha256} for "
                f"{entry.relpath}; {target} was left unchanged",
            )
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; data files are meant to be shared
        os.replace(tmp, target)
    finally:
        # tmp still exists here only on failure (including KeyboardInterrupt).
        tmp.unlink(missing_ok=True)


def _stream(url: str, out: BinaryIO, desc: str, progress: bool) -> str:
    """Copy ``url`` into ``out``; return the sha256 of the bytes written."""
    digest = hashlib.sha256()
    try:
        with (
            urllib.request.urlopen(url, timeout=60) as response,
            tqdm(
                total=int(response.headers.get("Content-Length") or 0) or None,
                unit="B",
                unit_scale=True,
                desc=desc,
                disable=not progress,
            ) as bar,
        ):
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                out.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
    except (OSError, http.client.HTTPException) as exc:  # URLError/HTTPError are OSErrors
        raise DataError(url, f"download failed: {exc}") from exc
    return digest.hexdigest()
