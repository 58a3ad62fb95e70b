"""The rules that check each claim of the Claims table (:mod:`eodrec.book.tables.claims`)
against the stored results: one function per claim, one :class:`Check` per dataset (or per
dataset and setting), each with the tolerance it states. The tolerances are in one place."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from eodrec.book.styling import RELATIVE_TOLERANCE
from eodrec.book.tables import (
    fig3_ablation,
    fig4_sensitivity,
    fig6_code_usage,
    floors,
    table1_compression,
    table3_methods,
    table5_latency,
    table6_backbones,
)
from eodrec.book.tables.compare import dataset_name

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
SYMBOLS = {"beta": "β", "gamma": "γ", "eta": "η"}  # the swept settings as the paper writes them


@dataclass(frozen=True)
class Check:
    """One check of a claim: where (``label``), the paper's side, ours, the outcome."""

    label: str
    paper: str
    ours: str
    outcome: str  # PASS, PARTIAL or FAIL
    profile: str


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
    paper's best value (no tolerance: the grid is the paper's). A sweep whose best point is
    still below the most-popular floor on validation (``floors``) learned nothing usable at any
    value, so its order is noise: it identifies no value, and the check fails saying so."""

    def checks(evidence: dict[str, list[dict]]) -> list[Check]:
        runs = evidence[setting]
        if not runs:
            return []
        table = fig4_sensitivity.best_setting(runs, setting)
        floor = _valid_ndcg_floor(evidence["floors"])
        profile = {r["profile"] for r in runs}.pop()
        ours, paper = f"best {setting} (validation NDCG@10)", f"paper's best {setting}"
        found = []
        for row in table.to_dict("records"):
            best, valid = row[ours], row["validation NDCG@10 (%)"]
            collapsed = valid < floor.get(row["dataset"], -math.inf)
            matches = pd.notna(row[paper]) and math.isclose(best, row[paper])
            text = (
                f"none identifiable: below the most-popular floor at every {SYMBOLS[setting]} "
                f"(best {valid:.2f}% validation NDCG@10, at {best:g}, floor "
                f"{floor[row['dataset']]:.2f}%)"
                if collapsed
                else f"{best:g}"
            )
            found.append(
                Check(
                    row["dataset"],
                    f"{row[paper]:g}" if pd.notna(row[paper]) else "–",
                    text,
                    PASS if matches and not collapsed else FAIL,
                    profile,
                )
            )
        return found

    return checks


def _valid_ndcg_floor(popular: list[dict]) -> dict[str, float]:
    """The most-popular baseline's validation NDCG@10 (%) per dataset, where it is stored."""
    marks = floors.floors({}, popular, split="valid")
    marks = marks[(marks["floor"] == "most popular") & (marks["metric"] == "NDCG@10")]
    return dict(zip(marks["dataset"], marks["value"], strict=True))


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
