"""The benchmark functions: JSON-able results with a floor, ratios and hardware (toy data)."""

import json

import pytest

from eodrec.bench.evaluation import bench_eval
from eodrec.bench.floor import transformer_flops
from eodrec.bench.joint_step import bench_joint_step
from eodrec.bench.train_step import bench_train_step


def test_bench_train_step_on_toy_data():
    result = bench_train_step(
        "toy", steps=2, warmup=1, optimizers=("default", "foreach"), gemm_repeats=2
    )
    json.dumps(result)
    assert set(result["variants"]) == {
        "model/default",
        "model/foreach",
        "reference/default",
        "reference/foreach",
    }
    assert result["floor_ms"] > 0 and result["floor_padded_ms"] > 0
    for variant in result["variants"].values():
        assert variant["step_ms"] > 0
        assert variant["ratio"] == pytest.approx(variant["step_ms"] / result["floor_ms"])
    assert result["loss_check"]["rel_err"] < 1e-5
    assert "cpu_count" in result["hardware"]


def test_bench_eval_on_toy_data():
    result = bench_eval("toy", batch_size=50, max_sequences=120, gemm_repeats=2)
    json.dumps(result)
    assert result["sequences"] == 120
    assert result["rank_agreement"] == 1.0
    assert result["variants"]["model"]["sequences_per_s"] > 0


def test_transformer_flops_counts_every_matmul():
    B, L, T, N, F = 2, 3, 5, 4, 6
    linears = 4 * T * N * N + 2 * T * N * F  # q, k, v, out, FFN up and down
    attention = 2 * B * L * L * N  # Q K^T and A V
    readout = T * N * N + B * N * N + T * N  # W2, W1, f
    assert transformer_flops(B, L, T, N, F) == 2 * (linears + attention + readout)


def test_bad_variants_raise():
    with pytest.raises(ValueError):
        bench_train_step("toy", optimizers=("sgd",))


def test_bench_joint_step_on_toy_data():
    result = bench_joint_step("toy", steps=2, warmup=1, malloc=False)
    json.dumps(result)
    assert set(result["step_ms"]) == {"teacher", "joint", "joint-reference", "distill-codes"}
    assert result["ratio_to_teacher"]["teacher"] == 1.0
    assert result["loss_check"]["max_rel_err"] < 1e-4
