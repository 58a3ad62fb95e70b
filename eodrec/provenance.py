"""Where a number came from: code version, machine, packages, data, time."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import torch

_PACKAGES = ("eodrec", "torch", "numpy", "pandas")


SOURCE_COMMIT_ENV = "EODREC_SOURCE_COMMIT"


def git_commit(start: Path | None = None) -> str:
    """The commit of the checkout this code runs from, with ``+dirty`` for local edits.

    A copy of the source without its ``.git`` (a container image, a tree copied to a GPU
    machine) has no commit to read; ``$EODREC_SOURCE_COMMIT`` then names the commit it was
    copied from, recorded as declared so that it is never mistaken for one read from git.
    """
    cwd = Path(start or Path(__file__).resolve().parent)
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        declared = os.environ.get(SOURCE_COMMIT_ENV)
        if declared:
            return f"{declared} (declared by ${SOURCE_COMMIT_ENV}; not a git checkout)"
        return "unknown (not a git checkout)"
    return commit + ("+dirty" if dirty else "")


def hardware() -> dict[str, object]:
    """The machine a number was measured on; timings only compare within one machine."""
    info: dict[str, object] = {
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": "cpu",
    }
    if torch.cuda.is_available():
        info["device"] = "cuda"
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def provenance(
    profile: str,
    data_checksums: dict[str, str] | None = None,
    commit: str | None = None,
    **extra: object,
) -> dict[str, object]:
    """Everything needed to tell whether two numbers are comparable.

    ``commit`` is the code version that produced the number; by default the current checkout's.
    """
    return {
        "profile": profile,
        "git_commit": commit or git_commit(),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "hardware": hardware(),
        "versions": package_versions(),
        "data_checksums": dict(data_checksums or {}),
        **extra,
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
