"""Sweeps: the points of a named grid as tasks on Dask distributed, each one run of the store.

A sweep is a list of experiment configs. Every point already stored is skipped, so rerunning an
interrupted sweep finishes only what is missing (a point cut off mid-training resumes from its
checkpoint). Points share work, and the task graph says so: the teachers they distil from are
trained first, and of the points that share one code-learning stage (every beta, gamma and eta
of a dataset share the paper's codes) one trains it and the others wait for it. Workers never
write the results store: a task returns its results and the one driver process saves them, so
concurrent points cannot race on a file. A failed point is reported with its error; the points
that do not depend on it go on.

Workers read the data, the checkpoint cache and the stored results by path, so on a cluster
beyond this machine those paths must be on a shared file system.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from eodrec.config import (
    DISTILLED,
    ExperimentConfig,
    ParameterError,
    budget,
    make_config,
    profile_datasets,
    teacher_config,
)
from eodrec.paper import PAPER_DATASET_NAMES, load_target
from eodrec.store import ResultsStore

# Fig. 4 and Fig. 5 (Sec. 6.6): the values the paper sweeps, every other setting at its own.
FIG4_BETAS = (0.005, 0.01, 0.05, 0.1, 0.2, 0.5)
FIG4_GAMMAS = (0.1, 0.3, 0.5, 0.7, 0.9)
FIG5_ETAS = tuple(round(0.1 * i, 1) for i in range(1, 10))
# The smoke profile sweeps a few values on the toy data, enough to exercise a page end to end.
SMOKE_VALUES = {
    "table4": [(2, 8), (4, 8)],
    "fig4_beta": [0.01, 0.5],
    "fig4_gamma": [0.1, 0.9],
    "fig5_eta": [0.2, 0.8],
}


Point = dict[str, object]  # a point's student settings, typed as the config declares them


def _table4(dataset: str, profile: str) -> list[Point]:
    """Every (M, K) Table 4 prints for ``dataset``; K > 256 stores its codes as int16. A profile
    whose budget has a ``table4_code_item_batch`` samples that many items' codes per
    code-learning step."""
    item_batch = budget(profile, dataset).table4_code_item_batch
    shared: Point = {"code_item_batch": item_batch} if item_batch else {}
    if profile == "smoke":
        shapes = SMOKE_VALUES["table4"]
    else:
        paper = load_target("table4")
        rows = paper[paper["dataset"] == PAPER_DATASET_NAMES[dataset]]
        shapes = list(zip(rows["M"], rows["K"], strict=True))
    return [
        {
            "n_codebooks": int(m),
            "n_codewords": int(k),
            **({"code_dtype": "int16"} if k > 256 else {}),
            **shared,
        }
        for m, k in shapes
    ]


def _values(name: str, key: str, values: Sequence[float]) -> Callable[[str, str], list[Point]]:
    def points(dataset: str, profile: str) -> list[Point]:
        chosen = SMOKE_VALUES[name] if profile == "smoke" else values
        return [{key: value} for value in chosen]

    return points


# Each grid: the student settings of its points for one dataset and profile.
GRIDS: dict[str, Callable[[str, str], list[Point]]] = {
    "table4": _table4,
    "fig4_beta": _values("fig4_beta", "beta", FIG4_BETAS),
    "fig4_gamma": _values("fig4_gamma", "gamma", FIG4_GAMMAS),
    "fig5_eta": _values("fig5_eta", "eta", FIG5_ETAS),
}


def grid_configs(
    name: str, profile: str, datasets: Sequence[str] | None = None
) -> list[ExperimentConfig]:
    """The student configs of grid ``name`` on ``datasets`` (default: the profile's), each with
    the sweep budget of its profile and dataset (:attr:`Budget.sweep`)."""
    if name not in GRIDS:
        raise ParameterError(f"unknown sweep {name!r}; sweeps: {', '.join(GRIDS)}")
    configs = []
    for dataset in datasets or profile_datasets(profile):
        sweep = budget(profile, dataset).sweep
        configs += [
            make_config("student", dataset, profile, **{**sweep, **point})
            for point in GRIDS[name](dataset, profile)
        ]
    return configs


@dataclass
class SweepReport:
    """What a sweep did: run ids trained now, found stored, and failed (with their errors)."""

    trained: list[str] = field(default_factory=list)
    stored: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    wall_time_s: float = 0.0


@dataclass(frozen=True)
class Paths:
    """Where every worker finds the data, the checkpoints and the stored results."""

    data_dir: Path | None
    results: Path
    cache_dir: Path | None


class _CollectingStore(ResultsStore):
    """A worker's view of the store: reads the real one and the results of the tasks it
    depends on; keeps what its run saves in memory for the driver to write."""

    def __init__(self, root: Path, known: Sequence[dict]) -> None:
        super().__init__(root)
        self.known = {r["id"]: r for r in known}
        self.saved: list[dict] = []

    def find(self, config: ExperimentConfig) -> dict | None:
        return self.known.get(config.run_id) or super().find(config)

    def save(self, result: dict, replace: bool = False) -> Path:
        self.saved.append(result)
        self.known[result["id"]] = result
        return self.path(result["id"])


def train_point(config: dict, paths: Paths, threads: int, *after: list[dict]) -> list[dict]:
    """One point, on a worker: train (resuming any checkpoint) and return what it would store.

    ``after`` holds the results of the tasks this point waited for (its teacher, the point
    that learned its codes), so it finds them even before the driver has saved them.
    """
    import torch

    from eodrec.experiment import Experiment

    torch.set_num_threads(threads)
    store = _CollectingStore(paths.results, [r for results in after for r in results])
    experiment = ExperimentConfig.from_dict(config)
    Experiment(experiment, paths.data_dir, store, paths.cache_dir, progress=False).run(resume=True)
    return store.saved


def run_sweep(
    configs: Sequence[ExperimentConfig],
    paths: Paths,
    scheduler: str | None = None,
    workers: int = 2,
    progress: bool = True,
) -> SweepReport:
    """Train every config not yet stored, on the Dask scheduler at ``scheduler`` (else
    ``$DASK_SCHEDULER_ADDRESS``, else a ``LocalCluster`` of ``workers`` processes), and save
    each result as it arrives."""
    from distributed import Client, LocalCluster, as_completed
    from tqdm import tqdm

    from eodrec.experiment import code_learning_key

    store = ResultsStore(paths.results)
    report = SweepReport()
    todo = []
    for config in configs:
        if store.find(config) is None:
            todo.append(config)
        else:
            report.stored.append(config.run_id)
    start = time.perf_counter()
    scheduler = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
    threads = max(1, usable_cores() // workers)
    with Client(scheduler or cluster) as client:
        futures, config_of = {}, {}

        def submit(config: ExperimentConfig, after: list) -> object:
            future = client.submit(
                train_point, config.to_dict(), paths, threads, *after, key=f"train-{config.run_id}"
            )
            futures[config.run_id], config_of[future.key] = future, config
            return future

        leaders: dict[str, object] = {}
        for config in todo:
            after = []
            if config.experiment in DISTILLED:
                teacher = teacher_config(config)
                if teacher.run_id not in futures and store.find(teacher) is None:
                    submit(teacher, [])
                if teacher.run_id in futures:
                    after.append(futures[teacher.run_id])
            key = code_learning_key(config) if config.student is not None else None
            if key in leaders:  # one point per code-learning stage trains it, the rest wait
                after.append(leaders[key])
            future = submit(config, after)
            if key is not None:
                leaders.setdefault(key, future)
        bar = tqdm(total=len(futures), desc="sweep", unit="run", disable=not progress)
        for future in as_completed(list(futures.values())):
            run_id = config_of[future.key].run_id
            if future.status == "error":
                report.failed[run_id] = _error_text(future)
            else:
                for result in future.result():
                    if not store.path(result["id"]).exists():
                        store.save(result)
                        report.trained.append(result["id"])
            bar.update()
        bar.close()
    if cluster is not None:
        cluster.close()
    report.wall_time_s = time.perf_counter() - start
    return report


def usable_cores() -> int:
    """Cores this process may run on: those of its CPU affinity (``taskset``, a cgroup cpuset)
    where the OS reports one, else every core."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _error_text(future) -> str:
    error = future.exception()
    return "".join(traceback.format_exception_only(type(error), error)).strip()
