"""Full-ranking evaluation: every sequence is scored against every item (no sampling)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch

from eodrec.data import Batch, pad_batch
from eodrec.metrics import evaluate_ranks, rank_of_target, topk_items
from eodrec.models import SessionRecommender


@torch.no_grad()
def scored_batches(
    model: SessionRecommender,
    sequences: Sequence[Sequence[int]],
    targets: Sequence[int],
    batch_size: int = 500,
    device: torch.device | str = "cpu",
) -> Iterator[tuple[Batch, torch.Tensor]]:
    """Each batch, in file order, with its scores (B, n_items + 1); the model in eval mode."""
    model.eval()
    for start in range(0, len(sequences), batch_size):
        stop = min(start + batch_size, len(sequences))
        batch = pad_batch(sequences[start:stop], targets[start:stop], range(start, stop))
        batch = batch.to(device)
        yield batch, model(batch)


def rank_targets(
    model: SessionRecommender,
    sequences: Sequence[Sequence[int]],
    targets: Sequence[int],
    batch_size: int = 500,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """The (n,) ranks of each target among all items, in file order."""
    return torch.cat(
        [
            rank_of_target(scores, batch.targets).cpu()
            for batch, scores in scored_batches(model, sequences, targets, batch_size, device)
        ]
    )


def evaluate(
    model: SessionRecommender,
    sequences: Sequence[Sequence[int]],
    targets: Sequence[int],
    batch_size: int = 500,
    device: torch.device | str = "cpu",
) -> dict[str, float]:
    """P@K, NDCG@K (K = 5, 10, 20) and MRR@20 as fractions in [0, 1]."""
    return evaluate_ranks(rank_targets(model, sequences, targets, batch_size, device))


def predict_topk(
    model: SessionRecommender,
    sequences: Sequence[Sequence[int]],
    targets: Sequence[int],
    k: int,
    batch_size: int = 500,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """The (n, k) best item ids per sequence, best first, in file order."""
    return torch.cat(
        [
            topk_items(scores, k).cpu()
            for _, scores in scored_batches(model, sequences, targets, batch_size, device)
        ]
    )
