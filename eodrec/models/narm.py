"""NARM (Li et al., "Neural Attentive Session-based Recommendation", CIKM 2017).

Data flow for a batch of right-padded sequences (B sessions, L positions, N dimensions)::

    h_1..h_t = GRU(Dropout(X[items]))             # real positions only   (B, L, N)
    c_g      = h_t                                # global encoder        (B, N)
    alpha_tj = v^T sigmoid(A_1 h_t + A_2 h_j)     # real j only           (B, L)
    c_l      = sum_j alpha_tj h_j                 # local encoder         (B, N)
    c        = Dropout([c_g; c_l])                #                       (B, 2N)
    theta    = B c                                # B: (N, 2N)            (B, N)
    score    = theta @ X^T                        # S_i = emb_i^T B c     (B, n_items + 1)

From NARM: the encoders, the attention (A_1, A_2, v without biases), the bilinear decoder
S_i = emb_i^T B c_t (here a session vector B c, so that scoring stays the shared dot product
with the item table) and its two dropouts (embeddings -> GRU, c -> decoder), at the EODRec
rate rather than NARM's 25% / 50%. The hyperparameters are the EODRec paper's general settings
(Sec. 6.1.3), which it applies to every baseline: N = 128 (Tmall) or 256 (RetailRocket) for
embedding and hidden size, dropout 0.5 or 0.2, U(-0.1, 0.1) init, and (in training) batch
100, Adam 1e-3, L2 1e-5; ``n_layers`` GRU layers (NARM uses one).
"""

from __future__ import annotations

import torch
from torch import nn

from eodrec.data.batch import Batch
from eodrec.models.base import BackboneConfig, SessionRecommender
from eodrec.models.gru4rec import GRUEncoder
from eodrec.models.item_tables import ItemTable
from eodrec.models.teacher import Dropout


class NARM(SessionRecommender):
    """theta_s = B [c_g; c_l]: the last GRU state and an attention-weighted sum of all states.

    Built as :class:`~eodrec.models.teacher.Teacher` is (``config``, ``n_items``, an optional
    ``item_table``); ``config``: reads ``dim``, ``dropout``, ``init_range`` and ``n_layers`` only.
    """

    def __init__(
        self, config: BackboneConfig, n_items: int, item_table: ItemTable | None = None
    ) -> None:
        super().__init__(config, n_items, item_table)
        N = config.dim
        self.encoder = GRUEncoder(config)
        self.a1 = nn.Linear(N, N, bias=False)  # A_1, applied to the last state h_t
        self.a2 = nn.Linear(N, N, bias=False)  # A_2, applied to every state h_j
        self.v = nn.Linear(N, 1, bias=False)
        self.context_dropout = Dropout(config.dropout)
        self.decoder = nn.Linear(2 * N, N, bias=False)  # B of the bilinear decoder
        self.init_parameters_()

    def head_parameters(self) -> list[nn.Parameter]:
        return [p for m in (self.a1, self.a2, self.v, self.decoder) for p in m.parameters()]

    def encode_with(self, batch: Batch, lookup) -> torch.Tensor:
        states, last = self.encoder(lookup(batch.items), batch.lengths)  # (B, L, N), (B, N)
        alpha = self.v(torch.sigmoid(self.a1(last)[:, None] + self.a2(states)))  # (B, L, 1)
        alpha = alpha * batch.mask[:, :, None]  # padded positions get weight 0
        local = (alpha * states).sum(dim=1)  # (B, N)
        context = self.context_dropout(torch.cat([last, local], dim=1))  # (B, 2N)
        return self.decoder(context)  # (B, N)
