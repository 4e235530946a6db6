"""The backcast: one set of initial conditions for replays and forward runs (docs/ODD.md section 5)."""

from __future__ import annotations

import numpy as np
import pytest

from model import ChipMarketModel
from model.core.backcast import HISTORY_QUARTERS, backcast
from model.core.catalogue import SALE_QUARTERS, catalogue_arrays
from model.core.makers import foundry_path
from model.core.quarters import parse_quarter

Q2025, Q2026 = parse_quarter("2025Q1"), parse_quarter("2026Q1")


@pytest.mark.parametrize("growth", [0.0, 0.5, 1.0])
def test_the_foundry_path_sums_to_the_2025_output_and_grows_at_the_rate(growth):
    quarters = [foundry_path(600_000, 805_000, growth, q) for q in range(Q2025 - 8, Q2026 + 8)]
    assert sum(quarters[8:12]) == pytest.approx(805_000, rel=1e-12)
    before = quarters[:12]  # 2023Q1-2025Q4: one quarter's growth between neighbours
    assert np.allclose(np.array(before[1:]) / np.array(before[:-1]), (1 + growth) ** 0.25, rtol=1e-12)
    after = quarters[12:]  # from 2026: the 2026 capacity's path, whatever the 2025 count was
    assert after[0] == pytest.approx(150_000, rel=1e-12)
    assert after == [foundry_path(600_000, 0.0, growth, q) for q in range(Q2026, Q2026 + 8)]


def test_without_a_2025_count_the_2026_capacity_is_backcast():
    assert foundry_path(400_000, 0.0, 0.5, Q2025) == pytest.approx(100_000 / 1.5, rel=1e-12)


def _model(**kw) -> ChipMarketModel:
    return ChipMarketModel(rng=3, n_developers=60, **kw)


def test_domestic_purchases_before_the_start_are_the_makers_foundry_path():
    """The backcast's domestic units (no depreciation) are each maker's foundry output in every quarter it
    had a chip on sale: the path a replay's domestic makers sell."""
    m = _model(domestic_capacity_growth=0.7)
    cat, p = m.catalogue, m.p
    history = backcast(cat, p, Q2026, m.perf, depreciation=0.0)
    for k, maker in enumerate(cat.makers):
        if maker.capacity is None:
            continue
        mine = cat.maker_of_chip == k
        expected = 0.0
        for q in range(Q2026 - HISTORY_QUARTERS, Q2026):
            on_sale = mine & (cat.release <= q) & (q < cat.release + SALE_QUARTERS)
            if on_sale.any():
                expected += foundry_path(getattr(p, maker.capacity.param), maker.capacity.output_2025,
                                         p.domestic_capacity_growth, q)
        assert history.units[mine].sum() == pytest.approx(expected, rel=1e-12), maker.name
        assert expected > 0


def test_a_chip_out_of_production_is_sold_once_from_its_stock():
    """What the backcast bought out of a stock is not for sale again when the run starts, and it never
    bought more than the stock held."""
    cat = catalogue_arrays()
    m = _model()
    history = m.history_before(m.start)
    assert np.all(history.from_stock <= cat.stock_units + 1e-6)
    ended = cat.end_of_production < m.start
    assert history.from_stock[ended].sum() > 0  # the H20's stock was sold in 2025
    assert np.allclose(m.supply.stock[ended], cat.stock_units[ended] - history.from_stock[ended])
    h20 = cat.names.index("H20")
    assert m.supply.stock[h20] == 0.0  # bought in the backcast, not on sale in 2026
    # a chip still made keeps its whole stock (the H200's ~700k)
    h200 = cat.names.index("H200")
    assert m.supply.stock[h200] == cat.stock_units[h200]
    # a replay from 2022Q4 starts with every stock whole (the H20 was not yet released)
    replay = _model(start_quarter="2022Q4")
    assert np.array_equal(replay.supply.stock, cat.stock_units)


def test_domestic_makers_reinvest_only_from_2026():
    m = _model(start_quarter="2024Q1", capacity_reinvest_share=1.0)
    added = {}
    for _ in range(12):
        m.step()
        added[m.quarter] = sum(mk.added_capacity for mk in m.chipmakers if mk.is_domestic)
    assert all(v == 0.0 for q, v in added.items() if q < Q2026)
    assert max(added.values()) > 0  # and do reinvest after (the check is not vacuous)
