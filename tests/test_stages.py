"""The student's stages: fused losses equal their plain definitions, and who gets trained."""

import pytest
import torch
import torch.nn.functional as F

from eodrec.data import pad_batch
from eodrec.distill import HotColdRecombination, joint_losses, soft_target_kl
from eodrec.kernels.joint_scores import joint_scores
from eodrec.kernels.softmax_ce import TableGather
from eodrec.metrics import mask_padding
from eodrec.models import BackboneConfig, Codebooks, CodeLearner, Teacher
from eodrec.models.build import build_student
from eodrec.models.student import StudentConfig, with_variant
from eodrec.stages import CodeLearningStage, JointStage, learned_codes

N_ITEMS, DIM = 40, 8


def _leaf(*shape):
    return torch.randn(*shape, dtype=torch.float64, requires_grad=True)


@pytest.mark.parametrize("block_rows", [4096, 7])  # one block, and several with a remainder
@pytest.mark.parametrize("w", [0.8, 0.0])  # mixed with the teacher's table, and not (w/o-m)
@pytest.mark.parametrize("kl_weight", [0.3, 0.0])
def test_joint_scores_match_cross_entropy_kl_and_mse_with_gradients(
    block_rows, w, kl_weight, monkeypatch
):
    monkeypatch.setattr("eodrec.kernels.softmax_ce.BLOCK_ROWS", block_rows)
    torch.manual_seed(0)
    theta_s, theta_t = _leaf(5, DIM), _leaf(5, DIM)
    codewords, X = _leaf(3 * 4, DIM), _leaf(N_ITEMS + 1, DIM)
    codes = torch.randint(0, 4, (N_ITEMS + 1, 3)) + torch.arange(3) * 4  # rows of codewords
    leaves = (theta_s, codewords, theta_t, X)
    targets = torch.tensor([1, 7, 40, 3, 7])
    rec, kl, mse, rec_t = joint_scores(theta_s, codewords, codes, theta_t, X, targets, w, 0.5)
    (0.7 * rec + kl_weight * kl + 1.3 * mse + 0.4 * rec_t).backward()
    fused = [t.grad.clone() for t in leaves]
    for t in leaves:
        t.grad = None
    composite = codewords[codes].sum(dim=1)  # Eq. 12
    mixed = w * X + (1 - w) * composite
    scores_s, scores_t = theta_s @ mixed.T, theta_t @ X.T
    ref_rec = F.cross_entropy(mask_padding(scores_s), targets)
    ref_kl = soft_target_kl(scores_s, scores_t)
    ref_mse = 0.5 * (composite[1:] - X[1:].detach()).pow(2).sum()
    ref_rec_t = F.cross_entropy(mask_padding(scores_t), targets)
    (0.7 * ref_rec + kl_weight * ref_kl + 1.3 * ref_mse + 0.4 * ref_rec_t).backward()
    assert torch.allclose(rec, ref_rec) and torch.allclose(kl, ref_kl)
    assert torch.allclose(rec_t, ref_rec_t)
    assert torch.allclose(mse, ref_mse)
    for got, t in zip(fused, leaves, strict=True):
        assert torch.allclose(got, t.grad)
    assert fused[3][0].abs().sum() == 0  # the teacher's padding row


def test_table_gather_of_several_lookups_sums_their_gradients():
    weight = _leaf(N_ITEMS + 1, DIM)
    a, b = torch.tensor([[1, 2, 0]]), torch.tensor([2, 2, 5])
    rows_a, rows_b, alias = TableGather.apply(weight, a, b)
    (rows_a.sum() + 2 * rows_b.sum() + alias[3].sum()).backward()
    expected = torch.zeros_like(weight)
    expected[1] += 1
    expected[2] += 1 + 2 * 2
    expected[5] += 2
    expected[3] += 1
    assert torch.equal(weight.grad, expected)  # padding row 0 gets nothing


def test_codebook_composition_gradient_matches_embedding_bag():
    books = Codebooks(3, 4, DIM)
    codes = torch.randint(0, 4, (N_ITEMS, 3))
    books.compose_codes(codes).pow(2).sum().backward()
    fast = books.codewords.grad.clone()
    books.codewords.grad = None
    rows = codes + torch.arange(3) * 4
    F.embedding_bag(rows, books.codewords, mode="sum").pow(2).sum().backward()
    assert torch.allclose(fast, books.codewords.grad)


def _joint(variant: str = "full", readout: str = "paper", **changes):
    torch.manual_seed(0)
    config = BackboneConfig(dim=DIM, n_heads=1, dropout=0.0, readout=readout)
    student_config = with_variant(StudentConfig(n_codebooks=2, n_codewords=8, **changes), variant)
    teacher = Teacher(config, N_ITEMS)
    student = build_student(N_ITEMS, config, student_config, teacher.item_table)
    student.item_table.set_codes(torch.randint(0, 8, (N_ITEMS + 1, 2)))
    hot = torch.zeros(N_ITEMS + 1, dtype=torch.bool)
    hot[1:10] = True
    recombination = HotColdRecombination(DIM, readout)
    stage = JointStage(student, teacher, recombination, hot, student_config, 1e-2, 0.0)
    batch = pad_batch([[1, 12, 3], [20, 21], [2, 5, 7, 9], [30]], [4, 22, 1, 31], range(4))
    return stage, batch


def _changed(module, before):
    return {n for n, p in module.named_parameters() if not torch.equal(p, before[n])}


def _snapshot(module):
    return {n: p.detach().clone() for n, p in module.named_parameters()}


@pytest.mark.parametrize("variant", ["full", "w/o-b", "base"])
def test_joint_step_trains_the_teacher_only_in_bidirectional_variants(variant):
    stage, batch = _joint(variant)
    teacher_before = _snapshot(stage.teacher)
    student_before = _snapshot(stage.model)
    stage.start_epoch(0)
    terms = stage.step(batch)
    assert all(torch.isfinite(torch.tensor(v)) for v in terms.values())
    assert "item_table.codebooks.codewords" in _changed(stage.model, student_before)
    assert ("item_table.embedding.weight" in _changed(stage.teacher, teacher_before)) == (
        variant == "full"
    )
    if variant == "base":
        assert terms["kl"] == 0 and terms["con"] == 0


def _losses_and_grads(stage, losses):
    """Every term of ``losses`` (a DistillationLosses) and the gradient of their Eq. 29 total with
    respect to every parameter of the stage's modules."""
    modules = stage.modules()
    for module in modules.values():
        module.zero_grad(set_to_none=True)
    losses.total(stage.config.beta, stage.config.gamma).backward()
    grads = {
        f"{name}.{p_name}": p.grad.clone()
        for name, module in modules.items()
        for p_name, p in module.named_parameters()
        if p.grad is not None
    }
    return losses.as_floats(), grads


@pytest.mark.parametrize(
    "variant, changes",
    [
        ("full", {}),
        ("full", {"teacher_rec": True}),
        ("full", {"mse_scale": "code", "eta_convention": "code"}),
        ("w/o-b", {}),
        ("w/o-m", {}),
        ("w/o-c", {}),
    ],
)
@pytest.mark.parametrize("readout", ["paper", "code"])  # packed and padded hot/cold rows
def test_fused_joint_losses_equal_joint_losses_with_gradients(variant, changes, readout):
    """The fused training path computes Eq. 29 as its plain definition does, in float64."""
    stage, batch = _joint(variant, readout=readout, **changes)
    assert stage.fused
    for module in stage.modules().values():
        module.double()
    fused, fused_grads = _losses_and_grads(stage, stage.losses(batch))
    plain_terms = joint_losses(
        stage.model, stage.teacher, stage.recombination, batch, stage.hot_mask, stage.config
    )
    plain, plain_grads = _losses_and_grads(stage, plain_terms)
    assert fused == pytest.approx(plain, rel=1e-10, abs=1e-12)
    assert fused_grads.keys() == plain_grads.keys()
    assert "model.item_table.codebooks.codewords" in fused_grads
    for name, grad in fused_grads.items():
        torch.testing.assert_close(grad, plain_grads[name], rtol=1e-8, atol=1e-10, msg=name)


@pytest.mark.parametrize(
    "variant, changes", [("base", {}), ("w/o-s", {}), ("full", {"kd_temperature": 2.0})]
)
def test_joint_stage_without_the_fused_path_computes_joint_losses(variant, changes):
    stage, batch = _joint(variant, **changes)
    assert not stage.fused
    plain = joint_losses(
        stage.model, stage.teacher, stage.recombination, batch, stage.hot_mask, stage.config
    )
    assert stage.losses(batch).as_floats() == plain.as_floats()


def test_untrained_heads_stay_at_their_init():
    stage, batch = _joint(untrained_heads=True)
    before = _snapshot(stage.model)
    stage.start_epoch(0)
    stage.step(batch)
    changed = _changed(stage.model, before)
    assert not any(name.startswith("readout.") for name in changed)
    assert "positions.weight" in changed


def test_teacher_rec_adds_the_teachers_cross_entropy_and_needs_a_trainable_teacher():
    stage, batch = _joint(teacher_rec=True)
    terms = stage.losses(batch)
    assert terms.teacher_rec is not None and terms.teacher_rec.item() > 0
    plain, _ = _joint()
    assert plain.losses(batch).teacher_rec is None
    assert terms.total(0.1, 0.3).item() == pytest.approx(
        plain.losses(batch).total(0.1, 0.3).item() + terms.teacher_rec.item(), rel=1e-5
    )
    with pytest.raises(ValueError, match="needs freeze_teacher=False"):
        StudentConfig(teacher_rec=True, freeze_teacher=True)  # i.e. with Stu-w/o-b


def _code_stage(**changes):
    torch.manual_seed(0)
    config = BackboneConfig(dim=DIM, n_heads=1, dropout=0.0)
    student_config = StudentConfig(n_codebooks=2, n_codewords=8, **changes)
    teacher = Teacher(config, N_ITEMS)
    student = build_student(N_ITEMS, config, student_config, teacher.item_table)
    learner = CodeLearner(DIM, 2, 8)
    table = teacher.item_table.weight().detach()
    stage = CodeLearningStage(student, learner, table, student_config, 1e-2, 0.0)
    batch = pad_batch([[1, 12, 3], [20, 21], [2, 5, 7, 9], [30]], [4, 22, 1, 31], range(4))
    return stage, batch


def test_code_step_samples_every_item_by_default():
    stage, batch = _code_stage()
    torch.manual_seed(1)
    stage.step(batch)
    first = stage.table.codes.clone()
    torch.manual_seed(2)
    stage.step(batch)
    assert (stage.table.codes[1:] != first[1:]).any(dim=1).sum() > N_ITEMS // 4
    assert (stage.table.codes[0] == 0).all()  # padding


def test_code_item_batch_samples_only_that_many_items_and_keeps_the_rest():
    stage, batch = _code_stage(code_item_batch=5)
    argmax = learned_codes(stage.learner, stage.teacher_table)
    assert torch.equal(stage.table.codes, argmax)  # unsampled items start at alpha's argmax
    learner_before = _snapshot(stage.learner)
    for seed in range(3):
        before = stage.table.codes.clone()
        torch.manual_seed(seed)
        stage.step(batch)
        assert (stage.table.codes != before).any(dim=1).sum() <= 5
        assert (stage.table.codes[0] == 0).all()
    assert (stage.table.codes != argmax).any()  # the sampled items took their samples
    assert _changed(stage.learner, learner_before) == {
        n for n, _ in stage.learner.named_parameters()
    }


def test_code_item_batch_is_checked():
    with pytest.raises(ValueError, match="code_item_batch must be >= 0"):
        StudentConfig(code_item_batch=-1)
    with pytest.raises(ValueError, match="needs code_item_batch=0"):
        StudentConfig(code_item_batch=64, mse_scale="code")


# --- the released code's behaviour, switched on by the released-code preset -------------------


@pytest.mark.parametrize("stage_of", [_joint, _code_stage], ids=["joint", "codes"])
def test_reset_code_optimizer_forgets_adams_moments_at_each_epochs_end(stage_of):
    for reset in (False, True):
        changes = {"freeze_teacher": True} if stage_of is _joint else {}
        stage, batch = stage_of(reset_code_optimizer=reset, **changes)
        stage.start_epoch(0)
        stage.step(batch)
        assert stage.code_optimizer.state  # moments after a step
        stage.before_evaluation()
        assert bool(stage.code_optimizer.state) != reset
        stage.step(batch)  # a fresh Adam steps as the first one did
        assert stage.code_optimizer.state


def test_frozen_teacher_dropout_puts_the_frozen_teacher_in_training_mode():
    for dropout in (False, True):
        stage, _ = _joint("w/o-b", freeze_teacher=True, frozen_teacher_dropout=dropout)
        stage.start_epoch(1)
        assert stage.teacher.training == dropout
    with pytest.raises(ValueError, match="needs freeze_teacher=True"):
        StudentConfig(frozen_teacher_dropout=True)


def test_code_learner_padding_row_samples_row_zero_too():
    stage, batch = _code_stage(code_learner_padding_row=True)
    assert stage.sampled_rows() == slice(0, None)
    sampled = set()
    for seed in range(20):
        torch.manual_seed(seed)
        stage.step(batch)
        sampled.add(tuple(stage.table.codes[0].tolist()))
    assert sampled != {(0, 0)}  # the padding row takes samples, not the constant code 0
    batched, _ = _code_stage(code_learner_padding_row=True, code_item_batch=10)
    rows = torch.cat([batched.sampled_rows() for _ in range(50)])
    assert rows.min() == 0 and rows.max() == N_ITEMS
    paper, _ = _code_stage()
    assert paper.sampled_rows() == slice(1, None)


def test_a_student_is_tested_with_its_codes_alone_and_as_released():
    stage, batch = _joint(mixed_table_at_test=True)
    stage.model.eval()
    scorings = stage.test_scorings()
    assert set(scorings) == {"test", "test_as_released"}
    table = stage.model.item_table
    with scorings["test"]:  # the session's items and the catalogue: codes alone
        assert not table.mixing
        alone = stage.model(batch)
        theta = stage.model.encode(batch)
        assert torch.allclose(alone, theta @ table.composite_weight().T, atol=1e-5)
    with scorings["test_as_released"]:
        assert table.mixing
        mixed = stage.model(batch)
    assert table.mixing  # back to the run's own setting
    assert not torch.allclose(alone, mixed)
