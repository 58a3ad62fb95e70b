"""Bidirectional self-supervised knowledge distillation (paper Sec. 5, Eq. 20-24 and 29).

One training step of the student stage combines four terms (Eq. 29, :func:`joint_losses`)::

    L = L_rec + L_mse + beta * L_con + gamma * L_soft

* L_rec: the student's softmax cross-entropy over its (mixed) item table;
* L_mse (Eq. 14, :func:`embedding_mse`): pulls the composite table e toward the teacher's X;
* L_con (Eq. 20-22, :class:`HotColdRecombination` + :func:`info_nce`): each session is split
  into its hot and cold items (:func:`split_hot_cold`), both models read out a hot and a cold
  vector, the cold halves are swapped between teacher and student, and the two recombined
  views of a session are contrasted with InfoNCE;
* L_soft (Eq. 23-24, :func:`soft_target_kl`): KL(p_tea || p_stu) of the two models' scores.

Nothing here detaches the teacher except where the paper's objective says so (Eq. 14 optimises
C and E only), so when the teacher's parameters are handed to an optimizer the same loss trains
both models: that is what makes the distillation bidirectional (Sec. 5.4). Freezing the teacher
gives the paper's Stu-w/o-b ablation and the authors' released behaviour (docs/method-notes.md
§7.4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from eodrec.data.batch import Batch
from eodrec.metrics import PADDING_ID, mask_padding
from eodrec.models.base import SessionRecommender, init_uniform_
from eodrec.models.codes import CompositionalItemTable
from eodrec.models.readout import ReadoutVariant, SoftAttentionReadout
from eodrec.models.student import StudentConfig

MseScale = Literal["paper", "code"]
Reduction = Literal["mean", "sum"]


@dataclass(frozen=True)
class HotColdViews:
    """A batch split by item popularity for the recombination task (Sec. 5.2).

    Only sequences longer than 1 take part (docs/method-notes.md §1.3). A "mixed" sequence has at
    least one hot and one cold item; its hot items and its cold items, in their original order with
    duplicates kept, are left-aligned and right-padded with 0 to the batch width L. Sequences
    whose items are all hot or all cold are only listed by index.
    """

    hot_items: torch.Tensor  # (B_mix, L) int64, 0 = padding
    hot_mask: torch.Tensor  # (B_mix, L) bool
    cold_items: torch.Tensor  # (B_mix, L) int64, 0 = padding
    cold_mask: torch.Tensor  # (B_mix, L) bool
    mixed_index: torch.Tensor  # (B_mix,) int64, batch rows of the mixed sequences
    hot_only_index: torch.Tensor  # (B_hot,) int64, batch rows with every item hot
    cold_only_index: torch.Tensor  # (B_cold,) int64, batch rows with no hot item

    @property
    def n_views(self) -> int:
        """B', the number of sessions contrasted: B_mix + B_cold + B_hot."""
        return len(self.mixed_index) + len(self.cold_only_index) + len(self.hot_only_index)


def _left_align(items: torch.Tensor, keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Move the ``keep`` positions of each row to the front, in order; pad the rest with 0."""
    L = items.shape[1]
    # A stable sort on "not kept" puts the kept positions first without reordering them.
    order = torch.sort((~keep).to(torch.int8), dim=1, stable=True).indices  # (B, L)
    mask = torch.arange(L, device=items.device) < keep.sum(dim=1, keepdim=True)  # (B, L)
    return items.gather(1, order).masked_fill(~mask, PADDING_ID), mask


def split_hot_cold(batch: Batch, hot_mask: torch.Tensor) -> HotColdViews:
    """Split each sequence of ``batch`` into hot and cold sub-sessions (Sec. 5.2, Eq. 20).

    ``hot_mask`` (n_items + 1,) bool marks the hot items (the top 20% by popularity,
    :func:`eodrec.data.sessions.hot_item_mask`); padding id 0 counts as neither.
    """
    hot_mask = hot_mask.to(batch.items.device)
    real = batch.mask
    is_hot = hot_mask[batch.items] & real  # (B, L)
    is_cold = ~hot_mask[batch.items] & real  # (B, L)
    has_hot, has_cold = is_hot.any(dim=1), is_cold.any(dim=1)  # (B,)
    eligible = real.sum(dim=1) > 1  # length-1 sequences take no part
    mixed = eligible & has_hot & has_cold
    hot_items, hot_mask_out = _left_align(batch.items[mixed], is_hot[mixed])
    cold_items, cold_mask_out = _left_align(batch.items[mixed], is_cold[mixed])
    return HotColdViews(
        hot_items=hot_items,
        hot_mask=hot_mask_out,
        cold_items=cold_items,
        cold_mask=cold_mask_out,
        mixed_index=mixed.nonzero().squeeze(1),
        hot_only_index=(eligible & ~has_cold).nonzero().squeeze(1),
        cold_only_index=(eligible & ~has_hot).nonzero().squeeze(1),
    )


class HotColdRecombination(nn.Module):
    """Embedding recombination (Eq. 20-21) and the projections W_s, W_t of Eq. 22.

    For each mixed session, hot and cold readouts (Eq. 20; the soft attention of Eq. 3 over the
    raw item vectors, no positions or transformer, docs/method-notes.md §7.9) of both models give::

        z_stu = [theta_hot_stu ; theta_cold_tea]      u = W_s z_stu      (B_mix, N)
        z_tea = [theta_hot_tea ; theta_cold_stu]      v = W_t z_tea      (B_mix, N)

    Sessions with only hot or only cold items (Sec. 5.2: "generate the corresponding type of
    session representations and swap them") contribute the swapped full-session vectors,
    unprojected, as the authors do (docs/method-notes.md §4.2 step 6, §7.10): u = theta_tea, v =
    theta_stu. Rows are ordered mixed, cold-only, hot-only.

    Ownership, for the optimizers (docs/method-notes.md §4.1): the student owns its hot/cold
    readouts and both projections, the teacher its own hot/cold readouts; see
    :meth:`student_parameters` and :meth:`teacher_parameters`. Every parameter starts at
    U(-init_range, init_range).
    """

    def __init__(
        self, dim: int, readout: ReadoutVariant = "paper", init_range: float = 0.1
    ) -> None:
        super().__init__()
        self.student_hot = SoftAttentionReadout(dim, readout)
        self.student_cold = SoftAttentionReadout(dim, readout)
        self.teacher_hot = SoftAttentionReadout(dim, readout)
        self.teacher_cold = SoftAttentionReadout(dim, readout)
        self.student_projection = nn.Linear(2 * dim, dim, bias=False)  # W_s
        self.teacher_projection = nn.Linear(2 * dim, dim, bias=False)  # W_t
        init_uniform_(self, init_range)

    def readout_ids(self, views: HotColdViews) -> tuple[torch.Tensor, torch.Tensor]:
        """The hot and cold ids whose vectors :meth:`forward` reads: the real tokens for the
        ``paper`` readout (it ignores padding, so the padded grid would be wasted work), the
        padded grids for ``code`` (whose mean includes the padding rows)."""
        if self.student_hot.variant == "paper":
            return views.hot_items[views.hot_mask], views.cold_items[views.cold_mask]
        return views.hot_items, views.cold_items

    @staticmethod
    def _read(readout: SoftAttentionReadout, vectors: torch.Tensor, mask: torch.Tensor):
        if vectors.dim() == 3:  # padded (B_mix, L, N)
            return readout(vectors, mask)
        rows = mask.nonzero()[:, 0]  # (T,) the sub-session of each real token, row-major
        return readout.forward_packed(vectors, rows, mask.shape[0])

    def student_parameters(self) -> list[nn.Parameter]:
        """The student's hot/cold readouts and both projections (W_s, W_t)."""
        modules = (self.student_hot, self.student_cold)
        projections = (self.student_projection, self.teacher_projection)
        return [p for m in (*modules, *projections) for p in m.parameters()]

    def teacher_parameters(self) -> list[nn.Parameter]:
        """The teacher's hot/cold readouts."""
        return [*self.teacher_hot.parameters(), *self.teacher_cold.parameters()]

    def forward(
        self,
        views: HotColdViews,
        student_vectors: tuple[torch.Tensor, torch.Tensor],
        teacher_vectors: tuple[torch.Tensor, torch.Tensor],
        theta_student: torch.Tensor,
        theta_teacher: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The student-side and teacher-side views U, V (B', N) of the B' sessions.

        ``student_vectors`` and ``teacher_vectors`` are each model's item vectors of the ids
        :meth:`readout_ids` lists: ``views.hot_items`` and ``views.cold_items``, padded
        (B_mix, L, N) or, for the ``paper`` readout, their real tokens only (T, N) (the
        student's through its mixed table e' in training, Eq. 18, as in the authors' code);
        ``theta_student`` and ``theta_teacher`` are the full-session vectors (B, N).
        """
        hot_stu = self._read(self.student_hot, student_vectors[0], views.hot_mask)
        cold_stu = self._read(self.student_cold, student_vectors[1], views.cold_mask)
        hot_tea = self._read(self.teacher_hot, teacher_vectors[0], views.hot_mask)
        cold_tea = self._read(self.teacher_cold, teacher_vectors[1], views.cold_mask)
        z_student = torch.cat([hot_stu, cold_tea], dim=1)  # (B_mix, 2N), Eq. 21
        z_teacher = torch.cat([hot_tea, cold_stu], dim=1)  # (B_mix, 2N), Eq. 21
        single = torch.cat([views.cold_only_index, views.hot_only_index])  # (B_cold + B_hot,)
        u = torch.cat([self.student_projection(z_student), theta_teacher[single]])  # (B', N)
        v = torch.cat([self.teacher_projection(z_teacher), theta_student[single]])  # (B', N)
        return u, v


def info_nce(
    u: torch.Tensor,
    v: torch.Tensor,
    tau: float = 0.2,
    symmetric: bool = False,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    """InfoNCE between paired views (Eq. 22): row i of ``u`` and row i of ``v`` are positives.

        L = -(1/B') sum_i log( exp(cos(u_i, v_i)/tau) / sum_j exp(cos(u_i, v_j)/tau) )

    Anchored on ``u`` (the student side) and averaged over rows, as the authors do and the
    beta grid was tuned with (docs/method-notes.md §7.11); the positive stays in the denominator.
    The paper's literal Eq. 22 anchors on the teacher side and sums: ``info_nce(v, u,
    reduction="sum")``. ``symmetric`` averages the u- and v-anchored losses. With no rows
    (B' = 0) the loss is 0.
    """
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    if u.shape != v.shape or u.dim() != 2:
        raise ValueError(f"u and v must be matching (B, N) matrices, got {u.shape} and {v.shape}")
    if u.shape[0] == 0:
        return (u.sum() + v.sum()) * 0.0  # keeps the graph, so backward() still works
    logits = F.normalize(u, dim=1) @ F.normalize(v, dim=1).T / tau  # (B', B') cosines / tau
    positives = torch.arange(u.shape[0], device=u.device)
    loss = F.cross_entropy(logits, positives, reduction=reduction)
    if symmetric:
        loss = 0.5 * (loss + F.cross_entropy(logits.T, positives, reduction=reduction))
    return loss


def soft_target_kl(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    temperature: float = 1.0,
    reduction: Reduction = "sum",
    detach_teacher: bool = False,
) -> torch.Tensor:
    """Soft-target distillation KL(p_tea || p_stu) (Eq. 23-24) over (B, n_items + 1) scores.

        L_soft = sum_b sum_v p_tea[b, v] (log p_tea[b, v] - log p_stu[b, v])

    The padding column is excluded before the softmax (no probability on it, as in the rec
    loss). Summed over the batch at T = 1, as the authors do and gamma was tuned with
    (docs/method-notes.md §7.12; Eq. 24 is per session: ``reduction="mean"``). No T^2 factor.
    Nothing is detached by default, so the gradient reaches both models (bidirectional, Sec. 5.4);
    ``detach_teacher`` gives the usual one-way KD.
    """
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"logits must match, got {tuple(student_logits.shape)} and "
            f"{tuple(teacher_logits.shape)}"
        )
    if detach_teacher:
        teacher_logits = teacher_logits.detach()
    real = slice(PADDING_ID + 1, None)  # column 0 is padding
    log_p_student = (student_logits[:, real] / temperature).log_softmax(dim=1)  # (B, |V|)
    log_p_teacher = (teacher_logits[:, real] / temperature).log_softmax(dim=1)  # (B, |V|)
    per_session = (log_p_teacher.exp() * (log_p_teacher - log_p_student)).sum(dim=1)  # (B,)
    return per_session.sum() if reduction == "sum" else per_session.mean()


def embedding_mse(
    composite: torch.Tensor,
    teacher: torch.Tensor,
    scale: MseScale = "paper",
    detach_teacher: bool = True,
) -> torch.Tensor:
    """Reconstruction loss of the composite table e against the teacher's X (Eq. 14).

    ``paper``: (1/|V|) sum_v ||e_v - X_v||^2, the mean squared L2 distance per item.
    ``code``: sum_v ||e_v - X_v||^2 / (|V|^2 N), the authors' MSELoss divided again by |V|
    (docs/method-notes.md §3.4, §7.3), smaller by exactly |V| N.

    |V| is the number of rows given: pass the real items (rows 1..) for the paper, all n_items
    + 1 rows to match the authors. Eq. 14 minimises over the codes and codebooks only, so X is
    detached by default and the MSE never moves the teacher.
    """
    if scale not in ("paper", "code"):
        raise ValueError(f"scale must be 'paper' or 'code', got {scale!r}")
    if composite.shape != teacher.shape or composite.dim() != 2:
        raise ValueError(
            f"tables must be matching (n, N) matrices, got {tuple(composite.shape)} and "
            f"{tuple(teacher.shape)}"
        )
    if detach_teacher:
        teacher = teacher.detach()
    squared = F.mse_loss(composite, teacher, reduction="sum")  # one fused kernel each way
    return squared * mse_coefficient(*composite.shape, scale)


def mse_coefficient(n: int, N: int, scale: MseScale = "paper") -> float:
    """The factor on sum_v ||e_v - X_v||^2 over ``n`` rows of ``N`` dims (see embedding_mse)."""
    if scale not in ("paper", "code"):
        raise ValueError(f"scale must be 'paper' or 'code', got {scale!r}")
    return 1.0 / n if scale == "paper" else 1.0 / (n * n * N)


def total_loss(
    rec: torch.Tensor,
    mse: torch.Tensor,
    kl: torch.Tensor,
    con: torch.Tensor,
    beta: float,
    gamma: float,
) -> torch.Tensor:
    """Eq. 29: L = L_rec + L_mse + beta * L_con + gamma * L_soft (docs/method-notes.md §4.2)."""
    return rec + mse + gamma * kl + beta * con


class DistillationLosses(NamedTuple):
    """The four terms of Eq. 29 for one step, for logging and :meth:`total`, and optionally the
    teacher's own cross-entropy (``teacher_rec``; Eq. 25 trains M_T on the data D too)."""

    rec: torch.Tensor
    mse: torch.Tensor
    kl: torch.Tensor
    con: torch.Tensor
    teacher_rec: torch.Tensor | None = None

    def total(self, beta: float, gamma: float) -> torch.Tensor:
        loss = total_loss(self.rec, self.mse, self.kl, self.con, beta=beta, gamma=gamma)
        return loss if self.teacher_rec is None else loss + self.teacher_rec

    def as_floats(self) -> dict[str, float]:
        return {name: value.item() for name, value in self._asdict().items() if value is not None}


def joint_losses(
    student: SessionRecommender,
    teacher: SessionRecommender,
    recombination: HotColdRecombination,
    batch: Batch,
    hot_mask: torch.Tensor,
    config: StudentConfig,
) -> DistillationLosses:
    """The terms of Eq. 29 for one batch, written out plainly: the definition of the joint loss.

    * ``rec``, L_rec (Eq. 27-28 over Eq. 18): softmax cross-entropy of the student's scores
      against its table e' (mixed with the teacher's X in training) over every item, padding
      column masked;
    * ``mse``, L_mse (Eq. 14): the composite e against X, X detached; 0 for a table without
      codes (OD-Rec's tensor train);
    * ``con``, L_con (Eq. 20-22): InfoNCE between the hot/cold recombined views of both models;
      0 unless ``config.beta > 0``;
    * ``kl``, L_soft (Eq. 23-24): KL(p_tea || p_stu) at ``config.kd_temperature``; 0 unless
      ``config.gamma > 0``;
    * ``teacher_rec`` (Eq. 25's D): the teacher's own cross-entropy, with ``config.teacher_rec``.

    :meth:`DistillationLosses.total` weighs them (Eq. 29). The teacher is run only when a term
    needs it (not for Stu-base). :class:`eodrec.stages.JointStage` computes the same terms with
    the fused kernel of :mod:`eodrec.kernels.joint_scores` where that applies, tested against
    this function (values and gradients).
    """
    table, X = student.item_table, teacher.item_table.weight()
    theta_student = student.encode(batch)  # (B, N), through e' in training (Eq. 18)
    if isinstance(table, CompositionalItemTable):
        composite, mixed = table.composite_and_weight()  # e (Eq. 12) and e' (Eq. 18)
        real = slice(PADDING_ID + 1, None)
        mse = embedding_mse(composite[real], X[real], config.mse_scale)
    else:
        mixed, mse = table.weight(), X.new_zeros(())
    student_scores = theta_student @ mixed.T  # (B, n_items + 1)
    rec = F.cross_entropy(mask_padding(student_scores), batch.targets)
    kl = con = mse.new_zeros(())
    if not config.distills:  # Stu-base: the teacher takes no part
        return DistillationLosses(rec, mse, kl, con)
    theta_teacher = teacher.encode(batch)  # (B, N)
    teacher_scores = theta_teacher @ X.T  # (B, n_items + 1)
    if config.gamma > 0:
        kl = soft_target_kl(student_scores, teacher_scores, config.kd_temperature)
    if config.beta > 0:
        views = split_hot_cold(batch, hot_mask)
        ids = recombination.readout_ids(views)
        u, v = recombination(
            views,
            [table.lookup(i) for i in ids],
            [teacher.item_table.lookup(i) for i in ids],
            theta_student,
            theta_teacher,
        )
        con = info_nce(u, v, config.contrast_tau)
    teacher_rec = None
    if config.teacher_rec:
        teacher_rec = F.cross_entropy(mask_padding(teacher_scores), batch.targets)
    return DistillationLosses(rec, mse, kl, con, teacher_rec)
