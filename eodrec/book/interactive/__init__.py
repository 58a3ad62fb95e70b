"""The book's figures: plotly, one per result, for exploring.

A static figure can only be read off; these answer hover with the exact value and the run that
produced it, and let a reader hide datasets. Each is built from the :mod:`eodrec.book.tables`
frame its page shows, marks the paper's value and the floors a model must beat where the paper
reports the metric, and :func:`show` writes it as plain HTML that expects the ``plotly.min.js``
the book ships (:func:`plotly_js_path`).
"""

from eodrec.book.interactive.bars import ablation_bars, audit_bars, latency_bars
from eodrec.book.interactive.base import plotly_js_path, show
from eodrec.book.interactive.curves import compression_curves, sensitivity_curves, training_curves
from eodrec.book.interactive.frontier import frontier_figure
from eodrec.book.interactive.heatmaps import code_usage_heatmaps, codebook_heatmap

__all__ = [
    "ablation_bars",
    "audit_bars",
    "code_usage_heatmaps",
    "codebook_heatmap",
    "compression_curves",
    "frontier_figure",
    "latency_bars",
    "plotly_js_path",
    "sensitivity_curves",
    "show",
    "training_curves",
]
