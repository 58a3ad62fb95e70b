"""What every book page does around its table: check parameters, show cells, state provenance."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from eodrec.book.styling import (
    RELATIVE,
    RELATIVE_TOLERANCE,
    key_first,
    look,
    number,
    relative_difference,
    styled,
)
from eodrec.book.tables.status import short_commit
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


def comparison_table(
    cells: pd.DataFrame, keys: list[str], digits: int = 2, tolerance: float = RELATIVE_TOLERANCE
):
    """A styled table of compared cells: the difference from the paper and, relative to the
    paper's, ``Δ %``, highlighted beyond ``tolerance``; rows with a ``note`` (a difference and
    its reason) are highlighted whole."""
    columns = [*keys, "quantity", "paper", "ours", "difference", RELATIVE]
    if "note" in cells:
        columns.append("note")
    cells = cells.assign(**{RELATIVE: relative_difference(cells["ours"], cells["paper"])})
    # one column holds quantities of several kinds (counts, lengths): whole numbers stay whole
    formats = {"paper": number(digits), "ours": number(digits)}
    formats["difference"] = number(digits, signed=True)
    styler = styled(
        cells[columns], digits, formats=formats, relative=[RELATIVE], tolerance=tolerance
    )
    if "note" in cells:
        styler = styler.apply(  # the relative difference keeps its own highlight
            lambda row: ["background-color: #fff3cd" if row["note"] else "" for _ in row],
            axis=1,
            subset=[c for c in columns if c != RELATIVE],
        )
    return styler


def wide_comparison_table(
    cells: pd.DataFrame,
    keys: list[str],
    quantities: list[str] | None = None,
    digits: int = 2,
    tolerance: float = RELATIVE_TOLERANCE,
):
    """Compared cells with one row per ``keys``, in the order the rows first appear in
    ``cells`` (the paper's), and per quantity, the key metrics first, the paper's, ours and
    ``Δ %`` (ours relative to the paper's), highlighted beyond ``tolerance``. A quantity named
    like a metric (``P@10``) is in percent and says so in its header."""
    quantities = key_first(quantities or dict.fromkeys(cells["quantity"]))
    wide = cells.pivot(index=keys, columns="quantity", values=["paper", "ours"])
    order = cells[keys].drop_duplicates()
    wide = wide.reindex(
        pd.MultiIndex.from_frame(order) if len(keys) > 1 else pd.Index(order[keys[0]])
    )
    columns = {}
    for quantity in quantities:
        label = f"{quantity} (%)" if "@" in quantity else quantity
        paper, ours = wide[("paper", quantity)], wide[("ours", quantity)]
        columns[(label, "paper")] = paper
        columns[(label, "ours")] = ours
        columns[(label, RELATIVE)] = relative_difference(ours, paper)
    wide = pd.DataFrame(columns, index=wide.index)
    relative = [c for c in wide.columns if c[1] == RELATIVE]
    return look(wide.style, wide, digits, {}, relative, tolerance)


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
        f"**Profile** `{prov['profile']}` · **commit** `{short_commit(prov['git_commit'])}` · "
        f"**created** {prov['created']} · **machine** {hardware.get('cpu', '?')} "
        f"({hardware.get('cpu_count', '?')} cores, {hardware.get('device', '?')}) · "
        f"**data sha256** {checksums}"
    )


def run_name(result: dict) -> str:
    """A stored run's id, or for a benchmark (no id) what it timed."""
    if "id" in result:
        return result["id"]
    return f"{result.get('benchmark', 'benchmark')} {result['dataset']} ({result['profile']})"


def hardware_kind(prov: dict) -> str:
    """The kind of machine a number came from: its GPU, else its CPU model."""
    hardware = prov.get("hardware", {})
    if hardware.get("device") == "cuda":
        return f"GPU {hardware.get('gpu', '?')}"
    return f"CPU {hardware.get('cpu', '?')}"


def is_dirty(result: dict) -> bool:
    """Whether a result was made from a tree with uncommitted changes (``+dirty``)."""
    return "+dirty" in result["provenance"]["git_commit"]


def dirty_runs_note(results: list[dict]) -> str:
    """A line under a table naming its runs made from an uncommitted tree, whose code no commit
    holds exactly; empty when there are none."""
    results = _unique(results)
    dirty = [run_name(r) for r in results if is_dirty(r)]
    if not dirty:
        return ""
    return (
        f"**Uncommitted code** (`+dirty`): {len(dirty)} of the {len(results)} runs above "
        f"{'was' if len(dirty) == 1 else 'were'} made from a tree with uncommitted changes: "
        + ", ".join(f"`{d}`" for d in dirty)
        + "."
    )


def provenance_spread_note(results: list[dict]) -> str:
    """One line for a page whose runs come from several commits or kinds of hardware; empty
    when they all share one of each."""
    results = _unique(results)
    commits = {short_commit(r["provenance"]["git_commit"]) for r in results}
    kinds = pd.Series([hardware_kind(r["provenance"]) for r in results]).value_counts()
    parts = [f"{len(commits)} commits"] if len(commits) > 1 else []
    if len(kinds) > 1:
        parts.append(
            f"{len(kinds)} kinds of hardware ("
            + ", ".join(f"{kind}: {count}" for kind, count in kinds.items())
            + ")"
        )
    if not parts:
        return ""
    return (
        f"**Mixed provenance**: the {len(results)} runs on this page come from "
        + " and ".join(parts)
        + "; the provenance under each table names the commit and machine of its runs."
    )


def missing_note(commands: list[str]) -> str:
    """The commands that would produce a page's missing results, as one note shown after its
    verdict (empty when nothing is missing), so the page still opens with the verdict."""
    if not commands:
        return ""
    listed = "\n".join(f"- `{command}`" for command in dict.fromkeys(commands))
    return f"**Missing results.** Each command below produces one or more of them:\n\n{listed}"


def _unique(results: list[dict]) -> list[dict]:
    """Each run once (pages pass lists that share runs)."""
    return list({run_name(r): r for r in results}.values())


def show_markdown(*texts: str) -> None:
    """Display each non-empty Markdown text (a note that has nothing to say shows nothing)."""
    from IPython.display import Markdown, display

    for text in texts:
        if text:
            display(Markdown(text))


def show_verdict(verdict, page: str, *notes: str) -> None:
    """Display a page's verdict admonition and its ``notes``, and glue the verdict's one line as
    ``claim_line`` for the intro (``page``: this page's name, e.g. ``10_audit``)."""
    from IPython.display import HTML
    from myst_nb import glue

    show_markdown(verdict.markdown(), *notes)
    glue("claim_line", HTML(verdict.claim_line(page)), display=False)
