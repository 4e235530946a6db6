"""The grey market in units (ODD 7.4a, ``model.core.channels.grey_market``): the closed-form clearing,
the release lag of the chip smuggled, the 2024-26 volumes against CNAS's range, and enforcement."""

from __future__ import annotations

import numpy as np
import pytest

from model import ChipMarketModel
from model.core import channels
from model.core.quarters import parse_quarter
from model.validation.published_runs import replay_runs
from model.validation.replay import REPLAY_EXPERIMENT, replay_spec

#: CNAS (Grunewald & Fist, Jun 2025): 10k to "several hundred thousand" chips smuggled in 2024, read as
#: at most 500k (docs/SOURCES.md §C2).
CNAS_RANGE = (10_000, 500_000)


@pytest.mark.parametrize("want, price, supply, seizure, choke", [
    (1e9, 30_000.0, 75_000.0, 0.1, 2.0), (5e10, 25_000.0, 10_000.0, 0.0, 1.0),
    (1e6, 40_000.0, 1e6, 0.5, 4.0), (3e9, 12_000.0, 75_000.0, 0.9, 0.5)])
def test_the_premium_is_where_the_supply_line_meets_the_demand(want, price, supply, seizure, choke):
    premium, units = channels.grey_market(want, price, supply, seizure, choke)
    assert 0.0 < premium < choke
    assert units == pytest.approx(supply * (1 - seizure) * premium, rel=1e-15)
    # what the delivered units cost is what the demand spends at that premium
    assert units * price * (1 + premium) == pytest.approx(want * (1 - premium / choke), rel=1e-12)


def test_no_demand_or_no_supply_clears_nothing():
    assert channels.grey_market(0.0, 30_000.0, 75_000.0, 0.1, 2.0) == (0.0, 0.0)
    assert channels.grey_market(1e9, 30_000.0, 0.0, 0.1, 2.0) == (0.0, 0.0)
    assert channels.grey_market(1e9, 30_000.0, 75_000.0, 1.0, 2.0) == (0.0, 0.0)


def test_enforcement_raises_the_premium_and_cuts_the_units():
    low = channels.grey_market(2e9, 30_000.0, 75_000.0, 0.0, 2.0)
    high = channels.grey_market(2e9, 30_000.0, 75_000.0, 0.5, 2.0)
    assert high[0] > low[0] and high[1] < low[1]
    # and more budget wanting smuggled chips raises both
    more = channels.grey_market(4e9, 30_000.0, 75_000.0, 0.0, 2.0)
    assert more[0] > low[0] and more[1] > low[1]


def test_grey_spend_shares_the_spending_in_proportion_to_want():
    want = np.array([0.0, 1.0, 3.0])
    np.testing.assert_allclose(channels.grey_spend(want, 2.0), [0.0, 0.5, 1.5])
    assert not channels.grey_spend(np.zeros(3), 2.0).any()


@pytest.mark.parametrize("lag", [2, 4, 8])
@pytest.mark.parametrize("regime", ["ban", "h20", "threshold", "lagged", "open"])
def test_no_chip_is_smuggled_before_its_lag(regime, lag):
    for seed in (1, 2):
        m = ChipMarketModel(rng=seed, n_developers=60, export_regime=regime, grey_lag_quarters=lag,
                            realize_reversals=False)
        smuggled = 0.0
        for _ in range(20):
            m.step()
            g = m.developers.grey_chip
            new_grey = m.ledger.new["grey"]
            assert (new_grey[m.quarter - m.release < lag] == 0).all()
            if m.developers.last_grey_units > 0:
                assert m.quarter - m.release[g] >= lag
                smuggled += m.developers.last_grey_units
        if regime != "open":
            assert smuggled > 0  # the channel is exercised, not vacuous


def test_smuggled_chips_a_year_2024_to_2026_lie_in_cnas_range():
    """The replay's 2024 (the calibration target) and 2025 (out of sample) per seed, and 2026 in the forward
    runs under the rule as enacted (threshold x restrict)."""
    params, _, seeds = replay_spec(REPLAY_EXPERIMENT)
    _, grey = replay_runs(params, seeds=seeds[:6])
    grey["year"] = grey["quarter"].str[:4]
    per_year = grey.groupby(["year", "seed"])["units"].sum()
    for year in ("2024", "2025"):
        units = per_year.loc[year]
        assert ((units >= CNAS_RANGE[0]) & (units <= CNAS_RANGE[1])).all(), (year, units.tolist())
    for seed in (1, 2, 3):
        df = ChipMarketModel(rng=seed, n_developers=300, export_regime="threshold",
                             china_import_policy="restrict", realize_reversals=False).run(4)
        assert CNAS_RANGE[0] <= df["grey_units"].sum() <= CNAS_RANGE[1], df["grey_units"].tolist()
    assert parse_quarter(params["start_quarter"]) <= parse_quarter("2024Q1")


def test_under_a_ban_more_enforcement_lowers_the_grey_share():
    shares = []
    for seizure in (0.0, 0.3, 0.6):
        runs = [ChipMarketModel(rng=seed, n_developers=150, export_regime="ban", grey_seizure_share=seizure,
                                realize_reversals=False).run(20).iloc[-1] for seed in (1, 2, 3)]
        shares.append(float(np.mean([r["us_share_grey"] for r in runs])))
    assert shares[0] > shares[1] > shares[2] > 0, shares


@pytest.mark.parametrize("regime", ["h20", "threshold", "lagged", "open"])
def test_chips_ordered_out_are_not_sold_again(regime):
    """No RTX Pro 6000D is sold in China after 2025Q3 (Beijing ordered the orders cancelled, §C2), and
    no H20 is sold in the forward runs: the backcast already sold its stock (one stock for both)."""
    for seed in (1, 2):
        m = ChipMarketModel(rng=seed, n_developers=80, export_regime=regime, china_import_policy="open",
                            realize_reversals=False)
        m.run(12)
        sales = m.datacollector.get_table_dataframe("chip_sales")
        assert not sales[sales["chip"].isin(["RTXPro6000D", "H20"])]["units"].any()
    params, _, seeds = replay_spec(REPLAY_EXPERIMENT)
    sold, _ = replay_runs({**params, "china_policy_schedule": "2022Q4:open"}, seeds=seeds[:2])
    rtx = sold[sold["chip"] == "RTXPro6000D"]
    assert not rtx[rtx["quarter"].map(parse_quarter) > parse_quarter("2025Q3")]["units"].any()


@pytest.mark.parametrize("regime", ["h20", "threshold", "lagged", "open"])
def test_no_product_is_made_for_china_after_its_maker_stopped_making_it(regime):
    """A product past its end of production (the H20 from 2025Q2, the RTX Pro 6000D from 2025Q4, A800/H800)
    gets no new China production; it sells from its stock only. The H200 has no end of production: Nvidia
    makes it for China again when its stock runs low (it asked TSMC for more 4N output from 2026Q2, §B5 M)."""
    for seed in (1, 2):
        m = ChipMarketModel(rng=seed, n_developers=80, export_regime=regime, china_import_policy="open",
                            realize_reversals=False)
        ended = m.catalogue.end_of_production <= m.quarter
        for _ in range(16):
            m.step()
            ended |= m.catalogue.end_of_production <= m.quarter + 1
            assert not m.supply.production[ended].any()
