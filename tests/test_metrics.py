"""Metrics on tiny hand-built cases; expected values are written as the formulas they come from."""

import math

import pytest
import torch

from eodrec.metrics import (
    evaluate_ranks,
    hit_at_k,
    mask_padding,
    mrr_at_k,
    ndcg_at_k,
    rank_of_target,
    tie_bound,
    topk_items,
)


def test_rank_is_one_plus_number_of_strictly_better_items():
    # columns: padding, item 1 .. item 4
    scores = torch.tensor(
        [[0.0, 0.1, 0.5, 0.3, 0.2], [0.0, 0.9, 0.5, 0.3, 0.2], [0.0, 0.1, 0.2, 0.3, 0.4]]
    )
    targets = torch.tensor([3, 1, 1])
    ranks = rank_of_target(scores, targets)
    assert ranks.dtype == torch.int64
    assert ranks.tolist() == [2, 1, 4]


def test_ties_are_pessimistic():
    # target item 3 ties with items 2 and 4; item 1 is better -> 1 + 3 tied (incl. itself) = 4
    scores = torch.tensor([[0.0, 0.9, 0.5, 0.5, 0.5, 0.1]])
    assert rank_of_target(scores, torch.tensor([3])).item() == 1 + 3
    # a constant scorer puts the target last, not first
    constant = torch.zeros(1, 7)
    assert rank_of_target(constant, torch.tensor([2])).item() == 6


def test_padding_column_never_affects_rank():
    scores = torch.tensor([[0.0, 0.1, 0.5, 0.3]])
    huge_padding = scores.clone()
    huge_padding[0, 0] = 1e30
    tiny_padding = scores.clone()
    tiny_padding[0, 0] = -1e30
    targets = torch.tensor([2])
    expected = rank_of_target(scores, targets)
    assert expected.item() == 1
    assert rank_of_target(huge_padding, targets).item() == expected.item()
    assert rank_of_target(tiny_padding, targets).item() == expected.item()


def test_rank_rejects_padding_or_out_of_range_targets():
    scores = torch.zeros(2, 4)
    with pytest.raises(ValueError, match="padding"):
        rank_of_target(scores, torch.tensor([1, 0]))
    with pytest.raises(ValueError):
        rank_of_target(scores, torch.tensor([1, 4]))
    with pytest.raises(ValueError):
        rank_of_target(scores, torch.tensor([1]))


def test_per_session_metrics_at_the_k_boundary():
    ranks = torch.tensor([1, 3, 5, 6])
    k = 5
    assert hit_at_k(ranks, k).tolist() == [1.0, 1.0, 1.0, 0.0]
    expected_ndcg = [1 / math.log2(1 + 1), 1 / math.log2(3 + 1), 1 / math.log2(5 + 1), 0.0]
    assert ndcg_at_k(ranks, k).tolist() == pytest.approx(expected_ndcg, abs=1e-15)
    assert mrr_at_k(ranks, k).tolist() == pytest.approx([1 / 1, 1 / 3, 1 / 5, 0.0], abs=1e-15)
    for metric in (hit_at_k, ndcg_at_k, mrr_at_k):
        values = metric(ranks, k)
        assert values.shape == ranks.shape and values.dtype == torch.float64


def test_k_must_be_positive():
    with pytest.raises(ValueError):
        hit_at_k(torch.tensor([1]), 0)


def test_evaluate_ranks_means_in_percent():
    ranks = torch.tensor([1, 3, 7, 15, 25])
    results = evaluate_ranks(ranks)
    assert list(results) == ["P@5", "NDCG@5", "P@10", "NDCG@10", "P@20", "NDCG@20", "MRR@20"]

    def ndcg(r):
        return 1 / math.log2(r + 1)

    assert results["P@5"] == pytest.approx(2 / 5)
    assert results["P@10"] == pytest.approx(3 / 5)
    assert results["P@20"] == pytest.approx(4 / 5)
    assert results["NDCG@5"] == pytest.approx((ndcg(1) + ndcg(3)) / 5)
    assert results["NDCG@10"] == pytest.approx((ndcg(1) + ndcg(3) + ndcg(7)) / 5)
    assert results["NDCG@20"] == pytest.approx((ndcg(1) + ndcg(3) + ndcg(7) + ndcg(15)) / 5)
    assert results["MRR@20"] == pytest.approx((1 + 1 / 3 + 1 / 7 + 1 / 15) / 5)
    assert all(isinstance(value, float) for value in results.values())


def test_evaluate_ranks_custom_cutoffs_and_empty_input():
    results = evaluate_ranks(torch.tensor([2, 4]), ks=(3,))
    assert results == pytest.approx(
        {"P@3": 1 / 2, "NDCG@3": (1 / math.log2(2 + 1)) / 2, "MRR@3": (1 / 2) / 2}
    )
    with pytest.raises(ValueError):
        evaluate_ranks(torch.tensor([], dtype=torch.int64))


def test_topk_items_best_first_without_padding():
    scores = torch.tensor([[100.0, 0.1, 0.7, 0.3, 0.9], [-100.0, 0.4, 0.3, 0.2, 0.1]])
    assert topk_items(scores, 2).tolist() == [[4, 2], [1, 2]]
    # asking for every real item still never returns the padding id
    everything = topk_items(scores, 4)
    assert everything.tolist() == [[4, 2, 3, 1], [1, 2, 3, 4]]
    with pytest.raises(ValueError):
        topk_items(scores, 5)


def test_topk_agrees_with_rank_when_there_are_no_ties():
    torch.manual_seed(0)
    scores = torch.randn(8, 31)
    targets = torch.randint(1, 31, (8,))
    ranks = rank_of_target(scores, targets)
    for k in (1, 5, 10, 30):
        in_topk = (topk_items(scores, k) == targets[:, None]).any(dim=1)
        assert torch.equal(in_topk.double(), hit_at_k(ranks, k))


def test_mask_padding_copies():
    scores = torch.ones(2, 3)
    masked = mask_padding(scores)
    assert torch.isneginf(masked[:, 0]).all()
    assert torch.equal(scores, torch.ones(2, 3))


# --- the P@k bound of items that share vectors -------------------------------------------------

# Six test sessions' targets among 25 items: item 1 five times, 2 three times, 3 and 4 twice.
BOUND_TARGETS = torch.tensor([1, 1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 4, 5, 6])


def test_tie_bound_gives_the_most_frequent_targets_the_small_groups():
    # 3 vectors, k = 2: two groups of 2 items can hit, the third holds the other 21 items
    assert tie_bound(BOUND_TARGETS, 25, 3, k=2) == pytest.approx((5 + 3 + 2 + 2) / 14)
    assert tie_bound(BOUND_TARGETS, 25, 1, k=2) == 0.0  # one vector: every item ties
    assert tie_bound(BOUND_TARGETS, 25, 13, k=2) == 1.0  # 13 groups of <= 2 hold all 25


def test_tie_bound_is_reached_by_its_partition_under_pessimistic_ties():
    """Groups {1, 2}, {3, 4} and the rest; each session's own group scored highest."""
    n_items, k = 25, 2
    group = torch.full((n_items + 1,), 2)
    group[[1, 2]], group[[3, 4]] = 0, 1
    scores = (group[None, :] == group[BOUND_TARGETS][:, None]).double()  # (S, n_items + 1)
    ranks = rank_of_target(scores, BOUND_TARGETS)
    assert hit_at_k(ranks, k).mean().item() == pytest.approx(tie_bound(BOUND_TARGETS, 25, 3, k))


@pytest.mark.parametrize(
    ("targets", "n_vectors", "message"),
    [
        (torch.tensor([0, 1]), 3, "item ids in 1..25"),
        (torch.tensor([26]), 3, "item ids in 1..25"),
        (torch.tensor([], dtype=torch.int64), 3, "non-empty"),
        (torch.tensor([1]), 0, "n_vectors must be >= 1"),
    ],
)
def test_tie_bound_refuses_bad_input(targets, n_vectors, message):
    with pytest.raises(ValueError, match=message):
        tie_bound(targets, 25, n_vectors)
