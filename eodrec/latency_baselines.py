"""The simple baselines (:mod:`eodrec.heuristics`) in Table 5's latency run, beside the neural
models, so that their times over the teacher's come from one run on one machine.

Each stored baseline of the dataset and profile is refitted with its result's ``selected``
hyperparameters on the training split its run used (the same :func:`load_splits` of its own
data config), its fit timed. Its fitted state (``Heuristic.saved_state``) is saved, and a fresh
process on one thread loads it and times it as :func:`eodrec.latency.measure` times a model:

* per request: batch 1, each of the same :func:`~eodrec.latency.request_indices` test sessions,
  its top-20 included: p50, p90, p99;
* batch: the whole test set in calls of :data:`~eodrec.latency.SESSIONS_PER_CALL` sessions:
  milliseconds per 100 sessions;
* its peak resident memory.

There is no bundle and no padding: the runtime is numpy, labelled :data:`BASELINE_RUNTIME`,
and ``state_bytes`` stands where a bundle's bytes would. A timed call answers as a device would,
with :meth:`~eodrec.heuristics.base.Heuristic.top_k` (no |V|-wide row); the parent checks every
timed call's top-20 against the baseline's own batch ranking of the test set from its full
scores, up to the order of exactly tied scores (:func:`~eodrec.latency.same_topk` with no
tolerance: both paths compute the same scores bit for bit), and the refit's test ranks against
the stored run's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from eodrec.config import DataConfig, ExperimentConfig, ParameterError, make_config
from eodrec.data.splits import Splits
from eodrec.export import ExportError
from eodrec.heuristics.base import Heuristic, sessions_of
from eodrec.heuristics.config import METHODS, NAMES
from eodrec.heuristics.methods import build_method
from eodrec.latency import (
    LATENCY_MODELS,
    SESSIONS_PER_CALL,
    TOP_K,
    WARMUP_CALLS,
    _peak_rss_mb,
    request_indices,
    same_topk,
    timing_record,
)
from eodrec.metrics import rank_of_target
from eodrec.ranks import load_ranks
from eodrec.store import ResultsStore, StoreError

BASELINE_RUNTIME = "numpy"
REFERENCE_BATCH = 256  # sessions per call of the reference ranking, as a baseline run ranks
MEASURES = ("per_request_p50_ms", "batch_ms_per_100")
# Issue 24: a baseline answers 100 sessions in under the teacher's time (more than 1x faster).
GOAL_PER_100 = 1.0
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


@dataclass(frozen=True)
class BaselineCell:
    """One baseline's measurement inputs, handed to its process as JSON."""

    label: str
    method: str
    params: dict
    state: str
    sessions: str
    requests: int
    outputs: str


def baseline_configs(dataset: str, profile: str) -> list[tuple[str, ExperimentConfig]]:
    """(label, config) of every simple baseline at its default grid: the runs a page shows."""
    return [
        (NAMES[method], make_config("baseline", dataset, profile, [f"method={method}"]))
        for method in METHODS
    ]


def check_models(models: tuple[str, ...] | None) -> None:
    """A label ``--models`` does not know stops the benchmark, naming the known ones."""
    known = [label for label, *_ in LATENCY_MODELS] + list(NAMES.values())
    unknown = sorted(set(models or ()) - set(known))
    if unknown:
        raise ParameterError(f"unknown models {unknown}; models: {', '.join(known)}")


def stored_baselines(
    store: ResultsStore, dataset: str, profile: str, models: tuple[str, ...] | None
) -> tuple[list[tuple[str, ExperimentConfig, dict]], list[str]]:
    """The stored baselines labelled in ``models`` (every one if None) as (label, config,
    result), and the run ids of those not stored."""
    present, missing = [], []
    for label, config in baseline_configs(dataset, profile):
        if models is None or label in models:
            result = store.find(config)
            if result is None:
                missing.append(config.run_id)
            else:
                present.append((label, config, result))
    return present, missing


def top_k(method: Heuristic, sequences: list) -> tuple[np.ndarray, np.ndarray]:
    """What a device returns: each session's top-20 (scores, item ids), best first."""
    return method.top_k(sequences, min(TOP_K, method.n_items))


@dataclass
class BaselineBench:
    """Refits each stored baseline, times it in a fresh process on the same test sessions as
    the neural models, and checks its top-20s against its own batch ranking."""

    work: Path
    test: list
    requests: int
    store: ResultsStore
    data: DataConfig  # the neural models' data config, cut into ``splits``
    splits: Splits
    n_items: int
    data_dir: Path | None = None

    def rows(self, baselines: list[tuple[str, ExperimentConfig, dict]], bar=None) -> list[dict]:
        rows = []
        for label, config, result in baselines:
            rows.append(self.row(label, config, result))
            if bar is not None:
                bar.update()
        return rows

    def row(self, label: str, config: ExperimentConfig, result: dict) -> dict:
        """Fit time, latency, memory, state bytes, top-20 equality, refit as stored."""
        splits = self._splits(config.data)
        method, params = config.baseline.method, result["selected"]
        start = time.perf_counter()
        fitted = build_method(method, **params).fit(sessions_of(splits.train), self.n_items)
        fit_s = time.perf_counter() - start
        reference, as_stored = self._reference(fitted, result, splits)
        stem = self.work / config.run_id
        np.savez(f"{stem}-state.npz", **fitted.saved_state())
        cell = BaselineCell(
            label, method, params, f"{stem}-state.npz", str(self.work / "sessions.json"),
            self.requests, f"{stem}-{BASELINE_RUNTIME}.npz",
        )  # fmt: skip
        row = {"model": label, "run": config.run_id, "runtime": BASELINE_RUNTIME,
               "scoring": method, "selected": params}  # fmt: skip
        row.update(_measure_in_fresh_process(cell), fit_time_s=fit_s, bundle_bytes=None)
        row.update(state_bytes=fitted.state_bytes, weights=_weights(as_stored))
        row.update(refit_as_stored=as_stored, **self._check(reference, cell.outputs))
        return row

    def _splits(self, data: DataConfig) -> Splits:
        """The splits the baseline's run used: the neural models' unless its data differs."""
        from eodrec.data.splits import load_splits

        return self.splits if data == self.data else load_splits(data, self.data_dir)[1]

    def _reference(self, method: Heuristic, result: dict, splits: Splits):
        """Its own batch ranking of the test set (top-20 scores and ids), and whether its test
        ranks and state bytes are the stored run's (None: the run stored no ranks)."""
        if [list(s) for s in splits.test.sequences] != self.test:
            raise ExportError(f"{result['id']}: its test sessions are not the timed ones")
        values, ids, ranks = [], [], []
        for start in range(0, len(self.test), REFERENCE_BATCH):
            stop = start + REFERENCE_BATCH
            scores = method.scores(self.test[start:stop])
            top = scores.topk(min(TOP_K, method.n_items), dim=1)
            values.append(top.values.numpy())
            ids.append(top.indices.numpy())
            targets = torch.tensor(splits.test.targets[start:stop], dtype=torch.int64)
            ranks.append(rank_of_target(scores, targets))
        try:
            stored = load_ranks(self.store, result)
        except StoreError:
            as_stored = None
        else:
            same_ranks = torch.equal(torch.cat(ranks), stored)
            as_stored = same_ranks and method.state_bytes == result.get("state_bytes")
        return (np.concatenate(values), np.concatenate(ids)), as_stored

    def _check(self, reference: tuple[np.ndarray, np.ndarray], outputs: str) -> dict:
        """How many timed calls' top-20s equal the reference, batch and per request."""
        requested = request_indices(len(self.test), self.requests)
        with np.load(outputs) as got:
            batch = same_topk(*reference, got["values"], got["ids"], atol=0)
            single = same_topk(
                reference[0][requested], reference[1][requested],
                got["request_values"], got["request_ids"], atol=0,
            )  # fmt: skip
        return {
            "topk_sessions": int(len(batch)),
            "topk_equal": int(batch.sum()),
            "request_topk_sessions": int(len(single)),
            "request_topk_equal": int(single.sum()),
        }


def _weights(as_stored: bool | None) -> str:
    """The row's ``weights``: what the timed state is (no parenthesis where it matters, so the
    page's short form shows it)."""
    if as_stored is None:
        return "refitted (the stored run has no ranks to compare)"
    return "refitted" if as_stored else "refitted, not as stored"


def baseline_ratios(rows: list[dict]) -> list[dict]:
    """Each baseline's per-request p50 and time per 100 sessions against the teacher's, on
    every runtime the teacher ran in the same benchmark: how many times faster the baseline
    is. Per 100 sessions with issue 24's goal (faster than the teacher) and whether it is met."""
    teacher = {r["runtime"]: r for r in rows if r["model"] == "Teacher"}
    ratios = []
    for row in (r for r in rows if r["runtime"] == BASELINE_RUNTIME):
        for runtime, reference in teacher.items():
            for measure in MEASURES:
                times = reference[measure] / row[measure]
                goal = GOAL_PER_100 if measure == "batch_ms_per_100" else None
                ratios.append(
                    {"model": row["model"], "runtime": row["runtime"], "measure": measure,
                     "versus": "Teacher", "versus_runtime": runtime, "times_faster": times,
                     "goal": goal, "goal_met": None if goal is None else times > goal}
                )  # fmt: skip
    return ratios


def _measure_in_fresh_process(cell: BaselineCell) -> dict:
    """Run :func:`measure_baseline` in a new interpreter: one thread, its own peak memory."""
    completed = subprocess.run(
        [sys.executable, "-m", "eodrec.latency_baselines", json.dumps(cell.__dict__)],
        capture_output=True,
        text=True,
        env={**os.environ, **ONE_THREAD},
    )
    if completed.returncode != 0:
        lines = completed.stderr.strip().splitlines()
        raise ExportError(f"measuring {cell.label} failed: {lines[-1] if lines else '?'}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def measure_baseline(cell: BaselineCell) -> dict:
    """In the measuring process: load the fitted state; warm up; time each request alone, then
    the whole test set in calls of 100 sessions; write both top-20s."""
    torch.set_num_threads(1)
    before_mb = _peak_rss_mb()
    sequences = json.loads(Path(cell.sessions).read_text())
    with np.load(cell.state) as saved:
        method = build_method(cell.method, **cell.params).restore(dict(saved))
    for batch in ([sequences[0]], sequences[:SESSIONS_PER_CALL]):
        for _ in range(WARMUP_CALLS):
            top_k(method, batch)
    times, request_values, request_ids = [], [], []
    for index in request_indices(len(sequences), cell.requests):
        start = time.perf_counter()
        values, ids = top_k(method, [sequences[index]])
        times.append((time.perf_counter() - start) * 1e3)
        request_values.append(values[0])
        request_ids.append(ids[0])
    start = time.perf_counter()
    calls = [
        top_k(method, sequences[first : first + SESSIONS_PER_CALL])
        for first in range(0, len(sequences), SESSIONS_PER_CALL)
    ]
    batch_s = time.perf_counter() - start
    np.savez(
        cell.outputs,
        values=np.concatenate([values for values, _ in calls]),
        ids=np.concatenate([ids for _, ids in calls]),
        request_values=np.stack(request_values),
        request_ids=np.stack(request_ids),
    )
    return timing_record(times, batch_s, len(sequences), before_mb)


if __name__ == "__main__":
    print(json.dumps(measure_baseline(BaselineCell(**json.loads(sys.argv[1])))))
