"""Dataset statistics as reported in the paper's Table 2, plus the repeat-item rates.

The repeat rates explain why validation scores (carved from training sessions) run above test
scores: on Tmall the next item equals the last clicked item twice as often in training as in
test.
"""

from __future__ import annotations

from itertools import pairwise
from statistics import fmean

from eodrec.data.session_data import SessionData
from eodrec.data.sessions import group_test_prefixes


def dataset_stats(data: SessionData) -> dict[str, str | int | float]:
    """Counts, lengths and repeat rates of ``data``.

    Test sessions are reassembled from the prefix examples (longest prefix first per session),
    so ``test_sessions``, ``avg_length_train_test`` and ``max_length`` count whole sessions.
    """
    train = data.train_sessions
    test_sessions = group_test_prefixes(data.test_sequences, data.test_targets)
    whole = [len(s) for s in train] + [len(s) for s in test_sessions]
    train_last, train_any = _train_repeat_rates(train)
    test_last, test_any = _repeat_rates(data.test_sequences, data.test_targets)
    return {
        "dataset": data.name,
        "train_sessions": len(train),
        "train_sequences": sum(len(s) - 1 for s in train),
        "test_sessions": len(test_sessions),
        "test_sequences": len(data.test_sequences),
        "items": data.n_items,
        "avg_length": fmean(len(s) for s in train),
        "avg_length_train_test": fmean(whole),
        "train_sequences_min_prefix2": sum(max(len(s) - 2, 0) for s in train),
        "max_length": max(whole),
        "distinct_train_items": len({item for s in train for item in s}),
        "train_repeat_last": train_last,
        "train_repeat_any": train_any,
        "test_repeat_last": test_last,
        "test_repeat_any": test_any,
    }


def _train_repeat_rates(sessions: list[list[int]]) -> tuple[float, float]:
    """Repeat rates over all prefix examples of ``sessions`` without materialising them."""
    n = same_as_last = seen_before = 0
    for session in sessions:
        seen = {session[0]}
        for prev, target in pairwise(session):
            n += 1
            same_as_last += target == prev
            seen_before += target in seen
            seen.add(target)
    return same_as_last / n, seen_before / n


def _repeat_rates(sequences: list[list[int]], targets: list[int]) -> tuple[float, float]:
    """Fractions of examples whose target is the prefix's last item / anywhere in the prefix."""
    n = len(targets)
    same_as_last = sum(seq[-1] == t for seq, t in zip(sequences, targets, strict=True))
    seen_before = sum(t in seq for seq, t in zip(sequences, targets, strict=True))
    return same_as_last / n, seen_before / n
