"""The paths a model takes while being exported (no data-dependent shapes, no custom autograd)
give the same session vectors and scores as the paths it trains and evaluates with."""

import pytest
import torch

from eodrec.models.backbones import build_backbone
from eodrec.models.base import BackboneConfig
from eodrec.models.codes import CompositionalItemTable
from eodrec.models.srgnn import session_graphs
from tests.test_models import N_ITEMS, make_batch

BATCH = make_batch([[1, 2, 3, 2, 4], [5, 6], [7], [8, 9, 10, 9]], [5, 7, 11, 12], length=7)


def exporting(monkeypatch):
    monkeypatch.setattr(torch.compiler, "is_exporting", lambda: True)


@pytest.mark.parametrize("backbone", ["teacher", "sasrec", "gru4rec", "narm", "srgnn"])
def test_export_path_encodes_like_the_training_path(monkeypatch, backbone):
    torch.manual_seed(0)
    model = build_backbone(BackboneConfig(dim=16, dropout=0.0, backbone=backbone), N_ITEMS).eval()
    with torch.no_grad():
        expected = model.encode(BATCH)
        exporting(monkeypatch)
        exported = model.encode(BATCH)
    assert torch.allclose(exported, expected, atol=1e-5)


def test_export_graphs_keep_one_node_slot_per_position(monkeypatch):
    graphs = session_graphs(BATCH)
    exporting(monkeypatch)
    padded = session_graphs(BATCH)
    n = graphs.node_items.shape[1]
    assert padded.node_items.shape == (4, 7)
    assert torch.equal(padded.node_items[:, :n], graphs.node_items)
    assert not padded.node_items[:, n:].any() and not padded.node_mask[:, n:].any()


def test_codes_compose_without_autograd_when_no_gradient_is_needed():
    torch.manual_seed(0)
    table = CompositionalItemTable(N_ITEMS, 8, 2, 4)
    trained = table.composite_weight()
    with torch.no_grad():
        inferred = table.composite_weight()
    assert trained.grad_fn is not None and inferred.grad_fn is None
    assert torch.allclose(trained, inferred)


def test_export_path_scores_codes_like_the_embedding_bag(monkeypatch):
    torch.manual_seed(0)
    table = CompositionalItemTable(N_ITEMS, 8, 2, 4).eval()
    theta = torch.randn(3, 8)
    with torch.no_grad():
        expected, composite = table.score(theta), table.composite_weight()
        exporting(monkeypatch)
        assert torch.allclose(table.score(theta), expected, atol=1e-6)
        assert torch.allclose(table.composite_weight(), composite, atol=1e-6)
