"""Table 3 with every method, Table 6, Table 4 and the sensitivity tables, from hand-built
results whose expected cells are computed by hand."""

import math

import pytest

from eodrec.book.tables import fig4_sensitivity, table3_methods, table4_sweep, table6_backbones
from tests.test_tables_student import metrics, student, teacher


def backbone(name, dataset="Tmall", p10=0.2, ndcg10=0.1):
    return {**teacher(dataset, p10, ndcg10), "id": f"teacher-{dataset}-{name}", "model": name}


def narm_student(dataset="Tmall", p10=0.22, ndcg10=0.12):
    return {**student(dataset, p10=p10, ndcg10=ndcg10), "model": "narm-student"}


def with_metrics(result, valid, test=None):
    """``result`` with validation NDCG@10 ``valid`` (and test P@10/NDCG@10 ``test``)."""
    return {
        **result,
        "valid_metrics": metrics(valid, valid),
        **({"test_metrics": metrics(*test)} if test else {}),
    }


def test_table3_names_every_method_and_keeps_the_papers_order():
    results = [backbone(b) for b in ("gru4rec", "narm", "stamp", "srgnn", "sasrec")]
    results += [teacher(), {**teacher(), "id": "odrec", "model": "odrec"}, student()]
    cells = table3_methods.table3(results, table3_methods.TABLE3_METHODS)
    tmall = cells[cells["dataset"] == "Tmall"]
    assert list(dict.fromkeys(tmall["method"])) == table3_methods.TABLE3_METHODS
    narm = tmall[(tmall["method"] == "NARM") & (tmall["quantity"] == "P@10")].iloc[0]
    assert narm["paper"] == 19.68 and narm["ours"] == pytest.approx(20.0)
    assert narm["difference"] == pytest.approx(0.32)


def test_table3_ignores_a_compressed_backbone_and_an_ablation():
    results = [teacher(), narm_student(), student(variant="base")]
    cells = table3_methods.table3(results, table3_methods.TABLE3_METHODS)
    assert cells[cells["method"] == "Student"]["ours"].isna().all()


def test_table6_and_the_gain_of_each_compressed_backbone():
    results = [backbone("narm", p10=0.20, ndcg10=0.10), narm_student(p10=0.25, ndcg10=0.12)]
    cells = table6_backbones.table6(results)
    assert list(dict.fromkeys(cells["model"])) == table6_backbones.TABLE6_MODELS
    gain = table6_backbones.backbone_gain(cells).set_index(["backbone", "dataset", "metric"])
    narm = gain.loc[("NARM", "Tmall", "P@10")]
    assert narm["ours gain (%)"] == pytest.approx(25.0)
    assert narm["paper gain (%)"] == pytest.approx(100 * (24.68 / 19.68 - 1))
    assert math.isnan(gain.loc[("SR-GNN", "Tmall", "P@10"), "ours gain (%)"])  # no SR-GNN runs


def test_table4_sets_each_shape_beside_the_papers_row():
    results = [student(shape=(1, 32), p10=0.25), student(shape=(4, 32), p10=0.27)]
    for r, cr in zip(results, (115.0, 29.1), strict=True):
        r["compression"] = {**r["compression"], "cr_eq13": cr}
    cells = table4_sweep.table4(results).set_index(["dataset", "M", "K", "quantity"])
    assert cells.loc[("Tmall", 1, 32, "CR"), "paper"] == 116
    assert cells.loc[("Tmall", 1, 32, "CR"), "difference"] == pytest.approx(-1.0)
    assert cells.loc[("Tmall", 4, 32, "P@10"), "ours"] == pytest.approx(27.0)
    assert math.isnan(cells.loc[("Tmall", 5, 512, "P@10"), "ours"])  # not trained
    with pytest.raises(ValueError, match="more than one result"):
        table4_sweep.table4([results[0], results[0]])


def test_best_setting_is_chosen_on_validation_not_test():
    runs = [
        with_metrics(student(beta=b), valid=v, test=t)
        for b, v, t in ((0.01, 0.30, (0.10, 0.05)), (0.5, 0.20, (0.40, 0.20)))
    ]
    best = fig4_sensitivity.best_setting(runs, "beta").iloc[0]
    assert best["best beta (validation NDCG@10)"] == 0.01  # despite the better test at 0.5
    assert best["paper's best beta"] == 0.01
    assert best["test P@10 (%)"] == pytest.approx(10.0)
    curves = fig4_sensitivity.sensitivity(runs, "beta")
    assert len(curves) == 2 * 2 * 2  # values x splits x metrics
    assert sorted(curves["beta"].unique()) == [0.01, 0.5]
