"""On-device bundles: a trained recommender exported as a device runs it.

:class:`DeviceModel` is the whole on-device computation: right-padded item ids in, the top-k
recommended items out, the padding id never among them. The student's bundle holds its codes
(``uint8``) and codebooks and scores by codebook (:meth:`Codebooks.score_codes`), so no
|V| x N table exists anywhere in it; every other model carries its full table. ExecuTorch with
the XNNPACK backend (what an Android app loads) is the runtime; it is an optional dependency
(``pip install -e '.[device]'``).
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch import nn

from eodrec.atomic import atomic_path
from eodrec.data.batch import Batch
from eodrec.metrics import PADDING_ID
from eodrec.models.base import SessionRecommender


class ExportError(RuntimeError):
    """A model that cannot be exported, or a runtime that is not installed."""


class DeviceModel(nn.Module):
    """Padded item ids (B, L) -> (scores (B, k), item ids (B, k)) of the top-k items."""

    def __init__(self, model: SessionRecommender, k: int = 20) -> None:
        super().__init__()
        if not 1 <= k <= model.n_items:
            raise ValueError(f"k must be in [1, {model.n_items}], got {k}")
        self.model = model.eval()
        self.k = k

    def forward(self, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mask = items != PADDING_ID
        lengths = mask.sum(dim=1)
        batch = Batch(items, mask, lengths, lengths, lengths)  # targets and index are unused
        scores = self.model.score(self.model.encode(batch))[:, PADDING_ID + 1 :]  # (B, |V|)
        values, columns = scores.topk(self.k, dim=1)
        return values, columns + PADDING_ID + 1  # a plain tuple: runtimes return no namedtuples


def to_executorch(model: SessionRecommender, example_items: torch.Tensor, k: int = 20) -> bytes:
    """The ExecuTorch program (``.pte`` bytes) of ``DeviceModel(model, k)`` for batches shaped
    like ``example_items``, lowered to XNNPACK where it can run."""
    try:
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
        from executorch.exir import to_edge_transform_and_lower
    except ImportError:
        raise ExportError(
            "ExecuTorch is not installed; install it with `pip install -e '.[device]'`"
        ) from None
    frozen = copy.deepcopy(model).requires_grad_(False)  # inference only; the caller's is kept
    with torch.no_grad():
        program = torch.export.export(DeviceModel(frozen, k), (example_items,))
    # The scoring matmul multiplies by a table computed in the graph (student, OD-Rec) or held
    # as a constant; XNNPACK takes it only as a non-static weight.
    partitioner = XnnpackPartitioner(force_non_static_weights_for_f32_linear=True)
    return to_edge_transform_and_lower(program, partitioner=[partitioner]).to_executorch().buffer


def save_program(program: bytes, path: Path) -> Path:
    """Write a ``.pte`` atomically: a reader never sees half a bundle."""
    path = Path(path)
    with atomic_path(path) as temp:
        Path(temp).write_bytes(program)
    return path


def load_executorch(path: Path):
    """The ``forward`` method of a saved program, ready to ``execute([items])``."""
    try:
        from executorch.runtime import Runtime
    except ImportError:
        raise ExportError(
            "ExecuTorch is not installed; install it with `pip install -e '.[device]'`"
        ) from None
    if not Path(path).exists():
        raise ExportError(f"no ExecuTorch program at {path}; write one with save_program()")
    return Runtime.get().load_program(str(path)).load_method("forward")
