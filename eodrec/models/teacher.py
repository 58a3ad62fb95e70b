"""The teacher: a one-layer SASRec-style transformer with a soft-attention readout (Sec. 3.2.1).

Data flow for a batch of right-padded sequences (B sessions, L positions, N dimensions)::

    x     = X[items] + P[0..L-1]                  # Eq. 2, X-hat = X + P       (B, L, N)
    x     = Dropout(LayerNorm(x))
    H     = TransformerLayer^n_layers(x)          # Eq. 2, F = Attention, FNN  (B, L, N)
    theta = SoftAttentionReadout(H, mask)         # Eq. 3                      (B, N)
    score = theta @ X^T                           # Eq. 27                     (B, n_items + 1)

Positions are left-aligned (position 0 is the oldest item), as in the authors' code; SASRec
itself left-pads. Where the paper and the authors' code differ,
:class:`~eodrec.models.base.BackboneConfig` defaults to the paper and offers the code's behaviour
as an option (docs/method-notes.md §2 and §7).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from eodrec.data.batch import Batch
from eodrec.models.base import BackboneConfig, SessionRecommender
from eodrec.models.item_tables import ItemTable
from eodrec.models.readout import SoftAttentionReadout

LAYER_NORM_EPS = 1e-12  # the authors' BERT-style value, used by every LayerNorm


class Dropout(nn.Dropout):
    """``nn.Dropout`` with a cheaper mask: on CPU ``bernoulli_`` costs about 4x a uniform draw
    (``rand``) plus a comparison, and dropout masks were the largest non-GEMM cost of a step.

    Same law: each element is kept with probability 1 - p (a float32 uniform u >= p) and scaled
    by 1 / (1 - p); identity in eval mode or at p = 0. The random stream differs from
    ``nn.Dropout``'s, so a train-mode loss is a different draw of the same distribution.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand_like(x).ge_(self.p).mul_(1.0 / (1.0 - self.p))  # 0 or 1/(1-p)
        return x * keep


class CausalSelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention under a given (B, L, L) mask of allowed keys."""

    def __init__(self, config: BackboneConfig) -> None:
        super().__init__()
        self.n_heads = config.n_heads
        self.query = nn.Linear(config.dim, config.dim)
        self.key = nn.Linear(config.dim, config.dim)
        self.value = nn.Linear(config.dim, config.dim)
        self.out = nn.Linear(config.dim, config.dim)
        self.attention_dropout = Dropout(config.dropout)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        B, L, N = x.size()
        head_dim = N // self.n_heads
        q = self.query(x).view(B, L, self.n_heads, head_dim).transpose(1, 2)  # (B, h, L, d)
        k = self.key(x).view(B, L, self.n_heads, head_dim).transpose(1, 2)  # (B, h, L, d)
        v = self.value(x).view(B, L, self.n_heads, head_dim).transpose(1, 2)  # (B, h, L, d)
        return self.out(self._attend(q, k, v, allowed))

    def forward_packed(
        self, x: torch.Tensor, allowed: torch.Tensor, flat: torch.Tensor
    ) -> torch.Tensor:
        """The same attention on packed tokens: x (T, N) holds the real positions ``flat`` of
        the (B, L) grid, row-major. Projections run on the T real tokens only; the (B, L, L)
        attention itself runs on the zero-filled grid under the same ``allowed`` mask, so every
        real position gets exactly the value :meth:`forward` gives it."""
        B, L = allowed.shape[0], allowed.shape[1]
        N = x.shape[1]
        head_dim = N // self.n_heads
        weight = torch.cat([self.query.weight, self.key.weight, self.value.weight])  # (3N, N)
        bias = torch.cat([self.query.bias, self.key.bias, self.value.bias])  # (3N,)
        qkv = F.linear(x, weight, bias)  # (T, 3N), one GEMM for q, k and v
        grid = qkv.new_zeros(B * L, 3 * N).index_copy(0, flat, qkv)  # (B*L, 3N)
        grid = grid.view(B, L, 3, self.n_heads, head_dim).permute(2, 0, 3, 1, 4)  # (3,B,h,L,d)
        y = self._attend(grid[0], grid[1], grid[2], allowed)  # (B, L, N)
        return self.out(y.reshape(B * L, N).index_select(0, flat))  # (T, N)

    def _attend(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, allowed: torch.Tensor
    ) -> torch.Tensor:
        """(B, h, L, d) queries, keys, values -> (B, L, N) attended values, before ``out``."""
        B, _, L, head_dim = q.size()
        attention = (q @ k.transpose(-2, -1)) / math.sqrt(head_dim)  # (B, h, L, L)
        # The dtype's minimum rather than -inf: a query with no allowed key (an all-padding row)
        # then gets uniform weights instead of NaN; any row with an allowed key is unaffected.
        attention = attention.masked_fill(~allowed[:, None], torch.finfo(attention.dtype).min)
        attention = self.attention_dropout(attention.softmax(dim=-1))
        return (attention @ v).transpose(1, 2).reshape(B, L, -1)  # (B, L, N)


class FeedForward(nn.Module):
    """FNN of Eq. 2: Linear(N, F) -> exact GELU -> Linear(F, N) -> dropout."""

    def __init__(self, config: BackboneConfig) -> None:
        super().__init__()
        self.up = nn.Linear(config.dim, config.inner_dim)
        self.down = nn.Linear(config.inner_dim, config.dim)
        self.dropout = Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.down(F.gelu(self.up(x))))  # (B, L, N)


class TransformerLayer(nn.Module):
    """One post-LN SASRec block (Eq. 2): residual, dropout and LayerNorm after each sub-layer.

    The FFN residual is ``LayerNorm(ffn(h) + ffn_residual_scale * h)``; the authors' teacher
    scales it by 4 (docs/method-notes.md §2.1), a standard block by 1.
    """

    def __init__(self, config: BackboneConfig) -> None:
        super().__init__()
        self.attention = CausalSelfAttention(config)
        self.attention_dropout = Dropout(config.dropout)
        self.attention_norm = nn.LayerNorm(config.dim, eps=LAYER_NORM_EPS)
        self.ffn = FeedForward(config)
        self.ffn_norm = nn.LayerNorm(config.dim, eps=LAYER_NORM_EPS)
        self.ffn_residual_scale = config.ffn_residual_scale

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        h = self.attention_norm(x + self.attention_dropout(self.attention(x, allowed)))  # (B,L,N)
        return self.ffn_norm(self.ffn(h) + self.ffn_residual_scale * h)  # (B, L, N)

    def forward_packed(
        self, x: torch.Tensor, allowed: torch.Tensor, flat: torch.Tensor
    ) -> torch.Tensor:
        """:meth:`forward` on packed real tokens x (T, N); see CausalSelfAttention."""
        attended = self.attention.forward_packed(x, allowed, flat)  # (T, N)
        h = self.attention_norm(x + self.attention_dropout(attended))  # (T, N)
        return self.ffn_norm(self.ffn(h) + self.ffn_residual_scale * h)  # (T, N)


class Teacher(SessionRecommender):
    """The server-side model M_T of Sec. 3.2.1 (Eq. 2-3) over a full item table.

    Args:
        config: the backbone's hyperparameters.
        n_items: number of real items; ids run 1..n_items and 0 is padding.
        item_table: an :class:`ItemTable` to use instead of a fresh :class:`FullItemTable`
            (for instance a compressed table). A table passed in keeps its own initialisation;
            everything else is drawn from U(-init_range, init_range) once, at construction.
    """

    def __init__(
        self, config: BackboneConfig, n_items: int, item_table: ItemTable | None = None
    ) -> None:
        super().__init__(config, n_items, item_table)
        self.positions = nn.Embedding(config.max_length, config.dim)  # P
        self.input_norm = nn.LayerNorm(config.dim, eps=LAYER_NORM_EPS)
        self.input_dropout = Dropout(config.dropout)
        self.layers = nn.ModuleList(TransformerLayer(config) for _ in range(config.n_layers))
        self.readout = self._make_readout(config)
        self.init_parameters_()

    def hidden_states(self, batch: Batch) -> torch.Tensor:
        """Transformer outputs H (B, L, N) for every position, padded ones included (Eq. 2).

        Position t attends to real positions 0..t only (causal and key-padding mask), so H at a
        real position depends on neither later items nor padding.
        """
        self._check_length(batch)
        return self._padded_states(batch, self.item_table.lookup(batch.items))

    def _make_readout(self, config: BackboneConfig) -> nn.Module:
        return SoftAttentionReadout(config.dim, config.readout)

    def head_parameters(self) -> list[nn.Parameter]:
        return list(self.readout.parameters())

    def _check_length(self, batch: Batch) -> None:
        L = batch.items.shape[1]
        if L > self.config.max_length:
            raise ValueError(
                f"batch has sequences of length {L} but the position table has "
                f"max_length={self.config.max_length} rows; raise max_length or "
                f"truncate the sequences"
            )

    def encoder_ids(self, batch: Batch) -> torch.Tensor:
        """The ids :meth:`encode_with` passes to its ``lookup``: the real tokens in row-major
        order (``paper`` readout) or the whole padded grid (``code``)."""
        if not self.readout.packed or torch.compiler.is_exporting():
            return batch.items
        return batch.items[batch.mask]

    def encode_with(self, batch: Batch, lookup) -> torch.Tensor:
        """Session vectors, item vectors from ``lookup(ids)`` with ``ids = encoder_ids(batch)``
        (so a caller may gather them ahead, together with other lookups of the same table).

        The ``paper`` readout reads real positions only, so it runs the transformer on the
        packed real tokens (about a fifth of the padded grid on Tmall); the ``code`` readout
        needs the padded positions' outputs too and runs on the full grid.
        """
        self._check_length(batch)
        if not self.readout.packed or torch.compiler.is_exporting():  # export: static shapes
            return self.readout(self._padded_states(batch, lookup(batch.items)), batch.mask)
        B, L = batch.items.shape
        flat = batch.mask.reshape(-1).nonzero().squeeze(1)  # (T,) real positions, row-major
        rows = torch.div(flat, L, rounding_mode="floor")  # (T,) sequence of each token
        x = lookup(batch.items.reshape(-1).index_select(0, flat)) + self.positions(flat - rows * L)
        x = self.input_dropout(self.input_norm(x))  # (T, N)
        allowed = self._allowed(batch)
        for layer in self.layers:
            x = layer.forward_packed(x, allowed, flat)  # (T, N)
        return self.readout.forward_packed(x, rows, B)  # (B, N)

    def _allowed(self, batch: Batch) -> torch.Tensor:
        L = batch.items.shape[1]
        causal = torch.ones(L, L, dtype=torch.bool, device=batch.items.device).tril()  # (L, L)
        return causal & batch.mask[:, None, :]  # (B, L, L): query row, key column

    def _padded_states(self, batch: Batch, vectors: torch.Tensor) -> torch.Tensor:
        """H (B, L, N) from the looked-up item vectors (B, L, N)."""
        L = batch.items.shape[1]
        positions = torch.arange(L, device=batch.items.device)  # (L,)
        x = vectors + self.positions(positions)  # (B, L, N)
        x = self.input_dropout(self.input_norm(x))
        allowed = self._allowed(batch)
        for layer in self.layers:
            x = layer(x, allowed)  # (B, L, N)
        return x
