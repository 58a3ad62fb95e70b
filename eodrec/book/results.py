"""The stored results a page shows, and the command that produces each missing one.

Pages read results, they do not train: ``quick`` and ``paper`` pages show what is stored in
``results/`` and name the ``eodrec`` command for each missing run. Only the ``smoke`` profile
trains (or times) a missing result on the spot, seconds on the toy data, and keeps it in the
cache directory, so the committed ``results/`` only ever holds real-data runs. That is the
book layer's only use of training (:func:`_train_on_the_spot`): through the experiment API,
imported only then; the book never imports the training loop itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from eodrec.book.notebook import Page


def stored_results(
    experiment: str, page: Page, overrides: Sequence[str] = (), preset: str | None = None
) -> tuple[list[dict], list[str]]:
    """The stored result of ``experiment`` (with ``key=value`` ``overrides``, e.g.
    ``["variant=base"]``, after the named ``preset``) for each dataset of the page's profile.

    Returns the results found and, for each missing one, the command that produces it. With the
    ``smoke`` profile a missing result is trained on the spot (seconds on the toy data) and kept
    in the cache directory, so the committed ``results/`` only ever holds real-data runs.
    """
    from eodrec.config import make_config

    settings = f" --preset {preset}" if preset else ""
    settings += f" --set {' '.join(overrides)}" if overrides else ""
    configs = [
        make_config(experiment, dataset, page.profile, overrides, preset)
        for dataset in page.datasets
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
    store = page_store(page)
    found, missing = [], []
    for config in configs:
        result = store.find(config)
        if result is None and page.profile == "smoke":
            result = _train_on_the_spot(config, page, store)
        if result is None:
            missing.append(command(config))
        else:
            found.append(result)
    return found, missing


def _train_on_the_spot(config, page: Page, store) -> dict:
    """Train a missing smoke result now (seconds on the toy data) and store it: the one place
    the book layer has a model trained."""
    from eodrec.experiment import Experiment

    return Experiment(config, page.data_dir, store, progress=False).run()


def page_store(page: Page):
    """The results a page reads: ``results/``, or with ``smoke`` the cache's runs."""
    from eodrec.store import ResultsStore, results_root

    return ResultsStore(results_root(page.profile))


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


def page_floors(page: Page, split: str = "test"):
    """The floors a page's figures mark (:func:`eodrec.book.tables.floors.floors`): a random
    ranking on each of its datasets, and the most-popular baseline on ``split`` where it is
    stored (with ``smoke``, trained on the spot); a missing one is left out, not asked for."""
    from eodrec.book.tables.floors import floors, item_counts

    popular, _ = stored_results("baseline", page, ["method=pop"])
    return floors(item_counts(page.datasets, page.data_dir), popular, split)


# The models the smoke page times on the spot: the paper's headline comparison, and the two
# simple baselines issue 24 sets against the teacher.
SMOKE_LATENCY_MODELS = ("Teacher", "OD-Rec", "Student (dense)", "Student", "V-SKNN", "SR")
SMOKE_LATENCY_RUNS = [("teacher", []), ("odrec", []), ("student", [])] + [
    ("baseline", [f"method={method}"]) for method in ("sknn", "sr")
]


def latency_results(page: Page) -> tuple[list[dict], list[str]]:
    """The stored latency benchmark (``eodrec bench latency``) of each dataset of the page's
    profile, and the command for each missing one. With ``smoke`` the toy runs (trained on the
    spot) are timed on the spot: a few calls, eager and, when installed, ExecuTorch."""
    import importlib.util

    from eodrec.latency import bench_latency, latency_path
    from eodrec.store import results_root

    if page.profile == "smoke":
        gather_results(page, SMOKE_LATENCY_RUNS)
        runtimes = ("eager", "executorch") if importlib.util.find_spec("executorch") else ("eager",)
        benches = [
            bench_latency(
                dataset,
                "smoke",
                requests=50,
                results=results_root("smoke"),
                data_dir=page.data_dir,
                models=SMOKE_LATENCY_MODELS,
                runtimes=runtimes,
                progress=False,
            )  # fmt: skip
            for dataset in page.datasets
        ]
        return benches, []
    return _stored_benches(
        page, latency_path, lambda d: f"eodrec bench latency --dataset {d} --profile {page.profile}"
    )


def kernel_latency_results(page: Page) -> tuple[list[dict], list[str]]:
    """The stored latency benchmark of the teacher and the student with and without eodrec's
    kernels, and OD-Rec, on ExecuTorch (``eodrec bench latency ... --out`` its own file, beside
    Table 5's), and the command for each missing one. With ``smoke`` the page's own latency
    run has those rows already: none."""
    from eodrec.latency import KERNEL_MODELS, kernel_latency_path

    if page.profile == "smoke":
        return [], []

    def command(dataset: str) -> str:
        out = kernel_latency_path(Path("results"), dataset, page.profile)
        return (
            f"eodrec bench latency --dataset {dataset} --profile {page.profile} --models "
            f"{' '.join(KERNEL_MODELS)} OD-Rec --runtimes executorch --out {out}"
        )

    return _stored_benches(page, kernel_latency_path, command)


def device_stage_results(page: Page) -> tuple[list[dict], list[str]]:
    """The stored ExecuTorch breakdown of a batch of 100 (``eodrec bench device-stages``) of each
    dataset, and the command for each missing one. With ``smoke`` the toy shapes are timed on
    the spot (a few calls), where ExecuTorch is installed."""
    import importlib.util

    from eodrec.bench.device_stages import bench_device_stages, stages_path

    if page.profile == "smoke":
        if not importlib.util.find_spec("executorch"):
            return [], ["pip install -e '.[device]'  # ExecuTorch, for the device stages"]
        return [bench_device_stages("toy", page.data_dir, steps=3, warmup=1, malloc=False)], []
    return _stored_benches(page, stages_path, lambda d: f"eodrec bench device-stages --dataset {d}")


def _stored_benches(page: Page, path_of, command_of) -> tuple[list[dict], list[str]]:
    """The benchmark stored at ``path_of(results, dataset, profile)`` for each dataset of the
    page, and ``command_of(dataset)`` for each missing one."""
    import json

    from eodrec.store import results_root

    found, missing = [], []
    for dataset in page.datasets:
        path = path_of(results_root(page.profile), dataset, page.profile)
        if path.exists():
            found.append(json.loads(path.read_text()))
        else:
            missing.append(command_of(dataset))
    return found, missing


def page_results(page: Page) -> list[dict]:
    """Every stored result of the page's profile (smoke: the ones trained on the spot)."""
    return [r for r in page_store(page).runs() if r["profile"] == page.profile]


# Table 3's baselines, each a teacher with another backbone, and OD-Rec.
BASELINE_BACKBONES = ("gru4rec", "narm", "stamp", "srgnn", "sasrec")
# The swept settings of Fig. 4-5 and their sweeps (eodrec.sweeps).
SENSITIVITY_SWEEPS = {"beta": "fig4_beta", "gamma": "fig4_gamma", "eta": "fig5_eta"}


def claim_results(page: Page) -> tuple[dict[str, list[dict]], list[str]]:
    """Every stored result the claims of :mod:`eodrec.book.tables.claims` read, by evidence
    key, and the command for each missing one: the same runs the pages behind the claims show
    (so ``smoke`` trains only what those pages would)."""
    from eodrec.book.tables.repeat_explore import FINDING_RUNS
    from eodrec.models.student import ABLATIONS

    runs = {
        "teachers": [("teacher", [])],
        "baselines": [("teacher", [f"backbone={b}"]) for b in BASELINE_BACKBONES] + [("odrec", [])],
        "students": [("student", [])],
        "ablations": [("student", [] if v == "full" else [f"variant={v}"]) for v in ABLATIONS],
        "backbones": [
            (experiment, [f"backbone={b}"])
            for b in ("narm", "srgnn")
            for experiment in ("teacher", "student")
        ],
        "repeats": FINDING_RUNS,  # the intro's finding beyond the paper, with Table 3's models
        "floors": [("baseline", ["method=pop"])],  # below it, a sweep identifies no best value
    }
    evidence, missing = {}, []
    for key, experiments in runs.items():
        evidence[key], absent = gather_results(page, experiments)
        missing += absent
    for setting, sweep in SENSITIVITY_SWEEPS.items():
        evidence[setting], absent = sweep_results(sweep, page)
        missing += absent
    evidence["benches"], absent = latency_results(page)
    return evidence, list(dict.fromkeys(missing + absent))
