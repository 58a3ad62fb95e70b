"""The one way a dataset becomes train / validation / test examples.

Model selection uses a validation split of whole training *sessions* (never the test file), so
every consumer — training, evaluation, export, benchmarks — must cut it the same way: here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from eodrec.data.datasets import load_dataset
from eodrec.data.session_data import SessionData
from eodrec.data.sessions import augment_prefixes, split_validation

if TYPE_CHECKING:
    from eodrec.config import DataConfig


@dataclass(frozen=True)
class Examples:
    """Prefix examples of one split: ``sequences[i]`` is followed by ``targets[i]``."""

    sequences: list[list[int]]
    targets: list[int]

    def __len__(self) -> int:
        return len(self.targets)


@dataclass(frozen=True)
class Splits:
    train: Examples
    valid: Examples
    test: Examples


def make_splits(data: SessionData, valid_fraction: float, split_seed: int) -> Splits:
    """Hold out whole sessions for validation, then prefix-augment each side separately."""
    train_sessions, valid_sessions = split_validation(
        data.train_sessions, valid_fraction, split_seed
    )

    def examples(sessions: list[list[int]]) -> Examples:
        sequences, targets, _ = augment_prefixes(sessions)
        return Examples(list(sequences), list(targets))

    return Splits(
        examples(train_sessions),
        examples(valid_sessions),
        Examples(list(data.test_sequences), list(data.test_targets)),
    )


def load_splits(
    config: DataConfig, data_dir: str | os.PathLike[str] | None = None
) -> tuple[SessionData, Splits]:
    """Load ``config``'s dataset and cut it into its splits: the data (item count, checksums)
    and them. Every consumer goes through here, so every one cuts validation the same way."""
    data = load_dataset(config.dataset, data_dir)
    return data, make_splits(data, config.valid_fraction, config.split_seed)
