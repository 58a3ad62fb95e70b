"""The four baselines on hand-made sessions whose scores are worked out by hand."""

import numpy as np
import pytest
import torch

from eodrec.data import augment_prefixes
from eodrec.data.splits import Examples
from eodrec.heuristics.base import rank_examples, rank_then_fallback, sessions_of
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


def test_own_scores_come_before_popularity_however_close_they_are():
    primary = np.array([[0.0, 1e-12, 2e-12, 0.0, 0.0]])
    fallback = np.array([-np.inf, 0.1, 0.2, 0.9, 0.9])
    scores = rank_then_fallback(primary, fallback)[0]
    assert scores[2] > scores[1] > scores[3] == scores[4]


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
