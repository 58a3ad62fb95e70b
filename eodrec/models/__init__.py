"""Session recommenders sharing one contract (see :mod:`eodrec.models.base`)."""

from eodrec.models.base import BackboneConfig, SessionRecommender, init_uniform_
from eodrec.models.code_learning import CodeLearner
from eodrec.models.codes import Codebooks, CompositionalItemTable, Mixup
from eodrec.models.item_tables import FullItemTable, ItemTable
from eodrec.models.readout import READOUT_VARIANTS, SoftAttentionReadout
from eodrec.models.teacher import (
    CausalSelfAttention,
    FeedForward,
    Teacher,
    TransformerLayer,
)

__all__ = [
    "CodeLearner",
    "Codebooks",
    "CompositionalItemTable",
    "Mixup",
    "READOUT_VARIANTS",
    "CausalSelfAttention",
    "FeedForward",
    "FullItemTable",
    "ItemTable",
    "SessionRecommender",
    "SoftAttentionReadout",
    "Teacher",
    "BackboneConfig",
    "TransformerLayer",
    "init_uniform_",
]
