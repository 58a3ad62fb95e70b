"""The model contract and the teacher: shapes, gradients, masks, padding, init, a tiny overfit."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from eodrec.data.batch import Batch
from eodrec.metrics import mask_padding, rank_of_target
from eodrec.models import (
    BackboneConfig,
    CausalSelfAttention,
    FullItemTable,
    SessionRecommender,
    SoftAttentionReadout,
    Teacher,
)

N_ITEMS = 12


def make_batch(sequences, targets, length=None):
    """Right-pad ``sequences`` with 0 to ``length`` (default: the longest) into a Batch."""
    length = length or max(len(s) for s in sequences)
    items = torch.zeros(len(sequences), length, dtype=torch.int64)
    for row, sequence in enumerate(sequences):
        items[row, : len(sequence)] = torch.tensor(sequence)
    mask = items > 0
    return Batch(
        items=items,
        mask=mask,
        lengths=mask.sum(dim=1),
        targets=torch.tensor(targets),
        index=torch.arange(len(sequences)),
    )


def small_config(**overrides):
    return BackboneConfig(**{"dim": 16, "n_heads": 2, "dropout": 0.0, **overrides})


def small_teacher(seed=0, **overrides):
    torch.manual_seed(seed)
    return Teacher(small_config(**overrides), n_items=N_ITEMS)


BATCH = make_batch([[1, 2, 3, 4], [5, 6], [7], [8, 9, 10]], [5, 7, 11, 12])


@pytest.mark.parametrize("readout", ["paper", "code"])
@pytest.mark.parametrize("n_heads", [1, 2])
def test_output_shapes(readout, n_heads):
    model = small_teacher(readout=readout, n_heads=n_heads)
    B, L = BATCH.items.shape
    assert isinstance(model, SessionRecommender)
    assert model.hidden_states(BATCH).shape == (B, L, 16)
    vectors = model.encode(BATCH)
    assert vectors.shape == (B, 16)
    assert model.score(vectors).shape == (B, N_ITEMS + 1)
    assert torch.equal(model(BATCH), model.score(vectors))
    loss = model.loss(BATCH)
    assert loss.dim() == 0 and torch.isfinite(loss)


def test_item_table_interface():
    table = FullItemTable(N_ITEMS, 8)
    ids = torch.tensor([[0, 3], [12, 1]])
    assert table.weight().shape == (N_ITEMS + 1, 8)
    assert table.lookup(ids).shape == (2, 2, 8)
    assert torch.equal(table.lookup(ids), table.weight()[ids])


@pytest.mark.parametrize("readout", ["paper", "code"])
def test_gradients_reach_every_parameter_that_should_learn(readout):
    model = small_teacher(readout=readout)
    model.loss(BATCH).backward()
    L = BATCH.items.shape[1]
    for name, parameter in model.named_parameters():
        grad = parameter.grad
        assert grad is not None, name
        if name == "item_table.embedding.weight":
            # every real item is scored, so every real row learns; the padding row never does
            assert torch.all(grad[1:].abs().sum(dim=1) > 0)
            assert torch.all(grad[0] == 0)
        elif name == "positions.weight":
            assert torch.all(grad[:L].abs().sum(dim=1) > 0)
            assert torch.all(grad[L:] == 0)
        elif name.endswith("attention.key.bias"):
            # q.(k_j + b) shifts all of a query's logits by q.b, which softmax ignores
            assert grad.abs().max() < 1e-6, name
        else:
            assert grad.abs().sum() > 0, name


def test_attention_is_causal():
    model = small_teacher()
    model.eval()
    changed_at = 2
    other = BATCH.items.clone()
    other[0, changed_at] = 11
    other_batch = dataclasses.replace(BATCH, items=other)
    with torch.no_grad():
        before = model.hidden_states(BATCH)
        after = model.hidden_states(other_batch)
    assert torch.equal(before[0, :changed_at], after[0, :changed_at])
    assert not torch.allclose(before[0, changed_at:], after[0, changed_at:])
    assert torch.equal(before[1:], after[1:])


def test_attention_matches_scaled_dot_product_attention():
    torch.manual_seed(0)
    config = small_config(n_heads=4)
    attention = CausalSelfAttention(config).eval()
    x = torch.randn(3, 5, 16)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]], dtype=torch.bool)
    allowed = torch.ones(5, 5, dtype=torch.bool).tril() & mask[:, None, :]
    B, L, N = x.shape

    def heads(t):
        return t.view(B, L, 4, N // 4).transpose(1, 2)

    expected = F.scaled_dot_product_attention(
        heads(attention.query(x)),
        heads(attention.key(x)),
        heads(attention.value(x)),
        attn_mask=allowed[:, None],
    )
    expected = attention.out(expected.transpose(1, 2).reshape(B, L, N))
    torch.testing.assert_close(attention(x, allowed), expected)


def test_paper_readout_is_invariant_to_extra_padding():
    model = small_teacher(readout="paper", dropout=0.3)
    model.eval()
    longer = make_batch([[1, 2, 3, 4], [5, 6], [7], [8, 9, 10]], [5, 7, 11, 12], length=9)
    with torch.no_grad():
        torch.testing.assert_close(model.encode(longer), model.encode(BATCH))


def test_code_readout_is_not_padding_invariant():
    """The authors' readout averages over padded positions too (docs/method-notes.md §2.3).

    Real positions' hidden states do not change, but the padded positions' outputs leak into the
    session mean, so a sequence's vector depends on how long the longest one in its batch is.
    """
    model = small_teacher(readout="code")
    model.eval()
    longer = make_batch([[1, 2, 3, 4], [5, 6], [7], [8, 9, 10]], [5, 7, 11, 12], length=9)
    with torch.no_grad():
        states, longer_states = model.hidden_states(BATCH), model.hidden_states(longer)
        torch.testing.assert_close(longer_states[:, :4][BATCH.mask], states[BATCH.mask])
        vectors, longer_vectors = model.encode(BATCH), model.encode(longer)
    assert not torch.allclose(vectors[1:], longer_vectors[1:], atol=1e-4)


def test_paper_readout_follows_eq_3():
    torch.manual_seed(0)
    readout = SoftAttentionReadout(4, "paper")
    x = torch.randn(1, 3, 4)
    mask = torch.tensor([[True, True, False]])
    W1, W2, c = readout.mean_proj.weight, readout.item_proj.weight, readout.item_proj.bias
    f = readout.attention_vector.weight[0]
    x_bar = (x[0, 0] + x[0, 1]) / 2
    expected = sum((f @ torch.sigmoid(W1 @ x_bar + W2 @ x[0, t] + c)) * x[0, t] for t in (0, 1))
    torch.testing.assert_close(readout(x, mask)[0], expected)


def test_code_readout_follows_the_authors_formula():
    torch.manual_seed(0)
    readout = SoftAttentionReadout(4, "code")
    x = torch.randn(1, 3, 4)
    mask = torch.tensor([[True, True, False]])
    W_b, W_a, b = readout.mean_proj.weight, readout.item_proj.weight, readout.item_proj.bias
    w = readout.attention_vector.weight[0]
    m = (x[0, 0] + x[0, 1] + x[0, 2]) / 2  # the padded position counts, the length does not
    expected = sum(
        (w @ torch.sigmoid(W_a @ torch.tanh(x[0, t]) + b + W_b @ m)) * x[0, t] for t in (0, 1)
    )
    torch.testing.assert_close(readout(x, mask)[0], expected)


def test_readout_rejects_unknown_variant():
    with pytest.raises(ValueError, match="variant"):
        SoftAttentionReadout(4, "last-item")


def test_loss_puts_no_probability_on_padding():
    model = small_teacher()
    scores = model(BATCH)
    real_only = F.cross_entropy(scores[:, 1:], BATCH.targets - 1)
    torch.testing.assert_close(model.loss(BATCH), real_only)
    # a padding row that outscores everything changes no real score and not the loss
    unpadded = make_batch([[1, 2], [3, 4]], [5, 6])
    before = model.loss(unpadded)
    with torch.no_grad():
        model.item_table.weight()[0] = 1e6 * model.encode(unpadded).mean(dim=0)
    scores = model(unpadded)
    assert (scores[:, 0] > scores[:, 1:].max(dim=1).values + 100).all()
    torch.testing.assert_close(model.loss(unpadded), before)


def test_sequences_longer_than_max_length_raise():
    model = small_teacher(max_length=4)
    too_long = make_batch([[1, 2, 3, 4, 5]], [6])
    with pytest.raises(ValueError, match="max_length=4"):
        model.encode(too_long)
    model.encode(make_batch([[1, 2, 3, 4]], [6]))


def test_init_is_uniform_and_deterministic():
    first, second = small_teacher(seed=3), small_teacher(seed=3)
    for (name, a), (_, b) in zip(first.named_parameters(), second.named_parameters(), strict=True):
        assert torch.equal(a, b), name
        assert a.abs().max() <= 0.1, name
    # LayerNorm gains are drawn too, not left at 1
    assert first.input_norm.weight.abs().max() <= 0.1
    third = small_teacher(seed=4)
    assert not torch.equal(first.positions.weight, third.positions.weight)


def test_passed_item_table_keeps_its_values_and_must_match():
    table = FullItemTable(N_ITEMS, 16)
    with torch.no_grad():
        table.weight().fill_(0.5)
    model = Teacher(small_config(), n_items=N_ITEMS, item_table=table)
    assert model.item_table is table and torch.all(table.weight() == 0.5)
    with pytest.raises(ValueError, match="item table"):
        Teacher(small_config(), n_items=N_ITEMS + 1, item_table=table)


def test_ffn_residual_scale_is_wired():
    paper = small_teacher(ffn_residual_scale=1.0).eval()
    code = Teacher(small_config(ffn_residual_scale=4.0), n_items=N_ITEMS).eval()
    code.load_state_dict(paper.state_dict())
    with torch.no_grad():
        assert not torch.allclose(paper.encode(BATCH), code.encode(BATCH))


@pytest.mark.parametrize(
    "overrides",
    [
        {"dim": 10, "n_heads": 3},
        {"readout": "mean"},
        {"dropout": 1.0},
        {"ffn_dim": 0},
        {"n_layers": 0},
    ],
)
def test_bad_config_raises(overrides):
    with pytest.raises(ValueError):
        BackboneConfig(**overrides)


def test_ffn_dim_defaults_to_dim():
    assert BackboneConfig(dim=64).inner_dim == 64
    assert BackboneConfig(dim=64, ffn_dim=32).inner_dim == 32


@pytest.mark.parametrize("readout, ffn_residual_scale", [("paper", 1.0), ("code", 4.0)])
def test_teacher_memorises_twenty_sequences(readout, ffn_residual_scale):
    n_items = 40
    # distinct sequences of lengths 1..6 with unrelated targets: only memorisation can fit them
    sequences = [[(7 * i + 3 * j) % n_items + 1 for j in range(1 + i % 6)] for i in range(20)]
    targets = [(11 * i + 5) % n_items + 1 for i in range(20)]
    assert len({tuple(s) for s in sequences}) == 20
    batch = make_batch(sequences, targets)
    torch.manual_seed(0)
    config = BackboneConfig(
        dim=32, n_heads=1, dropout=0.0, readout=readout, ffn_residual_scale=ffn_residual_scale
    )
    model = Teacher(config, n_items=n_items)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(200):
        optimizer.zero_grad()
        model.loss(batch).backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        hit_at_1 = (rank_of_target(model(batch), batch.targets) == 1).double().mean().item()
    assert hit_at_1 > 0.9


def test_padded_positions_are_never_attended_to():
    """Key-padding mask: with right padding the causal mask already hides padding from real
    positions, so check the padded query rows, whose outputs the ``code`` readout uses."""
    model = small_teacher().eval()
    batch = make_batch([[1, 2]], [3], length=5)
    with torch.no_grad():
        before = model.hidden_states(batch)
        model.positions.weight[2] += torch.randn(16)  # only the padded slot 2 sees this row
        after = model.hidden_states(batch)
    assert torch.equal(before[0, [0, 1, 3, 4]], after[0, [0, 1, 3, 4]])
    assert not torch.allclose(before[0, 2], after[0, 2])


def _reference_grads(model, batch, loss_fn):
    model.zero_grad(set_to_none=True)
    loss = loss_fn(batch)
    loss.backward()
    return loss.detach(), {name: p.grad.clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize("readout", ["paper", "code"])
@pytest.mark.parametrize("n_heads", [1, 2])
def test_fast_loss_and_gradients_equal_the_reference(readout, n_heads):
    """The training loss (packed transformer, fused CE, shared table gradient) equals the plain
    ``F.cross_entropy(mask_padding(scores), targets)`` in value and in every gradient."""
    model = small_teacher(readout=readout, n_heads=n_heads)
    batch = make_batch(
        [[1, 2, 3, 4, 1], [5, 6], [7], [8, 9, 10, 12], [12, 12]], [5, 7, 11, 12, 1], length=7
    )

    def plain(b):
        return F.cross_entropy(mask_padding(model(b)), b.targets)

    expected, expected_grads = _reference_grads(model, batch, plain)
    loss, grads = _reference_grads(model, batch, model.loss)
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=0)
    torch.testing.assert_close(model.reference_loss(batch), expected, rtol=1e-6, atol=0)
    for name, grad in grads.items():
        torch.testing.assert_close(grad, expected_grads[name], rtol=1e-4, atol=1e-6, msg=name)
    assert torch.all(grads["item_table.embedding.weight"][0] == 0)


def test_fast_loss_accumulates_gradients_like_the_reference():
    """Without zero_grad the table gradient is added to, not replaced."""
    model = small_teacher()
    model.loss(BATCH).backward()
    model.loss(BATCH).backward()
    twice = {name: p.grad.clone() for name, p in model.named_parameters()}
    _, once = _reference_grads(model, BATCH, model.reference_loss)
    for name, grad in twice.items():
        torch.testing.assert_close(grad, 2 * once[name], rtol=1e-4, atol=1e-6, msg=name)


def test_packed_encode_equals_the_padded_readout():
    model = small_teacher(readout="paper", n_heads=2).eval()
    longer = make_batch([[1, 2, 3, 4], [5, 6], [7], [8, 9, 10]], [5, 7, 11, 12], length=9)
    with torch.no_grad():
        padded = model.readout(model.hidden_states(longer), longer.mask)
        torch.testing.assert_close(model.encode(longer), padded)


def test_fast_loss_with_another_item_table():
    """A table that computes weight() (here: a scaled copy) goes through the generic fast path."""

    class ScaledTable(FullItemTable):
        def lookup(self, ids):
            return 2 * self.embedding(ids)

        def weight(self):
            return 2 * self.embedding.weight

    torch.manual_seed(0)
    model = Teacher(small_config(), N_ITEMS, item_table=ScaledTable(N_ITEMS, 16))
    expected, expected_grads = _reference_grads(model, BATCH, model.reference_loss)
    loss, grads = _reference_grads(model, BATCH, model.loss)
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=0)
    for name, grad in grads.items():
        torch.testing.assert_close(grad, expected_grads[name], rtol=1e-4, atol=1e-6, msg=name)


def test_fast_loss_matches_with_dropout_statistics():
    """With dropout on, the loss is a random variable of the same law: at p = 0 in eval mode the
    two agree exactly, and in train mode both stay finite and differentiable."""
    model = small_teacher(dropout=0.5).train()
    loss = model.loss(BATCH)
    loss.backward()
    assert torch.isfinite(loss)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(
            model.loss(BATCH), model.reference_loss(BATCH), rtol=1e-5, atol=0
        )


def test_fast_loss_blocks_agree_with_one_block(monkeypatch):
    """The online softmax over item blocks (incl. a ragged last block) changes nothing."""
    from eodrec.kernels import softmax_ce

    model = small_teacher()
    expected, expected_grads = _reference_grads(model, BATCH, model.reference_loss)
    monkeypatch.setattr(softmax_ce, "BLOCK_ROWS", 5)  # 12 items: blocks of 5, 5 and 2
    loss, grads = _reference_grads(model, BATCH, model.loss)
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=0)
    for name, grad in grads.items():
        torch.testing.assert_close(grad, expected_grads[name], rtol=1e-4, atol=1e-6, msg=name)


def test_dropout_keeps_the_law_and_is_identity_in_eval():
    from eodrec.models.teacher import Dropout

    torch.manual_seed(0)
    dropout = Dropout(0.2)
    x = torch.ones(200_000)
    y = dropout(x)
    assert set(y.unique().tolist()) <= {0.0, 1.25}
    assert abs((y > 0).double().mean().item() - 0.8) < 0.01
    dropout.eval()
    assert dropout(x) is x
