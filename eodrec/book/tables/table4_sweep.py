"""Table 4, the codebook sweep: the CR (Eq. 13) and the four metrics of every (M, K) a student
was trained with, ours beside the paper's."""

from __future__ import annotations

import pandas as pd

from eodrec.book.tables.compare import check_unique, compare, dataset_name
from eodrec.book.tables.table3_methods import TABLE3_METRICS
from eodrec.paper import load_target


def table4(results: list[dict]) -> pd.DataFrame:
    """Table 4 cells: CR (Eq. 13) and the four metrics (%) of every (M, K), ours beside the
    paper's, with each run's profile. Students of one dataset and (M, K) must be unique."""
    rows = [
        {
            "dataset": dataset_name(r),
            "M": r["config"]["student"]["n_codebooks"],
            "K": r["config"]["student"]["n_codewords"],
            "profile": r["profile"],
            "CR": r["compression"]["cr_eq13"],
            **{m: 100 * r["test_metrics"][m] for m in TABLE3_METRICS},
        }
        for r in results
    ]
    keys = ["dataset", "M", "K"]
    ours = pd.DataFrame(rows, columns=[*keys, "profile", "CR", *TABLE3_METRICS])
    check_unique(ours, keys)
    cells = compare(
        ours.drop(columns="profile"), load_target("table4"), keys, ["CR", *TABLE3_METRICS]
    )
    cells = cells.merge(ours[[*keys, "profile"]], on=keys, how="left")
    return cells.sort_values(keys, kind="stable", ignore_index=True)
