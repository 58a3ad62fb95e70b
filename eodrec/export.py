"""On-device bundles: a trained recommender exported as a device runs it.

:class:`DeviceModel` is the whole on-device computation: right-padded item ids in, the top-k
recommended items out, the padding id never among them. The student's bundle holds its codes
(``uint8``) and codebooks and scores by codebook (:meth:`Codebooks.score_codes`), so no
|V| x N table exists anywhere in it; every other model carries its full table. ExecuTorch with
the XNNPACK backend (what an Android app loads) is the on-device runtime; ONNX Runtime is a
second, different runtime. Both are optional dependencies (``pip install -e '.[device]'``).

A bundle takes batches of a fixed session length, the longest test session of its dataset
unless told otherwise (:func:`pad_sessions` shapes sessions for it): with a dynamic length,
XNNPACK refuses reshapes with two dynamic dimensions and torch.export specializes nn.GRU's
length. The batch is dynamic up to :data:`EXAMPLE_BATCH` sessions (ExecuTorch plans its memory for
the largest batch allowed), except in ExecuTorch programs with a GRU (GRU4Rec, NARM), which
lowering fixes at exactly that many; :func:`run_in_batches` feeds any bundle whole batches.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

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
EXAMPLE_BATCH = 100  # the paper's unit: prediction time per 100 sessions
_INSTALL_HINT = "install it with `pip install -e '.[device]'`"


class ExportError(RuntimeError):
    """A model that cannot be exported, or a runtime that is not installed."""


class DeviceModel(nn.Module):
    """Padded item ids (B, L) -> (scores (B, k), item ids (B, k)) of the top-k items."""

    def __init__(self, model: SessionRecommender, k: int = 20, scoring: str = "model") -> None:
        super().__init__()
        if not 1 <= k <= model.n_items:
            raise ValueError(f"k must be in [1, {model.n_items}], got {k}")
        if scoring not in SCORINGS:
            raise ValueError(f"scoring must be one of {SCORINGS}, got {scoring!r}")
        self.model = model.eval()
        self.k = k
        self.scoring = scoring

    def forward(self, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mask = items != PADDING_ID
        lengths = mask.sum(dim=1)
        batch = Batch(items, mask, lengths, lengths, lengths)  # targets and index are unused
        session = self.model.encode(batch)
        if self.scoring == "dense":
            scores = session @ self.model.item_table.weight().T
        else:
            scores = self.model.score(session)
        values, columns = scores[:, PADDING_ID + 1 :].topk(self.k, dim=1)  # never the padding
        return values, columns + PADDING_ID + 1  # a plain tuple: runtimes return no namedtuples


def check_exportable(model: SessionRecommender) -> None:
    """A student's bundle stores its codes as ``uint8``: K <= 256 codewords per codebook."""
    table = model.item_table
    if isinstance(table, CompositionalItemTable) and table.codes.dtype != torch.uint8:
        raise ExportError(
            f"K={table.n_codewords} codewords do not fit the uint8 codes of an on-device "
            f"bundle; export a student with n_codewords <= 256"
        )


def pad_sessions(sequences: Sequence[Sequence[int]], length: int) -> torch.Tensor:
    """Sessions as a bundle's input (n, length): right-padded, each cut to its last ``length``
    items (the most recent ones) if longer."""
    items = torch.zeros(len(sequences), length, dtype=torch.int64)
    for row, sequence in enumerate(sequences):
        recent = list(sequence)[-length:]
        items[row, : len(recent)] = torch.tensor(recent, dtype=torch.int64)
    return items


def _device_program(model: SessionRecommender, k: int, scoring: str, length: int):
    """``DeviceModel`` of a frozen copy (the caller's model is kept), its example input and the
    dynamic batch dimension torch.export is given."""
    check_exportable(model)
    if length < 1:
        raise ExportError(f"the session length must be positive, got {length}")
    frozen = copy.deepcopy(model).requires_grad_(False)
    example = torch.ones(EXAMPLE_BATCH, length, dtype=torch.int64)
    dynamic = ({0: torch.export.Dim("batch", min=1, max=EXAMPLE_BATCH)},)
    return DeviceModel(frozen, k, scoring), example, dynamic


def to_executorch(
    model: SessionRecommender, length: int, k: int = 20, scoring: str = "model"
) -> bytes:
    """The ExecuTorch program (``.pte`` bytes) of ``DeviceModel(model, k, scoring)`` for
    sessions of ``length`` items, lowered to XNNPACK where it can run."""
    try:
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
        from executorch.exir import to_edge_transform_and_lower
    except ImportError:
        raise ExportError(f"ExecuTorch is not installed; {_INSTALL_HINT}") from None
    device_model, example, dynamic = _device_program(model, k, scoring, length)
    with torch.no_grad():
        program = torch.export.export(device_model, (example,), dynamic_shapes=dynamic)
    # The scoring matmul multiplies by a table computed in the graph (student, OD-Rec) or held
    # as a constant; XNNPACK takes it only as a non-static weight.
    partitioner = XnnpackPartitioner(force_non_static_weights_for_f32_linear=True)
    return to_edge_transform_and_lower(program, partitioner=[partitioner]).to_executorch().buffer


def to_onnx(model: SessionRecommender, length: int, k: int = 20, scoring: str = "model") -> bytes:
    """The ONNX model (bytes) of ``DeviceModel(model, k, scoring)`` for sessions of ``length``
    items. Nothing is constant-folded: folding would store the student's computed |V| x N
    table in the file."""
    try:
        import onnxscript  # noqa: F401  (the exporter needs it)
    except ImportError:
        raise ExportError(
            f"the ONNX exporter (onnxscript) is not installed; {_INSTALL_HINT}"
        ) from None
    device_model, example, dynamic = _device_program(model, k, scoring, length)
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


def save_program(program: bytes, path: Path) -> Path:
    """Write a bundle atomically: a reader never sees half a file."""
    path = Path(path)
    with atomic_path(path) as temp:
        Path(temp).write_bytes(program)
    return path


def load_executorch(path: Path):
    """The ``forward`` method of a saved program, ready to ``execute([items])``."""
    try:
        from executorch.runtime import Runtime
    except ImportError:
        raise ExportError(f"ExecuTorch is not installed; {_INSTALL_HINT}") from None
    if not Path(path).exists():
        raise ExportError(f"no ExecuTorch program at {path}; write one with `eodrec export`")
    return Runtime.get().load_program(str(path)).load_method("forward")


def load_onnx(path: Path, threads: int = 1):
    """An ONNX Runtime session of a saved model on ``threads`` CPU threads."""
    try:
        import onnxruntime
    except ImportError:
        raise ExportError(f"ONNX Runtime is not installed; {_INSTALL_HINT}") from None
    if not Path(path).exists():
        raise ExportError(f"no ONNX model at {path}; write one with `eodrec export`")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = threads
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def export_model(
    model: SessionRecommender, fmt: str, length: int, k: int = 20, scoring: str = "model"
) -> bytes:
    """The bundle of ``model`` in format ``fmt`` (one of :data:`FORMATS`)."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
    return (to_executorch if fmt == "executorch" else to_onnx)(model, length, k, scoring)


def run_bundle(runtime, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(scores, ids) of a loaded bundle (:func:`load_executorch` or :func:`load_onnx`)."""
    if hasattr(runtime, "execute"):
        values, ids = runtime.execute([items])
        return values, ids
    values, ids = runtime.run(None, {"items": items.numpy()})
    return torch.from_numpy(values), torch.from_numpy(ids)


def run_in_batches(call, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``call`` (one batch -> (scores, ids)) over every row of ``items`` in batches of exactly
    :data:`EXAMPLE_BATCH`, the last one filled up with copies of its first row."""
    values, ids = [], []
    for chunk in items.split(EXAMPLE_BATCH):
        n = len(chunk)
        if n < EXAMPLE_BATCH:
            chunk = torch.cat([chunk, chunk[:1].expand(EXAMPLE_BATCH - n, -1)])
        v, i = call(chunk)
        values.append(v[:n])
        ids.append(i[:n])
    return torch.cat(values), torch.cat(ids)


def load_bundle(path: Path, threads: int = 1):
    """A saved bundle of either format, loaded by its runtime."""
    path = Path(path)
    if path.suffix == SUFFIXES["onnx"]:
        return load_onnx(path, threads)
    return load_executorch(path)


def export_run(
    run_id: str,
    fmt: str,
    out_dir: Path,
    scoring: str = "model",
    length: int | None = None,
    k: int = 20,
    results: Path | None = None,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
) -> dict:
    """Write the bundle of stored run ``run_id`` into ``out_dir`` beside a ``.json`` manifest
    (what it is, its bytes beside the dense table's, the run's compression, provenance), and
    return the manifest. ``length`` defaults to the longest test session of the dataset."""
    from eodrec.checkpoint import CheckpointError
    from eodrec.compression import full_table_bytes
    from eodrec.provenance import provenance
    from eodrec.runs import load_run

    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
    try:
        run = load_run(run_id, results, data_dir, cache_dir)
    except CheckpointError as error:
        raise ExportError(
            f"run {run_id} has no usable checkpoint ({error}); train it again with `eodrec "
            f"train ... --rerun` or point --cache-dir at the machine's checkpoints"
        ) from None
    test = run.splits["test"].sequences
    length = length or max(len(s) for s in test)
    bundle = export_model(run.model, fmt, length, k, scoring)
    name = run_id + ("-dense" if scoring == "dense" else "")
    path = save_program(bundle, Path(out_dir) / (name + SUFFIXES[fmt]))
    result = run.result
    manifest = {
        "run": run_id,
        "model": result["model"],
        "dataset": result["dataset"],
        "profile": result["profile"],
        "format": fmt,
        "scoring": scoring,
        "length": length,
        "k": k,
        "path": str(path),
        "bundle_bytes": len(bundle),
        "dense_table_bytes": full_table_bytes(run.model.n_items + 1, run.model.dim),
        "compression": result.get("compression"),
        "provenance": provenance(result["profile"]),
    }
    with atomic_path(path.with_suffix(".json")) as temp:
        Path(temp).write_text(json.dumps(manifest, indent=2))
    return manifest
