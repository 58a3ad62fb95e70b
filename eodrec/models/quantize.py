"""Post-training quantization of a full item table (beyond the paper): the simplest way to
shrink a trained model's item state, and so the first thing a compressed student must beat.

Each row is stored as ``bits``-bit signed integers with one fp32 scale per row (symmetric,
round to nearest: the row's largest magnitude maps to the largest integer). Nothing is
retrained; the model then scores with the rows the integers stand for.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from eodrec.models.base import SessionRecommender
from eodrec.models.item_tables import FullItemTable

TABLE_BITS = (8, 4)
SCALE_BYTES = 4  # one fp32 scale per row


@dataclass(frozen=True)
class QuantizeConfig:
    """How a trained model's item table is quantized after training."""

    table_bits: int = 8

    def __post_init__(self) -> None:
        if self.table_bits not in TABLE_BITS:
            raise ValueError(f"table_bits must be one of {TABLE_BITS}, got {self.table_bits}")


def quantize_rows(weight: torch.Tensor, bits: int) -> torch.Tensor:
    """The rows of ``weight`` (n, N) as their ``bits``-bit symmetric per-row quantization
    would restore them: ``round(w / s) * s`` with ``s = max |w| / (2^(bits-1) - 1)`` per row;
    an all-zero row (padding) stays zero."""
    levels = 2 ** (bits - 1) - 1
    scale = weight.abs().amax(dim=1, keepdim=True) / levels
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    return (weight / scale).round().clamp(-levels, levels) * scale


def quantized_table_bytes(n_rows: int, dim: int, bits: int) -> int:
    """What the quantized table stores: ``bits`` per entry, packed, and a scale per row."""
    return n_rows * ((dim * bits + 7) // 8 + SCALE_BYTES)


@torch.no_grad()
def quantize_table_(model: SessionRecommender, bits: int) -> dict[str, float | int]:
    """Replace ``model``'s full item table by its quantization, in place; returns its bytes and
    the largest change of any entry."""
    table = model.item_table
    if not isinstance(table, FullItemTable):
        raise ValueError(f"table_bits quantizes a full item table, not a {type(table).__name__}")
    weight = table.embedding.weight
    quantized = quantize_rows(weight, bits)
    change = (quantized - weight).abs().max().item()
    weight.copy_(quantized)
    rows, dim = weight.shape
    return {"table_bits": bits, "item_bytes": quantized_table_bytes(rows, dim, bits),
            "max_abs_change": change}  # fmt: skip
