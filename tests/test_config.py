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
)
from eodrec.data import DATASET_NAMES, REAL_DATASETS
from eodrec.data.files import DATASETS
from eodrec.paper import PAPER_DATASET_NAMES
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
