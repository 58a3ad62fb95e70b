"""A trained teacher's item table quantized after training (``--set table_bits=8``)."""

import pytest
import torch

from eodrec.config import ParameterError, make_config
from eodrec.experiment import Experiment
from eodrec.models.quantize import quantize_rows, quantized_table_bytes
from eodrec.store import ResultsStore


@pytest.mark.parametrize("bits", [8, 4])
def test_quantized_rows_are_within_half_a_step_and_take_few_levels(bits):
    weight = torch.randn(50, 16, generator=torch.Generator().manual_seed(0))
    weight[0] = 0.0  # a padding row
    restored = quantize_rows(weight, bits)
    step = weight.abs().amax(dim=1, keepdim=True) / (2 ** (bits - 1) - 1)
    assert ((restored - weight).abs() <= step / 2 + 1e-6).all()
    assert torch.equal(restored[0], weight[0])
    pairs = zip(restored[1:], step[1:], strict=True)
    levels = [len(torch.unique((row / s).round())) for row, s in pairs]
    assert max(levels) <= 2**bits - 1
    # each row keeps its largest entry exactly: the scale is set by it
    assert torch.allclose(restored.abs().amax(dim=1), weight.abs().amax(dim=1))


def test_quantized_bytes_pack_the_entries_and_add_a_scale_per_row():
    assert quantized_table_bytes(10, 32, 8) == 10 * (32 + 4)
    assert quantized_table_bytes(10, 32, 4) == 10 * (16 + 4)
    assert quantized_table_bytes(10, 3, 4) == 10 * (2 + 4)  # half a byte rounds up


def test_quantized_teacher_is_its_own_run_of_the_stored_teacher(tmp_path):
    store, cache = ResultsStore(tmp_path / "results"), tmp_path / "cache"
    short = ["epochs=2", "checkpoint_every=10"]
    teacher = Experiment(make_config("teacher", "toy", "smoke", short), store=store,
                         cache_dir=cache, progress=False).run()  # fmt: skip
    config = make_config("teacher", "toy", "smoke", [*short, "table_bits=8"])
    result = Experiment(config, store=store, cache_dir=cache, progress=False).run()
    assert result["model"] == "teacher@int8" and result["base_run"] == teacher["id"]
    n_rows, dim = 301, config.model.dim
    assert result["quantize"]["item_bytes"] == n_rows * (dim + 4)
    assert 0 < result["quantize"]["max_abs_change"] < 0.01
    # int8 barely moves a ranking: the metrics stay within a point of the teacher's
    for name in ("P@10", "NDCG@10"):
        assert abs(result["test_metrics"][name] - teacher["test_metrics"][name]) < 0.01
    assert (store.root / "teacher" / f"{config.run_id}.ranks.npz").exists()


def test_only_a_teacher_table_is_quantized():
    with pytest.raises(ParameterError, match="teacher's full item table"):
        make_config("student", "Tmall", "quick", ["table_bits=8"])
    with pytest.raises(ParameterError, match="table_bits must be one of"):
        make_config("teacher", "Tmall", "quick", ["table_bits=2"])
