"""The released scripts' own printed metrics, read back from their output.

Each epoch of ``main_pretrain.py`` and ``main_student.py`` prints, in this order: a line
``epoch:  E``; ``Loss:`` with the epoch's summed training loss (tab-separated); a dict of the
epoch's test metrics, ``{'hit5': ..., 'mrr5': ..., 'nDCG5': ..., 'hit10': ...}`` in percent
(NumPy 2 prints each value as ``np.float64(x)``); then one ``train_loss:`` line per K with the
best value of each metric so far and the epoch of each. ``hit`` is the paper's P@K (the
target among the top K). The pretraining also prints each batch's loss tensor, which is skipped.
"""

from __future__ import annotations

import math
import re

EPOCH = re.compile(r"^epoch:\s+(\d+)\s*$")
LOSS = re.compile(r"^\s*Loss:\s+(\S+)\s*$")
METRIC = re.compile(r"'((?:hit|mrr|nDCG)\d+)':\s*(?:np\.float\d+\()?\s*([^,)}\s]+)")
BEST = re.compile(
    r"^train_loss:\s+(\S+)\s+Recall@(\d+):\s+(\S+)\s+MRR\d+:\s+(\S+)\s+nDCG\d+:\s+(\S+)"
    r"\s+Epoch:\s+(\d+),\s+(\d+),\s+(\d+)"
)


def _number(text: str) -> float | None:
    """A printed number; ``nan`` and infinities become None (JSON has no such numbers)."""
    value = float(text)
    return value if math.isfinite(value) else None


def parse_log(text: str) -> list[dict]:
    """One dict per epoch the log reached: ``epoch``, ``loss`` (the printed summed training
    loss), ``metrics`` (that epoch's test metrics, percent, their names) and ``best`` (per K,
    the best Recall, MRR and nDCG so far, as printed, with their epochs). An epoch cut short
    lacks the keys it did not print."""
    epochs: list[dict] = []
    for line in text.splitlines():
        if match := EPOCH.match(line):
            epochs.append({"epoch": int(match.group(1))})
            continue
        if not epochs:
            continue
        current = epochs[-1]
        if match := LOSS.match(line):
            current["loss"] = _number(match.group(1))
        elif line.lstrip().startswith("{") and (found := METRIC.findall(line)):
            current["metrics"] = {name: _number(value) for name, value in found}
        elif match := BEST.match(line):
            k = match.group(2)
            recall, mrr, ndcg = (_number(match.group(i)) for i in (3, 4, 5))
            current.setdefault("best", {})[f"@{k}"] = {
                "Recall": recall,
                "MRR": mrr,
                "nDCG": ndcg,
                "epochs": [int(match.group(i)) for i in (6, 7, 8)],
            }
    return epochs


def complete_epochs(epochs: list[dict]) -> list[dict]:
    """The epochs that printed their loss and their test metrics."""
    return [epoch for epoch in epochs if "loss" in epoch and "metrics" in epoch]
