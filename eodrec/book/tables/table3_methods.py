"""Table 3, the methods compared: each baseline, the teacher, OD-Rec and the student, the
paper's four metrics beside the stored runs'. Table 6 builds its cells the same way."""

from __future__ import annotations

import pandas as pd

from eodrec.book.tables.compare import check_unique, compare, dataset_name, in_paper_order
from eodrec.book.tables.student_runs import is_paper_student
from eodrec.models.backbones import BACKBONE_LABELS
from eodrec.paper import load_target

TABLE3_METRICS = ["P@5", "NDCG@5", "P@10", "NDCG@10"]
# The paper's method names for this package's experiments.
# Each result's ``model`` as the paper's tables name it (Table 6 writes NARM-dagger as
# "NARM-student").
METHOD_NAMES = {
    **BACKBONE_LABELS,
    "student": "Student",
    "odrec": "OD-Rec",
    **{
        f"{b}-student": f"{label}-student" for b, label in BACKBONE_LABELS.items() if b != "teacher"
    },
}
TABLE3_METHODS = ["GRU4Rec", "NARM", "STAMP", "SR-GNN", "SASRec", "Teacher", "OD-Rec", "Student"]


def table3(results: list[dict], methods: list[str]) -> pd.DataFrame:
    """Table 3 cells of ``methods`` in percent: the paper's beside the stored runs' (NaN where a
    run is missing), with each run's profile.

    Only the paper-mode full student is the paper's "Student": results of a Fig. 3 ablation or
    with a code-mode switch set are left out (see :func:`is_paper_student`). Two results for one
    method and dataset are an error, not two rows.
    """
    cells = method_cells(results, load_target("table3"), "method")
    return in_paper_order(cells[cells["method"].isin(methods)], "method", TABLE3_METHODS)


def method_cells(results: list[dict], paper: pd.DataFrame, key: str) -> pd.DataFrame:
    """One row per (method, dataset, metric): paper, ours, difference and profile.

    A compressed student counts only in paper mode (:func:`is_paper_student`); two results for
    one method and dataset are an error, not two rows.
    """
    rows = [
        {
            key: METHOD_NAMES[r["model"]],
            "dataset": dataset_name(r),
            "profile": r["profile"],
            **{m: 100 * r["test_metrics"][m] for m in TABLE3_METRICS},
        }
        for r in results
        if r["config"].get("student") is None or is_paper_student(r)
    ]
    ours = pd.DataFrame(rows, columns=[key, "dataset", "profile", *TABLE3_METRICS])
    check_unique(ours, [key, "dataset"])
    cells = compare(ours.drop(columns="profile"), paper, [key, "dataset"], TABLE3_METRICS)
    return cells.merge(ours[[key, "dataset", "profile"]], on=[key, "dataset"], how="left")


def printed(method: str) -> pd.DataFrame:
    """The paper's Table 3 row of ``method`` per dataset (%), what a figure marks as the paper's
    value; empty for a method the paper does not print."""
    paper = load_target("table3")
    return paper[paper["method"] == method].set_index("dataset")[TABLE3_METRICS]


def validation_curves(results: list[dict], metric: str = "NDCG@10") -> pd.DataFrame:
    """Validation ``metric`` (%) of each run after each of its epochs, ``selected`` marking the
    epoch it kept; a run with no epochs of its own (a table quantized after training) has none."""
    rows = [
        {
            "method": METHOD_NAMES[r["model"]],
            "dataset": dataset_name(r),
            "epoch": h["epoch"],
            "value": 100 * h["valid"][metric],
            "selected": h["epoch"] == r["selected_epoch"],
            "run": r["id"],
        }
        for r in results
        for h in r.get("history", [])
    ]
    return pd.DataFrame(rows, columns=["method", "dataset", "epoch", "value", "selected", "run"])
