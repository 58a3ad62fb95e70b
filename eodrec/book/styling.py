"""How every table of the book looks: numbers right-aligned and rounded alike, ``–`` for a missing
value, ``%`` in the header of a column of percentages, the key metrics first, ours against the
paper's as a relative difference highlighted beyond its tolerance, and long identifiers (run ids,
checksums, machines) allowed to wrap, so that a table fits the book's column without scrolling.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd

# The metrics every accuracy claim is read on: they come first wherever a table has them.
KEY_METRICS = ("P@10", "NDCG@10")
# How far ours may be from the paper's, relative to the paper's, before a cell is highlighted;
# the claims' "little loss" (eodrec.book.tables.claims.LITTLE_LOSS) is this same tolerance.
RELATIVE_TOLERANCE = 0.10
RELATIVE = "Δ %"  # the header of a relative difference from the paper, in percent
OUTSIDE_TOLERANCE = "background-color: #f8d7da"
# Numbers right-aligned, on one line, with a gap before them (the theme's cells have almost no
# padding, so adjacent numbers would run together).
NUMBER_CELL = {"text-align": "right", "white-space": "nowrap", "padding-left": "0.4em"}
# A text column with words this long (run ids, hashes) may break them anywhere; shorter words
# (names, labels) wrap at spaces only.
LONG_WORD = 20
TEXT_CELL = {"overflow-wrap": "anywhere"}
TABLE_FONT = "font-size: 0.9em;"  # a table of numbers a little smaller than the prose


def relative_difference(ours, paper):
    """100 (ours - paper) / |paper|: NaN where either is missing or the paper's is 0."""
    ours, paper = pd.to_numeric(ours, errors="coerce"), pd.to_numeric(paper, errors="coerce")
    if isinstance(paper, pd.Series):
        return 100 * (ours - paper) / paper.abs().where(paper != 0)
    if pd.isna(ours) or pd.isna(paper) or paper == 0:
        return math.nan
    return 100 * (ours - paper) / abs(paper)


def outside_tolerance(value, tolerance: float = RELATIVE_TOLERANCE) -> bool:
    """Whether a relative difference (%) is beyond ``tolerance`` (a fraction)."""
    return bool(pd.notna(value) and abs(value) > 100 * tolerance)


def key_first(names: Iterable[str]) -> list[str]:
    """``names`` with the key metrics (:data:`KEY_METRICS`) first, the others in their order."""
    names = list(names)
    return [m for m in KEY_METRICS if m in names] + [n for n in names if n not in KEY_METRICS]


def number(digits: int, signed: bool = False, whole: bool = True):
    """A formatter: ``digits`` decimals (with ``whole``, none for a whole number), thousands
    separated, ``–`` for a missing value; text passes through."""

    def fmt(value) -> str:
        if value is None:
            return "–"
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return value
        if math.isnan(value):
            return "–"
        sign = "+" if signed and value != 0 else ""
        places = 0 if whole and float(value).is_integer() else digits
        return f"{value:{sign},.{places}f}"

    return fmt


def column_format(values: pd.Series, digits: int):
    """One rounding for a whole column: none where every value is whole (counts, bytes),
    else ``digits`` decimals for every value."""
    numbers_ = pd.to_numeric(values, errors="coerce").dropna()
    whole = bool(len(numbers_)) and bool((numbers_ == numbers_.round()).all())
    return number(0 if whole else digits, whole=False)


def styled(
    frame: pd.DataFrame,
    digits: int = 2,
    formats: Mapping[str, object] | None = None,
    percent: Sequence[str] = (),
    hide: Sequence[str] = (),
    versus_paper: Mapping[str, str] | None = None,
    relative: Sequence[str] = (),
    tolerance: float = RELATIVE_TOLERANCE,
    mixed: bool = False,
):
    """``frame`` as the book shows a table: no index, each numeric column right-aligned and
    rounded alike (:func:`column_format`; with ``mixed``, columns holding quantities of several
    kinds, a whole number stays whole; ``formats`` overrides it per column), text columns of
    long words (run ids) wrapping anywhere, ``(%)`` after the headers in ``percent``, the
    columns in ``hide`` left out. ``versus_paper`` maps a column of ours to the paper's column
    beside it: a :data:`RELATIVE` column follows it. ``relative`` names columns already holding
    relative differences. Every relative difference is highlighted beyond ``tolerance``."""
    frame = frame.drop(columns=list(hide)).reset_index(drop=True)  # the index is not shown
    relative = list(relative)
    for ours, paper in (versus_paper or {}).items():
        name = f"{RELATIVE} {ours}" if len(versus_paper) > 1 else RELATIVE
        frame.insert(
            frame.columns.get_loc(ours) + 1, name, relative_difference(frame[ours], frame[paper])
        )
        relative.append(name)
    frame = frame.rename(columns={c: f"{c} (%)" for c in percent})
    formats = {f"{c} (%)" if c in percent else c: f for c, f in (formats or {}).items()}
    if mixed:
        formats = {c: number(digits) for c in frame.columns} | formats
    styler = frame.style.hide(axis="index")
    return look(styler, frame, digits, formats, relative, tolerance)


def _has_long_words(values: pd.Series) -> bool:
    words = values.dropna().astype(str).str.split().explode().dropna()
    return bool(len(words)) and int(words.str.len().max()) > LONG_WORD


def look(styler, frame: pd.DataFrame, digits, formats, relative, tolerance):
    """Formats, alignment and highlighting of a Styler over ``frame`` (flat or two-level
    columns); ``relative`` names the relative-difference columns."""
    numeric = [
        c
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c].dtype)
        and not pd.api.types.is_bool_dtype(frame[c].dtype)
    ]
    text = [c for c in frame.columns if c not in numeric and _has_long_words(frame[c])]
    default = {c: column_format(frame[c], digits) for c in numeric}
    default |= {c: number(1, signed=True, whole=False) for c in relative}
    styler = styler.format({**default, **formats}, na_rep="–")
    styler = styler.set_table_styles([{"selector": "", "props": TABLE_FONT}], overwrite=False)
    if numeric:
        styler = styler.set_properties(subset=numeric, **NUMBER_CELL)
        level = frame.columns.nlevels - 1  # the header row right above the numbers
        styler = styler.set_table_styles(
            [
                {
                    "selector": f"th.col_heading.level{level}.col{frame.columns.get_loc(c)}",
                    "props": "text-align: right; padding-left: 0.4em;",
                }
                for c in numeric
            ],
            overwrite=False,
        )
    if text:
        styler = styler.set_properties(subset=text, **TEXT_CELL)
    if relative:
        styler = styler.map(
            lambda v: OUTSIDE_TOLERANCE if outside_tolerance(v, tolerance) else "",
            subset=relative,
        )
    return styler
