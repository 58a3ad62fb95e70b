"""Where each stored run comes from: the status page's table of every result, and the table
under each page of the runs behind its numbers (commit, machine, data checksums, wall time)."""

from __future__ import annotations

import pandas as pd


def status_table(results: list[dict]) -> pd.DataFrame:
    """One line per result: what it is and everything that produced it."""
    if not results:
        return pd.DataFrame()
    rows = [
        {
            "model": r["model"],
            "dataset": r["dataset"],
            "created": r["provenance"]["created"][:16].replace("T", " "),
            "versions": f"torch {r['provenance']['versions']['torch']}, "
            f"python {r['provenance']['versions']['python']}",
        }
        for r in results
    ]
    return pd.concat([pd.DataFrame(rows), run_provenance_table(results)], axis=1)


def run_provenance_table(results: list[dict]) -> pd.DataFrame:
    """One line per run: what produced the numbers beside it."""
    return pd.DataFrame(
        [
            {
                "run": r["id"],
                "profile": r["profile"],
                "selected epoch": r["selected_epoch"],
                "epochs run": r.get("epochs_run"),  # absent from the first repeat runs
                "wall time (min)": round(r["wall_time_s"] / 60, 1),
                "commit": short_commit(r["provenance"]["git_commit"]),
                "machine": f"{r['provenance']['hardware']['cpu']} "
                f"({r['provenance']['hardware']['device']})",
                "data sha256": ", ".join(
                    v[:12] for v in r["provenance"]["data_checksums"].values()
                ),
            }
            for r in results
        ]
    )


def short_commit(commit: str) -> str:
    """The commit's first 12 hex digits, keeping ``+dirty``: a result made from an uncommitted
    tree must say so wherever it is shown. A commit declared by ``$EODREC_SOURCE_COMMIT`` (a
    copy of the tree without git) keeps ``(declared)``; text without a hash stays as it is."""
    sha, _, rest = commit.partition(" ")
    dirty = sha.endswith("+dirty")
    short = sha.removesuffix("+dirty")[:12] + ("+dirty" if dirty else "")
    if "declared" in rest:
        return f"{short} (declared)"
    return f"{short} {rest}" if rest else short
