"""Table 5, on-device latency: each model's time over the student's, ours per runtime beside
the paper's, and the detail of a latency benchmark (timed calls, memory, bundle, scoring)."""

from __future__ import annotations

import math

import pandas as pd

from eodrec.book.tables.compare import dataset_name, in_paper_order
from eodrec.paper import load_target

TABLE5_MODELS = ["GRU4Rec", "NARM", "STAMP", "SR-GNN", "OD-Rec", "Student"]


def table5(benchmarks: list[dict]) -> pd.DataFrame:
    """Table 5 as ratios: each model's time per 100 sessions over the student's (how many times
    slower than the student), ours per runtime beside the paper's. The paper's seconds come
    from an Android emulator and ours from this machine, so only ratios are compared."""
    paper = load_target("table5")
    paper_ratio = (
        paper[TABLE5_MODELS].div(paper["Student"], axis=0).assign(dataset=paper["dataset"])
    )
    rows = []
    for bench in benchmarks:
        dataset = dataset_name(bench)
        for runtime in dict.fromkeys(r["runtime"] for r in bench["rows"]):
            median = {r["model"]: r["median_ms"] for r in bench["rows"] if r["runtime"] == runtime}
            for model in TABLE5_MODELS:
                ours = median.get(model, math.nan) / median.get("Student", math.nan)
                printed = paper_ratio.loc[paper_ratio["dataset"] == dataset, model]
                rows.append(
                    {
                        "dataset": dataset,
                        "runtime": runtime,
                        "model": model,
                        "quantity": "time / student's",
                        "paper": float(printed.iloc[0]) if len(printed) else math.nan,
                        "ours": ours,
                    }
                )
    cells = pd.DataFrame(rows, columns=["dataset", "runtime", "model", "quantity", "paper", "ours"])
    cells["difference"] = cells["ours"] - cells["paper"]
    return cells


def table5_wide(cells: pd.DataFrame) -> pd.DataFrame:
    """:func:`table5` cells as the paper prints them, one row per dataset and model: the
    paper's ratio, then ours on each runtime."""
    ours = cells.pivot_table(index=["dataset", "model"], columns="runtime", values="ours")
    paper = cells.groupby(["dataset", "model"])["paper"].first().rename("paper")
    wide = pd.concat([paper, ours], axis=1).reset_index()
    return in_paper_order(wide, "model", TABLE5_MODELS)


def latency_table(bench: dict) -> pd.DataFrame:
    """One row per (model, runtime) of a latency benchmark: the median and range of its timed
    calls, its peak memory, its bundle's size and how many test sessions got eager PyTorch's
    top-20 from it."""
    rows = []
    for r in bench["rows"]:
        checked = r.get("topk_sessions")
        rows.append(
            {
                "model": r["model"],
                "runtime": r["runtime"],
                "ms / 100 sessions": r["median_ms"],
                "min ms": r["min_ms"],
                "max ms": r["max_ms"],
                "peak memory (MB)": r["peak_rss_mb"],
                "bundle (MB)": r["bundle_bytes"] / 1e6 if r["bundle_bytes"] else math.nan,
                "top-20 as eager": f"{r['topk_equal']:,} / {checked:,}" if checked else "reference",
                "weights": r["weights"].split(" (")[0],
            }
        )
    return pd.DataFrame(rows)


def scoring_table(bench: dict) -> pd.DataFrame:
    """Scoring alone, 100 sessions, one thread: dense teacher, dense student, factorized."""
    rows = [
        {
            "M": s["n_codebooks"],
            "K": s["n_codewords"],
            **{f"{name} (ms)": ms for name, ms in s["median_ms"].items()},
            "factorized vs teacher dense (x)": s["factorized_vs_teacher_dense"],
            "factorized vs student dense (x)": s["factorized_vs_student_dense"],
            "equal scores": s["factorized_equals_dense"],
        }
        for s in bench["scoring"]
    ]
    return pd.DataFrame(rows)
