"""Top-K ranking metrics for next-item prediction (paper Sec. 6.1.2).

Every session has exactly one relevant item, its target. The metrics are pure functions that
return one value per session; averaging happens only in :func:`evaluate_ranks`, and nothing
is rounded.

Scores are laid out as ``(B, n_items + 1)``: column ``i`` is item id ``i`` and column 0 is the
padding id, which is never ranked and never recommended.

Names used in the paper's tables, for a session whose target has 1-based rank ``r``:

=========  =====================================  =================================
 key        formula                                 paper
=========  =====================================  =================================
 P@K        1 if r <= K else 0                      "P@K" / "Prec@K" (the hit rate)
 NDCG@K     1 / log2(r + 1) if r <= K else 0        NDCG@K with one relevant item
 MRR@K      1 / r if r <= K else 0                  MRR@K
=========  =====================================  =================================
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

PADDING_ID = 0


def mask_padding(scores: torch.Tensor) -> torch.Tensor:
    """Return a copy of ``scores`` (B, n_items + 1) with the padding column set to -inf."""
    scores = scores.clone()
    scores[:, PADDING_ID] = float("-inf")
    return scores


def rank_of_target(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """1-based rank of each session's target among all real items, ties counted pessimistically.

    rank_b = |{ i in 1..n_items : scores[b, i] >= scores[b, targets[b]] }|

    The target counts itself, so the best possible rank is 1. Items tied with the target are all
    placed before it, so a model that gives every item the same score gets rank ``n_items``,
    never an accidental rank 1. Column 0 (padding) is excluded whatever its score.

    Args:
        scores: (B, n_items + 1) float scores, column ``i`` for item id ``i``.
        targets: (B,) int item ids in ``1..n_items``.

    Returns:
        (B,) int64 ranks in ``1..n_items``.
    """
    if scores.dim() != 2 or targets.shape != scores.shape[:1]:
        raise ValueError(
            f"expected scores (B, n_items+1) and targets (B,), got "
            f"{tuple(scores.shape)} and {tuple(targets.shape)}"
        )
    if bool(((targets < 1) | (targets >= scores.shape[1])).any()):
        raise ValueError(
            f"targets must be item ids in 1..{scores.shape[1] - 1}; "
            f"0 is padding and cannot be a target"
        )
    target_scores = scores.gather(1, targets[:, None])  # (B, 1)
    return (scores[:, 1:] >= target_scores).sum(dim=1).to(torch.int64)  # (B,)


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")


def hit_at_k(ranks: torch.Tensor, k: int) -> torch.Tensor:
    """P@K as the paper uses it, i.e. the hit rate: 1 if rank <= k else 0. Returns (B,) float64."""
    _check_k(k)
    return (ranks <= k).to(torch.float64)


def ndcg_at_k(ranks: torch.Tensor, k: int) -> torch.Tensor:
    """NDCG@K with a single relevant item (IDCG = 1): 1 / log2(rank + 1) if rank <= k else 0.

    Returns (B,) float64.
    """
    _check_k(k)
    gain = 1.0 / torch.log2(ranks.to(torch.float64) + 1.0)
    return torch.where(ranks <= k, gain, torch.zeros_like(gain))


def mrr_at_k(ranks: torch.Tensor, k: int) -> torch.Tensor:
    """Reciprocal rank cut at K: 1 / rank if rank <= k else 0. Returns (B,) float64."""
    _check_k(k)
    reciprocal = 1.0 / ranks.to(torch.float64)
    return torch.where(ranks <= k, reciprocal, torch.zeros_like(reciprocal))


def evaluate_ranks(ranks: torch.Tensor, ks: Iterable[int] = (5, 10, 20)) -> dict[str, float]:
    """Mean metrics over sessions, as fractions (the paper's tables print them x100).

    Keys, in order: ``P@k`` and ``NDCG@k`` for each k in ``ks``, then ``MRR@max(ks)``.
    With the default ``ks`` that is P@5, NDCG@5, P@10, NDCG@10, P@20, NDCG@20, MRR@20.
    Values are fractions ``mean_b metric(rank_b)`` in [0, 1], unrounded; tables show them x100.
    """
    ks = tuple(ks)
    if not ks:
        raise ValueError("ks must name at least one cut-off")
    if ranks.numel() == 0:
        raise ValueError("cannot average metrics over zero sessions")
    results: dict[str, float] = {}
    for k in ks:
        results[f"P@{k}"] = hit_at_k(ranks, k).mean().item()
        results[f"NDCG@{k}"] = ndcg_at_k(ranks, k).mean().item()
    k_max = max(ks)
    results[f"MRR@{k_max}"] = mrr_at_k(ranks, k_max).mean().item()
    return results


def topk_items(scores: torch.Tensor, k: int) -> torch.Tensor:
    """The k best item ids per session, best first; padding (id 0) is never returned.

    Args:
        scores: (B, n_items + 1) float scores.
        k: how many items, at most ``n_items``.

    Returns:
        (B, k) int64 item ids in ``1..n_items``. The order among exactly tied scores is unspecified.
    """
    _check_k(k)
    n_items = scores.shape[1] - 1
    if k > n_items:
        raise ValueError(f"k={k} exceeds the number of items ({n_items})")
    return mask_padding(scores).topk(k, dim=1).indices  # (B, k)


def tie_bound(targets: torch.Tensor, n_items: int, n_vectors: int, k: int = 10) -> float:
    """The highest P@k any scoring can reach when the catalogue has only ``n_vectors`` distinct
    item vectors (a student scored by its codes alone: at most min(K**M, |V|) of them).

    Items that share a vector share every score, and ties count against the target
    (:func:`rank_of_target`), so a target is in the top k only if its whole tie group, plus
    anything ranked above it, has at most k items. Even with its group ranked first for every
    session, a session can hit only if the group of its target has <= k items. If k groups
    hold all n_items, every target can; otherwise at most n_vectors - 1 groups are that small
    (the last one takes the rest), so at most k (n_vectors - 1) items can ever hit, and the
    most favourable partition gives them to the most frequent test targets. The bound is the
    share of test sessions whose target is among those items.

    Args:
        targets: (S,) the test sessions' target ids in ``1..n_items``.
        n_items: |V|, the items ranked.
        n_vectors: how many distinct vectors the items have, at least 1.
        k: the cut-off.

    Returns:
        The bound as a fraction in [0, 1].
    """
    _check_k(k)
    if n_vectors < 1:
        raise ValueError(f"n_vectors must be >= 1, got {n_vectors}")
    if targets.numel() == 0 or bool(((targets < 1) | (targets > n_items)).any()):
        raise ValueError(f"targets must be a non-empty set of item ids in 1..{n_items}")
    if k * n_vectors >= n_items:
        return 1.0
    counts = torch.bincount(targets, minlength=n_items + 1)[1:]  # (n_items,) per item
    best = counts.sort(descending=True).values[: k * (n_vectors - 1)]
    return best.sum().item() / targets.numel()
