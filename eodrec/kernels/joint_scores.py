"""The joint step's score-matrix losses in one autograd node (paper Eq. 14, 18, 23-24, 27).

Per step the joint distillation stage needs, over the whole catalogue: the student's scores
against its mixed table e' = w X + (1 - w) e (Eq. 18), the teacher's scores against X, the
student's cross-entropy, KL(p_t || p_s) and the reconstruction MSE of e against X (Eq. 14).
Written with autograd ops, that allocates and streams a dozen (|V|+1, N) and (|V|, B) tensors per
step (the mixed table, its two gradients, their sum, the MSE's, ...); on a small CPU fresh
allocations of that size cost more than the arithmetic. :class:`JointScores` walks the
catalogue block by block instead: each block of e' is mixed in a cache-sized scratch buffer,
scored, and in the backward pass its gradient is split between e and X in place, so the only
full-size tensors are the score matrices and the mixed table, which live in a
:class:`Workspace` reused from step to step (fresh 16-20 MB tensors are page-faulted in on
every step, which on a small VM costs several times the arithmetic), and the teacher table's
gradient. Its reference is :func:`eodrec.distill.joint_losses`, the plain definition of Eq. 29.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from eodrec.kernels import softmax_ce
from eodrec.metrics import PADDING_ID


class Workspace:
    """Buffers :class:`JointScores` reuses across steps: the (|V|, B) score matrices, the mixed
    table and e - X (|V|, N). A step's backward finishes before the next forward starts, so
    one set suffices."""

    def __init__(self) -> None:
        self._buffers: dict[str, torch.Tensor] = {}

    def get(self, name: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        numel = math.prod(shape)
        buffer = self._buffers.get(name)
        if buffer is None or buffer.numel() < numel or buffer.dtype != like.dtype:
            buffer = self._buffers[name] = torch.empty(numel, dtype=like.dtype, device=like.device)
        return buffer[:numel].view(shape)


class JointScores(torch.autograd.Function):
    """(rec, kl, mse, rec_teacher) for student vectors ``theta_s`` over e' = w X + (1 - w) e
    and teacher vectors ``theta_t`` over X, at temperature 1. The composite table e is never
    built: each block's rows are summed from the codewords (Eq. 12) and its gradient is summed
    back into them while the block is in cache.

    * rec = mean CE of ``theta_s @ e'[1:].T`` against ``targets`` (ids 1..|V|);
    * kl = sum over the batch of KL(p_t || p_s);
    * mse = ``mse_coefficient`` * sum over items of ||e_v - X_v||^2, X detached (Eq. 14);
    * rec_teacher = mean CE of ``theta_t @ X[1:].T`` (the teacher's own task, Eq. 25's D).

    Gradients, with s and t the student's and teacher's scores:
    d/ds = (p_s - onehot) g_rec / B + (p_s - p_t) g_kl and
    d/dt = p_t (log p_t - log p_s - KL_b) g_kl + (p_t - onehot) g_rec_teacher / B;
    the gradient of e' goes (1 - w) to e and w to X. Row 0 (padding) gets none.
    """

    @staticmethod
    def forward(ctx, theta_s, codewords, codes, theta_t, X, targets, w, mse_coefficient, workspace):
        rows_of, x = codes[PADDING_ID + 1 :], X[PADDING_ID + 1 :]  # (|V|, M) rows of A
        V, B, N = x.shape[0], theta_s.shape[0], x.shape[1]
        block = softmax_ce.BLOCK_ROWS
        scores_s = workspace.get("scores_s", (V, B), theta_s)
        scores_t = workspace.get("scores_t", (V, B), theta_s)
        mixed = workspace.get("mixed", (V, N), x)  # e', kept for the backward pass
        gap = workspace.get("gap", (V, N), x)  # e - X, likewise
        squared = x.new_zeros(())
        for lo in range(0, V, block):
            rows = slice(lo, lo + block)
            e = F.embedding_bag(rows_of[rows], codewords, mode="sum")  # (block, N), Eq. 12
            torch.mul(x[rows], w, out=mixed[rows]).add_(e, alpha=1.0 - w)
            diff = torch.sub(e, x[rows], out=gap[rows])
            squared += torch.dot(diff.view(-1), diff.view(-1))
            torch.mm(mixed[rows], theta_s.T, out=scores_s[rows])
            torch.mm(x[rows], theta_t.T, out=scores_t[rows])
        scratch = torch.empty(min(V, block), B, dtype=theta_s.dtype, device=theta_s.device)
        lse_s = softmax_ce.column_logsumexp(scores_s, scratch)  # (B,)
        lse_t = softmax_ce.column_logsumexp(scores_t, scratch)
        columns = targets - (PADDING_ID + 1)
        batch = torch.arange(B, device=columns.device)
        rec = (lse_s - scores_s[columns, batch]).mean()
        rec_teacher = (lse_t - scores_t[columns, batch]).mean()
        kl = torch.zeros(B, dtype=theta_s.dtype, device=theta_s.device)
        for lo in range(0, V, block):
            rows = slice(lo, lo + block)
            log_p_t = torch.sub(scores_t[rows], lse_t, out=scratch[: scores_t[rows].shape[0]])
            log_ratio = log_p_t - scores_s[rows] + lse_s  # log p_t - log p_s
            kl += log_ratio.mul_(log_p_t.exp_()).sum(dim=0)
        ctx.save_for_backward(theta_s, codewords, codes, theta_t, X, columns, lse_s, lse_t, kl)
        ctx.w, ctx.mse_coefficient, ctx.workspace = w, mse_coefficient, workspace
        ctx.buffers = (scores_s, scores_t, mixed, gap)  # consumed (overwritten) by backward
        return rec, kl.sum(), squared * mse_coefficient, rec_teacher

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_rec, grad_kl, grad_mse, grad_rec_teacher):
        theta_s, codewords, codes, theta_t, X, columns, lse_s, lse_t, kl = ctx.saved_tensors
        scores_s, scores_t, mixed, gap = ctx.buffers
        ctx.buffers = None
        w = ctx.w
        rows_of, x = codes[PADDING_ID + 1 :], X[PADDING_ID + 1 :]
        V, B, N = x.shape[0], theta_s.shape[0], x.shape[1]
        block = softmax_ce.BLOCK_ROWS
        g_rec, g_kl, g_rt = float(grad_rec) / B, float(grad_kl), float(grad_rec_teacher) / B
        g_mse = 2.0 * float(grad_mse) * ctx.mse_coefficient
        need_x = ctx.needs_input_grad[4]
        grad_theta_s, grad_theta_t = torch.zeros_like(theta_s), torch.zeros_like(theta_t)
        grad_codewords = torch.zeros_like(codewords)
        grad_x = None
        if need_x:
            grad_x = torch.empty_like(X)  # not a workspace buffer: it becomes X.grad
            grad_x[PADDING_ID].zero_()
        q_t = torch.empty(min(V, block), B, dtype=theta_s.dtype, device=theta_s.device)
        # d/dt = p_t (g_kl (t - s - kl - lse_t + lse_s) + g_rt) - g_rt onehot
        shift = kl + lse_t - lse_s - (g_rt / g_kl if g_kl > 0 else 0.0)
        grad_mixed = torch.empty(min(V, block), N, dtype=x.dtype, device=x.device)
        for lo in range(0, V, block):
            rows = slice(lo, lo + block)
            out = slice(PADDING_ID + 1 + lo, PADDING_ID + 1 + lo + x[rows].shape[0])
            s_rows, t_rows = scores_s[rows], scores_t[rows]  # overwritten in place below
            if g_kl > 0:
                q = _scaled_exp(t_rows, lse_t, g_kl, q_t[: t_rows.shape[0]])  # g_kl p_t
                grad_t = t_rows.sub_(s_rows).sub_(shift).mul_(q)  # (block, B)
                grad_s = _scaled_exp(s_rows, lse_s, g_rec + g_kl, s_rows).sub_(q)
            else:
                grad_t = _scaled_exp(t_rows, lse_t, g_rt, t_rows)
                grad_s = _scaled_exp(s_rows, lse_s, g_rec, s_rows)
            grad_theta_s.addmm_(grad_s.T, mixed[rows])
            grad_theta_t.addmm_(grad_t.T, x[rows])
            g = torch.mm(grad_s, theta_s, out=grad_mixed[: grad_s.shape[0]])  # d/d e' rows
            if need_x:
                torch.addmm(g, grad_t, theta_t, beta=w, out=grad_x[out])
            # d/d e: (1 - w) of the mixed rows' gradient plus the MSE's, summed into codewords
            grad_e = g.mul_(1.0 - w).add_(gap[rows], alpha=g_mse)
            for m in range(rows_of.shape[1]):
                grad_codewords.index_add_(0, rows_of[rows, m], grad_e)
        # the one-hot part of the cross-entropy gradient, a rank-B correction
        target_rows = columns + (PADDING_ID + 1)
        target_codes = codes[target_rows]  # (B, M)
        target_e = F.embedding_bag(target_codes, codewords, mode="sum")
        grad_theta_s -= g_rec * ((1.0 - w) * target_e + w * X[target_rows])
        for m in range(codes.shape[1]):
            grad_codewords.index_add_(0, target_codes[:, m], theta_s, alpha=-g_rec * (1.0 - w))
        grad_theta_t -= g_rt * X[target_rows]
        if need_x:
            grad_x.index_add_(0, target_rows, theta_s, alpha=-g_rec * w)
            grad_x.index_add_(0, target_rows, theta_t, alpha=-g_rt)
        return grad_theta_s, grad_codewords, None, grad_theta_t, grad_x, None, None, None, None


def _scaled_exp(
    scores: torch.Tensor, lse: torch.Tensor, scale: float, out: torch.Tensor
) -> torch.Tensor:
    """scale * exp(scores - lse) into ``out`` (may be ``scores``), the scale folded into the
    exponent: two passes over the block instead of three."""
    if scale > 0:
        return torch.sub(scores, lse - math.log(scale), out=out).exp_()
    return torch.sub(scores, lse, out=out).exp_().mul_(scale)


def joint_scores(
    theta_s: torch.Tensor,
    codewords: torch.Tensor,
    codes: torch.Tensor,
    theta_t: torch.Tensor,
    X: torch.Tensor,
    targets: torch.Tensor,
    w: float,
    mse_coefficient: float,
    workspace: Workspace | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(rec, kl, mse, rec_teacher); see :class:`JointScores`. ``codes`` (|V|+1, M) are rows of
    ``codewords`` (offsets included); pass the same ``workspace`` every step."""
    return JointScores.apply(
        theta_s,
        codewords,
        codes,
        theta_t,
        X,
        targets,
        w,
        mse_coefficient,
        workspace or Workspace(),
    )
