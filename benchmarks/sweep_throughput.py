"""Sweep throughput (runs per hour) with 1 and 2 local Dask workers, measured in one run.

``smoke`` (default): each worker count sweeps the same smoke grids (fig4_beta and fig4_gamma on
the toy data: four students and their teacher) into fresh results and checkpoint folders, so
nothing is reused.

``quick``: the ``--points`` cheapest points of a real grid (by M x K: the code learner's cost
grows with (M K)^2), the same points for every worker count, each time into fresh results and
checkpoint folders that share only the stored teacher (its result and checkpoint), which
would otherwise take most of an hour to train.

Usage: python benchmarks/sweep_throughput.py [--workers 1 2] [--json out.json]
       python benchmarks/sweep_throughput.py --profile quick --grid table4 --dataset Tmall \
           --points 4 --json out.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import tempfile
from collections.abc import Iterator
from pathlib import Path

from eodrec.checkpoint import run_dir
from eodrec.config import teacher_config
from eodrec.store import ResultsStore
from eodrec.sweeps import Paths, grid_configs, run_sweep


def measure(workers: int, configs, paths: Paths) -> dict:
    report = run_sweep(configs, paths, workers=workers, progress=False)
    runs = len(report.trained)
    store = ResultsStore(paths.results)
    return {
        "workers": workers,
        "runs": runs,
        "failed": len(report.failed),
        "wall_time_s": report.wall_time_s,
        "runs_per_hour": 3600 * runs / report.wall_time_s,
        "run_wall_times_s": {
            run: store.load(run)["wall_time_s"]
            for run in report.trained
            if store.path(run).exists()
        },
    }


def smoke(workers: list[int]) -> list[dict]:
    configs = grid_configs("fig4_beta", "smoke") + grid_configs("fig4_gamma", "smoke")
    rows = []
    for n in workers:
        with _fresh_paths() as fresh:
            rows.append(measure(n, configs, fresh))
    return rows


def quick(grid: str, dataset: str, workers: list[int], points: int, paths: Paths) -> list[dict]:
    configs = grid_configs(grid, "quick", [dataset])
    configs = sorted(configs, key=lambda c: c.student.n_codebooks * c.student.n_codewords)
    configs = configs[:points]
    teacher = ResultsStore(paths.results).find(teacher_config(configs[0]))
    if teacher is None:
        raise SystemExit(f"train the teacher first: eodrec train teacher --dataset {dataset}")
    rows = []
    for n in workers:
        with _fresh_paths(paths.data_dir) as fresh:
            ResultsStore(fresh.results).save(teacher)
            link = run_dir(teacher["id"], fresh.cache_dir)
            link.parent.mkdir(parents=True)
            link.symlink_to(run_dir(teacher["id"], paths.cache_dir).resolve())
            rows.append(measure(n, configs, fresh))
    return rows


@contextlib.contextmanager
def _fresh_paths(data_dir: Path | None = None) -> Iterator[Paths]:
    """Empty results and checkpoint folders, removed afterwards (a quick point's are ~90 MB)."""
    with tempfile.TemporaryDirectory(prefix="sweep-throughput-") as root:
        yield Paths(data_dir, Path(root) / "results", Path(root) / "cache")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--profile", choices=["smoke", "quick"], default="smoke")
    parser.add_argument("--grid", default="table4", help="quick: the grid whose points to run")
    parser.add_argument("--dataset", default="Tmall", help="quick: the dataset")
    parser.add_argument("--points", type=int, default=4, help="quick: how many points")
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.profile == "smoke":
        rows = smoke(args.workers)
    else:
        paths = Paths(None, args.results, args.cache_dir)  # where the teacher is stored
        rows = quick(args.grid, args.dataset, args.workers, args.points, paths)
    base = rows[0]["runs_per_hour"]
    for row in rows:
        row["speedup"] = row["runs_per_hour"] / base
    payload = {
        "profile": args.profile,
        "grid": args.grid if args.profile == "quick" else "fig4_beta + fig4_gamma",
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
        "rows": rows,
    }
    print(json.dumps(payload, indent=2))
    if args.json:
        args.json.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
