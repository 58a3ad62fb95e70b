import hashlib
import time
from collections import Counter
from itertools import pairwise

from eodrec.data import load_dataset, make_toy

# sha256 of repr((train_sessions, test_sequences, test_targets)) for seed 0: pins the generator,
# so any change to the toy data (which would change every result built on it) is deliberate.
TOY_SEED0_SHA256 = "5c0f4d458e342bf39b36b4d1b7e8b78b30befba81b7c2bef271af5fb6d5589cb"


def _content_hash(data):
    content = repr((data.train_sessions, data.test_sequences, data.test_targets))
    return hashlib.sha256(content.encode()).hexdigest()


def test_toy_is_deterministic_and_fast():
    start = time.perf_counter()
    data = make_toy()
    assert time.perf_counter() - start < 0.5
    assert _content_hash(data) == TOY_SEED0_SHA256
    assert data.checksums == {"toy/seed=0": TOY_SEED0_SHA256}
    assert _content_hash(load_dataset("toy")) == TOY_SEED0_SHA256
    assert _content_hash(make_toy(seed=1)) != TOY_SEED0_SHA256


def test_toy_shape():
    data = make_toy()
    assert data.name == "toy" and data.n_items == 300
    assert len(data.train_sessions) == 3000
    assert 500 <= len(data.test_sequences) == len(data.test_targets) <= 700
    lengths = [len(s) for s in data.train_sessions]
    assert min(lengths) == 2 and max(lengths) == 15
    items = [i for s in data.train_sessions for i in s]
    assert min(items) >= 1 and max(items) <= 300
    train_items = set(items)
    assert all(i in train_items for s in data.test_sequences for i in s)
    assert set(data.test_targets) <= train_items


def test_toy_is_skewed_and_sequential():
    data = make_toy()
    counts = Counter(i for s in data.train_sessions for i in s)
    ranked = [c for _, c in counts.most_common()]
    assert ranked[0] > 20 * ranked[-1]  # Zipf-like head and tail
    # Next item is far more predictable from the current item than from popularity alone.
    successors = Counter(pair for s in data.train_sessions for pair in pairwise(s))
    best_next: dict[int, int] = {}
    for (a, b), _ in successors.most_common():
        best_next.setdefault(a, b)
    most_popular = counts.most_common(1)[0][0]
    examples = zip(data.test_sequences, data.test_targets, strict=True)
    hit_markov = sum(best_next.get(s[-1]) == t for s, t in examples)
    hit_pop = sum(t == most_popular for t in data.test_targets)
    assert hit_markov > 3 * hit_pop
