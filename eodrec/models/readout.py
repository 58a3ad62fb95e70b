"""Soft-attention readout: a session vector from a sequence of item vectors (paper Eq. 3)."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

ReadoutVariant = Literal["paper", "code"]
READOUT_VARIANTS: tuple[str, ...] = ("paper", "code")


class SoftAttentionReadout(nn.Module):
    """theta_s = sum_t alpha_t x_t over the real positions of each sequence (Eq. 3).

    ``paper`` (Eq. 3)::

        x_bar   = mean of x_t over the real positions
        alpha_t = f^T sigmoid(W1 x_bar + W2 x_t + c)

    ``code`` (the authors' ``sas.py``, docs/method-notes.md §2.3)::

        m       = (sum of x_t over ALL L positions, padded ones included) / true length
        alpha_t = f^T sigmoid(W2 tanh(x_t) + c + W1 m)

    Both use ``theta_s = sum_t mask_t alpha_t x_t``, with no softmax over alpha (paper and code
    agree). Only the ``paper`` variant is invariant to how much padding a batch carries: in
    ``code`` the padded positions' vectors (transformer outputs, or the padding row of the item
    table when run on raw embeddings) leak into m.

    Parameters, with the paper's names: ``mean_proj`` = W1 (no bias), ``item_proj`` = W2 with bias
    c, ``attention_vector`` = f. The module is used on transformer outputs by the backbone and on
    raw item embeddings by the hot/cold distillation (Eq. 19), each with its own parameters.
    """

    def __init__(self, dim: int, variant: ReadoutVariant = "paper") -> None:
        super().__init__()
        if variant not in READOUT_VARIANTS:
            raise ValueError(f"readout variant must be one of {READOUT_VARIANTS}, got {variant!r}")
        self.variant = variant
        self.mean_proj = nn.Linear(dim, dim, bias=False)  # W1
        self.item_proj = nn.Linear(dim, dim)  # W2, c
        self.attention_vector = nn.Linear(dim, 1, bias=False)  # f

    @property
    def packed(self) -> bool:
        """Whether the readout ignores padded positions, so it can run on packed tokens."""
        return self.variant == "paper"

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x (B, L, N) item vectors, mask (B, L) bool True on real positions -> theta (B, N)."""
        weights = mask.to(x.dtype)[:, :, None]  # (B, L, 1)
        # Clamp so an all-padding row gives theta = 0 rather than NaN.
        lengths = weights.sum(dim=1).clamp(min=1.0)  # (B, 1)
        if self.variant == "paper":
            session_mean = (x * weights).sum(dim=1) / lengths  # (B, N)
            items = x
        else:
            session_mean = x.sum(dim=1) / lengths  # (B, N), padded positions included
            items = torch.tanh(x)
        gate = torch.sigmoid(self.item_proj(items) + self.mean_proj(session_mean)[:, None, :])
        alpha = self.attention_vector(gate)  # (B, L, 1)
        return (weights * alpha * x).sum(dim=1)  # (B, N)

    def forward_packed(self, x: torch.Tensor, rows: torch.Tensor, n_rows: int) -> torch.Tensor:
        """``paper`` readout of packed real tokens: x (T, N), ``rows`` (T,) the sequence of each
        token (0..n_rows-1) -> theta (n_rows, N). Equal to :meth:`forward` on the padded grid."""
        if self.variant != "paper":
            raise ValueError("only the paper readout ignores padded positions and can run packed")
        N = x.shape[1]
        counts = torch.bincount(rows, minlength=n_rows).clamp(min=1).to(x.dtype)  # (B,)
        session_mean = x.new_zeros(n_rows, N).index_add(0, rows, x) / counts[:, None]  # (B, N)
        gate = torch.sigmoid(self.item_proj(x) + self.mean_proj(session_mean).index_select(0, rows))
        alpha = self.attention_vector(gate)  # (T, 1)
        return x.new_zeros(n_rows, N).index_add(0, rows, alpha * x)  # (B, N)
