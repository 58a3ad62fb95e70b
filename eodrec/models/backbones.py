"""The session encoders by name: the teacher's and the Table 3 baselines'.

Every backbone takes ``(config: BackboneConfig, n_items, item_table=None)`` and follows the
contract of :mod:`eodrec.models.base`, so the training loop, the metrics and the compressed
student (Table 6's NARM-dagger and SR-GNN-dagger) work with any of them unchanged.
"""

from __future__ import annotations

from eodrec.models.base import BackboneConfig, SessionRecommender
from eodrec.models.gru4rec import GRU4Rec
from eodrec.models.item_tables import ItemTable
from eodrec.models.narm import NARM
from eodrec.models.sasrec import SASRec
from eodrec.models.srgnn import SRGNN
from eodrec.models.stamp import STAMP
from eodrec.models.teacher import Teacher

BACKBONES: dict[str, type[SessionRecommender]] = {
    "teacher": Teacher,
    "sasrec": SASRec,
    "gru4rec": GRU4Rec,
    "narm": NARM,
    "stamp": STAMP,
    "srgnn": SRGNN,
}
# How Table 3 names each backbone's full-table model.
BACKBONE_LABELS: dict[str, str] = {
    "teacher": "Teacher",
    "sasrec": "SASRec",
    "gru4rec": "GRU4Rec",
    "narm": "NARM",
    "stamp": "STAMP",
    "srgnn": "SR-GNN",
}


def build_backbone(
    config: BackboneConfig, n_items: int, item_table: ItemTable | None = None
) -> SessionRecommender:
    """The model ``config.backbone`` names, over a full table or the ``item_table`` given."""
    return BACKBONES[config.backbone](config, n_items, item_table)
