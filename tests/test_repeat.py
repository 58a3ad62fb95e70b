"""The repeat mechanism: what it adds to a score, how it is calibrated, and its runs."""

import json
import shutil

import pytest
import torch

from eodrec.calibrate import boosted_ranks, calibrate_repeat
from eodrec.checkpoint import CheckpointError
from eodrec.config import ExperimentConfig, ParameterError, make_config
from eodrec.data import pad_batch
from eodrec.data.splits import Examples
from eodrec.evaluate import evaluate
from eodrec.experiment import Experiment
from eodrec.metrics import evaluate_ranks, mask_padding, rank_of_target
from eodrec.models.repeat import RepeatBoost, RepeatConfig, boost, session_recency
from eodrec.ranks import load_ranks
from eodrec.store import ResultsStore

N_ITEMS = 6


class FixedScores(torch.nn.Module):
    """Scores every session alike: item i gets ``preference[i]``."""

    def __init__(self, preference):
        super().__init__()
        self.preference = torch.tensor(preference, dtype=torch.float32)

    def forward(self, batch):
        return self.preference.expand(len(batch), -1).clone()


# The model prefers items 6 > 5 > ... > 1; column 0 is padding.
MODEL = FixedScores([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0])


def test_session_recency_is_decay_to_the_age_of_the_last_occurrence():
    batch = pad_batch([[3, 5, 3], [2]], [1, 1], range(2))
    recency = session_recency(batch, N_ITEMS + 1, decay=0.5)
    assert recency[0].tolist() == [0.0, 0.0, 0.0, 1.0, 0.0, 0.5, 0.0]
    assert recency[1].tolist() == [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]


def test_weight_zero_is_the_model_and_a_large_weight_puts_the_session_first_by_recency():
    batch = pad_batch([[1, 2, 3]], [1], range(1))
    plain = RepeatBoost(MODEL, weight=0.0, decay=0.5)(batch)
    assert torch.equal(plain.argsort(descending=True)[0, :3], torch.tensor([6, 5, 4]))
    boosted = RepeatBoost(MODEL, weight=100.0, decay=0.5)(batch)
    order = boosted[0, 1:].argsort(descending=True) + 1
    assert order[:3].tolist() == [3, 2, 1]  # most recent first, whatever the model prefers
    assert order[3:].tolist() == [6, 5, 4]  # then the model's own order
    assert boosted[0, 0] == float("-inf")  # padding is never recommended


def test_calibration_picks_the_best_grid_point_on_validation():
    # Validation targets are the sessions' oldest items, the ones the model likes least: any
    # boost lifts them to rank 3 (from 6 and 5); of tied points the first is kept.
    valid = Examples([[1, 2, 3], [2, 4, 5]], [1, 2])
    config = RepeatConfig(repeat_weights=(0.0, 100.0), repeat_decays=(0.5, 1.0))
    boosted, grid = calibrate_repeat(MODEL, config, valid)
    assert len(grid) == 4
    best = max(grid, key=lambda point: point["valid"]["NDCG@10"])
    assert (boosted.weight, boosted.decay) == (best["weight"], best["decay"]) == (100.0, 0.5)
    ranks = rank_of_target(
        boosted(pad_batch(valid.sequences, valid.targets, range(2))), torch.tensor(valid.targets)
    )
    assert ranks.tolist() == [3, 3]  # oldest of three boosted items, behind the two newer ones


def test_repeat_is_a_section_of_its_own_and_renames_only_its_run():
    plain = make_config("teacher", "toy", "smoke")
    repeat = make_config("teacher", "toy", "smoke", ["repeat=true", "repeat_weights=0,2.5"])
    assert "repeat" not in plain.to_dict()
    assert repeat.run_id != plain.run_id
    assert repeat.repeat.repeat_weights == (0.0, 2.5)
    assert ExperimentConfig.from_dict(json.loads(json.dumps(repeat.to_dict()))) == repeat
    assert make_config("teacher", "toy", "smoke", repeat=False) == plain


@pytest.mark.parametrize(
    ("experiment", "overrides", "message"),
    [
        ("teacher", ["repeat=maybe"], "repeat takes true or false"),
        ("baseline", ["method=recency", "repeat=true"], "not to a baseline"),
        ("teacher", ["repeat=true", "repeat_decays=0"], r"decays in \(0, 1\]"),
    ],
)
def test_bad_repeat_settings_are_one_line(experiment, overrides, message):
    with pytest.raises(ParameterError, match=message):
        make_config(experiment, "toy", "smoke", overrides)


def test_a_repeat_run_calibrates_its_stored_model_and_ranks_the_test_split(tmp_path):
    store = ResultsStore(tmp_path / "results")
    config = make_config("teacher", "toy", "smoke", ["repeat=true", "epochs=1"])
    result = Experiment(config, None, store, tmp_path / "cache", progress=False).run()
    base = store.load(result["base_run"])
    assert base["config"] == {k: v for k, v in result["config"].items() if k != "repeat"}
    assert result["model"] == "teacher+repeat"
    unboosted = next(p for p in result["repeat"]["grid"] if p["weight"] == 0.0)
    for name, value in base["valid_metrics"].items():  # weight 0 ranks as the model does
        assert unboosted["valid"][name] == pytest.approx(value, abs=1e-6)
    assert evaluate_ranks(load_ranks(store, result)) == result["test_metrics"]
    assert set(result["test_breakdown"]) == {"repeat", "explore"}


def test_calibration_scores_each_point_as_the_boosted_model_would():
    generator = torch.Generator().manual_seed(0)
    model = FixedScores(torch.randn(N_ITEMS + 1, generator=generator).tolist())
    sequences = [
        torch.randint(1, N_ITEMS + 1, (n,), generator=generator).tolist() for n in (1, 4, 2, 6, 3)
    ]
    valid = Examples(sequences, [s[0] for s in sequences[:3]] + [1, 2])
    config = RepeatConfig(repeat_weights=(0.0, 0.7, 3.0), repeat_decays=(0.4, 1.0))
    _, grid = calibrate_repeat(model, config, valid, batch_size=2)
    for point in grid:
        alone = RepeatBoost(model, point["weight"], point["decay"])
        assert evaluate(alone, valid.sequences, valid.targets) == point["valid"]


def test_a_repeat_result_names_its_base_runs_epochs(tmp_path):
    store = ResultsStore(tmp_path / "results")
    config = make_config("teacher", "toy", "smoke", ["repeat=true", "epochs=1"])
    result = Experiment(config, None, store, tmp_path / "cache", progress=False).run()
    base = store.load(result["base_run"])
    assert (result["selected_epoch"], result["epochs_run"]) == (
        base["selected_epoch"],
        base["epochs_run"],
    )


def test_a_stored_base_without_its_checkpoint_asks_for_a_retrain(tmp_path):
    store = ResultsStore(tmp_path / "results")
    base = make_config("teacher", "toy", "smoke", ["epochs=1"])
    Experiment(base, None, store, tmp_path / "cache", progress=False).run()
    shutil.rmtree(tmp_path / "cache")  # the result stays, as on a fresh clone
    config = make_config("teacher", "toy", "smoke", ["repeat=true", "epochs=1"])
    with pytest.raises(CheckpointError, match=f"base run {base.run_id} is stored.*--rerun"):
        Experiment(config, None, store, tmp_path / "cache", progress=False).run()


@pytest.mark.parametrize("seed", range(5))
def test_grid_ranks_equal_the_dense_boosted_ranks_with_ties_and_repeated_items(seed):
    generator = torch.Generator().manual_seed(seed)
    n_items, lengths = 40, [1, 5, 9, 3, 12, 7, 2, 8]
    sequences = [torch.randint(1, 9, (n,), generator=generator).tolist() for n in lengths]
    targets = torch.randint(1, 12, (len(lengths),), generator=generator).tolist()
    batch = pad_batch(sequences, targets, range(len(lengths)))
    # Scores on a coarse grid, so many items tie with boosted and unboosted targets alike.
    scores = torch.randint(0, 4, (len(lengths), n_items + 1), generator=generator).float()
    log_p = torch.log_softmax(mask_padding(scores), dim=1)
    points = RepeatConfig(repeat_weights=(0.0, 0.5, 1.0, 64.0), repeat_decays=(0.3, 1.0)).grid()
    for point, ranks in zip(points, boosted_ranks(log_p, batch, points), strict=True):
        dense = boost(log_p, batch, point["weight"], point["decay"])
        assert torch.equal(ranks, rank_of_target(dense, batch.targets)), point
