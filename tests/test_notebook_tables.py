"""The comparison tables the pages print."""

import pandas as pd

from eodrec.book.notebook import (
    comparison_table,
    dirty_runs_note,
    missing_note,
    provenance_markdown,
    provenance_spread_note,
    wide_comparison_table,
)
from eodrec.book.styling import OUTSIDE_TOLERANCE, RELATIVE


def cell(method, dataset, quantity, paper, ours):
    return {
        "method": method,
        "dataset": dataset,
        "quantity": quantity,
        "paper": paper,
        "ours": ours,
        "difference": ours - paper,
    }


def test_rows_keep_the_order_of_the_cells_not_the_alphabet():
    cells = pd.DataFrame(
        [
            cell(method, dataset, quantity, 10.0, 12.5)
            for dataset in ("Tmall", "RetailRocket")
            for method in ("STAMP", "Teacher", "OD-Rec")
            for quantity in ("P@10", "P@5")
        ]
    )
    wide = wide_comparison_table(cells, keys=["method", "dataset"], quantities=["P@5", "P@10"]).data
    assert list(wide.index) == [
        ("STAMP", "Tmall"),
        ("Teacher", "Tmall"),
        ("OD-Rec", "Tmall"),
        ("STAMP", "RetailRocket"),
        ("Teacher", "RetailRocket"),
        ("OD-Rec", "RetailRocket"),
    ]
    # the key metric first, in percent, each with the relative difference from the paper
    assert list(wide.columns) == [
        (f"{q} (%)", side) for q in ("P@10", "P@5") for side in ("paper", "ours", RELATIVE)
    ]
    assert wide.loc[("Teacher", "RetailRocket"), ("P@10 (%)", RELATIVE)] == 25.0


def test_a_single_key_keeps_its_order_too():
    cells = pd.DataFrame([cell(m, "Tmall", "P@10", 1.0, 2.0) for m in ("b", "a", "c")])
    wide = wide_comparison_table(cells, keys=["method"]).data
    assert list(wide.index) == ["b", "a", "c"]


def test_a_cell_beyond_tolerance_is_highlighted_in_the_wide_table():
    cells = pd.DataFrame(
        [cell("a", "Tmall", "P@10", 10.0, 10.5), cell("b", "Tmall", "P@10", 10.0, 5.0)]
    )
    html = wide_comparison_table(cells, keys=["method"]).to_html()
    assert html.count(OUTSIDE_TOLERANCE.split(":")[1].strip()) == 1


def test_the_long_table_adds_the_relative_difference():
    cells = pd.DataFrame([cell("a", "Tmall", "items", 100.0, 80.0)]).assign(note="")
    styler = comparison_table(cells, keys=["method", "dataset"])
    assert list(styler.data.columns)[-2:] == [RELATIVE, "note"]
    assert styler.data[RELATIVE].iloc[0] == -20.0
    assert OUTSIDE_TOLERANCE.split(":")[1].strip() in styler.to_html()


SHA = "0123456789abcdef0123456789abcdef01234567"


def _run(name, commit=SHA, device="cpu"):
    hardware = {"cpu": "AMD EPYC", "cpu_count": 2, "device": device, "gpu": "NVIDIA H200"}
    return {
        "id": name,
        "profile": "quick",
        "provenance": {"git_commit": commit, "hardware": hardware},
    }


def test_provenance_keeps_the_dirty_mark():
    prov = {**_run("a", SHA + "+dirty")["provenance"], "profile": "quick", "created": "now"}
    assert f"`{SHA[:12]}+dirty`" in provenance_markdown(prov)


def test_dirty_runs_are_named_under_their_table():
    runs = [_run("clean"), _run("dirty-1", SHA + "+dirty"), _run("dirty-2", "abc+dirty (declared)")]
    note = dirty_runs_note(runs)
    assert "2 of the 3 runs" in note and "`dirty-1`" in note and "`dirty-2`" in note
    assert "clean" not in note
    assert dirty_runs_note([_run("clean")]) == ""


def test_missing_results_are_listed_once_each_and_nothing_when_none_is_missing():
    assert missing_note([]) == ""
    note = missing_note(["eodrec train a", "eodrec sweep b", "eodrec train a"])
    assert note.count("- `eodrec train a`") == 1 and note.count("- `eodrec sweep b`") == 1
    assert note.startswith("**Missing results.**")


def test_a_page_of_several_commits_or_machines_says_so():
    assert provenance_spread_note([_run("a"), _run("b")]) == ""
    mixed = provenance_spread_note([_run("a"), _run("b", "f" * 40), _run("c", device="cuda")])
    assert "3 runs" in mixed and "2 commits" in mixed and "2 kinds of hardware" in mixed
    assert "GPU NVIDIA H200: 1" in mixed and "CPU AMD EPYC: 2" in mixed


def test_a_run_listed_twice_counts_once():
    dirty = _run("dirty", SHA + "+dirty")
    assert "1 of the 1 runs above was made" in dirty_runs_note([dirty, dirty])
