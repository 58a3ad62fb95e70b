"""Allocation-light autograd kernels for the training loss over the full item table.

The reference loss is ``F.cross_entropy(mask_padding(theta @ X^T), targets)``. Written that way
one training step materialises five (B, |V|+1) tensors (the scores, the masked copy, the
log-softmax, the NLL gradient and the log-softmax gradient) and, for the item table, a dense
(|V|+1, N) embedding gradient that is then added to the scoring gradient. On a small CPU those
tensors cost more than the arithmetic: each is freshly allocated (often page-faulted in) and
streamed through memory once or twice.

:class:`FullSoftmaxCrossEntropy` computes the same value with one (|V|, B) buffer: it scores only
the real rows ``X[1:]`` (a view, no copy), which is exactly what masking column 0 with -inf
does, turns the buffer into the softmax in place and writes the table gradient straight into a
(|V|+1, N) tensor whose row 0 is zero. :class:`TableGather` is an embedding lookup whose backward
adds the lookup gradient into that same tensor (in place, rows touched only), so the table gets
one dense gradient per step instead of two plus a sum.

Both are first-order only (``once_differentiable``). Their reference is
:meth:`eodrec.models.base.SessionRecommender.reference_loss`.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from eodrec.metrics import PADDING_ID

BLOCK_ROWS = 4096  # items per block of the online softmax: a (4096, B) block stays in cache


class FullSoftmaxCrossEntropy(torch.autograd.Function):
    """Mean softmax CE of ``theta @ weight[1:].T`` against ``targets - 1`` (ids 1..|V|).

    Equal to ``F.cross_entropy(mask_padding(theta @ weight.T), targets)``: a -inf column adds
    exp(-inf) = 0 to every partition sum and receives zero gradient.
    """

    @staticmethod
    def forward(
        ctx, theta: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor
    ) -> torch.Tensor:
        items = weight[PADDING_ID + 1 :]  # (|V|, N), a view
        columns = targets - (PADDING_ID + 1)  # (B,)
        V, B = items.shape[0], theta.shape[0]
        theta_t = theta.T
        # Item-major (|V|, B) logits, the only large buffer: X @ theta^T is the faster GEMM
        # layout for this shape on CPU BLAS (K = N is short). It is filled block by block and
        # each block is turned into exp(l - block max) while it is still in cache (an online
        # softmax); the block maxima are reconciled on (n_blocks, B) numbers afterwards.
        exp = torch.empty(V, B, dtype=theta.dtype, device=theta.device)
        tops, sums = [], []
        for lo in range(0, V, BLOCK_ROWS):
            block = exp[lo : lo + BLOCK_ROWS]
            torch.mm(items[lo : lo + BLOCK_ROWS], theta_t, out=block)
            top = block.amax(dim=0)  # (B,)
            sums.append(block.sub_(top).exp_().sum(dim=0))
            tops.append(top)
        tops_k, sums_k = torch.stack(tops), torch.stack(sums)  # (K, B)
        top = tops_k.amax(dim=0)  # (B,)
        rescale = (tops_k - top).exp_()  # (K, B): block max -> global max
        total = (sums_k * rescale).sum(dim=0)  # (B,) partition sums / exp(top)
        target_logit = (theta * items[columns]).sum(dim=1)  # (B,)
        loss = (top + total.log() - target_logit).mean()
        ctx.save_for_backward(theta, weight, columns, rescale / total)  # softmax = exp * that
        ctx.exp = exp  # consumed (overwritten) by backward
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_loss: torch.Tensor):
        theta, weight, columns, coefficients = ctx.saved_tensors
        exp = ctx.exp  # (|V|, B)
        ctx.exp = None
        items = weight[PADDING_ID + 1 :]
        scale = grad_loss / theta.shape[0]
        # d loss / d logits = (softmax - onehot(targets)) * scale. The softmax part is built in
        # place block by block and fed to both GEMMs while in cache; the one-hot part is a rank-B
        # correction applied afterwards.
        need_theta, need_weight = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        grad_theta = torch.zeros_like(theta) if need_theta else None
        grad_weight = None
        if need_weight:
            grad_weight = torch.empty(weight.shape, dtype=weight.dtype, device=weight.device)
            grad_weight[PADDING_ID].zero_()
        for k, lo in enumerate(range(0, exp.shape[0], BLOCK_ROWS)):
            block = exp[lo : lo + BLOCK_ROWS].mul_(coefficients[k] * scale)
            if need_weight:
                out = grad_weight[PADDING_ID + 1 + lo : PADDING_ID + 1 + lo + block.shape[0]]
                torch.mm(block, theta, out=out)
            if need_theta:
                grad_theta.addmm_(block.T, items[lo : lo + BLOCK_ROWS])
        if need_theta:
            grad_theta -= scale * items[columns]
        if need_weight:
            grad_weight.index_add_(0, columns + (PADDING_ID + 1), theta, alpha=-scale)
        return grad_theta, grad_weight, None


class TableGather(torch.autograd.Function):
    """``(weight[ids_1], ..., weight[ids_k], weight)`` as one node: lookups and an alias of the
    table for scoring.

    Backward receives every gradient at once and adds the lookups' into the scoring one in place
    (``index_add_`` touches only the looked-up rows), instead of autograd materialising a dense
    embedding gradient per lookup and summing them. Row ``PADDING_ID`` gets no gradient, as with
    ``nn.Embedding(padding_idx=0)``.
    """

    @staticmethod
    def forward(ctx, weight: torch.Tensor, *ids: torch.Tensor):
        ctx.save_for_backward(*ids)
        ctx.table_shape = weight.shape
        return (*(weight[i] for i in ids), weight.view_as(weight))

    @staticmethod
    @once_differentiable
    def backward(ctx, *grads: torch.Tensor | None):
        ids = ctx.saved_tensors
        *grad_vectors, grad_table = grads
        if grad_table is None:
            grad_table = (
                grads[0].new_zeros(ctx.table_shape)
                if any(g is not None for g in grad_vectors)
                else None
            )
        elif not grad_table.is_contiguous():
            grad_table = grad_table.contiguous()
        for index, grad in zip(ids, grad_vectors, strict=True):
            if grad is not None:
                grad_table.index_add_(0, index.reshape(-1), grad.reshape(-1, grad.shape[-1]))
        if grad_table is not None:
            grad_table[PADDING_ID].zero_()
        return (grad_table, *(None for _ in ids))


def full_softmax_cross_entropy(
    theta: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """Mean CE of ``theta @ weight.T``, column 0 masked; see FullSoftmaxCrossEntropy."""
    return FullSoftmaxCrossEntropy.apply(theta, weight, targets)


def column_logsumexp(logits: torch.Tensor, scratch: torch.Tensor) -> torch.Tensor:
    """(B,) log-sum-exp of each column of ``logits`` (|V|, B), one cache-sized block at a time
    (an online softmax: block maxima reconciled at the end); ``scratch`` holds one block."""
    tops, sums = [], []
    for lo in range(0, logits.shape[0], BLOCK_ROWS):
        block = logits[lo : lo + BLOCK_ROWS]
        top = block.amax(dim=0)  # (B,)
        work = scratch[: block.shape[0]]
        sums.append(torch.sub(block, top, out=work).exp_().sum(dim=0))
        tops.append(top)
    tops_k, sums_k = torch.stack(tops), torch.stack(sums)  # (n_blocks, B)
    top = tops_k.amax(dim=0)
    return top + (sums_k * (tops_k - top).exp_()).sum(dim=0).log_()
