"""Baseline runs: their config, the CLI end to end on toy data, and selection that never reads
the test split."""

import json

import pytest

from eodrec.cli import main
from eodrec.config import DataConfig, ExperimentConfig, ParameterError, make_config
from eodrec.data.splits import Examples, Splits, load_splits
from eodrec.experiment import Experiment
from eodrec.heuristics import run
from eodrec.heuristics.config import GRIDS, BaselineConfig
from eodrec.metrics import evaluate_ranks
from eodrec.ranks import load_ranks, repeat_explore
from eodrec.store import ResultsStore


def test_a_baseline_config_holds_its_data_and_grid_only_and_round_trips():
    config = make_config("baseline", "toy", "smoke", ["method=sknn", "k=5,10"])
    assert config.baseline == BaselineConfig(
        "sknn", k=(5, 10), sample_size=GRIDS["sknn"]["sample_size"]
    )
    values = config.to_dict()
    assert set(values) == {"experiment", "profile", "data", "baseline"}
    assert ExperimentConfig.from_dict(json.loads(json.dumps(values))) == config
    assert config.baseline.grid()[:2] == [
        {"k": 5, "sample_size": 500},
        {"k": 5, "sample_size": 1000},
    ]
    assert "baseline" not in make_config("teacher", "toy", "smoke").to_dict()


def test_another_methods_grid_does_not_rename_a_baseline():
    assert make_config("baseline", "toy", "smoke", method="sr").baseline.k == ()
    with pytest.raises(ParameterError, match="method=sr has no setting k$"):
        make_config("baseline", "toy", "smoke", method="sr", k=[5])


@pytest.mark.parametrize("settings", [["method=knn"], []])
def test_an_unknown_or_missing_method_stops_with_one_line_naming_the_known_ones(
    settings, tmp_path, capsys
):
    args = ["train", "baseline", "--dataset", "toy", "--profile", "smoke", "--set", *settings]
    assert main([*args, "--results", str(tmp_path)]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "method=" in error and "choose one of: pop, recency, sknn, sr" in error


@pytest.mark.parametrize("method", ["pop", "recency", "sr", "sknn"])
def test_the_smoke_profile_runs_each_method_end_to_end(method, tmp_path, capsys, monkeypatch):
    args = ["train", "baseline", "--dataset", "toy", "--profile", "smoke"]
    assert main([*args, "--set", f"method={method}", "--results", str(tmp_path)]) == 0
    printed = json.loads(capsys.readouterr().out)
    store = ResultsStore(tmp_path)
    result = store.load(printed["id"])
    assert result["model"] == method and result["selected_epoch"] is None
    assert len(result["grid"]) == len(
        make_config("baseline", "toy", "smoke", method=method).baseline.grid()
    )
    best = max(result["grid"], key=lambda point: point["valid_metrics"]["NDCG@10"])
    assert result["valid_metrics"] == best["valid_metrics"]
    assert result["selected"] == best["params"]
    assert (result["state_bytes"] > 0) == (method in ("sr", "sknn"))
    assert result["state_bytes"] == sum(result["state_arrays"].values())
    assert 0 < result["answer_ms_per_100"] < 1000 and result["fit_time_s"] >= 0
    ranks = load_ranks(store, result)  # the stored ranks give the stored metrics, exactly
    assert evaluate_ranks(ranks) == result["test_metrics"]
    _, splits = load_splits(DataConfig("toy"))
    test = splits.test
    assert repeat_explore(ranks, test.sequences, test.targets) == result["test_breakdown"]
    # stored: a second call reads the store and fits nothing
    monkeypatch.setattr(run, "select", None)
    assert main([*args, "--set", f"method={method}", "--results", str(tmp_path)]) == 0


class GuardedTest(Examples):
    """A test split that fails if its examples are read before every grid point was scored on
    validation."""

    def __init__(self, examples: Examples, validations: list, grid_size: int) -> None:
        object.__setattr__(self, "_examples", examples)
        object.__setattr__(self, "_check", lambda: len(validations) == grid_size)

    def __getattribute__(self, name):
        if name in ("sequences", "targets"):
            assert object.__getattribute__(self, "_check")(), "test read during selection"
            return getattr(object.__getattribute__(self, "_examples"), name)
        return object.__getattribute__(self, name)

    def __len__(self) -> int:
        return len(object.__getattribute__(self, "_examples"))


def test_selection_reads_validation_only_and_the_test_split_after_it(tmp_path, monkeypatch):
    config = make_config("baseline", "toy", "smoke", method="sr")
    data, splits = load_splits(DataConfig("toy"))
    validations = []
    rank_examples = run.rank_examples

    def spy(method, examples, **kwargs):
        if examples is splits.valid:
            validations.append(method)
        return rank_examples(method, examples, **kwargs)

    guarded = GuardedTest(splits.test, validations, len(config.baseline.grid()))
    monkeypatch.setattr(run, "rank_examples", spy)
    monkeypatch.setattr(
        "eodrec.experiment.load_splits",
        lambda *args: (data, Splits(splits.train, splits.valid, guarded)),
    )
    result = Experiment(config, store=ResultsStore(tmp_path), progress=False).run()
    assert len(validations) == len(config.baseline.grid()) == len(GRIDS["sr"]["steps"])
    assert result["examples"]["test"] == len(splits.test)
