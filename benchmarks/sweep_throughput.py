"""Sweep throughput (runs per hour) with 1 and 2 local Dask workers, measured in one run.

``smoke`` (default): each worker count sweeps the same smoke grids (fig4_beta and fig4_gamma on
the toy data: four students and their teacher) into fresh results and checkpoint folders, so
nothing is reused.

``quick``: real points of a grid, kept in the real results store (they are results the book
needs, too expensive to throw away): the first ``--points`` not yet stored go to 1 worker, the
next ones to 2 workers, all distilling from the stored teacher. The points differ, so each run's
own wall time is reported beside the rate.

Usage: python benchmarks/sweep_throughput.py [--workers 1 2] [--json out.json]
       python benchmarks/sweep_throughput.py --profile quick --grid table4 --dataset Tmall \
           --points 2 4 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from pathlib import Path

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
    rows = []
    for n in workers:
        configs = grid_configs("fig4_beta", "smoke") + grid_configs("fig4_gamma", "smoke")
        with tempfile.TemporaryDirectory() as root:
            paths = Paths(None, Path(root) / "results", Path(root) / "cache")
            rows.append(measure(n, configs, paths))
    return rows


def quick(grid: str, dataset: str, workers: list[int], points: list[int], paths: Paths):
    store = ResultsStore(paths.results)
    missing = [c for c in grid_configs(grid, "quick", [dataset]) if store.find(c) is None]
    rows, start = [], 0
    for n, count in zip(workers, points, strict=True):
        rows.append(measure(n, missing[start : start + count], paths))
        start += count
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--profile", choices=["smoke", "quick"], default="smoke")
    parser.add_argument("--grid", default="table4", help="quick: the grid whose points to run")
    parser.add_argument("--dataset", default="Tmall", help="quick: the dataset")
    parser.add_argument("--points", type=int, nargs="+", help="quick: points per worker count")
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.profile == "smoke":
        rows = smoke(args.workers)
    else:
        paths = Paths(None, args.results, args.cache_dir)
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
