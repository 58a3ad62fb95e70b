"""A stored run brought back to life: its config, data splits and selected checkpoint."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eodrec.checkpoint import load_selected_checkpoint
from eodrec.config import ExperimentConfig
from eodrec.data import load_dataset
from eodrec.evaluate import evaluate, predict_topk
from eodrec.models import SessionRecommender
from eodrec.store import ResultsStore, atomic_write_npz
from eodrec.train import Examples, make_splits, restore_model


@dataclass
class Run:
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
    config = ExperimentConfig.from_dict(result["config"])
    data = load_dataset(config.data.dataset, data_dir)
    splits = make_splits(data, config.data.valid_fraction, config.data.split_seed)
    best = load_selected_checkpoint(result, cache_dir)
    model = restore_model(config, data.n_items, best)
    return Run(result, model, {"valid": splits.valid, "test": splits.test})
