"""Session-level transformations shared by training, evaluation and statistics."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

import numpy as np
import torch


def augment_prefixes(
    sessions: Sequence[Sequence[int]], longest_first: bool = False
) -> tuple[list[list[int]], list[int], list[int]]:
    """Turn each session into its (prefix, next item) examples.

    Session ``[v1..vl]`` gives ``([v1], v2), ..., ([v1..v_{l-1}], v_l)``, shortest prefix first;
    ``longest_first`` reverses that within each session, the order of the SR-GNN-style test
    files. Returns the prefixes, the targets and, per example, the index of its session.
    """
    sequences: list[list[int]] = []
    targets: list[int] = []
    session_ids: list[int] = []
    for sid, session in enumerate(sessions):
        session = list(session)
        ends = range(1, len(session))
        for end in reversed(ends) if longest_first else ends:
            sequences.append(session[:end])
            targets.append(session[end])
            session_ids.append(sid)
    return sequences, targets, session_ids


def split_validation(
    sessions: Sequence[Sequence[int]], fraction: float = 0.1, seed: int = 0
) -> tuple[list[Sequence[int]], list[Sequence[int]]]:
    """Hold out a seeded random ``fraction`` of whole sessions for validation.

    Splitting sessions (not prefix examples) keeps every prefix of a session on one side, so
    validation never scores a prefix whose continuation was trained on. Both sides keep the
    original session order.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    n_valid = int(round(fraction * len(sessions)))
    held_out = np.zeros(len(sessions), dtype=bool)
    held_out[np.random.default_rng(seed).permutation(len(sessions))[:n_valid]] = True
    train = [s for s, h in zip(sessions, held_out, strict=True) if not h]
    valid = [s for s, h in zip(sessions, held_out, strict=True) if h]
    return train, valid


def group_test_prefixes(
    sequences: Sequence[Sequence[int]], targets: Sequence[int]
) -> list[list[int]]:
    """Reassemble whole sessions from SR-GNN-style augmented test examples.

    The preprocessing scripts emit a session's examples longest prefix first
    (``seq[:-1], seq[:-2], ...``), so an example continues the current session exactly when it
    is the previous prefix minus its last item and its target is that item.
    """
    sessions: list[list[int]] = []
    previous: Sequence[int] = ()
    for seq, target in zip(sequences, targets, strict=True):
        continues = (
            len(seq) == len(previous) - 1
            and target == previous[-1]
            and list(seq) == list(previous[:-1])
        )
        if not continues:
            sessions.append([*seq, target])
        previous = seq
    return sessions


def _flatten(sequences: Sequence[Sequence[int]], n_items: int) -> np.ndarray:
    flat = np.fromiter(chain.from_iterable(sequences), dtype=np.int64)
    if flat.size and (flat.min() < 1 or flat.max() > n_items):
        raise ValueError(f"item ids must lie in 1..{n_items}, got {flat.min()}..{flat.max()}")
    return flat


def item_popularity(sequences: Sequence[Sequence[int]], n_items: int) -> torch.Tensor:
    """Occurrences of each item id in ``sequences`` as an int64 tensor of shape (n_items+1,).

    Pass the augmented training *inputs* (not targets): that is what the model sees.
    """
    return torch.from_numpy(np.bincount(_flatten(sequences, n_items), minlength=n_items + 1))


def hot_item_mask(
    sequences: Sequence[Sequence[int]], n_items: int, fraction: float = 0.2
) -> torch.Tensor:
    """Bool mask (n_items+1,) of the ``int(fraction * D)`` most popular items.

    ``D`` is the number of distinct items in ``sequences``. Ties are broken by first appearance,
    so the split is deterministic; unseen items and padding index 0 are cold.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    flat = _flatten(sequences, n_items)
    items, first_seen = np.unique(flat, return_index=True)
    items = items[np.argsort(first_seen, kind="stable")]  # order of first appearance
    counts = np.bincount(flat, minlength=n_items + 1)[items]
    ranked = items[np.argsort(-counts, kind="stable")]
    mask = torch.zeros(n_items + 1, dtype=torch.bool)
    mask[torch.from_numpy(ranked[: int(fraction * len(items))])] = True
    return mask
