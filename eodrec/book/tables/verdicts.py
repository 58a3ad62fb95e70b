"""Each results page's verdict, the admonition it opens with: what the paper claims, what we got,
and why, in a few sentences written from the stored results (never typed).

A page that shows the evidence of claims of the landing page's Claims table reads its verdict off
the same checks (:mod:`eodrec.book.tables.claims`), so the two can never disagree; the other pages
apply a rule of their own, stated in their function. The verdicts are the Claims table's four
words; the admonition's class follows the verdict (:data:`ADMONITION`). On the ``smoke``
profile's toy data a page says so and tests nothing.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from eodrec.book.styling import RELATIVE_TOLERANCE, number, relative_difference
from eodrec.book.tables import claims, compare
from eodrec.book.tables.compare import dataset_name

# The admonition class (MyST / Sphinx) of each verdict.
ADMONITION = {
    "reproduced": "tip",
    "partly reproduced": "warning",
    "not reproduced": "danger",
    "not tested": "note",
}
CLASS = "verdict"  # every verdict admonition carries it (check-book finds them by it)
TOY = (
    "these are toy numbers, from the `smoke` profile's synthetic data: they show that the page "
    "runs end to end and say nothing about the paper"
)


@dataclass(frozen=True)
class PageVerdict:
    """A page's verdict (one of :data:`claims.VERDICTS`) and its three sentences."""

    verdict: str
    paper: str  # what the paper claims
    ours: str  # what we got
    why: str  # why

    def markdown(self) -> str:
        """The verdict as a MyST admonition (rendered as one where the cell's Markdown output is
        read as MyST: the pages' verdict cells set ``mystnb.markdown_format: myst``)."""
        body = " ".join(
            f"**{label}** {_sentence(text)}"
            for label, text in (
                ("The paper:", self.paper),
                ("Ours:", self.ours),
                ("Why:", self.why),
            )
        )
        return (
            f"```{{admonition}} Verdict: {self.verdict}\n"
            f":class: {ADMONITION[self.verdict]} {CLASS}\n\n{body}\n```\n"
        )

    def claim_line(self, page: str, pages: str = "notebooks/") -> str:
        """The verdict as one HTML list of one line, pasted into the intro's list of the paper's
        claims about its student: the claim, the verdict, what we got, a link to ``page``
        (``pages`` is the path from the intro to the pages)."""
        claim = html.escape(_sentence(self.paper))[:-1]
        link = f'<a href="{pages}{page}.html">{page}</a>'
        return (
            f"<ul><li>{claim}: <strong>{self.verdict}</strong>. "
            f"{html.escape(_sentence(self.ours))} ({link})</li></ul>"
        )


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "?", "!")) else ".")


def combine(verdicts: Sequence[str]) -> str:
    """One verdict for a page from its parts' (claims' or datasets'): all reproduced,
    ``reproduced``; every tested part not reproduced, ``not reproduced``; none tested, ``not
    tested``; anything between, ``partly reproduced``."""
    tested = [v for v in verdicts if v != "not tested"]
    if not tested:
        return "not tested"
    if len(tested) == len(verdicts) and set(tested) == {"reproduced"}:
        return "reproduced"
    if set(tested) == {"not reproduced"}:
        return "not reproduced"
    return "partly reproduced"


def _by_count(passed: int, total: int) -> str:
    """All of ``total`` parts pass: reproduced; none: not reproduced; some: partly."""
    if total == 0:
        return "not tested"
    return (
        "reproduced"
        if passed == total
        else "not reproduced"
        if passed == 0
        else ("partly reproduced")
    )


def _join(parts: Sequence[str], word: str = "and") -> str:
    parts = [p for p in parts if p]
    return ", ".join(parts[:-1]) + f" {word} " + parts[-1] if len(parts) > 1 else "".join(parts)


def _toy(paper: str) -> PageVerdict:
    return PageVerdict("not tested", paper, "no number here is from the paper's datasets", TOY)


# Pages that show the evidence of claims of the Claims table.


def claims_verdict(
    page: str, evidence: dict[str, list[dict]], notes: Sequence[str] = ()
) -> PageVerdict:
    """The verdict of ``page`` from the claims whose evidence it shows, checked exactly as the
    Claims table checks them (``evidence`` by the keys of :data:`claims.CLAIMS`); ``notes``
    are facts of the runs that explain the outcome (their budget comes first)."""
    shown = [claim for claim in claims.CLAIMS if claim.page == page]
    if not shown:
        raise ValueError(f"no claim of the Claims table has its evidence on {page}")
    evidence = {key: [] for claim in shown for key in claim.evidence} | evidence
    verdicts, ours, runs = [], [], []
    number = (lambda i: f"({i}) ") if len(shown) > 1 else (lambda i: "")
    for i, claim in enumerate(shown, 1):
        checks = claim.checks(evidence)
        verdicts.append(claims.verdict(checks))
        runs += [r for key in claim.evidence for r in evidence[key]]
        found = "; ".join(f"{c.label} {c.ours} (paper {c.paper})" for c in checks)
        ours.append(f"{number(i)}{found or 'no stored result'} (verdict: {verdicts[-1]})")
    paper = "; ".join(f"{number(i)}{c.claim} ({c.source})" for i, c in enumerate(shown, 1))
    if runs and all(r["profile"] == "smoke" for r in runs):
        return PageVerdict(combine(verdicts), paper, "; ".join(ours), TOY)
    why = "; ".join(
        n for n in [f"our budget was {claims.budget(runs)}" if runs else "", *notes] if n
    )
    return PageVerdict(combine(verdicts), paper, "; ".join(ours), why or "no stored result yet")


def code_sharing(students: list[dict], label=dataset_name) -> str:
    """How many of each student's items share their whole code with another item (and so score
    alike), as a clause."""
    parts = [
        f"{label(r)} {100 * r['code_usage']['colliding_items'] / r['code_usage']['items']:.0f}%"
        for r in students
        if r.get("code_usage")
    ]
    if not parts:
        return ""
    return f"items sharing their whole code with another item, and so scored alike: {_join(parts)}"


def main_results(teachers, baselines, students) -> PageVerdict:
    """Page 03 (Table 3): ``baselines`` with OD-Rec."""
    evidence = {"teachers": teachers, "baselines": baselines, "students": students}
    return claims_verdict("03_main_results", evidence, [code_sharing(students)])


def device_latency(benches) -> PageVerdict:
    """Page 05 (Table 5)."""
    return claims_verdict("05_device_latency", {"benches": benches})


def ablation(results) -> PageVerdict:
    """Page 06 (Fig. 3)."""
    return claims_verdict("06_ablation", {"ablations": results})


def sensitivity(swept: dict[str, list[dict]], popular: list[dict]) -> PageVerdict:
    """Page 07 (Fig. 4-5): ``swept`` by setting (``beta``, ``gamma``, ``eta``), against the
    most-popular baseline's results ``popular``."""
    note = "we choose each value on validation NDCG@10, the paper on test"
    return claims_verdict("07_sensitivity", {**swept, "floors": popular}, [note])


def codebook_usage(students) -> PageVerdict:
    """Page 08 (Fig. 6)."""
    return claims_verdict("08_codebook_usage", {"students": students}, [code_sharing(students)])


def generalization(results) -> PageVerdict:
    """Page 09 (Table 6): the NARM and SR-GNN teachers and students."""
    students = [r for r in results if r["model"].endswith("-student")]
    sharing = code_sharing(students, lambda r: f"{dataset_name(r)} {r['model']}")
    return claims_verdict("09_generalization", {"backbones": results}, [sharing])


# Pages with a rule of their own.


def datasets(cells: pd.DataFrame, profile: str) -> PageVerdict:
    """Page 01 (Table 2), from :func:`~eodrec.book.tables.table2_datasets.table2`'s cells: a cell
    matches when it has no ``note`` (the paper's value to its printed precision); every cell
    matching, reproduced; none, not reproduced."""
    paper = "Table 2 gives the number of training and test sessions, items and mean length"
    compared = cells.dropna(subset=["paper", "ours"])
    if profile == "smoke" or compared.empty:
        return _toy(paper)
    differ = compared[compared["note"].astype(bool)]
    unexplained = int((differ["note"] == "not explained").sum())
    fmt = number(2)
    listed = _join(
        [
            f"{r.dataset} {r.quantity.replace('_', ' ')} {fmt(r.ours)} against {fmt(r.paper)}"
            for r in differ.itertuples()
        ]
    )
    ours = f"{len(compared) - len(differ)} of {len(compared)} cells match the paper's" + (
        f"; {listed}" if listed else ""
    )
    why = (
        "the note under each differing cell gives the reason found in the data and the "
        f"preprocessing scripts: {len(differ) - unexplained} explained, {unexplained} not"
        if len(differ)
        else "the files are the ones the paper's preprocessing produced"
    )
    return PageVerdict(_by_count(len(compared) - len(differ), len(compared)), paper, ours, why)


def compression(table1: pd.DataFrame, table4: pd.DataFrame, profile: str) -> PageVerdict:
    """Page 02 (Table 1, Table 4's CR column), from Eq. 13's cells beside the printed ones: a
    cell matches within the paper's rounding (:func:`compare.differing`)."""
    paper = "Table 1 and the CR column of Table 4 follow from Eq. 13"
    parts = []
    for name, cells in (("Table 1", table1), ("Table 4's CR column", table4)):
        printed = cells.dropna(subset=["paper"])
        parts.append((name, len(printed), len(compare.differing(printed)), printed))
    matched = sum(n - d for _, n, d, _ in parts)
    ours = "Eq. 13 gives " + _join(
        [f"{n - d} of the {n} cells of {name}" for name, n, d, _ in parts]
    )
    ours += " as printed" + (
        " (Table 4 with the paper's item counts: the smoke profile reads no data)"
        if profile == "smoke"
        else ""
    )
    notes = pd.concat([compare.differing(p)["note"] for *_, p in parts])
    unexplained = int(notes.str.startswith("not explained").sum())
    why = (
        f"each of the {len(notes)} that differ has its reason in the note column, "
        f"{len(notes) - unexplained} found (a misprinted size, truncation), {unexplained} not"
        if len(notes)
        else "the printed cells are Eq. 13 rounded"
    )
    return PageVerdict(_by_count(matched, sum(n for _, n, _, _ in parts)), paper, ours, why)


def codebook_sweep(
    cells: pd.DataFrame, bounds: pd.DataFrame, results: list[dict], profile: str
) -> PageVerdict:
    """Page 04 (Table 4), from its cells: a P@10 cell matches within
    :data:`~eodrec.book.styling.RELATIVE_TOLERANCE` of the paper's; ``bounds`` from
    :func:`~eodrec.book.tables.table4_sweep.tie_bounds`."""
    paper = (
        "Table 4: more or larger codebooks help up to a point, and the chosen shapes trade "
        "little accuracy for a high compression rate"
    )
    p10 = cells[cells["quantity"] == "P@10"].dropna(subset=["paper", "ours"])
    if profile == "smoke" or p10.empty:
        return _toy(paper)
    close = relative_difference(p10["ours"], p10["paper"]).abs() <= 100 * RELATIVE_TOLERANCE
    ours = (
        f"{int(close.sum())} of {len(p10)} P@10 cells are within {RELATIVE_TOLERANCE:.0%} of the "
        f"paper's; ours span {p10['ours'].min():.2f}–{p10['ours'].max():.2f}% against the "
        f"paper's {p10['paper'].min():.2f}–{p10['paper'].max():.2f}%"
    )
    printed = bounds.dropna(subset=["paper P@10"])
    beyond = int((printed["paper P@10"] > printed["P@10 bound"]).sum())
    why = _join(
        [
            f"each point's budget was {claims.budget(results)}",
            f"the paper prints a P@10 above what codes alone can reach in {beyond} of its "
            f"{len(printed)} cells",
        ]
    )
    return PageVerdict(_by_count(int(close.sum()), len(p10)), paper, ours, why)


def audit(against: pd.DataFrame, bounds: pd.DataFrame, profile: str) -> PageVerdict:
    """Page 10, from :func:`~eodrec.book.tables.code_mode_audit.against_paper`: per dataset, the
    paper-mode student scored with its codes alone within ``LITTLE_LOSS`` of the printed P@10
    passes; another of our scorings (as released, the preset) that close passes in part."""
    paper = "Table 3 prints its student's P@10 as the accuracy its method reaches on a device"
    printed = against[against["run"] == "paper (printed)"].set_index("dataset")["P@10"].dropna()
    if profile == "smoke" or printed.empty:
        return _toy(paper)
    verdicts, ours, mixed = [], [], []
    for dataset, target in printed.items():
        rows = against[(against["dataset"] == dataset) & (against["run"] != "paper (printed)")]
        rows = rows.dropna(subset=["P@10"])
        codes = rows[(rows["run"] == "paper mode") & (rows["scored as"] == "codes alone")]
        if rows.empty:
            verdicts.append("not tested")
            continue
        best = rows.loc[rows["P@10"].idxmax()]
        reach = target * (1 - claims.LITTLE_LOSS)
        verdicts.append(
            "reproduced"
            if not codes.empty and codes["P@10"].iloc[0] >= reach
            else "partly reproduced"
            if best["P@10"] >= reach
            else "not reproduced"
        )
        if verdicts[-1] == "partly reproduced" and "mixed table" in best["scored as"]:
            mixed.append(f"{dataset}, {best['run']}")
        alone = f"{codes['P@10'].iloc[0]:.2f}" if not codes.empty else "–"
        ours.append(
            f"{dataset}: the paper-mode student {alone} with its codes alone against the printed "
            f"{target:.2f}, our best scoring {best['P@10']:.2f} ({best['run']}, "
            f"{best['scored as']})"
        )
    shown = bounds.dropna(subset=["paper P@10"])
    beyond = int((shown["paper P@10"] > shown["P@10 bound"]).sum())
    why = (
        f"the paper prints a Table 4 P@10 above what codes alone can reach in {beyond} of "
        f"{len(shown)} cells, so those numbers were not scored with codes alone"
    )
    if mixed:  # the printed row is met only with the teacher's table in the scores
        why = (
            f"only scoring with the mixed table, which holds the teacher's item table, comes "
            f"within {claims.LITTLE_LOSS:.0%} of the printed P@10 ({'; '.join(mixed)}), and a "
            f"device holds only codes and codebooks; also, {why}"
        )
    return PageVerdict(combine(verdicts), paper, "; ".join(ours), why)


def frontier(points: pd.DataFrame, chosen: dict[str, dict], profile: str) -> PageVerdict:
    """Page 12, from :func:`~eodrec.book.tables.frontier.frontier_table`: per dataset, the
    paper's student passes when it keeps its teacher's P@10 within ``LITTLE_LOSS`` and is on
    the Pareto front; one of the two, in part."""
    paper = "its student keeps the teacher's accuracy with a many times smaller item state"
    if profile == "smoke" or points.empty:
        return _toy(paper)
    verdicts, ours, why = [], [], []
    for dataset, rows in points.groupby("dataset", sort=True):
        student = rows[rows["point"] == "Student (paper mode)"]
        teacher = rows[rows["point"] == "Teacher"]
        if student.empty or teacher.empty:
            continue
        s, t = student.iloc[0], teacher.iloc[0]
        kept = s["P@10"] >= (1 - claims.LITTLE_LOSS) * t["P@10"]
        verdicts.append(_by_count(int(kept) + int(s["on front"]), 2))
        ours.append(
            f"{dataset}: the paper's student keeps {s['P@10'] / t['P@10']:.0%} of the teacher's "
            f"P@10 with {t['item bytes'] / s['item bytes']:.0f}× fewer item bytes, "
            + ("on the front" if s["on front"] else "off the front")
        )
        why.append(_beaten_by(rows, s, dataset))
        mine = rows[rows["run"].isin([r["id"] for r in chosen.values()])]
        if not mine.empty:
            why.append(
                f"this project's recipe keeps {mine.iloc[0]['P@10'] / t['P@10']:.0%} of the "
                f"teacher's P@10 on {dataset} at {mine.iloc[0]['item bytes']:,} bytes"
            )
    if not verdicts:
        return PageVerdict("not tested", paper, "no paper-mode student and teacher stored", "–")
    return PageVerdict(combine(verdicts), paper, "; ".join(ours), "; ".join(filter(None, why)))


def _beaten_by(rows: pd.DataFrame, point: pd.Series, dataset: str) -> str:
    """The most accurate point of ``rows`` at no more bytes than ``point`` and at least its
    P@10, as a clause; empty when none beats it."""
    rivals = rows[
        (rows["item bytes"] <= point["item bytes"])
        & (rows["P@10"] >= point["P@10"])
        & (rows["run"] != point["run"])
    ]
    if rivals.empty:
        return ""
    best = rivals.loc[rivals["P@10"].idxmax()]
    return (
        f"on {dataset} {best['point']} reaches {best['P@10']:.2f} P@10 at "
        f"{best['item bytes']:,} bytes against the student's {point['P@10']:.2f} at "
        f"{point['item bytes']:,}"
    )
