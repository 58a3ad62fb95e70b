"""Fig. 3, the ablation: P@10 and NDCG@10 of the full student and each variant (Stu-base,
Stu-w/o-m, ...), and the gain of distillation (full over Stu-base) beside the paper's text."""

from __future__ import annotations

import math

import pandas as pd

from eodrec.book.tables.compare import (
    check_unique,
    compare,
    dataset_name,
    relative_gain,
    text_findings,
)
from eodrec.book.tables.student_runs import code_mode_switches
from eodrec.models.student import ABLATIONS, VARIANT_LABELS

FIG3_METRICS = ["P@10", "NDCG@10"]
# text_findings ids of the relative gains the paper states for Fig. 3 (Sec. 6.4).
KD_GAIN_FINDINGS = {"fig3_kd_gain_p10": "P@10", "fig3_kd_gain_ndcg10": "NDCG@10"}


def ablation(results: list[dict]) -> pd.DataFrame:
    """Fig. 3: one row per dataset and variant (``VARIANT_LABELS``), P@10 and NDCG@10 in percent.

    Rows are ordered as ``ABLATIONS`` (Student, Stu-base, Stu-w/o-m, ...); a result with a
    code-mode switch set is not one of the paper's variants and is left out.
    """
    order = list(ABLATIONS)
    rows = [
        {
            "dataset": dataset_name(r),
            "variant": VARIANT_LABELS[r["config"]["student"]["variant"]],
            "profile": r["profile"],
            **{m: 100 * r["test_metrics"][m] for m in FIG3_METRICS},
            "run": r["id"],
            "_order": order.index(r["config"]["student"]["variant"]),
        }
        for r in results
        if not code_mode_switches(r)
    ]
    frame = pd.DataFrame(
        rows, columns=["dataset", "variant", "profile", *FIG3_METRICS, "run", "_order"]
    )
    check_unique(frame, ["dataset", "variant"])
    frame = frame.sort_values(["dataset", "_order"], kind="stable", ignore_index=True)
    return frame.drop(columns="_order")


def kd_gain(results: list[dict]) -> pd.DataFrame:
    """Relative gain (%) of the full student over Stu-base, 100 (full / base - 1), on P@10 and
    NDCG@10 per dataset, beside the gains the paper's text states for Fig. 3, with the profile
    of the runs.

    A dataset missing either run has NaN (and so does a Stu-base score of 0).
    """
    scores = ablation(results)
    full = scores[scores["variant"] == VARIANT_LABELS["full"]].set_index("dataset")
    base = scores[scores["variant"] == VARIANT_LABELS["base"]].set_index("dataset")
    datasets = list(dict.fromkeys(scores["dataset"]))
    ours = pd.DataFrame({"dataset": datasets})
    for metric in FIG3_METRICS:
        ours[metric] = [
            relative_gain(full[metric].get(d, math.nan), base[metric].get(d, math.nan))
            for d in datasets
        ]
    findings = text_findings()
    findings = findings[findings["id"].isin(list(KD_GAIN_FINDINGS))]
    paper = findings.assign(metric=findings["id"].map(KD_GAIN_FINDINGS)).pivot(
        index="dataset", columns="metric", values="value"
    )
    paper = paper.reset_index()[["dataset", *FIG3_METRICS]]
    cells = compare(ours, paper, ["dataset"], FIG3_METRICS)
    profiles = scores.drop_duplicates("dataset")[["dataset", "profile"]]
    cells = cells.merge(profiles, on="dataset", how="left")
    return cells.sort_values(["dataset"], kind="stable", ignore_index=True)
