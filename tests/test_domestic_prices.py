"""Domestic makers price by excess demand from 2026 (issue 28 item 3; ODD 7.5): the rule as pure functions,
its value each quarter in the model, the record's prices before 2026, and its direction over seeds."""

import numpy as np
import pytest

from model import ChipMarketModel
from model.core import supply
from model.core.makers import PRICE_FROM
from model.validation.replay import replay_spec

SEEDS = (1, 2, 3)


def test_excess_demand_is_the_gap_over_the_larger_side():
    assert supply.excess_demand(200.0, 100.0) == 0.5
    assert supply.excess_demand(100.0, 200.0) == -0.5
    assert supply.excess_demand(100.0, 0.0) == 1.0  # orders meet no output
    assert supply.excess_demand(0.0, 100.0) == -1.0  # output meets no orders
    assert supply.excess_demand(0.0, 0.0) == 0.0
    assert supply.excess_demand(5e6, float("inf")) == -1.0  # output not bound: no scarcity


def test_markup_moves_by_the_response_within_zero_and_the_most():
    assert supply.markup_after(0.3, 0.2, 0.5, 1.0) == pytest.approx(0.4)
    assert supply.markup_after(0.1, 0.2, -1.0, 1.0) == 0.0  # never below the list price
    assert supply.markup_after(0.95, 0.2, 0.5, 1.0) == 1.0  # never above the most
    assert supply.markup_after(0.5, 0.0, 1.0, 1.0) == 0.5  # no response: it stays


def test_each_quarter_the_markup_is_the_rule_applied_to_last_quarters_orders_and_output():
    for seed in SEEDS:
        m = ChipMarketModel(rng=seed, n_developers=200, export_regime="ban")
        domestic = [mk for mk in m.chipmakers if mk.is_domestic]
        moved = 0
        for _ in range(12):
            before = {mk.index: (mk.markup, float(m.supply.last_orders[mk.chips].sum()), mk.capacity)
                      for mk in domestic}
            m.step()
            for mk in domestic:
                markup, orders, output = before[mk.index]
                if m.quarter - 1 < PRICE_FROM:
                    want = markup
                else:
                    top = max(orders, output)
                    excess = -1.0 if output == float("inf") else ((orders - output) / top if top else 0.0)
                    want = min(m.p.domestic_markup_max,
                               max(0.0, markup + m.p.domestic_price_response * excess))
                assert mk.markup == pytest.approx(want, abs=1e-12), (seed, m.quarter_label, mk.name)
                moved += mk.markup != markup
                # what buyers are charged: list x (1 + markup), less Beijing's subsidy
                own = m.catalogue.maker_of_chip == mk.index
                np.testing.assert_allclose(m.china_price[own], m.catalogue.price_usd[own] * (1 + mk.markup))
                np.testing.assert_allclose(m.buyer_cost[own],
                                           m.china_price[own] * (1 - m.p.domestic_subsidy))
        assert moved > 0, seed  # under a US ban domestic output is short and prices move
        assert max(mk.markup for mk in domestic) > 0.3, seed


def test_before_2026_prices_are_the_records_so_the_calibration_window_is_untouched():
    params, _, seeds = replay_spec()
    steps = PRICE_FROM - ChipMarketModel(rng=1, **params).start + 1  # through 2026Q1
    for seed in seeds[:2]:
        a = ChipMarketModel(rng=seed, **params).run(steps)
        b = ChipMarketModel(rng=seed, **{**params, "domestic_price_response": 0.0}).run(steps)
        pd_equal = a.drop(columns="domestic_price_markup").equals(b.drop(columns="domestic_price_markup"))
        assert pd_equal, seed
        assert (a["domestic_price_markup"] == 0.0).all()
    # ... and from 2026Q2 the replay's domestic prices move
    after = ChipMarketModel(rng=seeds[0], **params).run(steps + 2)
    assert after["domestic_price_markup"].iloc[-1] > 0


def test_scarcity_rents_move_blocked_budgets_to_domestic_makers():
    """Under a US ban, domestic output is short: with prices that respond, domestic makers' revenue rises
    and less budget is left over for abroad and the grey market; domestic units sold barely change."""
    ban = {"n_developers": 200, "export_regime": "ban", "realize_reversals": False}
    for seed in SEEDS:
        fixed = ChipMarketModel(rng=seed, **ban, domestic_price_response=0.0).run(12)
        moving = ChipMarketModel(rng=seed, **ban).run(12)
        last = slice(4, None)  # 2027 on
        assert moving["domestic_revenue_usd"][last].sum() > 1.2 * fixed["domestic_revenue_usd"][last].sum()
        assert moving["spent_offshore_usd"][last].sum() < fixed["spent_offshore_usd"][last].sum()
        assert (moving["domestic_price_markup"] <= ChipMarketModel(rng=1).p.domestic_markup_max + 1e-12).all()
        assert (fixed["domestic_price_markup"] == 0.0).all()
