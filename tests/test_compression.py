import math

import pytest

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
