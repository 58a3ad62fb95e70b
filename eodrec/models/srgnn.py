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
from eodrec.models.base import SessionRecommender, checked_table
from eodrec.models.item_tables import ItemTable
from eodrec.models.teacher import TeacherConfig


@dataclass(frozen=True)
class SessionGraphs:
    """The padded session graphs of a batch; padding nodes have id 0 and no edges."""

    node_items: torch.Tensor  # (B, n) int64 item of each node, 0 = padding node
    alias: torch.Tensor  # (B, L) int64 node of each position, 0 at padded positions
    adjacency_in: torch.Tensor  # (B, n, n) row i: in-edges of node i over its in-degree
    adjacency_out: torch.Tensor  # (B, n, n) row i: out-edges of node i over its out-degree
    node_mask: torch.Tensor  # (B, n) bool, True on real nodes


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
    # An exported graph cannot size a tensor by the data: it keeps L nodes, the most a session
    # of length L can have (the extra ones are padding nodes, masked like any other).
    n = L if torch.compiler.is_exporting() else max(int(n_nodes.max()), 1)
    slot = torch.where(is_first, rank, n)  # (B, L) node of each first occurrence; n = discard
    node_items = items.new_zeros(B, n + 1).scatter_(1, slot, items)[:, :n]  # (B, n)
    # Transition t -> t + 1 is real when position t + 1 is (right padding).
    edges = alias[:, :-1] * n + alias[:, 1:]  # (B, L-1) flat (source, target) index
    counts = torch.zeros(B, n * n, device=items.device)
    counts.scatter_add_(1, edges, mask[:, 1:].float())
    counts = counts.view(B, n, n)  # (B, n, n) count(i -> j)
    out_degree = counts.sum(dim=2, keepdim=True).clamp(min=1)  # (B, n, 1)
    in_degree = counts.sum(dim=1)[:, :, None].clamp(min=1)  # (B, n, 1)
    return SessionGraphs(
        node_items=node_items,
        alias=alias,
        adjacency_in=counts.transpose(1, 2) / in_degree,
        adjacency_out=counts / out_degree,
        node_mask=torch.arange(n, device=items.device) < n_nodes[:, None],
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
        """Node states v (B, n, N) -> (B, n, N)."""
        a_in = graphs.adjacency_in.to(v.dtype) @ self.edge_in(v) + self.bias_in  # (B, n, N)
        a_out = graphs.adjacency_out.to(v.dtype) @ self.edge_out(v) + self.bias_out  # (B, n, N)
        a = torch.cat([a_in, a_out], dim=2)  # (B, n, 2N)
        B, n, N = v.shape
        return self.gru(a.reshape(B * n, 2 * N), v.reshape(B * n, N)).view(B, n, N)


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

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x (B, L, N) node state at each position, mask (B, L) -> s_h (B, N)."""
        last = mask.sum(dim=1).clamp(min=1) - 1  # (B,)
        s_l = x[torch.arange(x.shape[0], device=x.device), last]  # (B, N)
        gates = torch.sigmoid(self.last_proj(s_l)[:, None] + self.item_proj(x))  # (B, L, N)
        alpha = self.attention_vector(gates) * mask[:, :, None].to(x.dtype)  # (B, L, 1)
        s_g = (alpha * x).sum(dim=1)  # (B, N)
        return self.transform(torch.cat([s_l, s_g], dim=1))  # (B, N)


class SRGNN(SessionRecommender):
    """SR-GNN over a pluggable item table; ``config.n_layers`` propagation steps.

    Built as :class:`~eodrec.models.teacher.Teacher` is (``config``, ``n_items``, an optional
    ``item_table``); ``config``: reads ``dim``, ``init_range`` and ``n_layers`` only.
    """

    def __init__(
        self, config: TeacherConfig, n_items: int, item_table: ItemTable | None = None
    ) -> None:
        keep_table = item_table is not None
        super().__init__(checked_table(item_table, n_items, config.dim))
        self.config = config
        self.layers = nn.ModuleList(GatedGraphLayer(config.dim) for _ in range(config.n_layers))
        self.readout = SRGNNReadout(config.dim)
        self.init_parameters_(config.init_range, keep_table)

    def encoder_ids(self, batch: Batch) -> torch.Tensor:
        """The node items (B, n) of the session graphs, 0 on padding nodes."""
        return session_graphs(batch).node_items

    def encode_with(self, batch: Batch, lookup) -> torch.Tensor:
        graphs = session_graphs(batch)
        v = lookup(graphs.node_items)  # (B, n, N)
        for layer in self.layers:
            v = layer(v, graphs)  # (B, n, N)
        x = v[torch.arange(v.shape[0], device=v.device)[:, None], graphs.alias]  # (B, L, N)
        return self.readout(x, batch.mask)  # (B, N)

    def head_parameters(self) -> list[nn.Parameter]:
        return list(self.readout.parameters())
