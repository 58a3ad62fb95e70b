"""Fig. 3, the ablation: P@10 and NDCG@10 of the full student and each variant (Stu-base,
Stu-w/o-m, ...), and the gain of distillation (full over Stu-base) beside the paper's text."""

from __future__ import annotations

import math

import pandas as pd

from eodrec.book.tables.compare import (
    check_unique,
    compare,
    dataset_name,
    relative_gain,
    text_findings,
)
from eodrec.book.tables.frontier import RECIPE, first_seed, is_recipe, recipe_knobs
from eodrec.book.tables.student_runs import code_mode_switches
from eodrec.models.student import ABLATIONS, VARIANT_LABELS

FIG3_METRICS = ["P@10", "NDCG@10"]
GAPS = [f"Δ{m} vs full" for m in FIG3_METRICS]
# text_findings ids of the relative gains the paper states for Fig. 3 (Sec. 6.4).
KD_GAIN_FINDINGS = {"fig3_kd_gain_p10": "P@10", "fig3_kd_gain_ndcg10": "NDCG@10"}


def ablation(results: list[dict]) -> pd.DataFrame:
    """Fig. 3: one row per dataset and variant (``VARIANT_LABELS``), P@10 and NDCG@10 in percent.

    Rows are ordered as ``ABLATIONS`` (Student, Stu-base, Stu-w/o-m, ...), each with its
    difference in points from the dataset's Student; a result with a code-mode switch set is not
    one of the paper's variants and is left out.
    """
    order = list(ABLATIONS)
    rows = [
        {
            "dataset": dataset_name(r),
            "variant": VARIANT_LABELS[r["config"]["student"]["variant"]],
            "profile": r["profile"],
            **{m: 100 * r["test_metrics"][m] for m in FIG3_METRICS},
            "run": r["id"],
            "_order": order.index(r["config"]["student"]["variant"]),
        }
        for r in results
        if not code_mode_switches(r)
    ]
    frame = pd.DataFrame(
        rows, columns=["dataset", "variant", "profile", *FIG3_METRICS, "run", "_order"]
    )
    check_unique(frame, ["dataset", "variant"])
    frame = frame.sort_values(["dataset", "_order"], kind="stable", ignore_index=True)
    frame = _with_gaps(frame, ["dataset"], frame["variant"] == VARIANT_LABELS["full"])
    return frame[["dataset", "variant", "profile", *FIG3_METRICS, *GAPS, "run"]]


def _with_gaps(frame: pd.DataFrame, keys: list[str], full: pd.Series) -> pd.DataFrame:
    """``frame`` with each metric's difference in points from the full model of its ``keys``
    (the row ``full`` marks; NaN where there is none): what each part adds, read off a bar."""
    aligned = frame[keys].join(frame[full].set_index(keys)[FIG3_METRICS], on=keys)
    return frame.assign(
        **{gap: frame[m] - aligned[m] for m, gap in zip(FIG3_METRICS, GAPS, strict=True)}
    )


def kd_gain(results: list[dict]) -> pd.DataFrame:
    """Relative gain (%) of the full student over Stu-base, 100 (full / base - 1), on P@10 and
    NDCG@10 per dataset, beside the gains the paper's text states for Fig. 3, with the profile
    of the runs.

    A dataset missing either run has NaN (and so does a Stu-base score of 0).
    """
    scores = ablation(results)
    full = scores[scores["variant"] == VARIANT_LABELS["full"]].set_index("dataset")
    base = scores[scores["variant"] == VARIANT_LABELS["base"]].set_index("dataset")
    datasets = list(dict.fromkeys(scores["dataset"]))
    ours = pd.DataFrame({"dataset": datasets})
    for metric in FIG3_METRICS:
        ours[metric] = [
            relative_gain(full[metric].get(d, math.nan), base[metric].get(d, math.nan))
            for d in datasets
        ]
    findings = text_findings()
    findings = findings[findings["id"].isin(list(KD_GAIN_FINDINGS))]
    paper = findings.assign(metric=findings["id"].map(KD_GAIN_FINDINGS)).pivot(
        index="dataset", columns="metric", values="value"
    )
    paper = paper.reset_index()[["dataset", *FIG3_METRICS]]
    cells = compare(ours, paper, ["dataset"], FIG3_METRICS)
    profiles = scores.drop_duplicates("dataset")[["dataset", "profile"]]
    cells = cells.merge(profiles, on="dataset", how="left")
    return cells.sort_values(["dataset"], kind="stable", ignore_index=True)


# The paper's Fig. 3 variants as ``(experiment, overrides)`` beyond the full student, for pages
# that gather them with other runs.
VARIANT_RUNS = [("student", [f"variant={v}"]) for v in ABLATIONS if v != "full"]
# What each variant of this project's recipe leaves out or changes (page 12_frontier), by its
# knobs as ``recipe_knobs`` names them.
RECIPE_PARTS = {
    "defaults": "all parts",
    "gamma=0.0": "w/o distillation (γ = 0)",
    "student_init=fresh": "w/o the teacher's start",
    "code_learning=random-hash": "random codes, not k-means",
}
PAPER_MODE = "paper mode"


def recipe_ablation(results: list[dict]) -> pd.DataFrame:
    """Fig. 3 for this project's recipe beside the paper mode's: per dataset, each variant's test
    P@10 and NDCG@10 (%) and its difference in points from the full model of its mode (the
    paper's Student; the recipe with all its parts). Seed 0 only; the repeat mechanism apart."""
    plain = [r for r in first_seed(results) if not r["config"].get("repeat")]
    paper = ablation([r for r in plain if r["experiment"] == "student" and not is_recipe(r)])
    recipe = [
        {"dataset": dataset_name(r), "variant": RECIPE_PARTS.get(recipe_knobs(r), recipe_knobs(r)),
         **{m: 100 * r["test_metrics"][m] for m in FIG3_METRICS}, "run": r["id"]}
        for r in filter(is_recipe, plain)
    ]  # fmt: skip
    recipe = pd.DataFrame(recipe, columns=["dataset", "variant", *FIG3_METRICS, "run"])
    recipe = _with_gaps(recipe, ["dataset"], recipe["variant"] == RECIPE_PARTS["defaults"])
    modes = [paper.assign(mode=PAPER_MODE), recipe.assign(mode=RECIPE)]
    frame = pd.concat(modes, ignore_index=True)
    return frame[["dataset", "mode", "variant", *FIG3_METRICS, *GAPS, "run"]]
