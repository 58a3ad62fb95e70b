"""GRU4Rec, NARM and STAMP: the model contract, padding, order, gradients, a tiny overfit."""

import dataclasses

import pytest
import torch

from eodrec.metrics import rank_of_target
from eodrec.models.base import BackboneConfig, SessionRecommender
from eodrec.models.gru4rec import GRU4Rec
from eodrec.models.item_tables import FullItemTable
from eodrec.models.narm import NARM
from eodrec.models.stamp import STAMP
from tests.test_models import make_batch

N_ITEMS = 12
DIM = 16
MODELS = [GRU4Rec, NARM, STAMP]


def make_model(cls, seed=0, **overrides):
    torch.manual_seed(seed)
    config = BackboneConfig(**{"dim": DIM, "dropout": 0.0, **overrides})
    return cls(config, n_items=N_ITEMS)


def encode(model, batch):
    with torch.no_grad():
        return model.eval().encode(batch)


BATCH = make_batch([[1, 2, 3, 4], [5, 6], [7], [8, 9, 10]], [5, 7, 11, 12])


@pytest.mark.parametrize("cls", MODELS)
def test_output_shapes(cls):
    model = make_model(cls)
    assert isinstance(model, SessionRecommender)
    vectors = model.encode(BATCH)
    assert vectors.shape == (len(BATCH), DIM)
    assert model(BATCH).shape == (len(BATCH), N_ITEMS + 1)
    assert torch.equal(model(BATCH), model.score(vectors))


@pytest.mark.parametrize("cls", MODELS)
def test_padding_never_reaches_the_session_vector(cls):
    model = make_model(cls, dropout=0.5)
    expected = encode(model, BATCH)
    longer = make_batch([[1, 2, 3, 4], [5, 6], [7], [8, 9, 10]], [5, 7, 11, 12], length=7)
    torch.testing.assert_close(encode(model, longer), expected, rtol=0, atol=1e-6)
    junk = longer.items.clone()
    junk[~longer.mask] = torch.arange(1, int((~longer.mask).sum()) + 1) % N_ITEMS + 1
    junk_batch = dataclasses.replace(longer, items=junk)
    torch.testing.assert_close(encode(model, junk_batch), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("cls", [GRU4Rec, NARM])
def test_recurrent_models_depend_on_order(cls):
    model = make_model(cls)
    vectors = encode(model, make_batch([[1, 2, 3], [2, 1, 3]], [4, 4]))
    assert not torch.allclose(vectors[0], vectors[1])


def test_stamp_depends_on_the_last_item_not_on_the_order_before_it():
    model = make_model(STAMP)
    vectors = encode(model, make_batch([[1, 2, 3], [2, 1, 3], [1, 3, 2]], [4, 4, 4]))
    torch.testing.assert_close(vectors[0], vectors[1])
    assert not torch.allclose(vectors[0], vectors[2])


def test_narm_attention_ignores_padded_positions():
    model = make_model(NARM)
    alone = encode(model, make_batch([[3, 1, 4]], [5]))
    batched = encode(model, make_batch([[9, 2, 6, 5, 3, 5], [3, 1, 4]], [8, 5]))
    torch.testing.assert_close(batched[1], alone[0], rtol=0, atol=1e-6)


@pytest.mark.parametrize("cls", MODELS)
def test_every_parameter_learns_and_loss_equals_reference(cls):
    model = make_model(cls, n_layers=2)
    loss = model.loss(BATCH)
    torch.testing.assert_close(loss, model.reference_loss(BATCH), rtol=1e-5, atol=1e-5)
    loss.backward()
    for name, parameter in model.named_parameters():
        grad = parameter.grad
        assert grad is not None, name
        if name == "item_table.embedding.weight":
            assert torch.all(grad[1:].abs().sum(dim=1) > 0)
            assert torch.all(grad[0] == 0)
        else:
            assert grad.abs().sum() > 0, name


@pytest.mark.parametrize("cls", MODELS)
def test_head_parameters_are_the_readout(cls):
    model = make_model(cls)
    head = {id(p) for p in model.head_parameters()}
    encoder = {id(p) for p in model.item_table.parameters()}
    if cls is not STAMP:
        encoder |= {id(p) for p in model.encoder.parameters()}
    assert head.isdisjoint(encoder)
    assert head | encoder == {id(p) for p in model.parameters()}
    assert (len(head) == 0) == (cls is GRU4Rec)


@pytest.mark.parametrize("cls", MODELS)
def test_encode_with_looks_up_encoder_ids_once(cls):
    model = make_model(cls).eval()
    calls = []

    def lookup(ids):
        calls.append(ids)
        return model.item_table.lookup(ids)

    with torch.no_grad():
        vectors = model.encode_with(BATCH, lookup)
        assert torch.equal(vectors, model.encode(BATCH))
    assert len(calls) == 1 and torch.equal(calls[0], model.encoder_ids(BATCH))


@pytest.mark.parametrize("cls", MODELS)
def test_passed_item_table_is_kept_and_must_match(cls):
    table = FullItemTable(N_ITEMS, DIM)
    with torch.no_grad():
        table.weight().fill_(0.5)
    model = cls(BackboneConfig(dim=DIM), N_ITEMS, item_table=table)
    assert model.item_table is table and torch.all(table.weight() == 0.5)
    with pytest.raises(ValueError, match="item table"):
        cls(BackboneConfig(dim=DIM), N_ITEMS, item_table=FullItemTable(N_ITEMS, 8))
    with pytest.raises(ValueError, match="item table"):
        cls(BackboneConfig(dim=DIM), N_ITEMS + 1, item_table=table)


@pytest.mark.parametrize("cls", MODELS)
def test_every_parameter_is_drawn_from_the_init_range(cls):
    # PyTorch's own GRU/Linear init would exceed 0.01 at N = 16 (bounds 1/sqrt(16) = 0.25)
    model = make_model(cls, init_range=0.01)
    for name, parameter in model.named_parameters():
        assert parameter.abs().max() <= 0.01, name
        assert parameter.abs().max() > 0.005, name


@pytest.mark.parametrize("cls", MODELS)
def test_overfits_four_sessions(cls):
    batch = make_batch([[1, 2, 3], [4, 5], [6, 7, 8, 9], [10]], [11, 12, 1, 6])
    model = make_model(cls)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(200):
        optimizer.zero_grad()
        model.loss(batch).backward()
        optimizer.step()
    with torch.no_grad():
        ranks = rank_of_target(model.eval()(batch), batch.targets)
    assert torch.all(ranks == 1)
