"""The audit page: the paper-mode student against the authors' code mode, one switch at a time
on one dataset, each run's test metrics and their difference from the paper-mode run."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from eodrec.book.tables.compare import check_unique, dataset_name
from eodrec.book.tables.fig3_ablation import FIG3_METRICS
from eodrec.book.tables.student_runs import code_mode_switches
from eodrec.models.student import CODE_MODE


def audit(results: list[dict], metrics: Sequence[str] = tuple(FIG3_METRICS)) -> pd.DataFrame:
    """Paper mode against the code mode, one switch at a time, on one dataset.

    One row per result: the code-mode switches it sets (``paper mode`` for none; a Stu-w/o-b run
    stands for ``freeze_teacher``, the same training), its test
    ``metrics`` in percent and their difference in points from the paper-mode run (NaN when that
    run is missing). A run with ``selection="test-best-per-metric"`` is scored as the authors'
    code scores: each metric's best epoch on the test set (``test_metrics_best_per_metric``);
    the ``scored as`` column says which.
    """
    datasets = {r["dataset"] for r in results}
    if len(datasets) > 1:
        raise ValueError(f"audit compares runs on one dataset, got {sorted(datasets)}")
    rows = [_audit_row(r, metrics) for r in results]
    frame = pd.DataFrame(
        rows, columns=["dataset", "switch", "profile", "scored as", *metrics, "run", "_order"]
    )
    check_unique(frame, ["switch"])
    paper_mode = frame[frame["switch"] == "paper mode"]
    for m in metrics:
        reference = paper_mode[m].iloc[0] if len(paper_mode) else math.nan
        frame[f"Δ {m}"] = frame[m] - reference
    frame = frame.sort_values("_order", kind="stable", ignore_index=True)
    return frame.drop(columns="_order")


def _audit_row(r: dict, metrics: Sequence[str]) -> dict:
    """One full student's row of :func:`audit`, with ``_order`` to sort the rows by."""
    variant = r["config"]["student"]["variant"]
    if variant not in ("full", "w/o-b"):
        raise ValueError(f"audit compares full students; {r['id']} is a Fig. 3 ablation")
    # Stu-w/o-b is the full student with the teacher frozen: the freeze_teacher switch.
    switches = {"freeze_teacher": True} if variant == "w/o-b" else code_mode_switches(r)
    best_per_metric = r["config"]["student"]["selection"] == "test-best-per-metric"
    scores = r["test_metrics_best_per_metric"] if best_per_metric else r["test_metrics"]
    return {
        "dataset": dataset_name(r),
        "switch": ", ".join(f"{k}={v}" for k, v in switches.items()) or "paper mode",
        "profile": r["profile"],
        "scored as": "each metric's best epoch on test"
        if best_per_metric
        else "validation-selected epoch",
        **{m: 100 * scores[m] for m in metrics},
        "run": r["id"],
        # paper mode first, then the switches in CODE_MODE's order
        "_order": min((1 + list(CODE_MODE).index(k) for k in switches), default=0),
    }
