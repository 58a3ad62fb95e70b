"""Compositional codes: the code learner, codebooks and the student's item table."""

import warnings

import pytest
import torch

from eodrec import compression
from eodrec.data.batch import Batch
from eodrec.models import BackboneConfig, FullItemTable, Teacher
from eodrec.models.code_learning import CodeLearner, codes_from_one_hot, residual_kmeans
from eodrec.models.codes import Codebooks, CodeCollisionWarning, CompositionalItemTable, Mixup

N_ITEMS, DIM, M, K = 20, 8, 2, 8


def make_table(seed=0, **kwargs):
    torch.manual_seed(seed)
    table = CompositionalItemTable(N_ITEMS, DIM, M, K, **kwargs)
    table.set_codes(torch.randint(0, K, (N_ITEMS + 1, M)))
    return table


def make_teacher_table(seed=1):
    torch.manual_seed(seed)
    table = FullItemTable(N_ITEMS, DIM)
    torch.nn.init.uniform_(table.embedding.weight, -1.0, 1.0)
    return table


# --- code learner ------------------------------------------------------------------------------


def test_sample_is_exactly_one_hot_and_trains_the_learner():
    torch.manual_seed(0)
    learner = CodeLearner(DIM, M, K)
    X = torch.randn(30, DIM)
    y = learner.sample(X)
    assert y.shape == (30, M, K)
    assert ((y == 0) | (y == 1)).all()
    assert torch.equal(y.sum(dim=-1), torch.ones(30, M))
    codebooks = Codebooks(M, K, DIM)
    ((codebooks.compose(y) - X) ** 2).sum().backward()
    for parameter in [*learner.parameters(), codebooks.codewords]:
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0


def test_sample_follows_alpha_gumbel_max():
    # argmax(log alpha + G) ~ Categorical(alpha) whatever tau: the sample frequencies of one
    # item, drawn many times, must match its alpha.
    torch.manual_seed(0)
    learner = CodeLearner(DIM, 1, 4, init_range=1.0)
    X = torch.randn(1, DIM).expand(20_000, DIM)
    alpha = learner.probabilities(X[:1])[0, 0]  # (K,)
    with torch.no_grad():
        frequencies = learner.sample(X, torch.Generator().manual_seed(1)).mean(dim=0)[0]
    assert alpha.max() - alpha.min() > 0.05  # a non-uniform alpha, so the check has teeth
    assert torch.allclose(frequencies, alpha, atol=0.015)


def test_sample_is_reproducible_with_a_generator():
    torch.manual_seed(0)
    learner = CodeLearner(DIM, M, K)
    X = torch.randn(50, DIM)
    first = learner.sample(X, torch.Generator().manual_seed(3))
    second = learner.sample(X, torch.Generator().manual_seed(3))
    assert torch.equal(first, second)


def test_codes_are_the_noise_free_argmax_of_alpha():
    torch.manual_seed(0)
    learner = CodeLearner(DIM, M, K, init_range=1.0)
    X = torch.randn(40, DIM)
    codes = learner.codes(X)
    assert codes.dtype == torch.uint8 and codes.shape == (40, M)
    assert torch.equal(codes, learner.codes(X))
    assert torch.equal(codes.long(), learner.probabilities(X).argmax(dim=-1))
    one_hot = torch.nn.functional.one_hot(codes.long(), K)  # (40, M, K)
    assert torch.equal(codes_from_one_hot(one_hot), codes)


def test_probabilities_follow_eq_17():
    torch.manual_seed(0)
    learner = CodeLearner(DIM, M, K)
    X = torch.randn(5, DIM)
    h = torch.tanh(X @ learner.hidden.weight.T + learner.hidden.bias)  # (5, MK/2)
    logits = torch.nn.functional.softplus(h @ learner.logits.weight.T + learner.logits.bias)
    expected = logits.view(5, M, K).softmax(dim=-1)
    assert learner.hidden.out_features == M * K // 2
    assert torch.allclose(learner.probabilities(X), expected, atol=1e-6)


def test_learner_init_paper_uniform_or_pytorch_default():
    torch.manual_seed(0)
    paper = CodeLearner(64, 4, 32)
    assert all(p.abs().max() <= 0.1 for p in paper.parameters())
    default = CodeLearner(64, 4, 32, init_range=None)  # hidden: U(+-1/sqrt(64)) = 0.125
    assert default.hidden.weight.abs().max() > 0.1


def test_uint8_codes_need_k_at_most_256():
    with pytest.raises(ValueError, match="int16"):
        CodeLearner(DIM, 2, 512)
    with pytest.raises(ValueError, match="int16"):
        CompositionalItemTable(N_ITEMS, DIM, 2, 512)
    learner = CodeLearner(DIM, 2, 512, code_dtype=torch.int16)
    assert learner.codes(torch.randn(3, DIM)).dtype == torch.int16
    CodeLearner(DIM, 2, 256)  # the largest uint8 K


def test_learner_rejects_bad_arguments():
    with pytest.raises(ValueError, match="tau"):
        CodeLearner(DIM, M, K, tau=0.0)
    with pytest.raises(ValueError, match="n_codewords"):
        CodeLearner(DIM, M, 1)
    with pytest.raises(ValueError, match="code_dtype"):
        CodeLearner(DIM, M, K, code_dtype=torch.float32)


# --- codebooks ---------------------------------------------------------------------------------


def test_compose_equals_compose_codes_equals_the_sum_of_codewords():
    codebooks = Codebooks(n_codebooks=2, n_codewords=3, dim=2)
    with torch.no_grad():
        codebooks.codewords.copy_(torch.arange(12.0).view(6, 2))  # row r = [2r, 2r+1]
    codes = torch.tensor([[0, 2], [1, 0], [2, 2]], dtype=torch.uint8)
    # item 0: A[0] + A[3 + 2] = [0,1] + [10,11]; item 1: A[1] + A[3]; item 2: A[2] + A[5]
    expected = torch.tensor([[10.0, 12.0], [8.0, 10.0], [14.0, 16.0]])
    one_hot = torch.nn.functional.one_hot(codes.long(), 3).float()  # (3, M, K)
    assert torch.equal(codebooks.compose(one_hot), expected)
    assert torch.equal(codebooks.compose_codes(codes), expected)
    assert torch.equal(codebooks.compose_codes(codes.view(1, 3, 2)), expected.view(1, 3, 2))


def test_codebooks_init_in_range():
    torch.manual_seed(0)
    codewords = Codebooks(4, 32, 16).codewords
    assert codewords.shape == (128, 16)
    assert codewords.abs().max() <= 0.1 and codewords.std() > 0.03


# --- the student's item table ------------------------------------------------------------------


def test_lookup_equals_weight_rows():
    table = make_table()
    ids = torch.tensor([[1, 5, 0], [20, 3, 3]])
    looked_up = table.lookup(ids)
    assert looked_up.shape == (2, 3, DIM)
    assert torch.equal(looked_up, table.weight()[ids])
    assert torch.allclose(table.weight(), table.composite_weight())


def test_factorized_scores_equal_dense_scores_and_follow_the_mixup():
    table = make_table().eval()
    theta = torch.randn(5, DIM)
    dense = theta @ table.composite_weight().T
    assert table.score(theta).shape == (5, N_ITEMS + 1)
    assert torch.allclose(table.score(theta), dense, atol=1e-5)
    teacher = make_teacher_table()
    mixed = make_table(mixup=Mixup(teacher, eta=0.8, mixed_table_at_test=True)).eval()
    assert torch.allclose(mixed.score(theta), theta @ mixed.weight().T, atol=1e-5)
    assert not torch.allclose(mixed.score(theta), dense, atol=1e-3)


def test_factorized_scores_send_gradient_to_session_and_codewords():
    table = make_table().eval()
    theta = torch.randn(3, DIM, requires_grad=True)
    table.score(theta).pow(2).sum().backward()
    assert theta.grad.abs().sum() > 0
    assert table.codebooks.codewords.grad.abs().sum() > 0


def test_lookup_and_weight_send_gradient_to_the_codebooks_only():
    table = make_table()
    (table.lookup(torch.tensor([2, 4])).sum() + table.weight().pow(2).sum()).backward()
    assert table.codebooks.codewords.grad.abs().sum() > 0
    assert not table.codes.requires_grad


def test_state_is_codes_and_codebooks_only():
    table = make_table(mixup=Mixup(make_teacher_table(), eta=0.8))
    assert set(table.state_dict()) == {"codes", "codebooks.codewords"}
    assert [name for name, _ in table.named_parameters()] == ["codebooks.codewords"]
    assert table.codes.shape == (N_ITEMS + 1, M) and table.codes.dtype == torch.uint8
    for tensor in [*table.parameters(), *table.buffers()]:
        assert tensor.numel() < N_ITEMS * DIM


def test_state_bytes_match_compression_analytics():
    table = CompositionalItemTable(1000, 16, 4, 32)
    expected = compression.compositional_bytes(1000, 16, 4, 32) + 4  # + padding row's M codes
    assert table.state_bytes() == expected == 1001 * 4 + 4 * 32 * 16 * 4


def test_set_codes_validates():
    table = make_table()
    with pytest.raises(ValueError, match="shape"):
        table.set_codes(torch.zeros(N_ITEMS, M, dtype=torch.long))
    with pytest.raises(ValueError, match="0..7"):
        table.set_codes(torch.full((N_ITEMS + 1, M), K))
    with pytest.raises(ValueError, match="integers"):
        table.set_codes(torch.zeros(N_ITEMS + 1, M))


def test_collision_warning():
    with pytest.warns(CodeCollisionWarning, match="only 2 distinct codes for 10 items"):
        CompositionalItemTable(10, DIM, n_codebooks=1, n_codewords=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        CompositionalItemTable(16, DIM, n_codebooks=2, n_codewords=4)  # 16 codes: enough


# --- mixup (Eq. 18) ----------------------------------------------------------------------------

IDS = torch.tensor([[3, 1, 0], [7, 7, 20]])


def test_mixup_paper_convention_weights_the_teacher():
    teacher = make_teacher_table()
    X, ids = teacher.weight(), IDS
    for eta, expected in [(1.0, X), (0.0, make_table().composite_weight())]:
        table = make_table(mixup=Mixup(teacher, eta=eta))
        assert torch.equal(table.weight(), expected)
        assert torch.equal(table.lookup(ids), expected[ids])
    table = make_table(mixup=Mixup(teacher, eta=0.8))
    e = table.composite_weight()
    assert torch.allclose(table.weight(), 0.8 * X + 0.2 * e)
    assert torch.allclose(table.lookup(ids), (0.8 * X + 0.2 * e)[ids])


def test_mixup_code_convention_is_reversed():
    teacher = make_teacher_table()
    X = teacher.weight()
    composite = make_table().composite_weight()
    assert torch.equal(make_table(mixup=Mixup(teacher, 1.0, "code")).weight(), composite)
    assert torch.equal(make_table(mixup=Mixup(teacher, 0.0, "code")).weight(), X)
    code = make_table(mixup=Mixup(teacher, 0.2, "code"))
    paper = make_table(mixup=Mixup(teacher, 0.8, "paper"))
    assert torch.allclose(code.weight(), paper.weight())


def test_mixup_is_training_only_unless_switched():
    teacher = make_teacher_table()
    table = make_table(mixup=Mixup(teacher, eta=0.8)).eval()
    assert torch.equal(table.weight(), table.composite_weight())
    assert torch.equal(table.lookup(IDS), table.composite_weight()[IDS])
    table = make_table(mixup=Mixup(teacher, eta=0.8, mixed_table_at_test=True)).eval()
    assert torch.allclose(table.weight(), 0.8 * teacher.weight() + 0.2 * table.composite_weight())


def test_mixup_gradient_reaches_the_teacher_table():
    teacher = make_teacher_table()
    table = make_table(mixup=Mixup(teacher, eta=0.8))
    table.weight().sum().backward()
    assert teacher.embedding.weight.grad.abs().sum() > 0


def test_mixup_validation():
    with pytest.raises(ValueError, match="eta"):
        Mixup(make_teacher_table(), eta=1.5)
    with pytest.raises(ValueError, match="eta_convention"):
        Mixup(make_teacher_table(), eta=0.5, eta_convention="reversed")
    with pytest.raises(ValueError, match="teacher table"):
        make_table(mixup=Mixup(FullItemTable(N_ITEMS + 1, DIM), eta=0.5))


# --- end to end --------------------------------------------------------------------------------


def random_batch(generator, n_items=N_ITEMS, batch_size=16, max_length=5):
    lengths = torch.randint(1, max_length + 1, (batch_size,), generator=generator)
    items = torch.randint(1, n_items + 1, (batch_size, max_length), generator=generator)
    mask = torch.arange(max_length) < lengths[:, None]
    # the next item is a fixed function of the last one, so there is something to learn
    targets = items.gather(1, (lengths - 1)[:, None]).squeeze(1) % n_items + 1
    return Batch(items * mask, mask, lengths, targets, torch.arange(batch_size))


def test_teacher_backbone_trains_on_a_compositional_table():
    torch.manual_seed(0)
    config = BackboneConfig(dim=16, n_heads=1, dropout=0.0)
    table = CompositionalItemTable(N_ITEMS, 16, n_codebooks=2, n_codewords=8)
    table.set_codes(torch.randint(0, 8, (N_ITEMS + 1, 2)))
    model = Teacher(config, N_ITEMS, item_table=table)
    generator = torch.Generator().manual_seed(0)
    batches = [random_batch(generator) for _ in range(4)]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)

    def mean_loss():
        with torch.no_grad():
            return sum(float(model.loss(b)) for b in batches) / len(batches)

    before = mean_loss()
    for step in range(30):
        optimizer.zero_grad()
        model.loss(batches[step % len(batches)]).backward()
        assert table.codebooks.codewords.grad.abs().sum() > 0
        optimizer.step()
    assert mean_loss() < before - 0.3
    assert set(model.item_table.state_dict()) == {"codes", "codebooks.codewords"}


def test_residual_kmeans_finds_planted_codes():
    torch.manual_seed(0)
    first, second = torch.randn(4, 8) * 3, torch.randn(4, 8)  # two codebooks of 4 codewords
    planted = torch.randint(0, 4, (400, 2))
    X = first[planted[:, 0]] + second[planted[:, 1]] + 0.01 * torch.randn(400, 8)
    codes, codewords = residual_kmeans(X, n_codebooks=2, n_codewords=4, iterations=20)
    composite = codewords[codes + torch.tensor([0, 4])].sum(dim=1)
    assert codes.shape == (400, 2) and codewords.shape == (8, 8)
    assert ((composite - X) ** 2).sum(dim=1).mean() < 0.1 * ((X - X.mean(0)) ** 2).sum(1).mean()
    assert torch.equal(codes, residual_kmeans(X, 2, 4, iterations=20)[0])  # seeded


def test_residual_kmeans_needs_a_row_per_codeword():
    with pytest.raises(ValueError, match="cannot seed"):
        residual_kmeans(torch.randn(3, 4), n_codebooks=1, n_codewords=8)
