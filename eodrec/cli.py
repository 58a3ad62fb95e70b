"""The ``eodrec`` command: each subcommand is a thin call into the library."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import threading
from dataclasses import asdict
from pathlib import Path

from eodrec import compression
from eodrec.config import EXPERIMENTS, PROFILES, ParameterError, default_profile
from eodrec.data.names import canonical_name
from eodrec.released.commands import add_released


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    from eodrec.book.build import BookError
    from eodrec.book.serve import ServeError
    from eodrec.checkpoint import CheckpointError
    from eodrec.data import DataError
    from eodrec.device_ops import DeviceOpsError
    from eodrec.export import ExportError
    from eodrec.store import StoreError

    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        _canonicalize_datasets(args)
        if getattr(args, "profile", "") is None:
            args.profile = default_profile(getattr(args, "data_dir", None))
        return args.handler(args) or 0
    except (
        DataError,
        BookError,
        ParameterError,
        CheckpointError,
        StoreError,
        ExportError,
        DeviceOpsError,
        ServeError,
        ValueError,
    ) as error:
        print(f"eodrec: error: {error}", file=sys.stderr)
        return 1


DEFAULT_PROFILE_HELP = (
    "default: $EODREC_PROFILE, else quick where the real data is present, else smoke"
)


def _canonicalize_datasets(args: argparse.Namespace) -> None:
    """``--dataset`` in its canonical spelling: user input is canonicalized here, once."""
    dataset = getattr(args, "dataset", None)
    if isinstance(dataset, list):
        args.dataset = [canonical_name(name) for name in dataset]
    elif dataset is not None:
        args.dataset = canonical_name(dataset)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eodrec", description=__doc__)
    commands = parser.add_subparsers(title="commands")
    for add in (_add_data, _add_training, _add_runs, _add_bench, _add_export, _add_book):
        add(commands)
    add_released(commands)  # the authors' released code (eodrec/released/)
    return parser


def _add_data(commands) -> None:
    data = commands.add_parser("data", help="download, check and describe the datasets")
    data_commands = data.add_subparsers(title="data commands")
    download = data_commands.add_parser(
        "download", help="fetch the preprocessed Tmall and RetailRocket files, verified by sha256"
    )
    download.add_argument(
        "--dest",
        type=Path,
        default=None,
        help="target directory (default: --data-dir, $EODREC_DATA or ./data)",
    )
    download.add_argument(
        "--mirror", default=None, help="base URL serving <folder>/<file> instead of GitHub"
    )
    download.set_defaults(handler=_download)
    stats = data_commands.add_parser("stats", help="the Table 2 row of a dataset")
    stats.add_argument("--dataset", required=True, help="Tmall, retailrocket or toy")
    stats.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="data directory (default: $EODREC_DATA or ./data)",
    )
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.set_defaults(handler=_stats)

    rate = commands.add_parser(
        "compression-rate", help="Eq. 13 and the real bytes of an item table"
    )
    rate.add_argument("--items", type=int, required=True, help="|V|, number of items")
    rate.add_argument("--dim", type=int, required=True, help="N, embedding dimension")
    rate.add_argument("--codebooks", type=int, required=True, help="M, number of codebooks")
    rate.add_argument("--codewords", type=int, required=True, help="K, vectors per codebook")
    rate.add_argument("--json", action="store_true", help="print JSON")
    rate.set_defaults(handler=_compression_rate)


def _add_training(commands) -> None:
    train = commands.add_parser("train", help="train a model and store its result")
    train.add_argument("experiment", choices=EXPERIMENTS, help="what to train")
    train.add_argument("--dataset", required=True, help="Tmall, retailrocket or toy")
    train.add_argument("--profile", required=True, choices=PROFILES)
    train.add_argument(
        "--set",
        nargs="*",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="override config settings, e.g. --set dim=64 epochs=5",
    )
    train.add_argument(
        "--preset", help="a named bundle of settings, before --set: released-code (students)"
    )
    train.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run (with --rerun: an interrupted rerun) from its checkpoint",
    )
    train.add_argument(
        "--rerun", action="store_true", help="train again even if this config's result is stored"
    )
    _add_common(train)
    train.set_defaults(handler=_train)

    sweep = commands.add_parser("sweep", help="train every point of a named grid on Dask")
    sweep.add_argument("name", help="table4, fig4_beta, fig4_gamma or fig5_eta")
    sweep.add_argument("--profile", required=True, choices=PROFILES)
    sweep.add_argument("--dataset", nargs="*", default=None, help="default: the profile's")
    sweep.add_argument(
        "--scheduler",
        default=None,
        help="address of a running Dask scheduler (default: $DASK_SCHEDULER_ADDRESS, "
        "else a LocalCluster on this machine)",
    )
    sweep.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
    _add_common(sweep)
    sweep.set_defaults(handler=_sweep)


def _add_runs(commands) -> None:
    runs = commands.add_parser("runs", help="list stored runs")
    runs.add_argument("--json", action="store_true", help="print JSON")
    runs.add_argument("--results", type=Path, default=None, help="results directory")
    runs.set_defaults(handler=_runs)

    evaluate = commands.add_parser("evaluate", help="recompute a stored run's metrics")
    evaluate.add_argument("--run", required=True, help="run id (see `eodrec runs`)")
    evaluate.add_argument("--split", choices=("valid", "test"), default="test")
    evaluate.add_argument("--json", action="store_true", help="print JSON")
    _add_common(evaluate)
    evaluate.set_defaults(handler=_evaluate)

    predict = commands.add_parser("predict", help="write the top-k items of every sequence")
    predict.add_argument("--run", required=True, help="run id (see `eodrec runs`)")
    predict.add_argument("--split", choices=("valid", "test"), default="test")
    predict.add_argument("--k", type=int, default=20)
    predict.add_argument("--out", type=Path, required=True, help="output .npz file")
    _add_common(predict)
    predict.set_defaults(handler=_predict)


def _add_bench(commands) -> None:
    bench = commands.add_parser("bench", help="performance benchmarks (ratios to the GEMM floor)")
    bench_commands = bench.add_subparsers(title="benchmarks")
    for name, help_text in (
        ("train-step", "the teacher's training step vs its GEMM floor"),
        ("eval", "full-ranking evaluation throughput vs its GEMM floor"),
        ("joint-step", "the student's joint distillation step vs the teacher's step"),
        ("device-stages", "a batch of 100's encoder, scoring and top-20 on ExecuTorch"),
    ):
        command = bench_commands.add_parser(name, help=help_text)
        command.add_argument("--dataset", default="Tmall", help="Tmall, retailrocket or toy")
        command.add_argument("--data-dir", type=Path, default=None)
        command.add_argument("--json", action="store_true", help="print JSON")
        command.set_defaults(handler=_bench, benchmark=name)

    latency = bench_commands.add_parser(
        "latency", help="Table 5: per-request and per-100 ms of every stored model per runtime"
    )
    latency.add_argument("--dataset", default="Tmall", help="Tmall, retailrocket or toy")
    latency.add_argument("--profile", choices=PROFILES, default=None, help=DEFAULT_PROFILE_HELP)
    latency.add_argument("--requests", type=int, default=1000, help="requests timed per model")
    latency.add_argument("--runtimes", nargs="*", default=None, help="eager executorch onnx")
    latency.add_argument(
        "--models", nargs="*", default=None, help="labels to measure, e.g. Student V-SKNN SR"
    )
    latency.add_argument(
        "--out", type=Path, default=None, help="default: RESULTS/bench/latency-DATASET-PROFILE.json"
    )
    latency.add_argument("--json", action="store_true", help="print JSON")
    _add_common(latency)
    latency.set_defaults(handler=_bench_latency)


def _add_export(commands) -> None:
    export = commands.add_parser("export", help="a stored run as an on-device bundle")
    export.add_argument("--run", required=True, help="run id (see `eodrec runs`)")
    export.add_argument("--format", choices=("executorch", "onnx"), default="executorch")
    export.add_argument("--out", type=Path, required=True, help="output directory")
    export.add_argument(
        "--scoring",
        choices=("model", "dense"),
        default="model",
        help="model: the model's own scoring (by codebook for a student); dense: full table",
    )
    export.add_argument(
        "--buckets", type=int, nargs="*", default=None, help="session lengths (default: 8, 16, ...)"
    )
    export.add_argument(
        "--ops", default="aten", help="aten, or eodrec: this package's C++ kernels (executorch)"
    )
    _add_common(export)
    export.set_defaults(handler=_export)


def _add_book(commands) -> None:
    book = commands.add_parser("book", help="execute the notebooks and render the book")
    book_commands = book.add_subparsers(title="book commands")
    build = book_commands.add_parser("build", help="papermill every page, then jupyter-book build")
    build.add_argument(
        "--profile",
        choices=PROFILES,
        default=None,
        help="which results the pages show; " + DEFAULT_PROFILE_HELP,
    )
    build.add_argument(
        "--data-dir", type=Path, default=None, help="data directory passed to the pages"
    )
    build.add_argument("--book", type=Path, default=Path("book"))
    build.add_argument("--notebooks", type=Path, default=Path("notebooks"))
    build.add_argument(
        "--only",
        nargs="*",
        default=None,
        help="execute only these pages (e.g. 01_datasets); render all",
    )
    build.set_defaults(handler=_book_build)
    serve = book_commands.add_parser(
        "serve", help="serve the built book on 127.0.0.1 with a local kernel for Live code"
    )
    serve.add_argument("--book", type=Path, default=Path("book"))
    serve.add_argument("--notebooks", type=Path, default=Path("notebooks"))
    serve.add_argument("--port", type=int, default=8000, help="the book's port (default: 8000)")
    serve.add_argument(
        "--live",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="start a Jupyter server for the pages' Live code button (default: yes)",
    )
    serve.set_defaults(handler=_book_serve)


COMMON_PATHS = (
    ("--data-dir", "data directory (default: $EODREC_DATA or ./data)"),
    ("--results", "results directory (default: $EODREC_RESULTS or ./results)"),
    ("--cache-dir", "checkpoint directory (default: $EODREC_CACHE or ~/.cache/eodrec)"),
)


def _add_common(parser: argparse.ArgumentParser) -> None:
    for flag, help_text in COMMON_PATHS:
        parser.add_argument(flag, type=Path, default=None, help=help_text)


def _train(args: argparse.Namespace) -> int:
    from eodrec.config import make_config
    from eodrec.experiment import Experiment
    from eodrec.store import ResultsStore, results_root

    config = make_config(args.experiment, args.dataset, args.profile, args.set, args.preset)
    store = ResultsStore(args.results or results_root(config.profile))  # smoke: never committed
    experiment = Experiment(config, args.data_dir, store, args.cache_dir)
    result = experiment.run(resume=args.resume, rerun=args.rerun)
    summary = {key: result[key] for key in ("id", "selected_epoch", "test_metrics")}
    print(json.dumps({**summary, "path": str(experiment.store.path(result["id"]))}, indent=2))
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from eodrec.store import default_results_dir
    from eodrec.sweeps import Paths, grid_configs, run_sweep

    if args.workers < 1:
        raise ParameterError(f"--workers must be at least 1, got {args.workers}")
    configs = grid_configs(args.name, args.profile, args.dataset)
    paths = Paths(args.data_dir, args.results or default_results_dir(), args.cache_dir)
    report = run_sweep(configs, paths, args.scheduler, args.workers)
    print(json.dumps(asdict(report), indent=2))
    return 1 if report.failed else 0


def _runs(args: argparse.Namespace) -> int:
    from eodrec.store import ResultsStore

    rows = [
        {
            "id": r["id"],
            "model": r["model"],
            "dataset": r["dataset"],
            "profile": r["profile"],
            "selected_epoch": r["selected_epoch"],
            "wall_time_s": r["wall_time_s"],
            "metrics": r["test_metrics"],
        }
        for r in ResultsStore(args.results).runs()
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        metrics = row["metrics"]
        epoch = "-" if row["selected_epoch"] is None else row["selected_epoch"]  # a baseline
        print(
            f"{row['id']:<44} epoch {epoch:>3}  "
            f"P@10 {100 * metrics['P@10']:6.2f}  NDCG@10 {100 * metrics['NDCG@10']:6.2f}  "
            f"{row['wall_time_s'] / 60:6.1f} min"
        )
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from eodrec.runs import load_run

    run = load_run(args.run, args.results, args.data_dir, args.cache_dir)
    metrics = run.evaluate(args.split)
    if args.json:
        print(json.dumps({"id": args.run, "split": args.split, "metrics": metrics}, indent=2))
    else:
        for name, value in metrics.items():
            print(f"{name:>8}  {100 * value:.2f}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from eodrec.runs import load_run

    run = load_run(args.run, args.results, args.data_dir, args.cache_dir)
    print(run.predict(args.split, args.k, args.out))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from eodrec.bench import device_stages, evaluation, joint_step, train_step

    run = {
        "train-step": train_step.bench_train_step,
        "eval": evaluation.bench_eval,
        "joint-step": joint_step.bench_joint_step,
        "device-stages": device_stages.bench_device_stages,
    }[args.benchmark]
    # Training tunes the allocator (eodrec.memory), so the benchmark measures it that way too.
    result = run(dataset=args.dataset, data_dir=args.data_dir, malloc=True)
    if args.benchmark == "device-stages":  # page 05 shows it: stored beside Table 5's
        device_stages.store_stages(result)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            if not isinstance(value, dict | list):
                print(f"{key:>32}  {value}")
    return 0


def _bench_latency(args: argparse.Namespace) -> int:
    from eodrec.bench.device_floor import request_floor
    from eodrec.latency import RUNTIMES, bench_latency, latency_path
    from eodrec.store import atomic_write_json, default_results_dir

    result = bench_latency(
        args.dataset,
        args.profile,
        args.requests,
        tuple(args.runtimes or RUNTIMES),
        args.results,
        args.data_dir,
        args.cache_dir,
        tuple(args.models) if args.models else None,
    )
    result["floor"] = request_floor(result)
    out = args.out or latency_path(
        args.results or default_results_dir(), args.dataset, args.profile
    )
    atomic_write_json(out, result)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for row in result["rows"]:
            size = row["state_bytes"] if "state_bytes" in row else row["bundle_bytes"] or "-"
            print(
                f"{row['model']:<16} {row['runtime']:<10} p50 {row['per_request_p50_ms']:7.3f} ms  "
                f"{row['batch_ms_per_100']:8.2f} ms / 100  peak {row['peak_rss_mb']:7.1f} MB  "
                f"{'state' if 'state_bytes' in row else 'bundle'} {size}"
            )
        for r in (r for r in result["baseline_ratios"] if r["goal"] is not None):
            print(f"{r['model']} per 100: {r['times_faster']:.2f}x the teacher's speed on "
                  f"{r['versus_runtime']}, goal met: {r['goal_met']}")  # fmt: skip
        print(out)
    return 0


def _export(args: argparse.Namespace) -> int:
    from eodrec.export import export_run

    manifest = export_run(
        args.run, args.format, args.out, args.scoring, args.buckets,
        results=args.results, data_dir=args.data_dir, cache_dir=args.cache_dir, ops=args.ops,
    )  # fmt: skip
    print(json.dumps({k: v for k, v in manifest.items() if k != "provenance"}, indent=2))
    return 0


def _download(args: argparse.Namespace) -> int:
    from eodrec.data import download, resolve_data_dir

    dest = args.dest or resolve_data_dir(None)
    for path in download(dest, mirror=args.mirror):
        print(path)
    return 0


def _stats(args: argparse.Namespace) -> int:
    from eodrec.data import dataset_stats, load_dataset

    stats = dataset_stats(load_dataset(args.dataset, args.data_dir))
    if args.json:
        print(json.dumps(stats, indent=2))
    else:
        for key, value in stats.items():
            print(f"{key:>28}  {value}")
    return 0


def _compression_rate(args: argparse.Namespace) -> int:
    result = compression.compression_report(args.items, args.dim, args.codebooks, args.codewords)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"CR (Eq. 13) = {result['compression_rate']:.2f}  "
        f"({result['original_size']:,} -> {result['compressed_size']:,} numbers)"
    )
    uint8 = result.get("compositional_bytes_uint8")
    print(
        f"bytes: full fp32 table {result['full_table_bytes']:,}; codes+codebooks "
        + (f"{uint8:,} (uint8 codes), " if uint8 is not None else "")
        + f"{result['compositional_bytes_bitpacked']:,} (bit-packed codes)"
    )
    return 0


def _book_build(args: argparse.Namespace) -> int:
    from eodrec.book.build import PAGES, execute_pages, render_html

    parameters = {
        "profile": args.profile,
        "data_dir": str(args.data_dir.resolve()) if args.data_dir else None,
    }
    execute_pages(args.notebooks, args.book / PAGES, parameters, only=args.only)
    print(f"book: {render_html(args.book) / 'index.html'}")
    return 0


def _book_serve(args: argparse.Namespace) -> int:
    from eodrec.book.serve import live_book

    with live_book(args.book / "_build" / "html", args.notebooks, args.port, args.live) as book:
        print(f"book: {book.url}  (Ctrl-C stops)", flush=True)
        if args.live:
            print(f"Live code: a kernel from {book.jupyter_url} (token-protected)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
