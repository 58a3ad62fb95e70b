"""The one training loop: epochs, validation selection, early stopping, checkpoints, resume.

Model selection uses a validation split of 10% of the training *sessions*; the test set is
scored once, for the selected checkpoint only, and never chooses anything. What is trained (a
teacher, the code learner, the joint stage) is a :class:`~eodrec.stages.Stage`; which stages an
experiment runs, and what it stores, is :mod:`eodrec.experiment`'s job.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import torch
from tqdm import tqdm

from eodrec.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from eodrec.config import TrainConfig
from eodrec.data import BatchLoader
from eodrec.data.splits import Examples, Splits
from eodrec.evaluate import evaluate
from eodrec.models import SessionRecommender
from eodrec.stages import Stage

LOG = logging.getLogger(__name__)  # one line per epoch; the CLI shows it, notebooks do not


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


class TrainingLoop:
    """Fits one stage at a time under ``train``'s budget, for the run ``run_id``.

    ``commit`` is the code that trains: the one the process imported, not whatever is checked
    out when a later stage starts.
    """

    def __init__(
        self,
        train: TrainConfig,
        run_id: str,
        device: torch.device,
        progress: bool,
        commit: str,
    ) -> None:
        self.train, self.run_id, self.device = train, run_id, device
        self.progress, self.commit = progress, commit

    def fit(
        self,
        stage: Stage,
        splits: Splits,
        directory: Path,
        epochs: int,
        resume: bool,
        rerun: bool,
        config_hash: str,
        test_each_epoch: bool = False,
    ) -> dict:
        """Epochs of ``stage`` with validation selection and early stopping; the modules end in
        their selected (best-validation) state. Checkpointed every ``checkpoint_every`` steps
        and at each epoch's end, so an interrupted stage resumes where it stopped."""
        last, best_path = directory / "last.pt", directory / "best.pt"
        refuse_to_overwrite(directory, self.run_id, resume, rerun)
        loader = train_loader(splits, self.train)
        checkpoint = _Checkpointer(stage, loader, last, config_hash)
        state = self._start(checkpoint, stage, loader, epochs, resume, rerun, best_path)
        started = time.perf_counter() - state["wall_time"]
        while not self._stopped(loader.epoch, state["bad_epochs"], epochs):
            epoch = loader.epoch
            self._train_epoch(stage, loader, state, started, checkpoint)
            entry = self._epoch_entry(stage, splits, epoch, state, test_each_epoch)
            entry["wall_time"] = time.perf_counter() - started
            state["history"].append(entry)
            state["epoch_terms"], state["epoch_steps"] = {}, 0
            score = entry["valid"][self.train.select_metric]
            if score > state["best_score"]:
                state.update(best_score=score, best_epoch=entry["epoch"], bad_epochs=0)
                save_checkpoint(
                    best_path,
                    {
                        "config_hash": config_hash,
                        "epoch": entry["epoch"],
                        **{name: m.state_dict() for name, m in stage.modules().items()},
                    },
                )
            else:
                state["bad_epochs"] += 1
            state["wall_time"] = time.perf_counter() - started
            checkpoint.save(state)
            self._say(
                f"{stage.name} epoch {entry['epoch']}: loss {entry['train_loss']:.4f} "
                f"valid {self.train.select_metric} {score:.4f}"
            )
        best = load_checkpoint(best_path, config_hash)
        for name, module in stage.modules().items():
            module.load_state_dict(best[name])
        return state

    def evaluate(self, model: SessionRecommender, examples: Examples) -> dict[str, float]:
        return evaluate(
            model, examples.sequences, examples.targets, self.train.eval_batch_size, self.device
        )

    def _start(self, checkpoint, stage: Stage, loader, epochs, resume, rerun, best_path) -> dict:
        """A fresh loop state, or the checkpointed one when resuming. With ``rerun`` too, only
        an unfinished checkpoint is resumed (an interrupted rerun); a finished one starts over."""
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
        saved = checkpoint.load() if resume and checkpoint.path.exists() else None
        if saved is not None and not (
            rerun and self._stopped(saved["loader"]["epoch"], saved["state"]["bad_epochs"], epochs)
        ):
            state = checkpoint.restore(saved)
            self._say(f"resuming {stage.name} at epoch {loader.epoch}, batch {loader.position}")
        elif rerun:
            checkpoint.path.unlink(missing_ok=True)
            best_path.unlink(missing_ok=True)
        state["git_commits"].append(self.commit)  # one entry per (re)start of the stage
        return state

    def _stopped(self, epoch: int, bad_epochs: int, epochs: int) -> bool:
        """The loop's stopping rule: all ``epochs`` run, or no better validation for a while."""
        return epoch >= epochs or bad_epochs >= self.train.patience

    def _epoch_entry(
        self, stage: Stage, splits: Splits, epoch: int, state: dict, test_each_epoch: bool
    ) -> dict:
        """The history line of a finished epoch: training terms and validation metrics."""
        extra = stage.before_evaluation()
        entry = {
            "epoch": epoch,
            **extra,
            **{
                f"train_{name}": total / max(1, state["epoch_steps"])
                for name, total in state["epoch_terms"].items()
            },
            "valid": self.evaluate(stage.model, splits.valid),
        }
        if test_each_epoch:
            for key, scoring in stage.test_scorings().items():
                with scoring:
                    entry[key] = self.evaluate(stage.model, splits.test)
        return entry

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
        cap = self.train.max_steps_per_epoch
        for batch in loader:
            terms = stage.step(batch.to(self.device))
            for name, value in terms.items():
                state["epoch_terms"][name] = state["epoch_terms"].get(name, 0.0) + value
            state["epoch_steps"] += 1
            state["step"] += 1
            bar.update()
            if state["step"] % self.train.checkpoint_every == 0:
                state["wall_time"] = time.perf_counter() - started
                checkpoint.save(state)
            if cap and state["epoch_steps"] >= cap:
                if loader.position:  # stopped before the epoch's own last batch
                    loader.epoch, loader.position = loader.epoch + 1, 0
                break
        bar.close()

    def _say(self, message: str) -> None:
        LOG.info("[%s] %s", self.run_id, message)


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

    def load(self) -> dict:
        return load_checkpoint(self.path, self.config_hash)

    def restore(self, saved: dict) -> dict:
        """Put the ``load``-ed checkpoint back into the stage and loader; its loop state."""
        for name, module in self.stage.modules().items():
            module.load_state_dict(saved["modules"][name])
        for name, optimizer in self.stage.optimizers().items():
            optimizer.load_state_dict(saved["optimizers"][name])
        torch.set_rng_state(saved["torch_rng"])
        self.loader.load_state_dict(saved["loader"])
        return saved["state"]


def refuse_to_overwrite(directory: Path, run_id: str, resume: bool, rerun: bool) -> None:
    last = directory / "last.pt"
    if last.exists() and not (resume or rerun):
        raise CheckpointError(
            f"an interrupted run of {run_id} is checkpointed at {last}; pass --resume to "
            "continue it or --rerun to start over"
        )
