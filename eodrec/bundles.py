"""A saved bundle (:mod:`eodrec.export`) loaded and run as a device runs it: each session
padded to its bucket, one request or a batch of sessions of one bucket per call.

:class:`Bundle` holds one call per (batch, length) the bundle was built for and refuses any
other shape in one line; :func:`run_bucketed` feeds it every session at its bucket and returns
the top-k in the sessions' order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from eodrec.device_ops import load_runtime_kernels
from eodrec.export import (
    BATCHES,
    EXAMPLE_BATCH,
    INSTALL_HINT,
    SUFFIXES,
    ExportError,
    bucket_of,
    bundle_files,
    pad_sessions,
)

Call = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


class Bundle:
    """The calls of a loaded bundle keyed by (batch, length): items (batch, length) ->
    (scores, ids) of the top-k."""

    def __init__(self, calls: dict[tuple[int, int], Call]) -> None:
        self.calls = calls
        self.buckets = tuple(sorted({length for _, length in calls}))

    def __call__(self, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch, length = items.shape
        call = self.calls.get((batch, length))
        if call is None:
            raise ExportError(
                f"this bundle was built for batches of {sorted({b for b, _ in self.calls})} "
                f"sessions of {list(self.buckets)} items; got {batch} sessions of {length}"
            )
        return call(items)


def load_executorch(path: Path, ops: str = "aten") -> Bundle:
    """Every method of a saved ExecuTorch program, ready to run; a program exported with
    ``ops="eodrec"`` needs this package's kernels loaded first (:mod:`eodrec.device_ops`)."""
    try:
        from executorch.runtime import Runtime
    except ImportError:
        raise ExportError(f"ExecuTorch is not installed; {INSTALL_HINT}") from None
    if not Path(path).exists():
        raise ExportError(f"no ExecuTorch program at {path}; write one with `eodrec export`")
    if ops == "eodrec":
        load_runtime_kernels()
    program = Runtime.get().load_program(str(path))
    calls = {}
    for name in program.method_names:
        batch, length = (int(part[1:]) for part in name.split("_"))
        method = program.load_method(name)
        calls[batch, length] = lambda items, method=method: tuple(method.execute([items]))
    return Bundle(calls)


def load_onnx(paths: dict[int, Path], threads: int = 1) -> Bundle:
    """ONNX Runtime sessions of the saved per-length models ``paths`` on ``threads`` threads."""
    try:
        import onnxruntime
    except ImportError:
        raise ExportError(f"ONNX Runtime is not installed; {INSTALL_HINT}") from None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = threads
    calls = {}
    for length, path in paths.items():
        if not Path(path).exists():
            raise ExportError(f"no ONNX model at {path}; write one with `eodrec export`")
        session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )

        def call(items, session=session):
            values, ids = session.run(None, {"items": items.numpy()})
            return torch.from_numpy(values), torch.from_numpy(ids)

        calls.update({(batch, length): call for batch in BATCHES})
    return Bundle(calls)


def load_bundle(
    stem: Path, fmt: str, buckets: Sequence[int] = (), threads: int = 1, ops: str = "aten"
) -> Bundle:
    """The bundle saved at ``stem`` (:func:`eodrec.export.save_bundle`) in format ``fmt``; an
    ONNX bundle is loaded at ``buckets``, one file each."""
    files = bundle_files(fmt, buckets)
    if fmt == "executorch":
        return load_executorch(Path(f"{stem}{SUFFIXES[fmt]}"), ops)
    return load_onnx({length: Path(f"{stem}{end}") for length, end in files.items()}, threads)


def run_in_batches(
    call: Call, items: torch.Tensor, batch: int = EXAMPLE_BATCH
) -> tuple[torch.Tensor, torch.Tensor]:
    """``call`` (one batch -> (scores, ids)) over every row of ``items`` in batches of exactly
    ``batch`` rows, the last one filled up with copies of its first row."""
    values, ids = [], []
    for chunk in items.split(batch):
        n = len(chunk)
        if n < batch:
            chunk = torch.cat([chunk, chunk[:1].expand(batch - n, -1)])
        v, i = call(chunk)
        values.append(v[:n])
        ids.append(i[:n])
    return torch.cat(values), torch.cat(ids)


def bucket_groups(sequences: Sequence[Sequence[int]], buckets: Sequence[int]) -> dict[int, list]:
    """{bucket: indices of the sessions it holds}, each session in its smallest bucket."""
    groups: dict[int, list] = {}
    for index, sequence in enumerate(sequences):
        groups.setdefault(bucket_of(len(sequence), buckets), []).append(index)
    return dict(sorted(groups.items()))


def run_bucketed(
    call: Call,
    sequences: Sequence[Sequence[int]],
    buckets: Sequence[int],
    batch: int = EXAMPLE_BATCH,
) -> tuple[np.ndarray, np.ndarray]:
    """The top-k (scores, ids) of every session, each run at its bucket in calls of ``batch``
    sessions of that bucket, in the order of ``sequences``."""
    values, ids = [None] * len(sequences), [None] * len(sequences)
    for length, indices in bucket_groups(sequences, buckets).items():
        items = pad_sessions([sequences[i] for i in indices], length)
        v, i = run_in_batches(call, items, batch)
        for row, index in enumerate(indices):
            values[index], ids[index] = v[row].numpy(), i[row].numpy()
    return np.stack(values), np.stack(ids)
