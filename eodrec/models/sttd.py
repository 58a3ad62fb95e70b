"""The OD-Rec baseline's item table: a semi-tensor-product tensor train (STTD, Sec. 3.2.2).

The semi-tensor product (Eq. 6-8) lets a row a of length n·p meet a column b of length p: a is cut
into p blocks of length n and a ⋉ b = sum_k a^k b_k, a block of n numbers. With d = 2 cores the
table is X = Ĝ1 ⋉ Ĝ2 (Eq. 9), Ĝ1 = G1 as (I1·J1) x R and Ĝ2 = G2 as (R/n) x (I2·J2/n).

Layout (docs/method-notes.md §5.2, canonical mixed radix): item i -> (i1, i2) = (i // I2, i % I2)
and dimension j = j1·J2 + q·n + s with s < n, q < J2/n::

    E[i, j] = sum_{k < R/n} G1[i1, j1, k·n + s] · G2[k, i2, q]

which is entry ((i1, j1), (i2, q)·n + s) of Ĝ1 ⋉ Ĝ2 re-indexed. OD-Rec's training code instead
reshapes the product plainly, a different assignment of the same entries to items
(docs/method-notes.md §5.3). Row 0 (padding) is a real row of the product; metrics mask its score.
"""

from __future__ import annotations

import torch
from torch import nn

from eodrec.compression import check_sttd_shapes
from eodrec.models.item_tables import ItemTable


class STTDItemTable(ItemTable):
    """Item vectors reconstructed from two cores: G1 (I1, J1, R) and G2 (R/n, I2, J2/n).

    Stores I1·J1·R + I2·J2·R/n² numbers (:attr:`n_parameters`, Eq. 10's denominator), never the
    table. ``lookup`` gathers G1[i1] and G2[:, i2] of the requested ids only.

    Init: both cores are drawn from U(-c, c). An entry is a sum of p = R/n products of
    independent zero-mean factors, so its variance is p·(c²/3)², and matching the variance
    init_range²/3 of a U(-init_range, init_range) embedding gives c = (3·init_range²/p)^(1/4)
    (0.178 for init_range 0.1, R = 60, n = 2). Equal ranges keep both cores' gradients alike.
    """

    def __init__(
        self,
        n_items: int,
        dim: int,
        item_shape: tuple[int, int],
        dim_shape: tuple[int, int],
        rank: int,
        stp_n: int,
        init_range: float = 0.1,
    ) -> None:
        super().__init__()
        check_sttd_shapes(item_shape, dim_shape, rank, stp_n, n_items, dim)
        if init_range <= 0:
            raise ValueError(f"init_range must be positive, got {init_range}")
        self.n_items = n_items
        self.dim = dim
        self.item_shape = tuple(item_shape)
        self.dim_shape = tuple(dim_shape)
        self.rank = rank
        self.stp_n = stp_n
        (I1, I2), (J1, J2) = item_shape, dim_shape
        blocks = rank // stp_n  # p = R/n
        self.G1 = nn.Parameter(torch.empty(I1, J1, rank))
        self.G2 = nn.Parameter(torch.empty(blocks, I2, J2 // stp_n))
        core_range = (3.0 * init_range**2 / blocks) ** 0.25
        with torch.no_grad():
            self.G1.uniform_(-core_range, core_range)
            self.G2.uniform_(-core_range, core_range)

    @property
    def n_parameters(self) -> int:
        """Numbers the cores store: I1·J1·R + (R/n)·I2·(J2/n)."""
        return self.G1.numel() + self.G2.numel()

    def _g1_blocks(self) -> torch.Tensor:
        I1, J1 = self.G1.shape[:2]
        return self.G1.view(I1, J1, self.rank // self.stp_n, self.stp_n)  # (I1, J1, p, n)

    def lookup(self, ids: torch.Tensor) -> torch.Tensor:
        """(...) ids -> (..., N), contracting only the two core slices each id needs."""
        I2 = self.item_shape[1]
        flat = ids.reshape(-1)  # (B,)
        left = self._g1_blocks()[flat // I2]  # (B, J1, p, n)
        right = self.G2.transpose(0, 1)[flat % I2]  # (B, p, J2/n)
        vectors = torch.einsum("bjks,bkq->bjqs", left, right)  # (B, J1, J2/n, n)
        return vectors.reshape(*ids.shape, self.dim)  # (..., N)

    def weight(self) -> torch.Tensor:
        """The full table (n_items + 1, N): Ĝ1 ⋉ Ĝ2 in one contraction, padded rows cut."""
        I1, I2 = self.item_shape
        table = torch.einsum("ajks,kbq->abjqs", self._g1_blocks(), self.G2)  # (I1,I2,J1,J2/n,n)
        return table.reshape(I1 * I2, self.dim)[: self.n_items + 1]  # (n_items+1, N)

    def extra_repr(self) -> str:
        return (
            f"n_items={self.n_items}, dim={self.dim}, item_shape={self.item_shape}, "
            f"dim_shape={self.dim_shape}, rank={self.rank}, stp_n={self.stp_n}"
        )
