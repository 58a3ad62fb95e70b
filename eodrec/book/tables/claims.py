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
import math
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from eodrec.book.styling import RELATIVE_TOLERANCE
from eodrec.book.tables import (
    fig3_ablation,
    fig4_sensitivity,
    fig6_code_usage,
    table1_compression,
    table3_methods,
    table5_latency,
    table6_backbones,
)
from eodrec.book.tables.compare import dataset_name
from eodrec.config import BUDGETS

VERDICTS = ("reproduced", "partly reproduced", "not reproduced", "not tested")

# The tolerances of the rules, in one place.
# A relative P@10 loss up to this counts as "little" (or as a near miss): the tolerance beyond
# which the book's tables highlight a cell against the paper's, so that the two always agree.
LITTLE_LOSS = RELATIVE_TOLERANCE
CR_TOLERANCE = 1.0  # Eq. 13's CR against the paper's printed one, which is rounded
KD_GAIN_TOLERANCE = 5.0  # points around the paper's relative gain of distillation (%)
SPEEDUP_SHARE = 0.5  # a speed-up counts in full from this share of the paper's ratio
UNIFORM_BAND = 2.0  # uniform use: every codeword carries between share / 2 and 2 x share items
NEAR_UNIFORM = 0.9  # in part: codeword entropy, mean over codebooks, this share of log2 K
METRIC = "P@10"  # the metric every accuracy claim is checked on

PASS, PARTIAL, FAIL = "pass", "partial", "fail"


@dataclass(frozen=True)
class Check:
    """One check of a claim: where (``label``), the paper's side, ours, the outcome."""

    label: str
    paper: str
    ours: str
    outcome: str  # PASS, PARTIAL or FAIL
    profile: str


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


def _by_loss(ours: float, reference: float) -> str:
    """PASS at or above ``reference``, PARTIAL within ``LITTLE_LOSS`` below it, else FAIL."""
    if ours >= reference:
        return PASS
    return PARTIAL if ours >= (1 - LITTLE_LOSS) * reference else FAIL


def _fmt(value: float, digits: int = 2) -> str:
    return "–" if pd.isna(value) else f"{value:.{digits}f}"


def _method_p10(evidence: dict[str, list[dict]]) -> pd.DataFrame:
    """Table 3's P@10 cells, one row per (dataset, method): paper, ours, profile."""
    runs = evidence["teachers"] + evidence["baselines"] + evidence["students"]
    cells = table3_methods.table3(runs, table3_methods.TABLE3_METHODS)
    return cells[cells["quantity"] == METRIC].set_index(["dataset", "method"])


def _datasets(cells: pd.DataFrame, method: str) -> list[str]:
    """The datasets where ``method`` has a stored run, in the table's order."""
    ours = cells.xs(method, level="method")["ours"].dropna()
    return list(dict.fromkeys(ours.index))


def student_vs_teacher(evidence: dict[str, list[dict]]) -> list[Check]:
    """Table 3: the student's P@10 at least its teacher's."""
    cells, checks = _method_p10(evidence), []
    for dataset in _datasets(cells, "Student"):
        student, teacher = cells.loc[(dataset, "Student")], cells.loc[(dataset, "Teacher")]
        checks.append(
            Check(
                dataset,
                f"{_fmt(student['paper'])} vs {_fmt(teacher['paper'])}",
                f"{_fmt(student['ours'])} vs {_fmt(teacher['ours'])}",
                _by_loss(student["ours"], teacher["ours"]) if pd.notna(teacher["ours"]) else FAIL,
                student["profile"],
            )
        )
    return checks


BASELINE_METHODS = ["GRU4Rec", "NARM", "STAMP", "SR-GNN", "SASRec", "OD-Rec"]


def student_vs_baselines(evidence: dict[str, list[dict]]) -> list[Check]:
    """Table 3: the student's P@10 above the best baseline's (OD-Rec included)."""
    cells, checks = _method_p10(evidence), []
    for dataset in _datasets(cells, "Student"):
        student = cells.loc[(dataset, "Student")]
        rows = cells.loc[dataset].reindex(BASELINE_METHODS)
        best = {side: rows[side].max() for side in ("paper", "ours")}
        checks.append(
            Check(
                dataset,
                f"{_fmt(student['paper'])} vs {_fmt(best['paper'])}",
                f"{_fmt(student['ours'])} vs {_fmt(best['ours'])} "
                f"({rows['ours'].notna().sum()} of {len(rows)} baselines)",
                _by_loss(student["ours"], best["ours"]) if pd.notna(best["ours"]) else FAIL,
                student["profile"],
            )
        )
    return checks


def compression_at_little_loss(evidence: dict[str, list[dict]]) -> list[Check]:
    """Tables 3-4: the student's CR (Eq. 13) within ``CR_TOLERANCE`` of the paper's, and its
    P@10 at most ``LITTLE_LOSS`` below its teacher's (PARTIAL: one of the two)."""
    cells, checks = _method_p10(evidence), []
    teachers = cells.xs("Teacher", level="method")
    for row in table1_compression.student_compression(evidence["students"]).to_dict("records"):
        dataset, paper_cr, cr = row["dataset"], row["paper CR (Table 4)"], row["CR (Eq. 13)"]
        student = cells.loc[(dataset, "Student")]
        teacher = teachers.loc[dataset] if dataset in teachers.index else None
        cr_ok = pd.notna(paper_cr) and abs(cr - paper_cr) <= CR_TOLERANCE
        loss_ok = (
            teacher is not None
            and pd.notna(teacher["ours"])
            and _by_loss(student["ours"], teacher["ours"]) != FAIL
        )
        paper_teacher, our_teacher = (
            (math.nan, math.nan) if teacher is None else (teacher["paper"], teacher["ours"])
        )
        checks.append(
            Check(
                dataset,
                f"CR {_fmt(paper_cr, 0)}, {_fmt(student['paper'])} vs {_fmt(paper_teacher)}",
                f"CR {_fmt(cr, 1)}, {_fmt(student['ours'])} vs {_fmt(our_teacher)}",
                PASS if cr_ok and loss_ok else PARTIAL if cr_ok or loss_ok else FAIL,
                row["profile"],
            )
        )
    return checks


def _latency_ratios(evidence: dict[str, list[dict]]) -> pd.DataFrame:
    """Table 5's ratios (time over the student's) on the runtime closest to the paper's
    PyTorch Mobile: ExecuTorch where it was timed, else eager."""
    cells = table5_latency.table5(evidence["benches"])
    runtime = cells.groupby("dataset")["runtime"].agg(
        lambda r: "executorch" if "executorch" in set(r) else "eager"
    )
    return cells[cells["runtime"] == cells["dataset"].map(runtime)]


def _bench_profile(evidence: dict[str, list[dict]], dataset: str) -> str:
    return next(b["profile"] for b in evidence["benches"] if dataset_name(b) == dataset)


def speedup_over_odrec(evidence: dict[str, list[dict]]) -> list[Check]:
    """Table 5: OD-Rec's time over the student's at least ``SPEEDUP_SHARE`` of the paper's
    ratio (PARTIAL: faster, but by less)."""
    checks = []
    for row in _latency_ratios(evidence).query("model == 'OD-Rec'").itertuples(index=False):
        if pd.isna(row.ours):
            continue
        outcome = (
            PASS
            if pd.notna(row.paper) and row.ours >= SPEEDUP_SHARE * row.paper
            else PARTIAL
            if row.ours > 1
            else FAIL
        )
        checks.append(
            Check(
                row.dataset,
                f"{_fmt(row.paper, 1)}×",
                f"{_fmt(row.ours, 1)}× ({row.runtime})",
                outcome,
                _bench_profile(evidence, row.dataset),
            )
        )
    return checks


def speedup_over_baselines(evidence: dict[str, list[dict]]) -> list[Check]:
    """Table 5: the student faster than every baseline timed (PARTIAL: than some)."""
    checks = []
    ratios = _latency_ratios(evidence)
    baselines = ratios[ratios["model"].isin(["GRU4Rec", "NARM", "STAMP", "SR-GNN"])]
    for dataset, rows in baselines.groupby("dataset", sort=False):
        timed = rows.dropna(subset=["ours"])
        if timed.empty:
            continue
        faster = int((timed["ours"] > 1).sum())
        outcome = PASS if faster == len(timed) else PARTIAL if faster else FAIL
        checks.append(
            Check(
                dataset,
                f"slowest ratio {_fmt(rows['paper'].min(), 1)}×",
                f"slowest ratio {_fmt(timed['ours'].min(), 1)}×, faster than {faster} of "
                f"{len(timed)} ({timed['runtime'].iloc[0]})",
                outcome,
                _bench_profile(evidence, dataset),
            )
        )
    return checks


def distillation_gain(evidence: dict[str, list[dict]]) -> list[Check]:
    """Fig. 3: the full student's relative P@10 gain over Stu-base within
    ``KD_GAIN_TOLERANCE`` points of the paper's (PARTIAL: a gain, of another size)."""
    cells = fig3_ablation.kd_gain(evidence["ablations"])
    checks = []
    for row in cells[cells["quantity"] == METRIC].itertuples(index=False):
        if pd.isna(row.ours):
            continue
        close = pd.notna(row.paper) and abs(row.ours - row.paper) <= KD_GAIN_TOLERANCE
        outcome = PASS if close else PARTIAL if row.ours > 0 else FAIL
        checks.append(
            Check(row.dataset, f"+{_fmt(row.paper, 1)}%", f"{row.ours:+.1f}%", outcome, row.profile)
        )
    return checks


def best_setting(setting: str) -> Callable[[dict[str, list[dict]]], list[Check]]:
    """Fig. 4-5: the swept value of ``setting`` with the best validation NDCG@10 is the
    paper's best value (no tolerance: the grid is the paper's)."""

    def checks(evidence: dict[str, list[dict]]) -> list[Check]:
        runs = evidence[setting]
        if not runs:
            return []
        table = fig4_sensitivity.best_setting(runs, setting)
        profile = {r["profile"] for r in runs}.pop()
        ours, paper = f"best {setting} (validation NDCG@10)", f"paper's best {setting}"
        return [
            Check(
                row["dataset"],
                f"{row[paper]:g}" if pd.notna(row[paper]) else "–",
                f"{row[ours]:g}",
                PASS if pd.notna(row[paper]) and math.isclose(row[ours], row[paper]) else FAIL,
                profile,
            )
            for row in table.to_dict("records")
        ]

    return checks


def uniform_code_use(evidence: dict[str, list[dict]]) -> list[Check]:
    """Fig. 6: every codeword of the paper-mode student carries between share / ``UNIFORM_BAND``
    and ``UNIFORM_BAND`` x share items, share = |V| / K (PARTIAL: an entropy of codeword use at
    least ``NEAR_UNIFORM`` of its maximum, log2 K bits)."""
    checks = []
    for row in fig6_code_usage.code_usage_summary(evidence["students"]).to_dict("records"):
        share = row["uniform share |V|/K"]
        uniform = (
            row["min items per codeword"] >= share / UNIFORM_BAND
            and row["max items per codeword"] <= UNIFORM_BAND * share
        )
        spread = row["entropy bits (mean)"] >= NEAR_UNIFORM * row["max entropy bits"]
        outcome = PASS if uniform else PARTIAL if spread else FAIL
        shape = "" if row["same shape as paper"] else f" at {row['M']}×{row['K']}"
        checks.append(
            Check(
                row["dataset"],
                f"{_fmt(row['paper min'], 0)}–{_fmt(row['paper max'], 0)} items per codeword",
                f"{row['min items per codeword']:,}–{row['max items per codeword']:,}{shape}, "
                f"{row['entropy bits (mean)']:.1f} of {row['max entropy bits']:.0f} bits",
                outcome,
                row["profile"],
            )
        )
    return checks


def generalizes(evidence: dict[str, list[dict]]) -> list[Check]:
    """Table 6: each compressed NARM and SR-GNN student's P@10 at least its backbone's."""
    cells = table6_backbones.table6(evidence["backbones"])
    gains = table6_backbones.backbone_gain(cells)
    profiles = cells.dropna(subset=["profile"]).groupby("dataset")["profile"].first()
    checks = []
    for row in gains[gains["metric"] == METRIC].to_dict("records"):
        ours, paper = row["ours gain (%)"], row["paper gain (%)"]
        if pd.notna(ours):
            outcome = PASS if ours >= 0 else PARTIAL if ours >= -100 * LITTLE_LOSS else FAIL
            checks.append(
                Check(
                    f"{row['dataset']}, {row['backbone']}",
                    "–" if pd.isna(paper) else f"{paper:+.1f}%",
                    f"{ours:+.1f}%",
                    outcome,
                    profiles[row["dataset"]],
                )
            )
    return checks


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
        "the best β on validation NDCG@10 is the paper's",
        ("beta",),
        best_setting("beta"),
    ),
    Claim(
        "the best soft-target weight γ",
        "Fig. 4",
        "07_sensitivity",
        "the best γ on validation NDCG@10 is the paper's",
        ("gamma",),
        best_setting("gamma"),
    ),
    Claim(
        "the best mixup weight η",
        "Fig. 5",
        "07_sensitivity",
        "the best η on validation NDCG@10 is the paper's",
        ("eta",),
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
