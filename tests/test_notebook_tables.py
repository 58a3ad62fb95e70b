"""The comparison tables the pages print."""

import pandas as pd

from eodrec.book.notebook import wide_comparison_table


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
    assert list(wide.columns) == [
        (q, side) for q in ("P@5", "P@10") for side in ("paper", "ours", "difference")
    ]
    assert wide.loc[("Teacher", "RetailRocket"), ("P@10", "difference")] == 2.5


def test_a_single_key_keeps_its_order_too():
    cells = pd.DataFrame([cell(m, "Tmall", "P@10", 1.0, 2.0) for m in ("b", "a", "c")])
    wide = wide_comparison_table(cells, keys=["method"]).data
    assert list(wide.index) == ["b", "a", "c"]
