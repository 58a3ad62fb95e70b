"""What every table module shares: the cell-by-cell comparison with the paper, and the small
steps from result dicts to rows (the paper's dataset names, one run per row, the paper's order).

The long form (one row per table cell) lets a page show every cell, filter the ones that differ,
and attach the reason found for each difference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from eodrec.paper import PAPER_DATASET_NAMES, load_target


def compare(
    ours: pd.DataFrame, paper: pd.DataFrame, keys: Sequence[str], quantities: Sequence[str]
) -> pd.DataFrame:
    """Cell-by-cell comparison: ``keys``, ``quantity``, ``paper``, ``ours``, ``difference``.

    Rows missing on either side stay in the table with NaN, so a gap is visible, not dropped.
    """

    def long(frame: pd.DataFrame, name: str) -> pd.DataFrame:
        return frame.melt(
            id_vars=list(keys), value_vars=list(quantities), var_name="quantity", value_name=name
        )

    merged = long(paper, "paper").merge(
        long(ours, "ours"), on=[*keys, "quantity"], how="outer", sort=False
    )
    merged["paper"] = pd.to_numeric(merged["paper"])
    merged["ours"] = pd.to_numeric(merged["ours"])
    merged["difference"] = merged["ours"] - merged["paper"]
    return merged


def differing(
    cells: pd.DataFrame,
    quantity_tolerance: dict[str, float] | None = None,
    default_tolerance: float = 0.5,
) -> pd.DataFrame:
    """The cells whose printed value our computation does not reproduce.

    A cell agrees when ``|ours - paper| < tolerance``; the default 0.5 accepts the paper's rounding
    of an exact value to an integer.
    """
    tolerance = cells["quantity"].map(quantity_tolerance or {}).fillna(default_tolerance)
    return cells[~(cells["difference"].abs() < tolerance)]


def relative_gain(full: float, base: float) -> float:
    """100 (full / base - 1); NaN when either is missing or ``base`` is 0."""
    if pd.isna(full) or pd.isna(base) or base == 0:
        return math.nan
    return 100 * (full / base - 1)


def text_findings() -> pd.DataFrame:
    """The numbers the paper states in its text (``text_findings.csv``)."""
    return load_target("text_findings")


def dataset_name(result: dict) -> str:
    """The dataset of a result or benchmark as the paper names it."""
    return PAPER_DATASET_NAMES.get(result["dataset"], result["dataset"])


def check_unique(frame: pd.DataFrame, keys: list[str]) -> None:
    """Two results for one row are an error, not two rows."""
    repeated = frame[frame.duplicated(keys, keep=False)]
    if len(repeated):
        first = repeated.iloc[0]
        raise ValueError(
            f"more than one result for {', '.join(f'{k}={first[k]}' for k in keys)}; "
            "pass one run per row"
        )


def in_paper_order(cells: pd.DataFrame, key: str, order: list[str]) -> pd.DataFrame:
    """Rows by dataset, then ``key`` in the order the paper prints them."""
    rank = {name: i for i, name in enumerate(order)}
    return cells.sort_values(
        ["dataset", key],
        key=lambda column: column.map(rank) if column.name == key else column,
        kind="stable",
        ignore_index=True,
    )
