"""A repeat mechanism for any trained model: the session's own items scored up, calibrated on
validation (beyond the paper).

45% of Tmall's test targets already occur in their session, and "the session's items, most
recent first" beats every model of Table 3 there. No model here has a repeat path: an item must
out-score its |V| rivals through the item table alone, which additive codes in particular do
badly. This adds the path at scoring time, for the teacher, the baselines and the student alike,
through the recommender contract:

    score'(i) = log p(i | s) + weight * decay ** age_s(i)   (items i of the session s)
    score'(i) = log p(i | s)                                (every other item)

with ``age_s(i)`` the number of items after the last occurrence of ``i`` in ``s`` (0 for the
last one). Two scalars, chosen on validation: on a device it adds no |V| x N state.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch import nn

from eodrec.data.batch import Batch
from eodrec.metrics import PADDING_ID, mask_padding

# A weight of 0 is the model itself, so calibration can only keep or beat it on validation.
DEFAULT_WEIGHTS = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 64.0)
DEFAULT_DECAYS = (0.3, 0.6, 0.8, 1.0)


@dataclass(frozen=True)
class RepeatConfig:
    """The grid a repeat mechanism is calibrated over on validation."""

    repeat_weights: tuple[float, ...] = DEFAULT_WEIGHTS
    repeat_decays: tuple[float, ...] = DEFAULT_DECAYS

    def __post_init__(self) -> None:
        weights, decays = self.repeat_weights, self.repeat_decays
        if not weights or not decays:
            raise ValueError("a repeat grid needs at least one weight and one decay")
        if any(w < 0 for w in weights) or any(not 0 < d <= 1 for d in decays):
            raise ValueError("repeat weights must be >= 0 and decays in (0, 1]")

    def grid(self) -> list[dict[str, float]]:
        return [{"weight": w, "decay": d} for w in self.repeat_weights for d in self.repeat_decays]

    @classmethod
    def from_dict(cls, values: dict) -> RepeatConfig:
        """JSON stores the grids as lists; the config holds tuples (and hashes the same)."""
        return cls(**{f.name: tuple(values[f.name]) for f in fields(cls) if f.name in values})


def session_recency(batch: Batch, n_columns: int, decay: float) -> torch.Tensor:
    """(B, n_columns): ``decay ** age`` of each item of each session at its last occurrence, 0
    for items not in it (and for the padding column)."""
    values = session_recency_values(batch, decay)
    recency = torch.zeros(len(batch), n_columns, device=values.device)
    recency.scatter_reduce_(1, batch.items, values, reduce="amax")
    recency[:, PADDING_ID] = 0.0
    return recency


def session_recency_values(batch: Batch, decay: float) -> torch.Tensor:
    """(B, L): ``decay ** age`` at each position of each session, 0 on padding."""
    positions = torch.arange(batch.items.shape[1], device=batch.items.device)
    age = (batch.lengths[:, None] - 1 - positions).clamp(min=0).to(torch.float32)
    return torch.where(batch.mask, decay**age, torch.zeros_like(age))


class RepeatBoost(nn.Module):
    """``model``'s log-probabilities with the session's items scored up (module docstring)."""

    def __init__(self, model: nn.Module, weight: float, decay: float) -> None:
        super().__init__()
        self.model, self.weight, self.decay = model, weight, decay

    def forward(self, batch: Batch) -> torch.Tensor:
        log_p = torch.log_softmax(mask_padding(self.model(batch)), dim=1)
        return boost(log_p, batch, self.weight, self.decay)


def boost(log_p: torch.Tensor, batch: Batch, weight: float, decay: float) -> torch.Tensor:
    """``log_p`` (B, n_items + 1) with ``weight * decay ** age`` added to the session's items."""
    if weight == 0:
        return log_p
    return log_p + weight * session_recency(batch, log_p.shape[1], decay)
