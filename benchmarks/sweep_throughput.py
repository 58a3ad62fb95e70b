"""Sweep throughput (runs per hour) with 1 and 2 local Dask workers, measured in one run.

Each measurement sweeps the same smoke grids (fig4_beta and fig4_gamma on the toy data: four
students and their teacher) into fresh results and checkpoint folders, so nothing is reused.
Usage: python benchmarks/sweep_throughput.py [--workers 1 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from pathlib import Path

from eodrec.sweeps import Paths, grid_configs, run_sweep


def measure(workers: int) -> dict:
    configs = grid_configs("fig4_beta", "smoke") + grid_configs("fig4_gamma", "smoke")
    with tempfile.TemporaryDirectory() as root:
        paths = Paths(None, Path(root) / "results", Path(root) / "cache")
        report = run_sweep(configs, paths, workers=workers, progress=False)
    runs = len(report.trained)
    return {
        "workers": workers,
        "runs": runs,
        "failed": len(report.failed),
        "wall_time_s": report.wall_time_s,
        "runs_per_hour": 3600 * runs / report.wall_time_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    rows = [measure(n) for n in args.workers]
    base = rows[0]["runs_per_hour"]
    for row in rows:
        row["speedup"] = row["runs_per_hour"] / base
    payload = {
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
        "rows": rows,
    }
    print(json.dumps(payload, indent=2))
    if args.json:
        args.json.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
