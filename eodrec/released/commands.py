"""``eodrec released ...``: fetch, list the edits, run the released code, import its codes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from eodrec.config import PROFILES
from eodrec.released.source import RELEASED_REPOSITORY

SOURCE_HELP = (
    "git URL, local clone or bare mirror, or a folder of the files "
    f"(default: {RELEASED_REPOSITORY}); checked against the pinned commit"
)


def add_released(commands) -> None:
    """The ``released`` command group of the ``eodrec`` parser."""
    released = commands.add_parser(
        "released", help="the authors' released code at a pinned commit (fetched, never committed)"
    )
    group = released.add_subparsers(title="released commands")
    fetch = group.add_parser("fetch", help="fetch the pinned commit into the cache")
    fetch.add_argument("--source", default=RELEASED_REPOSITORY, help=SOURCE_HELP)
    fetch.add_argument("--cache-dir", type=Path, default=None, help="default: $EODREC_CACHE")
    fetch.set_defaults(handler=_fetch)
    changes = group.add_parser("changes", help="every edit and file the run makes, and why")
    changes.add_argument("--json", action="store_true", help="print JSON")
    changes.set_defaults(handler=_changes)

    run = group.add_parser("run", help="run main_pretrain.py then main_student.py on the CPU")
    run.add_argument("--dataset", required=True, help="Tmall, retailrocket or toy")
    run.add_argument("--profile", choices=PROFILES, help="the teacher's (default: the usual rule)")
    run.add_argument("--pretrain-epochs", type=int, default=1)
    run.add_argument("--student-epochs", type=int, default=1)
    run.add_argument("--source", default=RELEASED_REPOSITORY, help=SOURCE_HELP)
    run.add_argument("--teacher", default=None, help="teacher run id (default: the preset's)")
    run.add_argument("--python", default=None, help="interpreter with numba (default: this one)")
    run.add_argument("--rerun", action="store_true", help="run again even if stored")
    _add_paths(run)
    run.set_defaults(handler=_run)

    codes = group.add_parser(
        "import-codes", help="score a released run's saved codes here, with codes alone"
    )
    codes.add_argument("--run", required=True, help="a released run id (released-run-...)")
    _add_paths(codes)
    codes.set_defaults(handler=_import_codes)


def _add_paths(parser: argparse.ArgumentParser) -> None:
    for flag, what in (
        ("--data-dir", "data directory (default: $EODREC_DATA or ./data)"),
        ("--results", "results directory (default: $EODREC_RESULTS or ./results)"),
        ("--cache-dir", "checkpoints and work folders (default: $EODREC_CACHE)"),
    ):
        parser.add_argument(flag, type=Path, default=None, help=what)


def _fetch(args: argparse.Namespace) -> int:
    from eodrec.released.driver import source_dir
    from eodrec.released.source import fetch_released

    print(fetch_released(source_dir(args.cache_dir), args.source))
    return 0


def _changes(args: argparse.Namespace) -> int:
    from eodrec.released.edits import released_changes

    rows = released_changes()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        print(f"[{row['kind']}] {row['file']}: {row['change']}\n    {row['why']}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from eodrec.released.driver import run_released

    result, path = run_released(
        args.dataset,
        args.profile,
        args.pretrain_epochs,
        args.student_epochs,
        args.source,
        args.teacher,
        args.python,
        args.results,
        args.data_dir,
        args.cache_dir,
        args.rerun,
    )
    last = {stage: result[stage]["epochs"][-1] for stage in ("pretrain", "student")}
    print(json.dumps({"id": result["id"], "last_epochs": last, "path": str(path)}, indent=2))
    return 0


def _import_codes(args: argparse.Namespace) -> int:
    from eodrec.config import check_profile
    from eodrec.released.codes import import_codes
    from eodrec.released.source import ReleasedError

    parts = args.run.split("-")
    if len(parts) != 5 or parts[:2] != ["released", "run"]:
        raise ReleasedError(f"{args.run!r} is not a released run id (released-run-D-P-HASH)")
    result, path = import_codes(
        args.run, check_profile(parts[3]), args.results, args.data_dir, args.cache_dir
    )
    scores = {name: part["test_metrics"] for name, part in result["codebooks"].items()}
    print(json.dumps({"id": result["id"], "test_metrics": scores, "path": str(path)}, indent=2))
    return 0
