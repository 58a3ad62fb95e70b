"""Table 5: prediction time per 100 sessions on on-device runtimes, every model in one run.

For each stored model of a dataset (teacher, student, OD-Rec, each baseline) and each runtime
(eager PyTorch, ExecuTorch with XNNPACK, ONNX Runtime) a fresh process on one thread loads the
model, runs 3 warm-up calls, then times ``repeats`` calls, each on the next 100 test sessions
(the same batches for every model), and reports the median, its peak resident memory and, for
a bundle, its top-20 on the whole test set. The parent checks that top-20 against eager
PyTorch's, tie-aware (:func:`same_topk`): identical codes give exactly tied scores, and
runtimes order ties differently. The student is measured twice: scoring by codebook (its own
:meth:`~eodrec.models.codes.Codebooks.score_codes`) and dense (rebuild the table, then one
product), as the paper's student scores. :func:`bench_scoring` times scoring alone.

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

from eodrec.checkpoint import (
    CheckpointError,
    default_cache_dir,
    load_checkpoint,
    load_selected_checkpoint,
    save_checkpoint,
)
from eodrec.config import ExperimentConfig, ParameterError, make_config
from eodrec.export import (
    SUFFIXES,
    DeviceModel,
    ExportError,
    export_model,
    load_bundle,
    pad_sessions,
    run_bundle,
    run_in_batches,
    save_program,
)
from eodrec.models.base import SessionRecommender
from eodrec.provenance import provenance
from eodrec.store import ResultsStore

RUNTIMES = ("eager", "executorch", "onnx")
SESSIONS_PER_CALL = 100
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
)


@dataclass(frozen=True)
class Cell:
    """One (model, runtime) measurement's inputs, handed to its process as JSON."""

    label: str
    run: str
    config: dict
    n_items: int
    runtime: str
    scoring: str
    bundle: str | None
    checkpoint: str
    inputs: str
    outputs: str
    repeats: int


def same_topk(values_a, ids_a, values_b, ids_b, atol: float = 1e-4) -> np.ndarray:
    """Per session: the same top-k up to ties. The scores by rank agree within ``atol`` and
    the items scored clearly above the k-th score are the same set; which of several tied
    items a runtime lists, and in which order, is free."""
    values_a, values_b = np.asarray(values_a), np.asarray(values_b)
    scores_agree = np.isclose(values_a, values_b, atol=atol, rtol=0).all(axis=1)
    kth = np.minimum(values_a[:, -1:], values_b[:, -1:])
    same = np.empty(len(values_a), dtype=bool)
    for row in range(len(values_a)):
        clear_a = set(np.asarray(ids_a)[row][values_a[row] > kth[row, 0] + atol].tolist())
        clear_b = set(np.asarray(ids_b)[row][values_b[row] > kth[row, 0] + atol].tolist())
        same[row] = clear_a == clear_b
    return scores_agree & same


def latency_path(results: Path, dataset: str, profile: str) -> Path:
    """Where ``eodrec bench latency`` stores a dataset's benchmark: beside the runs, in
    ``bench/`` (which :meth:`ResultsStore.runs` does not read)."""
    return Path(results) / "bench" / f"latency-{dataset}-{profile}.json"


def latency_configs(dataset: str, profile: str) -> list[tuple[str, ExperimentConfig, str]]:
    """(label, config, scoring) of every model Table 5 measures on ``dataset``."""
    return [
        (label, make_config(experiment, dataset, profile, overrides), scoring)
        for label, (experiment, overrides), scoring in LATENCY_MODELS
    ]


def bench_latency(
    dataset: str,
    profile: str = "quick",
    repeats: int = 20,
    runtimes: tuple[str, ...] = RUNTIMES,
    results: Path | None = None,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
    models: tuple[str, ...] | None = None,
    progress: bool = True,
) -> dict:
    """Every stored model of Table 5 (or those labelled in ``models``) on every runtime:
    latency, memory, bundle bytes, top-20 equality. A model with no stored result is listed
    under ``missing``; one whose checkpoint is not on this machine is timed with its initial
    weights (the time depends on shapes, not values) and says so in ``weights``."""
    from eodrec.data.splits import load_splits

    if repeats < 1:
        raise ParameterError(f"repeats must be at least 1, got {repeats}")
    unknown = set(runtimes) - set(RUNTIMES)
    if unknown:
        raise ParameterError(f"unknown runtimes {sorted(unknown)}; runtimes: {RUNTIMES}")
    store = ResultsStore(results)
    chosen = [e for e in latency_configs(dataset, profile) if models is None or e[0] in models]
    stored = {c.run_id: store.find(c) for _, c, _ in chosen}
    present = [entry for entry in chosen if stored[entry[1].run_id] is not None]
    missing = [run_id for run_id, found in stored.items() if found is None]
    start, work = time.perf_counter(), Path(tempfile.mkdtemp(prefix="eodrec-latency-"))
    data, splits = load_splits(chosen[0][1].data, data_dir)
    test = splits.test
    length = max(len(s) for s in test.sequences)
    inputs = work / "inputs.npy"
    np.save(inputs, pad_sessions(test.sequences, length).numpy())
    bench = _ModelBench(
        work, inputs, torch.from_numpy(np.load(inputs)), length, data.n_items, repeats,
        Path(cache_dir or default_cache_dir()),
    )  # fmt: skip
    rows, student_shape = [], None
    bar = tqdm(total=len(present) * len(runtimes), desc=f"latency {dataset}", disable=not progress)
    for label, config, scoring in present:
        model, weights = bench.load(config, stored[config.run_id])
        if label == "Student":
            table = model.item_table
            student_shape = (model.n_items, model.dim, table.n_codebooks, table.n_codewords)
        for row in bench.rows(label, config, scoring, model, weights, runtimes):
            rows.append(row)
            bar.update()
    bar.close()
    return {
        "benchmark": "latency",
        "dataset": dataset,
        "profile": profile,
        "sessions_per_call": SESSIONS_PER_CALL,
        "length": length,
        "test_sessions": len(test.sequences),
        "repeats": repeats,
        "threads": 1,
        "rows": rows,
        "ratios": latency_ratios(rows),
        "scoring": _scoring_at(student_shape, repeats),
        "missing": missing,
        "wall_time_s": time.perf_counter() - start,
        "provenance": provenance(profile, data.checksums, runtimes=_runtime_versions()),
    }


@dataclass
class _ModelBench:
    """Times one model at a time on each runtime, every call in a fresh process, over the same
    padded test sessions; checks each bundle's top-20 against eager PyTorch's."""

    work: Path
    inputs: Path
    items: torch.Tensor
    length: int
    n_items: int
    repeats: int
    cache: Path

    def load(self, config: ExperimentConfig, result: dict) -> tuple[SessionRecommender, str]:
        """The run's selected model, or its initial weights where the checkpoint is not here
        (the time depends on shapes, not values), and which of the two it is."""
        from eodrec.models.build import build_model, restore_model

        try:
            best = load_selected_checkpoint(result, self.cache)
            model, weights = restore_model(config, self.n_items, best), "trained"
        except CheckpointError as error:
            model, weights = build_model(config, self.n_items).eval(), f"initial ({error})"
        save_checkpoint(
            self._checkpoint(config),
            {"config_hash": config.config_hash(), "model": model.state_dict()},
        )
        return model, weights

    def rows(self, label, config, scoring, model, weights, runtimes) -> Iterator[dict]:
        """One row per runtime: latency, memory, bundle bytes, top-20 equality."""
        reference = _topk(DeviceModel(model, TOP_K, scoring), self.items)
        for runtime in runtimes:
            bundle, bundle_bytes = None, None
            if runtime != "eager":
                program = export_model(model, runtime, self.length, TOP_K, scoring)
                name = f"{config.run_id}-{scoring}{SUFFIXES[runtime]}"
                bundle, bundle_bytes = str(save_program(program, self.work / name)), len(program)
            outputs = self.work / f"{config.run_id}-{scoring}-{runtime}.npz"
            cell = Cell(
                label, config.run_id, config.to_dict(), self.n_items, runtime, scoring, bundle,
                str(self._checkpoint(config)), str(self.inputs), str(outputs), self.repeats,
            )  # fmt: skip
            row = {"model": label, "run": config.run_id, "runtime": runtime, "scoring": scoring}
            row.update(_measure_in_fresh_process(cell), bundle_bytes=bundle_bytes, weights=weights)
            if runtime != "eager":
                got = np.load(outputs)
                equal = same_topk(reference[0], reference[1], got["values"], got["ids"])
                row.update(topk_sessions=int(len(equal)), topk_equal=int(equal.sum()))
            yield row

    def _checkpoint(self, config: ExperimentConfig) -> Path:
        return self.work / f"{config.run_id}.pt"


def latency_ratios(rows: list[dict]) -> list[dict]:
    """Per runtime, the headline ratios of Table 5: OD-Rec's and the teacher's median over
    the student's (how many times faster the student is), and dense over factorized."""
    ratios = []
    for runtime in dict.fromkeys(r["runtime"] for r in rows):
        median = {r["model"]: r["median_ms"] for r in rows if r["runtime"] == runtime}
        student = median.get("Student")
        for other in ("OD-Rec", "Teacher", "Student (dense)"):
            if student and other in median:
                ratios.append(
                    {"runtime": runtime, "versus": other, "times_faster": median[other] / student}
                )
    return ratios


def _topk(model: DeviceModel, items: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
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


def measure(cell: Cell) -> dict:
    """In the measuring process: load, warm up, time ``repeats`` calls of 100 sessions, then
    (for a bundle) write its top-20 on every input session."""
    from eodrec.models.build import restore_model

    torch.set_num_threads(1)
    baseline_mb = _peak_rss_mb()
    items = torch.from_numpy(np.load(cell.inputs))
    if cell.runtime == "eager":
        config = ExperimentConfig.from_dict(cell.config)
        best = load_checkpoint(Path(cell.checkpoint), config.config_hash())
        model = DeviceModel(restore_model(config, cell.n_items, best), TOP_K, cell.scoring)

        def call(batch):
            with torch.no_grad():
                return model(batch)
    else:
        runtime = load_bundle(Path(cell.bundle), threads=1)

        def call(batch):
            return run_bundle(runtime, batch)

    batches = items.split(SESSIONS_PER_CALL)
    batches = [b for b in batches if len(b) == SESSIONS_PER_CALL] or [items]
    for i in range(WARMUP_CALLS):
        call(batches[i % len(batches)])
    times = []
    for i in range(cell.repeats):
        batch = batches[i % len(batches)]
        start = time.perf_counter()
        call(batch)
        times.append((time.perf_counter() - start) * 1e3)
    if cell.runtime != "eager":
        values, ids = run_in_batches(call, items)
        np.savez(cell.outputs, values=values.numpy(), ids=ids.numpy())
    return {
        "median_ms": statistics.median(times),
        "min_ms": min(times),
        "max_ms": max(times),
        "calls": len(times),
        "peak_rss_mb": _peak_rss_mb(),
        "rss_before_model_mb": baseline_mb,
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


def _scoring_at(student_shape: tuple[int, int, int, int] | None, repeats: int) -> list[dict]:
    """:func:`bench_scoring` at the stored student's (|V|, N, M, K), and at M=4, K=32."""
    if student_shape is None:
        return []
    n_items, dim, m, k = student_shape
    return [
        bench_scoring(n_items, dim, *shape, repeats) for shape in dict.fromkeys([(m, k), (4, 32)])
    ]


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
