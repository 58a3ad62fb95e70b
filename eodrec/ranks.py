"""Per-session test ranks of a result, stored beside its JSON, and the repeat / explore split.

Means hide which sessions a model gets right. With each test target's rank on file, any later
question (a significance test, a per-group metric) is answered without rerunning the model.
The repeat / explore split asks the question a session recommender most needs asked: 45% of
Tmall's test targets are already in their session, and a model that only re-ranks them looks
strong.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from eodrec.data.splits import Examples
from eodrec.metrics import evaluate_ranks, hit_at_k, ndcg_at_k
from eodrec.store import ResultsStore, StoreError, atomic_write_npz

RANKS_SUFFIX = ".ranks.npz"


def ranks_path(store: ResultsStore, run_id: str) -> Path:
    """``<results>/<experiment>/<run id>.ranks.npz``, beside the run's JSON."""
    return store.path(run_id).with_name(run_id + RANKS_SUFFIX)


def save_ranks(store: ResultsStore, run_id: str, ranks: torch.Tensor) -> dict[str, str]:
    """Write ``ranks`` as one compressed int32 array ``rank``; returns the file's record."""
    path = ranks_path(store, run_id)
    atomic_write_npz(path, compressed=True, rank=ranks.numpy().astype(np.int32))
    return {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def load_ranks(store: ResultsStore, result: dict) -> torch.Tensor:
    """The stored test ranks of ``result``, checked against the sha256 its JSON records."""
    record = result.get("ranks")
    if record is None:
        raise StoreError(f"{result['id']} stores no ranks (it predates them)")
    path = store.path(result["id"]).with_name(record["file"])
    if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != record["sha256"]:
        raise StoreError(f"{path} is missing or is not the ranks file {result['id']} recorded")
    with np.load(path) as stored:
        return torch.from_numpy(stored["rank"].astype(np.int64))


def repeat_explore(
    ranks: torch.Tensor,
    sequences: Sequence[Sequence[int]],
    targets: Sequence[int],
    k: int = 10,
) -> dict[str, dict[str, float | int | None]]:
    """P@k and NDCG@k on the sessions whose target already occurs in them (``repeat``) and on
    the others (``explore``), with each group's size and share; an empty group's metrics are
    None."""
    repeat = torch.tensor(
        [target in sequence for sequence, target in zip(sequences, targets, strict=True)],
        dtype=torch.bool,
    )
    breakdown = {}
    for name, members in (("repeat", repeat), ("explore", ~repeat)):
        group = ranks[members]
        empty = group.numel() == 0
        breakdown[name] = {
            "count": group.numel(),
            "share": group.numel() / ranks.numel(),
            f"P@{k}": None if empty else hit_at_k(group, k).mean().item(),
            f"NDCG@{k}": None if empty else ndcg_at_k(group, k).mean().item(),
        }
    return breakdown


def record_test(
    store: ResultsStore, run_id: str, ranks: torch.Tensor, test: Examples
) -> dict[str, object]:
    """A result's test fields from its test ranks: the metrics, the repeat / explore split and
    the ranks file, written now."""
    return {
        "test_metrics": evaluate_ranks(ranks),
        "test_breakdown": repeat_explore(ranks, test.sequences, test.targets),
        "ranks": save_ranks(store, run_id, ranks),
    }


def paired_bootstrap(
    ranks: torch.Tensor,
    baseline: torch.Tensor,
    k: int = 10,
    resamples: int = 2000,
    seed: int = 0,
    chunk: int = 100,
) -> dict[str, tuple[float, float, float]]:
    """P@k and NDCG@k of ``ranks`` minus ``baseline`` (the same test sessions, in the same
    order), in percentage points: the difference and its 95% paired bootstrap interval, sessions
    resampled with replacement (percentile method, seeded)."""
    if ranks.shape != baseline.shape:
        raise ValueError(f"paired ranks must match, got {tuple(ranks.shape)} and "
                         f"{tuple(baseline.shape)}")  # fmt: skip
    generator = torch.Generator().manual_seed(seed)
    n, found = ranks.numel(), {}
    for name, metric in ((f"P@{k}", hit_at_k), (f"NDCG@{k}", ndcg_at_k)):
        gaps = 100 * (metric(ranks, k) - metric(baseline, k))  # (n,) per-session differences
        means = torch.cat([
            gaps[torch.randint(n, (min(chunk, resamples - start), n), generator=generator)]
            .mean(dim=1)
            for start in range(0, resamples, chunk)
        ])  # fmt: skip
        low, high = torch.quantile(means, torch.tensor([0.025, 0.975], dtype=means.dtype))
        found[name] = (gaps.mean().item(), low.item(), high.item())
    return found
