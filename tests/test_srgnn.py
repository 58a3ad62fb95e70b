"""SR-GNN: session graph construction, the model contract, the equations and a tiny overfit."""

import dataclasses

import numpy as np
import pytest
import torch

from eodrec.metrics import rank_of_target
from eodrec.models import BackboneConfig, FullItemTable
from eodrec.models.srgnn import SRGNN, session_graphs
from tests.test_models import make_batch

N_ITEMS = 12


def small_model(seed=0, **overrides):
    torch.manual_seed(seed)
    return SRGNN(BackboneConfig(**{"dim": 16, **overrides}), n_items=N_ITEMS)


BATCH = make_batch([[1, 2, 3, 2, 4], [5, 6], [7], [8, 9, 10, 9, 9]], [5, 7, 11, 12])


def reference_graph(sequence):
    """One session's graph written plainly, as the original ``get_slice`` loop but counting
    repeated transitions (the paper) and numbering nodes by first appearance."""
    nodes = list(dict.fromkeys(sequence))
    counts = np.zeros((len(nodes), len(nodes)))
    for a, b in zip(sequence[:-1], sequence[1:], strict=True):
        counts[nodes.index(a), nodes.index(b)] += 1
    out_degree = np.maximum(counts.sum(axis=1, keepdims=True), 1)
    in_degree = np.maximum(counts.sum(axis=0, keepdims=True), 1)
    a_in = (counts / in_degree).T
    return nodes, [nodes.index(item) for item in sequence], a_in, counts / out_degree


def adjacency(graphs):
    """(A_in, A_out) as (B, n, n) matrices, read off ``propagate`` on one-hot node features;
    asserts first that no edge joins two sessions."""
    B, n = graphs.node_items.shape
    kept = graphs.kept_nodes
    eye = torch.eye(kept.numel())
    matrices = []
    for flat in graphs.propagate(eye, eye):  # (R, R) over the kept nodes
        grid = torch.zeros(B * n, B * n)
        grid[kept[:, None], kept[None, :]] = flat
        blocks = grid.view(B, n, B, n)
        within = blocks.diagonal(dim1=0, dim2=2).permute(2, 0, 1)  # (B, n, n)
        assert blocks.abs().sum() == within.abs().sum()
        matrices.append(within)
    return tuple(matrices)


def test_graph_of_a_session_with_a_repeated_item():
    graphs = session_graphs(make_batch([[1, 2, 3, 2, 4]], [5]))
    assert graphs.node_items.tolist() == [[1, 2, 3, 4]]
    assert graphs.alias.tolist() == [[0, 1, 2, 1, 3]]
    assert graphs.node_mask.tolist() == [[True] * 4]
    # edges 1->2, 2->3, 3->2, 2->4: node 2 (index 1) has two out-edges and two in-edges
    expected_out = [[0, 1, 0, 0], [0, 0, 0.5, 0.5], [0, 1, 0, 0], [0, 0, 0, 0]]
    expected_in = [[0, 0, 0, 0], [0.5, 0, 0.5, 0], [0, 1, 0, 0], [0, 1, 0, 0]]
    adjacency_in, adjacency_out = adjacency(graphs)
    assert adjacency_out[0].tolist() == expected_out
    assert adjacency_in[0].tolist() == expected_in


def test_repeated_transitions_are_counted():
    # 1->2 twice, 1->3 once: node 1 sends 2/3 to node 2 (the original code's binary edges: 1/2)
    adjacency_in, adjacency_out = adjacency(session_graphs(make_batch([[1, 2, 1, 3, 1, 2]], [4])))
    assert adjacency_out[0, 0].tolist() == pytest.approx([0, 2 / 3, 1 / 3])
    assert adjacency_in[0, 0].tolist() == pytest.approx([0, 0.5, 0.5])


def test_graph_of_a_single_item_and_of_a_self_loop():
    single = session_graphs(make_batch([[7]], [1]))
    assert single.node_items.tolist() == [[7]] and single.alias.tolist() == [[0]]
    assert [a.tolist() for a in adjacency(single)] == [[[[0.0]]]] * 2
    loop = session_graphs(make_batch([[5, 5]], [1]))
    assert loop.node_items.tolist() == [[5]] and loop.alias.tolist() == [[0, 0]]
    assert [a.tolist() for a in adjacency(loop)] == [[[[1.0]]]] * 2


def test_graphs_of_a_padded_batch():
    graphs = session_graphs(make_batch([[1, 2, 3], [4], [6, 6, 5]], [1, 1, 1], length=5))
    assert graphs.node_items.tolist() == [[1, 2, 3], [4, 0, 0], [6, 5, 0]]
    assert graphs.node_mask.tolist() == [[1, 1, 1], [1, 0, 0], [1, 1, 0]]
    assert graphs.alias.tolist() == [[0, 1, 2, 0, 0], [0, 0, 0, 0, 0], [0, 0, 1, 0, 0]]
    # only the real nodes are kept, so no edge can touch a padding node or a padded position
    assert graphs.kept_nodes.tolist() == [0, 1, 2, 3, 6, 7]
    adjacency_in, adjacency_out = adjacency(graphs)
    assert adjacency_out[2].tolist() == [[0.5, 0.5, 0], [0, 0, 0], [0, 0, 0]]
    assert adjacency_in[2].tolist() == [[1, 0, 0], [1, 0, 0], [0, 0, 0]]
    # the readout sees the 7 real positions and each session's last one
    assert graphs.position_sessions.tolist() == [0, 0, 0, 1, 2, 2, 2]
    assert graphs.position_nodes.tolist() == [0, 1, 2, 3, 4, 4, 5]
    assert graphs.last_nodes.tolist() == [2, 3, 5]


def test_vectorised_graphs_match_the_reference_loop():
    rng = np.random.default_rng(0)
    sequences = [rng.integers(1, 8, size=rng.integers(1, 15)).tolist() for _ in range(40)]
    graphs = session_graphs(make_batch(sequences, [1] * 40))
    n = graphs.node_items.shape[1]
    assert n == max(len(set(s)) for s in sequences)
    adjacency_in, adjacency_out = adjacency(graphs)
    for row, sequence in enumerate(sequences):
        nodes, alias, a_in, a_out = reference_graph(sequence)
        k = len(nodes)
        assert graphs.node_items[row].tolist() == nodes + [0] * (n - k)
        assert graphs.alias[row, : len(sequence)].tolist() == alias
        np.testing.assert_allclose(adjacency_in[row, :k, :k].numpy(), a_in, rtol=1e-6)
        np.testing.assert_allclose(adjacency_out[row, :k, :k].numpy(), a_out, rtol=1e-6)
        assert adjacency_in[row].abs().sum() == pytest.approx(a_in.sum())
        assert adjacency_out[row].abs().sum() == pytest.approx(a_out.sum())


def test_shapes_and_head_parameters():
    model = small_model()
    vectors = model.encode(BATCH)
    assert vectors.shape == (4, 16)
    assert model(BATCH).shape == (4, N_ITEMS + 1)
    assert model.encoder_ids(BATCH).shape == (4, 4)
    names = {id(p): name for name, p in model.named_parameters()}
    assert sorted(names[id(p)] for p in model.head_parameters()) == [
        "readout.attention_vector.weight",  # q
        "readout.item_proj.bias",  # c
        "readout.item_proj.weight",  # W2
        "readout.last_proj.weight",  # W1
        "readout.transform.bias",  # W3
        "readout.transform.weight",
    ]


def test_encode_follows_the_equations():
    """One session through SR-GNN Eq. 1-7 written out as the original ``GNNCell`` does."""
    model = small_model(seed=1).eval()
    sequence = [3, 1, 3, 2]
    batch = make_batch([sequence], [4])
    layer, readout = model.layers[0], model.readout
    nodes, alias, a_in, a_out = reference_graph(sequence)
    v = model.item_table.weight()[nodes]  # (3, N)
    a_in, a_out = torch.tensor(a_in, dtype=v.dtype), torch.tensor(a_out, dtype=v.dtype)
    inputs = torch.cat(
        [
            a_in @ layer.edge_in(v) + layer.bias_in,
            a_out @ layer.edge_out(v) + layer.bias_out,
        ],
        dim=1,
    )
    gi = inputs @ layer.gru.weight_ih.T + layer.gru.bias_ih
    gh = v @ layer.gru.weight_hh.T + layer.gru.bias_hh
    i_r, i_i, i_n = gi.chunk(3, 1)
    h_r, h_i, h_n = gh.chunk(3, 1)
    reset, update = torch.sigmoid(i_r + h_r), torch.sigmoid(i_i + h_i)
    new = torch.tanh(i_n + reset * h_n)
    v = new + update * (v - new)
    x = v[alias]  # (4, N)
    s_l = x[-1]
    alpha = readout.attention_vector(
        torch.sigmoid(readout.last_proj(s_l) + readout.item_proj(x))
    )  # (4, 1)
    s_g = (alpha * x).sum(dim=0)
    expected = readout.transform(torch.cat([s_l, s_g]))
    with torch.no_grad():
        torch.testing.assert_close(model.encode(batch)[0], expected)


def test_n_layers_sets_the_propagation_steps():
    one, two = small_model(n_layers=1).eval(), small_model(n_layers=2).eval()
    assert len(one.layers) == 1 and len(two.layers) == 2
    two.layers[0].load_state_dict(one.layers[0].state_dict())
    two.readout.load_state_dict(one.readout.state_dict())
    two.item_table.load_state_dict(one.item_table.state_dict())
    with torch.no_grad():
        assert not torch.allclose(one.encode(BATCH), two.encode(BATCH))


def test_extra_padding_leaves_encode_unchanged():
    model = small_model().eval()
    longer = dataclasses.replace(
        BATCH, items=torch.cat([BATCH.items, torch.zeros(4, 6, dtype=torch.int64)], dim=1)
    )
    longer = dataclasses.replace(longer, mask=longer.items > 0)
    with torch.no_grad():
        torch.testing.assert_close(model.encode(longer), model.encode(BATCH))


def test_the_last_item_matters():
    model = small_model().eval()
    with torch.no_grad():
        a = model.encode(make_batch([[1, 2, 3]], [4]))
        b = model.encode(make_batch([[1, 2, 5]], [4]))
    assert not torch.allclose(a, b, atol=1e-4)


def test_every_parameter_gets_a_gradient_and_loss_matches_the_reference():
    model = small_model()
    torch.testing.assert_close(model.loss(BATCH), model.reference_loss(BATCH), rtol=1e-5, atol=0)
    model.loss(BATCH).backward()
    for name, parameter in model.named_parameters():
        grad = parameter.grad
        assert grad is not None, name
        if name == "item_table.embedding.weight":
            assert torch.all(grad[1:].abs().sum(dim=1) > 0)
            assert torch.all(grad[0] == 0)
        else:
            assert grad.abs().sum() > 0, name


def test_encode_with_calls_lookup_once_on_the_encoder_ids():
    model = small_model()
    calls = []

    def lookup(ids):
        calls.append(ids)
        return model.item_table.lookup(ids)

    torch.testing.assert_close(model.encode_with(BATCH, lookup), model.encode(BATCH))
    assert len(calls) == 1 and torch.equal(calls[0], model.encoder_ids(BATCH))


def test_passed_item_table_is_used_and_kept():
    table = FullItemTable(N_ITEMS, 16)
    with torch.no_grad():
        table.weight().fill_(0.5)
    model = SRGNN(BackboneConfig(dim=16), n_items=N_ITEMS, item_table=table)
    assert model.item_table is table and torch.all(table.weight() == 0.5)
    assert all(p.abs().max() <= 0.1 for n, p in model.named_parameters() if "item_table" not in n)
    with pytest.raises(ValueError, match="item table"):
        SRGNN(BackboneConfig(dim=8), n_items=N_ITEMS, item_table=table)


def test_srgnn_overfits_four_sessions():
    batch = make_batch([[1, 2, 3], [4, 5, 4, 6], [7], [8, 9, 10, 8]], [11, 12, 2, 5])
    model = small_model(dim=32)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(200):
        optimizer.zero_grad()
        model.loss(batch).backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        assert torch.all(rank_of_target(model(batch), batch.targets) == 1)
