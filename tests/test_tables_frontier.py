"""The frontier page's table: which points are on the front, and which recipe run is chosen."""

import pandas as pd
import pytest

from eodrec.book.tables import frontier
from eodrec.config import make_config


def _result(experiment, overrides, valid, test, run, **fields):
    config = make_config(experiment, "Tmall", "quick", overrides)
    model = config.baseline.method if experiment == "baseline" else experiment
    return {
        "id": run, "experiment": experiment, "model": model, "dataset": "Tmall",
        "profile": "quick", "config": config.to_dict(),
        "valid_metrics": {"P@10": valid, "NDCG@10": valid},
        "test_metrics": {"P@10": test, "NDCG@10": test}, "wall_time_s": 60.0, **fields,
    }  # fmt: skip


def _coded(run, valid, test, *overrides):
    size = {"compression": {"student_item_bytes": 1000}}
    return _result("student", ["recipe=distill-codes", *overrides], valid, test, run, **size)


def test_chosen_recipe_is_the_best_on_validation_never_on_test():
    runs = [_coded("a", 0.30, 0.10), _coded("b", 0.20, 0.25, "gamma=0")]
    assert frontier.chosen_recipe(runs)["Tmall"]["id"] == "a"
    table = frontier.recipe_variants(runs)
    assert (
        table.set_index("run").loc["a", "chosen"] and not table.set_index("run").loc["b", "chosen"]
    )
    assert set(table["variant"]) == {"defaults", "gamma=0.0"}


def test_a_point_is_on_the_front_unless_one_is_as_good_with_no_more_bytes():
    frame = pd.DataFrame({
        "dataset": ["T"] * 4, "item bytes": [10, 100, 100, 1000], "P@10": [1.0, 5.0, 4.0, 5.0],
    })  # fmt: skip
    assert frontier.on_front(frame).tolist() == [True, True, False, False]


def test_frontier_describes_each_point_and_counts_its_bytes():
    teacher = _result("teacher", [], 0.3, 0.26, "t")
    int8 = _result("teacher", ["table_bits=8"], 0.3, 0.26, "q", quantize={"item_bytes": 50},
                   base_run="t")  # fmt: skip
    pop = _result("baseline", ["method=pop"], 0.01, 0.01, "p", state_bytes=80)
    narm = _result("teacher", ["backbone=narm"], 0.3, 0.25, "n")
    narrow = _result("teacher", ["dim=4"], 0.1, 0.1, "s")
    points = [teacher, int8, pop, narm, narrow, _coded("c", 0.2, 0.2)]
    table = frontier.frontier_table(points, {"Tmall": 9})
    rows = table.set_index("run")
    assert "n" not in rows.index  # another backbone is not a point of this frontier
    assert rows.loc["t", "item bytes"] == 10 * 128 * 4  # fp32 rows, padding row included
    assert rows.loc["q", "point"] == "Teacher int8" and rows.loc["q", "item bytes"] == 50
    assert rows.loc["c", "family"] == "recipe" and rows.loc["c", "item bytes"] == 1000
    assert rows.loc["s", "point"] == "Teacher N=4" and rows.loc["s", "item bytes"] == 10 * 4 * 4
    assert rows.loc["q", "on front"] and not rows.loc["t", "on front"]  # int8: as good, smaller
    verdict = frontier.frontier_verdicts(table, frontier.chosen_recipe([_coded("c", 0.2, 0.2)]))
    assert "dominated by" in verdict[0] and "Teacher int8" in verdict[0]


def test_seeds_beyond_the_first_give_a_spread_not_new_points():
    runs = [
        _coded("a", 0.3, 0.20),
        _coded("b", 0.3, 0.22, "seed=1"),
        _coded("c", 0.3, 0.24, "seed=2"),
    ]
    spread = frontier.seed_spread(runs).iloc[0]
    assert spread["seeds"] == 3 and spread["P@10 mean"] == pytest.approx(22.0)
    assert spread["P@10 sd"] == pytest.approx(2.0)
    assert len(frontier.frontier_table(runs, {"Tmall": 9})) == 1  # seed 0 only
    assert set(frontier.recipe_variants(runs)["run"]) == {"a"}


def test_target_verdict_compares_the_chosen_recipe_with_its_teacher():
    teacher = _result("teacher", [], 0.3, 0.20, "t")
    runs = [teacher, _coded("c", 0.2, 0.19)]
    for r in runs:
        r["test_breakdown"] = {"explore": {"P@10": r["test_metrics"]["P@10"] / 2}}
    table = frontier.frontier_table(runs, {"Tmall": 9})
    (line,) = frontier.target_verdicts(table, frontier.chosen_recipe(runs))
    assert "keeps 95% of the teacher's P@10" in line and "met" in line and "not met" not in line


def test_a_model_with_the_repeat_mechanism_is_a_point_at_its_base_models_bytes():
    base = _coded("c", 0.2, 0.2)
    boosted = _result("student", ["recipe=distill-codes", "repeat=true"], 0.3, 0.4, "r",
                      base_run="c")  # fmt: skip
    recency = _result("baseline", ["method=recency"], 0.3, 0.42, "h", state_bytes=0)
    rows = frontier.frontier_table([base, boosted, recency], {"Tmall": 9}).set_index("run")
    assert rows.loc["r", "point"] == "distill-codes (defaults) + repeat"
    assert rows.loc["r", "item bytes"] == 1000 and rows.loc["h", "family"] == "heuristic"
    assert rows.loc["h", "on front"] and not rows.loc["r", "on front"]  # 0 bytes, more P@10
    assert "r" not in frontier.frontier_table([boosted], {"Tmall": 9})["run"].tolist()


def test_the_committed_results_still_choose_the_recipe_variant_the_seeds_and_device_use():
    from pathlib import Path

    from eodrec.models.student import CHOSEN_RECIPE
    from eodrec.store import ResultsStore

    store = ResultsStore(Path(__file__).parents[1] / "results")
    configs = [make_config(e, "Tmall", "quick", o) for e, o in frontier.FRONTIER_RUNS]
    stored = [store.find(config) for config in configs]
    chosen = frontier.chosen_recipe([r for r in stored if r is not None])["Tmall"]
    assert chosen["id"] == make_config("student", "Tmall", "quick", CHOSEN_RECIPE).run_id


def _with_explore(result, explore):
    return {**result, "test_breakdown": {"explore": {"P@10": explore}}}


def test_the_target_verdict_adds_the_like_for_like_pair_with_the_repeat_mechanism():
    teacher = _result("teacher", [], 0.3, 0.40, "t")
    teacher_repeat = {**_result("teacher", ["repeat=true"], 0.3, 0.50, "tr"), "base_run": "t"}
    mine = _coded("c", 0.3, 0.20)
    mine_repeat = {**_coded("cr", 0.3, 0.48, "repeat=true"), "base_run": "c"}
    runs = [_with_explore(r, 0.05) for r in (teacher, teacher_repeat, mine, mine_repeat)]
    points = frontier.frontier_table(runs, {"Tmall": 100})
    (line,) = frontier.target_verdicts(points, frontier.chosen_recipe(runs))
    assert "keeps 50% of the teacher's P@10" in line and "(goal 90%: not met)" in line
    assert "With the repeat mechanism on both, it keeps 96% of the teacher's P@10" in line
    assert "(goal met)" in line
    plain = frontier.frontier_table(runs[:3:2], {"Tmall": 100})
    (line,) = frontier.target_verdicts(plain, frontier.chosen_recipe(runs))
    assert "repeat mechanism" not in line


def test_the_recipe_ablation_sets_each_part_beside_its_modes_full_model():
    from eodrec.book.tables import fig3_ablation

    paper = _result("student", [], 0.1, 0.02, "p")
    base = _result("student", ["variant=base"], 0.1, 0.01, "pb")
    runs = [paper, base, _coded("a", 0.3, 0.20), _coded("g", 0.3, 0.18, "gamma=0"),
            _coded("h", 0.3, 0.21, "code_learning=random-hash"),
            _coded("s", 0.3, 0.30, "seed=1"), _coded("r", 0.3, 0.40, "repeat=true")]  # fmt: skip
    parts = fig3_ablation.recipe_ablation(runs).set_index("run")
    assert list(parts.index) == ["p", "pb", "a", "g", "h"]  # other seeds and repeat left out
    assert parts.loc["pb", "mode"] == "paper mode" and parts.loc["g", "mode"] == "distill-codes"
    assert parts.loc["g", "variant"] == "w/o distillation (γ = 0)"
    assert parts.loc["g", "ΔP@10 vs full"] == pytest.approx(-2.0)
    assert parts.loc["h", "ΔP@10 vs full"] == pytest.approx(1.0)
    assert parts.loc["pb", "ΔP@10 vs full"] == pytest.approx(-1.0)


def test_the_front_verdict_says_when_the_chosen_recipe_with_repeat_is_on_the_front():
    recency = _result("baseline", ["method=recency"], 0.3, 0.40, "rec", state_bytes=0)
    mine = _coded("c", 0.3, 0.20)
    mine_repeat = {**_coded("cr", 0.3, 0.45, "repeat=true"), "base_run": "c"}
    points = frontier.frontier_table([recency, mine, mine_repeat], {"Tmall": 100})
    (line,) = frontier.frontier_verdicts(points, frontier.chosen_recipe([mine, mine_repeat]))
    assert "is dominated by Session recency" in line
    assert "With the repeat mechanism it is on the front (45.00 P@10" in line
