"""Each results page's verdict: the same checks as the Claims table where a page shows a claim's
evidence, a stated rule elsewhere, and the admonition class that follows the verdict."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from eodrec.book.notebook import page_parameters
from eodrec.book.tables import claims, compare, table1_compression, verdicts
from eodrec.paper import load_target

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (["reproduced", "reproduced"], "reproduced"),
        (["reproduced", "not tested"], "partly reproduced"),
        (["reproduced", "not reproduced"], "partly reproduced"),
        (["not reproduced", "not tested"], "not reproduced"),
        (["not tested"], "not tested"),
        ([], "not tested"),
    ],
)
def test_a_page_combines_its_parts(parts, expected):
    assert verdicts.combine(parts) == expected


@pytest.mark.parametrize("verdict", claims.VERDICTS)
def test_the_admonition_class_follows_the_verdict(verdict):
    text = verdicts.PageVerdict(verdict, "a claim", "our number", "a reason").markdown()
    first, options = text.splitlines()[:2]
    assert first == f"```{{admonition}} Verdict: {verdict}"
    assert options == f":class: {verdicts.ADMONITION[verdict]} verdict"
    assert "**The paper:** A claim. **Ours:** Our number. **Why:** A reason." in text
    assert text.rstrip().endswith("```")
    assert len(set(verdicts.ADMONITION.values())) == len(claims.VERDICTS)


def test_the_intro_s_line_gives_claim_verdict_ours_and_a_link_escaped():
    line = verdicts.PageVerdict("not reproduced", "a <b> claim.", "ours 2.5 & 3.0", "x").claim_line(
        "10_audit"
    )
    assert line == (
        "<ul><li>A &lt;b&gt; claim: <strong>not reproduced</strong>. Ours 2.5 &amp; 3.0. "
        '(<a href="notebooks/10_audit.html">10_audit</a>)</li></ul>'
    )


PAGE_EVIDENCE = {  # what each page passes, by the keys of claim_results' evidence
    "03_main_results": lambda e: verdicts.main_results(
        e["teachers"], e["baselines"], e["students"]
    ),
    "05_device_latency": lambda e: verdicts.device_latency(e["benches"]),
    "06_ablation": lambda e: verdicts.ablation(e["ablations"]),
    "07_sensitivity": lambda e: verdicts.sensitivity(
        {k: e[k] for k in ("beta", "gamma", "eta")}, e["floors"]
    ),
    "08_codebook_usage": lambda e: verdicts.codebook_usage(e["students"]),
    "09_generalization": lambda e: verdicts.generalization(e["backbones"]),
}


def test_every_claim_s_page_has_a_verdict_of_its_claims():
    assert set(PAGE_EVIDENCE) == {claim.page for claim in claims.CLAIMS}


def test_page_verdicts_agree_with_the_claims_table_on_the_committed_results(monkeypatch):
    from eodrec.book.results import claim_results

    monkeypatch.setenv("EODREC_RESULTS", str(ROOT / "results"))
    evidence, _ = claim_results(page_parameters("quick", str(ROOT / "no-data-needed")))
    if not evidence["students"]:
        pytest.skip("no committed quick results")
    table = claims.claims_table(evidence)
    for page, verdict_of in PAGE_EVIDENCE.items():
        rows = table[table["page"] == page]
        verdict = verdict_of(evidence)
        assert verdict.verdict == verdicts.combine(list(rows["verdict"])), page
        for claim, ours, each in zip(rows["claim"], rows["ours"], rows["verdict"], strict=True):
            # the claim's numbers, as the Claims table prints them, and its verdict
            for check in ours.split("; "):
                assert check.split(" (paper")[0].split(": ", 1)[-1] in verdict.ours, page
            assert claim in verdict.paper and f"(verdict: {each})" in verdict.ours, page


def test_without_results_a_claim_s_page_is_not_tested():
    verdict = verdicts.ablation([])
    assert verdict.verdict == "not tested" and "no stored result" in verdict.ours
    with pytest.raises(ValueError, match="no claim"):
        verdicts.claims_verdict("11_status", {})


def _table2(rows):
    return pd.DataFrame(rows, columns=["dataset", "quantity", "paper", "ours", "note"])


def test_table_2_is_reproduced_only_where_every_cell_matches():
    match = ("Tmall", "items", 10.0, 10.0, "")
    differ = ("Tmall", "test_sessions", 10.0, 12.0, "not explained")
    assert verdicts.datasets(_table2([match, match]), "quick").verdict == "reproduced"
    partly = verdicts.datasets(_table2([match, differ]), "quick")
    assert partly.verdict == "partly reproduced"
    assert "1 of 2 cells" in partly.ours and "test sessions 12 against 10" in partly.ours
    assert "0 explained, 1 not" in partly.why
    assert verdicts.datasets(_table2([differ]), "quick").verdict == "not reproduced"
    toy = verdicts.datasets(_table2([("toy", "items", None, 10.0, "")]), "smoke")
    assert toy.verdict == "not tested" and toy.why == verdicts.TOY


def test_the_compression_verdict_counts_the_printed_cells_eq_13_gives():
    table1 = table1_compression.table1()
    items = load_target("table2").set_index("dataset")["items"].to_dict()
    dims = {"Tmall": 128, "RetailRocket": 256}
    table4 = table1_compression.table4_compression_rates(items, dims)
    verdict = verdicts.compression(table1, table4, "quick")
    n1, d1 = len(table1.dropna(subset=["paper"])), len(compare.differing(table1))
    assert f"{n1 - d1} of the {n1} cells of Table 1" in verdict.ours
    assert verdict.verdict == ("reproduced" if d1 == 0 else "partly reproduced")
    assert verdicts.compression(table1.head(0), table4.head(0), "quick").verdict == "not tested"


def test_the_sweep_verdict_counts_p10_cells_within_tolerance():
    cells = pd.DataFrame(
        {"quantity": ["P@10", "P@10", "CR"], "paper": [10.0, 10.0, 3.0], "ours": [9.5, 2.0, 3.0]}
    )
    bounds = pd.DataFrame({"paper P@10": [10.0, 50.0], "P@10 bound": [20.0, 40.0]})
    verdict = verdicts.codebook_sweep(cells, bounds, [], "quick")
    assert verdict.verdict == "partly reproduced"
    assert "1 of 2 P@10 cells" in verdict.ours and "1 of its 2 cells" in verdict.why
    assert verdicts.codebook_sweep(cells, bounds, [], "smoke").verdict == "not tested"


def _against(codes: float, released: float) -> pd.DataFrame:
    return pd.DataFrame(
        [
            ("Tmall", "paper (printed)", "as printed in Table 3", 20.0),
            ("Tmall", "paper mode", "codes alone", codes),
            ("Tmall", "preset released-code", "as released: mixed table", released),
        ],
        columns=["dataset", "run", "scored as", "P@10"],
    )


def test_the_audit_verdict_asks_whether_codes_alone_reach_the_printed_student():
    bounds = pd.DataFrame({"paper P@10": [10.0], "P@10 bound": [5.0]})
    assert verdicts.audit(_against(19.0, 5.0), bounds, "quick").verdict == "reproduced"
    partly = verdicts.audit(_against(2.0, 19.0), bounds, "quick")
    assert partly.verdict == "partly reproduced" and "19.00 (preset released-code" in partly.ours
    assert verdicts.audit(_against(2.0, 3.0), bounds, "quick").verdict == "not reproduced"
    assert "1 of 1 cells" in partly.why
    assert "only scoring with the mixed table" in partly.why and "(Tmall, preset" in partly.why
    assert "within 10% of the printed" in partly.why  # 19.0 is close to 20.0, not at it
    reached = verdicts.audit(_against(19.0, 5.0), bounds, "quick")
    assert "mixed table" not in reached.why  # codes alone reach it: nothing to explain away


def _points(student_p10: float, student_bytes: int, rival_p10: float) -> pd.DataFrame:
    rows = [
        ("Tmall", "Teacher", 1000, 20.0, "t"),
        ("Tmall", "Student (paper mode)", student_bytes, student_p10, "s"),
        ("Tmall", "Teacher int4", 200, rival_p10, "q"),
    ]
    frame = pd.DataFrame(rows, columns=["dataset", "point", "item bytes", "P@10", "run"])
    from eodrec.book.tables.frontier import on_front

    return frame.assign(**{"on front": on_front(frame)})


def test_the_frontier_verdict_needs_the_student_close_to_its_teacher_and_on_the_front():
    assert verdicts.frontier(_points(19.0, 100, 18.0), {}, "quick").verdict == "reproduced"
    beaten = verdicts.frontier(_points(19.0, 300, 19.5), {}, "quick")
    assert beaten.verdict == "partly reproduced" and "Teacher int4 reaches 19.50" in beaten.why
    assert verdicts.frontier(_points(5.0, 300, 19.5), {}, "quick").verdict == "not reproduced"
