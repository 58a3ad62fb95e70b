"""Fig. 6, the codebook usage: how many items carry each codeword of each codebook, and per
student the spread, entropy, dead codewords and colliding codes beside the paper's stated range."""

from __future__ import annotations

import math

import pandas as pd

from eodrec.book.tables.compare import dataset_name, text_findings

# The (M, K) of the paper's Fig. 6 (the text states the hit ranges at M=4, K=32 on both
# datasets, whereas Table 3's RetailRocket student is M=3, K=256).
FIG6_SHAPE = (4, 32)


def code_usage_table(result: dict) -> pd.DataFrame:
    """Fig. 6's heatmap as a long frame: ``codebook``, ``codeword``, ``items`` (how many items
    carry that codeword in that codebook), numbered 1..M and 1..K as in the paper."""
    rows = [
        {"dataset": dataset_name(result), "codebook": m + 1, "codeword": k + 1, "items": count}
        for m, counts in enumerate(result["code_usage"]["counts"])
        for k, count in enumerate(counts)
    ]
    return pd.DataFrame(rows, columns=["dataset", "codebook", "codeword", "items"])


def code_usage_summary(results: list[dict]) -> pd.DataFrame:
    """Fig. 6's statistics per dataset: the fewest and most items per codeword beside the range
    the paper's text states (at M=4, K=32), the uniform share |V|/K, usage entropy against its
    maximum log2 K, dead codewords and items whose whole code is shared with another item.

    ``paper min`` and ``paper max`` are shown for every shape but compare like with like only
    where ``same shape as paper`` is true.
    """
    findings = text_findings()
    ranges = findings[findings["id"] == "fig6_hits_range"].set_index("dataset")["value"]
    rows = []
    for r in results:
        usage = r["code_usage"]
        counts = pd.DataFrame(usage["counts"])  # (M, K)
        n_codebooks, n_codewords = counts.shape
        dataset = dataset_name(r)
        low, high = _paper_range(ranges.get(dataset))
        rows.append(
            {
                "dataset": dataset,
                "profile": r["profile"],
                "M": n_codebooks,
                "K": n_codewords,
                "items": usage["items"],
                "uniform share |V|/K": usage["items"] / n_codewords,
                "min items per codeword": int(counts.to_numpy().min()),
                "max items per codeword": int(counts.to_numpy().max()),
                "paper min": low,
                "paper max": high,
                "same shape as paper": (n_codebooks, n_codewords) == FIG6_SHAPE,
                "entropy bits (min over codebooks)": min(usage["entropy_bits"]),
                "entropy bits (mean)": sum(usage["entropy_bits"]) / n_codebooks,
                "max entropy bits": usage["max_entropy_bits"],
                "dead codewords": int(sum(usage["dead_codewords"])),
                "colliding items": usage["colliding_items"],
                "colliding items (%)": 100 * usage["colliding_items"] / usage["items"],
            }
        )
    return pd.DataFrame(rows)


def _paper_range(text: str | None) -> tuple[float, float]:
    """``"1090-1480"`` -> (1090.0, 1480.0); no stated range -> NaN, NaN."""
    if text is None:
        return math.nan, math.nan
    low, high = text.split("-")
    return float(low), float(high)
