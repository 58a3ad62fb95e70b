"""Item tables: the pluggable part of every recommender that turns item ids into vectors.

A table has exactly two methods, and a model may use nothing else:

* ``lookup(ids)``: ids of any shape ``(...)`` -> vectors ``(..., N)``; id 0 is padding.
* ``weight()``: the full table ``(n_items + 1, N)``, row ``i`` for item id ``i`` (row 0 is the
  padding row). Scoring, ``score(session_vectors)``, equals ``session_vectors @ weight().T``.

``lookup(ids)`` must equal ``weight()[ids]`` in value, but a table may compute it more cheaply
(a compositional-code table sums M codebook rows; a tensor-train table contracts only the cores
an item needs). Each table also exposes ``n_items`` and ``dim``.
"""

from __future__ import annotations

import abc

import torch
from torch import nn

from eodrec.metrics import PADDING_ID


class ItemTable(nn.Module, abc.ABC):
    """Interface shared by the full, compositional-code and tensor-train item tables."""

    n_items: int
    dim: int

    @abc.abstractmethod
    def lookup(self, ids: torch.Tensor) -> torch.Tensor:
        """(...) int64 item ids -> (..., N) vectors."""

    @abc.abstractmethod
    def weight(self) -> torch.Tensor:
        """The full table (n_items + 1, N) that scoring multiplies with."""

    def score(self, session_vectors: torch.Tensor) -> torch.Tensor:
        """(B, N) -> (B, n_items + 1) dot products with every row; a table may compute them
        without building :meth:`weight` (compositional codes do)."""
        return session_vectors @ self.weight().T


class FullItemTable(ItemTable):
    """One free N-dimensional vector per item id: the teacher's uncompressed table X (Eq. 2).

    Row 0 is the padding row. As in the authors' code it is a real row (the model-level init
    fills it with random values), but lookups send it no gradient (``padding_idx``) and the loss
    masks its score, so it never trains.
    """

    def __init__(self, n_items: int, dim: int) -> None:
        super().__init__()
        if n_items < 1 or dim < 1:
            raise ValueError(f"n_items and dim must be positive, got {n_items} and {dim}")
        self.n_items = n_items
        self.dim = dim
        self.embedding = nn.Embedding(n_items + 1, dim, padding_idx=PADDING_ID)

    def lookup(self, ids: torch.Tensor) -> torch.Tensor:
        return self.embedding(ids)  # (..., N)

    def weight(self) -> torch.Tensor:
        return self.embedding.weight  # (n_items + 1, N)
