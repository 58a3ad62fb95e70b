"""SASRec (Kang and McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018).

The session vector is the transformer's hidden state at the session's last item, the readout
SASRec itself uses for next-item prediction. Everything else is the teacher's transformer
(:class:`~eodrec.models.teacher.Teacher`) at the same settings, as the EODRec paper runs every
baseline "with the same general experimental settings" (Sec. 6.1.3): one post-LN block, the
teacher's heads, dropout and U(-0.1, 0.1) init. So the SASRec and Teacher rows of Table 3
differ only in the readout (last position against the soft attention of Eq. 3). Trained, as
every model here, with softmax cross-entropy on the next item rather than the original's
per-position binary loss with sampled negatives.
"""

from __future__ import annotations

import torch
from torch import nn

from eodrec.models.base import BackboneConfig
from eodrec.models.teacher import Teacher


class LastPositionReadout(nn.Module):
    """theta_s = H at the last real position; no parameters, so nothing to leave untrained."""

    packed = True  # reads real positions only

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x (B, L, N), mask (B, L) -> (B, N): the row of each sequence's last real item."""
        last = mask.sum(dim=1).clamp(min=1) - 1  # (B,)
        return x[torch.arange(x.shape[0], device=x.device), last]

    def forward_packed(self, x: torch.Tensor, rows: torch.Tensor, n_rows: int) -> torch.Tensor:
        """Packed row-major tokens x (T, N) of sequences ``rows`` (T,) -> (n_rows, N)."""
        last = torch.bincount(rows, minlength=n_rows).cumsum(0) - 1  # (B,) last token index
        return x.index_select(0, last)


class SASRec(Teacher):
    """The teacher's transformer read out at the last position."""

    def _make_readout(self, config: BackboneConfig) -> nn.Module:
        return LastPositionReadout()
