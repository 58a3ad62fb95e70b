import json
from pathlib import Path

import pytest

from eodrec.config import (
    BUDGETS,
    DATASET_SETTINGS,
    PROFILES,
    ExperimentConfig,
    ParameterError,
    check_choice,
    default_profile,
    make_config,
    profile_datasets,
    teacher_config,
)
from eodrec.data import DATASET_NAMES, REAL_DATASETS
from eodrec.data.files import DATASETS
from eodrec.models.student import CODE_MODE, CODE_MODE_EXTRA
from eodrec.paper import PAPER_DATASET_NAMES
from eodrec.presets import RELEASED_BEHAVIOUR, RELEASED_CODE
from eodrec.store import results_root


def test_profiles_pick_their_datasets():
    assert profile_datasets("smoke") == ("toy",)
    assert profile_datasets("quick") == ("Tmall", "retailrocket")
    assert profile_datasets("paper") == ("Tmall", "retailrocket")


def test_bad_profile_is_one_line_naming_parameter_and_choices():
    with pytest.raises(ParameterError) as info:
        profile_datasets("fast")
    message = str(info.value)
    assert "\n" not in message
    assert "profile='fast'" in message
    assert "smoke, quick, paper" in message
    assert info.value._render_traceback_() == [f"ParameterError: {message}"]


def test_check_choice_accepts_allowed_values():
    check_choice("k", 10, [5, 10, 20])


RESULTS = sorted(Path(__file__).parents[1].glob("results/*/*.json"))
STORED = [p for p in RESULTS if "config" in json.loads(p.read_text())]


def test_the_committed_results_are_found():
    assert len(STORED) >= 100  # the glob must not silently match nothing


@pytest.mark.parametrize("path", STORED, ids=lambda p: p.stem)
def test_every_committed_result_still_hashes_to_its_id(path):
    """A config field added with a default renames every stored result unless it is listed in
    LATE_DEFAULTS: this fails first, so the renaming is an explicit decision."""
    result = json.loads(path.read_text())
    config = ExperimentConfig.from_dict(result["config"])
    assert config.run_id == result["id"] == path.stem
    assert json.loads(json.dumps(config.to_dict())) == result["config"]


def test_per_dataset_settings_are_keyed_by_the_one_list_of_names():
    assert set(DATASET_SETTINGS) == set(DATASET_NAMES)
    assert set(DATASETS) == set(REAL_DATASETS)  # the pinned files
    assert set(PAPER_DATASET_NAMES) == set(REAL_DATASETS)
    assert set(BUDGETS) == {(p, d) for p in PROFILES for d in profile_datasets(p)}


def test_a_profile_and_a_dataset_that_do_not_go_together_are_refused_in_one_line():
    with pytest.raises(ParameterError, match="runs on the toy dataset only, not 'Tmall'"):
        make_config("teacher", "Tmall", "smoke")
    with pytest.raises(ParameterError, match="did you mean 'Tmall'"):
        make_config("teacher", "tmall", "quick")  # canonicalized at the CLI edge, not here


def test_typed_settings_make_the_config_their_text_makes():
    typed = make_config("student", "Tmall", "quick", n_codewords=512, code_dtype="int16", eta=1)
    text = make_config(
        "student", "Tmall", "quick", ["n_codewords=512", "code_dtype=int16", "eta=1"]
    )
    assert typed == text
    assert typed.student.eta == 1.0 and isinstance(typed.student.eta, float)
    odrec = make_config("odrec", "Tmall", "quick", item_shape=[170, 240])
    assert odrec.odrec.item_shape == (170, 240)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"n_codewords": "many"}, "not a valid int"),
        ({"n_codewords": 32.0}, "n_codewords=32.0 is not a valid int"),
        ({"mixed_table_at_test": 1}, "not a valid bool"),
        ({"depth": 3}, "unknown setting 'depth'"),
    ],
)
def test_a_typed_setting_of_the_wrong_type_is_refused(settings, message):
    with pytest.raises(ParameterError, match=message):
        make_config("student", "toy", "smoke", **settings)


def test_one_default_profile_rule(tmp_path, monkeypatch):
    monkeypatch.delenv("EODREC_PROFILE", raising=False)
    assert default_profile(tmp_path) == "smoke"  # no real data here
    for name in REAL_DATASETS:
        for entry in DATASETS[name].files:
            (tmp_path / entry.relpath).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / entry.relpath).write_bytes(b"")
    assert default_profile(tmp_path) == "quick"
    monkeypatch.setenv("EODREC_PROFILE", "smoke")
    assert default_profile(tmp_path) == "smoke"
    monkeypatch.setenv("EODREC_PROFILE", "fast")
    with pytest.raises(ParameterError, match="profile='fast'"):
        default_profile(tmp_path)


def test_smoke_results_live_in_the_cache_and_the_others_in_results(tmp_path, monkeypatch):
    monkeypatch.setenv("EODREC_CACHE", str(tmp_path / "cache"))
    assert results_root("smoke", tmp_path / "results") == tmp_path / "cache" / "results"
    assert results_root("quick", tmp_path / "results") == tmp_path / "results"


# --- presets -------------------------------------------------------------------------------------


def test_the_released_code_preset_sets_every_switch_and_the_released_etas():
    config = make_config("student", "Tmall", "quick", preset="released-code")
    student = config.student
    for name, value in {**CODE_MODE, **CODE_MODE_EXTRA}.items():
        assert getattr(student, name) == value, name
    assert (student.eta, student.pretrain_eta, student.eta_convention) == (0.2, 0.3, "code")
    assert config.train.weight_decay == 0.0
    assert config.model.readout == "code" and config.model.ffn_residual_scale == 1.0
    assert set(RELEASED_BEHAVIOUR) == set(RELEASED_CODE)  # the audit page says what each does


def test_a_preset_is_recorded_so_its_run_has_an_id_of_its_own():
    preset = make_config("student", "toy", "smoke", preset="released-code")
    spelled_out = make_config("student", "toy", "smoke", **RELEASED_CODE)
    assert preset.to_dict()["preset"] == "released-code"
    assert ExperimentConfig.from_dict(preset.to_dict()) == preset
    assert preset.run_id != spelled_out.run_id
    assert preset.to_dict() == {**spelled_out.to_dict(), "preset": "released-code"}
    assert "preset" not in make_config("student", "toy", "smoke").to_dict()  # ids unchanged


def test_a_users_settings_win_over_the_preset():
    config = make_config("student", "toy", "smoke", ["eta=0.3"], preset="released-code")
    assert config.student.eta == 0.3 and config.student.freeze_teacher
    with pytest.raises(ParameterError, match="frozen_teacher_dropout=True needs freeze_teacher"):
        make_config("student", "toy", "smoke", ["freeze_teacher=false"], preset="released-code")


@pytest.mark.parametrize(
    ("experiment", "preset", "message"),
    [
        ("student", "authors", "preset='authors' is not allowed; choose one of: released-code"),
        ("teacher", "released-code", "applies to student runs, not to teacher"),
        ("odrec", "released-code", "applies to student runs, not to odrec"),
    ],
)
def test_a_preset_that_does_not_apply_is_one_line(experiment, preset, message):
    with pytest.raises(ParameterError, match=message) as info:
        make_config(experiment, "toy", "smoke", preset=preset)
    assert "\n" not in str(info.value)


def test_the_preset_student_learns_from_a_released_teacher_trained_once_for_it():
    student = make_config("student", "Tmall", "quick", preset="released-code")
    teacher = teacher_config(student)
    assert teacher.model.readout == "code" and teacher.model.ffn_residual_scale == 4.0
    assert teacher.run_id != teacher_config(make_config("student", "Tmall", "quick")).run_id
    released = make_config("teacher", "Tmall", "quick", ["readout=code", "ffn_residual_scale=4"])
    assert teacher.run_id == released.run_id  # what `eodrec train teacher --set ...` trains
