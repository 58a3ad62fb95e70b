"""Distillation: hot/cold split, recombination, InfoNCE, soft targets, MSE scales, total loss."""

import math

import pytest
import torch

from eodrec.data.batch import Batch
from eodrec.data.sessions import hot_item_mask
from eodrec.distill import (
    DistillationLosses,
    HotColdRecombination,
    embedding_mse,
    info_nce,
    soft_target_kl,
    split_hot_cold,
    total_loss,
)
from eodrec.models import BackboneConfig, FullItemTable, Teacher
from eodrec.models.codes import CompositionalItemTable, Mixup

N_ITEMS, DIM = 12, 8
HOT = torch.zeros(N_ITEMS + 1, dtype=torch.bool)
HOT[[1, 2]] = True  # hot set {1, 2}


def make_batch(sequences, length=None):
    length = length or max(len(s) for s in sequences)
    items = torch.zeros(len(sequences), length, dtype=torch.int64)
    for row, sequence in enumerate(sequences):
        items[row, : len(sequence)] = torch.tensor(sequence)
    mask = items > 0
    targets = torch.ones(len(sequences), dtype=torch.int64)
    return Batch(items, mask, mask.sum(dim=1), targets, torch.arange(len(sequences)))


BATCH = make_batch(
    [
        [1, 3, 2, 4, 1],  # 0 mixed: hot 1 2 1, cold 3 4
        [1, 2, 2],  # 1 hot only
        [3, 4],  # 2 cold only
        [5],  # 3 length 1 (cold): excluded
        [1],  # 4 length 1 (hot): excluded
        [4, 1, 4],  # 5 mixed: hot 1, cold 4 4
        [6, 6],  # 6 cold only, duplicates
    ]
)


# --- hot/cold split ----------------------------------------------------------------------------


def test_split_hot_cold_by_hand():
    views = split_hot_cold(BATCH, HOT)
    assert views.mixed_index.tolist() == [0, 5]
    assert views.hot_only_index.tolist() == [1]
    assert views.cold_only_index.tolist() == [2, 6]
    assert views.hot_items.tolist() == [[1, 2, 1, 0, 0], [1, 0, 0, 0, 0]]
    assert views.cold_items.tolist() == [[3, 4, 0, 0, 0], [4, 4, 0, 0, 0]]
    assert torch.equal(views.hot_mask, views.hot_items > 0)
    assert torch.equal(views.cold_mask, views.cold_items > 0)
    assert views.n_views == 5


def test_split_keeps_order_in_long_sessions():
    torch.manual_seed(0)
    sequence = torch.randint(1, N_ITEMS + 1, (300,)).tolist()  # the longest the model takes
    views = split_hot_cold(make_batch([sequence, [3, 4]]), HOT)
    hot = [i for i in sequence if HOT[i]]
    cold = [i for i in sequence if not HOT[i]]
    assert views.hot_items[0, : len(hot)].tolist() == hot
    assert views.cold_items[0, : len(cold)].tolist() == cold
    assert views.hot_mask[0].sum() == len(hot) and views.cold_mask[0].sum() == len(cold)


def test_split_with_no_mixed_session():
    views = split_hot_cold(make_batch([[1, 2], [3, 4, 3], [5]]), HOT)
    assert views.hot_items.shape == views.cold_items.shape == (0, 3)
    assert views.hot_mask.shape == (0, 3) and views.hot_mask.dtype == torch.bool
    assert views.mixed_index.tolist() == []
    assert views.hot_only_index.tolist() == [0]
    assert views.cold_only_index.tolist() == [1]


def test_split_with_only_length_one_sessions():
    views = split_hot_cold(make_batch([[1], [3]]), HOT)
    assert views.n_views == 0
    assert views.hot_only_index.numel() == views.cold_only_index.numel() == 0


def test_split_uses_the_popularity_mask():
    sequences = [[1, 1, 2], [1, 3], [1, 4]]  # 4 distinct items; 2 and 3 tie, 2 seen first
    mask = hot_item_mask(sequences, n_items=N_ITEMS, fraction=0.5)  # top 2: items 1, 2
    views = split_hot_cold(make_batch(sequences), mask)
    assert views.hot_only_index.tolist() == [0]
    assert views.mixed_index.tolist() == [1, 2]


# --- recombination -----------------------------------------------------------------------------


def vectors(views, table, other):
    """Each model's (hot, cold) item vectors of the views, as the joint step gathers them."""
    return (
        (table.lookup(views.hot_items), table.lookup(views.cold_items)),
        (other.lookup(views.hot_items), other.lookup(views.cold_items)),
    )


def tables(seed=0):
    torch.manual_seed(seed)
    student, teacher = FullItemTable(N_ITEMS, DIM), FullItemTable(N_ITEMS, DIM)
    for table in (student, teacher):
        torch.nn.init.uniform_(table.embedding.weight, -1.0, 1.0)
    return student, teacher


def test_recombination_follows_eq_21():
    torch.manual_seed(0)
    module = HotColdRecombination(DIM)
    student, teacher = tables()
    theta_student, theta_teacher = torch.randn(7, DIM), torch.randn(7, DIM)
    views = split_hot_cold(BATCH, HOT)
    u, v = module(views, *vectors(views, student, teacher), theta_student, theta_teacher)
    assert u.shape == v.shape == (5, DIM)

    def readout(readout_module, table, items):
        return readout_module(table.lookup(items), items > 0)

    hot_stu = readout(module.student_hot, student, views.hot_items)
    cold_stu = readout(module.student_cold, student, views.cold_items)
    hot_tea = readout(module.teacher_hot, teacher, views.hot_items)
    cold_tea = readout(module.teacher_cold, teacher, views.cold_items)
    W_s, W_t = module.student_projection.weight, module.teacher_projection.weight  # (N, 2N)
    assert W_s.shape == (DIM, 2 * DIM) and module.student_projection.bias is None
    assert torch.allclose(u[:2], torch.cat([hot_stu, cold_tea], 1) @ W_s.T, atol=1e-6)
    assert torch.allclose(v[:2], torch.cat([hot_tea, cold_stu], 1) @ W_t.T, atol=1e-6)
    singles = [2, 6, 1]  # cold-only first, then hot-only: swapped full-session vectors
    assert torch.equal(u[2:], theta_teacher[singles])
    assert torch.equal(v[2:], theta_student[singles])


def test_recombination_with_no_mixed_session_and_gradients():
    module = HotColdRecombination(DIM)
    student, teacher = tables()
    theta_student = torch.randn(3, DIM, requires_grad=True)
    theta_teacher = torch.randn(3, DIM, requires_grad=True)
    views = split_hot_cold(make_batch([[1, 2], [3, 4, 3], [5]]), HOT)
    u, v = module(views, *vectors(views, student, teacher), theta_student, theta_teacher)
    assert u.shape == v.shape == (2, DIM)
    info_nce(u, v).backward()
    assert theta_student.grad[:2].abs().sum() > 0 and theta_teacher.grad[:2].abs().sum() > 0


def test_recombination_parameter_ownership():
    module = HotColdRecombination(DIM)
    student, teacher = module.student_parameters(), module.teacher_parameters()
    assert {id(p) for p in student} | {id(p) for p in teacher} == {
        id(p) for p in module.parameters()
    }
    assert not {id(p) for p in student} & {id(p) for p in teacher}
    assert all(p.abs().max() <= 0.1 for p in module.parameters())


# --- InfoNCE -----------------------------------------------------------------------------------


def test_info_nce_known_value():
    B, tau = 4, 0.2
    u = torch.eye(B, 6) * 3.0  # orthogonal rows; the scale must not matter
    expected = -math.log(math.exp(1 / tau) / (math.exp(1 / tau) + (B - 1)))
    assert info_nce(u, torch.eye(B, 6), tau).item() == pytest.approx(expected, rel=1e-6)
    assert info_nce(u, u, tau, reduction="sum").item() == pytest.approx(B * expected, rel=1e-6)
    assert info_nce(u, u, tau, symmetric=True).item() == pytest.approx(expected, rel=1e-6)


def test_info_nce_rises_when_positives_are_shuffled():
    torch.manual_seed(0)
    u = torch.randn(8, DIM)
    v = u + 0.1 * torch.randn(8, DIM)
    aligned = info_nce(u, v)
    assert info_nce(u, v.roll(1, dims=0)) > aligned + 1.0


def test_info_nce_is_student_anchored():
    torch.manual_seed(0)
    u, v = torch.randn(5, DIM), torch.randn(5, DIM)
    un, vn = torch.nn.functional.normalize(u, dim=1), torch.nn.functional.normalize(v, dim=1)
    logits = un @ vn.T / 0.2
    expected = -(logits.diag() - logits.logsumexp(dim=1)).mean()  # softmax over each u row
    assert info_nce(u, v).item() == pytest.approx(expected.item(), rel=1e-5)
    assert info_nce(u, v).item() != pytest.approx(info_nce(v, u).item(), rel=1e-3)
    symmetric = 0.5 * (info_nce(u, v) + info_nce(v, u))
    assert info_nce(u, v, symmetric=True).item() == pytest.approx(symmetric.item(), rel=1e-5)


def test_info_nce_empty_is_zero_and_bad_inputs_raise():
    u = torch.zeros(0, DIM, requires_grad=True)
    loss = info_nce(u, torch.zeros(0, DIM))
    loss.backward()
    assert loss.item() == 0.0
    with pytest.raises(ValueError, match="matching"):
        info_nce(torch.zeros(3, DIM), torch.zeros(2, DIM))
    with pytest.raises(ValueError, match="reduction"):
        info_nce(torch.zeros(3, DIM), torch.zeros(3, DIM), reduction="none")


# --- soft targets ------------------------------------------------------------------------------


def test_soft_target_kl_is_zero_for_equal_logits():
    logits = torch.randn(3, N_ITEMS + 1)
    assert soft_target_kl(logits, logits.clone()).item() == pytest.approx(0.0, abs=1e-6)


def test_soft_target_kl_by_hand():
    # padding column first; real items 1..2. Session 0: p_tea = (1/2, 1/2),
    # p_stu = softmax(0, ln 3) = (1/4, 3/4); session 1: both uniform.
    student = torch.tensor([[9.0, 0.0, math.log(3.0)], [-5.0, 1.0, 1.0]])
    teacher = torch.tensor([[-7.0, 2.0, 2.0], [4.0, 0.0, 0.0]])
    session0 = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
    assert soft_target_kl(student, teacher).item() == pytest.approx(session0, rel=1e-6)
    mean = soft_target_kl(student, teacher, reduction="mean").item()
    assert mean == pytest.approx(session0 / 2, rel=1e-6)
    # T = 2 halves the logits: p_stu = softmax(0, ln 3 / 2) = (1, sqrt 3)/(1 + sqrt 3)
    p = 1 / (1 + math.sqrt(3))
    hot = 0.5 * math.log(0.5 / p) + 0.5 * math.log(0.5 / (1 - p))
    assert soft_target_kl(student, teacher, temperature=2.0).item() == pytest.approx(hot, rel=1e-6)


def test_soft_target_kl_ignores_the_padding_column():
    torch.manual_seed(0)
    student, teacher = torch.randn(4, N_ITEMS + 1), torch.randn(4, N_ITEMS + 1)
    reference = soft_target_kl(student, teacher)
    student[:, 0], teacher[:, 0] = 100.0, -100.0
    assert soft_target_kl(student, teacher).item() == pytest.approx(reference.item(), rel=1e-6)


def test_soft_target_kl_trains_both_sides():
    torch.manual_seed(0)
    student = torch.randn(4, N_ITEMS + 1, requires_grad=True)
    teacher = torch.randn(4, N_ITEMS + 1, requires_grad=True)
    soft_target_kl(student, teacher).backward()
    assert student.grad[:, 1:].abs().sum() > 0 and teacher.grad[:, 1:].abs().sum() > 0
    assert student.grad[:, 0].abs().sum() == 0 and teacher.grad[:, 0].abs().sum() == 0
    teacher.grad = None
    soft_target_kl(student, teacher, detach_teacher=True).backward()
    assert teacher.grad is None


# --- MSE and total -----------------------------------------------------------------------------


def test_embedding_mse_scales():
    composite = torch.tensor([[1.0, 2.0, 0.0], [0.0, 0.0, 0.0]])
    teacher = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 2.0]])
    # sum of squared distances = (1 + 4) + 4 = 9 over |V| = 2 items, N = 3
    assert embedding_mse(composite, teacher).item() == pytest.approx(9 / 2)
    assert embedding_mse(composite, teacher, scale="code").item() == pytest.approx(9 / (4 * 3))
    torch.manual_seed(0)
    e, X = torch.randn(7, 5), torch.randn(7, 5)
    ratio = embedding_mse(e, X) / embedding_mse(e, X, scale="code")
    assert ratio.item() == pytest.approx(7 * 5, rel=1e-6)
    with pytest.raises(ValueError, match="scale"):
        embedding_mse(e, X, scale="mean")


def test_embedding_mse_moves_the_composite_not_the_teacher():
    e = torch.randn(4, 3, requires_grad=True)
    X = torch.randn(4, 3, requires_grad=True)
    embedding_mse(e, X).backward()
    assert e.grad.abs().sum() > 0 and X.grad is None
    embedding_mse(e, X, detach_teacher=False).backward()
    assert X.grad.abs().sum() > 0


def test_total_loss_is_eq_29():
    terms = DistillationLosses(*(torch.tensor(x) for x in (1.0, 2.0, 3.0, 5.0)))
    assert total_loss(*terms[:4], beta=0.1, gamma=0.3).item() == pytest.approx(1 + 2 + 0.9 + 0.5)
    assert terms.total(beta=0.1, gamma=0.3).item() == pytest.approx(4.4)
    assert terms.as_floats() == {"rec": 1.0, "mse": 2.0, "kl": 3.0, "con": 5.0}
    with_teacher = terms._replace(teacher_rec=torch.tensor(0.25))
    assert with_teacher.total(beta=0.1, gamma=0.3).item() == pytest.approx(4.65)
    assert with_teacher.as_floats()["teacher_rec"] == 0.25


# --- end to end --------------------------------------------------------------------------------


def test_one_bidirectional_step_reaches_every_part():
    torch.manual_seed(0)
    config = BackboneConfig(dim=DIM, n_heads=1, dropout=0.0)
    teacher = Teacher(config, N_ITEMS)
    table = CompositionalItemTable(N_ITEMS, DIM, n_codebooks=2, n_codewords=4)
    table.set_codes(torch.randint(0, 4, (N_ITEMS + 1, 2)))
    table.set_mixup(Mixup(teacher.item_table, eta=0.8))
    student = Teacher(config, N_ITEMS, item_table=table)
    recombination = HotColdRecombination(DIM)

    theta_student, theta_teacher = student.encode(BATCH), teacher.encode(BATCH)
    student_logits, teacher_logits = student.score(theta_student), teacher.score(theta_teacher)
    views = split_hot_cold(BATCH, HOT)
    u, v = recombination(
        views, *vectors(views, table, teacher.item_table), theta_student, theta_teacher
    )
    losses = DistillationLosses(
        rec=torch.nn.functional.cross_entropy(student_logits[:, 1:], BATCH.targets - 1),
        mse=embedding_mse(table.composite_weight()[1:], teacher.item_table.weight()[1:]),
        kl=soft_target_kl(student_logits, teacher_logits),
        con=info_nce(u, v),
    )
    losses.total(beta=0.5, gamma=0.3).backward()
    parts = [table.codebooks.codewords, teacher.item_table.weight(), *recombination.parameters()]
    parts += [student.readout.item_proj.weight, teacher.readout.item_proj.weight]
    for parameter in parts:
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0


def test_recombination_reads_packed_real_tokens_as_the_padded_grid():
    module = HotColdRecombination(DIM)
    student, teacher = tables()
    theta_student, theta_teacher = torch.randn(7, DIM), torch.randn(7, DIM)
    views = split_hot_cold(BATCH, HOT)
    hot, cold = module.readout_ids(views)
    assert hot.dim() == 1 and len(hot) == int(views.hot_mask.sum())
    packed = module(
        views,
        (student.lookup(hot), student.lookup(cold)),
        (teacher.lookup(hot), teacher.lookup(cold)),
        theta_student,
        theta_teacher,
    )
    padded = module(views, *vectors(views, student, teacher), theta_student, theta_teacher)
    for got, want in zip(packed, padded, strict=True):
        assert torch.allclose(got, want, atol=1e-6)
