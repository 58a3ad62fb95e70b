"""The GEMM floor of a training step or an evaluation batch: the step's matmul FLOPs over the
machine's measured matmul rate on the step's own shapes.

Counted: the scoring GEMM (B, N) @ (N, |V|+1), forward 2·B·N·(|V|+1) and twice that backward,
plus the transformer's own matmuls (q, k, v, out, FFN up and down, the two attention products,
the readout's projections), forward and backward (3x forward). Two floors are given:
``floor_ms`` counts the transformer on the real tokens only (the work the ``paper`` readout
needs); ``floor_padded_ms`` counts it on the padded (B, L) grid, as the plain implementation
computes it.
"""

from __future__ import annotations

import torch

from eodrec.bench.timing import best_ms


def gemm(m: int, k: int, n: int, repeats: int, layouts: tuple[str, ...] = ("nn",)) -> dict:
    """Best time and rate of one (m, k) @ (k, n) product over the given operand layouts.

    A layout names each operand ``n`` (row-major) or ``t`` (a transposed row-major tensor);
    ``"out"`` computes the transposed product (n, m) = (k, n)^T-major instead, which is the
    same arithmetic with the output in the other layout.
    """
    best: dict = {}
    for layout in layouts:
        if layout == "out":  # C^T = B^T A^T, written (n, m)
            a, b, out = torch.randn(n, k), torch.randn(m, k).T, torch.empty(n, m)
        else:
            a = torch.randn(m, k) if layout[0] == "n" else torch.randn(k, m).T
            b = torch.randn(k, n) if layout[1] == "n" else torch.randn(n, k).T
            out = torch.empty(m, n)
        ms = best_ms(lambda a=a, b=b, out=out: torch.mm(a, b, out=out), repeats)
        if not best or ms < best["ms"]:
            best = {
                "shape": [m, k, n],
                "layout": layout,
                "ms": ms,
                "gflops_per_s": 2.0 * m * k * n / ms / 1e6,
            }
    return best


def transformer_flops(
    batch: int, length: int, tokens: int, dim: int, inner: int, n_layers: int = 1
) -> float:
    """Forward matmul FLOPs of the transformer and readout on ``tokens`` token rows.

    Per layer: q, k, v and out (4·M·N·N MACs), FFN up and down (2·M·N·F), the attention
    products Q·Kᵀ and A·V on the (B, L, L) grid (2·B·L·L·N). Readout: W2 on every token
    (M·N·N), W1 on the session means (B·N·N), f (M·N).
    """
    per_layer = 4 * tokens * dim * dim + 2 * tokens * dim * inner + 2 * batch * length**2 * dim
    readout = tokens * dim * dim + batch * dim * dim + tokens * dim
    return 2.0 * (n_layers * per_layer + readout)


def gemm_floor(
    batch: int,
    n_rows: int,
    dim: int,
    inner: int,
    n_layers: int,
    length: int,
    tokens: int,
    repeats: int,
    backward: bool,
) -> dict:
    """GEMM floor of one step (or one evaluation batch when ``backward`` is False)."""
    # each scoring product in its best layout (the floor is a lower bound for any code)
    scoring = {"forward": gemm(batch, dim, n_rows, repeats, ("nt", "out"))}  # theta @ X^T
    if backward:
        scoring["grad_theta"] = gemm(batch, n_rows, dim, repeats, ("nn", "tn"))  # G @ X
        scoring["grad_table"] = gemm(n_rows, batch, dim, repeats, ("tn", "nn"))  # G^T @ theta
    scoring_ms = sum(g["ms"] for g in scoring.values())
    scoring_flops = 2.0 * batch * dim * n_rows * len(scoring)
    passes = 3 if backward else 1  # backward = grad of inputs + grad of weights
    out = {"scoring_gemms": scoring, "scoring_flops": scoring_flops, "scoring_ms": scoring_ms}
    for name, rows in (("real", tokens), ("padded", batch * length)):
        rate = gemm(max(rows, 1), dim, dim, repeats)
        flops = passes * transformer_flops(batch, length, rows, dim, inner, n_layers)
        ms = flops / (rate["gflops_per_s"] * 1e6)
        out[f"transformer_{name}"] = {"rows": rows, "flops": flops, "ms": ms, "rate_gemm": rate}
    out["flops"] = scoring_flops + out["transformer_real"]["flops"]
    out["floor_ms"] = scoring_ms + out["transformer_real"]["ms"]
    out["flops_padded"] = scoring_flops + out["transformer_padded"]["flops"]
    out["floor_padded_ms"] = scoring_ms + out["transformer_padded"]["ms"]
    return out
