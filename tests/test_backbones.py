"""Every backbone through the one engine: the registry, SASRec's readout, smoke training of
each baseline, OD-Rec and the compressed NARM-dagger, and config names that stay stable."""

from pathlib import Path

import pytest
import torch

from eodrec import compression
from eodrec.config import ExperimentConfig, ParameterError, make_config
from eodrec.experiment import Experiment
from eodrec.models.backbones import BACKBONE_LABELS, BACKBONES, build_backbone
from eodrec.models.base import BACKBONE_NAMES, BackboneConfig
from eodrec.models.sasrec import SASRec
from eodrec.store import ResultsStore
from tests.test_models import BATCH, N_ITEMS

SHORT = ["epochs=1", "max_steps_per_epoch=20", "checkpoint_every=10"]


def _train(root: Path, experiment: str, overrides=()) -> dict:
    config = make_config(experiment, "toy", "smoke", [*SHORT, *overrides])
    store = ResultsStore(root / "results")
    return Experiment(config, store=store, cache_dir=root / "cache", progress=False).run()


def test_registry_names_every_backbone_once():
    assert tuple(BACKBONES) == BACKBONE_NAMES == tuple(BACKBONE_LABELS)


def test_sasrec_reads_the_last_real_position():
    torch.manual_seed(0)
    model = SASRec(BackboneConfig(dim=16, n_heads=2, dropout=0.0), N_ITEMS).eval()
    hidden = model.hidden_states(BATCH)  # (B, L, N), padded grid
    last = BATCH.lengths - 1
    expected = hidden[torch.arange(len(BATCH)), last]
    assert torch.allclose(model.encode(BATCH), expected, atol=1e-5)  # packed path
    assert model.head_parameters() == []


@pytest.mark.parametrize("backbone", BACKBONE_NAMES)
def test_each_backbone_trains_one_smoke_epoch(tmp_path, backbone):
    result = _train(tmp_path, "teacher", [f"backbone={backbone}"])
    assert result["model"] == backbone
    assert result["config"]["model"].get("backbone", "teacher") == backbone
    assert 0.0 <= result["test_metrics"]["P@10"] <= 1.0
    assert result["history"][0]["train_loss"] > 0


def test_unknown_backbone_is_a_parameter_error():
    with pytest.raises(ParameterError, match="backbone must be one of"):
        make_config("teacher", "toy", "smoke", ["backbone=bert4rec"])


def test_stored_names_survive_the_backbone_field():
    config = make_config("teacher", "Tmall", "quick")
    assert "backbone" not in config.to_dict()["model"]
    assert config.run_id == "teacher-Tmall-quick-b79c33e80b2b"  # stored in results/teacher
    narm = make_config("teacher", "Tmall", "quick", ["backbone=narm"])
    assert narm.to_dict()["model"]["backbone"] == "narm"
    assert narm.run_id != config.run_id
    assert ExperimentConfig.from_dict(narm.to_dict()) == narm


def test_odrec_config_takes_shapes_and_round_trips():
    config = make_config("odrec", "Tmall", "quick", ["item_shape=170,240", "rank=40"])
    assert config.odrec.item_shape == (170, 240) and config.odrec.rank == 40
    assert ExperimentConfig.from_dict(config.to_dict()) == config
    assert config.student is None and "student" not in config.to_dict()
    with pytest.raises(ParameterError, match="comma-separated"):
        make_config("odrec", "Tmall", "quick", ["item_shape=big"])


def test_odrec_distils_from_a_frozen_teacher_and_records_its_size(tmp_path):
    result = _train(tmp_path, "odrec")
    assert result["model"] == "odrec"
    assert result["teacher_test_metrics"] == result["teacher_start_test_metrics"]  # frozen
    size = result["compression"]
    expected = compression.sttd_compression_rate(300, 32, (16, 19), (8, 4), 8, 2)
    assert size["cr_eq10"] == pytest.approx(expected)
    assert size["student_item_bytes"] == compression.sttd_bytes((16, 19), (8, 4), 8, 2)
    assert {"train_rec", "train_kl", "train_con"} <= set(result["history"][0])
    assert result["history"][0]["train_mse"] == 0.0


def test_compressed_narm_distils_from_a_narm_teacher(tmp_path):
    result = _train(tmp_path, "student", ["backbone=narm", "code_epochs=1"])
    assert result["model"] == "narm-student"
    teacher = ResultsStore(tmp_path / "results").load(result["teacher_run"])
    assert teacher["model"] == "narm"


def test_build_backbone_keeps_a_given_table():
    config = BackboneConfig(dim=16, n_heads=2, backbone="stamp")
    first = build_backbone(config, N_ITEMS)
    again = build_backbone(config, N_ITEMS, first.item_table)
    assert again.item_table is first.item_table
