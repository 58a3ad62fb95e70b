"""Allocation-light autograd kernels for the training loss over the full item table.

The reference loss is ``F.cross_entropy(mask_padding(theta @ X^T), targets)``. Written that way
one training step materialises five (B, |V|+1) tensors (the scores, the masked copy, the
log-softmax, the NLL gradient and the log-softmax gradient) and, for the item table, a dense
(|V|+1, N) embedding gradient that is then added to the scoring gradient. On a small CPU those
tensors cost more than the arithmetic: each is freshly allocated (often page-faulted in) and
streamed through memory once or twice.

:class:`FullSoftmaxCrossEntropy` computes the same value with one (B, |V|) buffer: it scores only
the real rows ``X[1:]`` (a view, no copy), which is exactly what masking column 0 with -inf
does, turns the buffer into the softmax in place and writes the table gradient straight into a
(|V|+1, N) tensor whose row 0 is zero. :class:`TableGather` is an embedding lookup whose backward
adds the lookup gradient into that same tensor (in place, rows touched only), so the table gets
one dense gradient per step instead of two plus a sum.

Both are first-order only (``once_differentiable``).
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from eodrec.metrics import PADDING_ID


class FullSoftmaxCrossEntropy(torch.autograd.Function):
    """Mean softmax CE of ``theta @ weight[1:].T`` against ``targets - 1`` (ids 1..|V|).

    Equal to ``F.cross_entropy(mask_padding(theta @ weight.T), targets)``: a -inf column adds
    exp(-inf) = 0 to every partition sum and receives zero gradient.
    """

    @staticmethod
    def forward(ctx, theta: torch.Tensor, weight: torch.Tensor,
                targets: torch.Tensor) -> torch.Tensor:
        items = weight[PADDING_ID + 1:]  # (|V|, N), a view
        columns = targets - (PADDING_ID + 1)  # (B,)
        logits = theta @ items.T  # (B, |V|), the only large buffer
        target_logit = logits.gather(1, columns[:, None]).squeeze(1)  # (B,)
        row_max = logits.amax(dim=1, keepdim=True)  # (B, 1)
        exp = logits.sub_(row_max).exp_()  # in place: exp(l - max)
        sums = exp.sum(dim=1)  # (B,)
        loss = (row_max.squeeze(1) + sums.log() - target_logit).mean()
        ctx.save_for_backward(theta, weight, columns, sums)
        ctx.exp = exp  # consumed (overwritten) by backward
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_loss: torch.Tensor):
        theta, weight, columns, sums = ctx.saved_tensors
        grad = ctx.exp
        ctx.exp = None
        B = theta.shape[0]
        # d loss / d logits = (softmax - onehot) / B, built in place in the exp buffer
        grad.mul_((grad_loss / B) / sums[:, None])
        rows = torch.arange(B, device=grad.device)
        grad[rows, columns] -= grad_loss / B
        grad_theta = grad_weight = None
        if ctx.needs_input_grad[0]:
            grad_theta = grad @ weight[PADDING_ID + 1:]  # (B, N)
        if ctx.needs_input_grad[1]:
            grad_weight = torch.empty(weight.shape, dtype=weight.dtype, device=weight.device)
            grad_weight[PADDING_ID].zero_()
            torch.mm(grad.T, theta, out=grad_weight[PADDING_ID + 1:])  # (|V|, N), no copy
        return grad_theta, grad_weight, None


class TableGather(torch.autograd.Function):
    """``(weight[ids], weight)`` as one node: the lookup and an alias of the table for scoring.

    Backward receives both gradients at once and adds the lookup's into the scoring one in place
    (``index_add_`` touches only the looked-up rows), instead of autograd materialising a dense
    embedding gradient and summing the two. Row ``PADDING_ID`` gets no gradient, as with
    ``nn.Embedding(padding_idx=0)``.
    """

    @staticmethod
    def forward(ctx, weight: torch.Tensor, ids: torch.Tensor):
        ctx.save_for_backward(ids)
        ctx.table_shape = weight.shape
        return weight[ids], weight.view_as(weight)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_vectors: torch.Tensor | None, grad_table: torch.Tensor | None):
        (ids,) = ctx.saved_tensors
        if grad_vectors is None:
            return grad_table, None
        if grad_table is None:
            grad_table = grad_vectors.new_zeros(ctx.table_shape)
        elif not grad_table.is_contiguous():
            grad_table = grad_table.contiguous()
        grad_table.index_add_(0, ids.reshape(-1), grad_vectors.reshape(-1, grad_vectors.shape[-1]))
        grad_table[PADDING_ID].zero_()
        return grad_table, None


def full_softmax_cross_entropy(theta: torch.Tensor, weight: torch.Tensor,
                               targets: torch.Tensor) -> torch.Tensor:
    """Mean CE of ``theta @ weight.T`` with column 0 masked; see :class:`FullSoftmaxCrossEntropy`."""
    return FullSoftmaxCrossEntropy.apply(theta, weight, targets)
