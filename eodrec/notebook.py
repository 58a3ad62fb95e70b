"""What every book page does around its table: check parameters, show cells, state provenance."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from eodrec.config import ParameterError, check_profile, profile_datasets


@dataclass(frozen=True)
class Page:
    """A page's validated parameters."""

    profile: str
    datasets: tuple[str, ...]
    data_dir: Path | None


def page_parameters(profile: str, data_dir: str | None = None) -> Page:
    """Validate a page's ``parameters`` cell; a bad value is a one-line :class:`ParameterError`."""
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


def stored_results(
    experiment: str, page: Page, overrides: Sequence[str] = ()
) -> tuple[list[dict], list[str]]:
    """The stored result of ``experiment`` (with ``key=value`` ``overrides``, e.g.
    ``["variant=base"]``) for each dataset of the page's profile.

    Returns the results found and, for each missing one, the command that produces it. With the
    ``smoke`` profile a missing result is trained on the spot (seconds on the toy data) and kept
    in the cache directory, so the committed ``results/`` only ever holds real-data runs.
    """
    from eodrec.config import make_config

    settings = f" --set {' '.join(overrides)}" if overrides else ""
    configs = [
        make_config(experiment, dataset, page.profile, overrides) for dataset in page.datasets
    ]
    return _results_of(
        configs,
        page,
        lambda c: (
            f"eodrec train {experiment} --dataset {c.data.dataset} --profile {c.profile}" + settings
        ),
    )


def sweep_results(name: str, page: Page) -> tuple[list[dict], list[str]]:
    """The stored results of every point of sweep ``name`` (:mod:`eodrec.sweeps`) on the page's
    datasets, and the command that trains the missing ones (smoke: trained on the spot)."""
    from eodrec.sweeps import grid_configs

    found, missing = _results_of(
        grid_configs(name, page.profile, page.datasets),
        page,
        lambda c: f"eodrec sweep {name} --profile {c.profile} --dataset {c.data.dataset}",
    )
    return found, list(dict.fromkeys(missing))


def _results_of(configs, page: Page, command) -> tuple[list[dict], list[str]]:
    from eodrec.checkpoint import default_cache_dir
    from eodrec.experiment import Experiment
    from eodrec.store import ResultsStore

    smoke = page.profile == "smoke"
    store = ResultsStore(default_cache_dir() / "results" if smoke else None)
    found, missing = [], []
    for config in configs:
        result = store.find(config)
        if result is None and smoke:
            result = Experiment(config, page.data_dir, store, progress=False).run()
        if result is None:
            missing.append(command(config))
        else:
            found.append(result)
    return found, missing


def gather_results(
    page: Page, runs: Sequence[tuple[str, Sequence[str]]]
) -> tuple[list[dict], list[str]]:
    """:func:`stored_results` of several ``(experiment, overrides)`` runs, e.g. every baseline
    of Table 3 as ``("teacher", ["backbone=narm"])``: the results found and the commands for
    the missing ones."""
    found, missing = [], []
    for experiment, overrides in runs:
        results, absent = stored_results(experiment, page, overrides)
        found += results
        missing += absent
    return found, missing


# The models the smoke page times on the spot: the paper's headline comparison.
SMOKE_LATENCY_MODELS = ("Teacher", "OD-Rec", "Student (dense)", "Student")


def latency_results(page: Page) -> tuple[list[dict], list[str]]:
    """The stored latency benchmark (``eodrec bench latency``) of each dataset of the page's
    profile, and the command for each missing one. With ``smoke`` the toy runs (trained on the
    spot) are timed on the spot: a few calls, eager and, when installed, ExecuTorch."""
    import importlib.util
    import json

    from eodrec.checkpoint import default_cache_dir
    from eodrec.latency import bench_latency, latency_path
    from eodrec.store import default_results_dir

    if page.profile == "smoke":
        gather_results(page, [("teacher", []), ("odrec", []), ("student", [])])
        runtimes = ("eager", "executorch") if importlib.util.find_spec("executorch") else ("eager",)
        benches = [
            bench_latency(
                dataset,
                "smoke",
                repeats=3,
                results=default_cache_dir() / "results",
                data_dir=page.data_dir,
                models=SMOKE_LATENCY_MODELS,
                runtimes=runtimes,
                progress=False,
            )  # fmt: skip
            for dataset in page.datasets
        ]
        return benches, []
    found, missing = [], []
    for dataset in page.datasets:
        path = latency_path(default_results_dir(), dataset, page.profile)
        if path.exists():
            found.append(json.loads(path.read_text()))
        else:
            missing.append(f"eodrec bench latency --dataset {dataset} --profile {page.profile}")
    return found, missing


def page_results(page: Page) -> list[dict]:
    """Every stored result of the page's profile (smoke: the ones trained on the spot)."""
    from eodrec.checkpoint import default_cache_dir
    from eodrec.store import ResultsStore

    store = ResultsStore(default_cache_dir() / "results" if page.profile == "smoke" else None)
    return [r for r in store.runs() if r["profile"] == page.profile]


def status_table(results: list[dict]) -> pd.DataFrame:
    """One line per result: what it is and everything that produced it."""
    if not results:
        return pd.DataFrame()
    rows = [
        {
            "model": r["model"],
            "dataset": r["dataset"],
            "created": r["provenance"]["created"][:16].replace("T", " "),
            "torch": r["provenance"]["versions"]["torch"],
            "python": r["provenance"]["versions"]["python"],
        }
        for r in results
    ]
    return pd.concat([pd.DataFrame(rows), run_provenance_table(results)], axis=1)


def run_provenance_table(results: list[dict]) -> pd.DataFrame:
    """One line per run: what produced the numbers beside it."""
    return pd.DataFrame(
        [
            {
                "run": r["id"],
                "profile": r["profile"],
                "selected epoch": r["selected_epoch"],
                "epochs run": r["epochs_run"],
                "wall time (min)": round(r["wall_time_s"] / 60, 1),
                "commit": r["provenance"]["git_commit"][:12],
                "machine": f"{r['provenance']['hardware']['cpu']} "
                f"({r['provenance']['hardware']['device']})",
                "data sha256": ", ".join(
                    v[:12] for v in r["provenance"]["data_checksums"].values()
                ),
            }
            for r in results
        ]
    )
