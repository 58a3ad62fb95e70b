"""eodrec's own on-device operators: the C++ kernels ExecuTorch runs compute what their PyTorch
definitions do, and a bundle built with them ranks like eager PyTorch.

Needs ExecuTorch and a C++ compiler; skipped without them."""

import shutil

import pytest
import torch

from eodrec import device_ops
from eodrec.bundles import load_bundle, run_bucketed
from eodrec.export import (
    DeviceModel,
    ExportError,
    export_model,
    lower_to_executorch,
    pad_sessions,
    save_bundle,
)
from eodrec.latency import same_topk
from eodrec.models.backbones import build_backbone
from eodrec.models.base import BackboneConfig
from eodrec.models.build import build_student
from eodrec.models.student import StudentConfig

pytest.importorskip("executorch")
if not any(shutil.which(c) for c in device_ops.COMPILERS):
    pytest.skip("no C++ compiler to build eodrec's kernels", allow_module_level=True)

CONFIG = BackboneConfig(dim=16, n_heads=1, dropout=0.0)


class _Ops(torch.nn.Module):
    def forward(self, partial, rows, scores):
        values, ids = device_ops.code_top_k(partial, rows, 5, 1)
        return device_ops.code_scores(partial, rows), device_ops.top_k(scores, 5, 1), values, ids


def _run_on_executorch(module, *inputs):
    from executorch.runtime import Runtime

    device_ops.load_runtime_kernels()
    program = lower_to_executorch({"forward": torch.export.export(module, inputs)})
    return Runtime.get().load_program(program).load_method("forward").execute(list(inputs))


def test_the_kernels_compute_what_the_pytorch_definitions_do():
    torch.manual_seed(0)
    partial, rows = torch.randn(24, 3), torch.randint(0, 24, (150, 4), dtype=torch.int32)
    scores = torch.randn(3, 150)
    scores[0, 1:] = 0.0  # all tied: the lower columns win
    scores[1, 0] = 99.0  # column 0 (the padding) is never a candidate
    partial[23] = 100.0
    rows[[130, 10, 120]] = 23  # a three-way tie at the top: the lower ids first
    got_scores, got_ids, fused_values, fused_ids = _run_on_executorch(_Ops(), partial, rows, scores)
    by_definition = partial[rows.long()].sum(dim=1).T  # item v: sum of its rows of partial
    assert torch.allclose(got_scores, by_definition, atol=1e-6)
    # one pass, no scores written: the same top-5 of columns 1.. as ranking the scores
    expected_values, _ = by_definition[:, 1:].topk(5)
    assert torch.allclose(fused_values, expected_values, atol=1e-5)
    assert torch.allclose(by_definition.gather(1, fused_ids), fused_values, atol=1e-5)
    assert fused_ids[:, :3].tolist() == [[10, 120, 130]] * 3
    assert got_ids[0].tolist() == [1, 2, 3, 4, 5]
    expected = scores[1:, 1:].topk(5).indices + 1
    assert torch.equal(got_ids[1:], expected)  # no ties among random scores


def test_a_row_index_outside_the_partial_scores_fails_instead_of_reading_memory():
    partial, rows = torch.randn(8, 2), torch.tensor([[0, 9]], dtype=torch.int32)
    with pytest.raises(RuntimeError):
        _run_on_executorch(_Ops(), partial, rows, torch.randn(2, 10))


@pytest.mark.parametrize("kind", ["teacher", "student"])
def test_a_bundle_with_eodrec_ops_ranks_like_eager_pytorch(tmp_path, kind):
    torch.manual_seed(0)
    if kind == "student":
        model = build_student(300, CONFIG, StudentConfig(n_codebooks=3, n_codewords=8))
        model.item_table.set_codes(torch.randint(0, 8, (301, 3)).to(torch.uint8))
    else:
        model = build_backbone(CONFIG, 300)
    save_bundle(export_model(model, "executorch", (8,), ops="eodrec"), tmp_path / kind)
    bundle = load_bundle(tmp_path / kind, "executorch", ops="eodrec")
    sequences = [torch.randint(1, 301, (n,)).tolist() for n in torch.randint(1, 9, (120,))]
    with torch.no_grad():
        expected = DeviceModel(model)(pad_sessions(sequences, 8))
    assert same_topk(*expected, *run_bucketed(bundle, sequences, (8,), batch=100)).all()
    assert same_topk(
        *[e[:5] for e in expected], *run_bucketed(bundle, sequences[:5], (8,), 1)
    ).all()


def test_eodrec_ops_are_refused_for_onnx_in_one_line():
    with pytest.raises(ExportError, match="needs the executorch format") as error:
        export_model(build_backbone(CONFIG, 50), "onnx", (8,), ops="eodrec")
    assert len(str(error.value).splitlines()) == 1


def test_without_a_compiler_building_the_kernels_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(device_ops.shutil, "which", lambda name: None)
    with pytest.raises(device_ops.DeviceOpsError, match="needs a C\\+\\+ compiler"):
        device_ops.runtime_library(tmp_path)  # an empty cache: it must build


def test_benchmarks_learn_why_the_kernels_cannot_run_here(tmp_path, monkeypatch):
    assert device_ops.unavailable_reason() is None  # this machine builds them
    monkeypatch.setattr(device_ops, "_loaded", {})  # as in a fresh process
    monkeypatch.setattr(device_ops.shutil, "which", lambda name: None)
    assert "needs a C++ compiler" in device_ops.unavailable_reason(tmp_path)
