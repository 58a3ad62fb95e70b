"""Page 10's run of the authors' released code itself (``eodrec released``): the metrics its
scripts printed per epoch, and the score of the codes it saved, scored here with codes alone.

A released run is stored as ``released/released-run-*.json`` and its imported codes as
``released/released-codes-*.json`` beside the experiments' folders (:mod:`eodrec.released`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from eodrec.book.tables.compare import dataset_name

# What the released scripts print, as this project names it: ``hit`` is P@K.
PRINTED = {"hit10": "P@10", "nDCG10": "NDCG@10", "hit20": "P@20", "mrr20": "MRR@20"}
RUN_COMMAND = (
    "eodrec released run --dataset {dataset} --profile {profile} "
    "--pretrain-epochs 1 --student-epochs 1"
)


def released_results(root: Path, datasets: tuple[str, ...]) -> tuple[list[dict], list[dict]]:
    """The stored released runs and imported codes of ``datasets`` under ``root`` (a results
    root: ``results/`` or, for ``smoke``, the cache's), oldest file name first."""
    runs, codes = [], []
    for path in sorted((Path(root) / "released").glob("released-*.json")):
        result = json.loads(path.read_text())
        if result.get("dataset") in datasets:
            (runs if result.get("kind") == "released-run" else codes).append(result)
    return runs, codes


def missing_commands(runs: list[dict], datasets: tuple[str, ...], profile: str) -> list[str]:
    """The command that makes each dataset's released run, where none is stored."""
    done = {r["dataset"] for r in runs}
    return [RUN_COMMAND.format(dataset=d, profile=profile) for d in datasets if d not in done]


def printed_epochs(runs: list[dict]) -> pd.DataFrame:
    """One row per script and epoch: the test metrics the released code printed (percent, as
    printed), its summed training loss and the script's wall time."""
    rows = [
        {
            "dataset": dataset_name(run),
            "script": script,
            "epoch": epoch["epoch"],
            **{ours: epoch["metrics"].get(printed) for printed, ours in PRINTED.items()},
            "loss": epoch["loss"],
            "wall (min)": run[script]["wall_time_s"] / 60,
            "run": run["id"],
        }
        for run in runs
        for script in ("pretrain", "student")
        for epoch in run[script]["epochs"]
    ]
    return pd.DataFrame(rows, columns=["dataset", "script", "epoch", *PRINTED.values(), "loss",
                                       "wall (min)", "run"])  # fmt: skip


def imported_codes(codes: list[dict]) -> pd.DataFrame:
    """The released codes scored here with codes alone, per set of codebooks (theirs, and the
    least-squares fit of the teacher's rows on the same codes), in percent."""
    rows = [
        {
            "dataset": dataset_name(result),
            "codebooks": name,
            **{m: 100 * scored["test_metrics"][m] for m in ("P@10", "NDCG@10")},
            "run": result["released_run"],
        }
        for result in codes
        for name, scored in result["codebooks"].items()
    ]
    return pd.DataFrame(rows, columns=["dataset", "codebooks", "P@10", "NDCG@10", "run"])
