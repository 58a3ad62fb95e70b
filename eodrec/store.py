"""The results store: one JSON per run, named by experiment and config hash, written atomically.

A result is a pure function of its config (plus data checksum and code version), so a stored
config hash means the run is reused. Files are never overwritten silently: a corrupt file is
reported, and replacing a complete result takes an explicit ``rerun``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from eodrec.atomic import atomic_path
from eodrec.checkpoint import default_cache_dir
from eodrec.config import EXPERIMENTS, ExperimentConfig


class StoreError(RuntimeError):
    """A results file that cannot be read as a result."""


def default_results_dir() -> Path:
    """``$EODREC_RESULTS``, else the checkout's committed ``results/``, else ``./results``.

    The checkout is found by walking up from the working directory to the folder holding
    ``pyproject.toml`` and ``results/``, so notebooks run from ``notebooks/`` find it too.
    """
    if "EODREC_RESULTS" in os.environ:
        return Path(os.environ["EODREC_RESULTS"])
    for folder in (Path.cwd(), *Path.cwd().parents):
        if (folder / "pyproject.toml").exists() and (folder / "results").is_dir():
            return folder / "results"
    return Path("results")


def results_root(profile: str, results: Path | None = None) -> Path:
    """Where results of ``profile`` live: ``smoke`` results are trained on the spot by the pages
    and tests and never committed, so they go to the checkpoint cache; the others to ``results``
    (default: :func:`default_results_dir`)."""
    if profile == "smoke":
        return default_cache_dir() / "results"
    return Path(results) if results is not None else default_results_dir()


def atomic_write_json(path: Path, payload: object) -> None:
    """Write JSON atomically: readers never see half a result."""
    with atomic_path(path) as temp, open(temp, "w") as out:
        json.dump(payload, out, indent=1, sort_keys=False, allow_nan=False)
        out.write("\n")
        out.flush()
        os.fsync(out.fileno())


class ResultsStore:
    """JSON results under ``root/<experiment>/<run id>.json``."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else default_results_dir()

    def path(self, run_id: str) -> Path:
        experiment = run_id.split("-", 1)[0]
        return self.root / experiment / f"{run_id}.json"

    def load(self, run_id: str) -> dict:
        path = self.path(run_id)
        if not path.exists():
            raise StoreError(
                f"no stored run {run_id!r} (looked for {path}); `eodrec runs` lists the stored ones"
            )
        return self._read(path)

    def find(self, config: ExperimentConfig) -> dict | None:
        """The stored result of exactly this config, or None."""
        path = self.path(config.run_id)
        return self._read(path) if path.exists() else None

    def save(self, result: dict, replace: bool = False) -> Path:
        path = self.path(result["id"])
        if path.exists() and not replace:
            self._read(path)  # a corrupt file is reported, not overwritten
            raise StoreError(f"{path} already holds run {result['id']}; rerun to replace it")
        atomic_write_json(path, result)
        return path

    def runs(self) -> list[dict]:
        """Every stored result, oldest experiment name first; a corrupt file raises. Other
        folders of the results directory (``bench/``) hold no runs."""
        paths = [p for e in sorted(EXPERIMENTS) for p in sorted((self.root / e).glob("*.json"))]
        return [self._read(path) for path in paths]

    @staticmethod
    def _read(path: Path) -> dict:
        try:
            result = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise StoreError(
                f"{path} is corrupt or truncated ({error}); move it away or rerun "
                "that run with --rerun"
            ) from None
        if not isinstance(result, dict) or "id" not in result or "config" not in result:
            raise StoreError(f"{path} is not an eodrec result (no 'id' and 'config')")
        return result


def atomic_write_npz(path: Path, compressed: bool = False, **arrays) -> None:
    """``numpy.savez`` (or ``savez_compressed``) through a temp file and a rename."""
    import numpy as np

    with atomic_path(path) as temp, open(temp, "wb") as out:
        (np.savez_compressed if compressed else np.savez)(out, **arrays)
