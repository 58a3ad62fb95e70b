"""Learning the compositional codes from the teacher's item table X (paper Sec. 4.2.1).

The paper's way is the code learner Phi (Eq. 16-17): a small network maps each row X_v to one
distribution alpha over K codewords per codebook, and a straight-through Gumbel-softmax sample
of it, composed by :class:`~eodrec.models.codes.Codebooks`, is trained against X (Eq. 14, 26).
Beyond the paper, :func:`residual_kmeans` finds codes and codewords without training. Either
way the codes are then frozen in the student's
:class:`~eodrec.models.codes.CompositionalItemTable`.

Paper symbols -> names here: epsilon (the Gumbel temperature) = ``tau``,
alpha_v^i = ``probabilities``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from eodrec.models.codes import check_code_dtype, check_sizes, sum_of_rows


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
    (one shared layer: the paper's theta'_i is (MK/2) x MK, docs/method-notes.md §3.1), and a
    softmax over each codebook's K entries gives alpha_v^i.

    Args:
        dim: N, the width of the teacher's item vectors.
        n_codebooks: M.
        n_codewords: K.
        tau: the Gumbel-softmax temperature epsilon of Eq. 16 (0.3 in the paper, Sec. 6.1.3).
        init_range: paper-mode draws both Linears from U(-init_range, init_range) ("all the
            learnable parameters", Sec. 6.1.3); ``None`` keeps PyTorch's default init, as the
            authors' code does (docs/method-notes.md §7.17).
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
        check_sizes(dim=dim, n_codebooks=n_codebooks, n_codewords=n_codewords)
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
        straight-through form is the authors' (docs/method-notes.md §7.16).
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

        This is what gets exported and evaluated (docs/method-notes.md §7.15-§7.16); the authors
        instead keep one noisy sample (:func:`codes_from_one_hot` of :meth:`sample`).
        """
        return self.log_probabilities(X).argmax(dim=-1).to(self.code_dtype)


def codes_from_one_hot(
    one_hot: torch.Tensor, code_dtype: torch.dtype = torch.uint8
) -> torch.Tensor:
    """Code matrix (n, M) from one-hot codes (n, M, K), e.g. a :meth:`CodeLearner.sample`."""
    check_code_dtype(one_hot.shape[-1], code_dtype)
    return one_hot.argmax(dim=-1).to(code_dtype)


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


def hash_codes(
    X: torch.Tensor, n_codebooks: int, n_codewords: int, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random codes (n, M), each item's M codewords drawn uniformly (the hashing trick), and the
    codewords (M*K, N) that best fit X under them (least squares): the control that tells what
    the codes of :func:`residual_kmeans` add over codes that know nothing of the items."""
    generator = torch.Generator().manual_seed(seed)
    X = X.detach().float().cpu()
    codes = torch.randint(n_codewords, (X.shape[0], n_codebooks), generator=generator)
    return codes, fit_codewords(X, codes, n_codewords)


def fit_codewords(X: torch.Tensor, codes: torch.Tensor, n_codewords: int) -> torch.Tensor:
    """The codewords (M*K, N) whose sums best fit the rows of X (n, N) under ``codes`` (n, M),
    by least squares."""
    X = X.detach().float().cpu()
    n_codebooks = codes.shape[1]
    rows = codes.long() + torch.arange(n_codebooks) * n_codewords
    A = torch.zeros(X.shape[0], n_codebooks * n_codewords).scatter_(1, rows, 1.0)
    # A is rank-deficient by M - 1 (each codebook's columns sum to 1): a minimum-norm solution.
    return torch.linalg.lstsq(A.T @ A, A.T @ X, driver="gelsd").solution


FIXED_CODES = {"residual-kmeans": residual_kmeans, "random-hash": hash_codes}


def fixed_codes(X: torch.Tensor, method: str, n_codebooks: int, n_codewords: int, seed: int):
    """Codes (n, M), codewords (M*K, N) and the squared error of their sum against each row of
    X, mean over rows, beside the error of the best constant row (the mean) for scale."""
    codes, codewords = FIXED_CODES[method](X, n_codebooks, n_codewords, seed=seed)
    offsets = torch.arange(n_codebooks) * n_codewords
    composite = sum_of_rows(codewords, codes + offsets)  # (n, N)
    errors = {
        "mse": float(((composite - X) ** 2).sum(dim=1).mean()),
        "mse_of_mean": float(((X.mean(dim=0) - X) ** 2).sum(dim=1).mean()),
    }
    return codes, codewords, errors
