"""SR-GNN training step: this checkout's SR-GNN against the one of an earlier commit, in one run.

Both models get the same parameters and the same real training batches, interleaved step by
step (so machine noise hits both alike). The earlier ``eodrec/models/srgnn.py`` and the base
class it subclasses are read with ``git show COMMIT:...`` and imported beside the current ones.
Prints the loss of each on the first batch (they must agree) and the median step time
(zero_grad + loss + backward + Adam).

Usage: python benchmarks/srgnn_step.py --baseline 9d1001c [--dataset retailrocket]
           [--steps 20] [--threads 1] [--device cpu|cuda] [--json out.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from eodrec.config import make_config
from eodrec.data import canonical_name
from eodrec.data.splits import load_splits
from eodrec.models.srgnn import SRGNN
from eodrec.train import train_loader


def module_at(commit: str, path: str, name: str):
    """The file ``path`` as it was at ``commit``, imported as module ``name``."""
    source = subprocess.run(
        ["git", "show", f"{commit}:{path}"], check=True, capture_output=True, text=True
    ).stdout
    file = Path(tempfile.mkdtemp()) / f"{name}.py"
    file.write_text(source)
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def baseline_module(commit: str):
    """SR-GNN at ``commit`` over the model base class of that commit (the contract it was
    written against); everything else comes from this checkout, under the module names that
    base class imports (the loss kernels moved from eodrec.models to eodrec.kernels)."""
    kernels = importlib.import_module("eodrec.kernels.softmax_ce")
    sys.modules.setdefault("eodrec.models.fast_loss", kernels)
    base = module_at(commit, "eodrec/models/base.py", "base_baseline")
    current = sys.modules["eodrec.models.base"]
    sys.modules["eodrec.models.base"] = base
    try:
        return module_at(commit, "eodrec/models/srgnn.py", "srgnn_baseline")
    finally:
        sys.modules["eodrec.models.base"] = current


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so a step's time is its own."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="commit holding the earlier SR-GNN")
    parser.add_argument("--dataset", default="retailrocket")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    dataset = canonical_name(args.dataset)
    config = make_config("teacher", dataset, "quick", backbone="srgnn")
    data, splits = load_splits(config.data)
    torch.manual_seed(0)
    models = {"current": SRGNN(config.model, data.n_items)}
    models["baseline"] = baseline_module(args.baseline).SRGNN(config.model, data.n_items)
    models["baseline"].load_state_dict(models["current"].state_dict())
    models = {name: model.to(device) for name, model in models.items()}
    loader = iter(train_loader(splits, config.train))
    batches = [next(loader).to(device) for _ in range(args.warmup + args.steps)]
    with torch.no_grad():
        losses = {name: model.loss(batches[0]).item() for name, model in models.items()}
    optimizers = {name: torch.optim.Adam(m.parameters(), lr=1e-3) for name, m in models.items()}
    times = {name: [] for name in models}
    for index, batch in enumerate(batches):
        for name, model in models.items():
            synchronize(device)
            start = time.perf_counter()
            optimizers[name].zero_grad()
            model.loss(batch).backward()
            optimizers[name].step()
            synchronize(device)
            if index >= args.warmup:
                times[name].append(time.perf_counter() - start)
    timed = batches[args.warmup :]
    median_ms = {name: 1000 * statistics.median(t) for name, t in times.items()}
    report = {
        "dataset": args.dataset,
        "baseline_commit": args.baseline,
        "threads": args.threads,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "steps": args.steps,
        "batch_lengths": [b.items.shape[1] for b in timed],
        "batch_real_items": [int(b.mask.sum()) for b in timed],
        "first_batch_loss": losses,
        "median_step_ms": median_ms,
        "speedup_median": median_ms["baseline"] / median_ms["current"],
        "speedup_total": sum(times["baseline"]) / sum(times["current"]),
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
    }
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
