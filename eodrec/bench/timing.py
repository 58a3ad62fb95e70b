"""Timing helpers shared by the benchmarks: a best-of rate for short calls and round-robin
medians for whole steps."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence

import torch


def best_ms(fn: Callable[[], object], repeats: int, sample_ms: float = 5.0) -> float:
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


def round_robin(
    steps: dict[str, Callable[[object], object]], batches: Sequence, warmup: int
) -> dict[str, list[float]]:
    """Seconds of each named step on each batch after the first ``warmup``, the steps taking
    turns batch by batch so that every one sees the same machine load. Each call is seeded
    with the batch's index: every step gets the same dropout stream."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    for index, batch in enumerate(batches):
        for name, step in steps.items():
            torch.manual_seed(index)
            start = time.perf_counter()
            step(batch)
            if index >= warmup:
                times[name].append(time.perf_counter() - start)
    return times


def median_ms(times: dict[str, list[float]]) -> dict[str, float]:
    """The median of each step's seconds, in milliseconds."""
    return {name: statistics.median(samples) * 1e3 for name, samples in times.items()}
