"""The floors a results figure marks, per dataset: the P@10 of a random ranking of the catalogue,
10 / |V|, and the P@10 and NDCG@10 of the stored most-popular baseline. A model near a floor
learned nothing usable; a floor that is not stored is left out, never estimated."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from eodrec.book.tables.compare import check_unique, dataset_name
from eodrec.book.tables.fig3_ablation import FIG3_METRICS
from eodrec.data import load_dataset

COLUMNS = ["dataset", "floor", "metric", "value", "source"]


def item_counts(datasets: Sequence[str], data_dir: Path | None = None) -> dict[str, int]:
    """|V| of each of a page's datasets, by the name the page gives it."""
    return {name: load_dataset(name, data_dir).n_items for name in datasets}


def floors(n_items: dict[str, int], results: Sequence[dict] = (), split: str = "test"):
    """One row per dataset (as the paper names it), floor and metric, in percent: ``random
    ranking`` (P@10 = 10 / |V|) for each dataset of ``n_items``, and ``most popular`` (P@10 and
    NDCG@10 on ``split``, ``test`` or ``valid``) where ``results`` hold the stored ``pop``
    baseline; the other results are passed over. ``source`` says where a value comes from."""
    rows = [
        {"dataset": dataset_name({"dataset": d}), "floor": "random ranking", "metric": "P@10",
         "value": 100 * 10 / n, "source": f"10 / |V|, |V| = {n:,}"}
        for d, n in n_items.items()
    ]  # fmt: skip
    rows += [
        {"dataset": dataset_name(r), "floor": "most popular", "metric": m,
         "value": 100 * r[f"{split}_metrics"][m], "source": f"run {r['id']} ({split})"}
        for r in results
        if r["model"] == "pop"
        for m in FIG3_METRICS
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=COLUMNS)
    check_unique(frame, ["dataset", "floor", "metric"])
    return frame
