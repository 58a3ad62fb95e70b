"""The one list of dataset names and their spellings; every per-dataset table is keyed by it.

User input (CLI arguments, notebook parameters) is canonicalized once, at that edge, by
:func:`canonical_name`; everything inside takes the canonical name and checks it with
:func:`check_dataset`.
"""

from __future__ import annotations

DATASET_NAMES: tuple[str, ...] = ("Tmall", "retailrocket", "toy")
SYNTHETIC = "toy"  # generated from a seed inside the package: the smoke profile's data
REAL_DATASETS: tuple[str, ...] = tuple(name for name in DATASET_NAMES if name != SYNTHETIC)
# How the paper's tables and the book spell each dataset (the data files use lower case).
DISPLAY_NAMES: dict[str, str] = {"Tmall": "Tmall", "retailrocket": "RetailRocket", "toy": "toy"}


def canonical_name(name: str) -> str:
    """Map a case-insensitive dataset name to its canonical spelling."""
    by_lower = {n.lower(): n for n in DATASET_NAMES}
    try:
        return by_lower[name.lower()]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; choose one of {DATASET_NAMES}") from None


def check_dataset(name: str) -> str:
    """``name`` itself if it is a canonical dataset name, else a ValueError naming the spelling."""
    if name not in DATASET_NAMES:
        hint = ""
        if name.lower() in {n.lower() for n in DATASET_NAMES}:
            hint = f" (did you mean {canonical_name(name)!r}?)"
        raise ValueError(f"unknown dataset {name!r}{hint}; choose one of {DATASET_NAMES}")
    return name
