"""The padded mini-batch every model consumes."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Batch:
    """Right-padded prefix sequences and their next items.

    Item ids are 1-based as in the data files; 0 is padding. Position 0 is the oldest item
    (left-aligned, as in the authors' code), so ``items[b, :lengths[b]]`` is sequence ``b``.
    """

    items: torch.Tensor  # (B, L) int64, 0 = padding
    mask: torch.Tensor  # (B, L) bool, True on real items
    lengths: torch.Tensor  # (B,) int64, number of real items
    targets: torch.Tensor  # (B,) int64, the next item
    index: torch.Tensor  # (B,) int64, position of each sequence in its split

    def to(self, device: torch.device | str) -> Batch:
        return Batch(
            *(t.to(device) for t in (self.items, self.mask, self.lengths, self.targets, self.index))
        )

    def __len__(self) -> int:
        return self.items.shape[0]
