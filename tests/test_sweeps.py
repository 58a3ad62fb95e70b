"""Sweeps on a real Dask LocalCluster: grids, shared work, resume, failures, one writer."""

import json
import os
from dataclasses import replace

import pytest

from eodrec.config import ParameterError, make_config, teacher_config
from eodrec.experiment import code_learning_key
from eodrec.store import ResultsStore
from eodrec.sweeps import FIG5_ETAS, Paths, grid_configs, run_sweep, usable_cores


def test_grids_cover_the_papers_values():
    table4 = grid_configs("table4", "quick", ["Tmall"])
    shapes = {(c.student.n_codebooks, c.student.n_codewords) for c in table4}
    assert len(table4) == len(shapes) == 20
    assert all(
        c.student.code_dtype == ("int16" if c.student.n_codewords > 256 else "uint8")
        for c in table4
    )
    assert {(c.train.epochs, c.train.max_steps_per_epoch) for c in table4} == {(1, 600)}  # budget
    assert {c.student.code_item_batch for c in table4} == {2048}
    assert {c.student.code_item_batch for c in grid_configs("fig4_beta", "quick")} == {0}
    assert {c.student.code_item_batch for c in grid_configs("table4", "smoke")} == {0}
    etas = grid_configs("fig5_eta", "quick")
    assert sorted({c.student.eta for c in etas}) == list(FIG5_ETAS)
    assert {c.data.dataset for c in etas} == {"Tmall", "retailrocket"}
    # every eta of a dataset distils from one teacher with one set of codes
    tmall = [c for c in etas if c.data.dataset == "Tmall"]
    assert len({teacher_config(c).run_id for c in tmall}) == 1
    assert len({code_learning_key(c) for c in tmall}) == 1


def test_unknown_sweep_is_a_parameter_error():
    with pytest.raises(ParameterError, match="unknown sweep 'table7'"):
        grid_configs("table7", "smoke")


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    paths = Paths(None, root / "results", root / "cache")
    configs = [
        replace(c, train=replace(c.train, epochs=1, max_steps_per_epoch=10))
        for c in grid_configs("fig4_beta", "smoke")
    ]
    return paths, configs, run_sweep(configs, paths, workers=2, progress=False)


def test_sweep_trains_the_teacher_then_every_point_and_stores_them(swept):
    paths, configs, report = swept
    assert report.failed == {}
    teacher = teacher_config(configs[0]).run_id
    assert sorted(report.trained) == sorted([teacher, *(c.run_id for c in configs)])
    store = ResultsStore(paths.results)
    betas = [store.find(c)["config"]["student"]["beta"] for c in configs]
    assert betas == [c.student.beta for c in configs]


def test_rerun_after_an_interruption_trains_only_the_missing_point(swept):
    paths, configs, _ = swept
    store = ResultsStore(paths.results)
    lost = store.path(configs[1].run_id)
    kept = store.path(configs[0].run_id)
    before = kept.read_text()
    lost.unlink()
    report = run_sweep(configs, paths, workers=2, progress=False)
    assert report.trained == [configs[1].run_id]
    assert report.stored == [configs[0].run_id]
    assert kept.read_text() == before
    assert json.loads(lost.read_text())["id"] == configs[1].run_id


def test_a_failing_point_is_reported_and_the_others_finish(tmp_path):
    paths = Paths(None, tmp_path / "results", tmp_path / "cache")
    good = make_config("teacher", "toy", "smoke", ["epochs=1", "max_steps_per_epoch=5"])
    bad = make_config("teacher", "toy", "smoke", ["epochs=1", "max_length=2"])  # too short
    report = run_sweep([bad, good], paths, workers=2, progress=False)
    assert report.trained == [good.run_id]
    assert list(report.failed) == [bad.run_id]
    assert "max_length=2" in report.failed[bad.run_id]


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this OS")
def test_usable_cores_follow_the_cpu_affinity():
    everything = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(everything)})
        assert usable_cores() == 1
    finally:
        os.sched_setaffinity(0, everything)
    assert usable_cores() == len(everything)
