"""How close full-ranking evaluation comes to its matmul floor (:mod:`eodrec.bench.floor`):
the scoring GEMM plus the transformer's forward pass over the same batches."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from eodrec.bench.floor import gemm_floor
from eodrec.bench.train_step import IMPLEMENTATIONS, reference_scores, teacher_setup
from eodrec.memory import tune_glibc_malloc
from eodrec.provenance import hardware


def _eval_batches(sequences: list, targets: list, batch_size: int) -> list:
    """The padded batches the plain reference ranks, in order."""
    from eodrec.data import pad_batch

    n = len(sequences)
    return [
        pad_batch(
            sequences[lo : lo + batch_size],
            targets[lo : lo + batch_size],
            range(lo, min(lo + batch_size, n)),
        )
        for lo in range(0, n, batch_size)
    ]


def _time_rankings(runs: dict, implementations) -> tuple[dict, dict]:
    """(ranks, seconds) of each implementation's second run (the first warms up)."""
    ranks, seconds = {}, {}
    for name in implementations:
        runs[name]()
        start = time.perf_counter()
        ranks[name] = runs[name]()
        seconds[name] = time.perf_counter() - start
    return ranks, seconds


def _eval_floor(batches: list, model, config, gemm_repeats: int) -> tuple[float, float, float]:
    """(floor_ms, floor_padded_ms, flops) summed over ``batches``; each distinct batch shape
    is measured once."""
    floor_ms, padded_ms, flops = 0.0, 0.0, 0.0
    shapes: dict[tuple[int, int, int], dict] = {}
    for batch in batches:
        B, L = batch.items.shape
        key = (B, L, int(batch.mask.sum()))
        if key not in shapes:
            shapes[key] = gemm_floor(
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
    return floor_ms, padded_ms, flops


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
    from eodrec.evaluate import rank_targets
    from eodrec.metrics import rank_of_target

    malloc_tuned = tune_glibc_malloc() if malloc else False
    config, data, splits, model = teacher_setup(dataset, data_dir)
    model.eval()
    n = min(max_sequences, len(splits.valid.sequences))
    sequences, targets = splits.valid.sequences[:n], splits.valid.targets[:n]
    batches = _eval_batches(sequences, targets, batch_size)

    @torch.no_grad()
    def reference() -> torch.Tensor:
        return torch.cat([rank_of_target(reference_scores(model, b), b.targets) for b in batches])

    runs = {
        "model": lambda: rank_targets(model, sequences, targets, batch_size),
        "reference": reference,
    }
    ranks, seconds = _time_rankings(runs, implementations)
    floor_ms, padded_ms, flops = _eval_floor(batches, model, config, gemm_repeats)
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
