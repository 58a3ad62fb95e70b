"""Training checkpoints: written atomically, read with ``weights_only=True``, tied to one config.

Checkpoints are build outputs, kept in a cache directory outside the repository.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import torch

from eodrec.atomic import atomic_path


class CheckpointError(RuntimeError):
    """A checkpoint that is corrupt or belongs to another config."""


def default_cache_dir() -> Path:
    """``$EODREC_CACHE``, else ``~/.cache/eodrec``."""
    return Path(os.environ.get("EODREC_CACHE", Path.home() / ".cache" / "eodrec"))


def run_dir(run_id: str, cache_dir: Path | None = None) -> Path:
    return Path(cache_dir or default_cache_dir()) / "runs" / run_id


def save_checkpoint(path: Path, state: dict) -> None:
    """``torch.save`` to a temp file beside ``path``, then rename over it."""
    with atomic_path(path) as temp:
        torch.save(state, temp)


def load_checkpoint(path: Path, config_hash: str) -> dict:
    """Load a checkpoint saved for ``config_hash``; anything else is a :class:`CheckpointError`."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint at {path}") from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, pickle.UnpicklingError) as error:
        raise CheckpointError(
            f"checkpoint {path} is corrupt or not a torch checkpoint "
            f"({type(error).__name__}); delete it to start over"
        ) from None
    if not isinstance(state, dict) or state.get("config_hash") != config_hash:
        found = state.get("config_hash") if isinstance(state, dict) else None
        raise CheckpointError(f"checkpoint {path} belongs to config {found!r}, not {config_hash!r}")
    return state


def load_selected_checkpoint(result: dict, cache_dir: Path | None = None) -> dict:
    """The ``best.pt`` of the stored run ``result``: its config and its selected epoch.

    A checkpoint of the same config can come from another training of it (an interrupted run on
    this machine while the stored one was trained on another); its model is not the one the
    result describes, so using it would time, score or distil from the wrong weights."""
    path = run_dir(result["id"], cache_dir) / "best.pt"
    best = load_checkpoint(path, result["config_hash"])
    if best.get("epoch") != result["selected_epoch"]:
        raise CheckpointError(
            f"checkpoint {path} holds epoch {best.get('epoch')}, but the stored run "
            f"{result['id']} selected epoch {result['selected_epoch']}: it comes from another "
            "training of this config; rerun it (--rerun) to score its own model"
        )
    return best
