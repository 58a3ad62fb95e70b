"""What every book page does around its table: check parameters, show cells, state provenance."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from eodrec.config import ParameterError, check_profile, default_profile, profile_datasets


@dataclass(frozen=True)
class Page:
    """A page's validated parameters."""

    profile: str
    datasets: tuple[str, ...]
    data_dir: Path | None


def page_parameters(profile: str | None, data_dir: str | None = None) -> Page:
    """Validate a page's ``parameters`` cell; a bad value is a one-line :class:`ParameterError`.
    ``profile=None`` follows the one default rule (:func:`eodrec.config.default_profile`)."""
    if profile is None:
        profile = default_profile(data_dir)
    check_profile(profile)
    if data_dir is not None and not isinstance(data_dir, str | os.PathLike):
        raise ParameterError(f"data_dir={data_dir!r} must be a path string or None")
    return Page(profile, profile_datasets(profile), Path(data_dir) if data_dir else None)


def comparison_table(cells: pd.DataFrame, keys: list[str], digits: int = 2):
    """A styled table of compared cells; rows that differ from the paper are highlighted."""
    columns = [*keys, "quantity", "paper", "ours", "difference"]
    if "note" in cells:
        columns.append("note")
    styler = (
        cells[columns]
        .style.format(
            {"paper": _number(digits), "ours": _number(digits), "difference": _signed(digits)}
        )
        .hide(axis="index")
    )
    if "note" in cells:
        styler = styler.apply(
            lambda row: ["background-color: #fff3cd" if row["note"] else "" for _ in row], axis=1
        )
    return styler


def wide_comparison_table(
    cells: pd.DataFrame, keys: list[str], quantities: list[str] | None = None, digits: int = 2
):
    """Compared cells with one row per ``keys``, in the order the rows first appear in
    ``cells`` (the paper's), and, per quantity, paper / ours / difference."""
    quantities = quantities or list(dict.fromkeys(cells["quantity"]))
    wide = cells.pivot(index=keys, columns="quantity", values=["paper", "ours", "difference"])
    order = cells[keys].drop_duplicates()
    wide = wide.reindex(
        pd.MultiIndex.from_frame(order) if len(keys) > 1 else pd.Index(order[keys[0]])
    )
    wide = wide.swaplevel(axis=1).reindex(
        columns=[(q, side) for q in quantities for side in ("paper", "ours", "difference")]
    )
    formats = {
        column: (_signed(digits) if column[1] == "difference" else _number(digits))
        for column in wide.columns
    }
    return wide.style.format(formats)


def regenerate_command(notebook: str, page: Page) -> str:
    """The ``papermill`` command that regenerates this page with its parameters, as Markdown
    for the page's last cell: edit the ``-p`` values to run it with others."""
    parameters = f"-p profile {page.profile}"
    if page.data_dir is not None:
        parameters += f" -p data_dir {page.data_dir}"
    return (
        "**Regenerate this page** (from the repository root; change the `-p` values to run it "
        "with other parameters):\n\n"
        f"```bash\n.venv/bin/papermill notebooks/{notebook}.ipynb /tmp/{notebook}.ipynb "
        f"{parameters}\n```"
    )


def provenance_markdown(prov: dict) -> str:
    """A short paragraph placed under each table: profile, code, data, machine."""
    checksums = (
        ", ".join(
            f"`{name}` {digest[:12]}"
            for name, digest in sorted(prov.get("data_checksums", {}).items())
        )
        or "none"
    )
    hardware = prov.get("hardware", {})
    return (
        f"**Profile** `{prov['profile']}` · **commit** `{prov['git_commit'][:12]}` · "
        f"**created** {prov['created']} · **machine** {hardware.get('cpu', '?')} "
        f"({hardware.get('cpu_count', '?')} cores, {hardware.get('device', '?')}) · "
        f"**data sha256** {checksums}"
    )


def _number(digits: int):
    def fmt(value: float) -> str:
        if pd.isna(value):
            return "–"
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.{digits}f}"

    return fmt


def _signed(digits: int):
    def fmt(value: float) -> str:
        if pd.isna(value):
            return "–"
        if value == 0:
            return "0"
        return f"{value:+,.0f}" if float(value).is_integer() else f"{value:+,.{digits}f}"

    return fmt
