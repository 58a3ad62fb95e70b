import math

import pytest
import torch

from eodrec import compression as c


def test_eq13_on_a_hand_computed_case():
    # |V|=20000, N=100, M=2, K=8: 2*8*100 + 2*20000 = 41600 numbers, CR = 2e6 / 41600
    assert c.compressed_size(20_000, 100, 2, 8) == 41_600
    assert c.compression_rate(20_000, 100, 2, 8) == pytest.approx(2_000_000 / 41_600)


def test_rate_is_bounded_by_dim_over_codebooks():
    rate = c.compression_rate(10**9, 128, 4, 32)
    assert rate < 128 / 4
    assert rate == pytest.approx(128 / 4, rel=1e-3)


def test_code_bits_and_packing():
    assert [c.code_bits(k) for k in (2, 8, 32, 256, 257, 512)] == [1, 3, 5, 8, 9, 9]
    assert c.code_bytes(1000, 4, 32, "uint8") == 4000
    assert c.code_bytes(1000, 4, 32, "bits") == math.ceil(1000 * 4 * 5 / 8)
    with pytest.raises(ValueError, match="<= 256"):
        c.code_bytes(1000, 4, 512, "uint8")
    with pytest.raises(ValueError, match="packing"):
        c.code_bytes(1000, 4, 32, "zip")


def test_real_bytes_of_the_tmall_student():
    # 40,727 items, N=128, M=4, K=32: codes 40,727*4 bytes + codebooks 4*32*128 fp32
    expected = 40_727 * 4 + 4 * 32 * 128 * 4
    assert c.compositional_bytes(40_727, 128, 4, 32) == expected
    assert c.full_table_bytes(40_727, 128) == 40_727 * 128 * 4


@pytest.mark.parametrize("bad", [0, -3, 2.5])
def test_non_positive_sizes_are_refused(bad):
    with pytest.raises(ValueError, match="n_codebooks"):
        c.compression_rate(100, 10, bad, 8)


def test_code_usage_entropy_and_dead_codewords():
    codes = torch.tensor([[0, 3], [0, 3], [1, 3], [2, 3]], dtype=torch.uint8)
    counts = c.code_usage(codes, n_codewords=4)
    assert torch.equal(counts, torch.tensor([[2, 1, 1, 0], [0, 0, 0, 4]]))
    entropy = c.usage_entropy(counts)
    expected = -(0.5 * math.log2(0.5) + 2 * 0.25 * math.log2(0.25))  # 1.5 bits
    assert entropy.tolist() == pytest.approx([expected, 0.0])
    assert c.usage_entropy(torch.full((1, 8), 5)).item() == pytest.approx(3.0)  # log2 K
    assert c.dead_codewords(counts).tolist() == [1, 3]
    with pytest.raises(ValueError, match=r"0\.\.2"):
        c.code_usage(codes, n_codewords=3)


def test_collisions_on_a_hand_built_code_matrix():
    codes = torch.tensor([[0, 1], [0, 1], [2, 3], [1, 1], [2, 3], [2, 3], [0, 0]])
    assert c.collisions(codes) == 5  # two share (0, 1), three share (2, 3)
    assert c.collisions(torch.tensor([[0, 1], [1, 0]])) == 0
    assert c.collisions(torch.zeros(0, 2, dtype=torch.long)) == 0


def test_code_spread_is_what_the_stored_record_says_in_two_numbers():
    codes = torch.tensor([[0, 1], [0, 1], [2, 3], [1, 1]])
    record = c.code_usage_record(codes, n_codewords=4)
    assert set(record) == {
        "counts",
        "entropy_bits",
        "max_entropy_bits",
        "dead_codewords",
        "colliding_items",
        "items",
    }
    assert c.code_spread(codes, n_codewords=4) == {
        "code_entropy_bits": sum(record["entropy_bits"]) / 2,
        "colliding_items": record["colliding_items"],
    }
