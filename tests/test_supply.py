"""Chipmakers that decide, supply that binds, and demand that goes somewhere (issue 13): the rules of
model.core.supply and model.core.channels, and their directions in the model over seeds."""

import math

import numpy as np
import pytest

from model import ChipMarketModel
from model.core import channels, supply
from model.core.catalogue import catalogue_arrays
from model.core.quarters import parse_quarter

CAT = catalogue_arrays()
IDX = {name: k for k, name in enumerate(CAT.names)}
SEEDS = (1, 2, 3)
NVIDIA = CAT.maker_of_chip == CAT.maker_names.index("Nvidia")


# --- the rules as pure functions ---------------------------------------------------------------
def test_production_plan_tops_up_to_expected_sales_within_limits():
    expected = np.array([100.0, 100.0, 100.0, 100.0, 100.0])
    stock = np.array([0.0, 60.0, 250.0, 0.0, 0.0])
    cap = np.array([np.inf, np.inf, np.inf, 40.0, np.inf])
    limit = np.array([1e9, 1e9, 1e9, 1e9, 30.0])
    may = np.array([True, True, True, True, True])
    plan = supply.plan_production(expected, stock, cap, limit, may, 1.0)
    # no stock: make the expected sales; some stock: all of it sells, make the rest again;
    # stock beyond a quarter's sales: make less; volume cap bounds sales; the limit bounds production
    assert plan.tolist() == [100.0, 100.0, 0.0, 40.0, 30.0]
    assert supply.plan_production(expected, stock, cap, limit, ~may, 1.0).tolist() == [0.0] * 5
    assert supply.plan_production(expected, stock, cap, limit, may, 0.5)[0] == 50.0


def test_expected_orders_smooth_and_launch():
    e = supply.expect_orders(np.array([100.0, 100.0]), np.array([0.0, 300.0]), np.array([True, False]),
                             np.array([50.0, 50.0]), 0.5)
    # stalled orders halve the expectation; an undeliverable product launches
    assert e.tolist() == [50.0, 50.0]


def test_scarcity_is_zero_when_supply_covers_orders_and_one_at_twice():
    s = supply.scarcity(np.array([50.0, 150.0, 300.0, 10.0, 0.0]), np.array([100.0, 100.0, 100.0, 0.0, 0.0]))
    assert s.tolist() == [0.0, 0.5, 1.0, 1.0, 0.0]


def test_hbm_ceilings_share_the_pool_by_need():
    foundry = np.array([150_000.0, 75_000.0, 6_000.0])
    stacks = np.array([8.0, 4.0, 0.0])
    assert np.isinf(supply.hbm_ceilings(foundry, stacks, 1e9)).all()  # enough HBM: not binding
    c = supply.hbm_ceilings(foundry, stacks, 750_000.0)  # need 1.2M + 0.3M = 1.5M stacks: half each
    assert c[0] == pytest.approx(75_000.0) and c[1] == pytest.approx(37_500.0) and math.isinf(c[2])
    assert (c[:2] * stacks[:2]).sum() == pytest.approx(750_000.0)


def test_channels_cap_offshore_by_budget_and_share_grey_spending_by_want():
    rest = np.array([10.0, 10.0, 10.0])
    budget = np.array([100.0, 20.0, 100.0])
    private = np.array([True, True, False])
    off = channels.offshore_spend(rest, budget, private, 0.3, 1.0)
    assert off.tolist() == [10.0, 6.0, 0.0]
    assert channels.offshore_spend(rest, budget, private, 0.3, 0.0).tolist() == [0.0, 0.0, 0.0]
    want = np.where(private, rest - off, 0.0)  # state-affiliated developers want none (the caller's rule)
    assert channels.grey_spend(want, 2.0).tolist() == pytest.approx([0.0, 2.0, 0.0])
    grey = channels.grey_spend(np.array([3.0, 1.0, 0.0]), 2.0)
    assert grey.tolist() == pytest.approx([1.5, 0.5, 0.0])  # pro rata
    extra = channels.stockpile_extra(np.array([100.0, 100.0]), np.array([True, False]), 0.2, 3.0, 0.3)
    assert extra[0] == pytest.approx(0.2 * (1 - math.exp(-0.9)) * 100.0) and extra[1] == 0.0
    assert not channels.stockpile_extra(np.array([100.0]), np.array([True]), 0.2, 0.0, 0.3).any()


# --- the model -----------------------------------------------------------------------------------
def run(params: dict, seed: int, steps: int = 12) -> tuple[ChipMarketModel, list[dict]]:
    m = ChipMarketModel(rng=seed, n_developers=150, **params)
    rows = []
    for _ in range(steps):
        m.step()
        rows.append({
            "quarter": m.quarter, "sold": m.chips_sold.copy(), "supply": m.supply.last_supply.copy(),
            "production": m.supply.production.copy(),
            "huawei": next(x for x in m.chipmakers if x.name == "Huawei"),
            "huawei_cap": next(x for x in m.chipmakers if x.name == "Huawei").capacity,
            "huawei_hbm": next(x for x in m.chipmakers if x.name == "Huawei").hbm_ceiling,
            "huawei_foundry": next(x for x in m.chipmakers if x.name == "Huawei").foundry_capacity,
            "us_share": m.reported["us_stack_share"], "incl": m.reported["us_stack_share_incl_offshore"],
            "split": dict(m.developers.budget_split)})
    return m, rows


def test_default_run_huawei_never_exceeds_its_hbm_ceiling_and_hbm_binds():
    for seed in SEEDS:
        m, rows = run({}, seed, steps=20)
        huawei = CAT.maker_of_chip == CAT.maker_names.index("Huawei")
        for r in rows:
            assert r["sold"][huawei].sum() <= min(r["huawei_hbm"], r["huawei_foundry"]) * (1 + 1e-9) + 1e-6
        # with the default stockpile and domestic HBM, HBM (not the foundry) binds from 2026Q3
        assert any(r["huawei_hbm"] < r["huawei_foundry"] for r in rows)


def test_us_units_never_exceed_the_china_supply():
    for seed in SEEDS:
        for params in ({}, {"china_import_policy": "open"},
                       {"export_regime": "open", "china_import_policy": "open"}):
            _, rows = run(params, seed)
            for r in rows:
                us = CAT.is_us
                assert (r["sold"][us] <= r["supply"][us] * (1 + 1e-9) + 1e-6).all(), params


def test_less_hbm_means_less_huawei_output_and_a_higher_us_share_where_us_chips_are_legal():
    legal = {"china_import_policy": "open", "realize_reversals": False}
    lo = {"hbm_stockpile_2026": 600_000, "domestic_hbm_2026": 0.0}
    hi = {"hbm_stockpile_2026": 6_400_000, "domestic_hbm_2026": 4_000_000}
    huawei = CAT.maker_of_chip == CAT.maker_names.index("Huawei")
    for seed in SEEDS:
        m_lo, r_lo = run({**legal, **lo}, seed)
        m_hi, r_hi = run({**legal, **hi}, seed)
        units_lo = sum(r["sold"][huawei].sum() for r in r_lo)
        units_hi = sum(r["sold"][huawei].sum() for r in r_hi)
        assert units_lo < 0.8 * units_hi, seed
        assert m_lo.reported["us_stack_share"] > m_hi.reported["us_stack_share"], seed


def test_closing_the_offshore_channel_lowers_the_us_share_incl_offshore_under_a_ban():
    ban = {"export_regime": "ban", "realize_reversals": False}
    for seed in SEEDS:
        m_open, _ = run({**ban, "offshore_open_after_rule": 1.0}, seed)
        m_shut, _ = run({**ban, "offshore_open_after_rule": 0.0}, seed)
        assert (m_shut.reported["us_stack_share_incl_offshore"]
                < m_open.reported["us_stack_share_incl_offshore"] - 0.01), seed
        assert m_shut.reported["offshore_compute_h100e"] < m_open.reported["offshore_compute_h100e"]


def test_under_a_us_ban_blocked_money_goes_abroad_and_to_the_grey_market():
    for seed in SEEDS:
        _, rows = run({"export_regime": "ban", "realize_reversals": False, "huawei_capacity_2026": 200_000},
                      seed)
        first = rows[0]["split"]  # 2026Q1, before the offshore rule
        assert first["offshore"] > 0.1 * first["budget"] and first["grey"] > 0
        total = first["china"] + first["offshore"] + first["grey"] + first["unspent"]
        assert total == pytest.approx(first["budget"], rel=1e-12)
        assert first["unspent"] < first["budget"] - first["china"]  # not all of the blocked money is "unmet"


def test_stalled_orders_make_nvidia_cut_china_production_within_a_few_quarters():
    # Beijing bans once Nvidia makes H200s for China again: it sells its ~700k stock first (with the RTX
    # Pro 6000D retired in 2025Q4 there is no China part to make meanwhile)
    ban_from = parse_quarter("2027Q3")
    for seed in SEEDS:
        _, rows = run({"china_import_policy": "open", "china_policy_schedule": "2027Q3:ban",
                       "realize_reversals": False}, seed)
        before = [r["production"][NVIDIA].sum() for r in rows if r["quarter"] < ban_from]
        assert max(before) > 10_000  # Nvidia was making for China
        after = {r["quarter"] - ban_from: r["production"][NVIDIA].sum()
                 for r in rows if r["quarter"] >= ban_from}
        # orders stall at once; smoothed expectations take production below 1% within two quarters
        assert all(v < 0.01 * max(before) for k, v in after.items() if k >= 2), after
        assert after[max(after)] <= after[2]


def test_stockpiling_happens_with_a_risk_weight_and_is_off_without_it():
    def stockpiled(weight: float) -> float:
        total = 0.0
        # a market small enough ($20B) that the main clearing leaves US supply to stockpile: at the
        # default $50B the H200 sells out in the main clearing (the H20's stock went in the backcast)
        m = ChipMarketModel(rng=5, n_developers=150, china_import_policy="open", realize_reversals=False,
                            us_reversal_prob=0.2, policy_risk_weight=weight, demand_2026_usd=20e9)
        for _ in range(4):
            m.step()
            total += float(m.developers.last_stockpiled.sum())
        return total

    amounts = [stockpiled(w) for w in (0.0, 1.0, 3.0, 6.0)]
    # not monotone in the weight: the budget brought forward grows with it, but what it can buy is
    # the US supply the main clearing left, which the weight also changes
    assert amounts[0] == 0.0 and min(amounts[1:]) > 0, amounts
    assert amounts[1] < amounts[2], amounts


def test_carried_over_budget_returns_next_quarter():
    m = ChipMarketModel(rng=3, n_developers=80, export_regime="ban", realize_reversals=False,
                        huawei_capacity_2026=0, cambricon_capacity_2026=0, moore_threads_capacity_2026=0,
                        grey_supply_units=0.0, offshore_capacity_share=0.0, carryover_share=0.5,
                        demand_shock_sd=0.0)
    m.step()
    unspent = m.developers.last_unmet.copy()
    assert unspent.sum() > 0
    np.testing.assert_allclose(m.developers.carry, 0.5 * unspent)
    m.step()
    growth = (1 + m.p.demand_growth) ** 0.25
    assert m.developers.last_demand.sum() == pytest.approx(m.developers.base_demand.sum() * growth
                                                           + 0.5 * unspent.sum(), rel=1e-6)
