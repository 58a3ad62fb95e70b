import math

import pytest
import torch

from eodrec import compression as c
from eodrec.models.sttd import STTDItemTable

TINY = dict(item_shape=(3, 4), dim_shape=(2, 4), rank=4, stp_n=2)  # I1 I2 = 12, N = 8, p = 2
TMALL = dict(item_shape=(169, 241), dim_shape=(16, 8), rank=60, stp_n=2)
RR = dict(item_shape=(117, 316), dim_shape=(16, 16), rank=100, stp_n=2)


def tiny_table(n_items: int = 10) -> STTDItemTable:
    torch.manual_seed(0)
    return STTDItemTable(n_items, 8, **TINY)


def semi_tensor_product(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """Eq. 6-8 literally: A (H, n·p) ⋉ B (p, Q) -> C (H, n·Q), block C^{hq} = A(h,:) ⋉ B(:,q)."""
    H, p, Q = A.shape[0], B.shape[0], B.shape[1]
    n = A.shape[1] // p
    C = torch.zeros(H, n * Q)
    for h in range(H):
        for q in range(Q):
            a, b = A[h], B[:, q]
            C[h, q * n : (q + 1) * n] = sum(a[i * n : (i + 1) * n] * b[i] for i in range(p))
    return C


def test_weight_follows_the_entry_formula():
    table = tiny_table()
    G1, G2 = table.G1.detach(), table.G2.detach()
    (I1, I2), (J1, J2), n, p = (3, 4), (2, 4), 2, 2
    expected = torch.zeros(I1 * I2, J1 * J2)
    for i in range(I1 * I2):
        for j1 in range(J1):
            for q in range(J2 // n):
                for s in range(n):
                    entry = sum(G1[i // I2, j1, k * n + s] * G2[k, i % I2, q] for k in range(p))
                    expected[i, j1 * J2 + q * n + s] = entry
    weight = table.weight().detach()
    assert weight.shape == (11, 8)
    torch.testing.assert_close(weight, expected[:11], rtol=0, atol=1e-6)


def test_weight_is_the_semi_tensor_product_of_the_cores_reindexed():
    table = tiny_table(n_items=11)  # all I1 I2 = 12 rows used
    (I1, I2), (J1, J2), n = (3, 4), (2, 4), 2
    G1_hat = table.G1.detach().reshape(I1 * J1, 4)  # (I1 J1, R), row h = i1 J1 + j1
    G2_hat = table.G2.detach().reshape(2, I2 * J2 // n)  # (R/n, I2 J2/n), column i2 J2/n + q
    C = semi_tensor_product(G1_hat, G2_hat)  # (I1 J1, I2 J2): column (i2 J2/n + q) n + s
    assert C.shape == (I1 * J1, I2 * J2)
    reindexed = C.view(I1, J1, I2, J2).permute(0, 2, 1, 3).reshape(I1 * I2, J1 * J2)
    torch.testing.assert_close(table.weight().detach(), reindexed, rtol=0, atol=1e-6)
    # the same numbers, only placed differently: a plain reshape (OD-Rec's training path) differs
    assert not torch.allclose(table.weight().detach(), C.reshape(I1 * I2, J1 * J2))


def test_lookup_equals_rows_of_weight():
    table = tiny_table()
    ids = torch.tensor([[0, 3, 10, 0], [7, 7, 1, 4], [0, 0, 0, 0]])  # (B, L) with padding
    vectors = table.lookup(ids)
    assert vectors.shape == (3, 4, 8)
    torch.testing.assert_close(vectors, table.weight()[ids], rtol=0, atol=1e-6)
    assert table.lookup(torch.tensor(5)).shape == (8,)


def test_parameter_count_and_eq10_rates():
    table = STTDItemTable(40_727, 128, **TMALL)
    stored = sum(parameter.numel() for parameter in table.parameters())
    assert stored == table.n_parameters == c.sttd_size(**TMALL) == 191_160
    assert 169 * 16 * 60 + 241 * 8 * 60 // 2**2 == 191_160  # I1J1R + I2J2R/n^2
    assert c.sttd_bytes(**TMALL) == 191_160 * 4
    assert c.sttd_size(**RR) == 117 * 16 * 100 + 316 * 16 * 100 // 4
    assert round(c.sttd_compression_rate(40_727, 128, **TMALL), 2) == 27.27
    assert round(c.sttd_compression_rate(36_968, 256, **RR), 2) == 30.18
    record = c.sttd_compression(40_727, 128, **TMALL, teacher_bytes=40_728 * 128 * 4)
    assert record["byte_ratio"] == pytest.approx(40_728 * 128 / 191_160)


def test_default_init_matches_a_uniform_embedding_in_spread():
    torch.manual_seed(0)
    table = STTDItemTable(40_727, 128, **TMALL, init_range=0.1)
    with torch.no_grad():
        std = table.weight().std().item()
    assert std == pytest.approx(0.1 / math.sqrt(3), rel=0.2)


def test_gradients_reach_both_cores():
    table = tiny_table()
    table.lookup(torch.tensor([[1, 6], [9, 0]])).pow(2).sum().backward()
    assert table.G1.grad.abs().sum() > 0 and table.G2.grad.abs().sum() > 0
    table.zero_grad()
    table.weight().sum().backward()
    assert table.G1.grad.abs().sum() > 0 and table.G2.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(TINY, item_shape=(3, 3)), "cannot hold 10 items"),
        (dict(TINY, dim_shape=(2, 2)), "must equal dim=8"),
        (dict(TINY, rank=3), "rank R=3 must be divisible"),
        (dict(TINY, dim_shape=(8, 1)), "J2=1"),
        (dict(TINY, item_shape=(3, 2, 2)), "only d = 2"),
        (dict(TINY, stp_n=0), "stp_n must be a positive"),
    ],
)
def test_invalid_shapes_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        STTDItemTable(10, 8, **kwargs)


def test_size_functions_refuse_other_depths():
    with pytest.raises(ValueError, match="only d = 2"):
        c.sttd_size((13, 13, 241), (8, 4, 4), 60, 2)
