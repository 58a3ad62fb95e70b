"""A small synthetic dataset for tests, examples and smoke runs without downloads.

Items have Zipf-like popularity and each item has a few likely successors, so sessions are walks
on a sparse Markov chain with noise: a sequential model can learn it and beat popularity, and it
generates in milliseconds, identically for a given seed.
"""

from __future__ import annotations

import hashlib

import numpy as np

from eodrec.data.session_data import SessionData
from eodrec.data.sessions import augment_prefixes

N_ITEMS = 300
N_TRAIN_SESSIONS = 3000
N_TEST_SESSIONS = 150
MAX_LENGTH = 15
FOLLOW_PROB = 0.75  # otherwise the next item is a popularity draw (noise)
SUCCESSOR_WEIGHTS = (0.6, 0.3, 0.1)


def make_toy(seed: int = 0) -> SessionData:
    """Generate the ``toy`` dataset; the same seed gives the same data on every run."""
    rng = np.random.default_rng(seed)
    ranks = rng.permutation(N_ITEMS) + 1
    popularity = 1.0 / ranks**0.8
    popularity /= popularity.sum()
    successors = rng.integers(N_ITEMS, size=(N_ITEMS, len(SUCCESSOR_WEIGHTS)))

    n = N_TRAIN_SESSIONS + N_TEST_SESSIONS
    walks = np.empty((n, MAX_LENGTH), dtype=np.int64)  # 0-based item indices
    walks[:, 0] = rng.choice(N_ITEMS, size=n, p=popularity)
    for t in range(1, MAX_LENGTH):
        follow = rng.random(n) < FOLLOW_PROB
        slot = rng.choice(len(SUCCESSOR_WEIGHTS), size=n, p=SUCCESSOR_WEIGHTS)
        noise = rng.choice(N_ITEMS, size=n, p=popularity)
        walks[:, t] = np.where(follow, successors[walks[:, t - 1], slot], noise)
    lengths = np.minimum(1 + rng.geometric(0.25, size=n), MAX_LENGTH)
    sessions = [(walks[i, : lengths[i]] + 1).tolist() for i in range(n)]

    train = sessions[:N_TRAIN_SESSIONS]
    known = {item for s in train for item in s}
    test = [[item for item in s if item in known] for s in sessions[N_TRAIN_SESSIONS:]]
    sequences, targets, _ = augment_prefixes(test, longest_first=True)

    digest = hashlib.sha256(repr((train, sequences, targets)).encode()).hexdigest()
    return SessionData(
        name="toy",
        train_sessions=train,
        test_sequences=sequences,
        test_targets=targets,
        n_items=N_ITEMS,
        checksums={f"toy/seed={seed}": digest},
    )
