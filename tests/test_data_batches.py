import pytest
import torch

from eodrec.data import Batch, BatchLoader, pad_batch


def test_pad_batch_right_pads_left_aligned():
    batch = pad_batch([[3, 1], [7], [2, 2, 5]], [4, 8, 9], [10, 11, 12])
    assert isinstance(batch, Batch)
    assert batch.items.tolist() == [[3, 1, 0], [7, 0, 0], [2, 2, 5]]
    assert batch.mask.tolist() == [[True, True, False], [True, False, False], [True] * 3]
    assert batch.lengths.tolist() == [2, 1, 3]
    assert batch.targets.tolist() == [4, 8, 9]
    assert batch.index.tolist() == [10, 11, 12]
    for t in (batch.items, batch.lengths, batch.targets, batch.index):
        assert t.dtype == torch.int64
    assert batch.mask.dtype == torch.bool
    assert len(batch) == 3


@pytest.mark.parametrize("args", [([], [], []), ([[1]], [1, 2], [0]), ([[1], []], [1, 2], [0, 1])])
def test_pad_batch_rejects_bad_input(args):
    with pytest.raises(ValueError):
        pad_batch(*args)


def _data(n=103):
    sequences = [[i % 7 + 1] * (i % 5 + 1) for i in range(n)]
    targets = [i + 1 for i in range(n)]
    return sequences, targets


def _indices(batches):
    return [i for b in batches for i in b.index.tolist()]


def test_len_and_uneven_last_batch():
    loader = BatchLoader(*_data(103), batch_size=10, shuffle=False)
    batches = list(loader)
    assert len(loader) == 11 == len(batches)
    assert [len(b) for b in batches] == [10] * 10 + [3]
    assert _indices(batches) == list(range(103))  # no overlap, no duplicates
    first = batches[0]
    assert first.targets.tolist() == list(range(1, 11))
    assert first.items[4, : first.lengths[4]].tolist() == [5] * 5


def test_epochs_are_seeded_permutations_independent_of_global_rng():
    sequences, targets = _data()
    loader = BatchLoader(sequences, targets, batch_size=16, shuffle=True, seed=7)
    epoch0 = _indices(loader)
    assert loader.state_dict()["epoch"] == 1
    epoch1 = _indices(loader)
    assert sorted(epoch0) == sorted(epoch1) == list(range(103))
    assert epoch0 != epoch1 and epoch0 != list(range(103))
    torch.manual_seed(0)
    other = BatchLoader(sequences, targets, batch_size=16, shuffle=True, seed=7)
    assert _indices(other) == epoch0 and _indices(other) == epoch1
    assert _indices(BatchLoader(sequences, targets, 16, shuffle=True, seed=8)) != epoch0


def test_resume_mid_epoch_gives_exactly_the_remaining_batches():
    sequences, targets = _data()
    reference = BatchLoader(sequences, targets, batch_size=10, shuffle=True, seed=1)
    full_epoch0 = [b.index.tolist() for b in reference]
    full_epoch1 = [b.index.tolist() for b in reference]

    loader = BatchLoader(sequences, targets, batch_size=10, shuffle=True, seed=1)
    it = iter(loader)
    consumed = [next(it).index.tolist() for _ in range(3)]
    state = loader.state_dict()
    assert (state["epoch"], state["position"]) == (0, 3)

    fresh = BatchLoader(sequences, targets, batch_size=10, shuffle=True, seed=1)
    fresh.load_state_dict(state)
    rest = [b.index.tolist() for b in fresh]
    assert consumed + rest == full_epoch0
    assert fresh.state_dict()["epoch"] == 1 and fresh.state_dict()["position"] == 0
    assert [b.index.tolist() for b in fresh] == full_epoch1


def test_state_after_last_batch_points_at_next_epoch():
    loader = BatchLoader(*_data(20), batch_size=10, shuffle=True, seed=0)
    it = iter(loader)
    next(it)
    next(it)  # last batch of epoch 0, generator not yet exhausted
    assert (loader.state_dict()["epoch"], loader.state_dict()["position"]) == (1, 0)


def test_load_state_dict_rejects_foreign_or_invalid_state():
    sequences, targets = _data()
    state = BatchLoader(sequences, targets, 10, seed=1).state_dict()
    with pytest.raises(ValueError, match="seed"):
        BatchLoader(sequences, targets, 10, seed=2).load_state_dict(state)
    with pytest.raises(ValueError, match="batch_size"):
        BatchLoader(sequences, targets, 20, seed=1).load_state_dict(state)
    with pytest.raises(ValueError, match="n"):
        BatchLoader(sequences[:50], targets[:50], 10, seed=1).load_state_dict(state)
    with pytest.raises(ValueError, match="position"):
        BatchLoader(sequences, targets, 10, seed=1).load_state_dict({**state, "position": 11})


def test_loader_rejects_bad_arguments():
    with pytest.raises(ValueError):
        BatchLoader([[1]], [1, 2], batch_size=1)
    with pytest.raises(ValueError):
        BatchLoader([[1]], [1], batch_size=0)
    with pytest.raises(ValueError):
        BatchLoader([], [], batch_size=1)
