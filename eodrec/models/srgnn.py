"""SR-GNN (Wu et al., "Session-based Recommendation with Graph Neural Networks", AAAI 2019).

Each session becomes a directed graph: its distinct items are the nodes (in order of first
appearance) and every consecutive pair of real items is an edge, so a repeated item is one node
and a repeated consecutive item a self-loop. Edge weights are normalised per row (SR-GNN
Sec. 3.2)::

    A_out[i, j] = count(i -> j) / outdeg(i)      A_in[i, j] = count(j -> i) / indeg(i)

with degrees counted over edge occurrences (0 / 0 = 0 for a node without edges). The paper
counts occurrences; the authors' ``utils.py`` sets each edge to 1 whatever its count, which
differs only for sessions that repeat a transition. Data flow (B sessions, n nodes, L positions)::

    v   = X[node_items]                                                        (B, n, N)
    a   = [A_in (H_in v + b_in) + b_iah ; A_out (H_out v + b_out) + b_oah]     (B, n, 2N)
    v   = GRUCell(a, v)                     # n_layers times, Eq. 1-5          (B, n, N)
    x   = v[alias]                          # node state at every position     (B, L, N)
    s_l = x at the last real position                                          (B, N)
    s_g = sum_i alpha_i x_i,  alpha_i = q^T sigmoid(W1 s_l + W2 x_i + c)        (B, N), Eq. 6
    s_h = W3 [s_l; s_g]                                                        (B, N), Eq. 7

The graphs are computed flat, over the real nodes and positions only: a batch's padded (B, n)
grid is mostly padding (on RetailRocket one long session pads a hundred short ones), and the GRU
and the projections would otherwise run on every padded slot. ``A v`` is a sum over the edge
list, so no (B, n, n) matrix is built. An exported graph cannot size a tensor by the data, so
export keeps every slot, padding included, with zero weight on padded edges and positions.

``nn.GRUCell`` computes exactly the original ``GNNCell`` update (same gates, same order). As for
every Table 3 baseline, the EODRec paper's general settings apply (Sec. 6.1.3): N = 128 on Tmall
and 256 on RetailRocket, batch 100, Adam at 1e-3, L2 1e-5, U(-0.1, 0.1) init. The model reads
``config.dim``, ``config.init_range`` and ``config.n_layers`` (propagation steps; the original
default is 1); SR-GNN has no dropout, so ``config.dropout`` is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from eodrec.data.batch import Batch
from eodrec.models.base import BackboneConfig, SessionRecommender
from eodrec.models.item_tables import ItemTable


@dataclass(frozen=True)
class SessionGraphs:
    """The session graphs of a batch. Nodes are numbered per session in ``node_items`` and
    ``alias``; the edge list and the positions index the kept nodes, the rows of a flat (R, N)
    node-state matrix (the real nodes; every slot while exporting)."""

    node_items: torch.Tensor  # (B, n) int64 item of each node, 0 = padding node
    alias: torch.Tensor  # (B, L) int64 node of each position, 0 at padded positions
    node_mask: torch.Tensor  # (B, n) bool, True on real nodes
    kept_nodes: torch.Tensor  # (R,) flat index into the (B * n) grid of each kept node
    edge_source: torch.Tensor  # (E,) kept node each transition leaves
    edge_target: torch.Tensor  # (E,) kept node each transition enters
    edge_weight_in: torch.Tensor  # (E,) 1 / indeg(target), 0 on padded transitions
    edge_weight_out: torch.Tensor  # (E,) 1 / outdeg(source), 0 on padded transitions
    position_nodes: torch.Tensor  # (T,) kept node at each kept position
    position_sessions: torch.Tensor  # (T,) session of each kept position
    position_weights: torch.Tensor  # (T,) 1 on real positions, 0 on padded ones
    last_nodes: torch.Tensor  # (B,) kept node at each session's last real position

    def propagate(self, h_in: torch.Tensor, h_out: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``(A_in h_in, A_out h_out)`` for node features (R, N), summed over the edge list."""
        weight_in = self.edge_weight_in.to(h_in.dtype)[:, None]  # (E, 1)
        weight_out = self.edge_weight_out.to(h_out.dtype)[:, None]  # (E, 1)
        rows = h_in.shape[0]
        a_in = _sum_into(h_in[self.edge_source] * weight_in, self.edge_target, rows)
        a_out = _sum_into(h_out[self.edge_target] * weight_out, self.edge_source, rows)
        return a_in, a_out


def _sum_into(values: torch.Tensor, index: torch.Tensor, rows: int) -> torch.Tensor:
    """(rows, N) sums of the (E, N) ``values`` grouped by ``index``."""
    out = values.new_zeros(rows, values.shape[1])
    return out.scatter_add(0, index[:, None].expand_as(values), values)


def _kept(mask: torch.Tensor) -> torch.Tensor:
    """Flat indices of the True entries; every entry while exporting (shapes must be static)."""
    flat = mask.flatten()
    if torch.compiler.is_exporting():
        return torch.arange(flat.numel(), device=flat.device)
    return flat.nonzero().squeeze(1)


def session_graphs(batch: Batch) -> SessionGraphs:
    """Build every session's graph at once with (B, L, L) comparisons, no loop over sessions."""
    items, mask = batch.items, batch.mask
    B, L = items.shape
    same = items[:, :, None] == items[:, None, :]  # (B, L, L)
    first_seen = same.int().argmax(dim=2)  # (B, L) earliest position holding the same item
    positions = torch.arange(L, device=items.device)
    is_first = mask & (first_seen == positions)  # (B, L) first occurrence of a real item
    rank = is_first.cumsum(dim=1) - 1  # (B, L) node index at first occurrences
    alias = torch.where(mask, rank.gather(1, first_seen), 0)  # (B, L)
    n_nodes = is_first.sum(dim=1)  # (B,)
    # An exported graph keeps L nodes, the most a session of length L can have (the extra ones
    # are padding nodes without edges).
    n = L if torch.compiler.is_exporting() else max(int(n_nodes.max()), 1)
    slot = torch.where(is_first, rank, n)  # (B, L) node of each first occurrence; n = discard
    node_items = items.new_zeros(B, n + 1).scatter_(1, slot, items)[:, :n]  # (B, n)
    node_mask = torch.arange(n, device=items.device) < n_nodes[:, None]  # (B, n)

    kept_nodes = _kept(node_mask)  # (R,)
    # kept node of each (session, node) slot: the running count of kept slots before it
    is_kept = torch.zeros(B * n, dtype=torch.int64, device=items.device)
    is_kept = is_kept.scatter(0, kept_nodes, 1)
    slot_to_kept = (is_kept.cumsum(0) - 1).view(B, n)
    node_of_position = slot_to_kept.gather(1, alias)  # (B, L) kept node at every position

    # Transition t -> t + 1 is real when position t + 1 is (right padding).
    transitions = mask[:, 1:]  # (B, L-1)
    kept_edges = _kept(transitions)
    source = node_of_position[:, :-1].flatten()[kept_edges]  # (E,)
    target = node_of_position[:, 1:].flatten()[kept_edges]  # (E,)
    real = transitions.flatten()[kept_edges].to(torch.float32)  # (E,)
    R = kept_nodes.shape[0]
    out_degree = real.new_zeros(R).scatter_add(0, source, real).clamp(min=1)  # (R,)
    in_degree = real.new_zeros(R).scatter_add(0, target, real).clamp(min=1)  # (R,)

    kept_positions = _kept(mask)
    last = mask.sum(dim=1).clamp(min=1) - 1  # (B,)
    return SessionGraphs(
        node_items=node_items,
        alias=alias,
        node_mask=node_mask,
        kept_nodes=kept_nodes,
        edge_source=source,
        edge_target=target,
        edge_weight_in=real / in_degree[target],
        edge_weight_out=real / out_degree[source],
        position_nodes=node_of_position.flatten()[kept_positions],
        position_sessions=kept_positions // L,
        position_weights=mask.flatten()[kept_positions].to(torch.float32),
        last_nodes=node_of_position.gather(1, last[:, None]).squeeze(1),
    )


class GatedGraphLayer(nn.Module):
    """One propagation step of the gated GNN (SR-GNN Eq. 1-5, the original ``GNNCell``)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.edge_in = nn.Linear(dim, dim)  # H_in, b_in
        self.edge_out = nn.Linear(dim, dim)  # H_out, b_out
        self.bias_in = nn.Parameter(torch.zeros(dim))  # b_iah
        self.bias_out = nn.Parameter(torch.zeros(dim))  # b_oah
        self.gru = nn.GRUCell(2 * dim, dim)

    def forward(self, v: torch.Tensor, graphs: SessionGraphs) -> torch.Tensor:
        """Kept node states v (R, N) -> (R, N)."""
        a_in, a_out = graphs.propagate(self.edge_in(v), self.edge_out(v))  # (R, N) each
        a = torch.cat([a_in + self.bias_in, a_out + self.bias_out], dim=1)  # (R, 2N)
        return self.gru(a, v)


class SRGNNReadout(nn.Module):
    """Hybrid session vector s_h = W3 [s_l; s_g] over the real positions (Eq. 6-7).

    Parameters, with the paper's names: ``last_proj`` = W1 (no bias), ``item_proj`` = W2 with
    bias c, ``attention_vector`` = q, ``transform`` = W3. The original has a second, redundant
    bias on W1; the paper's single c is used here.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.last_proj = nn.Linear(dim, dim, bias=False)  # W1
        self.item_proj = nn.Linear(dim, dim)  # W2, c
        self.attention_vector = nn.Linear(dim, 1, bias=False)  # q
        self.transform = nn.Linear(2 * dim, dim)  # W3

    def forward(self, v: torch.Tensor, graphs: SessionGraphs) -> torch.Tensor:
        """Kept node states v (R, N) -> s_h (B, N)."""
        s_l = v[graphs.last_nodes]  # (B, N)
        x = v[graphs.position_nodes]  # (T, N) node state at each kept position
        sessions = graphs.position_sessions
        gates = torch.sigmoid(self.last_proj(s_l)[sessions] + self.item_proj(x))  # (T, N)
        weights = graphs.position_weights.to(x.dtype)[:, None]  # (T, 1)
        alpha = self.attention_vector(gates) * weights  # (T, 1)
        s_g = _sum_into(alpha * x, sessions, s_l.shape[0])  # (B, N)
        return self.transform(torch.cat([s_l, s_g], dim=1))  # (B, N)


class SRGNN(SessionRecommender):
    """SR-GNN over a pluggable item table; ``config.n_layers`` propagation steps.

    Built as :class:`~eodrec.models.teacher.Teacher` is (``config``, ``n_items``, an optional
    ``item_table``); ``config``: reads ``dim``, ``init_range`` and ``n_layers`` only.
    """

    def __init__(
        self, config: BackboneConfig, n_items: int, item_table: ItemTable | None = None
    ) -> None:
        super().__init__(config, n_items, item_table)
        self.layers = nn.ModuleList(GatedGraphLayer(config.dim) for _ in range(config.n_layers))
        self.readout = SRGNNReadout(config.dim)
        self.init_parameters_()

    def encoder_ids(self, batch: Batch) -> torch.Tensor:
        """The node items (B, n) of the session graphs, 0 on padding nodes."""
        return session_graphs(batch).node_items

    def encode_with(self, batch: Batch, lookup) -> torch.Tensor:
        graphs = session_graphs(batch)
        v = lookup(graphs.node_items).flatten(0, 1)[graphs.kept_nodes]  # (R, N)
        for layer in self.layers:
            v = layer(v, graphs)  # (R, N)
        return self.readout(v, graphs)  # (B, N)

    def head_parameters(self) -> list[nn.Parameter]:
        return list(self.readout.parameters())
