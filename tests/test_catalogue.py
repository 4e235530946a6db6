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
        if c.on_trend:  # compute from the trend (catalogue.on_trend), tested below
            assert c.dense_tflops == 0 and c.tpp == 0 and c.perf_paper == 0 and "ON TREND" in c.source
            continue
        assert c.dense_tflops > 0, c.name
        assert c.flop_bits in H100_DENSE_TFLOPS, c.name
        if c.flop_bits == 8:  # quoted only in FP8: the FP8 figure is the dense one
            assert c.dense_tflops_fp8 == c.dense_tflops, c.name
        assert "dense" in c.source, c.name  # the figure's source is stated
    assert np.all(CAT.flop_h100e > 0)


def test_flop_h100e_of_the_h100_is_exactly_one_and_fp8_parts_are_compared_in_fp8():
    assert CAT.flop_h100e[IDX["H100"]] == 1.0
    for c in (c for c in CHIPS if not c.on_trend):
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
    for c in (c for c in CHIPS if not c.on_trend):
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
    ahead = CAT.is_us & ~CAT.generated & (CAT.release >= ROADMAP_FROM)  # not the empty design slots
    assert np.allclose(moved.flop_h100e[ahead], 0.5 * CAT.flop_h100e[ahead])
    assert np.array_equal(moved.flop_h100e[~ahead], CAT.flop_h100e[~ahead])


@pytest.mark.parametrize("doubling", [None, 1.54, 3.13])
def test_the_us_frontiers_flop_per_dollar_doubles_no_faster_than_epochs_lower_bound(doubling):
    """Every US maker's chips after 2025 (sourced, assumed or on the trend) have at most the maker's best
    FLOP-based H100e per dollar before 2026 grown at Epoch's fastest doubling time (1.54 years, the 95%
    CI's lower end). The roadmap before this rule (NvidiaNext at 40 H100e for $80k in 2029Q3, 1.55 years
    from the B200) fails it."""
    cat = with_us_roadmap(CAT, 0, 1.0, doubling, None)
    for maker in np.unique(cat.maker_of_chip[cat.is_us]):
        mine = (cat.maker_of_chip == maker) & ~cat.china_part & ~cat.generated  # slots: empty until a run
        before = mine & (cat.release < ROADMAP_FROM)
        per_usd = np.where(before, cat.flop_h100e / cat.price_usd, -np.inf)
        a = int(np.argmax(per_usd))
        later = mine & (cat.release >= ROADMAP_FROM)
        bound = per_usd[a] * 2.0 ** ((cat.release[later] - cat.release[a]) / 4.0 / 1.54)
        per_usd_later = cat.flop_h100e[later] / cat.price_usd[later]
        assert (per_usd_later <= bound * (1 + 1e-12)).all(), cat.maker_names[maker]


def test_trend_chips_follow_their_makers_anchor_and_the_doubling_times():
    for name, anchor in (("Feynman", "B200"), ("NvidiaNext", "B200"), ("MI500", "MI355X")):
        j, a = IDX[name], IDX[anchor]
        years = (CAT.release[j] - CAT.release[a]) / 4
        flop = CAT.flop_h100e[a] / CAT.price_usd[a] * CAT.price_usd[j] * 2 ** (years / 2.07)
        bw = CAT.mem_bw_gbs[a] / CAT.price_usd[a] * CAT.price_usd[j] * 2 ** (years / 4.0)
        assert CAT.flop_h100e[j] == pytest.approx(flop, rel=1e-13)
        assert CAT.mem_bw_gbs[j] == pytest.approx(bw, rel=1e-13)
        assert CAT.perf_paper[j] == pytest.approx(np.sqrt(flop * bw / 3350), rel=1e-13)
        assert CAT.tpp[j] == pytest.approx(flop * 989 * 16, rel=1e-13)
    slower = with_us_roadmap(CAT, 0, 1.0, 3.0, 6.0)
    trend = CAT.on_trend
    assert (slower.flop_h100e[trend] < CAT.flop_h100e[trend]).all()
    assert (slower.mem_bw_gbs[trend] < CAT.mem_bw_gbs[trend]).all()
    assert (slower.flop_h100e[~trend] == CAT.flop_h100e[~trend]).all()
    same = with_us_roadmap(CAT, 0, 1.0, 2.07, 4.0)
    assert (same.flop_h100e == CAT.flop_h100e).all() and (same.perf_paper == CAT.perf_paper).all()
