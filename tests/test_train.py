"""Training engine, results store and checkpoints on the toy data (smoke profile)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from eodrec.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from eodrec.cli import main
from eodrec.config import make_config
from eodrec.experiment import Experiment
from eodrec.runs import load_run
from eodrec.store import ResultsStore, StoreError
from eodrec.train import TrainingLoop

SHORT = ["epochs=2", "checkpoint_every=10"]


def _train(tmp_path: Path, overrides=SHORT, **kwargs) -> dict:
    config = make_config("teacher", "toy", "smoke", overrides)
    experiment = Experiment(
        config,
        store=ResultsStore(tmp_path / "results"),
        cache_dir=tmp_path / "cache",
        progress=False,
    )
    return experiment.run(**kwargs)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("trained")
    return root, _train(root)


def test_result_is_stored_with_selection_on_validation_and_provenance(trained):
    root, result = trained
    stored = json.loads((root / "results" / "teacher" / f"{result['id']}.json").read_text())
    assert stored == json.loads(json.dumps(result))
    best = max(stored["history"], key=lambda h: h["valid"]["NDCG@10"])
    assert stored["selected_epoch"] == best["epoch"]
    assert stored["valid_metrics"] == best["valid"]
    assert set(stored["test_metrics"]) == {
        "P@5",
        "NDCG@5",
        "P@10",
        "NDCG@10",
        "P@20",
        "NDCG@20",
        "MRR@20",
    }
    assert all(0.0 <= v <= 1.0 for v in stored["test_metrics"].values())
    assert stored["test_metrics"]["P@20"] >= stored["test_metrics"]["P@10"]
    prov = stored["provenance"]
    assert prov["profile"] == "smoke" and prov["data_checksums"] and prov["git_commit"]
    assert stored["config"]["train"]["epochs"] == 2


def test_learns_more_than_chance(trained):
    _, result = trained
    chance_p20 = 20 / 300
    assert result["test_metrics"]["P@20"] > 2 * chance_p20


def test_stored_config_is_reused_not_retrained(trained, monkeypatch):
    root, result = trained

    def no_training(*args, **kwargs):
        raise AssertionError("a stored result must not load data or train again")

    monkeypatch.setattr("eodrec.experiment.load_splits", no_training)
    assert _train(root) == json.loads(json.dumps(result))


def test_sigkilled_run_resumes_to_identical_metrics(tmp_path, trained):
    _, uninterrupted = trained
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(torch.get_num_threads()),  # same float summation order
        "EODREC_CACHE": str(tmp_path / "cache"),
    }
    command = [
        sys.executable,
        "-m",
        "eodrec",
        "train",
        "teacher",
        "--dataset",
        "toy",
        "--profile",
        "smoke",
        "--set",
        *SHORT,
    ]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    last = tmp_path / "cache" / "runs" / uninterrupted["id"] / "last.pt"
    deadline = time.time() + 120
    while not last.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    saved = torch.load(last, weights_only=True)
    assert saved["loader"]["epoch"] == 0 and saved["loader"]["position"] > 0  # mid-epoch

    resumed = subprocess.run([*command, "--resume"], env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    result = json.loads(
        (tmp_path / "cache" / "results" / "teacher" / f"{uninterrupted['id']}.json").read_text()
    )
    assert result["test_metrics"] == uninterrupted["test_metrics"]
    assert [h["valid"] for h in result["history"]] == [h["valid"] for h in uninterrupted["history"]]
    assert [h["train_loss"] for h in result["history"]] == [
        h["train_loss"] for h in uninterrupted["history"]
    ]


def test_interrupted_run_needs_resume_or_rerun(tmp_path):
    config = make_config("teacher", "toy", "smoke", SHORT)
    last = tmp_path / "cache" / "runs" / config.run_id / "last.pt"
    save_checkpoint(last, {"config_hash": config.config_hash()})
    with pytest.raises(CheckpointError, match="--resume"):
        _train(tmp_path)


def test_interrupted_rerun_resumes_and_a_finished_one_starts_over(tmp_path, monkeypatch):
    first = _train(tmp_path)
    segments = lambda result: result["provenance"]["git_commits_per_segment"]  # noqa: E731
    assert len(segments(_train(tmp_path, resume=True, rerun=True))) == 1  # finished: fresh

    real_epoch = TrainingLoop._train_epoch

    def interrupted_in_second_epoch(self, stage, loader, *args):
        if loader.epoch == 1:
            raise KeyboardInterrupt
        return real_epoch(self, stage, loader, *args)

    monkeypatch.setattr(TrainingLoop, "_train_epoch", interrupted_in_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path, rerun=True)
    monkeypatch.undo()
    resumed = _train(tmp_path, resume=True, rerun=True)
    assert len(segments(resumed)) == 2  # the rerun's first epoch was kept, not retrained
    assert resumed["test_metrics"] == first["test_metrics"]


def test_checkpoint_of_another_config_is_refused(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"config_hash": "aaaaaaaaaaaa", "model": {}})
    with pytest.raises(CheckpointError, match="belongs to config 'aaaaaaaaaaaa'"):
        load_checkpoint(path, "bbbbbbbbbbbb")


def test_checkpoint_of_another_training_of_the_same_config_is_refused(tmp_path):
    result = _train(tmp_path)
    best = tmp_path / "cache" / "runs" / result["id"] / "best.pt"
    own = load_run(result["id"], tmp_path / "results", cache_dir=tmp_path / "cache")
    assert own.result["selected_epoch"] == result["selected_epoch"]
    # the same config trained elsewhere, or interrupted here: its best epoch is another one
    state = load_checkpoint(best, result["config_hash"])
    save_checkpoint(best, {**state, "epoch": result["selected_epoch"] + 1})
    with pytest.raises(CheckpointError, match="another training of this config"):
        load_run(result["id"], tmp_path / "results", cache_dir=tmp_path / "cache")


def test_corrupt_checkpoint_is_reported(tmp_path):
    path = tmp_path / "last.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(path, "x")


def test_truncated_result_is_reported_and_kept(tmp_path):
    config = make_config("teacher", "toy", "smoke", SHORT)
    store = ResultsStore(tmp_path / "results")
    path = store.path(config.run_id)
    path.parent.mkdir(parents=True)
    path.write_text('{"id": "teacher-')
    with pytest.raises(StoreError, match="corrupt or truncated"):
        _train(tmp_path)
    assert path.read_text() == '{"id": "teacher-'


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--dataset", "movies", "--profile", "smoke"], "unknown dataset 'movies'"),
        (["--dataset", "toy", "--profile", "smoke", "--set", "depth=3"], "unknown setting 'depth'"),
        (["--dataset", "toy", "--profile", "smoke", "--set", "dim=big"], "not a valid int"),
        (["--dataset", "Tmall", "--profile", "smoke"], "toy dataset only"),
        (
            ["--dataset", "toy", "--profile", "smoke", "--preset", "authors"],
            "preset='authors' is not allowed; choose one of: released-code",
        ),
        (
            ["--dataset", "toy", "--profile", "smoke", "--preset", "released-code"],
            "applies to student runs, not to teacher",
        ),
    ],
)
def test_cli_bad_input_is_one_line(argv, message, capsys, tmp_path):
    code = main(["train", "teacher", *argv, "--results", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert message in err and "\n" not in err
    assert not any(tmp_path.iterdir())


def test_cli_runs_json_lists_fractions(trained, capsys):
    root, result = trained
    assert main(["runs", "--json", "--results", str(root / "results")]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [
        {
            "id": result["id"],
            "model": "teacher",
            "dataset": "toy",
            "profile": "smoke",
            "selected_epoch": result["selected_epoch"],
            "wall_time_s": result["wall_time_s"],
            "metrics": result["test_metrics"],
        }
    ]


def test_predict_writes_topk_that_recompute_the_metrics(trained, tmp_path):
    import numpy as np

    root, result = trained
    out = tmp_path / "pred.npz"
    assert (
        main(
            [
                "predict",
                "--run",
                result["id"],
                "--results",
                str(root / "results"),
                "--cache-dir",
                str(root / "cache"),
                "--k",
                "20",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    arrays = np.load(out)
    hits = (arrays["topk"][:, :10] == arrays["target"][:, None]).any(axis=1)
    assert arrays["topk"].shape == (len(arrays["target"]), 20)
    assert (arrays["index"] == np.arange(len(arrays["target"]))).all()
    assert hits.mean() == pytest.approx(result["test_metrics"]["P@10"])
