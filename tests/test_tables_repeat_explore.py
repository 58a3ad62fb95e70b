import math

from eodrec.book.tables.repeat_explore import (
    BASELINE_NAMES,
    BASELINE_RUNS,
    RECIPE_LABEL,
    method_label,
    repeat_explore_table,
    repeat_finding,
    repeat_spread,
    split_table,
)
from eodrec.heuristics.config import METHODS


def _result(experiment, model, p10, split=None, dataset="retailrocket"):
    result = {
        "experiment": experiment,
        "model": model,
        "dataset": dataset,
        "config": {},
        "test_metrics": {"P@10": p10, "NDCG@10": p10 / 2},
    }
    if split:
        result["test_breakdown"] = {
            "repeat": {"P@10": split[0], "share": 0.4},
            "explore": {"P@10": split[1], "share": 0.6},
        }
    return result


def test_every_baseline_method_has_a_name_and_a_run():
    assert set(BASELINE_NAMES) == set(METHODS)
    assert [overrides for _, overrides in BASELINE_RUNS] == [[f"method={m}"] for m in METHODS]


def test_labels_follow_the_paper_and_mark_the_repeat_mechanism():
    assert method_label(_result("baseline", "recency", 0.4)) == "Session recency"
    assert method_label(_result("teacher", "teacher+repeat", 0.4)) == "Teacher + repeat"
    assert method_label(_result("teacher", "narm", 0.4)) == "NARM"


def test_rows_are_percent_sorted_by_p10_and_old_results_have_no_split():
    table = repeat_explore_table(
        [
            _result("teacher", "teacher", 0.26),
            _result("baseline", "recency", 0.42, split=(0.91, 0.004)),
        ]
    )
    assert list(table["method"]) == ["Session recency", "Teacher"]
    recency = table.iloc[0]
    assert (recency["P@10"], recency["repeat P@10"], recency["repeat share"]) == (42.0, 91.0, 40.0)
    assert math.isnan(table.iloc[1]["explore P@10"])
    assert table.iloc[0]["dataset"] == "RetailRocket"


def _student(model, recipe, p10, split=None):
    result = _result("student", model, p10, split, dataset="Tmall")
    result["config"] = {"student": {"recipe": recipe, "variant": "full"}}
    return result


def test_the_recipe_student_has_its_own_label():
    assert method_label(_student("student+repeat", "distill-codes", 0.4)) == (
        f"{RECIPE_LABEL} + repeat"
    )
    assert method_label(_student("student", "paper", 0.4)) == "Student"


def test_the_finding_sets_recency_against_table_3_and_names_the_repeat_rows():
    frame = split_table(
        [
            _result("teacher", "teacher", 0.26, split=(0.50, 0.07), dataset="Tmall"),
            _result("odrec", "odrec", 0.20, dataset="Tmall"),
            _result("baseline", "recency", 0.42, split=(0.91, 0.004), dataset="Tmall"),
            _result("teacher", "teacher+repeat", 0.43, dataset="Tmall"),
            _student("student+repeat", "distill-codes", 0.41),
            _result("baseline", "recency", 0.38),  # RetailRocket: no teacher, left out
        ]
    )
    text = repeat_finding(frame)
    assert "RetailRocket" not in text and text.count("<p>") == 1
    assert "<strong>Tmall</strong>: 40.0% of test targets" in text
    assert "reaches 42.00 P@10, above the best model of Table 3 (Teacher, 26.00)" in text
    assert "50.0% on repeat targets and 7.0% on new ones" in text
    assert "the teacher's 43.00 and this project's student's 41.00" in text


def test_the_finding_says_below_when_a_model_beats_recency():
    frame = split_table(
        [
            _result("teacher", "teacher", 0.45),
            _result("baseline", "recency", 0.38),
        ]
    )
    text = repeat_finding(frame)
    assert "below the best model of Table 3 (Teacher, 45.00)." in text
    assert "of test targets" not in text  # no split stored: no share stated


def test_of_two_runs_with_one_name_the_row_is_the_one_better_on_validation():
    kmeans = {**_student("student+repeat", "distill-codes", 0.45), "dataset": "retailrocket"}
    hashing = {**_student("student+repeat", "distill-codes", 0.40), "dataset": "retailrocket"}
    kmeans["valid_metrics"] = {"NDCG@10": 0.30}
    hashing["valid_metrics"] = {"NDCG@10": 0.31}  # better on validation, worse on test
    frame = split_table([kmeans, hashing])
    assert len(frame) == 1 and frame["P@10"].iloc[0] == 40.0


def test_the_spread_sets_the_full_table_models_without_and_with_the_repeat_mechanism():
    frame = repeat_explore_table(
        [
            _result("teacher", "teacher", 0.26, split=(0.50, 0.08), dataset="Tmall"),
            _result("teacher", "narm", 0.20, split=(0.40, 0.06), dataset="Tmall"),
            _result("teacher", "teacher+repeat", 0.43, split=(0.91, 0.04), dataset="Tmall"),
            _result("teacher", "narm+repeat", 0.42, split=(0.90, 0.02), dataset="Tmall"),
            _result("teacher", "stamp", 0.10, dataset="Tmall"),  # no repeat row: left out
            _result("odrec", "odrec", 0.01, dataset="Tmall"),  # compressed: left out
            _result("odrec", "odrec+repeat", 0.38, dataset="Tmall"),
            _result("teacher", "teacher", 0.40),  # RetailRocket: one pair only, left out
            _result("teacher", "teacher+repeat", 0.48),
        ]
    )
    text = repeat_spread(frame)
    assert "RetailRocket" not in text
    assert text.startswith("**Tmall**: the 2 full-table models")
    assert "span 20.00–26.00 P@10 without it (6.0 points apart)" in text
    assert "42.00–43.00 with it (1.0 points apart)" in text
    assert "median explore P@10 falls from 7.00 to 3.00: the boost" in text


def test_the_spread_says_rises_without_a_cause_and_skips_explore_without_splits():
    rows = [
        _result("teacher", "teacher", 0.26, split=(0.50, 0.02)),
        _result("teacher", "narm", 0.20, split=(0.40, 0.02)),
        _result("teacher", "teacher+repeat", 0.43, split=(0.91, 0.04)),
        _result("teacher", "narm+repeat", 0.42, split=(0.90, 0.04)),
    ]
    assert repeat_spread(repeat_explore_table(rows)).endswith("rises from 2.00 to 4.00.")
    rows[1] = _result("teacher", "narm", 0.20)
    assert "explore" not in repeat_spread(repeat_explore_table(rows))
