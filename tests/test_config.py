import pytest

from eodrec.config import ParameterError, check_choice, profile_datasets


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
