"""Per-session ranks: the repeat / explore split by hand, and a trained model's stored ranks."""

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from eodrec.config import make_config
from eodrec.experiment import Experiment
from eodrec.metrics import evaluate_ranks
from eodrec.ranks import load_ranks, paired_bootstrap, ranks_path, repeat_explore
from eodrec.runs import load_run
from eodrec.store import ResultsStore, StoreError


def test_repeat_explore_splits_sessions_by_whether_the_target_is_already_in_them():
    ranks = torch.tensor([1, 3, 12, 2, 10])
    sequences = [[1, 2], [3], [4, 5, 4], [6], [7, 8]]
    targets = [2, 9, 4, 7, 8]  # repeats: the first, third and fifth
    breakdown = repeat_explore(ranks, sequences, targets)
    assert breakdown["repeat"] == pytest.approx(
        {"count": 3, "share": 0.6, "P@10": 2 / 3, "NDCG@10": (1 + 1 / math.log2(11)) / 3}
    )
    assert breakdown["explore"] == pytest.approx(
        {"count": 2, "share": 0.4, "P@10": 1.0, "NDCG@10": (1 / 2 + 1 / math.log2(3)) / 2}
    )
    only_repeats = repeat_explore(ranks[:1], sequences[:1], targets[:1], k=5)
    assert only_repeats["explore"] == {"count": 0, "share": 0.0, "P@5": None, "NDCG@5": None}


def test_a_trained_models_ranks_are_stored_and_give_its_test_metrics(tmp_path):
    config = make_config("teacher", "toy", "smoke", ["epochs=1", "checkpoint_every=50"])
    store = ResultsStore(tmp_path / "results")
    result = Experiment(config, store=store, cache_dir=tmp_path / "cache", progress=False).run()
    path = ranks_path(store, result["id"])
    assert path.name == result["ranks"]["file"] == f"{result['id']}.ranks.npz"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == result["ranks"]["sha256"]
    with np.load(path) as stored:
        assert list(stored) == ["rank"] and stored["rank"].dtype == np.int32
    ranks = load_ranks(store, result)
    assert evaluate_ranks(ranks) == result["test_metrics"]
    run = load_run(result["id"], store.root, cache_dir=tmp_path / "cache")
    assert run.evaluate("test") == result["test_metrics"]
    assert result["test_breakdown"]["repeat"]["count"] + result["test_breakdown"]["explore"][
        "count"
    ] == len(ranks)
    path.write_bytes(path.read_bytes()[:-1])  # a damaged file is refused, not read
    with pytest.raises(StoreError, match="is not the ranks file"):
        load_ranks(store, result)


RESULTS = Path(__file__).parents[1] / "results"
RANKED = [p for p in sorted(RESULTS.glob("*/*.json")) if "ranks" in json.loads(p.read_text())]


def test_the_committed_ranks_files_are_found():
    assert len(RANKED) >= 8  # the four baselines on both datasets


@pytest.mark.parametrize("path", RANKED, ids=lambda p: p.stem)
def test_every_committed_ranks_file_gives_its_results_test_metrics(path):
    result = json.loads(path.read_text())
    ranks = load_ranks(ResultsStore(RESULTS), result)
    assert len(ranks) == result["examples"]["test"]
    assert evaluate_ranks(ranks) == result["test_metrics"]
    breakdown = result["test_breakdown"]
    assert breakdown["repeat"]["count"] + breakdown["explore"]["count"] == len(ranks)


def test_paired_bootstrap_brackets_the_difference_and_sees_a_real_gap():
    generator = torch.Generator().manual_seed(0)
    baseline = torch.randint(1, 40, (3000,), generator=generator)
    better = torch.where(torch.rand(3000, generator=generator) < 0.3, 1, baseline)
    gap = paired_bootstrap(better, baseline)
    diff, low, high = gap["P@10"]
    assert diff == pytest.approx(
        100 * ((better <= 10).double().mean() - (baseline <= 10).double().mean()).item()
    )
    assert 0 < low < diff < high  # a real gain: the interval excludes 0
    same = paired_bootstrap(baseline, baseline)
    assert same["NDCG@10"] == (0.0, 0.0, 0.0)  # identical rankings: no spread at all
    assert paired_bootstrap(better, baseline) == gap  # seeded
    with pytest.raises(ValueError, match="paired ranks must match"):
        paired_bootstrap(better[:10], baseline)
