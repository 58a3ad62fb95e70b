"""The released-code pipeline without the released code: fetching, edits, the log parser, the
teacher's conversion and the scoring of imported codes, on files made here (no network)."""

import fractions
import json
import subprocess

import numpy as np
import pytest
import torch

from eodrec.cli import main
from eodrec.config import make_config
from eodrec.data import pad_batch
from eodrec.data.splits import Examples
from eodrec.evaluate import evaluate
from eodrec.models.backbones import build_backbone
from eodrec.models.base import BackboneConfig
from eodrec.released.codes import (
    codes_from_one_hot,
    load_weights,
    score_codes,
    student_with_codes,
)
from eodrec.released.driver import preset_teacher_id
from eodrec.released.edits import EDITS, Edit, apply_edits, released_changes
from eodrec.released.log import complete_epochs, parse_log
from eodrec.released.source import ReleasedError, blob_id, check_files, fetch_released
from eodrec.released.teacher import released_rows, to_sas_state

FILES = {"a.py": b"print('a')\n", "b.py": b"x = 1\n"}
BLOBS = {name: blob_id(data) for name, data in FILES.items()}


def _one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert message and "\n" not in message
    return message


def _git_repo(path):
    """A git repository holding FILES in one commit; its full hash."""
    path.mkdir()
    for name, data in FILES.items():
        (path / name).write_bytes(data)
    git = ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "files"], check=True)
    return subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


# --- fetching ------------------------------------------------------------------------------------


def test_blob_id_is_gits():
    assert blob_id(b"") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"  # git hash-object /dev/null


def test_fetch_from_a_git_repository_at_its_commit(tmp_path):
    commit = _git_repo(tmp_path / "repo")
    dest = fetch_released(tmp_path / "dest", str(tmp_path / "repo"), commit, BLOBS)
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == FILES


def test_fetch_of_a_commit_the_source_lacks_is_one_line(tmp_path):
    _git_repo(tmp_path / "repo")
    with pytest.raises(ReleasedError) as error:
        fetch_released(tmp_path / "dest", str(tmp_path / "repo"), "0" * 40, BLOBS)
    assert "has no commit 000000000000" in _one_line(error)
    assert not (tmp_path / "dest").exists()


@pytest.mark.parametrize(
    ("source", "commit", "message"),
    [
        ("{tmp}/nowhere", "0" * 40, "no such path, and not a URL"),
        ("file://{tmp}/nowhere", "0" * 40, "cannot fetch the released code from file://"),
        ("{tmp}", "f56f881", "not a full 40-digit hash"),
    ],
)
def test_a_source_that_cannot_give_the_commit_is_one_line(tmp_path, source, commit, message):
    with pytest.raises(ReleasedError) as error:
        fetch_released(tmp_path / "dest", source.format(tmp=tmp_path), commit, BLOBS)
    assert message in _one_line(error)


def test_a_plain_folder_must_hold_the_pinned_files_unchanged(tmp_path):
    folder = tmp_path / "copy"
    folder.mkdir()
    for name, data in FILES.items():
        (folder / name).write_bytes(data)
    assert fetch_released(tmp_path / "dest", str(folder), "a" * 40, BLOBS).is_dir()
    (folder / "b.py").write_bytes(b"x = 2\n")
    with pytest.raises(ReleasedError) as error:
        fetch_released(tmp_path / "other", str(folder), "a" * 40, BLOBS)
    assert "b.py differs" in _one_line(error)
    (folder / "b.py").unlink()
    with pytest.raises(ReleasedError, match="lacks b.py"):
        check_files(folder, BLOBS)


# --- edits ---------------------------------------------------------------------------------------

SETTINGS = {"pretrain_epochs": 2, "student_epochs": 3}


@pytest.mark.parametrize("edit", EDITS, ids=lambda e: f"{e.file}:{e.find}")
def test_each_edit_needs_its_target_exactly_as_often_as_it_says(edit):
    text = "a = 1\n" + f"b = {edit.find}\n" * edit.count
    edited = edit.apply(text, SETTINGS)
    assert edit.find not in edited  # so an edited file refuses a second application
    for wrong in (0, edit.count + 1):
        with pytest.raises(ReleasedError) as error:
            edit.apply("a = 1\n" + f"b = {edit.find}\n" * wrong, SETTINGS)
        assert f"found {wrong}" in _one_line(error)


def test_edits_are_short_and_all_or_nothing(tmp_path):
    assert all(len(edit.find) <= 40 for edit in EDITS)  # a few tokens, never a line of theirs
    texts = {}
    for edit in EDITS:
        texts[edit.file] = texts.get(edit.file, "") + f"{edit.find}\n" * edit.count
    for name, text in texts.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "main_student.py").write_text("nothing to edit\n")
    with pytest.raises(ReleasedError, match="main_student.py"):
        apply_edits(tmp_path, SETTINGS)
    assert (tmp_path / "module.py").read_text() == texts["module.py"]  # nothing written
    (tmp_path / "main_student.py").write_text(texts["main_student.py"])
    applied = apply_edits(tmp_path, SETTINGS)
    assert (tmp_path / "main_pretrain.py").read_text() == "range(2)\n"
    assert [row["replace"] for row in applied if row["file"] == "main_student.py"] == ["range(3)"]


def test_an_edit_naming_an_unknown_setting_is_refused():
    with pytest.raises(ReleasedError, match="needs the setting 'epochs'"):
        Edit("f.py", "x", "{epochs}", 1, "why").apply("x", SETTINGS)


def test_the_changes_table_lists_every_edit_file_and_setting():
    rows = released_changes(1, 1)
    assert [row["kind"] for row in rows].count("code edit") == len(EDITS)
    assert {"file placed", "environment"} <= {row["kind"] for row in rows}
    assert all(row["why"] and row["change"] for row in rows)


# --- their printed metrics -----------------------------------------------------------------------


def _epoch_lines(epoch, loss, hit10, numpy_repr=True):
    value = (lambda x: f"np.float64({x})") if numpy_repr else str
    metrics = ", ".join(
        f"'{name}{k}': {value(hit10 / (2 if name != 'hit' else 1) + k)}"
        for k in (5, 10, 20)
        for name in ("hit", "mrr", "nDCG")
    )
    best = [
        f"train_loss:\t{loss:.4f}\tRecall@{k}: {hit10 + k:.4f}\tMRR{k}: 1.0000\tnDCG{k}: "
        f"2.0000\tEpoch: {epoch},  0,  {epoch}"
        for k in (5, 10, 20)
    ]
    return [
        "-" * 55,
        f"epoch:  {epoch}",
        "start training:  2026-01-01 00:00:00.000001",
        "tensor(10.6123, grad_fn=<AddBackward0>)",
        f"\tLoss:\t{loss:.3f}",
        "start predicting:  2026-01-01 00:01:00.000001",
        "{" + metrics + "}",
        *best,
    ]


def test_the_parser_reads_what_the_scripts_print():
    text = "\n".join(
        ["Namespace(dataset='Tmall', eta=0.3)"]
        + _epoch_lines(0, 1234.5, 3.0)
        + _epoch_lines(1, 999.25, 4.5, numpy_repr=False)
        + ["-" * 55, "epoch:  2", "start training:  now", "\tLoss:\tnan"]
    )
    epochs = parse_log(text)
    assert [e["epoch"] for e in epochs] == [0, 1, 2]
    assert epochs[0]["loss"] == 1234.5 and epochs[1]["loss"] == 999.25
    assert epochs[0]["metrics"]["hit10"] == 13.0 and epochs[1]["metrics"]["mrr20"] == 22.25
    assert len(epochs[0]["metrics"]) == 9
    best = {"Recall": 24.5, "MRR": 1.0, "nDCG": 2.0, "epochs": [1, 0, 1]}
    assert epochs[1]["best"]["@20"] == best
    assert epochs[2] == {"epoch": 2, "loss": None}  # cut short; nan is no JSON number
    assert [e["epoch"] for e in complete_epochs(epochs)] == [0, 1]


# --- the teacher as sas.SAS ----------------------------------------------------------------------

RELEASED_TEACHER = BackboneConfig(dim=8, n_heads=2, readout="code", ffn_residual_scale=4.0)


def test_the_teacher_converts_to_sas_keys_and_shapes():
    torch.manual_seed(0)
    teacher = build_backbone(RELEASED_TEACHER, 20)
    state = to_sas_state(teacher.state_dict(), RELEASED_TEACHER, 24)
    table = teacher.state_dict()["item_table.embedding.weight"]
    assert torch.equal(state["embedding.weight"][:21], table)
    assert not state["embedding.weight"][21:].any()
    assert torch.equal(state["w_2"], teacher.readout.attention_vector.weight.T)
    assert torch.equal(state["glu2.weight"], teacher.readout.mean_proj.weight)
    layer = "trm_encoder.layer.0.feed_forward.dense_2.weight"
    assert torch.equal(state[layer], teacher.layers[0].ffn.down.weight)
    assert state["w_1_hot"].shape == (16, 8) and state["w_1_hot"].abs().max() <= 0.1
    # every SAS parameter, nothing else: tables and input norm, one layer, readout, w_1, hot/cold
    assert len(state) == 4 + 16 + 4 + 1 + 2 * 5


def test_only_the_released_teachers_network_converts():
    paper = BackboneConfig(dim=8)
    with pytest.raises(ReleasedError, match="readout='code'"):
        to_sas_state(build_backbone(paper, 20).state_dict(), paper, 24)
    teacher = build_backbone(RELEASED_TEACHER, 20)
    with pytest.raises(ReleasedError, match="21"):
        to_sas_state(teacher.state_dict(), RELEASED_TEACHER, 20)
    assert released_rows("Tmall") == 40729 and released_rows("toy") == 310


def test_the_run_uses_the_presets_teacher():
    spelled_out = make_config("teacher", "toy", "smoke", ["readout=code", "ffn_residual_scale=4"])
    assert preset_teacher_id("toy", "smoke") == spelled_out.run_id


# --- imported codes ------------------------------------------------------------------------------


def _toy_teacher_and_test(n_items=20):
    torch.manual_seed(0)
    teacher = build_backbone(RELEASED_TEACHER, n_items).eval()
    rng = np.random.default_rng(0)
    sequences = [rng.integers(1, n_items + 1, size=rng.integers(1, 6)).tolist() for _ in range(40)]
    targets = rng.integers(1, n_items + 1, size=40).tolist()
    return teacher, Examples(sequences, targets)


def test_codes_that_give_every_item_its_own_codeword_score_as_the_teacher(tmp_path):
    teacher, test = _toy_teacher_and_test()
    one_hot = np.eye(21, dtype=np.float32)[:, None, :]  # (|V|+1, M=1, K=21)
    one_hot = np.concatenate([one_hot, np.zeros((3, 1, 21), np.float32)])  # released extra rows
    torch.save(one_hot, tmp_path / "codes.pkl")  # what the released pretraining writes
    codes = codes_from_one_hot(load_weights(tmp_path / "codes.pkl", numpy_arrays=True), 20)
    assert codes.shape == (21, 1) and torch.equal(codes[:, 0], torch.arange(21))
    table = teacher.item_table.weight().detach()
    scored = score_codes(teacher, codes, {"identity": table, "shuffled": table.flip(0)}, test)
    metrics = {name: part["test_metrics"] for name, part in scored["codebooks"].items()}
    assert metrics["identity"] == evaluate(teacher, test.sequences, test.targets)
    assert metrics["shuffled"] != metrics["identity"]
    assert scored["code_usage"]["colliding_items"] == 0
    batch = pad_batch(test.sequences, test.targets, range(len(test)))
    student = student_with_codes(teacher, codes, table)
    assert torch.allclose(student(batch)[:, 1:], teacher(batch)[:, 1:], atol=1e-5)


def test_codes_that_are_not_one_hot_or_too_few_are_refused():
    with pytest.raises(ReleasedError, match="not one-hot"):
        codes_from_one_hot(np.full((21, 1, 4), 0.25, np.float32), 20)
    with pytest.raises(ReleasedError, match="expected"):
        codes_from_one_hot(np.eye(4, dtype=np.float32)[:, None, :], 20)


def test_loading_admits_arrays_and_state_dicts_only(tmp_path):
    torch.save(fractions.Fraction(1, 2), tmp_path / "other.pkl")
    with pytest.raises(ReleasedError) as error:
        load_weights(tmp_path / "other.pkl", numpy_arrays=True)
    assert "not a plain array or state dict" in _one_line(error)
    torch.save(np.zeros(3, np.float32), tmp_path / "array.pkl")
    with pytest.raises(ReleasedError):
        load_weights(tmp_path / "array.pkl")  # arrays only where asked for
    with pytest.raises(ReleasedError, match="no file"):
        load_weights(tmp_path / "missing.pkl")


# --- the command line ----------------------------------------------------------------------------


def test_the_changes_command_prints_json(capsys):
    assert main(["released", "changes", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(released_changes()))


def test_import_codes_of_an_unknown_run_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("EODREC_CACHE", str(tmp_path))  # where smoke results live
    assert main(["released", "import-codes", "--run", "teacher-toy-smoke-x"]) == 1
    assert "is not a released run id" in capsys.readouterr().err
    argv = ["released", "import-codes", "--run", "released-run-toy-smoke-abc"]
    assert main(argv) == 1
    assert "no stored released run" in capsys.readouterr().err
