"""A stored run brought back to life: its result, its selected model and the splits it was
scored on. Scoring, prediction and export need it; none of them needs the training loop."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eodrec.checkpoint import CheckpointError, load_selected_checkpoint
from eodrec.config import ExperimentConfig
from eodrec.data.splits import Examples, load_splits
from eodrec.evaluate import evaluate, predict_topk
from eodrec.models import SessionRecommender
from eodrec.models.build import restore_model
from eodrec.store import ResultsStore, atomic_write_npz


@dataclass
class Run:
    """A stored run: its result, its selected model, and the splits it was scored on."""

    result: dict
    model: SessionRecommender
    splits: dict[str, Examples]

    def evaluate(self, split: str) -> dict[str, float]:
        examples = self.splits[split]
        return evaluate(self.model, examples.sequences, examples.targets)

    def predict(self, split: str, k: int, out: Path) -> Path:
        """Top-k ids (best first), targets and file positions of every sequence, as ``.npz``."""
        examples = self.splits[split]
        topk = predict_topk(self.model, examples.sequences, examples.targets, k)
        atomic_write_npz(
            Path(out),
            topk=topk.numpy(),
            target=np.asarray(examples.targets, dtype=np.int64),
            index=np.arange(len(examples), dtype=np.int64),
        )
        return Path(out)


def load_run(
    run_id: str,
    results: Path | None = None,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
) -> Run:
    """The stored run ``run_id`` with its selected (best-validation) checkpoint loaded."""
    result = ResultsStore(results).load(run_id)
    if result["experiment"] == "baseline":
        raise CheckpointError(
            f"{run_id} is a baseline: no model to load; its test ranks are stored"
        )
    config = ExperimentConfig.from_dict(result["config"])
    data, splits = load_splits(config.data, data_dir)
    best = load_selected_checkpoint(result, cache_dir)
    model = restore_model(config, data.n_items, best)
    return Run(result, model, {"valid": splits.valid, "test": splits.test})
