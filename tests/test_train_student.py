"""The student's schedule end to end on the toy data: teacher, code learning, joint distillation."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from eodrec import compression
from eodrec.config import ParameterError, make_config
from eodrec.experiment import Experiment
from eodrec.models.codes import CodeCollisionWarning
from eodrec.runs import load_run
from eodrec.store import ResultsStore

SHORT = ["epochs=2", "checkpoint_every=10", "code_epochs=1"]


def _train(root: Path, overrides=(), **kwargs) -> dict:
    config = make_config("student", "toy", "smoke", [*SHORT, *overrides])
    experiment = Experiment(
        config, store=ResultsStore(root / "results"), cache_dir=root / "cache", progress=False
    )
    return experiment.run(**kwargs)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("student")
    return root, _train(root)


def test_student_result_records_compression_codes_and_both_models(trained):
    root, result = trained
    assert (root / "results" / "student" / f"{result['id']}.json").exists()
    assert (root / "results" / "teacher" / f"{result['teacher_run']}.json").exists()
    size = result["compression"]
    assert size["cr_eq13"] == pytest.approx(compression.compression_rate(300, 32, 4, 8))
    # uint8 codes for 301 ids (padding included) and 4 x 8 fp32 codewords of 32 dims
    assert size["student_item_bytes"] == 301 * 4 + 4 * 8 * 32 * 4
    assert size["teacher_item_bytes"] == 301 * 32 * 4
    usage = result["code_usage"]
    assert [sum(row) for row in usage["counts"]] == [300] * 4
    assert usage["max_entropy_bits"] == 3.0
    assert all(0.0 <= h <= 3.0 for h in usage["entropy_bits"])
    assert set(result["teacher_test_metrics"]) == set(result["test_metrics"])
    assert {"train_rec", "train_mse", "train_kl", "train_con"} <= set(result["history"][0])
    assert result["code_learning"]["epochs_run"] == 1


def test_bidirectional_student_moves_its_teacher(trained):
    root, result = trained
    cache = root / "cache" / "runs"
    student = torch.load(cache / result["id"] / "best.pt", weights_only=True)
    teacher = torch.load(cache / result["teacher_run"] / "best.pt", weights_only=True)
    key = "item_table.embedding.weight"
    assert not torch.equal(student["teacher"][key], teacher["model"][key])


def test_variants_share_one_code_learning_stage(trained):
    root, full = trained
    frozen = _train(root, ["variant=w/o-b"])
    assert frozen["id"] != full["id"]
    assert frozen["code_learning"] == full["code_learning"]
    assert len(list((root / "cache" / "runs").glob("codes-*"))) == 1
    cache = root / "cache" / "runs"
    student = torch.load(cache / frozen["id"] / "best.pt", weights_only=True)
    teacher = torch.load(cache / frozen["teacher_run"] / "best.pt", weights_only=True)
    key = "item_table.embedding.weight"
    assert torch.equal(student["teacher"][key], teacher["model"][key])  # w/o-b: frozen


def test_stored_student_is_evaluated_with_its_composite_table(trained, monkeypatch):
    root, result = trained
    monkeypatch.setenv("EODREC_CACHE", str(root / "cache"))
    run = load_run(result["id"], root / "results")
    assert run.model.item_table.mixup is None  # on device: codes + codebooks only
    assert run.evaluate("test") == pytest.approx(result["test_metrics"])


def test_a_student_is_scored_with_its_codes_alone_and_as_released(trained, monkeypatch):
    root, _ = trained
    result = _train(root, ["mixed_table_at_test=true"])  # validation on the mixed table
    monkeypatch.setenv("EODREC_CACHE", str(root / "cache"))
    run = load_run(result["id"], root / "results")
    assert run.model.item_table.mixup is None  # restored as deployed
    assert run.evaluate("test") == pytest.approx(result["test_metrics"])
    assert result["test_metrics_as_released"] != result["test_metrics"]
    assert "test" not in result["history"][0]  # selected on validation: no test per epoch


def test_the_released_code_preset_trains_its_own_teacher_and_reports_both_scores(trained):
    root, paper_mode = trained
    config = make_config("student", "toy", "smoke", SHORT, preset="released-code")
    result = Experiment(
        config, store=ResultsStore(root / "results"), cache_dir=root / "cache", progress=False
    ).run()
    assert result["config"]["preset"] == "released-code"
    teacher = ResultsStore(root / "results").load(result["teacher_run"])
    assert teacher["config"]["model"]["ffn_residual_scale"] == 4.0
    assert teacher["config"]["model"]["readout"] == "code"
    assert result["teacher_run"] != paper_mode["teacher_run"]
    history = result["history"]
    assert all({"test", "test_as_released"} <= set(h) for h in history)
    for name in result["test_metrics"]:  # the released code's report: best epoch per metric
        assert result["test_metrics_as_released"][name] == max(
            h["test_as_released"][name] for h in history
        )
        assert result["test_metrics_best_per_metric"][name] == max(h["test"][name] for h in history)
    assert result["code_learning"]["epochs_run"] == 1  # the first epoch's sample


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["variant=w/o-c", "beta=0.5"], "variant='w/o-c' needs beta=0.0"),
        (["variant=teacherless"], "variant='teacherless' is not allowed"),
        (["n_codewords=512"], "int16"),
        (["eta=1.5"], "eta must be in [0, 1]"),
        (["gamma=-0.1"], "gamma must be >= 0"),
    ],
)
def test_bad_student_settings_are_parameter_errors(overrides, message):
    with pytest.raises(ParameterError, match=message.replace("[", r"\[").replace("]", r"\]")):
        make_config("student", "toy", "smoke", overrides)


def test_k_above_256_trains_with_int16_codes():
    config = make_config("student", "toy", "smoke", ["n_codewords=512", "code_dtype=int16"])
    assert config.student.dtype == torch.int16


def test_too_few_codes_for_the_items_warns(tmp_path):
    with pytest.warns(CodeCollisionWarning, match="collisions are unavoidable"):
        result = _train(tmp_path, ["n_codebooks=1", "n_codewords=8", "epochs=1"])
    assert result["code_usage"]["colliding_items"] == 300  # 8 codes for 300 items


def test_teacher_hashes_are_unchanged_by_the_student_section():
    config = make_config("teacher", "toy", "smoke")
    assert "student" not in config.to_dict()


def test_sigkilled_student_resumes_to_identical_metrics(tmp_path, trained):
    _, uninterrupted = trained
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(torch.get_num_threads()),
        "EODREC_CACHE": str(tmp_path / "cache"),
    }
    command = [sys.executable, "-m", "eodrec", "train", "student", "--dataset", "toy"]
    command += ["--profile", "smoke", "--set", *SHORT]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    last = tmp_path / "cache" / "runs" / uninterrupted["id"] / "last.pt"
    deadline = time.time() + 300
    while not last.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    resumed = subprocess.run([*command, "--resume"], env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    # smoke results live in the cache, never in the checkout's results/
    path = tmp_path / "cache" / "results" / "student" / f"{uninterrupted['id']}.json"
    result = json.loads(path.read_text())
    assert result["test_metrics"] == uninterrupted["test_metrics"]
    assert [h["train_loss"] for h in result["history"]] == [
        h["train_loss"] for h in uninterrupted["history"]
    ]


def test_settings_added_later_keep_stored_run_names():
    config = make_config("student", "Tmall", "quick")
    assert "teacher_rec" not in config.to_dict()["student"]
    assert "code_learning" not in config.to_dict()["student"]
    assert config.run_id == "student-Tmall-quick-2b23e2c4bb99"  # stored in results/student
    switched = make_config("student", "Tmall", "quick", ["teacher_rec=true"])
    assert switched.to_dict()["student"]["teacher_rec"] is True


def test_residual_kmeans_codes_replace_the_code_learner(tmp_path):
    result = _train(tmp_path, ["code_learning=residual-kmeans"])
    summary = result["code_learning"]
    assert summary["method"] == "residual-kmeans"
    assert summary["mse"] < summary["mse_of_mean"]  # better than the best constant code
    assert min(result["code_usage"]["entropy_bits"]) > 1.0  # codewords in use, no collapse
    assert not any((tmp_path / "cache" / "runs").glob("codes-*/last.pt"))  # nothing trained
