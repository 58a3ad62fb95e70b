"""Table 4, the codebook sweep: the CR (Eq. 13) and the four metrics of every (M, K) a student
was trained with, ours beside the paper's; and the highest P@10 codes alone could reach there."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch

from eodrec.book.tables.compare import check_unique, compare, dataset_name
from eodrec.book.tables.table3_methods import TABLE3_METRICS
from eodrec.data import load_dataset
from eodrec.metrics import tie_bound
from eodrec.paper import PAPER_DATASET_NAMES, load_target

# Table 4's grid: codebook numbers M and sizes K.
TABLE4_M = (1, 2, 3, 4, 5)
TABLE4_K = (32, 128, 256, 512)


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


def tie_bounds(datasets: Sequence[str], data_dir: Path | None = None) -> pd.DataFrame:
    """For every (M, K) of Table 4 on each dataset: the distinct item vectors codes alone can
    give, min(K**M, |V|), and the highest test P@10 (%) any scoring of them could reach
    (:func:`eodrec.metrics.tie_bound`), beside the paper's printed P@10. Data only: no run."""
    paper = load_target("table4").set_index(["dataset", "M", "K"])["P@10"]
    rows = []
    for name in datasets:
        data = load_dataset(name, data_dir)
        targets = torch.as_tensor(data.test_targets)
        shown = PAPER_DATASET_NAMES.get(name, name)
        for M in TABLE4_M:
            for K in TABLE4_K:
                vectors = min(K**M, data.n_items)
                rows.append(
                    {
                        "dataset": shown,
                        "M": M,
                        "K": K,
                        "distinct vectors": vectors,
                        "P@10 bound": 100 * tie_bound(targets, data.n_items, vectors),
                        "paper P@10": paper.get((shown, M, K), float("nan")),
                    }
                )
    return pd.DataFrame(rows)
