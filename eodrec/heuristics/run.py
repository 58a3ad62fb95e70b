"""A baseline run: fit on the training sessions, pick the grid point on validation, then time
and rank the test split once with the pick.

Selection reads the validation split only; the test split is touched after it, for the one
chosen model, as for every trained model here.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence

import torch

from eodrec.data.splits import Examples, Splits
from eodrec.heuristics.base import Heuristic, rank_examples, sessions_of
from eodrec.heuristics.config import BaselineConfig
from eodrec.heuristics.methods import build_method
from eodrec.metrics import evaluate_ranks

SELECT_METRIC = "NDCG@10"
# Answer timing as Table 5's latency bench does it: one thread, the top 20 of the next 100 test
# sessions per call, warm-up calls first, the median of the timed ones.
SESSIONS_PER_CALL, TOP_K, WARMUP_CALLS, TIMED_CALLS = 100, 20, 3, 20


def select(
    config: BaselineConfig, train: Examples, valid: Examples, n_items: int
) -> tuple[Heuristic, dict, list[dict]]:
    """The grid point with the best validation :data:`SELECT_METRIC` (the first, on a tie),
    fitted on the training sessions; its grid entry; every point's entry (its parameters,
    validation metrics and fit time)."""
    sessions = sessions_of(train)
    best, grid = None, []
    for params in config.grid():
        start = time.perf_counter()
        method = build_method(config.method, **params).fit(sessions, n_items)
        fit_s = time.perf_counter() - start
        metrics = evaluate_ranks(rank_examples(method, valid))
        grid.append({"params": params, "valid_metrics": metrics, "fit_time_s": fit_s})
        if best is None or metrics[SELECT_METRIC] > best[1]["valid_metrics"][SELECT_METRIC]:
            best = method, grid[-1]
    return *best, grid


def answer_ms_per_100(method: Heuristic, sequences: Sequence[Sequence[int]]) -> float:
    """Median milliseconds to answer the top 20 of 100 sessions as a device would
    (:meth:`Heuristic.top_k`: numpy, whose sorts run on one thread)."""
    calls = max(1, len(sequences) // SESSIONS_PER_CALL)
    batches = [
        sequences[(i % calls) * SESSIONS_PER_CALL :][:SESSIONS_PER_CALL]
        for i in range(WARMUP_CALLS + TIMED_CALLS)
    ]
    times = []
    for batch in batches:
        start = time.perf_counter()
        method.top_k(batch, min(TOP_K, method.n_items))
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times[WARMUP_CALLS:])


def run_baseline(
    config: BaselineConfig, splits: Splits, n_items: int
) -> tuple[dict[str, object], torch.Tensor]:
    """Tune on validation, then rank the test split once: the result's own fields and the
    test ranks."""
    start = time.perf_counter()
    method, chosen, grid = select(config, splits.train, splits.valid, n_items)
    ranks = rank_examples(method, splits.test)
    fields = {
        "selected": chosen["params"],
        "select_metric": SELECT_METRIC,
        "grid": grid,
        "valid_metrics": chosen["valid_metrics"],
        "fit_time_s": chosen["fit_time_s"],
        "state_bytes": method.state_bytes,
        "state_arrays": {name: a.nbytes for name, a in method.state_arrays().items()},
        "answer_ms_per_100": answer_ms_per_100(method, splits.test.sequences),
    }
    return {**fields, "wall_time_s": time.perf_counter() - start}, ranks
