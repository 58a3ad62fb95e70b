"""What sets one stored student run apart from another: the code-mode switches it sets away from
the paper, the settings beyond the paper it uses, and what decides its score.

Several artefacts need these: Table 3 counts only the paper's student, Fig. 3 only the paper's
variants, the audit one switch at a time, and the sweep and sensitivity pages diagnose their runs.
"""

from __future__ import annotations

import pandas as pd

from eodrec.book.tables.compare import dataset_name
from eodrec.config import LATE_DEFAULTS
from eodrec.models.student import ABLATIONS, CODE_MODE, CODE_MODE_EXTRA, StudentConfig

# What each code-mode switch is at its paper default: the value every StudentConfig starts with.
PAPER_MODE = {name: getattr(StudentConfig(), name) for name in {**CODE_MODE, **CODE_MODE_EXTRA}}


def is_paper_student(result: dict) -> bool:
    """Whether ``result`` is the full student with every code-mode switch at the paper's value."""
    student = result["config"]["student"]
    return student["variant"] == "full" and not code_mode_switches(result)


def code_mode_switches(result: dict) -> dict[str, object]:
    """The code-mode switches (``CODE_MODE`` and ``CODE_MODE_EXTRA``) a student result sets
    away from paper mode.

    Paper mode is the paper's value of each switch, except where the result's Fig. 3 variant
    prescribes one (Stu-base and Stu-w/o-b freeze the teacher by definition). Results stored
    before a switch existed lack its key and had its paper value.
    """
    student = result["config"]["student"]
    expected = {**PAPER_MODE, **ABLATIONS[student["variant"]]}
    values = {name: student.get(name, PAPER_MODE[name]) for name in PAPER_MODE}
    return {name: value for name, value in values.items() if value != expected[name]}


def student_scorings(result: dict) -> dict[str, dict[str, float]]:
    """A student result's test metrics by how they were scored.

    * ``codes alone``: ``test_metrics``, the validation-selected epoch as a device scores it;
    * ``codes alone, each metric's best epoch on test``: where the run selects on test;
    * ``as released``: ``test_metrics_as_released``, with the mixed table (and each metric's
      best epoch on test where the run selects on test), as the released code scores.

    Results stored before both scores were recorded have ``test_metrics`` only, which a
    ``mixed_table_at_test`` run scored with the mixed table.
    """
    student = result["config"]["student"]
    on_test = student["selection"] == "test-best-per-metric"
    released = result.get("test_metrics_as_released")
    scorings = {}
    if released is None and student["mixed_table_at_test"]:
        released = result["test_metrics"]
    else:
        scorings["codes alone"] = result["test_metrics"]
    if on_test:
        scorings["codes alone, each metric's best epoch on test"] = result[
            "test_metrics_best_per_metric"
        ]
    if released is not None:
        label = "as released: mixed table" + (", each metric's best epoch on test" * on_test)
        scorings[label] = released
    return scorings


def beyond_paper_settings(result: dict) -> dict[str, object]:
    """The settings beyond the paper (``LATE_DEFAULTS["student"]`` less the code-mode switches:
    the teacher's own loss, the way codes are found) a student result sets away from the paper;
    results stored before a setting existed lack its key and had its default."""
    student = result["config"]["student"]
    return {
        name: student.get(name, default)
        for name, default in LATE_DEFAULTS["student"].items()
        if student.get(name, default) != default and name not in CODE_MODE_EXTRA
    }


def student_diagnosis(results: list[dict]) -> pd.DataFrame:
    """What decides a student's score, per run: its own P@10 and NDCG@10 (first), how distinct
    its codes are, what the joint stage did to its teacher (test P@10 before and after
    distillation), and the P@10 of a random ranking, 10 / |V|; ``setting`` names what a run does
    beyond the paper (:func:`beyond_paper_settings`)."""
    rows = []
    for r in results:
        usage = r["code_usage"]
        beyond = beyond_paper_settings(r)
        rows.append(
            {
                "dataset": dataset_name(r),
                "setting": ", ".join(f"{k}={v}" for k, v in beyond.items()) or "as in the paper",
                "profile": r["profile"],
                "student P@10": 100 * r["test_metrics"]["P@10"],
                "student NDCG@10": 100 * r["test_metrics"]["NDCG@10"],
                "items sharing their whole code (%)": 100
                * usage["colliding_items"]
                / usage["items"],
                "code entropy (bits, mean over codebooks)": sum(usage["entropy_bits"])
                / len(usage["entropy_bits"]),
                "max entropy (bits)": usage["max_entropy_bits"],
                "teacher P@10 before": 100 * r["teacher_start_test_metrics"]["P@10"],
                "teacher P@10 after": 100 * r["teacher_test_metrics"]["P@10"],
                "random ranking P@10": 100 * 10 / usage["items"],
            }
        )
    return pd.DataFrame(rows)
