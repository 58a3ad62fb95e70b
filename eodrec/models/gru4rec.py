"""GRU4Rec (Hidasi et al., "Session-based Recommendations with Recurrent Neural Networks",
ICLR 2016).

Data flow for a batch of right-padded sequences (B sessions, L positions, N dimensions)::

    x     = Dropout(X[items])                      # item embeddings          (B, L, N)
    h     = GRU^n_layers(x)                        # over real positions only (B, L, N)
    theta = h at the last real position            #                          (B, N)
    score = theta @ X^T                            #                          (B, n_items + 1)

From GRU4Rec: the GRU over the session and its last hidden state as the session's state. Not
from GRU4Rec: the session-parallel mini-batches and ranking losses; this package trains every
model on padded prefix examples with softmax cross-entropy over the full table, and scores with
the item table itself (a tied output layer) so that any item table plugs in. The embedding
dropout follows the common PyTorch GRU4Rec/NARM implementations. The hyperparameters are the
EODRec paper's general settings (Sec. 6.1.3), which it applies to every baseline: N = 128
(Tmall) or 256 (RetailRocket) for both embedding and hidden size, dropout 0.5 or 0.2,
U(-0.1, 0.1) init, and (in training) batch 100, Adam 1e-3, L2 1e-5.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from eodrec.data.batch import Batch
from eodrec.models.base import BackboneConfig, SessionRecommender
from eodrec.models.item_tables import ItemTable
from eodrec.models.teacher import Dropout


class GRUEncoder(nn.Module):
    """Embedding dropout then a GRU run on the packed real positions, so padding never enters
    the recurrence (shared by GRU4Rec and NARM).

    An exported graph cannot pack (the packed sizes depend on the data), so export runs the GRU
    on the right-padded grid: the recurrence is causal, so every real position's output, the
    last real one included, is the same; padded positions' outputs are zeroed as packing does.
    """

    def __init__(self, config: BackboneConfig) -> None:
        super().__init__()
        self.dropout = Dropout(config.dropout)
        self.gru = nn.GRU(config.dim, config.dim, config.n_layers, batch_first=True)

    def forward(
        self, vectors: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Item vectors (B, L, N) and lengths (B,) -> the last layer's outputs (B, L, N), zero
        at padded positions, and each sequence's output at its last real position (B, N)."""
        if torch.compiler.is_exporting():
            return self._padded(self.dropout(vectors), lengths)
        packed = pack_padded_sequence(
            self.dropout(vectors), lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        outputs, last = self.gru(packed)  # last: (n_layers, B, N), in the batch's order
        states, _ = pad_packed_sequence(outputs, batch_first=True, total_length=vectors.shape[1])
        return states, last[-1]

    def _padded(self, vectors: torch.Tensor, lengths: torch.Tensor):
        outputs, _ = self.gru(vectors)  # (B, L, N), causal: padding comes after the real items
        L = vectors.shape[1]
        real = torch.arange(L, device=vectors.device)[None, :] < lengths[:, None]  # (B, L)
        states = outputs * real[:, :, None]
        last = outputs[torch.arange(vectors.shape[0], device=vectors.device), lengths - 1]
        return states, last


class GRU4Rec(SessionRecommender):
    """theta_s = the GRU's hidden state after the session's last item.

    Built as :class:`~eodrec.models.teacher.Teacher` is (``config``, ``n_items``, an optional
    ``item_table``); ``config``: reads ``dim``, ``dropout``, ``init_range`` and ``n_layers`` only.
    """

    def __init__(
        self, config: BackboneConfig, n_items: int, item_table: ItemTable | None = None
    ) -> None:
        super().__init__(config, n_items, item_table)
        self.encoder = GRUEncoder(config)
        self.init_parameters_()

    def encode_with(self, batch: Batch, lookup) -> torch.Tensor:
        _, last = self.encoder(lookup(batch.items), batch.lengths)  # (B, N)
        return last
