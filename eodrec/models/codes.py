"""Compositional codes: the student's compressed item table (paper Sec. 4.2, Eq. 12-18).

Each item v gets a code ``C_v = (c_v^1, ..., c_v^M)``, one codeword index per codebook, and its
embedding is the sum of the chosen codewords (Eq. 12 / Eq. 15)::

    e_v = sum_m A[m*K + c_v^m]        A: (M*K, N), codebook m is rows [m*K, (m+1)*K)

The codes are found by a code learner that reads the teacher's table X (Eq. 16-17) through a
straight-through Gumbel-softmax, and are then frozen. What a device stores is the code matrix
(|V|+1, M) and the codebooks A (M*K, N); nothing of size |V| x N.

Paper symbols -> names here: M = ``n_codebooks``, K = ``n_codewords``, N = ``dim``,
epsilon (the Gumbel temperature) = ``tau``, alpha_v^i = ``probabilities``, eta = ``Mixup.eta``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
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


def _check_sizes(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"{name} must be positive, got {value}")


class _StraightThrough(torch.autograd.Function):
    """Forward: the one-hot of the argmax over the last axis, exactly 0/1. Backward: identity,
    so the gradient of the hard sample is the gradient of the soft one (straight-through)."""

    @staticmethod
    def forward(ctx, soft: torch.Tensor) -> torch.Tensor:
        index = soft.argmax(dim=-1, keepdim=True)
        return torch.zeros_like(soft).scatter_(-1, index, 1.0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad


class CodeLearner(nn.Module):
    """The item-to-code function Phi of Sec. 4.2.1 (Eq. 16-17), applied to rows of X.

    ``h = tanh(theta^T X_v + b)`` maps N -> M*K/2, ``softplus(theta'^T h + b')`` maps M*K/2 -> M*K
    (one shared layer: the paper's theta'_i is (MK/2) x MK, METHOD-NOTES 3.1), and a softmax over
    each codebook's K entries gives alpha_v^i.

    Args:
        dim: N, the width of the teacher's item vectors.
        n_codebooks: M.
        n_codewords: K.
        tau: the Gumbel-softmax temperature epsilon of Eq. 16 (0.3 in the paper, Sec. 6.1.3).
        init_range: paper-mode draws both Linears from U(-init_range, init_range) ("all the
            learnable parameters", Sec. 6.1.3); ``None`` keeps PyTorch's default init, as the
            authors' code does (METHOD-NOTES 7.17).
        code_dtype: dtype of :meth:`codes`; ``uint8`` (what the device stores) needs K <= 256.
    """

    def __init__(
        self,
        dim: int,
        n_codebooks: int,
        n_codewords: int,
        tau: float = 0.3,
        init_range: float | None = 0.1,
        code_dtype: torch.dtype = torch.uint8,
    ) -> None:
        super().__init__()
        _check_sizes(dim=dim, n_codebooks=n_codebooks, n_codewords=n_codewords)
        if n_codewords < 2:
            raise ValueError(f"n_codewords must be at least 2, got {n_codewords}")
        if tau <= 0:
            raise ValueError(f"tau must be positive, got {tau}")
        check_code_dtype(n_codewords, code_dtype)
        self.n_codebooks = n_codebooks
        self.n_codewords = n_codewords
        self.tau = tau
        self.code_dtype = code_dtype
        hidden = max(1, n_codebooks * n_codewords // 2)  # M*K/2 (Eq. 17)
        self.hidden = nn.Linear(dim, hidden)  # theta, b
        self.logits = nn.Linear(hidden, n_codebooks * n_codewords)  # theta', b'
        if init_range is not None:
            with torch.no_grad():
                for parameter in self.parameters():
                    parameter.uniform_(-init_range, init_range)

    def log_probabilities(self, X: torch.Tensor) -> torch.Tensor:
        """log alpha (n, M, K) for item vectors X (n, N) (Eq. 17).

        Computed as a log-softmax, the exact log of alpha; the authors take log(alpha + 1e-10).
        """
        n = X.shape[0]
        logits = F.softplus(self.logits(torch.tanh(self.hidden(X))))  # (n, M*K)
        return logits.view(n, self.n_codebooks, self.n_codewords).log_softmax(dim=-1)  # (n,M,K)

    def probabilities(self, X: torch.Tensor) -> torch.Tensor:
        """alpha_v^i (n, M, K): a distribution over K codewords per item and codebook (Eq. 17)."""
        return self.log_probabilities(X).exp()

    def sample(self, X: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Hard straight-through Gumbel-softmax sample (n, M, K) (Eq. 16).

        Forward: the exact one-hot of argmax_k softmax((log alpha_k + G_k) / tau) with
        G = -log(-log U), U ~ Uniform(0, 1). Backward: the gradient of that soft sample, so the
        code learner is trained through the discrete choice. The paper gives only Eq. 16; the
        straight-through form is the authors' (METHOD-NOTES 7.16).
        """
        log_alpha = self.log_probabilities(X)  # (n, M, K)
        uniform = torch.rand(
            log_alpha.shape, generator=generator, dtype=log_alpha.dtype, device=log_alpha.device
        )
        # U in [0, 1): clamp 0 away so the double log stays finite; -log U > 0 for U < 1.
        gumbel = -torch.log(-torch.log(uniform.clamp(min=torch.finfo(uniform.dtype).tiny)))
        soft = ((log_alpha + gumbel) / self.tau).softmax(dim=-1)  # (n, M, K)
        return _StraightThrough.apply(soft)

    def forward(self, X: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.sample(X, generator)

    @torch.no_grad()
    def codes(self, X: torch.Tensor) -> torch.Tensor:
        """Deterministic codes (n, M) of ``code_dtype``: argmax_k alpha_v^i, no Gumbel noise.

        This is what gets exported and evaluated (METHOD-NOTES 7.15-7.16); the authors instead
        keep one noisy sample (:func:`codes_from_one_hot` of :meth:`sample`).
        """
        return self.log_probabilities(X).argmax(dim=-1).to(self.code_dtype)


def codes_from_one_hot(
    one_hot: torch.Tensor, code_dtype: torch.dtype = torch.uint8
) -> torch.Tensor:
    """Code matrix (n, M) from one-hot codes (n, M, K), e.g. a :meth:`CodeLearner.sample`."""
    check_code_dtype(one_hot.shape[-1], code_dtype)
    return one_hot.argmax(dim=-1).to(code_dtype)


class Codebooks(nn.Module):
    """The code-to-embedding function Theta: M codebooks of K codewords in one matrix A.

    ``codewords`` is A (M*K, N); codebook m is rows [m*K, (m+1)*K). Drawn from
    U(-init_range, init_range) (the authors leave it uninitialised, METHOD-NOTES 7.17).
    """

    def __init__(
        self, n_codebooks: int, n_codewords: int, dim: int, init_range: float = 0.1
    ) -> None:
        super().__init__()
        _check_sizes(n_codebooks=n_codebooks, n_codewords=n_codewords, dim=dim)
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


def residual_kmeans(
    X: torch.Tensor, n_codebooks: int, n_codewords: int, iterations: int = 15, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Codes (n, M) and codewords (M*K, N) by residual k-means of the rows of X (n, N): codebook
    m is a k-means (``iterations`` Lloyd steps from K distinct random rows) of what codebooks
    0..m-1 leave of X, and each row takes its nearest codeword. The sum of a row's codewords
    then approximates it, with every codeword in use from the start."""
    if X.shape[0] < n_codewords:
        raise ValueError(f"{X.shape[0]} rows cannot seed {n_codewords} codewords")
    generator = torch.Generator().manual_seed(seed)
    residual = X.detach().float().cpu().clone()
    codes, codewords = [], []
    for _ in range(n_codebooks):
        centres = residual[torch.randperm(len(residual), generator=generator)[:n_codewords]]
        for _ in range(iterations):
            nearest = torch.cdist(residual, centres).argmin(dim=1)
            sums = torch.zeros_like(centres).index_add_(0, nearest, residual)
            counts = torch.bincount(nearest, minlength=n_codewords)
            used = counts > 0  # an emptied centre stays where it was
            centres[used] = sums[used] / counts[used, None]
        nearest = torch.cdist(residual, centres).argmin(dim=1)
        residual -= centres[nearest]
        codes.append(nearest)
        codewords.append(centres)
    return torch.stack(codes, dim=1), torch.cat(codewords)


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
    0.8; METHOD-NOTES 3.4, 7.1). The two conventions describe the same models.

    The paper mixes only in training and scores with e alone at test (Sec. 4.2.2);
    ``mixed_table_at_test=True`` reproduces the authors' scoring with the mixed table
    (METHOD-NOTES 7.2). Gradients flow into X: with a trainable teacher that is one of the
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
    The codes are fixed (METHOD-NOTES 7.14): they are not a parameter and take no gradient;
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
        _check_sizes(n_items=n_items, dim=dim)
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


def code_usage_summary(codes: torch.Tensor, n_codewords: int) -> dict:
    """Fig. 6's statistics of a code matrix (|V|, M): counts per codeword and their spread."""
    counts = code_usage(codes, n_codewords)  # (M, K)
    return {
        "counts": counts.tolist(),
        "entropy_bits": usage_entropy(counts).tolist(),
        "max_entropy_bits": math.log2(n_codewords),
        "dead_codewords": dead_codewords(counts).tolist(),
        "colliding_items": collisions(codes),
        "items": int(codes.shape[0]),
    }
