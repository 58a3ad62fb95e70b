"""The Claims table: its verdict rules, and what it shows with no evidence at all."""

from __future__ import annotations

import re

import pytest

from eodrec.book.tables import claim_checks, claims
from eodrec.book.tables.claim_checks import FAIL, PARTIAL, PASS, Check
from tests.test_tables_baselines import with_metrics
from tests.test_tables_student import metrics, student

NO_EVIDENCE = {key: [] for claim in claims.CLAIMS for key in claim.evidence}


def _checks(*outcomes: str, profile: str = "quick") -> list[Check]:
    return [Check(f"d{i}", "1", "1", outcome, profile) for i, outcome in enumerate(outcomes)]


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        ((PASS, PASS), "reproduced"),
        ((PASS, FAIL), "partly reproduced"),
        ((PARTIAL, PARTIAL), "partly reproduced"),
        ((FAIL, FAIL), "not reproduced"),
        ((), "not tested"),
    ],
)
def test_a_verdict_combines_the_checks_of_a_claim(outcomes, expected):
    assert claims.verdict(_checks(*outcomes)) == expected


def test_toy_data_tests_no_claim():
    # a smoke check passing must not read as the paper's claim reproduced
    assert claims.verdict(_checks(PASS, PASS, profile="smoke")) == "not tested"
    assert claims.verdict(_checks(PASS, profile="smoke") + _checks(FAIL)) == "not reproduced"


def test_a_loss_is_partial_only_within_the_stated_tolerance():
    edge = 1 - claims.LITTLE_LOSS
    assert claim_checks._by_loss(10.0, 10.0) == PASS
    assert claim_checks._by_loss(10.0 * edge, 10.0) == PARTIAL
    assert claim_checks._by_loss(10.0 * edge - 0.01, 10.0) == FAIL


def test_without_results_every_claim_is_a_row_not_tested():
    table = claims.claims_table(NO_EVIDENCE)
    assert len(table) == len(claims.CLAIMS) >= 8
    assert set(table["verdict"]) == {"not tested"}
    assert set(table["ours"]) == {"no stored result"}


def test_the_html_has_one_row_per_claim_a_link_each_and_escapes_text():
    table = claims.claims_table(NO_EVIDENCE)
    table.loc[0, "claim"] = "a < b"
    page = claims.claims_html(table, pages="notebooks/")
    assert 'id="claims-table"' in page and "a &lt; b" in page
    body = page.split("<tbody>")[1]
    assert body.count("<tr>") == len(claims.CLAIMS)
    assert body.count('<a href="notebooks/') == len(claims.CLAIMS)


def test_the_summary_names_claims_by_verdict_and_types_no_number():
    table = claims.claims_table(NO_EVIDENCE)
    table.loc[0, "verdict"] = "reproduced"
    summary = claims.claims_summary(table)
    assert summary.count("<p>") == 2
    assert table.loc[0, "claim"] in summary.split("</p>")[0]
    assert not re.search(r"\d", summary)


def _popular(valid_ndcg10: float) -> dict:
    """A stored most-popular baseline on Tmall with validation NDCG@10 ``valid_ndcg10``."""
    return {
        "id": "baseline-Tmall-pop", "model": "pop", "dataset": "Tmall", "profile": "quick",
        "valid_metrics": metrics(valid_ndcg10, valid_ndcg10),
    }  # fmt: skip


def test_a_sweep_below_the_most_popular_floor_identifies_no_best_value():
    runs = [with_metrics(student(beta=b), valid=v) for b, v in ((0.01, 0.002), (0.5, 0.001))]
    check = claim_checks.best_setting("beta")
    (found,) = check({**NO_EVIDENCE, "beta": runs, "floors": [_popular(0.0045)]})
    assert found.outcome == FAIL and found.ours.startswith("none identifiable")
    assert "floor at every β" in found.ours
    assert "best 0.20% validation NDCG@10, at 0.01, floor 0.45%" in found.ours
    (found,) = check({**NO_EVIDENCE, "beta": runs, "floors": [_popular(0.001)]})
    assert (found.outcome, found.ours, found.paper) == (PASS, "0.01", "0.01")
    (found,) = check({**NO_EVIDENCE, "beta": runs})  # no floor stored: the paper's value decides
    assert found.outcome == PASS
