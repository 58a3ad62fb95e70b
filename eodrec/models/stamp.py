"""STAMP (Liu et al., "STAMP: Short-Term Attention/Memory Priority Model for Session-based
Recommendation", KDD 2018).

Data flow for a batch of right-padded sequences (B sessions, L positions, N dimensions)::

    x_1..x_t = Dropout(X[items])                                 # real i    (B, L, N)
    m_s      = mean_i x_i                                        # real i    (B, N)
    alpha_i  = w_0^T sigmoid(W_1 x_i + W_2 x_t + W_3 m_s + b_a)  # real i    (B, L)
    m_a      = sum_i alpha_i x_i                                 #           (B, N)
    h_s      = tanh(MLP_A(m_a)),  h_t = tanh(MLP_B(x_t))         #           (B, N) each
    theta    = h_s * h_t                                         #           (B, N)
    score    = theta @ X^T            # <h_s, h_t, x_i> = x_i . (h_s * h_t)  (B, n_items + 1)

From STAMP: the attention net, the two MLP cells and the trilinear score, which is exactly the
dot product of the item vector with h_s * h_t, so scoring stays the shared one. m_a is the
paper's attention sum alone (some implementations, RecBole's among them, add m_s to it). STAMP
itself has no dropout; since the EODRec paper gives every baseline its dropout, it is applied
to the session's item embeddings, as for GRU4Rec and NARM. The hyperparameters are the EODRec
paper's general settings (Sec. 6.1.3): N = 128 (Tmall) or 256 (RetailRocket), dropout 0.5 or
0.2, U(-0.1, 0.1) init, and (in training) batch 100, Adam 1e-3, L2 1e-5.
"""

from __future__ import annotations

import torch
from torch import nn

from eodrec.data.batch import Batch
from eodrec.models.base import BackboneConfig, SessionRecommender
from eodrec.models.item_tables import ItemTable
from eodrec.models.teacher import Dropout


class STAMPAttention(nn.Module):
    """alpha_i = w_0^T sigmoid(W_1 x_i + W_2 x_t + W_3 m_s + b_a); b_a is W_1's bias."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.w1 = nn.Linear(dim, dim)  # on every item x_i, with b_a as its bias
        self.w2 = nn.Linear(dim, dim, bias=False)  # on the last item x_t
        self.w3 = nn.Linear(dim, dim, bias=False)  # on the session mean m_s
        self.w0 = nn.Linear(dim, 1, bias=False)

    def forward(self, x: torch.Tensor, last: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
        """x (B, L, N), last (B, N), mean (B, N) -> alpha (B, L, 1), padded positions included."""
        query = self.w2(last) + self.w3(mean)  # (B, N)
        return self.w0(torch.sigmoid(self.w1(x) + query[:, None]))  # (B, L, 1)


class STAMP(SessionRecommender):
    """theta_s = h_s * h_t: attended session memory times the last item's short-term memory.

    Built as :class:`~eodrec.models.teacher.Teacher` is (``config``, ``n_items``, an optional
    ``item_table``); ``config``: reads ``dim``, ``dropout`` and ``init_range`` only.
    """

    def __init__(
        self, config: BackboneConfig, n_items: int, item_table: ItemTable | None = None
    ) -> None:
        super().__init__(config, n_items, item_table)
        self.dropout = Dropout(config.dropout)
        self.attention = STAMPAttention(config.dim)
        self.mlp_a = nn.Linear(config.dim, config.dim)  # general interest cell
        self.mlp_b = nn.Linear(config.dim, config.dim)  # current interest cell
        self.init_parameters_()

    def head_parameters(self) -> list[nn.Parameter]:
        return [p for m in (self.attention, self.mlp_a, self.mlp_b) for p in m.parameters()]

    def encode_with(self, batch: Batch, lookup) -> torch.Tensor:
        x = self.dropout(lookup(batch.items))  # (B, L, N)
        mask = batch.mask[:, :, None]  # (B, L, 1)
        rows = torch.arange(x.shape[0], device=x.device)
        last = x[rows, batch.lengths - 1]  # x_t (B, N)
        mean = (x * mask).sum(dim=1) / batch.lengths[:, None]  # m_s (B, N)
        alpha = self.attention(x, last, mean) * mask  # (B, L, 1), 0 on padding
        memory = (alpha * x).sum(dim=1)  # m_a (B, N)
        h_s = torch.tanh(self.mlp_a(memory))  # (B, N)
        h_t = torch.tanh(self.mlp_b(last))  # (B, N)
        return h_s * h_t
