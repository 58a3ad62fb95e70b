"""Padding and a resumable, seed-determined batch iterator.

Each epoch's order depends only on ``(seed, epoch)``, never on global RNG state, and the loader's
position can be saved and restored, so an interrupted run resumes with exactly the batches it
would have seen.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from eodrec.data.batch import Batch


def pad_batch(
    sequences: Sequence[Sequence[int]], targets: Sequence[int], index: Sequence[int]
) -> Batch:
    """Left-align ``sequences`` and right-pad them with 0 into a :class:`Batch`."""
    if not sequences or not len(sequences) == len(targets) == len(index):
        raise ValueError(
            "need a non-empty batch with as many targets and indices as sequences, got "
            f"{len(sequences)}, {len(targets)}, {len(index)}"
        )
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    if lengths.min() < 1:
        raise ValueError("every sequence needs at least one item")
    items = np.zeros((len(sequences), int(lengths.max())), dtype=np.int64)
    for row, seq in enumerate(sequences):
        items[row, : len(seq)] = seq
    items_t = torch.from_numpy(items)
    return Batch(
        items=items_t,
        mask=items_t != 0,
        lengths=torch.from_numpy(lengths),
        targets=torch.tensor(targets, dtype=torch.int64),
        index=torch.tensor(index, dtype=torch.int64),
    )


class BatchLoader:
    """Iterate (prefix, target) examples in batches, one epoch per ``iter()``.

    ``len()`` is ``ceil(n / batch_size)``; the last batch holds the remainder. The state is the
    epoch and the number of batches already yielded in it; after an epoch's last batch the state
    points at the start of the next epoch.
    """

    def __init__(
        self,
        sequences: Sequence[Sequence[int]],
        targets: Sequence[int],
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
    ) -> None:
        if len(sequences) != len(targets) or not sequences:
            raise ValueError(
                f"need as many targets as sequences (> 0), got {len(sequences)} and {len(targets)}"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.sequences = sequences
        self.targets = targets
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        self.position = 0

    def __len__(self) -> int:
        return math.ceil(len(self.sequences) / self.batch_size)

    def order(self, epoch: int) -> np.ndarray:
        """The example order of ``epoch``: a permutation seeded by (seed, epoch), or identity."""
        n = len(self.sequences)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, epoch]).permutation(n)

    def __iter__(self) -> Iterator[Batch]:
        order = self.order(self.epoch)
        n_batches = len(self)
        for b in range(self.position, n_batches):
            idx = order[b * self.batch_size : (b + 1) * self.batch_size].tolist()
            batch = pad_batch([self.sequences[i] for i in idx], [self.targets[i] for i in idx], idx)
            # Advance before yielding so that a state saved after consuming this batch resumes
            # after it.
            if b + 1 == n_batches:
                self.epoch, self.position = self.epoch + 1, 0
            else:
                self.position = b + 1
            yield batch

    def state_dict(self) -> dict[str, int | bool]:
        return {
            "epoch": self.epoch,
            "position": self.position,
            "seed": self.seed,
            "n": len(self.sequences),
            "batch_size": self.batch_size,
            "shuffle": self.shuffle,
        }

    def load_state_dict(self, state: dict[str, int | bool]) -> None:
        """Restore a state saved from a loader over the same data and settings."""
        mine = self.state_dict()
        fixed = ("seed", "n", "batch_size", "shuffle")
        mismatched = {k: (state.get(k), mine[k]) for k in fixed if state.get(k) != mine[k]}
        if mismatched:
            raise ValueError(f"state is from a different loader (saved, current): {mismatched}")
        epoch, position = int(state["epoch"]), int(state["position"])
        if epoch < 0 or not 0 <= position < len(self):
            raise ValueError(f"invalid epoch/position {epoch}/{position}")
        self.epoch, self.position = epoch, position
