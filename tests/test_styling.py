"""How the book's tables look: numbers right-aligned and rounded alike, percent headers, ours
against the paper's as a relative difference highlighted beyond its tolerance."""

import math

import pandas as pd

from eodrec.book import styling


def test_the_relative_difference_is_from_the_paper_s_value():
    assert styling.relative_difference(11.0, 10.0) == 10.0
    assert styling.relative_difference(9.0, -10.0) == 190.0
    assert math.isnan(styling.relative_difference(1.0, 0.0))
    assert math.isnan(styling.relative_difference(1.0, math.nan))
    series = styling.relative_difference(pd.Series([5.0, 1.0]), pd.Series([10.0, 0.0]))
    assert series.iloc[0] == -50.0 and math.isnan(series.iloc[1])


def test_numbers_are_rounded_alike_and_missing_is_a_dash():
    fmt = styling.number(2)
    assert [fmt(v) for v in (1234.5678, 3.0, math.nan, None, "text")] == [
        "1,234.57", "3", "–", "–", "text"
    ]  # fmt: skip
    assert styling.number(1, signed=True)(2.25) == "+2.2"
    assert styling.number(1, signed=True)(0.0) == "0"


def test_key_metrics_come_first():
    assert styling.key_first(["CR", "P@5", "NDCG@10", "P@10"]) == ["P@10", "NDCG@10", "CR", "P@5"]


def test_a_styled_table_aligns_numbers_marks_percent_and_highlights_beyond_tolerance():
    frame = pd.DataFrame(
        {
            "run": ["student-retailrocket-quick-0d4c09f7fa4b", "b"],
            "paper": [10.0, 10.0],
            "ours": [10.5, 8.0],
            "x": [1, 2],
        }
    )
    html = styling.styled(
        frame, percent=["ours"], hide=["x"], versus_paper={"ours": "paper"}
    ).to_html()
    assert "ours (%)" in html and ">x<" not in html
    assert html.count(styling.OUTSIDE_TOLERANCE.split(":")[1].strip()) == 1  # -20% only
    assert "text-align: right" in html and "overflow-wrap: anywhere" in html  # the run ids
    assert styling.TABLE_FONT in html
    assert ">+5.0<" in html and ">-20.0<" in html and ">10.50<" in html and ">8.00<" in html
    header = html.split("<thead>")[1].split("</thead>")[0]
    assert header.index("paper") < header.index("ours (%)") < header.index(styling.RELATIVE)


def test_rows_of_concatenated_frames_are_styled_too():
    frame = pd.concat([pd.DataFrame({"P@10": [1.5]}), pd.DataFrame({"P@10": [2.0]})])
    assert ">2.00<" in styling.styled(frame).to_html()


def test_only_columns_of_long_words_may_break_them():
    frame = pd.DataFrame(
        {"dataset": ["RetailRocket"], "run": ["student-retailrocket-quick-0d4c09f7fa4b"]}
    )
    html = styling.styled(frame).to_html()
    assert html.count("overflow-wrap: anywhere") == 1
    assert "col1" in html.split("overflow-wrap: anywhere")[0].rsplit("#T_", 1)[1]
