"""The paper's reported numbers, shipped with the package so the book can compare on any machine.

Each table is the CSV transcribed from the paper (lines starting with ``#`` say what it is). These
numbers are only ever shown *beside* ours; nothing computes a result from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import pandas as pd

from eodrec.data.names import DISPLAY_NAMES, REAL_DATASETS


@dataclass(frozen=True)
class Target:
    file: str
    reference: str


TARGETS: dict[str, Target] = {
    "hyperparameters": Target("hyperparameters.csv", "Sec. 6.1.3 and 4.2.1"),
    "table1": Target("table1_compression_analytics.csv", "Table 1"),
    "table2": Target("table2_dataset_stats.csv", "Table 2"),
    "table3": Target("table3_performance.csv", "Table 3"),
    "table4": Target("table4_codebook_sweep.csv", "Table 4"),
    "table5": Target("table5_device_latency.csv", "Table 5"),
    "table6": Target("table6_generalization.csv", "Table 6"),
    "text_findings": Target("text_findings.csv", "numbers stated in the text (Sec. 6.4-6.7)"),
}

# The paper's tables name the real datasets as the book does (the data files use lower case).
PAPER_DATASET_NAMES = {name: DISPLAY_NAMES[name] for name in REAL_DATASETS}


def load_target(name: str) -> pd.DataFrame:
    """One of the paper's tables as a DataFrame; ``df.attrs['reference']`` says where it is from."""
    if name not in TARGETS:
        raise KeyError(f"unknown paper table {name!r}; choose one of: {', '.join(TARGETS)}")
    target = TARGETS[name]
    with resources.files(__package__).joinpath(target.file).open() as handle:
        frame = pd.read_csv(handle, comment="#")
    frame.attrs["reference"] = target.reference
    return frame
