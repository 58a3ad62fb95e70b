"""What every heuristic shares: ragged batches as flat numpy arrays, and one way to turn a
method's own scores into a full ranking with popularity behind it.

Scores come out as ``(B, n_items + 1)`` like a neural model's, so
:func:`~eodrec.metrics.rank_of_target` ranks them with the same pessimistic ties.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
import torch

from eodrec.data.splits import Examples
from eodrec.metrics import PADDING_ID, rank_of_target

INDEX = np.int32  # item and session ids in a fitted index, as a device would store them


@dataclass(frozen=True)
class Flat:
    """A batch of sequences as flat arrays, in order: ``items[j]`` sits at 1-based position
    ``positions[j]`` of sequence ``rows[j]``, which holds ``lengths[rows[j]]`` items."""

    rows: np.ndarray
    positions: np.ndarray
    items: np.ndarray
    lengths: np.ndarray

    @classmethod
    def of(cls, sequences: Sequence[Sequence[int]]) -> Flat:
        lengths = np.fromiter(map(len, sequences), dtype=np.int64, count=len(sequences))
        items = np.fromiter(chain.from_iterable(sequences), dtype=np.int64, count=lengths.sum())
        rows = np.repeat(np.arange(len(sequences)), lengths)
        return cls(rows, offsets_within(lengths) + 1, items, lengths)

    def last_occurrences(self) -> Flat:
        """Each (sequence, item) pair once, at the item's most recent position."""
        keys = self.rows * (int(self.items.max(initial=0)) + 1) + self.items
        _, from_end = np.unique(keys[::-1], return_index=True)
        keep = keys.size - 1 - from_end
        return Flat(self.rows[keep], self.positions[keep], self.items[keep], self.lengths)


def offsets_within(counts: np.ndarray) -> np.ndarray:
    """0, 1, ..., c - 1 for each count c, concatenated."""
    starts = np.cumsum(counts) - counts
    return np.arange(int(counts.sum())) - np.repeat(starts, counts)


def rank_in_group(groups: np.ndarray) -> np.ndarray:
    """0-based position of each entry within its run of equal values of the sorted ``groups``."""
    return np.arange(groups.size) - np.searchsorted(groups, groups, side="left")


def compressed_rows(keys: np.ndarray, n_keys: int) -> np.ndarray:
    """The ``indptr`` of a compressed sparse row index whose entries have the sorted ``keys``."""
    return np.concatenate([[0], np.cumsum(np.bincount(keys, minlength=n_keys))]).astype(INDEX)


def gather(indptr: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The entries of rows ``keys`` of a compressed index: for each, which key it came from
    (its position in ``keys``) and its position in the index's value arrays."""
    starts = indptr[keys].astype(np.int64)
    counts = indptr[keys + 1] - starts
    owner = np.repeat(np.arange(keys.size), counts)
    return owner, starts[owner] + offsets_within(counts)


def dense(shape: tuple[int, int], rows: np.ndarray, cols: np.ndarray, weights) -> np.ndarray:
    """The (B, C) float64 matrix of summed ``weights`` at (``rows``, ``cols``)."""
    flat = np.bincount(rows * shape[1] + cols, weights=weights, minlength=shape[0] * shape[1])
    return flat.reshape(shape)


def rank_then_fallback(primary: np.ndarray, fallback: np.ndarray) -> torch.Tensor:
    """Order each row by ``primary`` (0 = no opinion), then its exact ties by ``fallback``.

    ``primary`` (B, n_items + 1, non-negative) is replaced, in place, by its dense rank among
    the row's scored items (1 = lowest), to which ``fallback`` in [0, 1) is added: order by
    the method first, popularity second, exactly, whatever the scale of the method's scores.
    """
    rows, cols = np.nonzero(primary)
    if rows.size:
        values = primary[rows, cols]
        order = np.lexsort((values, rows))
        rows, cols, values = rows[order], cols[order], values[order]
        new_row = np.r_[True, rows[1:] != rows[:-1]]
        level = np.cumsum(new_row | np.r_[True, values[1:] != values[:-1]])
        row_start = np.maximum.accumulate(np.where(new_row, np.arange(rows.size), 0))
        primary[rows, cols] = level - level[row_start] + 1
    primary += fallback
    return torch.from_numpy(primary)


class Heuristic:
    """A recommender with nothing trained: ``fit`` counts, ``scores`` ranks every item.

    Every method falls back to training popularity where its own scores tie (an empty
    session, an item it has no opinion on), the way a device fills a short list.
    """

    name = "heuristic"

    def fit(self, sessions: Sequence[Sequence[int]], n_items: int) -> Heuristic:
        """Count ``sessions`` (whole training sessions, oldest first) over items 1..n_items."""
        self.n_items = n_items
        flat = Flat.of(sessions)
        counts = np.bincount(flat.items, minlength=n_items + 1).astype(np.float64)
        self.fallback = counts / (counts.max() + 1.0)  # in [0, 1): below any own score
        self.fallback[PADDING_ID] = -np.inf
        self._fit(flat)
        return self

    def scores(self, sequences: Sequence[Sequence[int]]) -> torch.Tensor:
        """(B, n_items + 1) float64 scores, higher is better; column 0 (padding) is -inf."""
        primary = np.zeros((len(sequences), self.n_items + 1))
        if len(sequences):
            self._score(Flat.of(sequences), primary)
        return rank_then_fallback(primary, self.fallback)

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The item state a device must hold beyond the popular items' list."""
        return {}

    @property
    def state_bytes(self) -> int:
        return sum(array.nbytes for array in self.state_arrays().values())

    def saved_state(self) -> dict[str, np.ndarray]:
        """Everything :meth:`scores` reads: the popularity fallback and :meth:`state_arrays`."""
        return {"fallback": self.fallback, **self.state_arrays()}

    def restore(self, state: Mapping[str, np.ndarray]) -> Heuristic:
        """This method fitted from a :meth:`saved_state`, as a device loads it: no training
        sessions needed. Its hyperparameters are the constructor's."""
        for name, array in state.items():
            setattr(self, name, np.asarray(array))
        self.n_items = self.fallback.size - 1
        return self

    def _fit(self, sessions: Flat) -> None:
        """Build the method's own index from the flattened training sessions."""

    def _score(self, batch: Flat, primary: np.ndarray) -> None:
        """Write the method's own non-negative scores (0 = none) into ``primary``."""


def rank_examples(method: Heuristic, examples: Examples, batch_size: int = 256) -> torch.Tensor:
    """The (n,) 1-based ranks of each example's target, pessimistic ties, in file order."""
    ranks = []
    for start in range(0, len(examples), batch_size):
        stop = start + batch_size
        targets = torch.tensor(examples.targets[start:stop], dtype=torch.int64)
        ranks.append(rank_of_target(method.scores(examples.sequences[start:stop]), targets))
    return torch.cat(ranks)


def sessions_of(examples: Examples) -> list[list[int]]:
    """The whole sessions behind prefix examples listed shortest prefix first (a training or
    validation split): each session ends where the next example starts a new one-item prefix.
    A one-item session has no example, so it is absent (none in the shipped data)."""
    sequences, targets = examples.sequences, examples.targets
    return [
        [*sequences[i], targets[i]]
        for i in range(len(sequences))
        if i + 1 == len(sequences) or len(sequences[i + 1]) == 1
    ]
