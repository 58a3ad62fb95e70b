"""On-device bundles (ExecuTorch, ONNX Runtime) rank like eager PyTorch, and bad exports fail
with one-line errors.

Needs the optional ``device`` dependencies (``pip install -e '.[device]'``); skipped without them.
"""

import pytest
import torch

from eodrec.bundles import load_bundle, load_executorch, run_bucketed
from eodrec.export import (
    CodeScores,
    DeviceModel,
    ExportError,
    bucket_of,
    buckets_for,
    check_exportable,
    export_model,
    pad_sessions,
    save_bundle,
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


def _student(n_codewords=8, n_items=N_ITEMS, n_codebooks=4):
    torch.manual_seed(0)
    model = build_student(
        n_items,
        CONFIG,
        StudentConfig(
            n_codebooks=n_codebooks,
            n_codewords=n_codewords,
            code_dtype="uint8" if n_codewords <= 256 else "int16",
        ),
    )
    codes = torch.randint(0, n_codewords, (n_items + 1, n_codebooks))
    codes = codes.to(model.item_table.codes.dtype)
    model.item_table.set_codes(codes)  # distinct codes: few exact ties
    return model


def _model(kind):
    torch.manual_seed(0)
    if kind == "student":
        return _student()
    if kind == "odrec":
        return build_odrec(N_ITEMS, CONFIG, ODRecConfig((16, 19), (8, 2), rank=4))
    return build_backbone(BackboneConfig(dim=16, n_heads=1, dropout=0.0, backbone=kind), N_ITEMS)


def _sequences(n, longest=8):
    torch.manual_seed(1)
    lengths = torch.randint(1, longest + 1, (n,)).tolist()
    return [torch.randint(1, N_ITEMS + 1, (length,)).tolist() for length in lengths]


BUCKETS = (4, 8)


# Every model on ExecuTorch (the on-device runtime); ONNX on the two the paper compares.
@pytest.mark.parametrize(
    "kind, fmt",
    [(kind, "executorch") for kind in ("teacher", "gru4rec", "srgnn", "odrec", "student")]
    + [("odrec", "onnx"), ("student", "onnx")],
)
def test_bucketed_bundle_ranks_like_eager_pytorch_one_by_one_and_in_batches(tmp_path, kind, fmt):
    model, sequences = _model(kind), _sequences(230)  # per bucket: whole batches and a rest
    save_bundle(export_model(model, fmt, BUCKETS), tmp_path / kind)
    bundle = load_bundle(tmp_path / kind, fmt, BUCKETS)
    with torch.no_grad():  # the reference: every session padded to the longest, eager
        expected = DeviceModel(model)(pad_sessions(sequences, max(BUCKETS)))
    batched = run_bucketed(bundle, sequences, BUCKETS, batch=100)
    single = run_bucketed(bundle, sequences[:20], BUCKETS, batch=1)
    assert batched[1].shape == (230, 20)
    assert same_topk(*expected, *batched).all()
    assert same_topk(expected[0][:20], expected[1][:20], *single).all()
    assert (batched[1] > 0).all()  # the padding id is never recommended


def test_a_bundle_refuses_a_shape_it_was_not_built_for_in_one_line(tmp_path):
    save_bundle(export_model(_model("teacher"), "executorch", (4,)), tmp_path / "t")
    bundle = load_bundle(tmp_path / "t", "executorch")
    assert bundle.buckets == (4,)
    with pytest.raises(
        ExportError, match=r"built for batches of \[1, 100\] sessions of \[4\]"
    ) as error:
        bundle(torch.ones(1, 8, dtype=torch.int64))
    assert len(str(error.value).splitlines()) == 1


def test_a_session_longer_than_the_largest_bucket_is_refused_in_one_line():
    assert [bucket_of(n, (8, 16, 32)) for n in (1, 8, 9, 32)] == [8, 8, 16, 32]
    with pytest.raises(
        ExportError, match=r"33 items is longer than the largest bucket \(32"
    ) as error:
        bucket_of(33, (8, 16, 32))
    assert len(str(error.value).splitlines()) == 1
    with pytest.raises(ExportError, match="longer than the largest bucket"):
        run_bucketed(lambda items: None, [[1] * 9], (8,))


def test_buckets_double_from_8_up_to_the_longest_session():
    assert buckets_for(1) == (8,)
    assert buckets_for(39) == (8, 16, 32, 64)
    assert buckets_for(127) == (8, 16, 32, 64, 128)


@pytest.mark.parametrize(
    "n_codebooks, n_codewords, paired",
    [(4, 8, True), (3, 8, True), (2, 8, True), (1, 8, False), (4, 32, False), (5, 2, True)],
)
def test_code_scores_equal_the_students_own_scoring(n_codebooks, n_codewords, paired):
    """Codebooks go in pairs when K^2 is below the item count (N_ITEMS = 300), an odd last
    one alone; either way the scores are the student's."""
    model = _student(n_codewords, n_codebooks=n_codebooks)
    code_scores = CodeScores(model.item_table)
    sessions = torch.randn(7, CONFIG.dim)
    with torch.no_grad():
        assert torch.allclose(code_scores(sessions), model.score(sessions), atol=1e-5)
    assert code_scores.paired == paired
    assert code_scores.rows.shape[0] == ((n_codebooks + 1) // 2 if paired else n_codebooks)


def test_dense_and_factorized_student_scoring_agree():
    model, items = _student(), pad_sessions(_sequences(50), 8)
    with torch.no_grad():
        dense = DeviceModel(model, scoring="dense")(items)
        factorized = DeviceModel(model)(items)
    assert same_topk(*dense, *factorized).all()


def test_the_student_bundle_holds_no_item_table():
    n_items = 5000  # a table large beside the program's own bytes
    teacher, student = build_backbone(CONFIG, n_items), _student(n_items=n_items)
    teacher_bytes = sum(map(len, export_model(teacher, "executorch", (LENGTH,)).values()))
    student_bytes = sum(map(len, export_model(student, "executorch", (LENGTH,)).values()))
    table_bytes = (n_items + 1) * CONFIG.dim * 4
    row_bytes = (n_items + 1) * 2 * 4  # CodeScores: M = 4 codebooks in 2 pairs, int32 rows
    assert teacher_bytes - student_bytes > 0.8 * table_bytes - row_bytes


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
    # the same ids, scores a float's noise apart, one just over the k-th + atol and one just
    # under it (Tmall session 23659 on ExecuTorch): the same top-k
    under, over = torch.tensor([[2.0, 1.69907]]), torch.tensor([[2.0, 1.6990702]])
    kth = torch.tensor([[1.69897]])
    both = torch.tensor([[7, 8, 4]])
    assert same_topk(torch.cat([under, kth], 1), both, torch.cat([over, kth], 1), both).all()
    assert not same_topk(values, ids, values + torch.tensor([0, 0, 0.5, 0]), ids).any()
