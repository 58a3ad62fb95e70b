"""The one training loop: epochs, validation selection, early stopping, checkpoints, resume.

Model selection uses a validation split of 10% of the training *sessions*; the test set is
scored once, for the selected checkpoint only, and never chooses anything.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from eodrec.checkpoint import CheckpointError, load_checkpoint, run_dir, save_checkpoint
from eodrec.config import ExperimentConfig, TrainConfig
from eodrec.data import BatchLoader, SessionData, augment_prefixes, load_dataset, split_validation
from eodrec.evaluate import evaluate
from eodrec.memory import tune_glibc_malloc
from eodrec.models import SessionRecommender, Teacher
from eodrec.provenance import git_commit, provenance
from eodrec.store import ResultsStore


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
    torch.manual_seed(config.train.seed)
    return Teacher(config.model, n_items)


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
        self.dir = run_dir(config.run_id, cache_dir)
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.device = pick_device()

    @property
    def last_path(self) -> Path:
        return self.dir / "last.pt"

    @property
    def best_path(self) -> Path:
        return self.dir / "best.pt"

    def run(self, resume: bool = False, rerun: bool = False) -> dict:
        """Train, select on validation, test once, store; a stored result is reused."""
        stored = self.store.find(self.config)
        if stored is not None and not rerun:
            return stored
        if self.last_path.exists() and not (resume or rerun):
            raise CheckpointError(
                f"an interrupted run of {self.config.run_id} is checkpointed at "
                f"{self.last_path}; pass --resume to continue it or --rerun "
                "to start over"
            )
        tune_glibc_malloc()
        data = load_dataset(self.config.data.dataset, self.data_dir)
        splits = make_splits(data, self.config.data.valid_fraction, self.config.data.split_seed)
        model = build_model(self.config, data.n_items).to(self.device)
        train = self.config.train
        # Fused Adam: one kernel over all parameters, 16 ms instead of 76-136 ms for the Tmall
        # table update on a 2-core CPU (benchmarks/README.md).
        optimizer = torch.optim.Adam(
            model.parameters(), lr=train.lr, weight_decay=train.weight_decay, fused=True
        )
        loader = train_loader(splits, train)
        state = {
            "history": [],
            "best_score": -math.inf,
            "best_epoch": -1,
            "bad_epochs": 0,
            "wall_time": 0.0,
            "epoch_loss": 0.0,
            "epoch_steps": 0,
            "step": 0,
            "git_commits": [],
        }
        if resume and not rerun and self.last_path.exists():
            state = self._restore(model, optimizer, loader)
        elif rerun:
            self.last_path.unlink(missing_ok=True)
            self.best_path.unlink(missing_ok=True)
        # The code that trains is the code at (re)start, not whatever is checked out at the end.
        state["git_commits"].append(git_commit())

        started = time.perf_counter() - state["wall_time"]
        while loader.epoch < train.epochs and state["bad_epochs"] < train.patience:
            epoch = loader.epoch
            self._train_epoch(model, optimizer, loader, state, started)
            valid = evaluate(
                model,
                splits.valid.sequences,
                splits.valid.targets,
                train.eval_batch_size,
                self.device,
            )
            state["history"].append(
                {
                    "epoch": epoch,
                    "train_loss": state["epoch_loss"] / max(1, state["epoch_steps"]),
                    "valid": valid,
                    "wall_time": time.perf_counter() - started,
                }
            )
            state["epoch_loss"], state["epoch_steps"] = 0.0, 0
            if valid[train.select_metric] > state["best_score"]:
                state.update(best_score=valid[train.select_metric], best_epoch=epoch, bad_epochs=0)
                save_checkpoint(
                    self.best_path,
                    {
                        "config_hash": self.config.config_hash(),
                        "epoch": epoch,
                        "model": model.state_dict(),
                    },
                )
            else:
                state["bad_epochs"] += 1
            state["wall_time"] = time.perf_counter() - started
            self._checkpoint(model, optimizer, loader, state)
            self._say(
                f"epoch {epoch}: loss {state['history'][-1]['train_loss']:.4f} "
                f"valid {train.select_metric} {valid[train.select_metric]:.4f}"
            )

        best = load_checkpoint(self.best_path, self.config.config_hash())
        model.load_state_dict(best["model"])
        test = evaluate(
            model, splits.test.sequences, splits.test.targets, train.eval_batch_size, self.device
        )
        result = self._result(data, splits, state, test, time.perf_counter() - started)
        self.store.save(result, replace=rerun or stored is not None)
        return result

    def _train_epoch(
        self, model, optimizer, loader: BatchLoader, state: dict, started: float
    ) -> None:
        model.train()
        bar = tqdm(
            total=len(loader),
            initial=loader.position,
            disable=not self.progress,
            desc=f"epoch {loader.epoch}",
            unit="batch",
            leave=False,
        )
        cap = self.config.train.max_steps_per_epoch
        for batch in loader:
            optimizer.zero_grad(set_to_none=True)
            loss = model.loss(batch.to(self.device))
            loss.backward()
            optimizer.step()
            state["epoch_loss"] += loss.item()
            state["epoch_steps"] += 1
            state["step"] += 1
            bar.update()
            if state["step"] % self.config.train.checkpoint_every == 0:
                state["wall_time"] = time.perf_counter() - started
                self._checkpoint(model, optimizer, loader, state)
            if cap and state["epoch_steps"] >= cap:
                if loader.position:  # stopped before the epoch's own last batch
                    loader.epoch, loader.position = loader.epoch + 1, 0
                break
        bar.close()

    def _checkpoint(self, model, optimizer, loader: BatchLoader, state: dict) -> None:
        save_checkpoint(
            self.last_path,
            {
                "config_hash": self.config.config_hash(),
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "loader": loader.state_dict(),
                "state": state,
            },
        )

    def _restore(self, model, optimizer, loader: BatchLoader) -> dict:
        saved = load_checkpoint(self.last_path, self.config.config_hash())
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        torch.set_rng_state(saved["torch_rng"])
        loader.load_state_dict(saved["loader"])
        self._say(f"resuming {self.config.run_id} at epoch {loader.epoch}, batch {loader.position}")
        return saved["state"]

    def _result(
        self, data: SessionData, splits: Splits, state: dict, test: dict, wall_time: float
    ) -> dict:
        selected = next(h for h in state["history"] if h["epoch"] == state["best_epoch"])
        return {
            "id": self.config.run_id,
            "experiment": self.config.experiment,
            "model": self.config.experiment,
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
            "wall_time_s": wall_time,
            "provenance": provenance(
                self.config.profile,
                data.checksums,
                device=str(self.device),
                commit=state["git_commits"][0],
                git_commits_per_segment=state["git_commits"],
            ),
        }

    def _say(self, message: str) -> None:
        print(f"[{self.config.run_id}] {message}", file=sys.stderr, flush=True)
