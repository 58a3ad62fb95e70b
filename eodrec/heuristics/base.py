"""What every heuristic shares: ragged batches as flat numpy arrays, and one way to turn a
method's own sparse scores into a ranking with popularity behind it, two ways read.

:meth:`Heuristic.scores` writes every item's score, ``(B, n_items + 1)`` like a neural model's,
so :func:`~eodrec.metrics.rank_of_target` ranks them with the same pessimistic ties.
:meth:`Heuristic.top_k` answers a request: the head of that ranking with the same scores,
from the items the method scores and the popular list, never a row of every item's score.
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


# A method's own scores, sparse: (rows, items, scores), each (row, item) once; an item absent
# from a row has no score of the method's there.
Own = tuple[np.ndarray, np.ndarray, np.ndarray]
NO_SCORES: Own = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))


def summed(rows: np.ndarray, items: np.ndarray, weights: np.ndarray, width: int) -> Own:
    """Each (row, item) once with its ``weights`` summed in the order given (V-SKNN: the
    neighbours holding an item), the same float sums as a bincount over a (B, ``width``) table
    would give, without the table."""
    pairs, which = np.unique(rows * width + items, return_inverse=True)
    return pairs // width, pairs % width, np.bincount(which, weights=weights)


def levels(own: Own) -> Own:
    """The scores replaced by their dense rank within the row (1 = lowest), entries sorted by
    row, then score: the method's order, whatever the scale of its scores."""
    rows, items, values = own
    if not rows.size:
        return NO_SCORES
    order = np.lexsort((values, rows))
    rows, items, values = rows[order], items[order], values[order]
    new_row = np.r_[True, rows[1:] != rows[:-1]]
    level = np.cumsum(new_row | np.r_[True, values[1:] != values[:-1]])
    row_start = np.maximum.accumulate(np.where(new_row, np.arange(rows.size), 0))
    return rows, items, (level - level[row_start] + 1).astype(np.float64)


def popularity_order(fallback: np.ndarray) -> np.ndarray:
    """Every item, most popular first, exact ties to the lower id; no padding."""
    order = np.lexsort((np.arange(fallback.size), -fallback))
    return order[order != PADDING_ID]


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
        self.popular = popularity_order(self.fallback)
        self._fit(flat)
        return self

    def scores(self, sequences: Sequence[Sequence[int]]) -> torch.Tensor:
        """(B, n_items + 1) float64 scores, higher is better; column 0 (padding) is -inf. An
        item the method scores gets its score's level (:func:`levels`) on top of its popularity
        in [0, 1): the method first, popularity second, exactly."""
        table = np.tile(self.fallback, (len(sequences), 1))
        rows, items, level = self._levels(sequences)
        table[rows, items] += level
        return torch.from_numpy(table)

    def top_k(self, sequences: Sequence[Sequence[int]], k: int) -> tuple[np.ndarray, np.ndarray]:
        """(B, k) scores and item ids, best first, exact ties to the lower id: the first ``k``
        of :meth:`scores`' ranking, same scores, for ``k <= n_items``, as a device answers.

        A scored item's score is its level plus a popularity below 1, so a higher level always
        wins and only the ties at a row's k-th best level compete on popularity: those levels
        alone are sorted. An unscored item (below 1) only fills a row with fewer than k."""
        n = len(sequences)
        rows, items, level = self._levels(sequences)
        counts = np.bincount(rows, minlength=n)
        full = counts >= k
        kth = np.zeros(n)  # each full row's k-th best level; ties at it compete on popularity
        kth[full] = level[np.cumsum(counts)[full] - k]
        keep = level >= kth[rows]
        rows, items = rows[keep], items[keep]
        score = level[keep] + self.fallback[items]
        order = np.lexsort((items, -score, rows))
        rows, items, score = rows[order], items[order], score[order]
        place = rank_in_group(rows)
        values, ids = np.empty((n, k)), np.empty((n, k), dtype=np.int64)
        best = place < k
        values[rows[best], place[best]] = score[best]
        ids[rows[best], place[best]] = items[best]
        fill_rows, fill_items = self._fill(np.flatnonzero(~full), rows, items, k)
        fill_place = counts[fill_rows] + rank_in_group(fill_rows)
        fits = fill_place < k
        values[fill_rows[fits], fill_place[fits]] = self.fallback[fill_items[fits]]
        ids[fill_rows[fits], fill_place[fits]] = fill_items[fits]
        return values, ids

    def _fill(
        self, short: np.ndarray, rows: np.ndarray, items: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """For each of the ``short`` rows (sorted), the ``k`` most popular items less those
        it scores (``rows``, ``items``), most popular first: enough to fill it to ``k``."""
        fill_rows = np.repeat(short, k)
        fill_items = np.tile(self.popular[:k], short.size)
        width = self.n_items + 1
        free = ~np.isin(fill_rows * width + fill_items, rows * width + items)
        return fill_rows[free], fill_items[free]

    def _levels(self, sequences: Sequence[Sequence[int]]) -> Own:
        """The method's own scores of ``sequences`` as :func:`levels`."""
        return levels(self._own_scores(Flat.of(sequences)) if len(sequences) else NO_SCORES)

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
        self.popular = popularity_order(self.fallback)
        return self

    def _fit(self, sessions: Flat) -> None:
        """Build the method's own index from the flattened training sessions."""

    def _own_scores(self, batch: Flat) -> Own:
        """The method's own scores of ``batch``: (row, item) pairs it has an opinion on."""
        return NO_SCORES


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
