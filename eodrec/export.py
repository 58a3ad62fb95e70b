"""On-device bundles: a trained recommender exported as a device runs it.

:class:`DeviceModel` is the whole on-device computation: right-padded item ids in, the top-k
recommended items out, the padding id never among them. The student's bundle holds its codes
and codebooks and scores by codebook (:class:`CodeScores`), so no |V| x N table exists
anywhere in it; every other model carries its full table. ExecuTorch with the XNNPACK backend
(what an Android app loads) is the on-device runtime; ONNX Runtime is a second, different
runtime. Both are optional dependencies (``pip install -e '.[device]'``).

A phone scores one session at a time at its own length, so a bundle is built for several
static session lengths (*buckets*, :func:`buckets_for`) and two batch sizes, 1 and
:data:`EXAMPLE_BATCH`: the caller pads each session to the smallest bucket that holds it
(:func:`bucket_of`). Static shapes because XNNPACK refuses reshapes with two dynamic
dimensions and torch.export specializes nn.GRU's length. An ExecuTorch bundle is one program
with a method per (batch, length), its constants stored once; ONNX has one graph per file, so
an ONNX bundle is one file per length with a dynamic batch. :mod:`eodrec.bundles` runs them.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from eodrec import device_ops
from eodrec.atomic import atomic_path
from eodrec.data.batch import Batch
from eodrec.metrics import PADDING_ID
from eodrec.models.base import SessionRecommender
from eodrec.models.codes import CompositionalItemTable

FORMATS = ("executorch", "onnx")
SUFFIXES = {"executorch": ".pte", "onnx": ".onnx"}
# "model": the model's own scoring (factorized by codebook for the student); "dense": every
# item's embedding first, then one product with the (|V|, N) table, as the paper's student.
SCORINGS = ("model", "dense")
# "aten": PyTorch's own operators only; "eodrec": the student's scoring and the top-k by this
# package's operators (:mod:`eodrec.device_ops`), whose ExecuTorch kernels are built from C++.
OPS = ("aten", "eodrec")
EXAMPLE_BATCH = 100  # the paper's unit: prediction time per 100 sessions
BATCHES = (1, EXAMPLE_BATCH)  # one request, and the paper's batch
SMALLEST_BUCKET = 8  # about the mean session length of Tmall and RetailRocket
INSTALL_HINT = "install it with `pip install -e '.[device]'`"


class ExportError(RuntimeError):
    """A model that cannot be exported, or a runtime that is not installed."""


class CodeScores(nn.Module):
    """The student's scores by codebook (B, N) -> (B, n_items + 1), in ops that ExecuTorch runs
    fast: theta . e_v = sum_m (A theta)[m*K + c_v^m], one product with the M*K codewords, then
    row lookups of it added.

    The lookups are what costs: ExecuTorch runs ``embedding`` in a portable kernel, about
    0.13 ms per 40k rows on one thread. So codebooks go in pairs where that saves work: each
    call first sums the K^2 pairs (A_m theta)[c] + (A_m' theta)[c'] (a lookup of K^2 rows), and
    each item then looks up one row per pair, half as many. A pair is worth it when K^2 is
    below the item count. Lookups are ``embedding`` calls (``index_select``, broadcast adds and
    per-call conversion of ``uint8`` codes run in slower kernels). The rows are stored once as
    ``int32``, 4 bytes per lookup.

    With ``ops="eodrec"`` the lookups and sums are one call of ``eodrec::code_scores``, each
    item's M rows stored together, and no pairs; :meth:`top` scores and ranks in one pass."""

    def __init__(self, table: CompositionalItemTable, ops: str = "aten") -> None:
        super().__init__()
        codebooks = table.codebooks
        codes = table.codes.long()  # (n_items + 1, M)
        M, K = codebooks.n_codebooks, codebooks.n_codewords
        self.ops = ops
        self.paired = ops == "aten" and M > 1 and K * K < codes.shape[0]
        if self.paired:
            rows, sum_rows = _paired_rows(codes, M, K)
            self.register_buffer("sum_rows", sum_rows.T.contiguous().to(torch.int32))
        else:
            rows = codes + codebooks.offsets()  # (n_items + 1, M) rows of A
        # aten: one lookup per row of ``rows``; eodrec: each item's M rows together, as the
        # kernel reads them
        layout = rows if ops == "eodrec" else rows.T
        self.register_buffer("rows", layout.contiguous().to(torch.int32))
        self.codewords = codebooks.codewords  # (M*K, N), shared with the model

    def forward(self, session_vectors: torch.Tensor) -> torch.Tensor:
        per_row = self.codewords @ session_vectors.T  # (M*K, B): A theta
        if self.ops == "eodrec":
            return device_ops.code_scores(per_row, self.rows)
        if self.paired:
            zero_row = F.pad(per_row, (0, 0, 0, 1))  # an odd codebook's rows pair with it
            per_row = _sum_of_lookups(self.sum_rows, zero_row)
        return _sum_of_lookups(self.rows, per_row).T  # (B, n_items + 1)

    def top(self, session_vectors: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The k best items' (scores, ids) by ``eodrec::code_top_k``, never the padding."""
        per_row = self.codewords @ session_vectors.T
        return device_ops.code_top_k(per_row, self.rows, k, PADDING_ID + 1)


def _sum_of_lookups(rows: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """sum_j table[rows[j]]: one ``embedding`` per row of ``rows``, added in turn (one lookup
    of all rows and a sum over them is as fast on ExecuTorch, and 4x slower on ONNX Runtime)."""
    total = F.embedding(rows[0], table)
    for more in rows[1:]:
        total = total + F.embedding(more, table)
    return total


def _paired_rows(codes: torch.Tensor, M: int, K: int) -> tuple[torch.Tensor, torch.Tensor]:
    """For :class:`CodeScores`, codebooks (0, 1), (2, 3), ... in pairs: each item's rows in the
    table of pair sums (n_items + 1, ceil(M/2)), and the two rows of A theta that make each row
    of that table; an odd last codebook's rows pair with a zero row, M*K."""
    pairs = M // 2
    c = torch.arange(K)
    first = torch.arange(pairs)[:, None, None] * 2 * K + c[None, :, None]  # (pairs, K, 1)
    second = first.transpose(1, 2) + K  # (pairs, 1, K)
    sum_rows = [torch.stack(torch.broadcast_tensors(first, second), dim=-1).reshape(-1, 2)]
    pair_sums = codes[:, 0 : 2 * pairs : 2] * K + codes[:, 1 : 2 * pairs : 2]
    rows = [pair_sums + torch.arange(pairs) * K * K]
    if M % 2:
        sum_rows.append(torch.stack([(M - 1) * K + c, torch.full((K,), M * K)], dim=-1))
        rows.append(codes[:, -1:] + pairs * K * K)
    return torch.cat(rows, dim=1), torch.cat(sum_rows)


class DeviceModel(nn.Module):
    """Padded item ids (B, L) -> (scores (B, k), item ids (B, k)) of the top-k items."""

    def __init__(
        self, model: SessionRecommender, k: int = 20, scoring: str = "model", ops: str = "aten"
    ) -> None:
        super().__init__()
        if not 1 <= k <= model.n_items:
            raise ValueError(f"k must be in [1, {model.n_items}], got {k}")
        if scoring not in SCORINGS:
            raise ValueError(f"scoring must be one of {SCORINGS}, got {scoring!r}")
        if ops not in OPS:
            raise ValueError(f"ops must be one of {OPS}, got {ops!r}")
        self.model = model.eval()
        self.k = k
        self.scoring = scoring
        self.ops = ops
        table = model.item_table
        factorized = isinstance(table, CompositionalItemTable) and not table.mixing
        self.code_scores = CodeScores(table, ops) if factorized and scoring == "model" else None

    def forward(self, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.ops == "eodrec" and self.code_scores is not None:  # one pass, no (B, V) scores
            return self.code_scores.top(self.encode(items), self.k)
        return self.top(self.scores(items))

    def encode(self, items: torch.Tensor) -> torch.Tensor:
        """Padded item ids (B, L) -> session representations (B, N): the encoder's stage."""
        mask = items != PADDING_ID
        lengths = mask.sum(dim=1)
        batch = Batch(items, mask, lengths, lengths, lengths)  # targets and index are unused
        return self.model.encode(batch)

    def scores(self, items: torch.Tensor) -> torch.Tensor:
        """Padded item ids (B, L) -> every item's score (B, n_items + 1), padding included."""
        session = self.encode(items)
        if self.scoring == "dense":
            return session @ self.model.item_table.weight().T
        if self.code_scores is not None:
            return self.code_scores(session)
        return self.model.score(session)

    def top(self, scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The k best items of ``scores`` (B, n_items + 1), never the padding."""
        if self.ops == "eodrec":
            ids = device_ops.top_k(scores, self.k, PADDING_ID + 1)
            return scores.gather(1, ids), ids
        values, columns = scores[:, PADDING_ID + 1 :].topk(self.k, dim=1)
        return values, columns + PADDING_ID + 1  # a plain tuple: runtimes return no namedtuples


def check_exportable(model: SessionRecommender) -> None:
    """A student's codes must fit ``uint8`` (K <= 256), as the paper's on-device student's."""
    table = model.item_table
    if isinstance(table, CompositionalItemTable) and table.codes.dtype != torch.uint8:
        raise ExportError(
            f"K={table.n_codewords} codewords do not fit the uint8 codes of an on-device "
            f"bundle; export a student with n_codewords <= 256"
        )


def pad_sessions(sequences: Sequence[Sequence[int]], length: int) -> torch.Tensor:
    """Sessions as a bundle's input (n, length), right-padded. A session longer than ``length``
    is refused (:func:`bucket_of`): cutting it would change its recommendations."""
    items = torch.zeros(len(sequences), length, dtype=torch.int64)
    for row, sequence in enumerate(sequences):
        bucket_of(len(sequence), (length,))
        items[row, : len(sequence)] = torch.tensor(list(sequence), dtype=torch.int64)
    return items


def buckets_for(longest: int) -> tuple[int, ...]:
    """Session lengths 8, 16, 32, ... up to the first that holds ``longest`` items."""
    buckets = [SMALLEST_BUCKET]
    while buckets[-1] < longest:
        buckets.append(2 * buckets[-1])
    return tuple(buckets)


def bucket_of(length: int, buckets: Sequence[int]) -> int:
    """The smallest bucket that holds a session of ``length`` items. Training never truncates
    sessions, so neither does a bundle: a longer session is an error naming the limit."""
    fitting = [b for b in buckets if b >= length]
    if not fitting:
        raise ExportError(
            f"a session of {length} items is longer than the largest bucket ({max(buckets)} "
            f"items); export with larger buckets (--buckets)"
        )
    return min(fitting)


def method_name(batch: int, length: int) -> str:
    """The ExecuTorch method that scores ``batch`` sessions of ``length`` items."""
    return f"b{batch}_l{length}"


def _frozen(
    model: SessionRecommender, k: int, scoring: str, buckets: Sequence[int], ops: str = "aten"
):
    """``DeviceModel`` of a frozen copy of ``model`` (the caller's model is kept)."""
    check_exportable(model)
    if not buckets or min(buckets) < 1:
        raise ExportError(f"bucket lengths must be positive, got {list(buckets)}")
    return DeviceModel(copy.deepcopy(model).requires_grad_(False), k, scoring, ops)


def to_executorch(
    model: SessionRecommender,
    buckets: Sequence[int],
    k: int = 20,
    scoring: str = "model",
    ops: str = "aten",
) -> bytes:
    """The ExecuTorch program (``.pte`` bytes) of ``DeviceModel(model, k, scoring, ops)``: one
    method per batch of :data:`BATCHES` and length of ``buckets``, lowered to XNNPACK where it
    can run; the methods share one copy of each constant."""
    device_model = _frozen(model, k, scoring, buckets, ops)
    with torch.no_grad():
        programs = {
            method_name(batch, length): torch.export.export(
                device_model, (torch.ones(batch, length, dtype=torch.int64),)
            )
            for batch in BATCHES
            for length in sorted(set(buckets))
        }
    return lower_to_executorch(programs)


def lower_to_executorch(programs: dict) -> bytes:
    """Exported programs (method name -> ``torch.export`` program) as one ExecuTorch program,
    lowered to XNNPACK where it can run."""
    try:
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
        from executorch.exir import to_edge_transform_and_lower
    except ImportError:
        raise ExportError(f"ExecuTorch is not installed; {INSTALL_HINT}") from None
    # The scoring matmul multiplies by a table computed in the graph (student, OD-Rec) or held
    # as a constant; XNNPACK takes it only as a non-static weight.
    partitioner = XnnpackPartitioner(force_non_static_weights_for_f32_linear=True)
    return to_edge_transform_and_lower(programs, partitioner=[partitioner]).to_executorch().buffer


def to_onnx(model: SessionRecommender, length: int, k: int = 20, scoring: str = "model") -> bytes:
    """The ONNX model (bytes) of ``DeviceModel(model, k, scoring)`` for batches of 1 to
    :data:`EXAMPLE_BATCH` sessions of ``length`` items. Nothing is constant-folded: folding
    would store the student's computed |V| x N table in the file."""
    try:
        import onnxscript  # noqa: F401  (the exporter needs it)
    except ImportError:
        raise ExportError(
            f"the ONNX exporter (onnxscript) is not installed; {INSTALL_HINT}"
        ) from None
    device_model = _frozen(model, k, scoring, (length,))
    example = torch.ones(EXAMPLE_BATCH, length, dtype=torch.int64)
    dynamic = ({0: torch.export.Dim("batch", min=1, max=EXAMPLE_BATCH)},)
    # The exporter prints its progress to stdout, where `--json` output goes.
    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
        program = torch.onnx.export(
            device_model,
            (example,),
            dynamo=True,
            dynamic_shapes=dynamic,
            input_names=["items"],
            output_names=["scores", "ids"],
            optimize=False,
            do_constant_folding=False,
            verbose=False,
        )
    return program.model_proto.SerializeToString()


def check_format(fmt: str) -> None:
    """An unknown bundle format is a one-line error."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")


def bundle_files(fmt: str, buckets: Sequence[int]) -> dict[int | None, str]:
    """The file-name endings of a bundle: one ``.pte`` (key None), or one ``-lL.onnx`` per
    length L."""
    check_format(fmt)
    if fmt == "executorch":
        return {None: SUFFIXES[fmt]}
    return {length: f"-l{length}{SUFFIXES[fmt]}" for length in sorted(set(buckets))}


def export_model(
    model: SessionRecommender,
    fmt: str,
    buckets: Sequence[int],
    k: int = 20,
    scoring: str = "model",
    ops: str = "aten",
) -> dict[str, bytes]:
    """The bundle of ``model`` in format ``fmt`` as {file-name ending: bytes}; ``ops="eodrec"``
    (:data:`OPS`) only for ExecuTorch, which runs this package's kernels."""
    files = bundle_files(fmt, buckets)
    if fmt == "executorch":
        return {files[None]: to_executorch(model, buckets, k, scoring, ops)}
    if ops != "aten":
        raise ExportError(f"ops={ops!r} needs the executorch format; ONNX runs aten ops only")
    return {ending: to_onnx(model, length, k, scoring) for length, ending in files.items()}


def save_bundle(files: dict[str, bytes], stem: Path) -> list[Path]:
    """Write each file of a bundle as ``stem`` + its ending, atomically: a reader never sees
    half a file."""
    paths = []
    for ending, program in files.items():
        path = Path(f"{stem}{ending}")
        with atomic_path(path) as temp:
            Path(temp).write_bytes(program)
        paths.append(path)
    return paths


def export_run(
    run_id: str,
    fmt: str,
    out_dir: Path,
    scoring: str = "model",
    buckets: Sequence[int] | None = None,
    k: int = 20,
    results: Path | None = None,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
    ops: str = "aten",
) -> dict:
    """Write the bundle of stored run ``run_id`` into ``out_dir`` beside a ``.json`` manifest
    (what it is, its bytes beside the dense table's, the run's compression, provenance), and
    return the manifest. ``buckets`` default to :func:`buckets_for` the longest test session."""
    from eodrec.checkpoint import CheckpointError
    from eodrec.compression import full_table_bytes
    from eodrec.provenance import provenance
    from eodrec.runs import load_run

    check_format(fmt)
    try:
        run = load_run(run_id, results, data_dir, cache_dir)
    except CheckpointError as error:
        raise ExportError(
            f"run {run_id} has no usable checkpoint ({error}); train it again with `eodrec "
            f"train ... --rerun` or point --cache-dir at the machine's checkpoints"
        ) from None
    buckets = tuple(buckets or buckets_for(max(len(s) for s in run.splits["test"].sequences)))
    files = export_model(run.model, fmt, buckets, k, scoring, ops)
    suffix = ("-dense" if scoring == "dense" else "") + ("-eodrec-ops" if ops == "eodrec" else "")
    stem = Path(out_dir) / (run_id + suffix)
    paths = save_bundle(files, stem)
    result = run.result
    manifest = {
        "run": run_id,
        "model": result["model"],
        "dataset": result["dataset"],
        "profile": result["profile"],
        "format": fmt,
        "scoring": scoring,
        "ops": ops,
        "buckets": list(buckets),
        "batches": list(BATCHES),
        "k": k,
        "paths": [str(p) for p in paths],
        "bundle_bytes": sum(len(b) for b in files.values()),
        "dense_table_bytes": full_table_bytes(run.model.n_items + 1, run.model.dim),
        "compression": result.get("compression"),
        "provenance": provenance(result["profile"]),
    }
    with atomic_path(Path(f"{stem}.json")) as temp:
        Path(temp).write_text(json.dumps(manifest, indent=2))
    return manifest
