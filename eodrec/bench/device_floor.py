"""The physical floor of one on-device request: the student's bundle bytes read once at the
machine's measured read rate, plus its FLOPs (encoder on the request's bucket, theta against
the M*K codewords) at the measured GEMM rate of the encoder's own shapes. The ratio of the
measured per-request p50 to this floor says how far the runtime is from the hardware."""

from __future__ import annotations

import torch

from eodrec.bench.floor import gemm, transformer_flops
from eodrec.bench.timing import best_ms

READ_MB = 256  # far beyond the caches: a read from memory, as a cold request's


def read_gb_per_s(repeats: int = 5) -> float:
    """One thread's read rate: the best sum over a :data:`READ_MB` float32 tensor."""
    data = torch.ones(READ_MB * 2**20 // 4)
    return READ_MB * 2**20 / best_ms(data.sum, repeats) / 1e6


def median_bucket(bucket_sessions: dict[str, int]) -> int:
    """The bucket holding the median test session: the per-request p50's length."""
    half, seen = sum(bucket_sessions.values()) / 2, 0
    for bucket, count in bucket_sessions.items():
        seen += count
        if seen >= half:
            return int(bucket)
    raise ValueError("no test sessions")


def request_floor(bench: dict, repeats: int = 5) -> dict | None:
    """The student's per-request floor on one thread and its measured p50 over it, per
    runtime; None when the benchmark timed no student."""
    torch.set_num_threads(1)
    student = bench.get("student")
    rows = {r["runtime"]: r for r in bench["rows"] if r["model"] == "Student"}
    bundle = rows.get("executorch", {}).get("bundle_bytes")
    if student is None or bundle is None:
        return None
    length, dim = median_bucket(bench["bucket_sessions"]), student["dim"]
    encoder = transformer_flops(1, length, length, dim, student["ffn_dim"], student["n_layers"])
    scoring = 2.0 * student["n_codebooks"] * student["n_codewords"] * dim
    rate = gemm(length, dim, dim, repeats)["gflops_per_s"]
    read = read_gb_per_s(repeats)
    floor_ms = bundle / read / 1e6 + (encoder + scoring) / rate / 1e6
    return {
        "length": length,
        "bundle_bytes": bundle,
        "read_gb_per_s": read,
        "flops": encoder + scoring,
        "gemm_gflops_per_s": rate,
        "floor_ms": floor_ms,
        "p50_over_floor": {rt: r["per_request_p50_ms"] / floor_ms for rt, r in rows.items()},
    }
