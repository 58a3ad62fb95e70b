"""Beyond the paper: test P@10 against the bytes of the item state, per dataset, for every way
of shrinking the item table we run, and which of them no other beats at its size.

A compressed student earns its place only if nothing simpler is as accurate at its size: the
teacher's own table quantized after training, a teacher with a narrower table, codes that know
nothing of the items. A point is on the Pareto front when no other point is at least as accurate
with at most as many bytes (and strictly better in one). Each point's difference from the
teacher comes with a paired bootstrap 95% interval over the test sessions.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from eodrec.book.tables.compare import dataset_name
from eodrec.book.tables.repeat_explore import BASELINE_NAMES, BASELINE_RUNS
from eodrec.book.tables.student_runs import is_paper_student
from eodrec.compression import full_table_bytes
from eodrec.config import DATASET_SETTINGS, LATE_DEFAULTS
from eodrec.models.student import CHOSEN_RECIPE, RECIPES

# The runs the page gathers, as ``(experiment, overrides)``: the teacher and its table quantized
# after training, the paper's student, OD-Rec, the most-popular floor, and every variant of this
# project's recipe that was tried (the recipe is chosen among them on validation).
RECIPE = "distill-codes"
# A teacher this narrow has about the student's item bytes (fp32: 16 per item; int8: 8 per item
# with its scale, against the Tmall student's 5.6).
NARROW_DIM = 4
RECIPE_VARIANTS = (
    (),
    ("gamma=0",),
    ("student_init=fresh",),
    ("code_learning=random-hash",),
)
FRONTIER_RUNS = [
    ("teacher", []),
    ("teacher", ["table_bits=8"]),
    ("teacher", ["table_bits=4"]),
    ("teacher", [f"dim={NARROW_DIM}"]),
    ("teacher", [f"dim={NARROW_DIM}", "table_bits=8"]),
    ("student", []),
    ("odrec", []),
    *BASELINE_RUNS,
    *[("student", [f"recipe={RECIPE}", *variant]) for variant in RECIPE_VARIANTS],
    # every model with the repeat mechanism: a zero-byte addition, so a point at its model's size
    *[
        (experiment, [*overrides, "repeat=true"])
        for experiment, overrides in (
            ("teacher", []),
            ("student", []),
            ("odrec", []),
            ("student", [f"recipe={RECIPE}"]),
            ("student", list(CHOSEN_RECIPE)),
        )
    ],
]
# The teacher, the paper-mode student and the chosen recipe again with seeds 1 and 2: the spread.
SEED_RUNS = [
    (experiment, [*overrides, f"seed={seed}"])
    for experiment, overrides in (("teacher", []), ("student", []), ("student", CHOSEN_RECIPE))
    for seed in (1, 2)
]
COLUMNS = ["dataset", "point", "family", "item bytes", "P@10", "NDCG@10", "explore P@10"]


def student_settings(result: dict) -> dict:
    """A student result's settings, with those stored before they existed at their default."""
    return {**LATE_DEFAULTS["student"], **result["config"]["student"]}


def recipe_knobs(result: dict) -> str:
    """A recipe run's knobs where they differ from the recipe's defaults, e.g. ``gamma=0``
    (the seed apart: see :func:`seed_spread`)."""
    student = student_settings(result)
    defaults = {"student_init": "teacher", **RECIPES[student["recipe"]]}
    values = student
    changed = [f"{k}={values[k]}" for k, v in defaults.items() if k in values and values[k] != v]
    return ", ".join(changed) or "defaults"


def describe(result: dict) -> tuple[str, str] | None:
    """``(family, point label)`` of a result on the frontier, or None for a result that is not
    a point of it (other backbones, Fig. 3 variants). A model with the repeat mechanism is a
    point of its own family, at its base model's bytes."""
    config = result["config"]
    if config.get("model", {}).get("backbone", "teacher") != "teacher":
        return None
    if config.get("repeat"):
        base = describe({**result, "config": {**config, "repeat": None}})
        return None if base is None else ("with repeat mechanism", f"{base[1]} + repeat")
    if result["experiment"] == "baseline":
        name = BASELINE_NAMES[result["model"]]
        return ("floor", name) if result["model"] == "pop" else ("heuristic", name)
    if result["experiment"] == "odrec":
        return "OD-Rec", "OD-Rec"
    if result["experiment"] == "teacher":
        bits = (config.get("quantize") or {}).get("table_bits")
        dim = config["model"]["dim"]
        narrow = dim != DATASET_SETTINGS[result["dataset"]].model["dim"]
        name = f"Teacher N={dim}" if narrow else "Teacher"
        if bits:
            return "quantized teacher", f"{name} int{bits}"
        return ("narrow teacher", name) if narrow else ("teacher", name)
    student = student_settings(result)
    if student["recipe"] == "paper":
        paper = is_paper_student(result) and student["code_learning"] == "gumbel"
        return ("paper student", "Student (paper mode)") if paper else None
    if student["code_learning"] == "random-hash":
        return "hashing codes", f"Hashing codes ({recipe_knobs(result)})"
    return "recipe", f"{student['recipe']} ({recipe_knobs(result)})"


def item_bytes(result: dict, n_items: int, base: dict | None = None) -> int:
    """What a point stores per catalogue: its item table, codes and codebooks, or tensor-train
    cores; a heuristic's state (its neighbourhoods, rules or ranked list); with the repeat
    mechanism, its ``base`` model's (two scalars more)."""
    if base is not None:
        return item_bytes(base, n_items)
    if "compression" in result:
        return result["compression"]["student_item_bytes"]
    if "quantize" in result:
        return result["quantize"]["item_bytes"]
    if result["experiment"] == "baseline":
        return result["state_bytes"]
    return full_table_bytes(n_items + 1, result["config"]["model"]["dim"])


def frontier_table(
    results: list[dict],
    n_items: dict[str, int],
    bootstrap: Callable[[dict, dict], dict] | None = None,
) -> pd.DataFrame:
    """One row per point, in percent, with ``on front`` and the run id; ``n_items`` by dataset
    (as stored: ``Tmall``); with ``bootstrap(result, teacher)`` (paired ranks: see
    :func:`eodrec.ranks.paired_bootstrap`) the difference from the teacher and its interval."""
    rows, by_id = [], {r["id"]: r for r in results}
    for result in first_seed(results):
        described = describe(result)
        base = by_id.get(result.get("base_run")) if result["config"].get("repeat") else None
        if described is None or (result["config"].get("repeat") and base is None):
            continue
        rows.append({
            "dataset": dataset_name(result),
            "point": described[1],
            "family": described[0],
            "item bytes": item_bytes(result, n_items[result["dataset"]], base),
            "P@10": 100 * result["test_metrics"]["P@10"],
            "NDCG@10": 100 * result["test_metrics"]["NDCG@10"],
            "explore P@10": _explore(result),
            "run": result["id"],
            "_result": result,
        })  # fmt: skip
    frame = pd.DataFrame(rows, columns=[*COLUMNS, "run", "_result"])
    frame["on front"] = on_front(frame)
    if bootstrap is not None:
        frame = _with_gaps(frame, bootstrap)
    frame = frame.sort_values(["dataset", "item bytes"]).reset_index(drop=True)
    return frame.drop(columns="_result")


def first_seed(results: list[dict]) -> list[dict]:
    """The runs of seed 0: one per point; the others only measure the spread over seeds."""
    return [r for r in results if (r["config"].get("train") or {}).get("seed", 0) == 0]


def on_front(frame: pd.DataFrame) -> pd.Series:
    """Whether each row is on its dataset's Pareto front of (fewer bytes, higher P@10)."""

    def dominated(row) -> bool:
        rivals = frame[(frame["dataset"] == row["dataset"]) & (frame.index != row.name)]
        no_worse = (rivals["item bytes"] <= row["item bytes"]) & (rivals["P@10"] >= row["P@10"])
        better = (rivals["item bytes"] < row["item bytes"]) | (rivals["P@10"] > row["P@10"])
        return bool((no_worse & better).any())

    return frame.apply(lambda row: not dominated(row), axis=1).astype(bool)


def _with_gaps(frame: pd.DataFrame, bootstrap: Callable[[dict, dict], dict]) -> pd.DataFrame:
    """Each row's P@10 and NDCG@10 minus its dataset's teacher's, with the 95% interval."""
    teachers = {r["dataset"]: r["_result"] for _, r in frame.iterrows() if r["point"] == "Teacher"}
    cells = {"ΔP@10 vs teacher": [], "ΔNDCG@10 vs teacher": []}
    for _, row in frame.iterrows():
        teacher = teachers.get(row["dataset"])
        gaps = bootstrap(row["_result"], teacher) if teacher is not None else {}
        for metric, column in (("P@10", "ΔP@10 vs teacher"), ("NDCG@10", "ΔNDCG@10 vs teacher")):
            gap = gaps.get(metric)
            cells[column].append(
                None if gap is None else f"{gap[0]:+.2f} [{gap[1]:+.2f}, {gap[2]:+.2f}]"
            )
    return frame.assign(**cells)


def is_recipe(result: dict) -> bool:
    """Whether ``result`` is a variant of this project's recipe (the hashing control included)."""
    return (describe(result) or ("",))[0] in ("recipe", "hashing codes")


def chosen_recipe(results: list[dict], select: str = "NDCG@10") -> dict[str, dict]:
    """Per dataset, the recipe run of best validation ``select`` among every variant tried at
    seed 0: the choice never looks at the test split."""
    best: dict[str, dict] = {}
    for result in filter(is_recipe, first_seed(results)):
        dataset = result["dataset"]
        if (
            dataset not in best
            or result["valid_metrics"][select] > best[dataset]["valid_metrics"][select]
        ):
            best[dataset] = result
    return best


def recipe_variants(results: list[dict]) -> pd.DataFrame:
    """Every variant of the recipe tried, validation beside test, in percent; ``chosen`` marks the
    one :func:`chosen_recipe` selects on validation."""
    chosen = {r["id"] for r in chosen_recipe(results).values()}
    rows = [
        {
            "dataset": dataset_name(r),
            "variant": recipe_knobs(r),
            "valid P@10": 100 * r["valid_metrics"]["P@10"],
            "valid NDCG@10": 100 * r["valid_metrics"]["NDCG@10"],
            "test P@10": 100 * r["test_metrics"]["P@10"],
            "test NDCG@10": 100 * r["test_metrics"]["NDCG@10"],
            "explore P@10": _explore(r),
            "wall time (min)": r["wall_time_s"] / 60,
            "chosen": r["id"] in chosen,
            "run": r["id"],
        }
        for r in filter(is_recipe, first_seed(results))
    ]
    return pd.DataFrame(rows).sort_values(["dataset", "valid NDCG@10"], ascending=[True, False])


def bootstrap_from(store) -> Callable[[dict, dict], dict]:
    """The ``bootstrap`` of :func:`frontier_table` over the ranks ``store`` holds; a result
    stored without ranks gets no interval."""
    from eodrec.ranks import load_ranks, paired_bootstrap
    from eodrec.store import StoreError

    loaded: dict[str, object] = {}  # run id -> ranks, or None where none are stored

    def ranks(result: dict):
        if result["id"] not in loaded:
            try:
                loaded[result["id"]] = load_ranks(store, result)
            except StoreError:
                loaded[result["id"]] = None
        return loaded[result["id"]]

    def gaps(result: dict, teacher: dict) -> dict:
        pair = ranks(result), ranks(teacher)
        return {} if any(r is None for r in pair) else paired_bootstrap(*pair)

    return gaps


def frontier_verdicts(points: pd.DataFrame, chosen: dict[str, dict]) -> list[str]:
    """Per dataset, one sentence: whether the chosen recipe is on the front, and if not, the
    points that dominate it."""
    lines = []
    for dataset, of_dataset in points.groupby("dataset", sort=True):
        mine = _chosen_row(of_dataset, chosen, dataset)
        if mine.empty:
            lines.append(f"**{dataset}**: no recipe run is stored yet.")
            continue
        row = mine.iloc[0]
        where = f"{row['P@10']:.2f} P@10 at {row['item bytes']:,} bytes"
        if row["on front"]:
            lines.append(f"**{dataset}**: the chosen recipe is on the front ({where}).")
            continue
        rivals = of_dataset[
            (of_dataset["item bytes"] <= row["item bytes"]) & (of_dataset["P@10"] >= row["P@10"])
        ]
        names = ", ".join(f"{r['point']} ({r['P@10']:.2f} at {r['item bytes']:,} bytes)"
                          for _, r in rivals.iterrows() if r["run"] != row["run"])  # fmt: skip
        lines.append(
            f"**{dataset}**: the chosen recipe ({where}) is dominated by {names}."
            + _repeat_on_front(of_dataset, row)
        )
    return lines


def _repeat_on_front(of_dataset: pd.DataFrame, row: pd.Series) -> str:
    """Where the chosen recipe with the repeat mechanism is on the front, a sentence saying so."""
    boosted = of_dataset[of_dataset["point"] == f"{row['point']} + repeat"]
    if boosted.empty or not boosted.iloc[0]["on front"]:
        return ""
    return (
        f" With the repeat mechanism it is on the front ({boosted.iloc[0]['P@10']:.2f} P@10 "
        "at the same bytes)."
    )


def _chosen_row(of_dataset: pd.DataFrame, chosen: dict[str, dict], dataset: str) -> pd.DataFrame:
    """The frontier row (none or one) of ``dataset``'s chosen recipe run."""
    run = next((r["id"] for r in chosen.values() if dataset_name(r) == dataset), None)
    return of_dataset[of_dataset["run"] == run]


def _explore(result: dict) -> float | None:
    """Test P@10 (%) on the sessions whose target is new to them; None where not stored."""
    split = result.get("test_breakdown")
    return 100 * split["explore"]["P@10"] if split else None


def seed_spread(results: list[dict]) -> pd.DataFrame:
    """Test P@10 and NDCG@10 (%) over the seeds each point was trained with: mean, standard
    deviation (n - 1) and the number of seeds, per dataset and point; a point trained once has no
    spread."""
    rows = []
    for result in results:
        described = describe(result)
        if described is None:
            continue
        rows.append({
            "dataset": dataset_name(result), "point": described[1],
            "P@10": 100 * result["test_metrics"]["P@10"],
            "NDCG@10": 100 * result["test_metrics"]["NDCG@10"],
        })  # fmt: skip
    frame = pd.DataFrame(rows, columns=["dataset", "point", "P@10", "NDCG@10"])
    spread = frame.groupby(["dataset", "point"], sort=True).agg(
        seeds=("P@10", "size"),
        **{f"{m} mean": (m, "mean") for m in ("P@10", "NDCG@10")},
        **{f"{m} sd": (m, "std") for m in ("P@10", "NDCG@10")},
    )
    return spread.reset_index()


TARGET_SHARE = 0.9  # the goal: the recipe keeps 90% of its teacher's test P@10 and NDCG@10


def target_verdicts(points: pd.DataFrame, chosen: dict[str, dict]) -> list[str]:
    """Per dataset, the chosen recipe's share of its teacher's test P@10, NDCG@10 and explore
    P@10, against :data:`TARGET_SHARE`."""
    lines = []
    for dataset, of_dataset in points.groupby("dataset", sort=True):
        mine = _chosen_row(of_dataset, chosen, dataset)
        teacher = of_dataset[of_dataset["point"] == "Teacher"]
        if mine.empty or teacher.empty:
            continue
        shares = {
            m: mine.iloc[0][m] / teacher.iloc[0][m] for m in ("P@10", "NDCG@10", "explore P@10")
        }
        met = all(shares[m] >= TARGET_SHARE for m in ("P@10", "NDCG@10"))
        lines.append(
            f"**{dataset}**: the recipe keeps {shares['P@10']:.0%} of the teacher's P@10 and "
            f"{shares['NDCG@10']:.0%} of its NDCG@10 (goal {TARGET_SHARE:.0%}: "
            f"{'met' if met else 'not met'}), and {shares['explore P@10']:.0%} of its explore "
            "P@10, what the item vectors themselves know." + _with_repeat(of_dataset, mine)
        )
    return lines


def _with_repeat(of_dataset: pd.DataFrame, mine: pd.DataFrame) -> str:
    """The same shares with the repeat mechanism on both sides, where both runs are stored: a
    like-for-like pair, since repeat targets are much of the test set."""
    points = of_dataset.set_index("point")
    pair = (f"{mine.iloc[0]['point']} + repeat", "Teacher + repeat")
    if not all(name in points.index for name in pair):
        return ""
    shares = {m: points.loc[pair[0], m] / points.loc[pair[1], m] for m in ("P@10", "NDCG@10")}
    met = all(share >= TARGET_SHARE for share in shares.values())
    return (
        f" With the repeat mechanism on both, it keeps {shares['P@10']:.0%} of the teacher's "
        f"P@10 and {shares['NDCG@10']:.0%} of its NDCG@10 (goal {'met' if met else 'not met'}); "
        "the mechanism ranks the session's own items by recency, without the item vectors, so "
        "this pair compares what the item vectors add on top of it."
    )
