"""The four baselines on hand-made sessions whose scores are worked out by hand."""

import numpy as np
import pytest
import torch

from eodrec.data import augment_prefixes
from eodrec.data.splits import Examples
from eodrec.heuristics.base import Flat, Heuristic, Own, rank_examples, sessions_of
from eodrec.heuristics.config import METHODS
from eodrec.heuristics.methods import VSKNN, Popularity, Recency, SequentialRules, build_method
from eodrec.metrics import rank_of_target

N_ITEMS = 8
# Occurrences: item 3 five times, 2 four, 1 three, 4 and 5 twice, 6 and 7 once, 8 never.
SESSIONS = [[3, 3, 2], [1, 2, 3], [2, 3, 4], [1, 2, 5], [3, 1, 4, 5], [6, 7]]


def order(scores: torch.Tensor, k: int) -> list[int]:
    """The k best items of one session's scores, best first (asserting no tie inside them)."""
    row = scores[0, 1:].numpy()
    best = np.argsort(-row, kind="stable")[:k] + 1
    assert len(set(row[best - 1])) == k, "the top items are tied"
    return best.tolist()


def test_pop_ranks_by_training_occurrences_and_counts_ties_pessimistically():
    pop = Popularity().fit(SESSIONS, N_ITEMS)
    scores = pop.scores([[6]])
    assert order(scores, 3) == [3, 2, 1]
    assert scores[0, 0] == float("-inf")
    # 4 and 5 tie (two occurrences each): each is ranked behind the other
    ranks = rank_of_target(scores.expand(2, -1), torch.tensor([4, 5]))
    assert ranks.tolist() == [5, 5]
    assert rank_of_target(scores, torch.tensor([8])).item() == N_ITEMS  # never seen: last


def test_recency_puts_the_sessions_items_most_recent_first_then_popular_ones():
    recency = Recency().fit(SESSIONS, N_ITEMS)
    # 6 was seen last, 4 before it (its earlier occurrence does not count), then 7
    assert order(recency.scores([[4, 7, 4, 6]]), 6) == [6, 4, 7, 3, 2, 1]


@pytest.mark.parametrize("name", ["pop", "recency", "sknn", "sr"])
def test_an_empty_session_ranks_by_popularity(name):
    method = build_method(name).fit(SESSIONS, N_ITEMS)
    pop = Popularity().fit(SESSIONS, N_ITEMS)
    assert torch.equal(method.scores([[]]), pop.scores([[]]))
    assert torch.equal(method.scores([[], [1]])[0], pop.scores([[1]])[0])
    # by occurrences, the ties (4 and 5, 6 and 7) to the lower id; 8, never seen, last
    assert method.top_k([[], [1]], N_ITEMS)[1][0].tolist() == [3, 2, 1, 4, 5, 6, 7, 8]


@pytest.mark.parametrize("name", ["sknn", "sr"])
def test_a_session_of_an_item_never_seen_has_no_neighbours_or_rules_so_ranks_by_popularity(name):
    method = build_method(name).fit(SESSIONS, N_ITEMS)
    values, ids = method.top_k([[8], []], 5)
    assert ids.tolist() == [[3, 2, 1, 4, 5]] * 2 and np.array_equal(values[0], values[1])


def test_sequential_rules_weigh_each_pair_by_one_over_its_gap():
    sessions = [[1, 2, 3], [1, 3]]
    rules = SequentialRules(steps=2).fit(sessions, 4)
    table = {
        (a, int(b)): w
        for a in range(5)
        for b, w in zip(
            rules.rule_targets[rules.rule_ptr[a] : rules.rule_ptr[a + 1]],
            rules.rule_weights[rules.rule_ptr[a] : rules.rule_ptr[a + 1]],
            strict=True,
        )
    }
    assert table == pytest.approx({(1, 2): 1.0, (1, 3): 0.5 + 1.0, (2, 3): 1.0})
    one_step = SequentialRules(steps=1).fit(sessions, 4)
    assert one_step.rule_weights[one_step.rule_ptr[1] : one_step.rule_ptr[2]].tolist() == [1, 1]
    # scored from the last item only: 1's rules, 3 (1.5) before 2 (1.0)
    assert order(rules.scores([[2, 1]]), 2) == [3, 2]
    assert rules.state_bytes == sum(
        a.nbytes for a in (rules.rule_ptr, rules.rule_targets, rules.rule_weights)
    )


# Against the session [1, 2] (weights 1/2 and 2/2): s0 shares 1 (similarity 0.5), s1 shares 2
# (1.0), s2 shares both (1.5), s3 nothing, s4 shares 2 (1.0) and is more recent than s1.
# Popularity: 2 three times, 1 and 4 twice, the others once, 8 never.
NEIGHBOURHOOD = [[1, 5], [2, 6], [1, 2, 7], [3, 4], [2, 4]]


def test_sknn_scores_items_by_the_summed_similarity_of_the_neighbours_holding_them():
    sknn = VSKNN(k=4, sample_size=10).fit(NEIGHBOURHOOD, N_ITEMS)
    # 2: 1.0 + 1.5 + 1.0; 1: 0.5 + 1.5; 7: 1.5; 6 and 4: 1.0 (tie, 4 more popular); 5: 0.5
    scores = sknn.scores([[1, 2]])
    assert order(scores, 6) == [2, 1, 7, 4, 6, 5]
    assert scores[0, 3] < scores[0, 5] and scores[0, 8] < scores[0, 5]  # not neighbours' items


def test_sknn_keeps_the_k_most_similar_and_breaks_ties_to_the_more_recent():
    best = VSKNN(k=1, sample_size=10).fit(NEIGHBOURHOOD, N_ITEMS)
    assert order(best.scores([[1, 2]]), 3) == [2, 1, 7]  # s2 alone; its tie by popularity
    # against [2], s1, s2 and s4 tie: s4, the latest, votes alone (else 1, 6 or 7 would score)
    assert order(best.scores([[2]]), 3) == [2, 4, 1]


def test_sknn_compares_only_the_most_recent_sample_size_candidates():
    recent = VSKNN(k=10, sample_size=2).fit(NEIGHBOURHOOD, N_ITEMS)
    # candidates s0, s1, s2, s4: the two most recent are s2 and s4
    scores = recent.scores([[1, 2]])
    assert order(scores, 4) == [2, 1, 7, 4]  # 2: 1.5 + 1.0; 1 and 7: 1.5 (1 more popular)
    assert scores[0, 6] < 1 and scores[0, 5] < 1  # s1's 6 and s0's 5: popularity only
    # int32 arrays: session pointers, 11 (session, item) pairs twice, item pointers
    assert recent.state_bytes == 4 * ((len(NEIGHBOURHOOD) + 1) + 2 * 11 + (N_ITEMS + 2))


class Tiny(Heuristic):
    """Every session scores item 1 at 1e-12 and item 2 at 2e-12, nothing else."""

    def _own_scores(self, batch: Flat) -> Own:
        n = batch.lengths.size
        return np.repeat(np.arange(n), 2), np.tile([1, 2], n), np.tile([1e-12, 2e-12], n)


def test_own_scores_come_before_popularity_however_close_they_are():
    tiny = Tiny().fit([[3, 4]] * 9 + [[1, 2]], 4)
    scores = tiny.scores([[3]])[0]
    assert scores[2] > scores[1] > scores[3] == scores[4]
    values, ids = tiny.top_k([[3]], 4)
    assert ids.tolist() == [[2, 1, 3, 4]]  # 3 and 4 tie: the lower id first
    assert values[0].tolist() == scores[ids[0]].tolist()


# Small settings, so that neighbours are cut at k and at the sample, and rules at the gap.
SMALL = {"pop": {}, "recency": {}, "sknn": {"k": 3, "sample_size": 6}, "sr": {"steps": 2}}


def ranking_head(method: Heuristic, sessions: list, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``k`` of the full ranking (exact ties to the lower id) and their scores."""
    scores = method.scores(sessions).numpy()
    ids = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, ids, axis=1), ids


@pytest.mark.parametrize("name", METHODS)
@pytest.mark.parametrize("seed", range(3))
def test_the_fast_top_k_is_the_head_of_the_full_ranking_ties_included(name, seed):
    # 20 items in 60 short training sessions: many exact ties, in the method's scores and in
    # popularity; items 21..30 are never seen (no neighbours, no rules); empty sessions too
    rng = np.random.default_rng(seed)
    train = [rng.integers(1, 21, rng.integers(2, 6)).tolist() for _ in range(60)]
    method = build_method(name, **SMALL[name]).fit(train, 30)
    sessions = [rng.integers(1, 31, rng.integers(0, 5)).tolist() for _ in range(40)]
    sessions += [[], [25, 30], [21], [3, 25]]
    tied_at_the_cut = 0
    for k in (1, 5, 12, 30):
        values, ids = method.top_k(sessions, k)
        expected_values, expected_ids = ranking_head(method, sessions, k)
        assert np.array_equal(ids, expected_ids) and np.array_equal(values, expected_values)
        next_values = ranking_head(method, sessions, k + 1)[0][:, -1]
        tied_at_the_cut += int((values[:, -1] == next_values).sum())
    assert tied_at_the_cut  # the ties the order must break, there to break
    assert method.top_k([], 5)[1].shape == (0, 5)


def test_whole_sessions_come_back_from_their_prefix_examples():
    sessions = [[1, 2], [3, 4, 5], [5, 1, 1, 2]]
    sequences, targets, _ = augment_prefixes(sessions)
    assert sessions_of(Examples(sequences, targets)) == sessions


def test_ranks_of_examples_are_the_standard_pessimistic_ranks():
    pop = Popularity().fit(SESSIONS, N_ITEMS)
    examples = Examples([[1], [2], [3]], [3, 4, 5])
    assert rank_examples(pop, examples, batch_size=2).tolist() == [1, 5, 5]


@pytest.mark.parametrize("name", ["pop", "recency", "sr", "sknn"])
def test_a_method_restored_from_its_saved_state_scores_as_the_fitted_one(name):
    fitted = build_method(name).fit(SESSIONS, N_ITEMS)
    state = {key: array.copy() for key, array in fitted.saved_state().items()}
    assert set(state) == {"fallback", *fitted.state_arrays()}
    restored = build_method(name).restore(state)
    sessions = [[4, 7, 4, 6], [], [1, 2], [3]]
    assert restored.n_items == N_ITEMS and restored.state_bytes == fitted.state_bytes
    assert torch.equal(restored.scores(sessions), fitted.scores(sessions))
