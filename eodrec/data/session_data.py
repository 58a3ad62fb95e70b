"""The in-memory form every dataset is loaded into."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SessionData:
    """Training sessions and prefix test examples of one dataset.

    Item ids run 1..``n_items``; 0 is reserved for padding. ``train_sessions`` are whole
    sessions (augment them with :func:`eodrec.data.augment_prefixes`); the test split is already
    a list of (prefix, next item) examples as the benchmark files ship it. ``checksums`` maps
    each file read (relative to the data directory) to its sha256, for run provenance.
    """

    name: str
    train_sessions: list[list[int]]
    test_sequences: list[list[int]]
    test_targets: list[int]
    n_items: int
    checksums: dict[str, str]
