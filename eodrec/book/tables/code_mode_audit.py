"""The audit page: the paper-mode student against the authors' code mode, one switch at a time
on one dataset and all at once (the ``released-code`` preset), each run scored as a device
scores it and as the released code does, beside the paper's printed Student row."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from eodrec.book.styling import key_first
from eodrec.book.tables.compare import check_unique, dataset_name
from eodrec.book.tables.fig3_ablation import FIG3_METRICS
from eodrec.book.tables.student_runs import code_mode_switches, student_scorings
from eodrec.book.tables.table3_methods import TABLE3_METRICS, printed
from eodrec.models.student import CODE_MODE


def audit(results: list[dict], metrics: Sequence[str] = tuple(FIG3_METRICS)) -> pd.DataFrame:
    """Paper mode against the code mode on one dataset: one row per result and scoring.

    ``switch`` names the code-mode switches a run sets (``paper mode`` for none; a Stu-w/o-b
    run stands for ``freeze_teacher``, the same training; ``preset released-code`` for the
    preset). ``scored as`` is one of :func:`~eodrec.book.tables.student_runs.student_scorings`;
    the test ``metrics`` are in percent, and their difference in points is from the paper-mode
    run scored the same way (codes alone, or as released), NaN when that is missing.
    """
    datasets = {r["dataset"] for r in results}
    if len(datasets) > 1:
        raise ValueError(f"audit compares runs on one dataset, got {sorted(datasets)}")
    rows = [row for r in results for row in _audit_rows(r, metrics)]
    columns = ["dataset", "switch", "profile", "scored as", *metrics, "run", "_order", "_family"]
    frame = pd.DataFrame(rows, columns=columns)
    check_unique(frame, ["switch", "scored as"])
    paper_mode = frame[frame["switch"] == "paper mode"].set_index("_family")
    for m in metrics:
        frame[f"Δ {m}"] = frame[m] - frame["_family"].map(paper_mode[m]).astype(float)
    frame = frame.sort_values("_order", kind="stable", ignore_index=True)
    return frame.drop(columns=["_order", "_family"])


def against_paper(results: list[dict], metrics: Sequence[str] = tuple(TABLE3_METRICS)):
    """The paper's printed Student row (Table 3) of each dataset, then each full student in
    ``results`` (paper mode, a switch, the preset) scored every way it was, metrics in percent."""
    student = printed("Student")
    rows = []
    for dataset in sorted({dataset_name(r) for r in results}):
        paper = student.loc[dataset] if dataset in student.index else None
        rows.append(
            {
                "dataset": dataset,
                "run": "paper (printed)",
                "scored as": "as printed in Table 3",
                **{m: math.nan if paper is None else float(paper[m]) for m in metrics},
            }
        )
        for r in sorted((r for r in results if dataset_name(r) == dataset), key=_sort_key):
            rows += [
                {**row, "run": row["switch"]}
                for row in _audit_rows(r, metrics)
                if not row["scored as"].startswith("codes alone, each")
            ]
    columns = ["dataset", "run", "scored as", *key_first(metrics)]  # P@10, NDCG@10 first
    return pd.DataFrame(rows, columns=columns)


def _switch(r: dict) -> tuple[str, int]:
    """What sets a full student's run apart from paper mode, in a word or a list of switches,
    and where it sorts: paper mode first, the switches in CODE_MODE's order, the preset last."""
    if r["config"].get("preset"):
        return f"preset {r['config']['preset']}", len(CODE_MODE) + 1
    variant = r["config"]["student"]["variant"]
    if variant not in ("full", "w/o-b"):
        raise ValueError(f"audit compares full students; {r['id']} is a Fig. 3 ablation")
    # Stu-w/o-b is the full student with the teacher frozen: the freeze_teacher switch.
    switches = {"freeze_teacher": True} if variant == "w/o-b" else code_mode_switches(r)
    order = min((1 + list(CODE_MODE).index(k) for k in switches if k in CODE_MODE), default=0)
    return ", ".join(f"{k}={v}" for k, v in switches.items()) or "paper mode", order


def _sort_key(r: dict) -> int:
    return _switch(r)[1]


def _audit_rows(r: dict, metrics: Sequence[str]) -> list[dict]:
    """A full student's rows of :func:`audit`, one per scoring it has."""
    switch, order = _switch(r)
    return [
        {
            "dataset": dataset_name(r),
            "switch": switch,
            "profile": r["profile"],
            "scored as": scored_as,
            **{m: 100 * scores[m] for m in metrics},
            "run": r["id"],
            "_order": order,
            "_family": "as released" if scored_as.startswith("as released") else "codes alone",
        }
        for scored_as, scores in student_scorings(r).items()
    ]
