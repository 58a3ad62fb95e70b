"""What one optimisation stage trains and how one step goes; the loop lives in :mod:`eodrec.train`.

Three stages make up the paper's schedule (Alg. 1, docs/method-notes.md §0):

* :class:`TeacherStage`: the teacher alone, softmax cross-entropy (Eq. 27-28);
* :class:`CodeLearningStage`: the code learner and codebooks against the frozen teacher's table,
  with a throw-away student backbone (Eq. 26: L_pre = L_rec + L_mse);
* :class:`JointStage`: the student on fixed codes and the teacher, together, under the total
  loss of Eq. 29 (bidirectional self-supervised distillation).

Beyond the paper, :class:`CodeDistillStage` replaces the joint stage in this project's student
recipe (``recipe="distill-codes"``): one-way distillation from the frozen teacher.

A stage names its modules and optimizers (checkpointed and restored by the loop), says which
model validation scores, and performs one step on a batch.
"""

from __future__ import annotations

import abc
from contextlib import AbstractContextManager, nullcontext

import torch
import torch.nn.functional as F
from torch import nn

from eodrec.compression import code_spread
from eodrec.data.batch import Batch
from eodrec.distill import (
    DistillationLosses,
    HotColdRecombination,
    embedding_mse,
    info_nce,
    joint_losses,
    mse_coefficient,
    soft_target_kl,
    split_hot_cold,
)
from eodrec.kernels.joint_scores import Workspace, joint_scores
from eodrec.kernels.softmax_ce import TableGather
from eodrec.metrics import PADDING_ID, mask_padding
from eodrec.models import CodeLearner, SessionRecommender
from eodrec.models.code_learning import codes_from_one_hot
from eodrec.models.codes import CompositionalItemTable
from eodrec.models.student import StudentConfig


def adam(parameters, lr: float, weight_decay: float) -> torch.optim.Adam:
    """Adam as every stage uses it. Fused: one kernel over all parameters, 16 ms instead of
    76-136 ms for the Tmall table update on a 2-core CPU (benchmarks/README.md)."""
    parameters = [p for p in parameters if p.requires_grad]
    return torch.optim.Adam(parameters, lr=lr, weight_decay=weight_decay, fused=True)


class Stage(abc.ABC):
    """One optimisation stage of a run."""

    name: str
    model: SessionRecommender  # what validation scores after every epoch

    @abc.abstractmethod
    def modules(self) -> dict[str, nn.Module]:
        """Everything a checkpoint must hold, by name; ``"model"`` is the evaluated model."""

    @abc.abstractmethod
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Every optimizer, by name (their state is checkpointed too)."""

    @abc.abstractmethod
    def step(self, batch: Batch) -> dict[str, float]:
        """One optimisation step; returns the loss (``"loss"``) and its terms."""

    def start_epoch(self, epoch: int) -> None:
        """Put the trained modules in training mode (dropout on)."""
        self.model.train()

    def before_evaluation(self) -> dict[str, float]:
        """Called before each validation pass; returns extra numbers for the epoch's history."""
        return {}

    def test_scorings(self) -> dict[str, AbstractContextManager]:
        """How the test split is scored after each epoch, when it is: history key -> the
        context to score in."""
        return {"test": nullcontext()}


def step_all(optimizers, loss: torch.Tensor) -> None:
    """Zero every optimizer's gradients, backpropagate ``loss`` once, step every optimizer."""
    for optimizer in optimizers:
        optimizer.zero_grad(set_to_none=True)
    loss.backward()
    for optimizer in optimizers:
        optimizer.step()


class TeacherStage(Stage):
    """The teacher M_T trained by softmax cross-entropy over all items (Eq. 27-28)."""

    name = "teacher"

    def __init__(self, model: SessionRecommender, lr: float, weight_decay: float) -> None:
        self.model = model
        self.optimizer = adam(model.parameters(), lr, weight_decay)

    def modules(self) -> dict[str, nn.Module]:
        return {"model": self.model}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"optimizer": self.optimizer}

    def step(self, batch: Batch) -> dict[str, float]:
        loss = self.model.loss(batch)
        step_all([self.optimizer], loss)
        return {"loss": loss.item()}


def learned_codes(learner: CodeLearner, teacher_table: torch.Tensor) -> torch.Tensor:
    """The noise-free argmax code matrix (n_items + 1, M) of the teacher's item rows for the
    student's table, row 0 (padding) all zeros."""
    codes = learner.codes(teacher_table[PADDING_ID + 1 :])
    return torch.cat([codes.new_zeros(1, codes.shape[1]), codes])


class CodeLearningStage(Stage):
    """Compositional code learning (Sec. 4.2, Eq. 26: L_pre = L_rec + L_mse).

    Each step draws straight-through Gumbel codes for every item from the teacher's table X
    (Eq. 16-17). Their composite e is pulled toward X by the MSE of Eq. 14, which trains the code
    learner and the codebooks; the same codes, as integers, fill a throw-away student's table,
    mixed with X (Eq. 18), whose cross-entropy trains the codebooks and that backbone. The teacher
    is frozen. Validation scores the last step's Gumbel sample (``best-sample``, the paper's
    "recorded by the Gumbel-Softmax operation", and ``first-epoch-sample``, the authors' code)
    or the noise-free argmax of alpha (``best-argmax``); the selected epoch's codes are kept.

    With ``code_item_batch`` B > 0 a step samples B random items only; the table starts from the
    noise-free argmax codes and every other item keeps its last sampled code.
    """

    name = "codes"

    def __init__(
        self,
        model: SessionRecommender,
        learner: CodeLearner,
        teacher_table: torch.Tensor,
        config: StudentConfig,
        lr: float,
        weight_decay: float,
    ) -> None:
        if not isinstance(model.item_table, CompositionalItemTable):
            raise TypeError("the code-learning stage trains a compositional item table")
        self.model = model
        self.learner = learner
        self.table = model.item_table
        self.teacher_table = teacher_table.detach()  # X, (n_items + 1, N)
        self.config = config
        codebooks = list(self.table.codebooks.parameters())
        backbone = [p for p in model.parameters() if all(p is not c for c in codebooks)]
        self.optimizer = adam(backbone, lr, weight_decay)
        code_parameters = [*learner.parameters(), *codebooks]
        self.code_optimizer = adam(code_parameters, config.code_lr, weight_decay)
        self.sampled = False  # whether the table holds Gumbel samples yet
        if config.code_item_batch:  # items not yet sampled start from alpha's argmax
            self.table.set_codes(learned_codes(learner, self.teacher_table))

    def modules(self) -> dict[str, nn.Module]:
        return {"model": self.model, "learner": self.learner}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"optimizer": self.optimizer, "code_optimizer": self.code_optimizer}

    def start_epoch(self, epoch: int) -> None:
        self.model.train()
        self.learner.train()

    def sampled_rows(self) -> slice | torch.Tensor:
        """Table rows whose codes this step samples: every item (a slice, so no copy), or
        ``code_item_batch`` random ones; the padding row too with ``code_learner_padding_row``
        (the authors' learner reads the whole table)."""
        n_items = self.table.n_items
        first = PADDING_ID if self.config.code_learner_padding_row else PADDING_ID + 1
        batch = self.config.code_item_batch
        if not batch or batch >= n_items:
            return slice(first, None)
        chosen = torch.randperm(n_items + 1 - first, device=self.teacher_table.device)[:batch]
        return chosen + first

    def step(self, batch: Batch) -> dict[str, float]:
        rows = self.sampled_rows()
        items = self.teacher_table[rows]  # (B, N)
        one_hot = self.learner.sample(items)  # (B, M, K), straight-through
        composite = self.table.codebooks.compose(one_hot)  # (B, N)
        mse = embedding_mse(composite, items, self.config.mse_scale)
        codes = self.table.codes.clone()
        codes[rows] = codes_from_one_hot(one_hot.detach(), self.learner.code_dtype)
        self.table.set_codes(codes)
        self.sampled = True
        rec = self.model.loss(batch)
        loss = rec + mse
        step_all([self.optimizer, self.code_optimizer], loss)
        return {"loss": loss.item(), "rec": rec.item(), "mse": mse.item()}

    def before_evaluation(self) -> dict[str, float]:
        """Set the codes to be validated; report how spread out they are (Fig. 6's view)."""
        if self.config.reset_code_optimizer:  # the next epoch starts a fresh Adam
            self.code_optimizer.state.clear()
        if self.config.code_snapshot == "best-argmax" or not self.sampled:  # noise-free
            self.table.set_codes(learned_codes(self.learner, self.teacher_table))
        return code_spread(self.table.codes[PADDING_ID + 1 :], self.table.n_codewords)


class JointStage(Stage):
    """Bidirectional self-supervised distillation (Sec. 5, Eq. 29) on fixed codes.

        L = L_rec + L_mse + beta * L_con + gamma * L_soft

    The terms are those of :func:`~eodrec.distill.joint_losses` (with the codes fixed, L_mse
    trains the codebooks only, docs/method-notes.md §7.14). The same loss updates the teacher (its
    own Adam) unless ``freeze_teacher``: that is the bidirectional part (Sec. 5.4); frozen, it is
    Stu-w/o-b and the authors' released behaviour. A student table without codes (OD-Rec's
    tensor train) trains with the same terms less L_mse, its cores in the backbone's optimizer.
    """

    name = "joint"

    def __init__(
        self,
        student: SessionRecommender,
        teacher: SessionRecommender,
        recombination: HotColdRecombination,
        hot_mask: torch.Tensor,
        config: StudentConfig,
        lr: float,
        weight_decay: float,
    ) -> None:
        self.model = student
        self.teacher = teacher
        self.recombination = recombination
        self.hot_mask = hot_mask
        self.config = config
        table = student.item_table
        self.compositional = isinstance(table, CompositionalItemTable)
        codebooks = list(table.codebooks.parameters()) if self.compositional else []
        heads = [*student.head_parameters(), *recombination.student_parameters()]
        if config.untrained_heads:  # missed by the authors' optimizer (docs/method-notes.md §7.5)
            for parameter in heads:
                parameter.requires_grad_(False)
        frozen_or_codebook = [*codebooks, *recombination.parameters()]
        backbone = [p for p in student.parameters() if all(p is not q for q in frozen_or_codebook)]
        self.optimizer = adam([*backbone, *recombination.student_parameters()], lr, weight_decay)
        self.code_optimizer = adam(codebooks, config.code_lr, weight_decay) if codebooks else None
        self.workspace = Workspace()
        self.teacher_optimizer = None
        if config.freeze_teacher:
            teacher.requires_grad_(False)
            for parameter in recombination.teacher_parameters():
                parameter.requires_grad_(False)
        else:
            self.teacher_optimizer = adam(
                [*teacher.parameters(), *recombination.teacher_parameters()], lr, weight_decay
            )

    def modules(self) -> dict[str, nn.Module]:
        return {"model": self.model, "teacher": self.teacher, "recombination": self.recombination}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        optimizers = {"optimizer": self.optimizer}
        if self.code_optimizer is not None:
            optimizers["code_optimizer"] = self.code_optimizer
        if self.teacher_optimizer is not None:
            optimizers["teacher_optimizer"] = self.teacher_optimizer
        return optimizers

    def start_epoch(self, epoch: int) -> None:
        # The authors never call model.train() again after the first evaluation, but put
        # their frozen teacher in training mode before each of its forward passes.
        config = self.config
        self.model.train(epoch == 0 or not config.dropout_first_epoch_only)
        self.recombination.train()
        self.teacher.train(not config.freeze_teacher or config.frozen_teacher_dropout)

    def before_evaluation(self) -> dict[str, float]:
        if self.config.reset_code_optimizer and self.code_optimizer is not None:
            self.code_optimizer.state.clear()  # the next epoch starts a fresh Adam
        return {}

    def test_scorings(self) -> dict[str, AbstractContextManager]:
        """A student with codes scores the test split twice: with its codes alone (``test``)
        and with the mixed table, as the authors' code scores (``test_as_released``)."""
        table = self.model.item_table
        if not self.compositional or table.mixup is None:
            return super().test_scorings()
        return {"test": table.scoring(mixed=False), "test_as_released": table.scoring(mixed=True)}

    @property
    def fused(self) -> bool:
        """Whether :meth:`losses` takes the fused path: compositional codes and the soft-target
        term on at T = 1 (the paper's setting)."""
        config = self.config
        return self.compositional and config.gamma > 0 and config.kd_temperature == 1.0

    def losses(self, batch: Batch) -> DistillationLosses:
        """The terms of Eq. 29 for one batch: :func:`~eodrec.distill.joint_losses`, or where
        :attr:`fused` the same terms computed faster (tests check values and gradients agree).

        The fused path gathers every row a step reads from a table (the sequences, the hot and
        cold sub-sessions) in one :class:`TableGather` per table, so each table gets one dense
        gradient per step, and takes L_rec, L_soft and L_mse from one pass over the catalogue
        (:class:`~eodrec.kernels.joint_scores.JointScores`).
        """
        config = self.config
        if not self.fused:
            return joint_losses(
                self.model, self.teacher, self.recombination, batch, self.hot_mask, config
            )
        table = self.model.item_table
        views = split_hot_cold(batch, self.hot_mask) if config.beta > 0 else None
        ids = [self.model.encoder_ids(batch)]
        if views is not None:
            ids += self.recombination.readout_ids(views)
        w = table.mixup.teacher_weight if table.mixing else 0.0  # e' = w X + (1 - w) e
        codebooks = table.codebooks
        student_rows = [codebooks.compose_codes(table.codes[i]) for i in ids]  # e rows
        *teacher_rows, X = TableGather.apply(self.teacher.item_table.weight(), *ids)
        if w:
            student_rows = [
                table.mixup.mix(e, x) for e, x in zip(student_rows, teacher_rows, strict=True)
            ]
        theta_student = self.model.encode_with(batch, lambda _: student_rows[0])  # (B, N)
        theta_teacher = self.teacher.encode_with(batch, lambda _: teacher_rows[0])  # (B, N)
        rows, N = X.shape
        codes = table.codes.long() + codebooks.offsets()  # (n_items + 1, M) rows of A
        rec, kl, mse, teacher_rec = joint_scores(
            theta_student,
            codebooks.codewords,
            codes,
            theta_teacher,
            X,
            batch.targets,
            w,
            mse_coefficient(rows - (PADDING_ID + 1), N, config.mse_scale),
            self.workspace,
        )
        con = self._contrast(views, student_rows, teacher_rows, theta_student, theta_teacher)
        return DistillationLosses(rec, mse, kl, con, teacher_rec if config.teacher_rec else None)

    def _contrast(self, views, student_rows, teacher_rows, theta_student, theta_teacher):
        """L_con (Eq. 20-22) from the gathered hot/cold rows; 0 when beta = 0."""
        if views is None:
            return theta_student.new_zeros(())
        u, v = self.recombination(
            views, student_rows[1:], teacher_rows[1:], theta_student, theta_teacher
        )
        return info_nce(u, v, self.config.contrast_tau)

    def step(self, batch: Batch) -> dict[str, float]:
        terms = self.losses(batch)
        loss = terms.total(self.config.beta, self.config.gamma)
        step_all(self.optimizers().values(), loss)
        return {"loss": loss.item(), **terms.as_floats()}


class CodeDistillStage(Stage):
    """The student on its fixed codes, distilled one way from the frozen teacher:

        L = CE(student) + gamma * T^2 * mean_b KL(p_tea^T || p_stu^T)

    The student scores with its composite table alone in training as at test (no mixup), so
    what validation selects is what the device runs. The KL is per session (mean over the
    batch) and scaled by T^2 so that gamma weighs it against the cross-entropy at any T; the
    codebooks learn with the backbone, at its learning rate.
    """

    name = "distill-codes"

    def __init__(
        self,
        student: SessionRecommender,
        teacher: SessionRecommender,
        config: StudentConfig,
        lr: float,
        weight_decay: float,
    ) -> None:
        self.model = student
        self.teacher = teacher.requires_grad_(False).eval()
        self.config = config
        self.optimizer = adam(student.parameters(), lr, weight_decay)

    def modules(self) -> dict[str, nn.Module]:
        return {"model": self.model}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"optimizer": self.optimizer}

    def losses(self, batch: Batch) -> dict[str, torch.Tensor]:
        scores = self.model(batch)  # (B, n_items + 1), the composite table: no mixup
        terms = {"rec": F.cross_entropy(mask_padding(scores), batch.targets)}
        if self.config.gamma > 0:
            with torch.no_grad():
                teacher_scores = self.teacher(batch)
            T = self.config.kd_temperature
            terms["kl"] = soft_target_kl(scores, teacher_scores, T, reduction="mean") * T**2
        return terms

    def step(self, batch: Batch) -> dict[str, float]:
        terms = self.losses(batch)
        loss = terms["rec"] + self.config.gamma * terms.get("kl", 0.0)
        step_all([self.optimizer], loss)
        return {"loss": loss.item(), **{name: value.item() for name, value in terms.items()}}
