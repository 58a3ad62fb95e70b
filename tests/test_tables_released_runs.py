"""Page 10's released-code run: stored runs found per dataset, their printed epochs and the
imported codes' scores read back as the page shows them."""

import json

import pytest

from eodrec.book.tables import released_runs


def _epoch(epoch, hit10, loss):
    return {
        "epoch": epoch,
        "loss": loss,
        "metrics": {"hit10": hit10, "nDCG10": hit10 / 2, "hit20": hit10 + 1, "mrr20": 1.0},
    }


def _store(root, name, payload):
    folder = root / "released"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(payload))


@pytest.fixture
def root(tmp_path):
    run = {
        "id": "released-run-Tmall-quick-a",
        "kind": "released-run",
        "dataset": "Tmall",
        "pretrain": {"epochs": [_epoch(0, 3.0, 9.0)], "wall_time_s": 120.0},
        "student": {"epochs": [_epoch(0, 5.0, 7.0), _epoch(1, 6.0, 6.5)], "wall_time_s": 60.0},
    }
    codes = {
        "id": "released-codes-Tmall-quick-a",
        "kind": "released-codes",
        "dataset": "Tmall",
        "released_run": run["id"],
        "codebooks": {
            "released": {"test_metrics": {"P@10": 0.02, "NDCG@10": 0.01}},
            "least_squares": {"test_metrics": {"P@10": 0.10, "NDCG@10": 0.05}},
        },
    }
    _store(tmp_path, run["id"], run)
    _store(tmp_path, codes["id"], codes)
    _store(tmp_path, "released-run-toy-smoke-b", {**run, "dataset": "toy", "id": "b"})
    return tmp_path


def test_only_the_pages_datasets_are_read_and_each_missing_one_gets_its_command(root):
    runs, codes = released_runs.released_results(root, ("Tmall", "retailrocket"))
    assert [r["id"] for r in runs] == ["released-run-Tmall-quick-a"] and len(codes) == 1
    (command,) = released_runs.missing_commands(runs, ("Tmall", "retailrocket"), "quick")
    assert command.startswith("eodrec released run --dataset retailrocket --profile quick")
    assert released_runs.released_results(root / "none", ("Tmall",)) == ([], [])


def test_printed_epochs_are_one_row_per_script_and_epoch_with_hit_as_p_at_k(root):
    runs, _ = released_runs.released_results(root, ("Tmall",))
    table = released_runs.printed_epochs(runs)
    assert list(table["script"]) == ["pretrain", "student", "student"]
    assert list(table["P@10"]) == [3.0, 5.0, 6.0] and list(table["NDCG@10"]) == [1.5, 2.5, 3.0]
    assert table["wall (min)"].tolist() == [2.0, 1.0, 1.0]


def test_imported_codes_are_in_percent_per_set_of_codebooks(root):
    _, codes = released_runs.released_results(root, ("Tmall",))
    table = released_runs.imported_codes(codes).set_index("codebooks")
    assert table.loc["least_squares", "P@10"] == pytest.approx(10.0)
    assert table.loc["released", "NDCG@10"] == pytest.approx(1.0)
