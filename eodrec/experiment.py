"""Experiments: the stages of Alg. 1 for one config, the stored result, and stored runs reloaded.

An experiment looks its config up in the results store first. A teacher is one stage; the
student is three (its stored teacher, trained first if missing; the code-learning stage, cached
under its own hash so that every Fig. 3 variant shares one set of codes; the joint distillation
stage); OD-Rec distils from the stored teacher in one stage. Each stage is fitted by
:class:`~eodrec.train.TrainingLoop`; the test split is scored once, for the selected model. A
baseline (:mod:`eodrec.heuristics`) trains nothing: it is tuned on validation, then tested once.
Every new result keeps its per-session test ranks beside its JSON (:mod:`eodrec.ranks`).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from eodrec import compression
from eodrec.calibrate import changed_test
from eodrec.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_selected_checkpoint,
    run_dir,
    save_checkpoint,
)
from eodrec.config import ExperimentConfig, teacher_config
from eodrec.data import SessionData, hot_item_mask
from eodrec.data.splits import Splits, load_splits
from eodrec.distill import HotColdRecombination
from eodrec.evaluate import rank_targets
from eodrec.heuristics.run import run_baseline
from eodrec.memory import tune_glibc_malloc
from eodrec.metrics import PADDING_ID
from eodrec.models import CodeLearner, SessionRecommender
from eodrec.models.backbones import build_backbone
from eodrec.models.build import (
    build_model,
    build_odrec,
    build_student,
    restore_model,
    starting_student,
)
from eodrec.models.code_learning import FIXED_CODES, fixed_codes
from eodrec.models.student import StudentConfig
from eodrec.provenance import git_commit, provenance
from eodrec.ranks import record_test
from eodrec.stages import CodeDistillStage, CodeLearningStage, JointStage, TeacherStage
from eodrec.store import ResultsStore
from eodrec.train import TrainingLoop, pick_device, refuse_to_overwrite


class Experiment:
    """Trains one config to its selected checkpoint and stores the result."""

    def __init__(
        self,
        config: ExperimentConfig,
        data_dir: Path | None = None,
        store: ResultsStore | None = None,
        cache_dir: Path | None = None,
        progress: bool | None = None,
    ) -> None:
        self.config = config
        self.data_dir = data_dir
        self.store = store or ResultsStore()
        self.cache_dir = cache_dir
        self.dir = run_dir(config.run_id, cache_dir)
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.device = pick_device()
        self.loop = TrainingLoop(
            config.train, config.run_id, self.device, self.progress, git_commit()
        )

    def run(self, resume: bool = False, rerun: bool = False) -> dict:
        """Train, select on validation, test once, store; a stored result is reused."""
        stored = self.store.find(self.config)
        if stored is not None and not rerun:
            return stored
        refuse_to_overwrite(self.dir, self.config.run_id, resume, rerun)
        tune_glibc_malloc()
        data, splits = load_splits(self.config.data, self.data_dir)
        run = (
            self._run_after_training
            if self.config.repeat is not None or self.config.quantize is not None
            else {
                "teacher": self._run_teacher,
                "student": self._run_student,
                "odrec": self._run_odrec,
                "baseline": self._run_baseline,
            }[self.config.experiment]
        )
        result = run(data, splits, resume, rerun)
        self.store.save(result, replace=rerun or stored is not None)
        return result

    # --- the three experiments -----------------------------------------------------------

    def _run_teacher(self, data: SessionData, splits: Splits, resume: bool, rerun: bool) -> dict:
        train = self.config.train
        stage = TeacherStage(
            build_model(self.config, data.n_items).to(self.device), train.lr, train.weight_decay
        )
        state = self._fit(stage, splits, self.dir, train.epochs, resume, rerun)
        return self._result(data, splits, state, stage.model)

    def _run_student(self, data: SessionData, splits: Splits, resume: bool, rerun: bool) -> dict:
        config, student_config = self.config, self.config.student
        teacher, teacher_result = self._stored_teacher(data, resume)
        codes = self._learn_codes(teacher, splits, resume)
        torch.manual_seed(config.train.seed)
        student = starting_student(data.n_items, config.model, student_config, teacher, codes)
        on_test = student_config.selection == "test-best-per-metric"
        result, state = self._distill(
            student.to(self.device),
            teacher,
            teacher_result,
            student_config,
            data,
            splits,
            resume,
            rerun,
            on_test,
        )
        result["code_learning"] = codes["summary"]
        result.update(compression.coded_table_record(student.item_table, data.n_items))
        if on_test:  # the authors' protocol: each metric's best epoch, chosen on test
            result["test_metrics_best_per_metric"] = best_per_metric(state["history"], "test")
            released = best_per_metric(state["history"], "test_as_released")
        elif student_config.recipe == "paper":  # the recipe has no mixed table to score with
            with student.item_table.scoring(mixed=True):
                released = self.loop.evaluate(student, splits.test)
        else:
            return result
        result["test_metrics_as_released"] = released  # the mixed table of the last step
        return result

    def _run_odrec(self, data: SessionData, splits: Splits, resume: bool, rerun: bool) -> dict:
        config, odrec = self.config, self.config.odrec
        teacher, teacher_result = self._stored_teacher(data, resume)
        torch.manual_seed(config.train.seed)
        student = build_odrec(data.n_items, config.model, odrec).to(self.device)
        result, _ = self._distill(
            student, teacher, teacher_result, odrec.distillation(), data, splits, resume, rerun
        )
        result["compression"] = compression.sttd_compression(
            data.n_items,
            config.model.dim,
            odrec.item_shape,
            odrec.dim_shape,
            odrec.rank,
            odrec.stp_n,
            compression.full_table_bytes(data.n_items + 1, config.model.dim),  # + padding row
        )
        return result

    def _run_baseline(self, data: SessionData, splits: Splits, resume: bool, rerun: bool) -> dict:
        """A heuristic: nothing to resume, no epochs; tuned on validation, tested once."""
        fields, ranks = run_baseline(self.config.baseline, splits, data.n_items)
        return {
            **self._header(splits),
            "selected_epoch": None,
            "epochs_run": 0,
            **fields,
            **record_test(self.store, self.config.run_id, ranks, splits.test),
            "provenance": provenance(
                self.config.profile, data.checksums, device="cpu", commit=self.loop.commit
            ),
        }

    def _run_after_training(
        self, data: SessionData, splits: Splits, resume: bool, rerun: bool
    ) -> dict:
        """The same model as trained (trained first if not stored), changed after training:
        its item table quantized, then its repeat weight and decay chosen on validation; the
        test split ranked once."""
        start = time.perf_counter()
        base_config = replace(self.config, repeat=None, quantize=None)
        base = Experiment(base_config, self.data_dir, self.store, self.cache_dir, self.progress)
        base_result = base.run(resume=resume)
        best = _base_checkpoint(base_result, self.cache_dir)
        model = restore_model(base_config, data.n_items, best).to(self.device)
        batch_size, config = self.config.train.eval_batch_size, self.config
        ranks, fields = changed_test(
            model, config.quantize, config.repeat, splits, batch_size, self.device
        )
        return {
            **self._header(splits),
            "base_run": base_result["id"],
            "selected_epoch": base_result["selected_epoch"],
            "epochs_run": base_result["epochs_run"],
            **fields,
            **record_test(self.store, self.config.run_id, ranks, splits.test),
            "wall_time_s": time.perf_counter() - start,
            "provenance": provenance(
                self.config.profile,
                data.checksums,
                device=str(self.device),
                commit=self.loop.commit,
            ),
        }

    # --- the stages before and around distillation -------------------------------------------

    def _stored_teacher(self, data: SessionData, resume: bool) -> tuple[SessionRecommender, dict]:
        """The trained teacher of this run and its result (trained first if not stored)."""
        teacher_run = teacher_config(self.config)
        result = Experiment(
            teacher_run, self.data_dir, self.store, self.cache_dir, self.progress
        ).run(resume=resume)
        teacher = load_teacher(teacher_run, result, data.n_items, self.cache_dir)
        return teacher.to(self.device), result

    def _distill(
        self,
        student: SessionRecommender,
        teacher: SessionRecommender,
        teacher_result: dict,
        settings: StudentConfig,
        data: SessionData,
        splits: Splits,
        resume: bool,
        rerun: bool,
        on_test: bool = False,
    ) -> tuple[dict, dict]:
        """The joint stage: fit, select, test the student; record the teacher before and after."""
        config, train = self.config, self.config.train
        if settings.recipe != "paper":
            stage = CodeDistillStage(student, teacher, settings, train.lr, train.weight_decay)
        else:
            recombination = HotColdRecombination(
                config.model.dim, config.model.readout, config.model.init_range
            ).to(self.device)
            hot = hot_item_mask(splits.train.sequences, data.n_items, settings.hot_fraction)
            stage = JointStage(
                student, teacher, recombination, hot, settings, train.lr, train.weight_decay
            )
        state = self._fit(stage, splits, self.dir, train.epochs, resume, rerun, on_test)
        with stage.test_scorings()["test"]:  # test_metrics as deployed: a student's codes alone
            result = self._result(data, splits, state, student)
        result.update(
            teacher_run=teacher_config(config).run_id,
            teacher_start_test_metrics=teacher_result["test_metrics"],
            teacher_test_metrics=self.loop.evaluate(teacher, splits.test),
        )
        return result, state

    def _learn_codes(self, teacher: SessionRecommender, splits: Splits, resume: bool) -> dict:
        """The code-learning stage's selected codes and codebooks, trained once per its hash."""
        config, student_config, train = self.config, self.config.student, self.config.train
        key = code_learning_key(config)
        directory = run_dir(f"codes-{config.data.dataset}-{config.profile}-{key}", self.cache_dir)
        done = directory / "codes.pt"
        if done.exists():
            return load_checkpoint(done, key)
        if student_config.code_learning in FIXED_CODES:
            codes = fixed_student_codes(teacher, student_config, train.seed, key)
            save_checkpoint(done, codes)
            return codes
        torch.manual_seed(train.seed)
        model = build_student(
            teacher.n_items,
            config.model,
            student_config,
            teacher.item_table,
            eta=student_config.pretrain_eta,
        ).to(self.device)
        learner = CodeLearner(
            config.model.dim,
            student_config.n_codebooks,
            student_config.n_codewords,
            student_config.gumbel_tau,
            config.model.init_range,
            student_config.dtype,
        ).to(self.device)
        teacher.requires_grad_(False)  # X is fixed while codes are learned
        stage = CodeLearningStage(
            model,
            learner,
            teacher.item_table.weight(),
            student_config,
            train.lr,
            train.weight_decay,
        )
        first_epoch_only = student_config.code_snapshot == "first-epoch-sample"
        epochs = 1 if first_epoch_only else student_config.code_epochs
        state = self.loop.fit(stage, splits, directory, epochs, resume, False, key)
        teacher.requires_grad_(True)
        codes = {
            "config_hash": key,
            "codes": model.item_table.codes.cpu(),
            "codebooks": model.item_table.codebooks.state_dict(),
            "summary": {
                "selected_epoch": state["best_epoch"],
                "epochs_run": len(state["history"]),
                "history": state["history"],
                "wall_time_s": state["wall_time"],
            },
        }
        save_checkpoint(done, codes)
        return codes

    def _fit(self, stage, splits, directory, epochs, resume, rerun, on_test=False) -> dict:
        return self.loop.fit(
            stage, splits, directory, epochs, resume, rerun, self.config.config_hash(), on_test
        )

    def _header(self, splits: Splits) -> dict:
        """What a result is of: the fields every result starts with."""
        config = self.config
        return {
            "id": config.run_id,
            "experiment": config.experiment,
            "model": model_name(config),
            "dataset": config.data.dataset,
            "profile": config.profile,
            "config_hash": config.config_hash(),
            "config": config.to_dict(),
            "examples": {name: len(getattr(splits, name)) for name in ("train", "valid", "test")},
        }

    def _result(
        self, data: SessionData, splits: Splits, state: dict, model: SessionRecommender
    ) -> dict:
        """The result of a trained ``model`` in its selected state; its test split ranked now."""
        config, test = self.config, splits.test
        selected = next(h for h in state["history"] if h["epoch"] == state["best_epoch"])
        ranks = rank_targets(
            model, test.sequences, test.targets, config.train.eval_batch_size, self.device
        )
        return {
            **self._header(splits),
            "selected_epoch": state["best_epoch"],
            "epochs_run": len(state["history"]),
            "valid_metrics": selected["valid"],
            **record_test(self.store, config.run_id, ranks, test),
            "history": state["history"],
            "wall_time_s": state["wall_time"],
            "provenance": provenance(
                config.profile,
                data.checksums,
                device=str(self.device),
                commit=state["git_commits"][0],
                git_commits_per_segment=state["git_commits"],
            ),
        }


def load_teacher(
    teacher_run: ExperimentConfig, result: dict, n_items: int, cache_dir: Path | None
) -> SessionRecommender:
    """The selected model of a stored teacher run, or a one-line error naming the command that
    trains it again."""
    try:
        best = load_selected_checkpoint(result, cache_dir)
    except CheckpointError as error:
        raise CheckpointError(
            f"the student needs the checkpoint of its teacher {teacher_run.run_id}: {error}; "
            f"retrain it with `eodrec train teacher --dataset {teacher_run.data.dataset} "
            f"--profile {teacher_run.profile} --rerun`"
        ) from None
    teacher = build_backbone(teacher_run.model, n_items)
    teacher.load_state_dict(best["model"])
    return teacher


def fixed_student_codes(
    teacher: SessionRecommender, student: StudentConfig, seed: int, key: str
) -> dict:
    """Codes and codebooks fixed from the teacher's rows without training (residual k-means or
    random hashing), with their squared error (Eq. 14's scale) beside the best constant code's."""
    start = time.perf_counter()
    X = teacher.item_table.weight().detach().cpu()[PADDING_ID + 1 :]
    method = student.code_learning
    codes, codewords, errors = fixed_codes(
        X, method, student.n_codebooks, student.n_codewords, seed
    )
    padded = torch.cat([codes.new_zeros(1, codes.shape[1]), codes])  # the padding row
    return {
        "config_hash": key,
        "codes": padded.to(student.dtype),
        "codebooks": {"codewords": codewords},
        "summary": {"method": method, **errors, "wall_time_s": time.perf_counter() - start},
    }


def best_per_metric(history: list[dict], key: str) -> dict[str, float]:
    """Each metric's best value over the epochs' ``key`` scores of the test split."""
    return {name: max(h[key][name] for h in history) for name in history[0][key]}


def model_name(config: ExperimentConfig) -> str:
    """What a result is of: the backbone for a full-table run, ``student`` for the paper's
    student, ``narm-student`` for Table 6's NARM-dagger, the recipe's name for this project's
    student recipe, ``odrec`` for OD-Rec, the method's name
    (``pop``, ``recency``, ``sknn``, ``sr``) for a baseline; ``@int8`` for a table quantized
    after training, ``+repeat`` with the repeat mechanism."""
    if config.baseline is not None:
        return config.baseline.method
    suffix = "+repeat" if config.repeat is not None else ""
    backbone = config.model.backbone
    if config.quantize is not None:
        backbone += f"@int{config.quantize.table_bits}"
    if config.experiment == "teacher":
        return backbone + suffix
    if config.experiment == "student" and config.student.recipe != "paper":
        return config.student.recipe + suffix
    if config.experiment == "student" and backbone != "teacher":
        return f"{backbone}-student{suffix}"
    return config.experiment + suffix


def code_learning_key(config: ExperimentConfig) -> str:
    """Hash of what the code-learning stage depends on: data, backbone, budget, teacher and the
    code settings, but none of the distillation settings, so every ablation shares its codes."""
    values = config.to_dict()  # settings added later drop out at their default: keys stay
    student = values["student"]
    for name in DISTILLATION_ONLY:
        student.pop(name, None)
    payload = {
        "teacher": teacher_config(config).run_id,
        **{section: values[section] for section in ("data", "model", "train")},
        "student": student,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


# StudentConfig fields the code-learning stage never reads.
DISTILLATION_ONLY = (
    "eta",
    "beta",
    "gamma",
    "contrast_tau",
    "kd_temperature",
    "hot_fraction",
    "variant",
    "freeze_teacher",
    "frozen_teacher_dropout",
    "untrained_heads",
    "dropout_first_epoch_only",
    "selection",
    "teacher_rec",
    "recipe",
    "student_init",
)


def _base_checkpoint(base_result: dict, cache_dir: Path | None) -> dict:
    """The stored base run's selected weights; where only its result is here (a fresh clone),
    an error that says how to make them."""
    try:
        return load_selected_checkpoint(base_result, cache_dir)
    except CheckpointError as error:
        raise CheckpointError(
            f"{error}; the base run {base_result['id']} is stored but its checkpoint is not "
            "in this cache: retrain it first (the same command without repeat= and "
            "table_bits=, with --rerun)"
        ) from None
