"""Size analytics of item-embedding schemes and how compositional codes use their codebooks.

Two views of size are kept apart on purpose. Eq. 13 of the paper counts every stored number as
one unit (a code entry weighs as much as a float), which is how the paper computes Table 1 and
the CR column of Table 4. The byte view counts what a device actually stores: fp32 floats, and
codes as ``uint8`` (K <= 256) or bit-packed at ``ceil(log2 K)`` bits each.

Codebook usage (Fig. 6) tells how much of that capacity a learned code matrix spends: how often
each codeword is chosen, the entropy of each codebook's usage, the dead codewords and the items
that share a full code.
"""

from __future__ import annotations

import math

import torch

from eodrec.metrics import PADDING_ID

FLOAT32_BYTES = 4


def full_table_size(n_items: int, dim: int) -> int:
    """Numbers in an uncompressed item table, |V|·N (the numerator of Eq. 13)."""
    return n_items * dim


def compressed_size(n_items: int, dim: int, n_codebooks: int, n_codewords: int) -> int:
    """Numbers stored by compositional codes, M·K·N + M·|V| (the denominator of Eq. 13).

    M codebooks of K vectors of dimension N, plus M integer codes per item.
    """
    _check_positive(n_items=n_items, dim=dim, n_codebooks=n_codebooks, n_codewords=n_codewords)
    return n_codebooks * n_codewords * dim + n_codebooks * n_items


def compression_rate(n_items: int, dim: int, n_codebooks: int, n_codewords: int) -> float:
    """Eq. 13: CR = |V|·N / (M·K·N + M·|V|); its upper bound is N / M."""
    return full_table_size(n_items, dim) / compressed_size(n_items, dim, n_codebooks, n_codewords)


def code_bits(n_codewords: int) -> int:
    """Bits needed for one code, ceil(log2 K) (Sec. 4.2.1: M·log2 K bits per item)."""
    _check_positive(n_codewords=n_codewords)
    return max(1, math.ceil(math.log2(n_codewords)))


def full_table_bytes(n_items: int, dim: int) -> int:
    """Bytes of a dense fp32 item table."""
    return full_table_size(n_items, dim) * FLOAT32_BYTES


def codebook_bytes(dim: int, n_codebooks: int, n_codewords: int) -> int:
    """Bytes of the M fp32 codebooks of K vectors each."""
    return n_codebooks * n_codewords * dim * FLOAT32_BYTES


def code_bytes(n_items: int, n_codebooks: int, n_codewords: int, packing: str = "uint8") -> int:
    """Bytes of the code matrix (|V| × M): one byte per code, or bit-packed.

    ``uint8`` is what the exported student stores and needs K <= 256; ``bits`` is the lower
    bound the paper's "M·log2 K bits per item" implies.
    """
    _check_positive(n_items=n_items, n_codebooks=n_codebooks, n_codewords=n_codewords)
    if packing == "uint8":
        if n_codewords > 256:
            raise ValueError(f"uint8 codes need n_codewords <= 256, got {n_codewords}")
        return n_items * n_codebooks
    if packing == "bits":
        return math.ceil(n_items * n_codebooks * code_bits(n_codewords) / 8)
    raise ValueError(f"packing must be 'uint8' or 'bits', got {packing!r}")


def compositional_bytes(
    n_items: int, dim: int, n_codebooks: int, n_codewords: int, packing: str = "uint8"
) -> int:
    """Bytes of the student's item state: codes plus codebooks, nothing of size |V|×N."""
    return code_bytes(n_items, n_codebooks, n_codewords, packing) + codebook_bytes(
        dim, n_codebooks, n_codewords
    )


def student_compression(
    n_items: int,
    dim: int,
    n_codebooks: int,
    n_codewords: int,
    student_bytes: int,
    teacher_bytes: int,
) -> dict[str, float]:
    """What a trained student's result records: Eq. 13's CR beside the real bytes of its item
    state (codes + codebooks, as stored) and of the teacher's full table."""
    return {
        "cr_eq13": compression_rate(n_items, dim, n_codebooks, n_codewords),
        "student_item_bytes": student_bytes,
        "teacher_item_bytes": teacher_bytes,
        "byte_ratio": teacher_bytes / student_bytes,
    }


def compression_report(n_items: int, dim: int, n_codebooks: int, n_codewords: int) -> dict:
    """Eq. 13's rate and the real bytes of the full and the compositional table, as one record
    (what ``eodrec compression-rate`` prints); uint8 codes only where K fits a byte."""
    shape = (n_items, dim, n_codebooks, n_codewords)
    result = {
        "items": n_items,
        "dim": dim,
        "codebooks": n_codebooks,
        "codewords": n_codewords,
        "compression_rate": compression_rate(*shape),
        "original_size": full_table_size(n_items, dim),
        "compressed_size": compressed_size(*shape),
        "full_table_bytes": full_table_bytes(n_items, dim),
        "compositional_bytes_bitpacked": compositional_bytes(*shape, packing="bits"),
    }
    if n_codewords <= 256:
        result["compositional_bytes_uint8"] = compositional_bytes(*shape)
    return result


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def check_sttd_shapes(
    item_shape: tuple[int, ...],
    dim_shape: tuple[int, ...],
    rank: int,
    stp_n: int,
    n_items: int | None = None,
    dim: int | None = None,
) -> None:
    """Raise ``ValueError`` unless the shapes make a d = 2 STTD table (docs/method-notes.md §5.2).

    Needs R and J2 divisible by n (G1's rank splits into R/n blocks of n; G2 has J2/n columns)
    and, given the table's size, I1·I2 >= n_items + 1 (padding row included) and J1·J2 == dim.
    """
    if len(item_shape) != 2 or len(dim_shape) != 2:
        raise ValueError(
            f"only d = 2 cores are supported: item_shape {tuple(item_shape)} and dim_shape "
            f"{tuple(dim_shape)} must have two entries each"
        )
    (I1, I2), (J1, J2) = item_shape, dim_shape
    _check_positive(I1=I1, I2=I2, J1=J1, J2=J2, rank=rank, stp_n=stp_n)
    if rank % stp_n:
        raise ValueError(f"rank R={rank} must be divisible by stp_n n={stp_n}")
    if J2 % stp_n:
        raise ValueError(f"J2={J2} (dim_shape[1]) must be divisible by stp_n n={stp_n}")
    if n_items is not None and I1 * I2 < n_items + 1:
        raise ValueError(
            f"item_shape {I1}x{I2} = {I1 * I2} rows cannot hold {n_items} items plus the "
            f"padding row"
        )
    if dim is not None and J1 * J2 != dim:
        raise ValueError(f"dim_shape {J1}x{J2} = {J1 * J2} must equal dim={dim}")


def sttd_size(
    item_shape: tuple[int, int], dim_shape: tuple[int, int], rank: int, stp_n: int
) -> int:
    """Numbers stored by a d = 2 STTD table, I1·J1·R + I2·J2·R/n² (the denominator of Eq. 10).

    G1 is (I1, J1, R) and G2 is (R/n, I2, J2/n); the middle-core term of Eq. 10 is empty.
    """
    check_sttd_shapes(item_shape, dim_shape, rank, stp_n)
    (I1, I2), (J1, J2) = item_shape, dim_shape
    return I1 * J1 * rank + (rank // stp_n) * I2 * (J2 // stp_n)


def sttd_compression_rate(
    n_items: int,
    dim: int,
    item_shape: tuple[int, int],
    dim_shape: tuple[int, int],
    rank: int,
    stp_n: int,
) -> float:
    """Eq. 10: CR = Π I_k J_k / size, with the padded I1·I2 rows in the numerator, as printed.

    Tmall (169, 241) x (16, 8), R=60, n=2: 5,213,312 / 191,160 = 27.27.
    """
    check_sttd_shapes(item_shape, dim_shape, rank, stp_n, n_items, dim)
    (I1, I2), (J1, J2) = item_shape, dim_shape
    return I1 * I2 * J1 * J2 / sttd_size(item_shape, dim_shape, rank, stp_n)


def sttd_bytes(
    item_shape: tuple[int, int], dim_shape: tuple[int, int], rank: int, stp_n: int
) -> int:
    """Bytes of the two fp32 STTD cores, the OD-Rec student's whole item state."""
    return sttd_size(item_shape, dim_shape, rank, stp_n) * FLOAT32_BYTES


def sttd_compression(
    n_items: int,
    dim: int,
    item_shape: tuple[int, int],
    dim_shape: tuple[int, int],
    rank: int,
    stp_n: int,
    teacher_bytes: int,
) -> dict[str, float]:
    """What a trained OD-Rec student's result records: Eq. 10's CR beside the real bytes of its
    cores and of the teacher's full table (the STTD counterpart of :func:`student_compression`)."""
    student_bytes = sttd_bytes(item_shape, dim_shape, rank, stp_n)
    return {
        "cr_eq10": sttd_compression_rate(n_items, dim, item_shape, dim_shape, rank, stp_n),
        "student_item_bytes": student_bytes,
        "teacher_item_bytes": teacher_bytes,
        "byte_ratio": teacher_bytes / student_bytes,
    }


def code_usage(codes: torch.Tensor, n_codewords: int) -> torch.Tensor:
    """How often each codeword is chosen: counts (M, K) int64 for a code matrix (n, M).

    Pass the items' rows only (``table.codes[1:]``) to leave the padding row out. The paper's
    Fig. 6 heatmap is this matrix; each row sums to n.
    """
    n, M = codes.shape
    if n and (int(codes.min()) < 0 or int(codes.max()) >= n_codewords):
        raise ValueError(f"codes must lie in 0..{n_codewords - 1}")
    offsets = torch.arange(M, device=codes.device) * n_codewords  # (M,)
    flat = (codes.long() + offsets).reshape(-1)  # (n*M,) rows of the (M*K) grid
    return torch.bincount(flat, minlength=M * n_codewords).view(M, n_codewords)  # (M, K)


def usage_entropy(counts: torch.Tensor) -> torch.Tensor:
    """Entropy in bits of each codebook's usage, (M, K) counts -> (M,) float64.

    H_m = -sum_k p_mk log2 p_mk with p_mk = counts_mk / sum_k counts_mk and 0 log 0 = 0;
    log2 K for uniform use, 0 when one codeword takes every item.
    """
    counts = counts.to(torch.float64)
    p = counts / counts.sum(dim=1, keepdim=True).clamp(min=1.0)  # (M, K)
    return -torch.xlogy(p, p).sum(dim=1) / math.log(2.0)  # (M,)


def dead_codewords(counts: torch.Tensor) -> torch.Tensor:
    """Number of codewords no item uses, per codebook: (M, K) counts -> (M,) int64."""
    return (counts == 0).sum(dim=1)


def collisions(codes: torch.Tensor) -> int:
    """Number of items whose full code (all M entries) is shared with at least one other item.

    Such items have identical embeddings and cannot be told apart by the student.
    """
    if codes.shape[0] == 0:
        return 0
    _, inverse, counts = torch.unique(codes, dim=0, return_inverse=True, return_counts=True)
    return int((counts[inverse] > 1).sum())


def code_usage_record(codes: torch.Tensor, n_codewords: int) -> dict:
    """Fig. 6's statistics of a code matrix (|V|, M), as a trained student's stored result keeps
    them under ``code_usage``: counts per codeword and their spread."""
    counts = code_usage(codes, n_codewords)  # (M, K)
    return {
        "counts": counts.tolist(),
        "entropy_bits": usage_entropy(counts).tolist(),
        "max_entropy_bits": math.log2(n_codewords),
        "dead_codewords": dead_codewords(counts).tolist(),
        "colliding_items": collisions(codes),
        "items": int(codes.shape[0]),
    }


def code_spread(codes: torch.Tensor, n_codewords: int) -> dict[str, float]:
    """The two numbers the code-learning stage logs after each epoch: the mean per-codebook
    entropy in bits and the number of colliding items."""
    entropy = usage_entropy(code_usage(codes, n_codewords)).tolist()
    return {"code_entropy_bits": sum(entropy) / len(entropy), "colliding_items": collisions(codes)}


def coded_table_record(table, n_items: int) -> dict[str, dict]:
    """A student result's size fields: its compression against the full table of the same
    width (padding row included), and how its codes use each codebook."""
    return {
        "compression": student_compression(
            n_items,
            table.dim,
            table.n_codebooks,
            table.n_codewords,
            table.state_bytes(),
            full_table_bytes(n_items + 1, table.dim),
        ),
        "code_usage": code_usage_record(table.codes[PADDING_ID + 1 :], table.n_codewords),
    }
