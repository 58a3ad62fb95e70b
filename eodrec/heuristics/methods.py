"""The four baselines: popularity, recency, sequential rules and vector session-kNN.

SR and V-SKNN follow Ludewig & Jannach, "Evaluation of session-based recommendation
algorithms" (UMUAI 2018), as their session-rec code defines them: SR's rules weighted 1/gap
("div"); V-SKNN's linear position decay, most recent candidate sessions, dot-product
similarity.
"""

from __future__ import annotations

import numpy as np

from eodrec.heuristics.base import (
    INDEX,
    Flat,
    Heuristic,
    Own,
    compressed_rows,
    gather,
    rank_in_group,
    summed,
)


class Popularity(Heuristic):
    """The most popular training items, the same list for every session."""

    name = "pop"


class Recency(Heuristic):
    """The session's own items, most recent first, then the most popular others: 45% of
    Tmall's test targets are already in their session."""

    name = "recency"

    def _own_scores(self, batch: Flat) -> Own:
        seen = batch.last_occurrences()
        return seen.rows, seen.items, seen.positions


class SequentialRules(Heuristic):
    """Rules a -> b, one per pair of items ``gap <= steps`` apart in a training session, each
    occurrence adding 1 / gap; a session is scored by the rules of its last item."""

    name = "sr"

    def __init__(self, steps: int = 10) -> None:
        self.steps = steps

    def _fit(self, sessions: Flat) -> None:
        rows, items, width = sessions.rows, sessions.items, self.n_items + 1
        keys, weights = [], []
        for gap in range(1, self.steps + 1):
            same = rows[gap:] == rows[:-gap]
            keys.append(items[:-gap][same] * width + items[gap:][same])
            weights.append(np.full(int(same.sum()), 1.0 / gap))
        rules, which = np.unique(np.concatenate(keys), return_inverse=True)
        self.rule_ptr = compressed_rows(rules // width, width)
        self.rule_targets = (rules % width).astype(INDEX)
        self.rule_weights = np.bincount(which, weights=np.concatenate(weights))

    def _own_scores(self, batch: Flat) -> Own:
        nonempty = np.flatnonzero(batch.lengths)
        last = batch.items[np.cumsum(batch.lengths)[nonempty] - 1]
        owner, entry = gather(self.rule_ptr, last)
        return nonempty[owner], self.rule_targets[entry], self.rule_weights[entry]

    def state_arrays(self) -> dict[str, np.ndarray]:
        return {
            "rule_ptr": self.rule_ptr,
            "rule_targets": self.rule_targets,
            "rule_weights": self.rule_weights,
        }


class VSKNN(Heuristic):
    """Vector session-kNN: the ``k`` training sessions most similar to this one among the
    ``sample_size`` most recent that share an item with it vote for their items.

    The session is a vector over its items weighted by linear decay (the item at position p of
    an l-item session weighs p / l, an item seen twice its later weight); a training session is
    a binary vector; similarity is their dot product (session-rec divides it by the session's
    distinct items too, which ranks the same). An item scores the sum of the similarities of
    the neighbours holding it; similar neighbours tie-break to the more recent.
    """

    name = "sknn"

    def __init__(self, k: int = 100, sample_size: int = 1000) -> None:
        self.k, self.sample_size = k, sample_size

    def _fit(self, sessions: Flat) -> None:
        width = self.n_items + 1
        pairs = np.unique(sessions.rows * width + sessions.items)  # by session, then item
        session, item = pairs // width, pairs % width
        self.session_ptr = compressed_rows(session, int(sessions.lengths.size))
        self.session_items = item.astype(INDEX)
        by_item = np.lexsort((session, item))  # by item, then session: oldest first
        self.item_ptr = compressed_rows(item[by_item], width)
        self.item_sessions = session[by_item].astype(INDEX)

    @property
    def n_sessions(self) -> int:
        """Training sessions in the index (one more entry in ``session_ptr``)."""
        return self.session_ptr.size - 1

    def _own_scores(self, batch: Flat) -> Own:
        row, session, similarity = self._neighbours(batch)
        owner, entry = gather(self.session_ptr, session)
        width = self.n_items + 1
        return summed(row[owner], self.session_items[entry], similarity[owner], width)

    def _neighbours(self, batch: Flat) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per sequence, its up to ``k`` neighbours (row, session, similarity)."""
        query = batch.last_occurrences()
        weights = query.positions / query.lengths[query.rows]
        owner, entry = gather(self.item_ptr, query.items)
        pairs = query.rows[owner] * self.n_sessions + self.item_sessions[entry]
        candidates, which = np.unique(pairs, return_inverse=True)  # by row, oldest session first
        similarity = np.bincount(which, weights=weights[owner])
        row, session = candidates // self.n_sessions, candidates % self.n_sessions
        from_end = np.searchsorted(row, row, side="right") - 1 - np.arange(row.size)
        sampled = from_end < self.sample_size  # the most recent sessions of each row
        row, session, similarity = row[sampled], session[sampled], similarity[sampled]
        order = np.lexsort((-session, -similarity, row))  # best first, then most recent
        best = order[rank_in_group(row[order]) < self.k]
        return row[best], session[best], similarity[best]

    def state_arrays(self) -> dict[str, np.ndarray]:
        return {
            "session_ptr": self.session_ptr,
            "session_items": self.session_items,
            "item_ptr": self.item_ptr,
            "item_sessions": self.item_sessions,
        }


METHOD_CLASSES: dict[str, type[Heuristic]] = {
    cls.name: cls for cls in (Popularity, Recency, SequentialRules, VSKNN)
}


def build_method(name: str, **params: int) -> Heuristic:
    """An unfitted ``name`` (a :data:`~eodrec.heuristics.config.METHODS` entry) with ``params``."""
    return METHOD_CLASSES[name](**params)
