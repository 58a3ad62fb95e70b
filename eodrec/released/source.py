"""The authors' released repository at one pinned commit, fetched on request, never committed.

:func:`fetch_released` copies the repository's files at :data:`PINNED_COMMIT` into a folder
outside this checkout (the cache), from a git URL, a local clone or bare mirror, or a plain
folder holding the files. Whatever the source, every file is checked against the git blob id it
has at the pinned commit, so what runs is exactly that commit; anything else fails with one line.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from eodrec.atomic import atomic_path

RELEASED_REPOSITORY = "https://github.com/xiaxin1998/EODRec"
PINNED_COMMIT = "f56f881a480991e7e71caad2284ae8ff57b27d9a"  # "Update README.md", 2023-05-25
# The git blob id of every Python file at PINNED_COMMIT (``git ls-tree``): what is checked.
PINNED_BLOBS: dict[str, str] = {
    "main_pretrain.py": "72e10bd6fafacc2ed4adb685d8ac55419b689429",
    "main_student.py": "a1e6fc4873523ae432fee27dfc13d2bf9b7e9cac",
    "module.py": "5443a0b4a6d0052d62a87315608efef411b6e669",
    "sas.py": "d811f81854e17d7092dfe6f060ab54469605b4cc",
    "student.py": "c38b85e4a62b51d1288e0203c528027a393a1905",
    "student_pretrain.py": "fd3692a3c6627feaa6dc2c35f164097f62a790bd",
    "utils.py": "de0dba609b7d88fa41fb380a75809d949905b1e1",
}
GIT_TIMEOUT_S = 300


class ReleasedError(ValueError):
    """The released code cannot be fetched, edited, run or read; its message is one line (a
    ``ValueError``, so the command line prints it as ``eodrec: error: ...``)."""


def blob_id(data: bytes) -> str:
    """The git blob id of a file's bytes: sha1 of ``b"blob <size>\\0" + data``."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def check_files(folder: Path, blobs: dict[str, str] | None = None) -> None:
    """Raise :class:`ReleasedError` unless every pinned file is in ``folder`` with its blob id."""
    for name, expected in (blobs or PINNED_BLOBS).items():
        path = Path(folder) / name
        if not path.is_file():
            raise ReleasedError(f"{folder} lacks {name}: not the released repository")
        if blob_id(path.read_bytes()) != expected:
            raise ReleasedError(
                f"{path} differs from {name} at commit {PINNED_COMMIT[:12]}: "
                "not the pinned commit (or edited)"
            )


def fetch_released(
    dest: Path,
    source: str = RELEASED_REPOSITORY,
    commit: str = PINNED_COMMIT,
    blobs: dict[str, str] | None = None,
) -> Path:
    """The released files at ``commit`` as plain files in ``dest`` (reused when already there
    and intact), from ``source``: a git URL, a git repository or bare mirror on disk, or a
    folder of plain files. Returns ``dest``; any failure is one :class:`ReleasedError` line."""
    dest = Path(dest)
    if len(commit) != 40 or any(c not in "0123456789abcdef" for c in commit):
        raise ReleasedError(f"commit {commit!r} is not a full 40-digit hash")
    try:
        check_files(dest, blobs)
        return dest
    except ReleasedError:
        pass
    local = Path(source).expanduser()
    if "://" not in source and not local.exists():
        raise ReleasedError(f"no released code at {source}: no such path, and not a URL")
    with tempfile.TemporaryDirectory(prefix="released-") as temp:
        if "://" not in source and local.is_dir() and not _is_git(local):
            check_files(local, blobs)
            files = {name: (local / name).read_bytes() for name in (blobs or PINNED_BLOBS)}
        else:
            files = _git_files(source, commit, Path(temp), tuple(blobs or PINNED_BLOBS))
        _write_files(dest, files)
    check_files(dest, blobs)
    return dest


def _is_git(folder: Path) -> bool:
    bare = (folder / "HEAD").is_file() and (folder / "objects").is_dir()
    return bare or (folder / ".git").exists()


def _git(args: list[str], what: str) -> bytes:
    """Run git quietly, never prompting; its last error line becomes the one-line error."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}
    try:
        done = subprocess.run(
            ["git", *args], capture_output=True, env=env, timeout=GIT_TIMEOUT_S, check=False
        )
    except FileNotFoundError:
        raise ReleasedError(
            "git is not installed: it is needed to fetch the released code"
        ) from None
    except subprocess.TimeoutExpired:
        raise ReleasedError(f"{what}: git gave no answer in {GIT_TIMEOUT_S} s") from None
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines() or ["(no message)"]
        raise ReleasedError(f"{what}: {lines[-1].strip()}")
    return done.stdout


def _git_files(source: str, commit: str, temp: Path, names: tuple[str, ...]) -> dict[str, bytes]:
    """The files ``names`` of ``commit``, fetched from ``source`` into a scratch repository."""
    repo = temp / "repo.git"
    _git(["init", "--quiet", "--bare", str(repo)], "cannot make a scratch git repository")
    what = f"cannot fetch the released code from {source}"
    refs = "+refs/heads/*:refs/remotes/source/*"
    _git(["--git-dir", str(repo), "fetch", "--quiet", "--no-tags", source, refs], what)
    found = _git(
        ["--git-dir", str(repo), "rev-parse", "--quiet", "--verify", f"{commit}^{{commit}}"],
        f"{source} has no commit {commit[:12]}",
    )
    if found.decode().strip() != commit:
        raise ReleasedError(f"{source} has no commit {commit}")
    archive = _git(["--git-dir", str(repo), "archive", "--format=tar", commit], what)
    files = {}
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name in names:
                files[member.name] = tar.extractfile(member).read()
    return files


def _write_files(dest: Path, files: dict[str, bytes]) -> None:
    """Replace ``dest`` by a folder holding ``files``, each written atomically."""
    if dest.exists():
        shutil.rmtree(dest)
    for name, data in files.items():
        with atomic_path(dest / name) as temp:
            temp.write_bytes(data)


def copy_source(source_dir: Path, work: Path, blobs: dict[str, str] | None = None) -> Path:
    """A fresh copy of the checked files of ``source_dir`` in ``work``, for edits to apply to."""
    check_files(source_dir, blobs)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for name in blobs or PINNED_BLOBS:
        shutil.copyfile(source_dir / name, work / name)
    return work
