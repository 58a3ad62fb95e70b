"""The student's joint distillation step against the teacher's training step, in one run.

``bench_joint_step`` times, round-robin over the same real batches:

* ``teacher``: the teacher's training step (what ``eodrec train teacher`` runs);
* ``joint``: the student's joint step (``JointStage.step``: student and teacher together, every
  term of Eq. 29, both optimizers), as ``eodrec train student`` runs it;
* ``joint-reference``: the same step through :func:`~eodrec.distill.joint_losses`, Eq. 29
  written plainly: one lookup per use, the mixed and teacher score matrices materialised,
  ``F.cross_entropy`` and the KL of :func:`~eodrec.distill.soft_target_kl` computed separately;
* ``distill-codes``: the step of this project's student recipe
  (:class:`~eodrec.stages.CodeDistillStage`: the student on its codes alone, the frozen
  teacher's forward pass for the soft targets).

and reports each median and its ratio to the teacher step's. The joint models start from
U(-0.1, 0.1) with random codes: timing needs shapes, not trained weights.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import torch

from eodrec.bench.timing import median_ms, round_robin
from eodrec.data import Batch, hot_item_mask
from eodrec.distill import HotColdRecombination, joint_losses
from eodrec.memory import tune_glibc_malloc
from eodrec.models.student import RECIPES
from eodrec.provenance import hardware
from eodrec.stages import CodeDistillStage, JointStage, TeacherStage, step_all


def _reference_losses(stage: JointStage, batch: Batch):
    """Eq. 29's terms for the modules of ``stage``, by their plain definition."""
    return joint_losses(
        stage.model, stage.teacher, stage.recombination, batch, stage.hot_mask, stage.config
    )


def _loss_check(fast: JointStage, plain: JointStage, batch: Batch) -> dict:
    """Both implementations' terms on the same parameters and batch, dropout off."""
    for stage in (fast, plain):
        stage.model.eval()
        stage.teacher.eval()
    with torch.no_grad():
        got = fast.losses(batch).as_floats()
        want = _reference_losses(plain, batch).as_floats()
    return {
        "fast": got,
        "reference": want,
        "max_rel_err": max(abs(got[k] - want[k]) / max(abs(want[k]), 1e-12) for k in got),
    }


def _joint_setup(dataset: str, data_dir: Path | str | None, n_batches: int):
    """(config, n_items, batches, teacher, joint-stage factory) of the ``quick`` student
    (``smoke`` for ``toy``); every stage the factory makes starts from the same teacher and
    student parameters."""
    from eodrec.config import make_config, teacher_config
    from eodrec.data.splits import load_splits
    from eodrec.models import Teacher
    from eodrec.models.build import build_student
    from eodrec.train import train_loader

    config = make_config("student", dataset, "smoke" if dataset == "toy" else "quick")
    student_config, train = config.student, config.train
    data, splits = load_splits(config.data, data_dir)
    loader = iter(train_loader(splits, train))
    batches = [next(loader) for _ in range(n_batches)]
    hot = hot_item_mask(splits.train.sequences, data.n_items, student_config.hot_fraction)
    torch.manual_seed(0)
    teacher_model = Teacher(teacher_config(config).model, data.n_items)

    def joint_stage() -> JointStage:
        torch.manual_seed(0)
        teacher = copy.deepcopy(teacher_model)
        student = build_student(data.n_items, config.model, student_config, teacher.item_table)
        codes = torch.randint(0, student_config.n_codewords, student.item_table.codes.shape)
        student.item_table.set_codes(codes)
        recombination = HotColdRecombination(config.model.dim, config.model.readout)
        return JointStage(
            student, teacher, recombination, hot, student_config, train.lr, train.weight_decay
        )

    def recipe_stage() -> CodeDistillStage:
        torch.manual_seed(0)
        settings = replace(student_config, **RECIPES["distill-codes"], recipe="distill-codes")
        student = build_student(data.n_items, config.model, settings)
        student.item_table.set_codes(torch.randint(0, settings.n_codewords, (data.n_items + 1,
                                                   settings.n_codebooks)))  # fmt: skip
        teacher = copy.deepcopy(teacher_model)
        return CodeDistillStage(student, teacher, settings, train.lr, train.weight_decay)

    return config, data.n_items, batches, teacher_model, joint_stage, recipe_stage


def bench_joint_step(
    dataset: str = "Tmall",
    data_dir: Path | str | None = None,
    steps: int = 30,
    warmup: int = 5,
    malloc: bool = True,
) -> dict:
    """Median step times of the teacher, the joint step and its plain reference; ratios to the
    teacher. The config is the ``quick`` student's (``smoke`` for ``toy``): Tmall B = 100,
    M = 4, K = 32, beta = 0.01, gamma = 0.3, eta = 0.8, teacher trained too."""
    if steps < 1 or warmup < 0:
        raise ValueError("steps must be positive and warmup non-negative")
    malloc_tuned = tune_glibc_malloc() if malloc else False
    config, n_items, batches, teacher_model, joint_stage, recipe_stage = _joint_setup(
        dataset, data_dir, warmup + steps
    )
    student_config, train = config.student, config.train
    fast, plain = joint_stage(), joint_stage()
    check = _loss_check(fast, plain, batches[0])
    teacher = TeacherStage(copy.deepcopy(teacher_model), train.lr, train.weight_decay)
    recipe = recipe_stage()

    def reference_step(batch: Batch) -> None:
        terms = _reference_losses(plain, batch)
        loss = terms.total(student_config.beta, student_config.gamma)
        step_all(plain.optimizers().values(), loss)

    for stage in (teacher, fast, plain, recipe):
        stage.start_epoch(0)
    steps_by_name = {
        "teacher": teacher.step,
        "joint": fast.step,
        "joint-reference": reference_step,
        "distill-codes": recipe.step,
    }
    times = round_robin(steps_by_name, batches, warmup)
    medians = median_ms(times)
    return {
        "benchmark": "joint-step",
        "dataset": dataset,
        "batch_size": train.batch_size,
        "n_items": n_items,
        "dim": config.model.dim,
        "n_codebooks": student_config.n_codebooks,
        "n_codewords": student_config.n_codewords,
        "steps": steps,
        "warmup": warmup,
        "malloc_tuned": malloc_tuned,
        "loss_check": check,
        "step_ms": medians,
        "min_ms": {name: min(samples) * 1e3 for name, samples in times.items()},
        "ratio_to_teacher": {name: ms / medians["teacher"] for name, ms in medians.items()},
        "hardware": hardware(),
    }
