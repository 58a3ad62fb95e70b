"""The paper's claims against the stored results: the Claims table of the book's landing page.

Each claim is checked once per dataset (or per dataset and setting) by an explicit rule with a
stated tolerance; a check passes, passes in part, or fails. A claim's verdict combines its checks
(:func:`verdict`): every check passes, ``reproduced``; none passes even in part, ``not
reproduced``; anything between, ``partly reproduced``; no check could be made, or only on the
``smoke`` profile's toy data (which says nothing about the paper's datasets), ``not tested``.
Every number shown comes from the paper's package data and the stored results, never from prose.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from eodrec.book.tables.claim_checks import (
    CR_TOLERANCE,
    FAIL,
    KD_GAIN_TOLERANCE,
    LITTLE_LOSS,
    METRIC,
    NEAR_UNIFORM,
    PASS,
    SPEEDUP_SHARE,
    UNIFORM_BAND,
    Check,
    best_setting,
    compression_at_little_loss,
    distillation_gain,
    generalizes,
    speedup_over_baselines,
    speedup_over_odrec,
    student_vs_baselines,
    student_vs_teacher,
    uniform_code_use,
)
from eodrec.config import BUDGETS

VERDICTS = ("reproduced", "partly reproduced", "not reproduced", "not tested")


@dataclass(frozen=True)
class Claim:
    """A claim of the paper, where it is, the page that shows it, and how it is checked."""

    claim: str
    source: str
    page: str
    rule: str
    evidence: tuple[str, ...]  # the keys of the results it reads
    checks: Callable[[dict[str, list[dict]]], list[Check]]


def verdict(checks: list[Check]) -> str:
    """The claim's verdict from its checks (the rule in the module docstring)."""
    tested = [c for c in checks if c.profile != "smoke"]
    if not tested:
        return "not tested"
    outcomes = {c.outcome for c in tested}
    if outcomes == {PASS}:
        return "reproduced"
    if outcomes == {FAIL}:
        return "not reproduced"
    return "partly reproduced"


CLAIMS: tuple[Claim, ...] = (
    Claim(
        "the student is at least as accurate as its teacher",
        "Table 3",
        "03_main_results",
        f"student {METRIC} ≥ teacher's; within {LITTLE_LOSS:.0%} below: in part",
        ("teachers", "students"),
        student_vs_teacher,
    ),
    Claim(
        "the student beats every baseline, OD-Rec included",
        "Table 3",
        "03_main_results",
        f"student {METRIC} ≥ the best baseline's; within {LITTLE_LOSS:.0%} below: in part",
        ("teachers", "baselines", "students"),
        student_vs_baselines,
    ),
    Claim(
        "the paper's compression rate at little loss",
        "Tables 1, 3, 4",
        "03_main_results",
        f"CR (Eq. 13) within {CR_TOLERANCE:g} of the paper's and {METRIC} at most "
        f"{LITTLE_LOSS:.0%} below the teacher's; one of the two: in part",
        ("teachers", "students"),
        compression_at_little_loss,
    ),
    Claim(
        "on a device the student is several times faster than OD-Rec",
        "Table 5",
        "05_device_latency",
        f"OD-Rec's time over the student's ≥ {SPEEDUP_SHARE:g} × the paper's ratio; "
        "faster by less: in part",
        ("benches",),
        speedup_over_odrec,
    ),
    Claim(
        "on a device the student is faster than every baseline",
        "Table 5",
        "05_device_latency",
        "faster than every baseline timed; than some: in part",
        ("benches",),
        speedup_over_baselines,
    ),
    Claim(
        "distillation adds the gain the paper states (full student over Stu-base)",
        "Fig. 3",
        "06_ablation",
        f"relative {METRIC} gain within {KD_GAIN_TOLERANCE:g} points of the paper's; "
        "another gain: in part",
        ("ablations",),
        distillation_gain,
    ),
    Claim(
        "the best contrastive weight β",
        "Fig. 4",
        "07_sensitivity",
        "the best β on validation NDCG@10 is the paper's, and above the most-popular floor",
        ("beta", "floors"),
        best_setting("beta"),
    ),
    Claim(
        "the best soft-target weight γ",
        "Fig. 4",
        "07_sensitivity",
        "the best γ on validation NDCG@10 is the paper's, and above the most-popular floor",
        ("gamma", "floors"),
        best_setting("gamma"),
    ),
    Claim(
        "the best mixup weight η",
        "Fig. 5",
        "07_sensitivity",
        "the best η on validation NDCG@10 is the paper's, and above the most-popular floor",
        ("eta", "floors"),
        best_setting("eta"),
    ),
    Claim(
        "codewords are used about uniformly",
        "Fig. 6",
        "08_codebook_usage",
        f"every codeword carries |V|/K ÷ {UNIFORM_BAND:g} to × {UNIFORM_BAND:g} items; an "
        f"entropy of use ≥ {NEAR_UNIFORM:.0%} of log2 K: in part",
        ("students",),
        uniform_code_use,
    ),
    Claim(
        "the method generalizes to the NARM and SR-GNN backbones",
        "Table 6",
        "09_generalization",
        f"each compressed student's {METRIC} ≥ its backbone's; within {LITTLE_LOSS:.0%} "
        "below: in part",
        ("backbones",),
        generalizes,
    ),
)


def budget(runs: list[dict]) -> str:
    """Our budget for a claim's runs beside the paper's: the profile, then the epochs run (and
    the cap on steps per epoch where one was set), or for timings the requests timed."""
    profiles = ", ".join(sorted({r["profile"] for r in runs}))
    if not profiles:
        return "–"
    trained = [r for r in runs if "history" in r]
    if not trained:
        requests = sorted({r.get("requests") or r.get("repeats") or 0 for r in runs})
        return (
            f"{profiles}: {'–'.join(f'{n:,}' for n in requests)} timed calls per model "
            "(paper: an Android emulator, PyTorch Mobile)"
        )
    epochs = sorted({r.get("epochs_run") or len(r["history"]) for r in trained})
    steps = {r["config"]["train"]["max_steps_per_epoch"] for r in trained} - {0}
    paper = BUDGETS["paper", "Tmall"].train
    span = f"{epochs[0]}–{epochs[-1]} epochs" if len(epochs) > 1 else f"{epochs[0]} epoch"
    text = f"{profiles}: {span}" + ("s" if len(epochs) == 1 and epochs[0] != 1 else "")
    text += f", capped at {max(steps):,} steps" if steps else ""
    return f"{text} (paper: ≤ {paper['epochs']} epochs, early stopping)"


def claims_table(evidence: dict[str, list[dict]]) -> pd.DataFrame:
    """One row per claim: the paper's numbers and ours per dataset, the verdict, our budget, the
    page, the rule; ``evidence`` maps each key of :data:`CLAIMS` to stored results."""
    rows = []
    for claim in CLAIMS:
        checks = claim.checks(evidence)
        runs = [r for key in claim.evidence for r in evidence[key]]
        rows.append(
            {
                "claim": claim.claim,
                "paper": claim.source,
                "paper's number": "; ".join(f"{c.label}: {c.paper}" for c in checks) or "–",
                "ours": "; ".join(f"{c.label}: {c.ours}" for c in checks) or "no stored result",
                "verdict": verdict(checks),
                "our budget": budget(runs),
                "page": claim.page,
                "rule": claim.rule,
            }
        )
    return pd.DataFrame(rows)


def claims_html(table: pd.DataFrame, pages: str = "") -> str:
    """The Claims table as HTML (``id="claims-table"``, one ``verdict`` cell per row) with each page
    a link; ``pages`` is the path from where it is shown to the pages (``notebooks/``)."""
    shown = table.drop(columns="rule").map(html.escape)
    shown["page"] = [f'<a href="{pages}{p}.html">{p.replace("_", " ")}</a>' for p in table["page"]]
    return shown.to_html(index=False, escape=False, table_id="claims-table", border=0)


def claims_summary(table: pd.DataFrame) -> str:
    """A few sentences under the table, as HTML: which claims hold, in part or not at all, and
    which were not tested; no number is typed, every one is in the table."""
    groups = table.groupby("verdict", sort=False)["claim"].apply(list)
    lines = {
        "reproduced": "These claims hold here: {}.",
        "partly reproduced": "These hold only in part (on one dataset, or within the "
        "tolerance of a near miss): {}.",
        "not reproduced": "These do not hold here: {}.",
        "not tested": "These are not tested, for want of a result on the real data: {}.",
    }
    sentences = [
        lines[v].format("; ".join(html.escape(c, quote=False) for c in groups[v]))
        for v in VERDICTS
        if v in groups
    ]
    return "".join(f"<p>{s}</p>" for s in sentences)
