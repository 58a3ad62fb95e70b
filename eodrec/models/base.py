"""The contract every session recommender follows (teacher, student and baselines alike).

A recommender owns an item table (:mod:`eodrec.models.item_tables`) and an encoder:

* ``encode(batch) -> (B, N)``: one session vector theta_s per sequence; it is
  ``encode_with(batch, item_table.lookup)``, and ``encode_with`` reads item vectors only through
  the ``lookup`` it is given, called once on ``encoder_ids(batch)``. Distillation uses that seam
  to feed any backbone the student's mixed rows or rows gathered ahead (:mod:`eodrec.stages`);
* ``head_parameters()``: the readout parameters the authors' code leaves untrained
  (``StudentConfig.untrained_heads``); none unless a backbone says otherwise;
* ``score(session_vectors) -> (B, n_items + 1)``: dot products with every row of the item table,
  column 0 (padding) included; metrics ignore that column;
* ``loss(batch)``: softmax cross-entropy of ``score(encode(batch))`` against the targets, with
  the padding column masked to -inf so no probability is ever put on it (paper Eq. 27-28; the
  paper writes a binary CE, the authors' code and we use the softmax form, docs/method-notes.md
  §7.13);
* ``forward(batch)``: the scores.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from eodrec.data.batch import Batch
from eodrec.kernels.softmax_ce import TableGather, full_softmax_cross_entropy
from eodrec.metrics import mask_padding
from eodrec.models.item_tables import FullItemTable, ItemTable
from eodrec.models.readout import READOUT_VARIANTS, ReadoutVariant

# Backbones by name; eodrec.models.backbones maps each to its class.
BACKBONE_NAMES: tuple[str, ...] = ("teacher", "sasrec", "gru4rec", "narm", "stamp", "srgnn")


@dataclass(frozen=True)
class BackboneConfig:
    """Hyperparameters of a session encoder: the teacher's transformer or a baseline's, which read
    only dim, dropout, init_range and n_layers. Defaults are the paper's Tmall teacher."""

    dim: int = 128  # N: 128 for Tmall, 256 for RetailRocket (Sec. 6.1.3)
    n_heads: int = 1  # 1 for Tmall, 2 for RetailRocket (Sec. 6.1.3)
    n_layers: int = 1  # one attention layer is best on both datasets (Sec. 6.1.3)
    dropout: float = 0.5  # 0.5 for Tmall, 0.2 for RetailRocket (Sec. 6.1.3)
    max_length: int = 300  # rows of the position table; the authors never truncate sequences
    ffn_dim: int | None = None  # F, the FFN inner size; None means F = N as in the authors' code
    readout: ReadoutVariant = "paper"  # "paper" = Eq. 3; "code" = sas.py (tanh, padded mean)
    ffn_residual_scale: float = 1.0  # paper: a standard residual; the authors' teacher uses 4.0
    init_range: float = 0.1  # every parameter ~ U(-0.1, 0.1) (Sec. 6.1.3)
    # Which encoder turns a session into a vector (eodrec.models.backbones): the teacher's, or a
    # Table 3 baseline's. Baselines read dim, dropout, init_range and n_layers only.
    backbone: str = "teacher"

    def __post_init__(self) -> None:
        if self.dim < 1 or self.n_heads < 1 or self.dim % self.n_heads != 0:
            raise ValueError(
                f"dim ({self.dim}) must be a positive multiple of n_heads ({self.n_heads})"
            )
        if self.n_layers < 1 or self.max_length < 1:
            raise ValueError("n_layers and max_length must be positive")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.ffn_dim is not None and self.ffn_dim < 1:
            raise ValueError(f"ffn_dim must be positive or None, got {self.ffn_dim}")
        if self.readout not in READOUT_VARIANTS:
            raise ValueError(f"readout must be one of {READOUT_VARIANTS}, got {self.readout!r}")
        if self.init_range <= 0:
            raise ValueError(f"init_range must be positive, got {self.init_range}")
        if self.backbone not in BACKBONE_NAMES:
            raise ValueError(f"backbone must be one of {BACKBONE_NAMES}, got {self.backbone!r}")

    @property
    def inner_dim(self) -> int:
        """F, the resolved FFN inner size."""
        return self.dim if self.ffn_dim is None else self.ffn_dim


class SessionRecommender(nn.Module, abc.ABC):
    """Abstract next-item recommender over a pluggable item table."""

    def __init__(
        self, config: BackboneConfig, n_items: int, item_table: ItemTable | None = None
    ) -> None:
        """``config`` gives at least ``dim`` and ``init_range``; ``item_table`` (a compressed
        table, say) replaces a fresh :class:`FullItemTable` of ``n_items`` rows."""
        super().__init__()
        self.config = config
        self.item_table = checked_table(item_table, n_items, config.dim)
        self._table_given = item_table is not None

    def init_parameters_(self) -> None:
        """Draw every child module from U(-init_range, init_range), once, at the end of the
        subclass's construction; an item table passed in keeps its own initialisation."""
        for name, child in self.named_children():
            if not (self._table_given and name == "item_table"):
                init_uniform_(child, self.config.init_range)

    @property
    def n_items(self) -> int:
        return self.item_table.n_items

    @property
    def dim(self) -> int:
        return self.item_table.dim

    def encode(self, batch: Batch) -> torch.Tensor:
        """Session vectors (B, N) for the sequences of ``batch``."""
        return self.encode_with(batch, self.item_table.lookup)

    def encoder_ids(self, batch: Batch) -> torch.Tensor:
        """The item ids :meth:`encode_with` looks up: by default the padded (B, L) grid."""
        return batch.items

    @abc.abstractmethod
    def encode_with(self, batch: Batch, lookup) -> torch.Tensor:
        """Session vectors (B, N), item vectors from ``lookup(encoder_ids(batch))``."""

    def head_parameters(self) -> list[nn.Parameter]:
        """Readout parameters the authors' student never trains (docs/method-notes.md §7.5)."""
        return []

    def score(self, session_vectors: torch.Tensor) -> torch.Tensor:
        """Dot-product scores (B, n_items + 1) of every item, padding column included (Eq. 27)."""
        return self.item_table.score(session_vectors)  # (B, n_items + 1)

    def loss(self, batch: Batch) -> torch.Tensor:
        """Mean softmax cross-entropy over the batch; padding gets probability exactly 0.

        Equal to :meth:`reference_loss`; when ``score`` and ``forward`` are the standard ones it
        is computed without materialising the masked score matrix, and over a full table the
        lookups and the scoring share one table gradient (see :mod:`eodrec.kernels.softmax_ce`).
        """
        if not self._standard_scoring():
            return self.reference_loss(batch)
        if type(self.item_table) is not FullItemTable:
            return full_softmax_cross_entropy(
                self.encode(batch), self.item_table.weight(), batch.targets
            )
        tables = []

        def lookup(ids: torch.Tensor) -> torch.Tensor:
            vectors, table = TableGather.apply(self.item_table.weight(), ids)
            tables.append(table)
            return vectors

        session_vectors = self.encode_with(batch, lookup)
        return full_softmax_cross_entropy(session_vectors, tables[0], batch.targets)

    def reference_loss(self, batch: Batch) -> torch.Tensor:
        """The loss written out plainly: CE over ``score(encode(batch))`` with column 0 = -inf."""
        logits = mask_padding(self(batch))  # (B, n_items+1), column 0 = -inf
        return F.cross_entropy(logits, batch.targets)

    def _standard_scoring(self) -> bool:
        """Whether scores are exactly ``encode(batch) @ weight().T`` (no subclass override)."""
        cls = type(self)
        return cls.score is SessionRecommender.score and cls.forward is SessionRecommender.forward

    def forward(self, batch: Batch) -> torch.Tensor:
        return self.score(self.encode(batch))  # (B, n_items+1)


def checked_table(item_table: ItemTable | None, n_items: int, dim: int) -> ItemTable:
    """A model's item table: a fresh :class:`FullItemTable`, or the one given (a compressed
    table, say) once its shape is checked."""
    if item_table is None:
        return FullItemTable(n_items, dim)
    if (item_table.n_items, item_table.dim) != (n_items, dim):
        raise ValueError(
            f"item table is {item_table.n_items} items x {item_table.dim} dims, "
            f"model expects {n_items} x {dim}"
        )
    return item_table


def init_uniform_(module: nn.Module, init_range: float) -> None:
    """Draw every parameter of ``module`` from U(-init_range, init_range), in place.

    Paper Sec. 6.1.3: "All the learnable parameters are initialized with the Uniform Distribution
    U(-0.1, 0.1)". This covers LayerNorm gains and biases, Linear biases and embedding tables
    too, exactly as the authors' code does (docs/method-notes.md §2.1).
    """
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.uniform_(-init_range, init_range)
