"""Beyond the paper: every model of Table 3 beside the simple baselines and the repeat mechanism,
split by whether the test target is already in its session (repeat) or new to it (explore).

An overall P@10 hides which half a model earns it on: on Tmall 45% of test targets are repeats,
and ranking the session's own items first beats every model of the paper. Results stored
before per-session ranks existed have no split; their cells are empty.
"""

from __future__ import annotations

import html

import pandas as pd

from eodrec.book.results import BASELINE_BACKBONES
from eodrec.book.tables.compare import dataset_name
from eodrec.book.tables.student_runs import is_paper_student
from eodrec.book.tables.table3_methods import METHOD_NAMES, TABLE3_METHODS
from eodrec.heuristics.config import METHODS, NAMES
from eodrec.models.student import CHOSEN_RECIPE

BASELINE_NAMES = NAMES  # the library's: ``eodrec bench latency --models`` takes them too
REPEAT = "+repeat"
COLUMNS = ["P@10", "NDCG@10", "repeat P@10", "explore P@10", "repeat share"]
# The runs a page gathers for the baseline rows (``gather_results``).
BASELINE_RUNS = [("baseline", [f"method={method}"]) for method in METHODS]
RECIPE_LABEL = "Student (this project's recipe)"
# Table 3's models with a |V| x N item table: all but the two compressed ones.
FULL_TABLE_METHODS = [m for m in TABLE3_METHODS if m not in ("OD-Rec", "Student")]
# The rows with the repeat mechanism the intro's finding names, and how it names them.
REPEATED = {
    "Teacher + repeat": "the teacher's",
    f"{RECIPE_LABEL} + repeat": "this project's student's",
}
# Every model of Table 3 with the repeat mechanism: the rows of page 03's split table.
REPEAT_RUNS = [
    *[(kind, ["repeat=true"]) for kind in ("teacher", "odrec", "student")],
    *[("teacher", [f"backbone={name}", "repeat=true"]) for name in BASELINE_BACKBONES],
]
# The runs the intro's finding adds to Table 3's: the simple baselines, and the teacher and this
# project's chosen student recipe without it and, with it, each of the recipe's two code kinds
# (the row shown is the one better on validation: :func:`split_table`).
FINDING_RUNS = [
    *BASELINE_RUNS,
    ("teacher", ["repeat=true"]),
    ("student", list(CHOSEN_RECIPE)),
    ("student", [*CHOSEN_RECIPE, "repeat=true"]),
    ("student", ["recipe=distill-codes", "repeat=true"]),
]


def method_label(result: dict) -> str:
    """The row's name: the paper's for its models, the baselines' own, ``+ repeat`` marked."""
    model = result["model"]
    if result["experiment"] == "baseline":
        return BASELINE_NAMES[model]
    base = model.removesuffix(REPEAT)
    recipe = (result["config"].get("student") or {}).get("recipe", "paper") != "paper"
    name = RECIPE_LABEL if recipe else METHOD_NAMES[base]
    return name + (" + repeat" if model.endswith(REPEAT) else "")


def repeat_explore_table(results: list[dict]) -> pd.DataFrame:
    """One row per (method, dataset), in percent: overall P@10 and NDCG@10, P@10 on repeat and on
    explore test sessions, and the repeat share; sorted by dataset, then overall P@10. Only the
    paper-mode student stands for "Student"."""
    return split_table(
        [r for r in results if r["config"].get("student") is None or is_paper_student(r)]
    )


def split_table(results: list[dict]) -> pd.DataFrame:
    """:func:`repeat_explore_table` of every result given, any student included. Where several
    runs have one row's name (the recipe's code kinds), the row is the run with the best
    validation NDCG@10: test numbers never choose."""
    best: dict[tuple[str, str], dict] = {}
    for result in results:
        key = (method_label(result), result["dataset"])
        if key not in best or _valid_ndcg(result) > _valid_ndcg(best[key]):
            best[key] = result
    rows = [_row(r) for r in best.values()]
    frame = pd.DataFrame(rows, columns=["method", "dataset", *COLUMNS])
    return frame.sort_values(["dataset", "P@10"], ascending=[True, False]).reset_index(drop=True)


def repeat_finding(frame: pd.DataFrame) -> str:
    """Per dataset, a few sentences as HTML paragraphs (pasted into the intro, which takes HTML
    from another page) read off :func:`split_table`'s ``frame`` (every
    model of Table 3 and of :data:`FINDING_RUNS`): the share of repeat targets, the session
    recency heuristic against the best model of Table 3, where the teacher's hits come from, and
    what the repeat mechanism gives the teacher and this project's student. A dataset without
    session recency or a teacher is left out."""
    sentences = []
    for dataset, rows in frame.groupby("dataset", sort=True):
        p10 = rows.drop_duplicates("method").set_index("method")["P@10"]
        if BASELINE_NAMES["recency"] not in p10 or "Teacher" not in p10:
            continue
        table3 = p10[p10.index.isin(TABLE3_METHODS)]
        teacher = rows[rows["method"] == "Teacher"].iloc[0]
        best, recency = table3.idxmax(), p10[BASELINE_NAMES["recency"]]
        share = rows["repeat share"].dropna()
        text = f"<strong>{html.escape(dataset)}</strong>: "
        if not share.empty:
            text += f"{share.iloc[0]:.1f}% of test targets already occur in their session. "
        text += (
            f"Session recency, which keeps no item state, reaches {recency:.2f} P@10, "
            f"{'above' if recency > table3[best] else 'below'} the best model of Table 3 "
            f"({best}, {table3[best]:.2f})"
        )
        if not pd.isna(teacher["explore P@10"]):
            text += (
                f"; the teacher's P@10 is {teacher['repeat P@10']:.1f}% on repeat targets and "
                f"{teacher['explore P@10']:.1f}% on new ones"
            )
        text += "."
        repeated = [f"{who} {p10[m]:.2f}" for m, who in REPEATED.items() if m in p10]
        if repeated:
            text += " With the repeat mechanism P@10 is " + " and ".join(repeated) + "."
        sentences.append(text)
    return "".join(f"<p>{s}</p>" for s in sentences)


def _valid_ndcg(result: dict) -> float:
    return (result.get("valid_metrics") or {}).get("NDCG@10", float("-inf"))


def _row(result: dict) -> dict:
    split = result.get("test_breakdown")
    metrics = result["test_metrics"]
    return {
        "method": method_label(result),
        "dataset": dataset_name(result),
        "P@10": 100 * metrics["P@10"],
        "NDCG@10": 100 * metrics["NDCG@10"],
        "repeat P@10": 100 * split["repeat"]["P@10"] if split else None,
        "explore P@10": 100 * split["explore"]["P@10"] if split else None,
        "repeat share": 100 * split["repeat"]["share"] if split else None,
    }


def repeat_spread(frame: pd.DataFrame) -> str:
    """Per dataset, one Markdown paragraph read off :func:`repeat_explore_table`'s ``frame``: how
    far apart the full-table models of Table 3 (the compressed two have their own story) are in
    P@10 without the repeat mechanism and with it, and their median explore P@10 both ways. Only
    models with both rows count; a dataset with fewer than two such models is left out."""
    paragraphs = []
    for dataset, rows in frame.groupby("dataset", sort=True):
        by_method = rows.drop_duplicates("method").set_index("method")
        both = [
            m
            for m in FULL_TABLE_METHODS
            if m in by_method.index and m + " + repeat" in by_method.index
        ]
        if len(both) < 2:
            continue
        plain, repeated = by_method.loc[both], by_method.loc[[m + " + repeat" for m in both]]
        spread = [table["P@10"].max() - table["P@10"].min() for table in (plain, repeated)]
        text = (
            f"**{dataset}**: the {len(both)} full-table models of Table 3 stored with and "
            f"without the repeat mechanism span {_span(plain)} P@10 without it "
            f"({spread[0]:.1f} points apart) and "
            f"{_span(repeated)} with it ({spread[1]:.1f} points apart)."
        )
        explore = [table["explore P@10"].dropna() for table in (plain, repeated)]
        if all(len(values) == len(both) for values in explore):
            before, after = (values.median() for values in explore)
            direction = "falls" if after < before else "rises"
            text += f" Their median explore P@10 {direction} from {before:.2f} to {after:.2f}"
            if after < before:
                text += (
                    ": the boost chosen on validation ranks the session's own items ahead of the "
                    "model's guesses at new ones, trading explore hits for repeat hits"
                )
            text += "."
        paragraphs.append(text)
    return "\n\n".join(paragraphs)


def _span(table: pd.DataFrame) -> str:
    return f"{table['P@10'].min():.2f}–{table['P@10'].max():.2f}"
