"""The catalogue's FLOP-based performance (issue 26): every chip's dense TFLOPS, its FLOP-based
H100-equivalent, and their agreement with the TPP the export rules use."""

import numpy as np
import pytest

from model.core.catalogue import (
    CHIPS,
    H100_DENSE_TFLOPS,
    ROADMAP_FROM,
    catalogue_arrays,
    with_us_roadmap,
)

CAT = catalogue_arrays(CHIPS)
IDX = {name: k for k, name in enumerate(CAT.names)}
BY_NAME = {c.name: c for c in CHIPS}

#: Chips whose TPP the catalogue derives from their datasheet's dense compute (the module docstring's
#: list: H100/H800, A100/A800, H20, H200, B200, MI300X, Ascend 910B/910C/950/960, MTT S4000).
TPP_FROM_DENSE_COMPUTE = ("H100", "H800", "A100", "A800", "H20", "H200", "B200", "MI300X",
                          "Ascend910B", "Ascend910C", "Ascend950PR", "Ascend950DT", "Ascend960", "MTT_S4000")
#: The two whose datasheet was found after their TPP was set (TPP kept: no number changed).
DATASHEET_AFTER_TPP = ("MI325X", "MI355X")


def test_every_chip_has_dense_tflops_and_a_known_precision():
    for c in CHIPS:
        assert c.dense_tflops > 0, c.name
        assert c.flop_bits in H100_DENSE_TFLOPS, c.name
        if c.flop_bits == 8:  # quoted only in FP8: the FP8 figure is the dense one
            assert c.dense_tflops_fp8 == c.dense_tflops, c.name
        assert "dense" in c.source, c.name  # the figure's source is stated
    assert np.all(CAT.flop_h100e > 0)


def test_flop_h100e_of_the_h100_is_exactly_one_and_fp8_parts_are_compared_in_fp8():
    assert CAT.flop_h100e[IDX["H100"]] == 1.0
    for c in CHIPS:
        assert CAT.flop_h100e[IDX[c.name]] == c.dense_tflops / H100_DENSE_TFLOPS[c.flop_bits]
    assert CAT.flop_h100e[IDX["Ascend950PR"]] == pytest.approx(1000 / 1979)


@pytest.mark.parametrize("name", TPP_FROM_DENSE_COMPUTE)
def test_tpp_follows_from_dense_compute_where_the_catalogue_says_so(name):
    c = BY_NAME[name]
    assert c.tpp == c.dense_tflops * c.flop_bits  # BF16: tpp / 16 == dense_tflops
    if c.flop_bits == 16:
        assert c.tpp / 16 == c.dense_tflops


def test_tpp_and_dense_compute_agree_for_every_assumed_chip_and_the_two_exceptions_keep_their_side():
    """Where TPP is an ASSUMPTION, dense_tflops is the same ASSUMPTION (TPP / bit length); the two
    datasheets found later differ from the kept TPP but sit on the same side of the 21,000 licence line."""
    for c in CHIPS:
        if c.name in DATASHEET_AFTER_TPP:
            assert (c.tpp < 21_000) == (c.dense_tflops * c.flop_bits < 21_000), c.name
            assert c.tpp != c.dense_tflops * c.flop_bits, c.name
        else:
            assert c.tpp == c.dense_tflops * c.flop_bits, c.name


def test_ordering_is_sane():
    f = {n: CAT.flop_h100e[k] for n, k in IDX.items()}
    assert f["B200"] > f["H200"] == f["H100"] > f["H20"]
    assert 0.7 < f["Ascend910C"] < 0.85
    assert f["H800"] == f["H100"] and f["A800"] == f["A100"]


def test_the_us_roadmap_scenario_scales_flop_h100e_as_it_scales_tpp():
    same = with_us_roadmap(CAT, 0, 1.0)
    assert np.array_equal(same.flop_h100e, CAT.flop_h100e)
    moved = with_us_roadmap(CAT, 2, 0.5)
    ahead = CAT.is_us & (CAT.release >= ROADMAP_FROM)
    assert np.allclose(moved.flop_h100e[ahead], 0.5 * CAT.flop_h100e[ahead])
    assert np.array_equal(moved.flop_h100e[~ahead], CAT.flop_h100e[~ahead])
