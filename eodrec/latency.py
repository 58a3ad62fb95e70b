"""Table 5 as a phone runs it: every stored model on on-device runtimes, in one run.

For each stored model of a dataset (teacher, student, OD-Rec, each baseline) and each runtime
(eager PyTorch, ExecuTorch with XNNPACK, ONNX Runtime) a fresh process on one thread loads the
model (a bundle built for length buckets, :mod:`eodrec.export`) and measures

* per request: batch 1, each of :data:`REQUESTS` test sessions (the same for every model) at
  its bucket, each call timed: p50, p90, p99;
* batch: every test session at its bucket, :data:`SESSIONS_PER_CALL` sessions of one bucket
  per call: milliseconds per 100 sessions over the whole test set;
* its peak resident memory,

and writes its top-20s. The parent checks them against eager PyTorch's on every session padded
to the longest test session, tie-aware (:func:`same_topk`): identical codes give exactly tied
scores, and runtimes order ties differently. The student is measured twice: scoring by
codebook (:class:`~eodrec.export.CodeScores`) and dense (rebuild the table, then one product),
as the paper's student scores; teacher and student also with :mod:`eodrec.device_ops`'s kernels
(``... (eodrec ops)``). :func:`bench_scoring` times scoring alone. The stored simple baselines
are timed in the same run, on numpy (:mod:`eodrec.latency_baselines`).

Timings compare only within one run on one machine; the paper's seconds come from an Android
emulator, so the book compares ratios.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from eodrec.bundles import load_bundle, run_bucketed, run_in_batches
from eodrec.checkpoint import (
    CheckpointError,
    default_cache_dir,
    load_checkpoint,
    load_selected_checkpoint,
    save_checkpoint,
)
from eodrec.config import ExperimentConfig, ParameterError, make_config
from eodrec.device_ops import unavailable_reason
from eodrec.export import (
    DeviceModel,
    ExportError,
    bucket_of,
    buckets_for,
    export_model,
    pad_sessions,
    save_bundle,
)
from eodrec.models.base import SessionRecommender
from eodrec.models.student import CHOSEN_RECIPE
from eodrec.provenance import provenance
from eodrec.store import ResultsStore

RUNTIMES = ("eager", "executorch", "onnx")
SESSIONS_PER_CALL = 100
REQUESTS = 1000  # single-session requests timed per model: p99 rests on 10 of them
TOP_K = 20
WARMUP_CALLS = 3
# What Table 5 measures, as (label, train command arguments, scoring).
LATENCY_MODELS = (
    ("GRU4Rec", ("teacher", ["backbone=gru4rec"]), "model"),
    ("NARM", ("teacher", ["backbone=narm"]), "model"),
    ("STAMP", ("teacher", ["backbone=stamp"]), "model"),
    ("SR-GNN", ("teacher", ["backbone=srgnn"]), "model"),
    ("SASRec", ("teacher", ["backbone=sasrec"]), "model"),
    ("Teacher", ("teacher", []), "model"),
    ("OD-Rec", ("odrec", []), "model"),
    ("Student (dense)", ("student", []), "dense"),
    ("Student", ("student", []), "model"),
    ("distill-codes", ("student", list(CHOSEN_RECIPE)), "model"),  # this project's recipe
)
KERNEL_MODELS, KERNEL_SUFFIX = ("Teacher", "Student"), " (eodrec ops)"  # also with its kernels


@dataclass(frozen=True)
class Cell:
    """One (model, runtime) measurement's inputs, handed to its process as JSON."""

    label: str
    run: str
    config: dict
    n_items: int
    runtime: str
    scoring: str
    ops: str
    bundle: str | None
    buckets: list[int]
    checkpoint: str
    sessions: str
    requests: int
    outputs: str


def same_topk(values_a, ids_a, values_b, ids_b, atol: float = 1e-4) -> np.ndarray:
    """Per session: the same top-k up to ties. The scores by rank agree within ``atol``, and
    each item one side scores clearly (by more than ``atol``) above the k-th score is in the
    other side's top-k; which of several tied items a runtime lists, and in which order, is
    free. (Comparing the two "clearly above" sets instead would fail an item whose score sits
    within float noise of the ``atol`` margin itself.)"""
    values_a, values_b = np.asarray(values_a), np.asarray(values_b)
    ids_a, ids_b = np.asarray(ids_a), np.asarray(ids_b)
    scores_agree = np.isclose(values_a, values_b, atol=atol, rtol=0).all(axis=1)
    kth = np.minimum(values_a[:, -1:], values_b[:, -1:])
    same = np.empty(len(values_a), dtype=bool)
    for row in range(len(values_a)):
        clear_a = set(ids_a[row][values_a[row] > kth[row, 0] + atol].tolist())
        clear_b = set(ids_b[row][values_b[row] > kth[row, 0] + atol].tolist())
        same[row] = clear_a <= set(ids_b[row].tolist()) and clear_b <= set(ids_a[row].tolist())
    return scores_agree & same


def latency_path(results: Path, dataset: str, profile: str) -> Path:
    """Where ``eodrec bench latency`` stores a dataset's benchmark: beside the runs, in
    ``bench/`` (which :meth:`ResultsStore.runs` does not read)."""
    return Path(results) / "bench" / f"latency-{dataset}-{profile}.json"


def kernel_latency_path(results: Path, dataset: str, profile: str) -> Path:
    """Page 05's run of :data:`KERNEL_MODELS` and OD-Rec on ExecuTorch, beside Table 5's."""
    return Path(results) / "bench" / f"latency-kernels-{dataset}-{profile}.json"


def latency_configs(dataset: str, profile: str) -> list[tuple[str, ExperimentConfig, str]]:
    """(label, config, scoring) of every model Table 5 measures on ``dataset``."""
    return [
        (label, make_config(experiment, dataset, profile, overrides), scoring)
        for label, (experiment, overrides), scoring in LATENCY_MODELS
    ]


def request_indices(n_sessions: int, requests: int) -> np.ndarray:
    """The test sessions timed one by one: ``requests`` of them evenly spaced over the test
    set, the same for every model."""
    return np.linspace(0, n_sessions - 1, min(requests, n_sessions)).round().astype(int)


def bench_latency(
    dataset: str,
    profile: str = "quick",
    requests: int = REQUESTS,
    runtimes: tuple[str, ...] = RUNTIMES,
    results: Path | None = None,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
    models: tuple[str, ...] | None = None,
    progress: bool = True,
) -> dict:
    """Every stored model of Table 5 (or those labelled in ``models``) on every runtime:
    per-request percentiles, batch time, memory, bundle bytes, top-20 equality; then each
    stored simple baseline, refitted, on numpy (:mod:`eodrec.latency_baselines`). A model with
    no stored result is listed under ``missing``; one whose checkpoint is not on this machine
    is timed with its initial weights (the time depends on shapes, not values) and says so in
    ``weights``."""
    from eodrec import latency_baselines as simple
    from eodrec.data.splits import load_splits

    if requests < 1:
        raise ParameterError(f"requests must be at least 1, got {requests}")
    unknown = set(runtimes) - set(RUNTIMES)
    if unknown:
        raise ParameterError(f"unknown runtimes {sorted(unknown)}; runtimes: {RUNTIMES}")
    simple.check_models(models)
    store = ResultsStore(results)
    chosen = [e for e in latency_configs(dataset, profile) if models is None or e[0] in models]
    stored = {c.run_id: store.find(c) for _, c, _ in chosen}
    present = [entry for entry in chosen if stored[entry[1].run_id] is not None]
    missing = [run_id for run_id, found in stored.items() if found is None]
    baselines, missing_baselines = simple.stored_baselines(store, dataset, profile, models)
    start, work = time.perf_counter(), Path(tempfile.mkdtemp(prefix="eodrec-latency-"))
    data_config = (chosen[0][1] if chosen else make_config("teacher", dataset, profile)).data
    data, splits = load_splits(data_config, data_dir)
    test = [list(s) for s in splits.test.sequences]
    longest = max(len(s) for s in test)
    kernels_skipped = unavailable_reason(cache_dir) if "executorch" in runtimes else None
    bench = _ModelBench(
        work, test, buckets_for(longest), data.n_items, requests,
        Path(cache_dir or default_cache_dir()), kernels_skipped is None,
    )  # fmt: skip
    (work / "sessions.json").write_text(json.dumps(test))
    rows, student = [], None
    total = len(present) * len(runtimes) + len(baselines)
    bar = tqdm(total=total, desc=f"latency {dataset}", disable=not progress)
    for label, config, scoring in present:
        model, weights = bench.load(config, stored[config.run_id])
        if label == "Student":
            student = _student_shape(model)
        for row in bench.rows(label, config, scoring, model, weights, runtimes):
            rows.append(row)
            bar.update()
    rows += simple.BaselineBench(
        work, test, requests, store, data_config, splits, data.n_items, data_dir
    ).rows(baselines, bar)
    bar.close()
    return {
        "benchmark": "latency",
        "dataset": dataset,
        "profile": profile,
        "sessions_per_call": SESSIONS_PER_CALL,
        "buckets": list(bench.buckets),
        "bucket_sessions": _bucket_counts(test, bench.buckets),
        "longest": longest,
        "test_sessions": len(test),
        "requests": min(requests, len(test)),
        "threads": 1,
        "rows": rows,
        "ratios": latency_ratios(rows),
        "baseline_ratios": simple.baseline_ratios(rows),
        "student": student,
        "scoring": _scoring_at(student),
        "missing": missing + missing_baselines,
        "kernels_skipped": kernels_skipped,  # why no (eodrec ops) rows, where there are none
        "wall_time_s": time.perf_counter() - start,
        "provenance": provenance(profile, data.checksums, runtimes=_runtime_versions()),
    }


def _bucket_counts(sequences: list, buckets: tuple[int, ...]) -> dict[str, int]:
    counts = dict.fromkeys(map(str, buckets), 0)
    for sequence in sequences:
        counts[str(bucket_of(len(sequence), buckets))] += 1
    return counts


def _student_shape(model: SessionRecommender) -> dict:
    """What the device floor needs of the student: its table's and encoder's shapes."""
    table, backbone = model.item_table, model.config
    return {
        "n_items": model.n_items,
        "dim": model.dim,
        "n_codebooks": table.n_codebooks,
        "n_codewords": table.n_codewords,
        "n_layers": backbone.n_layers,
        "ffn_dim": backbone.inner_dim,
    }


@dataclass
class _ModelBench:
    """Times one model at a time on each runtime, every call in a fresh process, over the same
    test sessions; checks each bundle's top-20s against eager PyTorch's."""

    work: Path
    test: list
    buckets: tuple[int, ...]
    n_items: int
    requests: int
    cache: Path
    kernels: bool  # whether eodrec's kernels run here: the (eodrec ops) rows

    def load(self, config: ExperimentConfig, result: dict) -> tuple[SessionRecommender, str]:
        """The run's selected model, or its initial weights where the checkpoint is not here
        (the time depends on shapes, not values), and which of the two it is."""
        from eodrec.models.build import build_model, restore_model

        try:
            best = load_selected_checkpoint(result, self.cache)
            model, weights = restore_model(config, self.n_items, best), "trained"
        except CheckpointError as error:
            model, weights = build_model(config, self.n_items).eval(), f"initial ({error})"
        state = {"config_hash": config.config_hash(), "model": model.state_dict()}
        save_checkpoint(self._checkpoint(config), state)
        return model, weights

    def rows(self, label, config, scoring, model, weights, runtimes) -> Iterator[dict]:
        """One row per runtime: latency, memory, bundle bytes, top-20 equality; and one on
        ExecuTorch with eodrec's kernels for :data:`KERNEL_MODELS`."""
        reference = _topk(DeviceModel(model, TOP_K, scoring), self.test)
        cells = [(label, runtime, "aten") for runtime in runtimes]
        if self.kernels and label in KERNEL_MODELS and "executorch" in runtimes:
            cells.append((label + KERNEL_SUFFIX, "executorch", "eodrec"))
        for name, runtime, ops in cells:
            row = self._row(name, config, scoring, model, runtime, ops, reference)
            yield row | {"weights": weights}

    def _row(self, label, config, scoring, model, runtime, ops, reference) -> dict:
        stem, bundle_bytes = self.work / f"{config.run_id}-{scoring}-{ops}", None
        if runtime != "eager":
            files = export_model(model, runtime, self.buckets, TOP_K, scoring, ops)
            save_bundle(files, stem)
            bundle_bytes = sum(len(b) for b in files.values())
        outputs = self.work / f"{config.run_id}-{scoring}-{ops}-{runtime}.npz"
        cell = Cell(
            label, config.run_id, config.to_dict(), self.n_items, runtime, scoring, ops,
            str(stem), list(self.buckets), str(self._checkpoint(config)),
            str(self.work / "sessions.json"), self.requests, str(outputs),
        )  # fmt: skip
        row = {"model": label, "run": config.run_id, "runtime": runtime, "scoring": scoring}
        row.update(_measure_in_fresh_process(cell), bundle_bytes=bundle_bytes, ops=ops)
        got = np.load(outputs)
        requested = request_indices(len(self.test), self.requests)
        batch = same_topk(*reference, got["values"], got["ids"])
        single = same_topk(
            reference[0][requested], reference[1][requested],
            got["request_values"], got["request_ids"],
        )  # fmt: skip
        row.update(
            topk_sessions=int(len(batch)), topk_equal=int(batch.sum()),
            request_topk_sessions=int(len(single)), request_topk_equal=int(single.sum()),
        )  # fmt: skip
        return row

    def _checkpoint(self, config: ExperimentConfig) -> Path:
        return self.work / f"{config.run_id}.pt"


def latency_ratios(rows: list[dict]) -> list[dict]:
    """Per runtime and measure (per-request p50, batch of 100 at buckets), the headline ratios:
    OD-Rec's and the teacher's time over the student's (how many times faster the student
    is), dense over factorized, and, with eodrec's kernels, the teacher's over the student's
    (``student`` names the row divided by)."""
    pairs = [("Student", other) for other in ("OD-Rec", "Teacher", "Student (dense)")]
    pairs.append(("Student" + KERNEL_SUFFIX, "Teacher" + KERNEL_SUFFIX))
    ratios = []
    for runtime in dict.fromkeys(r["runtime"] for r in rows):
        for measure in ("per_request_p50_ms", "batch_ms_per_100"):
            ms = {r["model"]: r[measure] for r in rows if r["runtime"] == runtime}
            for student, other in pairs:
                if student in ms and other in ms:
                    ratios.append(
                        {"runtime": runtime, "measure": measure, "versus": other,
                         "student": student, "times_faster": ms[other] / ms[student]}
                    )  # fmt: skip
    return ratios


def _topk(model: DeviceModel, sequences: list) -> tuple[np.ndarray, np.ndarray]:
    """Eager PyTorch's top-k of every session, padded to the longest: the reference."""
    items = pad_sessions(sequences, max(len(s) for s in sequences))
    with torch.no_grad():
        values, ids = run_in_batches(model, items)
    return values.numpy(), ids.numpy()


def _measure_in_fresh_process(cell: Cell) -> dict:
    """Run :func:`measure` in a new interpreter: its own thread setting and peak memory."""
    completed = subprocess.run(
        [sys.executable, "-m", "eodrec.latency", json.dumps(cell.__dict__)],
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0:
        raise ExportError(
            f"measuring {cell.label} on {cell.runtime} failed: "
            f"{completed.stderr.strip().splitlines()[-1] if completed.stderr.strip() else '?'}"
        )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _load_call(cell: Cell):
    """The measured thing: eager ``DeviceModel`` under ``no_grad``, or the loaded bundle."""
    from eodrec.models.build import restore_model

    if cell.runtime != "eager":
        return load_bundle(Path(cell.bundle), cell.runtime, cell.buckets, 1, cell.ops)
    config = ExperimentConfig.from_dict(cell.config)
    best = load_checkpoint(Path(cell.checkpoint), config.config_hash())
    model = DeviceModel(restore_model(config, cell.n_items, best), TOP_K, cell.scoring)

    def call(items):
        with torch.no_grad():
            return model(items)

    return call


def measure(cell: Cell) -> dict:
    """In the measuring process: load; warm up every shape; time each request alone, then the
    whole test set in batches at its buckets; write both top-20s."""
    torch.set_num_threads(1)
    baseline_mb = _peak_rss_mb()
    sequences = json.loads(Path(cell.sessions).read_text())
    call = _load_call(cell)
    for length in cell.buckets:
        for batch in (1, SESSIONS_PER_CALL):
            for _ in range(WARMUP_CALLS):
                call(torch.ones(batch, length, dtype=torch.int64))
    times, request_values, request_ids = [], [], []
    for index in request_indices(len(sequences), cell.requests):
        sequence = sequences[index]
        items = pad_sessions([sequence], bucket_of(len(sequence), cell.buckets))
        start = time.perf_counter()
        values, ids = call(items)
        times.append((time.perf_counter() - start) * 1e3)
        request_values.append(np.asarray(values[0]))
        request_ids.append(np.asarray(ids[0]))
    start = time.perf_counter()
    values, ids = run_bucketed(call, sequences, cell.buckets, SESSIONS_PER_CALL)
    batch_s = time.perf_counter() - start
    np.savez(
        cell.outputs, values=values, ids=ids,
        request_values=np.stack(request_values), request_ids=np.stack(request_ids),
    )  # fmt: skip
    return timing_record(times, batch_s, len(sequences), baseline_mb)


def timing_record(times: list[float], batch_s: float, n_sessions: int, before_mb: float) -> dict:
    """A row's timings, for a neural model and a baseline alike: the per-request percentiles
    of ``times`` (ms), the batch time per 100 of ``n_sessions`` sessions, and memory."""
    p50, p90, p99 = np.percentile(times, [50, 90, 99]).tolist()
    return {
        "per_request_p50_ms": p50,
        "per_request_p90_ms": p90,
        "per_request_p99_ms": p99,
        "per_request_mean_ms": statistics.fmean(times),
        "batch_ms_per_100": batch_s * 1e3 * SESSIONS_PER_CALL / n_sessions,
        "peak_rss_mb": _peak_rss_mb(),
        "rss_before_model_mb": before_mb,
    }


def _peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM). Not ``ru_maxrss``: Linux carries that over
    ``exec`` from the parent, so a child would report its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_scoring(
    n_items: int, dim: int, n_codebooks: int, n_codewords: int, repeats: int = 20
) -> dict:
    """Scoring alone for 100 sessions on one thread, eager: the teacher's dense product with its
    (|V|, N) table, the student rebuilding its table then the same product, and the student
    scoring by codebook. Random values; the times depend on shapes only."""
    from eodrec.models.codes import Codebooks

    torch.set_num_threads(1)
    torch.manual_seed(0)
    sessions = torch.randn(SESSIONS_PER_CALL, dim)
    table = torch.randn(n_items + 1, dim)
    codebooks = Codebooks(n_codebooks, n_codewords, dim, 0.1)
    codes = torch.randint(0, n_codewords, (n_items + 1, n_codebooks), dtype=torch.uint8)

    def student_dense():
        return sessions @ codebooks.compose_codes(codes).T

    variants = {
        "teacher_dense": lambda: sessions @ table.T,
        "student_dense": student_dense,
        "student_factorized": lambda: codebooks.score_codes(sessions, codes),
    }
    with torch.no_grad():
        same = torch.allclose(student_dense(), variants["student_factorized"](), atol=1e-4)
        times = {name: [] for name in variants}
        for _ in range(WARMUP_CALLS):
            for fn in variants.values():
                fn()
        for _ in range(repeats):  # interleaved: every variant sees the same machine load
            for name, fn in variants.items():
                start = time.perf_counter()
                fn()
                times[name].append((time.perf_counter() - start) * 1e3)
    median = {name: statistics.median(t) for name, t in times.items()}
    return {
        "n_items": n_items,
        "dim": dim,
        "n_codebooks": n_codebooks,
        "n_codewords": n_codewords,
        "median_ms": median,
        "factorized_equals_dense": bool(same),
        "factorized_vs_teacher_dense": median["teacher_dense"] / median["student_factorized"],
        "factorized_vs_student_dense": median["student_dense"] / median["student_factorized"],
    }


def _scoring_at(student: dict | None) -> list[dict]:
    """:func:`bench_scoring` at the stored student's (|V|, N, M, K), and at M=4, K=32."""
    if student is None:
        return []
    shapes = dict.fromkeys([(student["n_codebooks"], student["n_codewords"]), (4, 32)])
    return [bench_scoring(student["n_items"], student["dim"], *shape) for shape in shapes]


def _runtime_versions() -> dict[str, str]:
    from importlib import metadata

    versions = {}
    for package in ("executorch", "onnxruntime"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


if __name__ == "__main__":
    print(json.dumps(measure(Cell(**json.loads(sys.argv[1])))))
