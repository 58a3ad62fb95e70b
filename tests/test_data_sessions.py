import pytest
import torch

from eodrec.data import augment_prefixes, hot_item_mask, item_popularity, split_validation
from eodrec.data.sessions import group_test_prefixes


def test_augment_prefixes():
    sequences, targets, sids = augment_prefixes([[1, 2, 3], [4], [5, 6]])
    assert sequences == [[1], [1, 2], [5]]
    assert targets == [2, 3, 6]
    assert sids == [0, 0, 2]


def test_augment_prefixes_longest_first_and_regroup():
    sessions = [[1, 2, 3, 2], [4, 5], [6, 6, 7]]
    sequences, targets, sids = augment_prefixes(sessions, longest_first=True)
    assert sequences == [[1, 2, 3], [1, 2], [1], [4], [6, 6], [6]]
    assert targets == [2, 3, 2, 5, 7, 6]
    assert sids == [0, 0, 0, 1, 2, 2]
    assert group_test_prefixes(sequences, targets) == sessions


def test_group_test_prefixes_with_truncated_groups():
    # Groups that stop before length 1 (RetailRocket stops at 2) and adjacent look-alikes.
    sequences = [[1, 2, 3], [1, 2], [1, 2], [9, 9], [9]]
    targets = [4, 3, 3, 9, 9]
    assert group_test_prefixes(sequences, targets) == [[1, 2, 3, 4], [1, 2, 3], [9, 9, 9]]


def test_split_validation_is_seeded_session_level_and_disjoint():
    sessions = [[i, i + 1] for i in range(1, 1001)]
    train, valid = split_validation(sessions, fraction=0.1, seed=3)
    assert len(valid) == 100 and len(train) == 900
    assert sorted(map(tuple, train + valid)) == sorted(map(tuple, sessions))
    assert train == sorted(train) and valid == sorted(valid)  # original order kept
    again = split_validation(sessions, fraction=0.1, seed=3)
    assert again == (train, valid)
    other = split_validation(sessions, fraction=0.1, seed=4)
    assert other[1] != valid
    torch.manual_seed(123)  # global RNG state must not matter
    assert split_validation(sessions, fraction=0.1, seed=3) == (train, valid)
    assert valid != sessions[:100]  # random, not the first sessions


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1])
def test_split_validation_rejects_degenerate_fraction(fraction):
    with pytest.raises(ValueError):
        split_validation([[1, 2]] * 10, fraction=fraction)


def test_item_popularity_counts_inputs_only():
    sessions = [[1, 2, 3], [3, 3]]
    sequences, targets, _ = augment_prefixes(sessions)  # [1] [1,2] [3] -> 2 3 3
    pop = item_popularity(sequences, n_items=4)
    assert pop.dtype == torch.int64
    assert pop.tolist() == [0, 2, 1, 1, 0]


def test_item_popularity_rejects_out_of_range_ids():
    with pytest.raises(ValueError, match="1..3"):
        item_popularity([[1, 4]], n_items=3)


def test_hot_item_mask_ties_keep_first_seen_order():
    # counts: 5->3, 2->2, 7->2, 1->2, 9->1 ; first seen order: 5, 7, 2, 1, 9 ; D = 5
    sequences = [[5, 7], [5, 2, 7], [5, 2, 1], [1, 9]]
    mask = hot_item_mask(sequences, n_items=10, fraction=0.6)  # int(0.6 * 5) = 3
    assert mask.dtype == torch.bool and mask.shape == (11,)
    assert mask.nonzero().flatten().tolist() == [2, 5, 7]  # 5, then 7 before 2 (seen first)
    assert not mask[0]
    mask = hot_item_mask(sequences, n_items=10, fraction=0.2)  # int(0.2 * 5) = 1
    assert mask.nonzero().flatten().tolist() == [5]
    assert not hot_item_mask(sequences, n_items=10, fraction=0.1).any()  # int(0.5) = 0


def test_hot_item_mask_default_fraction_and_unseen_items_cold():
    sequences = [[i] * (20 - i) for i in range(1, 11)]  # item i occurs 20-i times; D = 10
    mask = hot_item_mask(sequences, n_items=50)
    assert mask.nonzero().flatten().tolist() == [1, 2]
    assert not mask[11:].any()


def test_hot_item_mask_many_ties_follow_first_appearance_not_id():
    # Items 60..1 in descending id order; item i occurs 1 + (i % 3) times: many three-way ties.
    sequences = [[i] * (1 + i % 3) for i in range(60, 0, -1)]
    mask = hot_item_mask(sequences, n_items=60, fraction=0.1)  # int(0.1 * 60) = 6 hot
    # The 20 items with count 3 (i % 3 == 2) tie; the first 6 seen are 59, 56, ..., 44.
    assert mask.nonzero().flatten().tolist() == [44, 47, 50, 53, 56, 59]
