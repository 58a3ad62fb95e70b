"""How close the teacher's training step comes to its matmul floor.

``bench_train_step`` measures, in one process and one run, the step's GEMM floor
(:mod:`eodrec.bench.floor`) and the median step time (zero_grad + loss + backward + Adam step)
over real batches for each implementation and optimizer, interleaved round-robin so that every
variant sees the same machine load, with ``ratio = step / floor``.
"""

from __future__ import annotations

import copy
import itertools
import statistics
from pathlib import Path

import torch
import torch.nn.functional as F

from eodrec.bench.floor import gemm_floor
from eodrec.bench.timing import median_ms, round_robin
from eodrec.memory import tune_glibc_malloc
from eodrec.metrics import mask_padding
from eodrec.provenance import hardware

IMPLEMENTATIONS = ("model", "reference")
OPTIMIZERS = ("default", "foreach", "fused")


def reference_scores(model, batch) -> torch.Tensor:
    """The plain forward pass as first written: padded transformer, dense scores."""
    if hasattr(model, "hidden_states"):
        vectors = model.readout(model.hidden_states(batch), batch.mask)
    else:
        vectors = model.encode(batch)
    return vectors @ model.item_table.weight().T


def reference_loss(model, batch) -> torch.Tensor:
    """The plain step's loss: masked CE over :func:`reference_scores`."""
    return F.cross_entropy(mask_padding(reference_scores(model, batch)), batch.targets)


def teacher_setup(dataset: str, data_dir: Path | str | None, profile: str | None = None):
    """(config, data, splits, model): a fresh teacher of the ``quick`` profile (``smoke`` for
    the ``toy`` dataset) and its data."""
    from eodrec.config import make_config
    from eodrec.data.splits import load_splits
    from eodrec.models.build import build_model

    if profile is None:
        profile = "smoke" if dataset == "toy" else "quick"
    config = make_config("teacher", dataset, profile)
    data, splits = load_splits(config.data, data_dir)
    model = build_model(config, data.n_items)
    return config, data, splits, model


def _check_variants(steps: int, warmup: int, implementations, optimizers) -> None:
    if steps < 1 or warmup < 0:
        raise ValueError("steps must be positive and warmup non-negative")
    unknown = set(implementations) - set(IMPLEMENTATIONS) | set(optimizers) - set(OPTIMIZERS)
    if unknown:
        raise ValueError(f"unknown implementation or optimizer: {sorted(unknown)}")
    if not implementations or not optimizers:
        raise ValueError("need at least one implementation and one optimizer")


def _optimizer(model, kind: str, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    flags = {"default": {}, "foreach": {"foreach": True}, "fused": {"fused": True}}[kind]
    return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay, **flags)


def _training_steps(model, implementations, optimizers, train) -> dict:
    """One training step per (implementation, optimizer), each on its own copy of ``model``."""

    def step(loss_fn, optimizer, batch):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(batch)
        loss.backward()
        optimizer.step()
        return loss

    steps = {}
    for impl, opt in itertools.product(implementations, optimizers):
        replica = copy.deepcopy(model).train()
        loss_fn = replica.loss if impl == "model" else (lambda b, m=replica: reference_loss(m, b))
        optimizer = _optimizer(replica, opt, train.lr, train.weight_decay)
        steps[f"{impl}/{opt}"] = lambda b, f=loss_fn, o=optimizer: step(f, o, b)
    return steps


def _loss_check(model, batch) -> dict:
    """Both implementations' loss on the same parameters and batch, dropout off."""
    model.eval()
    with torch.no_grad():
        fast, plain = model.loss(batch).item(), reference_loss(model, batch).item()
    model.train()
    return {"model": fast, "reference": plain, "rel_err": abs(fast - plain) / abs(plain)}


def _ratios(times: dict[str, list[float]], floors: dict) -> dict:
    """Each variant's median and best step time and their ratios to the floors."""
    results = {}
    for name, ms in median_ms(times).items():
        best = min(times[name]) * 1e3
        results[name] = {
            "step_ms": ms,
            "min_ms": best,
            "ratio": ms / floors["floor_ms"],
            "ratio_padded": ms / floors["floor_padded_ms"],
            "ratio_min": best / floors["floor_ms"],
        }
    return results


def bench_train_step(
    dataset: str = "Tmall",
    data_dir: Path | str | None = None,
    steps: int = 30,
    warmup: int = 5,
    implementations: tuple[str, ...] = IMPLEMENTATIONS,
    optimizers: tuple[str, ...] = OPTIMIZERS,
    gemm_repeats: int = 10,
    malloc: bool = False,
) -> dict:
    """Median training-step time per (implementation, optimizer) and its ratio to the floor.

    ``implementations``: ``model`` (``model.loss``, what train.py runs) and ``reference``
    (the plain padded transformer with ``F.cross_entropy(mask_padding(scores))``).
    ``optimizers``: Adam as train.py builds it (``default``), with ``foreach=True`` or with
    ``fused=True``. ``malloc=True`` calls :func:`tune_glibc_malloc` first (process-wide).
    The batch size, learning rate and weight decay are the ``quick`` profile's (``smoke`` for
    the ``toy`` dataset).
    """
    from eodrec.train import train_loader

    _check_variants(steps, warmup, implementations, optimizers)
    malloc_tuned = tune_glibc_malloc() if malloc else False
    config, data, splits, model = teacher_setup(dataset, data_dir)
    train = config.train
    batches = list(itertools.islice(train_loader(splits, train), warmup + steps))
    timed = batches[warmup:]
    length = int(statistics.median(b.items.shape[1] for b in timed))
    tokens = int(statistics.median(int(b.mask.sum()) for b in timed))
    B, N = train.batch_size, model.dim
    floors = gemm_floor(
        B,
        model.n_items + 1,
        N,
        config.model.inner_dim,
        config.model.n_layers,
        length,
        tokens,
        gemm_repeats,
        backward=True,
    )
    check = _loss_check(model, batches[0])  # same parameters, same batch: they must agree
    times = round_robin(_training_steps(model, implementations, optimizers, train), batches, warmup)
    return {
        "benchmark": "train-step",
        "dataset": dataset,
        "batch_size": B,
        "n_items": model.n_items,
        "dim": N,
        "steps": steps,
        "warmup": warmup,
        "median_length": length,
        "median_real_tokens": tokens,
        "malloc_tuned": malloc_tuned,
        "loss_check": check,
        "floor": floors,
        "floor_ms": floors["floor_ms"],
        "floor_padded_ms": floors["floor_padded_ms"],
        "variants": _ratios(times, floors),
        "hardware": hardware(),
    }
