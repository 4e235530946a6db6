"""Compute abroad (ODD 7.4a): owned chips as a depreciating stock, rented cloud capacity as a flow priced
per H100e-hour on the price-performance trend."""

from __future__ import annotations

import numpy as np
import pytest

from model import ChipMarketModel
from model.core import channels


def test_rent_is_price_per_hour_times_hours_times_h100e_and_halves_on_the_trend():
    now = channels.rent_per_unit_quarter(2.5, 2.0, 0.0, 2.07)
    assert now == pytest.approx(2.5 * 2191.5 * 2.0, rel=1e-15)
    later = channels.rent_per_unit_quarter(2.5, 2.0, 2.07, 2.07)
    assert later == pytest.approx(2.5 * 2191.5, rel=1e-12)  # one doubling time later: half the price
    earlier = channels.rent_per_unit_quarter(2.5, 1.0, -1.0, 2.0)
    assert earlier > channels.rent_per_unit_quarter(2.5, 1.0, 0.0, 2.0)


def run(seed: int, steps: int = 12, **params) -> ChipMarketModel:
    m = ChipMarketModel(rng=seed, n_developers=120, export_regime="ban", realize_reversals=False, **params)
    for _ in range(steps):
        m.step()
        yield m


@pytest.mark.parametrize("owned", [0.0, 0.3, 1.0])
def test_rented_compute_is_a_flow_and_owned_compute_a_stock(owned):
    flop = None
    before = 0.0
    for m in run(2, offshore_owned_share=owned):
        led, dev = m.ledger, m.developers
        flop = m.catalogue.flop_h100e
        np.testing.assert_array_equal(led.stock["rented"], led.new["rented"])  # only this quarter's
        assert (led.stock["offshore"] >= led.new["offshore"]).all()
        if owned == 0.0:
            assert not led.stock["offshore"].any() and not dev.installed_offshore.any()
        if owned == 1.0:
            assert not led.stock["rented"].any() and not dev.rented_offshore.any()
        # the reporter counts both, FLOP-based
        abroad = float((led.stock["offshore"] * flop).sum() + (led.stock["rented"] * flop).sum())
        assert m.reported["offshore_compute_h100e"] == pytest.approx(abroad, rel=1e-12)
        # the developers' arrays agree with the ledger (effective H100e of the frontier chip)
        f = dev.frontier_chip
        if f >= 0:
            assert dev.rented_offshore.sum() == pytest.approx(led.new["rented"][f] * m.perf[f], rel=1e-9)
        if owned == 1.0:
            assert m.reported["offshore_compute_h100e"] >= before * (1 - m.depreciation) - 1e-6
            before = m.reported["offshore_compute_h100e"]


def test_dearer_rent_rents_less_and_owning_accumulates_more():
    def abroad(**params):
        return [m.reported["offshore_compute_h100e"] for m in run(3, **params)][-1]
    cheap, dear = abroad(offshore_rent_usd_per_h100e_hour=1.5), abroad(offshore_rent_usd_per_h100e_hour=5.0)
    assert cheap > dear > 0
    assert abroad(offshore_owned_share=1.0) > abroad(offshore_owned_share=0.0)


def test_compute_abroad_stays_below_compute_in_china():
    """The domain review found the old channel (chips bought at list + 20%, as a stock) put more of Chinese
    developers' compute abroad than in China; renting by the quarter does not."""
    for regime in ("ban", "threshold", "open"):
        for seed in (1, 2):
            df = ChipMarketModel(rng=seed, n_developers=150, export_regime=regime,
                                 china_import_policy="restrict", realize_reversals=False).run(20)
            assert (df["offshore_compute_h100e"] < df["china_compute_h100e"]).all(), regime
