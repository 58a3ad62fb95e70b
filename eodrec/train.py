"""The one training loop: epochs, validation selection, early stopping, checkpoints, resume.

Model selection uses a validation split of 10% of the training *sessions*; the test set is
scored once, for the selected checkpoint only, and never chooses anything.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from eodrec import compression
from eodrec.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_selected_checkpoint,
    run_dir,
    save_checkpoint,
)
from eodrec.compression import code_usage_record as code_usage_summary
from eodrec.config import ExperimentConfig, TrainConfig, teacher_config
from eodrec.data import (
    BatchLoader,
    SessionData,
    augment_prefixes,
    hot_item_mask,
    load_dataset,
    split_validation,
)
from eodrec.distill import HotColdRecombination
from eodrec.evaluate import evaluate
from eodrec.memory import tune_glibc_malloc
from eodrec.metrics import PADDING_ID
from eodrec.models import CodeLearner, Mixup, SessionRecommender
from eodrec.models.backbones import build_backbone
from eodrec.models.code_learning import residual_kmeans
from eodrec.models.codes import sum_of_rows
from eodrec.models.odrec import build_odrec
from eodrec.models.student import StudentConfig, build_student
from eodrec.provenance import git_commit, provenance
from eodrec.stages import CodeLearningStage, JointStage, Stage, TeacherStage
from eodrec.store import ResultsStore

LOG = logging.getLogger(__name__)  # one line per epoch; the CLI shows it, notebooks do not


@dataclass(frozen=True)
class Examples:
    """Prefix examples of one split: ``sequences[i]`` is followed by ``targets[i]``."""

    sequences: list[list[int]]
    targets: list[int]

    def __len__(self) -> int:
        return len(self.targets)


@dataclass(frozen=True)
class Splits:
    train: Examples
    valid: Examples
    test: Examples


def make_splits(data: SessionData, valid_fraction: float, split_seed: int) -> Splits:
    """Hold out whole sessions for validation, then prefix-augment each side separately."""
    train_sessions, valid_sessions = split_validation(
        data.train_sessions, valid_fraction, split_seed
    )

    def examples(sessions: list[list[int]]) -> Examples:
        sequences, targets, _ = augment_prefixes(sessions)
        return Examples(list(sequences), list(targets))

    return Splits(
        examples(train_sessions),
        examples(valid_sessions),
        Examples(list(data.test_sequences), list(data.test_targets)),
    )


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
    """The selected model of a finished run from its ``best.pt`` contents, ready to score.

    A student that scores with the mixed table (``mixed_table_at_test``) gets its teacher back.
    """
    model = build_model(config, n_items)
    model.load_state_dict(best["model"])
    if config.student is not None and config.student.mixed_table_at_test:
        teacher = build_backbone(config.model, n_items)
        teacher.load_state_dict(best["teacher"])
        model.item_table.set_mixup(
            Mixup(teacher.item_table, config.student.eta, config.student.eta_convention, True)
        )
    return model.eval()


def model_name(config: ExperimentConfig) -> str:
    """What a result is of: the backbone for a full-table run, ``student`` for the paper's
    student, ``narm-student`` for Table 6's NARM-dagger, ``odrec`` for OD-Rec."""
    backbone = config.model.backbone
    if config.experiment == "teacher":
        return backbone
    if config.experiment == "student" and backbone != "teacher":
        return f"{backbone}-student"
    return config.experiment


def train_loader(splits: Splits, train: TrainConfig) -> BatchLoader:
    """The shuffled, resumable batches of the training split."""
    return BatchLoader(
        splits.train.sequences,
        splits.train.targets,
        train.batch_size,
        shuffle=True,
        seed=train.seed,
    )


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Trainer:
    """Trains one config to its selected checkpoint and stores the result.

    The teacher is one stage. The student is three: its teacher (a stored teacher run, trained
    first if missing), the code-learning stage (cached under its own hash, so every Fig. 3
    variant shares one set of codes) and the joint distillation stage.
    """

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
        # The code that trains is the code this process imported, not whatever is checked out
        # when a later stage starts.
        self.commit = git_commit()

    def run(self, resume: bool = False, rerun: bool = False) -> dict:
        """Train, select on validation, test once, store; a stored result is reused."""
        stored = self.store.find(self.config)
        if stored is not None and not rerun:
            return stored
        _refuse_to_overwrite(self.dir, self.config.run_id, resume, rerun)
        tune_glibc_malloc()
        data = load_dataset(self.config.data.dataset, self.data_dir)
        splits = make_splits(data, self.config.data.valid_fraction, self.config.data.split_seed)
        run = {
            "teacher": self._run_teacher,
            "student": self._run_student,
            "odrec": self._run_odrec,
        }[self.config.experiment]
        result = run(data, splits, resume, rerun)
        self.store.save(result, replace=rerun or stored is not None)
        return result

    # --- the two experiments -------------------------------------------------------------

    def _run_teacher(self, data: SessionData, splits: Splits, resume: bool, rerun: bool) -> dict:
        train = self.config.train
        stage = TeacherStage(
            build_model(self.config, data.n_items).to(self.device), train.lr, train.weight_decay
        )
        state = self._fit(stage, splits, self.dir, train.epochs, resume, rerun)
        test = self._evaluate(stage.model, splits.test)
        return self._result(data, splits, state, test)

    def _run_student(self, data: SessionData, splits: Splits, resume: bool, rerun: bool) -> dict:
        config, student_config = self.config, self.config.student
        teacher, teacher_result = self._stored_teacher(data, resume)
        codes = self._learn_codes(teacher, splits, resume)
        torch.manual_seed(config.train.seed)
        student = build_student(data.n_items, config.model, student_config, teacher.item_table)
        student.item_table.set_codes(codes["codes"])
        student.item_table.codebooks.load_state_dict(codes["codebooks"])
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
        table = student.item_table
        result.update(
            code_learning=codes["summary"],
            compression=compression.student_compression(
                data.n_items,
                config.model.dim,
                table.n_codebooks,
                table.n_codewords,
                table.state_bytes(),
                compression.full_table_bytes(data.n_items + 1, config.model.dim),  # + padding row
            ),
            code_usage=code_usage_summary(table.codes[PADDING_ID + 1 :], table.n_codewords),
        )
        if on_test:  # the authors' protocol: each metric's best epoch, chosen on test
            result["test_metrics_best_per_metric"] = {
                name: max(h["test"][name] for h in state["history"])
                for name in result["test_metrics"]
            }
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

    def _stored_teacher(self, data: SessionData, resume: bool) -> tuple[SessionRecommender, dict]:
        """The trained teacher of this run and its result (trained first if not stored)."""
        teacher_run = teacher_config(self.config)
        result = Trainer(teacher_run, self.data_dir, self.store, self.cache_dir, self.progress).run(
            resume=resume
        )
        return self._load_teacher(teacher_run, result, data.n_items), result

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
        recombination = HotColdRecombination(
            config.model.dim, config.model.readout, config.model.init_range
        ).to(self.device)
        hot = hot_item_mask(splits.train.sequences, data.n_items, settings.hot_fraction)
        stage = JointStage(
            student, teacher, recombination, hot, settings, train.lr, train.weight_decay
        )
        state = self._fit(stage, splits, self.dir, train.epochs, resume, rerun, on_test)
        result = self._result(data, splits, state, self._evaluate(student, splits.test))
        result.update(
            teacher_run=teacher_config(config).run_id,
            teacher_start_test_metrics=teacher_result["test_metrics"],
            teacher_test_metrics=self._evaluate(teacher, splits.test),
        )
        return result, state

    def _load_teacher(
        self, teacher_run: ExperimentConfig, result: dict, n_items: int
    ) -> SessionRecommender:
        try:
            best = load_selected_checkpoint(result, self.cache_dir)
        except CheckpointError as error:
            raise CheckpointError(
                f"the student needs the checkpoint of its teacher {teacher_run.run_id}: {error}; "
                f"retrain it with `eodrec train teacher --dataset {teacher_run.data.dataset} "
                f"--profile {teacher_run.profile} --rerun`"
            ) from None
        teacher = build_backbone(teacher_run.model, n_items)
        teacher.load_state_dict(best["model"])
        return teacher.to(self.device)

    def _learn_codes(self, teacher: SessionRecommender, splits: Splits, resume: bool) -> dict:
        """The code-learning stage's selected codes and codebooks, trained once per its hash."""
        config, student_config, train = self.config, self.config.student, self.config.train
        key = code_learning_key(config)
        directory = run_dir(f"codes-{config.data.dataset}-{config.profile}-{key}", self.cache_dir)
        done = directory / "codes.pt"
        if done.exists():
            return load_checkpoint(done, key)
        if student_config.code_learning == "residual-kmeans":
            codes = self._kmeans_codes(teacher, key)
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
        state = self._fit(stage, splits, directory, epochs, resume, False, config_hash=key)
        teacher.requires_grad_(True)
        table = model.item_table
        codes = {
            "config_hash": key,
            "codes": table.codes.cpu(),
            "codebooks": table.codebooks.state_dict(),
            "summary": {
                "selected_epoch": state["best_epoch"],
                "epochs_run": len(state["history"]),
                "history": state["history"],
                "wall_time_s": state["wall_time"],
            },
        }
        save_checkpoint(done, codes)
        return codes

    def _kmeans_codes(self, teacher: SessionRecommender, key: str) -> dict:
        """Codes and codebooks by residual k-means of the teacher's rows, with its MSE (Eq. 14's
        scale) beside the best constant code's."""
        student_config, start = self.config.student, time.perf_counter()
        X = teacher.item_table.weight().detach().cpu()[PADDING_ID + 1 :]
        codes, codewords = residual_kmeans(
            X, student_config.n_codebooks, student_config.n_codewords, seed=self.config.train.seed
        )
        offsets = torch.arange(student_config.n_codebooks) * student_config.n_codewords
        composite = sum_of_rows(codewords, codes + offsets)  # (n, N)
        padded = torch.cat([codes.new_zeros(1, codes.shape[1]), codes])  # the padding row
        return {
            "config_hash": key,
            "codes": padded.to(student_config.dtype),
            "codebooks": {"codewords": codewords},
            "summary": {
                "method": "residual-kmeans",
                "mse": float(((composite - X) ** 2).sum(dim=1).mean()),
                "mse_of_mean": float(((X.mean(dim=0) - X) ** 2).sum(dim=1).mean()),
                "wall_time_s": time.perf_counter() - start,
            },
        }

    # --- the loop shared by every stage ----------------------------------------------------

    def _fit(
        self,
        stage: Stage,
        splits: Splits,
        directory: Path,
        epochs: int,
        resume: bool,
        rerun: bool,
        test_each_epoch: bool = False,
        config_hash: str | None = None,
    ) -> dict:
        """Epochs of ``stage`` with validation selection and early stopping; the modules end in
        their selected (best-validation) state. Checkpointed every ``checkpoint_every`` steps
        and at each epoch's end, so an interrupted stage resumes where it stopped."""
        train = self.config.train
        config_hash = config_hash or self.config.config_hash()
        last, best_path = directory / "last.pt", directory / "best.pt"
        _refuse_to_overwrite(directory, self.config.run_id, resume, rerun)
        loader = train_loader(splits, train)
        state = {
            "history": [],
            "best_score": -math.inf,
            "best_epoch": -1,
            "bad_epochs": 0,
            "wall_time": 0.0,
            "epoch_terms": {},
            "epoch_steps": 0,
            "step": 0,
            "git_commits": [],
        }
        checkpoint = _Checkpointer(stage, loader, last, config_hash)
        if resume and not rerun and last.exists():
            state = checkpoint.restore()
            self._say(f"resuming {stage.name} at epoch {loader.epoch}, batch {loader.position}")
        elif rerun:
            last.unlink(missing_ok=True)
            best_path.unlink(missing_ok=True)
        state["git_commits"].append(self.commit)  # one entry per (re)start of the stage

        started = time.perf_counter() - state["wall_time"]
        while loader.epoch < epochs and state["bad_epochs"] < train.patience:
            epoch = loader.epoch
            self._train_epoch(stage, loader, state, started, checkpoint)
            extra = stage.before_evaluation()
            entry = {
                "epoch": epoch,
                **extra,
                **{
                    f"train_{name}": total / max(1, state["epoch_steps"])
                    for name, total in state["epoch_terms"].items()
                },
                "valid": self._evaluate(stage.model, splits.valid),
            }
            if test_each_epoch:
                entry["test"] = self._evaluate(stage.model, splits.test)
            entry["wall_time"] = time.perf_counter() - started
            state["history"].append(entry)
            state["epoch_terms"], state["epoch_steps"] = {}, 0
            score = entry["valid"][train.select_metric]
            if score > state["best_score"]:
                state.update(best_score=score, best_epoch=epoch, bad_epochs=0)
                save_checkpoint(
                    best_path,
                    {
                        "config_hash": config_hash,
                        "epoch": epoch,
                        **{name: m.state_dict() for name, m in stage.modules().items()},
                    },
                )
            else:
                state["bad_epochs"] += 1
            state["wall_time"] = time.perf_counter() - started
            checkpoint.save(state)
            self._say(
                f"{stage.name} epoch {epoch}: loss {entry['train_loss']:.4f} "
                f"valid {train.select_metric} {score:.4f}"
            )
        best = load_checkpoint(best_path, config_hash)
        for name, module in stage.modules().items():
            module.load_state_dict(best[name])
        return state

    def _train_epoch(
        self, stage: Stage, loader: BatchLoader, state: dict, started: float, checkpoint
    ) -> None:
        stage.start_epoch(loader.epoch)
        bar = tqdm(
            total=len(loader),
            initial=loader.position,
            disable=not self.progress,
            desc=f"{stage.name} epoch {loader.epoch}",
            unit="batch",
            leave=False,
        )
        cap = self.config.train.max_steps_per_epoch
        for batch in loader:
            terms = stage.step(batch.to(self.device))
            for name, value in terms.items():
                state["epoch_terms"][name] = state["epoch_terms"].get(name, 0.0) + value
            state["epoch_steps"] += 1
            state["step"] += 1
            bar.update()
            if state["step"] % self.config.train.checkpoint_every == 0:
                state["wall_time"] = time.perf_counter() - started
                checkpoint.save(state)
            if cap and state["epoch_steps"] >= cap:
                if loader.position:  # stopped before the epoch's own last batch
                    loader.epoch, loader.position = loader.epoch + 1, 0
                break
        bar.close()

    def _evaluate(self, model: SessionRecommender, examples: Examples) -> dict[str, float]:
        return evaluate(
            model,
            examples.sequences,
            examples.targets,
            self.config.train.eval_batch_size,
            self.device,
        )

    def _result(self, data: SessionData, splits: Splits, state: dict, test: dict) -> dict:
        selected = next(h for h in state["history"] if h["epoch"] == state["best_epoch"])
        return {
            "id": self.config.run_id,
            "experiment": self.config.experiment,
            "model": model_name(self.config),
            "dataset": self.config.data.dataset,
            "profile": self.config.profile,
            "config_hash": self.config.config_hash(),
            "config": self.config.to_dict(),
            "selected_epoch": state["best_epoch"],
            "epochs_run": len(state["history"]),
            "valid_metrics": selected["valid"],
            "test_metrics": test,
            "history": state["history"],
            "examples": {
                "train": len(splits.train),
                "valid": len(splits.valid),
                "test": len(splits.test),
            },
            "wall_time_s": state["wall_time"],
            "provenance": provenance(
                self.config.profile,
                data.checksums,
                device=str(self.device),
                commit=state["git_commits"][0],
                git_commits_per_segment=state["git_commits"],
            ),
        }

    def _say(self, message: str) -> None:
        LOG.info("[%s] %s", self.config.run_id, message)


class _Checkpointer:
    """Writes and restores a stage's resumable state: modules, optimizers, RNG, loader."""

    def __init__(self, stage: Stage, loader: BatchLoader, path: Path, config_hash: str) -> None:
        self.stage, self.loader, self.path, self.config_hash = stage, loader, path, config_hash

    def save(self, state: dict) -> None:
        save_checkpoint(
            self.path,
            {
                "config_hash": self.config_hash,
                "modules": {name: m.state_dict() for name, m in self.stage.modules().items()},
                "optimizers": {name: o.state_dict() for name, o in self.stage.optimizers().items()},
                "torch_rng": torch.get_rng_state(),
                "loader": self.loader.state_dict(),
                "state": state,
            },
        )

    def restore(self) -> dict:
        saved = load_checkpoint(self.path, self.config_hash)
        for name, module in self.stage.modules().items():
            module.load_state_dict(saved["modules"][name])
        for name, optimizer in self.stage.optimizers().items():
            optimizer.load_state_dict(saved["optimizers"][name])
        torch.set_rng_state(saved["torch_rng"])
        self.loader.load_state_dict(saved["loader"])
        return saved["state"]


def _refuse_to_overwrite(directory: Path, run_id: str, resume: bool, rerun: bool) -> None:
    last = directory / "last.pt"
    if last.exists() and not (resume or rerun):
        raise CheckpointError(
            f"an interrupted run of {run_id} is checkpointed at {last}; pass --resume to "
            "continue it or --rerun to start over"
        )


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
    "untrained_heads",
    "dropout_first_epoch_only",
    "selection",
    "teacher_rec",
)
