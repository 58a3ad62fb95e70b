"""Table 6, the student's generality: NARM and SR-GNN with full item tables and as compressed
students (NARM-dagger, SR-GNN-dagger), and how much each student gains over its backbone."""

from __future__ import annotations

import math

import pandas as pd

from eodrec.book.tables.compare import in_paper_order, relative_gain
from eodrec.book.tables.table3_methods import method_cells
from eodrec.paper import load_target

TABLE6_MODELS = ["NARM", "NARM-student", "SR-GNN", "SR-GNN-student"]


def table6(results: list[dict]) -> pd.DataFrame:
    """Table 6 cells in percent: NARM and SR-GNN with full tables and as compressed students
    (NARM-dagger, SR-GNN-dagger), the paper's beside the stored runs', with each run's profile."""
    cells = method_cells(results, load_target("table6"), "model")
    return in_paper_order(cells[cells["model"].isin(TABLE6_MODELS)], "model", TABLE6_MODELS)


def backbone_gain(cells: pd.DataFrame) -> pd.DataFrame:
    """From :func:`table6` cells: the relative change (%) of each compressed student over its
    uncompressed backbone per dataset and metric, ours beside the paper's."""
    wide = cells.pivot_table(
        index=["dataset", "quantity"], columns="model", values=["paper", "ours"], dropna=False
    )
    rows = []
    for (dataset, quantity), row in wide.iterrows():
        for backbone in ("NARM", "SR-GNN"):
            gains = {
                side: relative_gain(
                    row.get((side, f"{backbone}-student"), math.nan),
                    row.get((side, backbone), math.nan),
                )
                for side in ("paper", "ours")
            }
            rows.append(
                {
                    "backbone": backbone,
                    "dataset": dataset,
                    "metric": quantity,
                    **{f"{side} gain (%)": gain for side, gain in gains.items()},
                }
            )
    return pd.DataFrame(rows).sort_values(["backbone", "dataset"], ignore_index=True)
