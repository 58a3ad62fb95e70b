import math

from eodrec.book.tables.repeat_explore import (
    BASELINE_NAMES,
    BASELINE_RUNS,
    method_label,
    repeat_explore_table,
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
