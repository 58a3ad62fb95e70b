"""On-device bundles (ExecuTorch, ONNX Runtime) rank like eager PyTorch, and bad exports fail
with one-line errors.

Needs the optional ``device`` dependencies (``pip install -e '.[device]'``); skipped without them.
"""

import pytest
import torch

from eodrec.export import (
    SUFFIXES,
    DeviceModel,
    ExportError,
    check_exportable,
    export_model,
    load_bundle,
    load_executorch,
    run_bundle,
    run_in_batches,
    save_program,
)
from eodrec.latency import same_topk
from eodrec.models.backbones import build_backbone
from eodrec.models.base import BackboneConfig
from eodrec.models.build import build_odrec, build_student
from eodrec.models.odrec import ODRecConfig
from eodrec.models.student import StudentConfig

pytest.importorskip("executorch")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

N_ITEMS = 300
LENGTH = 5
CONFIG = BackboneConfig(dim=16, n_heads=1, dropout=0.0)


def _student(n_codewords=8, n_items=N_ITEMS):
    torch.manual_seed(0)
    model = build_student(
        n_items,
        CONFIG,
        StudentConfig(
            n_codebooks=4,
            n_codewords=n_codewords,
            code_dtype="uint8" if n_codewords <= 256 else "int16",
        ),
    )
    codes = torch.randint(0, n_codewords, (n_items + 1, 4)).to(model.item_table.codes.dtype)
    model.item_table.set_codes(codes)  # distinct codes: few exact ties
    return model


def _model(kind):
    torch.manual_seed(0)
    if kind == "student":
        return _student()
    if kind == "odrec":
        return build_odrec(N_ITEMS, CONFIG, ODRecConfig((16, 19), (8, 2), rank=4))
    return build_backbone(BackboneConfig(dim=16, n_heads=1, dropout=0.0, backbone=kind), N_ITEMS)


def _sessions(n):
    torch.manual_seed(1)
    items = torch.randint(1, N_ITEMS + 1, (n, LENGTH))
    lengths = torch.randint(1, LENGTH + 1, (n,))
    return items * (torch.arange(LENGTH)[None, :] < lengths[:, None])  # right-padded


# Every model on ExecuTorch (the on-device runtime); ONNX on the two the paper compares.
@pytest.mark.parametrize(
    "kind, fmt",
    [(kind, "executorch") for kind in ("teacher", "gru4rec", "srgnn", "odrec", "student")]
    + [("odrec", "onnx"), ("student", "onnx")],
)
def test_bundle_ranks_like_eager_pytorch_on_every_batch_size(tmp_path, kind, fmt):
    model = _model(kind)
    path = save_program(export_model(model, fmt, LENGTH), tmp_path / f"{kind}{SUFFIXES[fmt]}")
    runtime = load_bundle(path)
    items = _sessions(230)  # three batches of 100, the last one filled up
    values, ids = run_in_batches(lambda batch: run_bundle(runtime, batch), items)
    with torch.no_grad():
        expected_values, expected_ids = run_in_batches(DeviceModel(model), items)
    assert values.shape == (230, 20)
    assert same_topk(expected_values, expected_ids, values, ids).all()
    assert (ids > 0).all()  # the padding id is never recommended


def test_dense_and_factorized_student_scoring_agree():
    model, items = _student(), _sessions(50)
    with torch.no_grad():
        dense = DeviceModel(model, scoring="dense")(items)
        factorized = DeviceModel(model)(items)
    assert same_topk(*dense, *factorized).all()


def test_the_student_bundle_holds_no_item_table():
    n_items = 5000  # a table large beside the program's own bytes
    teacher, student = build_backbone(CONFIG, n_items), _student(n_items=n_items)
    teacher_bytes = len(export_model(teacher, "executorch", LENGTH))
    student_bytes = len(export_model(student, "executorch", LENGTH))
    table_bytes = (n_items + 1) * CONFIG.dim * 4
    assert teacher_bytes - student_bytes > 0.8 * table_bytes


def test_codes_too_wide_for_uint8_are_refused():
    with pytest.raises(ExportError, match="uint8"):
        check_exportable(_student(n_codewords=512))


def test_a_missing_bundle_is_a_clear_error(tmp_path):
    with pytest.raises(ExportError, match="no ExecuTorch program"):
        load_executorch(tmp_path / "nothing.pte")


def test_tie_aware_topk_comparison():
    values = torch.tensor([[3.0, 2.0, 2.0, 1.0]])
    ids = torch.tensor([[7, 8, 9, 4]])
    assert same_topk(values, ids, values, torch.tensor([[7, 9, 8, 4]])).all()  # tie reordered
    assert same_topk(
        torch.tensor([[3.0, 2.0, 1.0]]), torch.tensor([[7, 8, 4]]),
        torch.tensor([[3.0, 2.0, 1.0]]), torch.tensor([[7, 8, 5]]),
    ).all()  # items 4 and 5 tie at the boundary  # fmt: skip
    assert not same_topk(values, ids, values, torch.tensor([[6, 8, 9, 4]])).any()
    assert not same_topk(values, ids, values + torch.tensor([0, 0, 0.5, 0]), ids).any()
