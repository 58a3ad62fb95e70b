"""How close the teacher's training step and evaluation come to their matmul floor.

``bench_train_step`` measures, in one process and one run:

* the machine's matmul rate on the step's own GEMM shapes (the scoring GEMM
  (B, N) @ (N, |V|+1), its two backward GEMMs, and the transformer's (M, N) @ (N, N) shapes);
* the step's matmul FLOPs: scoring 2·B·N·(|V|+1) forward and twice that backward, plus the
  transformer's own matmuls (q, k, v, out, FFN up and down, the two attention products, the
  readout's projections), forward and backward (3x forward);
* hence the GEMM floor, FLOPs / measured rate, and the median step time (zero_grad + loss +
  backward + Adam step) over real batches for each implementation and optimizer, interleaved
  round-robin so that every variant sees the same machine load, with ``ratio = step / floor``.

Two floors are given: ``floor_ms`` counts the transformer on the real tokens only (the work the
``paper`` readout needs); ``floor_padded_ms`` counts it on the padded (B, L) grid, as the plain
implementation computes it. ``bench_eval`` does the same for full-ranking evaluation.

Functions only; the CLI wires them up. Timings only compare within one run on one machine.
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from eodrec.memory import tune_glibc_malloc
from eodrec.metrics import mask_padding
from eodrec.provenance import hardware

IMPLEMENTATIONS = ("model", "reference")
OPTIMIZERS = ("default", "foreach", "fused")


def _best_ms(fn: Callable[[], object], repeats: int, sample_ms: float = 5.0) -> float:
    """Best time of one call: ``fn`` is repeated within each sample until the sample lasts
    ``sample_ms``, and the fastest of ``repeats`` samples is kept. A floor wants the machine's
    best rate; on a shared CPU medians of short calls mostly measure preemption."""
    fn()
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-6) * 1e3
    inner = max(1, int(sample_ms / once))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - start) / inner)
    return best * 1e3


def _gemm(m: int, k: int, n: int, repeats: int, layouts: tuple[str, ...] = ("nn",)) -> dict:
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
        ms = _best_ms(lambda a=a, b=b, out=out: torch.mm(a, b, out=out), repeats)
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


def _floors(
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
    scoring = {"forward": _gemm(batch, dim, n_rows, repeats, ("nt", "out"))}  # theta @ X^T
    if backward:
        scoring["grad_theta"] = _gemm(batch, n_rows, dim, repeats, ("nn", "tn"))  # G @ X
        scoring["grad_table"] = _gemm(n_rows, batch, dim, repeats, ("tn", "nn"))  # G^T @ theta
    scoring_ms = sum(g["ms"] for g in scoring.values())
    scoring_flops = 2.0 * batch * dim * n_rows * len(scoring)
    passes = 3 if backward else 1  # backward = grad of inputs + grad of weights
    rates = {}
    out = {"scoring_gemms": scoring, "scoring_flops": scoring_flops, "scoring_ms": scoring_ms}
    for name, rows in (("real", tokens), ("padded", batch * length)):
        rates[name] = _gemm(max(rows, 1), dim, dim, repeats)
        flops = passes * transformer_flops(batch, length, rows, dim, inner, n_layers)
        ms = flops / (rates[name]["gflops_per_s"] * 1e6)
        out[f"transformer_{name}"] = {
            "rows": rows,
            "flops": flops,
            "ms": ms,
            "rate_gemm": rates[name],
        }
    out["flops"] = scoring_flops + out["transformer_real"]["flops"]
    out["floor_ms"] = scoring_ms + out["transformer_real"]["ms"]
    out["flops_padded"] = scoring_flops + out["transformer_padded"]["flops"]
    out["floor_padded_ms"] = scoring_ms + out["transformer_padded"]["ms"]
    return out


def _reference_loss(model, batch) -> torch.Tensor:
    """The plain step as first written: padded transformer, dense scores, masked CE."""
    if hasattr(model, "hidden_states"):
        vectors = model.readout(model.hidden_states(batch), batch.mask)
    else:
        vectors = model.encode(batch)
    scores = vectors @ model.item_table.weight().T
    return F.cross_entropy(mask_padding(scores), batch.targets)


def _optimizer(model, kind: str, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    flags = {"default": {}, "foreach": {"foreach": True}, "fused": {"fused": True}}[kind]
    return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay, **flags)


def _setup(dataset: str, data_dir: Path | str | None, profile: str | None = None):
    from eodrec.config import make_config
    from eodrec.data import load_dataset
    from eodrec.data.splits import make_splits
    from eodrec.models.build import build_model

    if profile is None:
        profile = "smoke" if dataset == "toy" else "quick"
    config = make_config("teacher", dataset, profile)
    data = load_dataset(dataset, Path(data_dir) if data_dir else None)
    splits = make_splits(data, config.data.valid_fraction, config.data.split_seed)
    model = build_model(config, data.n_items)
    return config, data, splits, model


def bench_train_step(
    dataset: str = "Tmall",
    data_dir: Path | str | None = None,
    steps: int = 30,
    warmup: int = 5,
    implementations: tuple[str, ...] = IMPLEMENTATIONS,
    optimizers: tuple[str, ...] = OPTIMIZERS,
    gemm_repeats: int = 10,
    malloc: bool = False,
) -> dict:
    """Median training-step time per (implementation, optimizer) and its ratio to the floor.

    ``implementations``: ``model`` (``model.loss``, what train.py runs) and ``reference``
    (the plain padded transformer with ``F.cross_entropy(mask_padding(scores))``).
    ``optimizers``: Adam as train.py builds it (``default``), with ``foreach=True`` or with
    ``fused=True``. ``malloc=True`` calls :func:`tune_glibc_malloc` first (process-wide).
    The batch size, learning rate and weight decay are the ``quick`` profile's (``smoke`` for
    the ``toy`` dataset).
    """
    from eodrec.train import train_loader

    if steps < 1 or warmup < 0:
        raise ValueError("steps must be positive and warmup non-negative")
    unknown = set(implementations) - set(IMPLEMENTATIONS) | set(optimizers) - set(OPTIMIZERS)
    if unknown:
        raise ValueError(f"unknown implementation or optimizer: {sorted(unknown)}")
    if not implementations or not optimizers:
        raise ValueError("need at least one implementation and one optimizer")
    malloc_tuned = tune_glibc_malloc() if malloc else False
    config, data, splits, model = _setup(dataset, data_dir)
    train = config.train
    loader = train_loader(splits, train)
    batches = []
    for batch in loader:
        batches.append(batch)
        if len(batches) == warmup + steps:
            break
    timed = batches[warmup:]
    length = int(statistics.median(b.items.shape[1] for b in timed))
    tokens = int(statistics.median(int(b.mask.sum()) for b in timed))
    B, N = train.batch_size, model.dim
    floors = _floors(
        B,
        model.n_items + 1,
        N,
        config.model.inner_dim,
        config.model.n_layers,
        length,
        tokens,
        gemm_repeats,
        backward=True,
    )

    # same parameters, same batch: the two implementations must agree (dropout off)
    model.eval()
    with torch.no_grad():
        fast, plain = model.loss(batches[0]).item(), _reference_loss(model, batches[0]).item()
    model.train()

    variants = {}
    for impl in implementations:
        for opt in optimizers:
            replica = copy.deepcopy(model).train()
            loss_fn = (
                replica.loss if impl == "model" else (lambda b, m=replica: _reference_loss(m, b))
            )
            variants[f"{impl}/{opt}"] = (
                replica,
                loss_fn,
                _optimizer(replica, opt, train.lr, train.weight_decay),
            )

    def step(replica, loss_fn, optimizer, batch):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(batch)
        loss.backward()
        optimizer.step()
        return loss

    times: dict[str, list[float]] = {name: [] for name in variants}
    for index, batch in enumerate(batches):
        for name, (replica, loss_fn, optimizer) in variants.items():  # round-robin
            torch.manual_seed(index)  # the same dropout stream for every variant
            start = time.perf_counter()
            step(replica, loss_fn, optimizer, batch)
            if index >= warmup:
                times[name].append(time.perf_counter() - start)

    results = {}
    for name, samples in times.items():
        ms = statistics.median(samples) * 1e3
        best = min(samples) * 1e3
        results[name] = {
            "step_ms": ms,
            "min_ms": best,
            "ratio": ms / floors["floor_ms"],
            "ratio_padded": ms / floors["floor_padded_ms"],
            "ratio_min": best / floors["floor_ms"],
        }
    return {
        "benchmark": "train-step",
        "dataset": dataset,
        "batch_size": B,
        "n_items": model.n_items,
        "dim": N,
        "steps": steps,
        "warmup": warmup,
        "median_length": length,
        "median_real_tokens": tokens,
        "malloc_tuned": malloc_tuned,
        "loss_check": {
            "model": fast,
            "reference": plain,
            "rel_err": abs(fast - plain) / abs(plain),
        },
        "floor": floors,
        "floor_ms": floors["floor_ms"],
        "floor_padded_ms": floors["floor_padded_ms"],
        "variants": results,
        "hardware": hardware(),
    }


def _reference_scores(model, batch) -> torch.Tensor:
    if hasattr(model, "hidden_states"):
        vectors = model.readout(model.hidden_states(batch), batch.mask)
    else:
        vectors = model.encode(batch)
    return vectors @ model.item_table.weight().T


def bench_eval(
    dataset: str = "Tmall",
    data_dir: Path | str | None = None,
    batch_size: int = 500,
    max_sequences: int = 5000,
    implementations: tuple[str, ...] = IMPLEMENTATIONS,
    gemm_repeats: int = 5,
    malloc: bool = False,
) -> dict:
    """Full-ranking evaluation throughput (sequences/s) on the validation split, and its ratio
    to the GEMM floor of the same batches (scoring GEMM plus the transformer's forward).

    ``model`` runs :func:`eodrec.evaluate.rank_targets` (what training evaluates with);
    ``reference`` ranks with the plain padded forward pass, for comparison.
    """
    from eodrec.data import pad_batch
    from eodrec.evaluate import rank_targets
    from eodrec.metrics import rank_of_target

    malloc_tuned = tune_glibc_malloc() if malloc else False
    config, data, splits, model = _setup(dataset, data_dir)
    model.eval()
    n = min(max_sequences, len(splits.valid.sequences))
    sequences, targets = splits.valid.sequences[:n], splits.valid.targets[:n]
    batches = [
        pad_batch(
            sequences[lo : lo + batch_size],
            targets[lo : lo + batch_size],
            range(lo, min(lo + batch_size, n)),
        )
        for lo in range(0, n, batch_size)
    ]

    @torch.no_grad()
    def reference() -> torch.Tensor:
        return torch.cat([rank_of_target(_reference_scores(model, b), b.targets) for b in batches])

    runs = {
        "model": lambda: rank_targets(model, sequences, targets, batch_size),
        "reference": reference,
    }
    ranks, seconds = {}, {}
    for name in implementations:
        runs[name]()  # warm up
        start = time.perf_counter()
        ranks[name] = runs[name]()
        seconds[name] = time.perf_counter() - start

    floor_ms, padded_ms, flops = 0.0, 0.0, 0.0
    shapes: dict[tuple[int, int, int], dict] = {}
    for batch in batches:
        B, L = batch.items.shape
        key = (B, L, int(batch.mask.sum()))
        if key not in shapes:
            shapes[key] = _floors(
                B,
                model.n_items + 1,
                model.dim,
                config.model.inner_dim,
                config.model.n_layers,
                L,
                key[2],
                gemm_repeats,
                backward=False,
            )
        floor_ms += shapes[key]["floor_ms"]
        padded_ms += shapes[key]["floor_padded_ms"]
        flops += shapes[key]["flops"]
    variants = {
        name: {
            "seconds": sec,
            "sequences_per_s": n / sec,
            "ratio": sec * 1e3 / floor_ms,
            "ratio_padded": sec * 1e3 / padded_ms,
        }
        for name, sec in seconds.items()
    }
    agree = None
    if len(ranks) == 2:
        agree = float((ranks["model"] == ranks["reference"]).double().mean())
    return {
        "benchmark": "eval",
        "dataset": dataset,
        "batch_size": batch_size,
        "sequences": n,
        "flops": flops,
        "floor_ms": floor_ms,
        "floor_padded_ms": padded_ms,
        "floor_sequences_per_s": n / (floor_ms / 1e3),
        "variants": variants,
        "rank_agreement": agree,
        "malloc_tuned": malloc_tuned,
        "hardware": hardware(),
    }
