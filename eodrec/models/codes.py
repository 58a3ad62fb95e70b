"""Compositional codes: the student's compressed item table (paper Sec. 4.2, Eq. 12-18).

Each item v gets a code ``C_v = (c_v^1, ..., c_v^M)``, one codeword index per codebook, and its
embedding is the sum of the chosen codewords (Eq. 12 / Eq. 15)::

    e_v = sum_m A[m*K + c_v^m]        A: (M*K, N), codebook m is rows [m*K, (m+1)*K)

The codes are learned from the teacher's table X (:mod:`eodrec.models.code_learning`) and then
frozen. What a device stores is the code matrix (|V|+1, M) and the codebooks A (M*K, N);
nothing of size |V| x N. How evenly the codes use the codebooks is measured in
:mod:`eodrec.compression`.

Paper symbols -> names here: M = ``n_codebooks``, K = ``n_codewords``, N = ``dim``,
eta = ``Mixup.eta``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from eodrec.models.item_tables import ItemTable

EtaConvention = Literal["paper", "code"]
ETA_CONVENTIONS: tuple[str, ...] = ("paper", "code")
CODE_DTYPES = (torch.uint8, torch.int16, torch.int32, torch.int64)


class CodeCollisionWarning(UserWarning):
    """M codebooks of K codewords cannot give every item its own code (K**M < |V|)."""


def check_code_dtype(n_codewords: int, code_dtype: torch.dtype) -> None:
    """Raise ``ValueError`` unless ``code_dtype`` can hold every index 0..K-1."""
    if code_dtype not in CODE_DTYPES:
        raise ValueError(f"code_dtype must be one of {CODE_DTYPES}, got {code_dtype}")
    largest = torch.iinfo(code_dtype).max
    if n_codewords - 1 > largest:
        raise ValueError(
            f"n_codewords={n_codewords} does not fit {code_dtype} codes (largest index "
            f"{largest}); use code_dtype=torch.int16 for K > 256"
        )


def check_code_capacity(n_items: int, n_codebooks: int, n_codewords: int) -> None:
    """Warn (:class:`CodeCollisionWarning`) when M*log2 K < log2 |V|.

    There are then only K**M distinct codes for |V| items, so some items must share an
    embedding whatever the code learner does. Compared in integers, not logarithms.
    """
    n_codes = n_codewords**n_codebooks
    if n_codes < n_items:
        warnings.warn(
            f"M={n_codebooks} codebooks of K={n_codewords} codewords give only {n_codes} "
            f"distinct codes for {n_items} items (M*log2 K = "
            f"{n_codebooks * math.log2(n_codewords):.2f} bits < log2 |V| = "
            f"{math.log2(n_items):.2f}): code collisions are unavoidable",
            CodeCollisionWarning,
            stacklevel=2,
        )


def check_sizes(**values: int) -> None:
    """Raise ``ValueError`` unless every named size is positive."""
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"{name} must be positive, got {value}")


class Codebooks(nn.Module):
    """The code-to-embedding function Theta: M codebooks of K codewords in one matrix A.

    ``codewords`` is A (M*K, N); codebook m is rows [m*K, (m+1)*K). Drawn from
    U(-init_range, init_range) (the authors leave it uninitialised, docs/method-notes.md §7.17).
    """

    def __init__(
        self, n_codebooks: int, n_codewords: int, dim: int, init_range: float = 0.1
    ) -> None:
        super().__init__()
        check_sizes(n_codebooks=n_codebooks, n_codewords=n_codewords, dim=dim)
        self.n_codebooks = n_codebooks
        self.n_codewords = n_codewords
        self.dim = dim
        self.codewords = nn.Parameter(
            torch.empty(n_codebooks * n_codewords, dim).uniform_(-init_range, init_range)
        )  # A: (M*K, N)

    def compose(self, one_hot: torch.Tensor) -> torch.Tensor:
        """e = sum_m E_m^T O^m (Eq. 15) for one-hot codes (n, M, K) -> (n, N).

        Differentiable in ``one_hot``: this is how the straight-through sample trains the code
        learner (Eq. 14 through Eq. 16).
        """
        n = one_hot.shape[0]
        return one_hot.reshape(n, self.n_codebooks * self.n_codewords) @ self.codewords  # (n,N)

    def offsets(self) -> torch.Tensor:
        """(M,) first row of each codebook in A: code c of codebook m is row m*K + c."""
        return torch.arange(self.n_codebooks, device=self.codewords.device) * self.n_codewords

    def compose_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """e_v = sum_m A[m*K + c_v^m] (Eq. 12) for integer codes (..., M) -> (..., N).

        Gathers the M rows per item (an embedding bag), never building a one-hot; equal in value
        to :meth:`compose` of the one-hot codes.
        """
        M = self.n_codebooks
        rows = (codes.long() + self.offsets()).reshape(-1, M)  # (n, M) rows of A
        if torch.is_grad_enabled() and self.codewords.requires_grad:
            vectors = _SumOfRows.apply(self.codewords, rows)  # (n, N)
        else:  # inference (and export, which cannot trace a custom autograd Function)
            vectors = sum_of_rows(self.codewords, rows)  # (n, N)
        return vectors.reshape(*codes.shape[:-1], self.dim)  # (..., N)

    def score_codes(self, session_vectors: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """Scores (B, n) of session vectors (B, N) against the items of ``codes`` (n, M) without
        composing their embeddings: theta . e_v = sum_m theta . A[m*K + c_v^m].

        M*K*N multiply-adds for theta against every codeword, then M gathered adds per item,
        against n*N multiply-adds (plus n*M*N to compose the table) for dense scoring.
        """
        per_codeword = self.codewords @ session_vectors.T  # (M*K, B)
        rows = codes.long() + self.offsets()  # (n, M) rows of A
        return sum_of_rows(per_codeword, rows).T  # (B, n)


def sum_of_rows(table: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``table[rows].sum(1)`` for rows (n, M) -> (n, D) without the (n, M, D) gather: an
    embedding bag, or M ``index_select`` adds while exporting (ExecuTorch has no bag op)."""
    if torch.compiler.is_exporting():
        total = table.index_select(0, rows[:, 0])
        for m in range(1, rows.shape[1]):
            total = total + table.index_select(0, rows[:, m])
        return total
    return F.embedding_bag(rows, table, mode="sum")


class _SumOfRows(torch.autograd.Function):
    """``A[rows].sum(1)`` for rows (n, M): an embedding bag whose backward is M ``index_add_``
    calls, 3x faster on CPU than the bag's generic dense backward for a whole item table."""

    @staticmethod
    def forward(ctx, weight: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(rows)
        ctx.weight_shape = weight.shape
        return F.embedding_bag(rows, weight, mode="sum")  # (n, N)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (rows,) = ctx.saved_tensors
        grad_weight = grad.new_zeros(ctx.weight_shape)
        for m in range(rows.shape[1]):
            grad_weight.index_add_(0, rows[:, m], grad)
        return grad_weight, None


@dataclass(frozen=True, eq=False)
class Mixup:
    """Embedding mixup (Eq. 18) of the student's composite e with the teacher's table X.

    ``paper``: e' = eta X + (1 - eta) e, eta weights the TEACHER (best 0.8 Tmall, 0.7 RR).
    ``code``: e' = eta e + (1 - eta) X, eta weights the composite (the authors' 0.2 = paper
    0.8; docs/method-notes.md §3.4, §7.1). The two conventions describe the same models.

    The paper mixes only in training and scores with e alone at test (Sec. 4.2.2);
    ``mixed_table_at_test=True`` keeps the table mixed in eval mode too, as the authors' code
    scores (:meth:`CompositionalItemTable.scoring` picks either way for one pass). Gradients flow
    into X: with a trainable teacher that is one of the
    paths of bidirectional distillation; freeze the teacher to stop it.
    """

    teacher: ItemTable
    eta: float
    eta_convention: EtaConvention = "paper"
    mixed_table_at_test: bool = False

    def __post_init__(self) -> None:
        if self.eta_convention not in ETA_CONVENTIONS:
            raise ValueError(
                f"eta_convention must be one of {ETA_CONVENTIONS}, got {self.eta_convention!r}"
            )
        if not 0.0 <= self.eta <= 1.0:
            raise ValueError(f"eta must be in [0, 1], got {self.eta}")

    @property
    def teacher_weight(self) -> float:
        """The weight on X in e' = w X + (1 - w) e, whichever convention eta was given in."""
        return self.eta if self.eta_convention == "paper" else 1.0 - self.eta

    def mix(self, composite: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        w = self.teacher_weight
        return w * teacher + (1.0 - w) * composite


class CompositionalItemTable(ItemTable):
    """The deployed student's item table: a code matrix and M codebooks (Sec. 4.2).

    State: ``codes`` (n_items + 1, M) buffer of ``code_dtype`` (row 0 belongs to the padding
    id and is never a scoring target) and :class:`Codebooks` A (M*K, N). ``lookup`` gathers M
    codewords per id without building the table; ``weight`` composes all n_items + 1 rows.
    The codes are fixed (docs/method-notes.md §7.14): they are not a parameter and take no gradient;
    :meth:`set_codes` replaces them, e.g. after each code-learning step.

    An optional :class:`Mixup` holds a reference to the teacher's table. It is kept as a plain
    attribute, not a submodule, so neither ``parameters()`` nor ``state_dict()`` of this table
    ever include the teacher's |V| x N weights.
    """

    def __init__(
        self,
        n_items: int,
        dim: int,
        n_codebooks: int,
        n_codewords: int,
        codes: torch.Tensor | None = None,
        code_dtype: torch.dtype = torch.uint8,
        init_range: float = 0.1,
        mixup: Mixup | None = None,
    ) -> None:
        super().__init__()
        check_sizes(n_items=n_items, dim=dim)
        check_code_dtype(n_codewords, code_dtype)
        check_code_capacity(n_items, n_codebooks, n_codewords)
        self.n_items = n_items
        self.dim = dim
        self.n_codebooks = n_codebooks
        self.n_codewords = n_codewords
        self.codebooks = Codebooks(n_codebooks, n_codewords, dim, init_range)
        self.register_buffer("codes", torch.zeros(n_items + 1, n_codebooks, dtype=code_dtype))
        if codes is not None:
            self.set_codes(codes)
        self.set_mixup(mixup)

    @torch.no_grad()
    def set_codes(self, codes: torch.Tensor) -> None:
        """Replace the code matrix with ``codes`` (n_items + 1, M), row 0 for padding."""
        expected = (self.n_items + 1, self.n_codebooks)
        if tuple(codes.shape) != expected:
            raise ValueError(f"codes must have shape {expected}, got {tuple(codes.shape)}")
        if codes.is_floating_point():
            raise ValueError(f"codes must be integers, got {codes.dtype}")
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= self.n_codewords):
            raise ValueError(f"codes must lie in 0..{self.n_codewords - 1}")
        self.codes.copy_(codes.to(self.codes.dtype))

    def set_mixup(self, mixup: Mixup | None) -> None:
        """Attach (or with ``None`` detach) the teacher table used by Eq. 18."""
        shape = None if mixup is None else (mixup.teacher.n_items, mixup.teacher.dim)
        if shape is not None and shape != (self.n_items, self.dim):
            raise ValueError(
                f"teacher table is {mixup.teacher.n_items} items x {mixup.teacher.dim} dims, "
                f"student table is {self.n_items} x {self.dim}"
            )
        self.mixup: Mixup | None = mixup  # not a Module: the teacher stays unregistered

    @contextmanager
    def scoring(self, mixed: bool) -> Iterator[None]:
        """Within the block, eval mode scores with the mixed table (``mixed``, as the authors'
        code scores) or with the codes alone (as a device scores), whatever the mixup's own
        ``mixed_table_at_test`` says."""
        saved = self.mixup
        if saved is None and mixed:
            raise ValueError("this table has no teacher table to mix with")
        if saved is not None:
            self.mixup = replace(saved, mixed_table_at_test=mixed)
        try:
            yield
        finally:
            self.mixup = saved

    @property
    def mixing(self) -> bool:
        """Whether the table is mixed with the teacher's now (training, or code-mode test)."""
        return self.mixup is not None and (self.training or self.mixup.mixed_table_at_test)

    def composite_weight(self) -> torch.Tensor:
        """The composite table e (n_items + 1, N) of Eq. 12, never mixed."""
        return self.codebooks.compose_codes(self.codes)  # (n_items+1, N)

    def lookup(self, ids: torch.Tensor) -> torch.Tensor:
        """(...) ids -> (..., N): e'[ids] in training with mixup, else e[ids]; gathers only the
        M codewords of each id (and, when mixing, the teacher's rows for those ids)."""
        vectors = self.codebooks.compose_codes(self.codes[ids])  # (..., N)
        if self.mixing:
            return self.mixup.mix(vectors, self.mixup.teacher.lookup(ids))
        return vectors

    def weight(self) -> torch.Tensor:
        """The full table (n_items + 1, N) that scoring multiplies with (Eq. 18 or Eq. 12)."""
        return self.composite_and_weight()[1]

    def score(self, session_vectors: torch.Tensor) -> torch.Tensor:
        """Scores against every item: factorized over the codebooks (:meth:`Codebooks.score_codes`)
        unless the table is mixed with the teacher's, which needs the dense product."""
        if self.mixing:
            return super().score(session_vectors)
        return self.codebooks.score_codes(session_vectors, self.codes)  # (B, n_items + 1)

    def composite_and_weight(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(e, scoring table): the composite and, mixed or not, :meth:`weight`, composed once."""
        composite = self.composite_weight()
        if self.mixing:
            return composite, self.mixup.mix(composite, self.mixup.teacher.weight())
        return composite, composite

    def state_bytes(self) -> int:
        """Real bytes of the deployed state: the code matrix plus the codebooks.

        Equals ``compression.compositional_bytes(n_items, dim, M, K)`` plus M bytes for the
        padding row's code (with uint8 codes and fp32 codebooks).
        """
        codewords = self.codebooks.codewords
        return (
            self.codes.numel() * self.codes.element_size()
            + codewords.numel() * codewords.element_size()
        )

    def extra_repr(self) -> str:
        mixup = (
            "none" if self.mixup is None else f"eta={self.mixup.eta} ({self.mixup.eta_convention})"
        )
        return (
            f"n_items={self.n_items}, dim={self.dim}, n_codebooks={self.n_codebooks}, "
            f"n_codewords={self.n_codewords}, code_dtype={self.codes.dtype}, mixup={mixup}"
        )
