"""Where a batch of 100 sessions spends its time on ExecuTorch: the encoder, the scoring and the
top-20, for the teacher and the student, in one run.

Table 5's batch measure times whole bundles. The student's scoring by codebook is several times
faster than the teacher's product with its table, yet the whole bundle is barely faster; this
benchmark says why. Each model is lowered three times at batch 100 and one session length, as
programs that stop after the encoder, after the scoring, and after the top-20 (the bundle); a
fourth program is the top-20 alone, on the teacher's scores. The programs take turns batch by
batch (:func:`~eodrec.bench.timing.round_robin`), so each sees the same machine load, and each
stage is the difference of two programs. The models have their initial weights (the times
depend on shapes, not values) and the ``quick`` shapes (``smoke`` for ``toy``).

Each model is measured with PyTorch's operators and again with this package's
(:mod:`eodrec.device_ops`: the student's scoring and the top-20 as C++ kernels), in the same
run; a machine without a C++ compiler measures the first only and says why.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from eodrec.bench.timing import median_ms, round_robin
from eodrec.config import make_config
from eodrec.data.splits import load_splits
from eodrec.device_ops import unavailable_reason
from eodrec.export import (
    EXAMPLE_BATCH,
    OPS,
    DeviceModel,
    bucket_of,
    buckets_for,
    lower_to_executorch,
    pad_sessions,
)
from eodrec.latency import TOP_K  # the bundles' k, as Table 5 times them
from eodrec.memory import tune_glibc_malloc
from eodrec.models.build import build_model
from eodrec.provenance import provenance
from eodrec.store import atomic_write_json, default_results_dir

MODELS = {"Teacher": ("teacher", []), "Student": ("student", [])}
OPS_LABELS = {"aten": "", "eodrec": " (eodrec ops)"}  # a model's label with each op set
STAGES = {"encoder": "encode", "scores": "scores", "bundle": "forward"}  # program: stage
PROGRAMS = tuple(STAGES)


class _Stage(nn.Module):
    """One of a device model's stages (``encode``, ``scores``, ``top``) as a module to export."""

    def __init__(self, device: DeviceModel, stage: str) -> None:
        super().__init__()
        self.device = device
        self.stage = stage

    def forward(self, inputs: torch.Tensor):
        out = getattr(self.device, self.stage)(inputs)
        if self.stage == "encode":
            # ExecuTorch cannot resize the student's encoder output when an XNNPACK delegate's
            # output is the program's; a copy of the (B, N) output avoids it at no measurable cost.
            out = out.clone()
        return out if isinstance(out, tuple) else (out,)


def stages_path(results: Path, dataset: str, profile: str) -> Path:
    """Where ``eodrec bench device-stages`` stores a dataset's breakdown, beside Table 5's."""
    return Path(results) / "bench" / f"device-stages-{dataset}-{profile}.json"


def store_stages(result: dict, results: Path | None = None) -> Path:
    """Write a breakdown atomically where page 05 reads it."""
    out = stages_path(results or default_results_dir(), result["dataset"], result["profile"])
    atomic_write_json(out, result)
    return out


def _method(module: nn.Module, example: torch.Tensor):
    """``module`` exported at ``example``'s shape, lowered and loaded as an ExecuTorch method."""
    from executorch.runtime import Runtime

    with torch.no_grad():
        program = {"forward": torch.export.export(module, (example,))}
    loaded = Runtime.get().load_program(lower_to_executorch(program))
    method = loaded.load_method("forward")
    return lambda inputs, program=loaded: method.execute([inputs])  # the program outlives it


def _batches(sequences: list, length: int, count: int) -> list[torch.Tensor]:
    """Up to ``count`` full batches of the test sessions whose bucket is ``length``."""
    buckets = buckets_for(max(len(s) for s in sequences))
    chosen = [s for s in sequences if bucket_of(len(s), buckets) == length]
    full = len(chosen) // EXAMPLE_BATCH
    if full == 0:
        raise ValueError(f"fewer than {EXAMPLE_BATCH} test sessions in the bucket of {length}")
    starts = range(0, min(full, count) * EXAMPLE_BATCH, EXAMPLE_BATCH)
    return [pad_sessions(chosen[i : i + EXAMPLE_BATCH], length) for i in starts]


def bench_device_stages(
    dataset: str = "Tmall",
    data_dir: Path | str | None = None,
    steps: int = 30,
    warmup: int = 3,
    malloc: bool = True,
) -> dict:
    """Median ms of each program, each model's stages, and the teacher-over-student ratios of
    the whole bundle, of the bundle without its top-20, and of the scoring alone. The session
    length is the bucket of the median test session."""
    if steps < 1 or warmup < 0:
        raise ValueError("steps must be positive and warmup non-negative")
    malloc_tuned = tune_glibc_malloc() if malloc else False
    torch.set_num_threads(1)
    profile = "smoke" if dataset == "toy" else "quick"
    data, splits = load_splits(make_config("teacher", dataset, profile).data, data_dir)
    sequences = [list(s) for s in splits.test.sequences]
    lengths = sorted(len(s) for s in sequences)
    length = bucket_of(lengths[len(lengths) // 2], buckets_for(lengths[-1]))
    batches = _batches(sequences, length, warmup + steps)
    skipped = unavailable_reason()
    ops_sets = OPS if skipped is None else ("aten",)
    models = {
        label: build_model(make_config(experiment, dataset, profile, overrides), data.n_items)
        for label, (experiment, overrides) in MODELS.items()
    }
    labels = {(model, ops): model + OPS_LABELS[ops] for ops in ops_sets for model in MODELS}
    devices = {
        label: DeviceModel(models[model], TOP_K, ops=ops).requires_grad_(False)
        for (model, ops), label in labels.items()
    }
    modules = {
        f"{label} {program}": _Stage(device, STAGES[program])
        for label, device in devices.items()
        for program in PROGRAMS
    }
    calls = {name: _method(module, batches[0]) for name, module in modules.items()}
    with torch.no_grad():
        teacher_scores = [devices["Teacher"].scores(items) for items in batches]
        differences = {
            name: float((calls[name](batches[0])[0] - module(batches[0])[0]).abs().max())
            for name, module in modules.items()
        }
    steps_by_name = {name: (lambda pair, call=call: call(pair[0])) for name, call in calls.items()}
    for ops in ops_sets:
        top = _method(_Stage(devices["Teacher" + OPS_LABELS[ops]], "top"), teacher_scores[0])
        steps_by_name["top-20" + OPS_LABELS[ops]] = lambda pair, top=top: top(pair[1])
    pairs = list(zip(batches, teacher_scores, strict=True))  # cycled if the bucket has few
    turns = [pairs[i % len(pairs)] for i in range(warmup + steps)]
    medians = median_ms(round_robin(steps_by_name, turns, warmup))
    stages = {
        label: _stages(medians, label, "top-20" + OPS_LABELS[ops])
        for (_, ops), label in labels.items()
    }
    ratios = {ops: _ratios(medians, stages, OPS_LABELS[ops]) for ops in ops_sets}
    return {
        "benchmark": "device-stages",
        "dataset": dataset,
        "profile": profile,
        "runtime": "executorch",
        "batch": EXAMPLE_BATCH,
        "length": length,
        "n_items": data.n_items,
        "steps": steps,
        "distinct_batches": len(batches),
        "warmup": warmup,
        "malloc_tuned": malloc_tuned,
        "max_abs_difference_from_eager": differences,  # of the scores (top-20 values)
        "median_ms": medians,
        "stages_ms": stages,
        "teacher_over_student": ratios,  # by op set
        "ops_skipped": skipped,
        "provenance": provenance(profile, data.checksums),
    }


def _stages(medians: dict[str, float], label: str, top_program: str) -> dict[str, float]:
    """A model's stages as differences of its programs; ``rest`` is what the bundle spends
    beyond its scores and the top-20 measured alone (copies, slicing, timing noise)."""
    encoder, scores, bundle = (medians[f"{label} {program}"] for program in PROGRAMS)
    top = medians[top_program]
    return {
        "encoder": encoder,
        "scoring": scores - encoder,
        "top-20": top,
        "rest": bundle - scores - top,
    }


def _ratios(medians: dict, stages: dict, suffix: str) -> dict[str, float]:
    """The teacher's time over the student's, both with the op set of label ``suffix``."""
    teacher, student = "Teacher" + suffix, "Student" + suffix
    return {
        "bundle": medians[f"{teacher} bundle"] / medians[f"{student} bundle"],
        "without top-20": medians[f"{teacher} scores"] / medians[f"{student} scores"],
        "scoring alone": stages[teacher]["scoring"] / stages[student]["scoring"],
    }
