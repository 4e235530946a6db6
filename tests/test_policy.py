"""Policy rules as pure functions (model.core.policy) and dated schedules in the model."""

import numpy as np
import pytest

from model import ChipMarketModel
from model.core.catalogue import catalogue_arrays
from model.core.policy import (
    APPROVAL,
    APPROVED_TIER,
    BLOCKED,
    CHINA_STANCES,
    DISCOURAGED,
    GUIDED,
    OPEN,
    PRIVATE_TIER,
    STANCE_LEVEL,
    STATE_TIER,
    US_REGIMES,
    ExportRule,
    access_by_class,
    access_class,
    beijing_tier,
    in_force_at,
    parse_schedule,
    scheduled_value,
    tier_max_level,
    tighten_us,
    us_exportable,
)
from model.core.quarters import format_quarter, months_between, parse_quarter

CAT = catalogue_arrays()
IDX = {name: k for k, name in enumerate(CAT.names)}


def exportable(regime, quarter, lag=18, tpp_cap=21_000.0, bw_cap=6_500.0):
    anyone, licensed = us_exportable(ExportRule(regime, lag, tpp_cap, bw_cap), parse_quarter(quarter), CAT)
    us = CAT.is_us
    return ({n for n, a, u in zip(CAT.names, anyone, us) if a and u},
            {n for n, a, u in zip(CAT.names, licensed, us) if a and u})


def test_quarters_round_trip_and_months():
    assert format_quarter(parse_quarter("2026Q1")) == "2026Q1"
    assert parse_quarter("2027Q1") - parse_quarter("2026Q4") == 1
    assert months_between(parse_quarter("2024Q2"), parse_quarter("2026Q1")) == 21
    for bad in ["2026Q5", "2026-Q1", "26Q1", "", "2026q1x"]:
        with pytest.raises(ValueError):
            parse_quarter(bad)


def test_lagged_18_months_at_2026q1_allows_h200_not_b200():
    anyone, licensed = exportable("lagged", "2026Q1", lag=18)
    assert "H200" in licensed and "H200" not in anyone  # approved customers only
    assert "B200" not in licensed and "B200" not in anyone
    assert "H20" in anyone  # China parts stay exportable to anyone
    assert "Rubin" not in licensed | anyone


def test_lag_threshold_is_inclusive_and_moves_with_lag():
    # B200 released 2025Q1: 18 months old at 2026Q3, not at 2026Q2
    assert "B200" not in exportable("lagged", "2026Q2")[1]
    assert "B200" in exportable("lagged", "2026Q3")[1]
    assert "B200" in exportable("lagged", "2026Q1", lag=12)[1]
    assert "H200" not in exportable("lagged", "2026Q1", lag=24)[1]


def test_ban_allows_nothing():
    for q in ["2022Q4", "2024Q1", "2026Q1", "2030Q4"]:
        anyone, licensed = exportable("ban", q)
        assert not anyone and not licensed


def test_h20_regime_allows_only_compliant_china_parts():
    assert exportable("h20", "2026Q1") == ({"H20", "MI308", "RTXPro6000D"}, set())
    # before the Oct 2023 rule the A800/H800 were the compliant China parts
    assert exportable("h20", "2023Q2") == ({"A800", "H800"}, set())
    # after it they are not; the H20 (2024Q1) is not yet released in 2023Q4
    assert exportable("h20", "2023Q4") == (set(), set())


def test_open_allows_every_released_chip_and_nothing_unreleased():
    anyone, licensed = exportable("open", "2026Q1")
    released = {n for n, r, u in zip(CAT.names, CAT.release, CAT.is_us) if u and r <= parse_quarter("2026Q1")}
    assert anyone == released and not licensed
    assert "Rubin" not in anyone


def test_china_stances():
    """A stance sets one level for every US product; who may buy it is the old truth table of stances."""
    state = np.array([True, False, False])
    approved = np.array([True, True, False])
    tiers = beijing_tier(state, approved)
    assert tiers.tolist() == [STATE_TIER, APPROVED_TIER, PRIVATE_TIER]  # approval never makes a state buyer

    def allows(stance, mandate):
        return (tier_max_level(mandate)[tiers] >= STANCE_LEVEL[stance]).tolist()

    assert allows("open", True) == [True, True, True]
    assert allows("discourage", True) == [False, True, True]
    assert allows("discourage", False) == [True, True, True]
    assert allows("restrict", False) == [False, True, False]
    assert allows("ban", False) == [False, False, False]
    assert set(STANCE_LEVEL) == set(CHINA_STANCES)


def test_product_levels_decide_access_product_by_product():
    """access_by_class: class = 2 x tier + licensed; a US product needs its level within the tier's reach,
    domestic chips are open to all; guided, held and blocked products to nobody."""
    is_us = np.array([True, True, True, True, False])
    levels = np.array([OPEN, APPROVAL, GUIDED, BLOCKED, BLOCKED])  # a domestic chip's level is ignored
    us_rows = np.array([[0, 0, 0, 0, 1], [1, 1, 1, 1, 1], [1, 1, 1, 1, 1]], dtype=bool)
    table = access_by_class(us_rows, is_us, levels, state_mandate=True)
    assert table.shape == (6, 5)
    assert table[2 * STATE_TIER].tolist() == [True, False, False, False, True]
    assert table[2 * PRIVATE_TIER + 1].tolist() == [True, False, False, False, True]
    assert table[2 * APPROVED_TIER + 1].tolist() == [True, True, False, False, True]
    assert not table[:, 2].any() and not table[:, 3].any() and table[:, 4].all()
    loose = access_by_class(us_rows, is_us, np.array([DISCOURAGED] * 5), state_mandate=False)
    assert loose[2 * STATE_TIER, :4].all()  # without the mandate state buyers take discouraged products
    # the US rule still decides what is exportable at all: licensed-only products need a licence
    us_rows2 = np.array([[0, 0, 0, 0, 1], [1, 0, 0, 0, 1], [1, 1, 0, 0, 1]], dtype=bool)
    t2 = access_by_class(us_rows2, is_us, np.full(5, OPEN), state_mandate=False)
    assert t2[2 * APPROVED_TIER].tolist() == [True, False, False, False, True]
    assert t2[2 * APPROVED_TIER + 1].tolist() == [True, True, False, False, True]
    assert access_class(np.array([0, 1, 2, 2]), np.array([True, False, False, True])).tolist() == [1, 2, 4, 5]


def test_reversal_tightens_one_level():
    assert [tighten_us(r) for r in US_REGIMES] == ["ban", "ban", "h20", "threshold", "lagged"]


def test_threshold_as_enacted_licenses_the_h200_class_and_never_blackwell():
    """BIS rule of Jan 2026: TPP < 21,000 and bandwidth < 6,500 GB/s, licensed customers only."""
    for q in ["2026Q1", "2027Q4", "2030Q4"]:
        anyone, licensed = exportable("threshold", q)
        assert {"H200", "MI325X"} <= licensed and not (licensed & anyone)
        assert not licensed & {"B200", "Rubin", "RubinUltra", "Feynman", "MI355X", "MI400"}
        assert all(CAT.tpp[IDX[n]] < 21_000 and CAT.mem_bw_gbs[IDX[n]] < 6_500 for n in licensed)
    # the MI325X (TPP ~20,800) falls out with a lower cap; a cap above Blackwell's TPP and bandwidth
    # lets it in
    assert "MI325X" not in exportable("threshold", "2026Q1", tpp_cap=20_000)[1]
    assert "B200" in exportable("threshold", "2026Q1", tpp_cap=40_000, bw_cap=9_000)[1]


def test_threshold_cap_in_a_schedule():
    s = parse_schedule("2026Q1:threshold,2027Q1:threshold@30000", US_REGIMES)
    assert s[1] == (parse_quarter("2027Q1"), "threshold@30000")
    for bad in ["2027Q1:threshold@", "2027Q1:threshold@abc", "2027Q1:h20@5000", "2027Q1:threshold@-1"]:
        with pytest.raises(ValueError):
            parse_schedule(bad, US_REGIMES)
    m = ChipMarketModel(rng=1, n_developers=30, us_reversal_prob=0.0,
                        us_policy_schedule="2026Q3:threshold@40000")
    caps = []
    for _ in range(4):
        m.step()
        caps.append(m.us_government.tpp_cap)
    assert caps == [21_000.0, 21_000.0, 40_000.0, 40_000.0]


def test_schedule_parsing():
    s = parse_schedule("2027Q1:ban, 2025Q2:h20", US_REGIMES)
    assert s == [(parse_quarter("2025Q2"), "h20"), (parse_quarter("2027Q1"), "ban")]
    assert scheduled_value(s, parse_quarter("2027Q1")) == "ban"
    assert scheduled_value(s, parse_quarter("2026Q1")) is None
    assert in_force_at(s, parse_quarter("2026Q1"), "open") == "h20"
    assert in_force_at(s, parse_quarter("2024Q1"), "open") == "open"
    assert parse_schedule("", US_REGIMES) == []
    for bad in ["2025Q2", "2025Q2:maybe", "2025Q9:ban", "2025Q2:ban,2025Q2:h20", "ban:2025Q2"]:
        with pytest.raises(ValueError):
            parse_schedule(bad, US_REGIMES)


def test_schedules_switch_on_the_right_quarter():
    m = ChipMarketModel(rng=1, n_developers=50, us_reversal_prob=0.0,
                        us_policy_schedule="2026Q3:ban,2027Q2:open", china_import_policy="restrict",
                        china_policy_schedule="2026Q4:discourage")
    regimes, stances = [], []
    for _ in range(8):
        m.step()
        regimes.append(m.us_government.regime)
        stances.append(m.china_government.stance)
    assert regimes == ["threshold", "threshold", "ban", "ban", "ban", "open", "open", "open"]
    assert stances == ["restrict"] * 3 + ["discourage"] * 5


def test_schedule_before_start_sets_the_initial_regime():
    m = ChipMarketModel(rng=1, n_developers=20, start_quarter="2026Q1", us_reversal_prob=0.0,
                        export_regime="open", us_policy_schedule="2025Q2:h20")
    assert m.us_government.regime == "h20"
