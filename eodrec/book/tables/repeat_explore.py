"""Beyond the paper: every model of Table 3 beside the simple baselines and the repeat mechanism,
split by whether the test target is already in its session (repeat) or new to it (explore).

An overall P@10 hides which half a model earns it on: on Tmall 45% of test targets are repeats,
and ranking the session's own items first beats every model of the paper. Results stored
before per-session ranks existed have no split; their cells are empty.
"""

from __future__ import annotations

import pandas as pd

from eodrec.book.tables.compare import dataset_name
from eodrec.book.tables.student_runs import is_paper_student
from eodrec.book.tables.table3_methods import METHOD_NAMES
from eodrec.heuristics.config import METHODS, NAMES

BASELINE_NAMES = NAMES  # the library's: ``eodrec bench latency --models`` takes them too
REPEAT = "+repeat"
COLUMNS = ["P@10", "NDCG@10", "repeat P@10", "explore P@10", "repeat share"]
# The runs a page gathers for the baseline rows (``gather_results``).
BASELINE_RUNS = [("baseline", [f"method={method}"]) for method in METHODS]


def method_label(result: dict) -> str:
    """The row's name: the paper's for its models, the baselines' own, ``+ repeat`` marked."""
    model = result["model"]
    if result["experiment"] == "baseline":
        return BASELINE_NAMES[model]
    base = model.removesuffix(REPEAT)
    return METHOD_NAMES[base] + (" + repeat" if model.endswith(REPEAT) else "")


def repeat_explore_table(results: list[dict]) -> pd.DataFrame:
    """One row per (method, dataset), in percent: overall P@10 and NDCG@10, P@10 on repeat and on
    explore test sessions, and the repeat share; sorted by dataset, then overall P@10. Only the
    paper-mode student stands for "Student"."""
    rows = [_row(r) for r in results if r["config"].get("student") is None or is_paper_student(r)]
    frame = pd.DataFrame(rows, columns=["method", "dataset", *COLUMNS])
    return frame.sort_values(["dataset", "P@10"], ascending=[True, False]).reset_index(drop=True)


def _row(result: dict) -> dict:
    split = result.get("test_breakdown")
    metrics = result["test_metrics"]
    return {
        "method": method_label(result),
        "dataset": dataset_name(result),
        "P@10": 100 * metrics["P@10"],
        "NDCG@10": 100 * metrics["NDCG@10"],
        "repeat P@10": 100 * split["repeat"]["P@10"] if split else None,
        "explore P@10": 100 * split["explore"]["P@10"] if split else None,
        "repeat share": 100 * split["repeat"]["share"] if split else None,
    }
