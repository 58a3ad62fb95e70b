"""A trained model changed after training and tested once: the repeat mechanism's two scalars
chosen on validation, and the item table quantized.

The validation split decides; the test split is ranked once, afterwards, with the choice. Read
the choice with the split's bias in mind: in Tmall's validation prefixes the next item repeats
the last one 18.3% of the time, in its test file 9.2%, so validation favours a strong boost of
the last item.
"""

from __future__ import annotations

import torch

from eodrec.data.splits import Examples, Splits
from eodrec.evaluate import evaluate, rank_targets, scored_batches
from eodrec.metrics import evaluate_ranks, mask_padding, rank_of_target
from eodrec.models.quantize import QuantizeConfig, quantize_table_
from eodrec.models.repeat import RepeatBoost, RepeatConfig, boost

SELECT_METRIC = "NDCG@10"


def calibrate_repeat(
    model: torch.nn.Module,
    config: RepeatConfig,
    valid: Examples,
    batch_size: int = 500,
    device: torch.device | str = "cpu",
) -> tuple[RepeatBoost, list[dict]]:
    """``model`` with the grid point of best validation :data:`SELECT_METRIC` (the first, on a
    tie), and every point's validation metrics. The model scores each batch once; every grid
    point re-ranks those scores."""
    points = config.grid()
    ranks: list[list[torch.Tensor]] = [[] for _ in points]
    for batch, scores in scored_batches(model, valid.sequences, valid.targets, batch_size, device):
        log_p = torch.log_softmax(mask_padding(scores), dim=1)
        for point, found in zip(points, ranks, strict=True):
            boosted = boost(log_p, batch, point["weight"], point["decay"])
            found.append(rank_of_target(boosted, batch.targets).cpu())
    grid = [
        {**point, "valid": evaluate_ranks(torch.cat(found))}
        for point, found in zip(points, ranks, strict=True)
    ]
    best = max(range(len(grid)), key=lambda i: (grid[i]["valid"][SELECT_METRIC], -i))
    return RepeatBoost(model, **points[best]), grid


def calibrated_test(
    model: torch.nn.Module,
    config: RepeatConfig,
    splits: Splits,
    batch_size: int = 500,
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, dict]:
    """Calibrate on validation, then rank the test split once with the choice: its test ranks,
    and the result's fields (the choice, every grid point, the chosen validation metrics)."""
    boosted, grid = calibrate_repeat(model, config, splits.valid, batch_size, device)
    test = splits.test
    ranks = rank_targets(boosted, test.sequences, test.targets, batch_size, device)
    chosen = next(p for p in grid if (p["weight"], p["decay"]) == (boosted.weight, boosted.decay))
    fields = {
        "repeat": {"weight": boosted.weight, "decay": boosted.decay, "grid": grid},
        "valid_metrics": chosen["valid"],
    }
    return ranks, fields


def changed_test(
    model: torch.nn.Module,
    quantize: QuantizeConfig | None,
    repeat: RepeatConfig | None,
    splits: Splits,
    batch_size: int = 500,
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, dict]:
    """A trained model changed after training, then tested once: its item table quantized
    (``quantize``), then its repeat mechanism calibrated (``repeat``). Its test ranks and the
    result's fields (what changed, the validation metrics)."""
    fields = {}
    if quantize is not None:
        fields["quantize"] = quantize_table_(model, quantize.table_bits)
    if repeat is not None:
        ranks, calibrated = calibrated_test(model, repeat, splits, batch_size, device)
        return ranks, {**fields, **calibrated}
    valid, test = splits.valid, splits.test
    fields["valid_metrics"] = evaluate(model, valid.sequences, valid.targets, batch_size, device)
    return rank_targets(model, test.sequences, test.targets, batch_size, device), fields
