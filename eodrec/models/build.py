"""Every model of an experiment, built fresh or restored from a checkpoint, in one place.

Training, export, latency and evaluation all need "the model of this config": building it here
keeps them from importing the training loop, and keeps the one construction of the student's
embedding mixup (Eq. 18) in one function.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from eodrec.models.backbones import build_backbone
from eodrec.models.base import BackboneConfig, SessionRecommender
from eodrec.models.codes import CompositionalItemTable, Mixup
from eodrec.models.item_tables import ItemTable
from eodrec.models.odrec import ODRecConfig
from eodrec.models.sttd import STTDItemTable
from eodrec.models.student import StudentConfig

if TYPE_CHECKING:
    from eodrec.config import ExperimentConfig


def student_mixup(
    teacher_table: ItemTable, student: StudentConfig, eta: float | None = None
) -> Mixup:
    """The student's embedding mixup with ``teacher_table`` (Eq. 18); ``eta`` overrides
    ``student.eta`` (the code-learning stage has its own)."""
    return Mixup(
        teacher_table,
        student.eta if eta is None else eta,
        student.eta_convention,
        student.mixed_table_at_test,
    )


def build_student(
    n_items: int,
    model: BackboneConfig,
    student: StudentConfig,
    teacher_table: ItemTable | None = None,
    eta: float | None = None,
) -> SessionRecommender:
    """The student M_S: the teacher's backbone over a compositional table (Sec. 4), mixed with
    ``teacher_table`` when one is given."""
    table = CompositionalItemTable(
        n_items,
        model.dim,
        student.n_codebooks,
        student.n_codewords,
        code_dtype=student.dtype,
        init_range=model.init_range,
        mixup=None if teacher_table is None else student_mixup(teacher_table, student, eta),
    )
    return build_backbone(model, n_items, table)


def starting_student(
    n_items: int,
    model: BackboneConfig,
    student: StudentConfig,
    teacher: SessionRecommender,
    codes: dict,
) -> SessionRecommender:
    """The student as its joint stage starts: fixed ``codes`` (codes and codebooks) and, in the
    paper, mixed with the teacher's table (Eq. 18); this project's recipe has no mixup and starts
    from the teacher's backbone weights unless ``student_init="fresh"``."""
    recipe = student.recipe != "paper"
    built = build_student(n_items, model, student, None if recipe else teacher.item_table)
    if recipe and student.student_init == "teacher":
        built.load_state_dict(backbone_weights(teacher), strict=False)
    built.item_table.set_codes(codes["codes"])
    built.item_table.codebooks.load_state_dict(codes["codebooks"])
    return built


def backbone_weights(model: SessionRecommender) -> dict[str, torch.Tensor]:
    """A model's weights other than its item table: what a recipe student takes from its
    teacher."""
    return {
        name: value
        for name, value in model.state_dict().items()
        if not name.startswith("item_table.")
    }


def build_odrec(n_items: int, model: BackboneConfig, odrec: ODRecConfig) -> SessionRecommender:
    """The OD-Rec student: the teacher's backbone over a fresh STTD table."""
    table = STTDItemTable(
        n_items,
        model.dim,
        item_shape=odrec.item_shape,
        dim_shape=odrec.dim_shape,
        rank=odrec.rank,
        stp_n=odrec.stp_n,
        init_range=model.init_range,
    )
    return build_backbone(model, n_items, table)


def build_model(config: ExperimentConfig, n_items: int) -> SessionRecommender:
    """A fresh model of ``config``: a full-table backbone, the student with no mixup attached,
    or OD-Rec's tensor-train student."""
    torch.manual_seed(config.train.seed)
    if config.student is not None:
        return build_student(n_items, config.model, config.student)
    if config.odrec is not None:
        return build_odrec(n_items, config.model, config.odrec)
    return build_backbone(config.model, n_items)


def restore_model(config: ExperimentConfig, n_items: int, best: dict) -> SessionRecommender:
    """The selected model of a finished run from its ``best.pt`` contents, ready to score; a
    student as a device holds it, codes and codebooks only (its ``test_metrics``)."""
    model = build_model(config, n_items)
    model.load_state_dict(best["model"])
    return model.eval()
