"""Fig. 4 and Fig. 5, the sensitivity to beta, gamma (Fig. 4) and eta (Fig. 5): the curves of
the swept runs, and the best value found beside the one the paper states."""

from __future__ import annotations

import pandas as pd

from eodrec.book.tables.compare import dataset_name, text_findings
from eodrec.book.tables.fig3_ablation import FIG3_METRICS

# text_findings ids of each swept setting's best value as the paper states it (Sec. 6.6).
BEST_FINDINGS = {"beta": "fig4_best_beta", "gamma": "fig4_best_gamma", "eta": "fig5_best_eta"}


def sensitivity(results: list[dict], setting: str) -> pd.DataFrame:
    """Fig. 4/5 curves: one row per (dataset, value of ``setting``, split, metric), in %."""
    rows = [
        {
            "dataset": dataset_name(r),
            setting: r["config"]["student"][setting],
            "split": split,
            "metric": metric,
            "value (%)": 100 * r[f"{split}_metrics"][metric],
        }
        for r in results
        for split in ("valid", "test")
        for metric in FIG3_METRICS
    ]
    return pd.DataFrame(rows).sort_values(["dataset", setting], ignore_index=True)


def best_setting(results: list[dict], setting: str, select: str = "NDCG@10") -> pd.DataFrame:
    """Per dataset, the swept value with the best validation ``select`` (how this package picks
    a setting) beside the best value the paper states, and the test metrics there."""
    paper = text_findings().query("id == @BEST_FINDINGS[@setting]").set_index("dataset")["value"]
    rows = []
    for dataset in sorted({dataset_name(r) for r in results}):
        runs = [r for r in results if dataset_name(r) == dataset]
        best = max(runs, key=lambda r: r["valid_metrics"][select])
        rows.append(
            {
                "dataset": dataset,
                f"best {setting} (validation {select})": best["config"]["student"][setting],
                f"paper's best {setting}": pd.to_numeric(paper.get(dataset), errors="coerce"),
                f"validation {select} (%)": 100 * best["valid_metrics"][select],
                **{f"test {m} (%)": 100 * best["test_metrics"][m] for m in FIG3_METRICS},
            }
        )
    return pd.DataFrame(rows)
