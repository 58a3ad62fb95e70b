"""The student's joint distillation step against the teacher's training step, in one run.

``bench_joint_step`` times, round-robin over the same real batches:

* ``teacher``: the teacher's training step (what ``eodrec train teacher`` runs);
* ``joint``: the student's joint step (``JointStage.step``: student and teacher together, every
  term of Eq. 29, both optimizers), as ``eodrec train student`` runs it;
* ``joint-reference``: the same step written plainly: one embedding lookup per use, the mixed
  and teacher score matrices materialised, ``F.cross_entropy`` and the KL of
  :func:`~eodrec.distill.soft_target_kl` computed separately.

and reports each median and its ratio to the teacher step's. The joint models start from
U(-0.1, 0.1) with random codes: timing needs shapes, not trained weights. Functions only; the
CLI wires them up. Timings only compare within one run on one machine.
"""

from __future__ import annotations

import copy
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from eodrec.data import Batch, hot_item_mask
from eodrec.distill import (
    DistillationLosses,
    HotColdRecombination,
    embedding_mse,
    info_nce,
    soft_target_kl,
    split_hot_cold,
)
from eodrec.memory import tune_glibc_malloc
from eodrec.metrics import mask_padding
from eodrec.provenance import hardware
from eodrec.stages import JointStage, TeacherStage, step_all


def reference_joint_losses(stage: JointStage, batch: Batch) -> DistillationLosses:
    """Eq. 29's terms for ``stage`` computed the plain way (the benchmark's baseline and the
    check that the fast step computes the same numbers)."""
    config, student, teacher = stage.config, stage.model, stage.teacher
    table, teacher_table = student.item_table, teacher.item_table
    theta_student, theta_teacher = student.encode(batch), teacher.encode(batch)
    student_scores = theta_student @ table.weight().T  # (B, |V|+1)
    teacher_scores = theta_teacher @ teacher_table.weight().T
    rec = F.cross_entropy(mask_padding(student_scores), batch.targets)
    X = teacher_table.weight()
    mse = embedding_mse(table.composite_weight()[1:], X[1:], config.mse_scale)
    kl = soft_target_kl(student_scores, teacher_scores, config.kd_temperature)
    views = split_hot_cold(batch, stage.hot_mask)
    u, v = stage.recombination(  # the padded sub-sessions, as the authors' code reads them
        views,
        (table.lookup(views.hot_items), table.lookup(views.cold_items)),
        (teacher_table.lookup(views.hot_items), teacher_table.lookup(views.cold_items)),
        theta_student,
        theta_teacher,
    )
    return DistillationLosses(rec, mse, kl, info_nce(u, v, config.contrast_tau))


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
    from eodrec.config import make_config, teacher_config
    from eodrec.data import load_dataset
    from eodrec.data.splits import make_splits
    from eodrec.models import Teacher
    from eodrec.models.build import build_student
    from eodrec.train import train_loader

    if steps < 1 or warmup < 0:
        raise ValueError("steps must be positive and warmup non-negative")
    malloc_tuned = tune_glibc_malloc() if malloc else False
    config = make_config("student", dataset, "smoke" if dataset == "toy" else "quick")
    student_config, train = config.student, config.train
    data = load_dataset(dataset, Path(data_dir) if data_dir else None)
    splits = make_splits(data, config.data.valid_fraction, config.data.split_seed)
    loader = iter(train_loader(splits, train))
    batches = [next(loader) for _ in range(warmup + steps)]
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

    fast, plain = joint_stage(), joint_stage()
    check = _loss_check(fast, plain, batches[0])

    def reference_step(batch: Batch) -> None:
        terms = reference_joint_losses(plain, batch)
        step_all(
            plain.optimizers().values(), terms.total(student_config.beta, student_config.gamma)
        )

    variants = {
        "teacher": TeacherStage(copy.deepcopy(teacher_model), train.lr, train.weight_decay),
        "joint": fast,
        "joint-reference": reference_step,
    }
    for stage in (variants["teacher"], fast, plain):
        stage.start_epoch(0)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for index, batch in enumerate(batches):
        for name, variant in variants.items():  # round-robin: every variant sees the same load
            torch.manual_seed(index)
            start = time.perf_counter()
            variant(batch) if callable(variant) else variant.step(batch)
            if index >= warmup:
                times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(samples) * 1e3 for name, samples in times.items()}
    return {
        "benchmark": "joint-step",
        "dataset": dataset,
        "batch_size": train.batch_size,
        "n_items": data.n_items,
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


def _loss_check(fast: JointStage, plain: JointStage, batch: Batch) -> dict:
    """Both implementations' terms on the same parameters and batch, dropout off."""
    for stage in (fast, plain):
        stage.model.eval()
        stage.teacher.eval()
    with torch.no_grad():
        got = fast.losses(batch).as_floats()
        want = reference_joint_losses(plain, batch).as_floats()
    return {
        "fast": got,
        "reference": want,
        "max_rel_err": max(abs(got[k] - want[k]) / max(abs(want[k]), 1e-12) for k in got),
    }
