"""Market clearing (model/core/market.py) on small markets cleared by hand, and its accounting
identities on random ones: supply and budgets are never exceeded, unmet = demand - spent."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from model.core.market import MarketOffer, Pairing, clear_market


def clear(market: dict, **extra):
    """The one call of ``clear_market`` in this module; ``market`` names its arguments (``pairing``, if
    given: (paired chip, ratio), with ``is_us``)."""
    indices = SimpleNamespace(maker_of_chip=np.asarray(market["maker_of_chip"]),
                              ecosystem_of_chip=np.asarray(market["ecosystem_of_chip"]),
                              ecosystem_of_maker=np.asarray(market["ecosystem_of_maker"]),
                              is_us=np.asarray(market.get("is_us", []), dtype=bool))
    pairing = None
    if "pairing" in market:
        k, ratio, *cover = market["pairing"]  # (paired chip, ratio[, the chips it covers: default US])
        covered = np.asarray(cover[0], dtype=bool) if cover else indices.is_us
        perf = np.asarray(market["perf"], dtype=float)
        pairing = Pairing(k, ratio, np.where(covered, ratio * perf / perf[k], 0.0))
    cost = np.asarray(market["cost"], dtype=float)
    offer = MarketOffer(
        catalogue=indices, sale=np.ones(cost.shape[0], dtype=bool),
        allowed_by_class=np.asarray(market["allowed_by_class"], dtype=bool),
        base=np.asarray(market["base"], dtype=float), cost=cost, perf=np.asarray(market["perf"], dtype=float),
        groups=np.asarray(market["groups"], dtype=bool), capacity=np.asarray(market["capacity"], dtype=float),
        stocked=np.zeros(cost.shape[0], dtype=bool), pairing=pairing)
    demand, pull = np.asarray(market["demand"], dtype=float), np.asfortranarray(market["pull"], dtype=float)
    return clear_market(demand, pull, np.asarray(market["access_class"], dtype=np.intp), offer, **extra)


def hand_market() -> dict:
    """One ecosystem, two chips of equal utility (each gets half of a budget), one maker each.
    Chip 0: $8, 1 H100e, a supply group of 187.5 units; chip 1: $16, 4 H100e, not binding.
    Developers 0 and 1 may buy both chips (class 0); developer 2 only chip 0 (class 1)."""
    return dict(demand=[1000.0, 3000.0, 1000.0], pull=[[0.0], [0.0], [0.0]], access_class=[0, 0, 1],
                allowed_by_class=[[True, True], [True, False]], base=[0.0, 0.0], cost=[8.0, 16.0],
                perf=[1.0, 4.0], groups=[[True, False], [False, True]], capacity=[187.5, np.inf],
                maker_of_chip=[0, 1], ecosystem_of_chip=[0, 0], ecosystem_of_maker=[0, 0])


def test_a_small_market_cleared_by_hand():
    """Round 1: orders are 3000 USD on chip 0 (half of 4000, all of 1000) = 375 units and 2000 USD on
    chip 1 = 125 units; chip 0's group has 187.5 units, so everyone gets half of what it ordered of chip
    0 (fill 0.5) and all of chip 1. Round 2: chip 0 is exhausted; developers 0 and 1 spend their rest
    (250, 750 USD) on chip 1; developer 2 may buy nothing else: its 500 USD are unmet."""
    c = clear(hand_market())
    assert c.rounds == 2
    assert c.orders.tolist() == [375.0, 125.0]
    # H100e by maker: dev 0 = 1000*(0.25/8) from chip 0, 1000*(0.5*4/16) + 250*(4/16) from chip 1
    assert c.purchases.tolist() == [[31.25, 187.5], [93.75, 562.5], [62.5, 0.0]]
    assert c.chips_sold.tolist() == [187.5, 187.5]
    assert c.spent.tolist() == [1000.0, 3000.0, 500.0]
    assert c.unmet.tolist() == [0.0, 0.0, 500.0]
    assert c.capacity_left.tolist() == [0.0, np.inf]


def test_without_a_short_group_the_market_clears_in_one_round():
    market = hand_market() | dict(capacity=[1e9, np.inf])
    c = clear(market)
    assert c.rounds == 1 and c.unmet.tolist() == [0.0, 0.0, 0.0]
    assert c.chips_sold.tolist() == [375.0, 125.0] and c.capacity_left.tolist() == [1e9 - 375.0, np.inf]


def test_a_chip_in_two_groups_gets_the_smaller_fill_ratio():
    # group 0 = chip 0 (capacity 187.5 of 375 ordered: 0.5); group 1 = both chips (capacity 250 of 500: 0.5)
    # -> make group 1 tighter: 100 of 500 ordered -> 0.2 for both chips
    market = hand_market() | dict(groups=[[True, False], [True, True]], capacity=[187.5, 100.0])
    c = clear(market, max_rounds=1)
    assert c.rounds == 1
    assert c.chips_sold == pytest.approx([375.0 * 0.2, 125.0 * 0.2], rel=1e-15)
    assert c.capacity_left == pytest.approx([187.5 - 75.0, 0.0], abs=1e-12)


def paired_market() -> dict:
    """A pairing quota (ratio 1) in a market cleared by hand: one developer may buy only the US chip 0 ($10
    to the buyer, pairing cost included; 1 H100e); each unit takes 1 H100e of the domestic chip 1 (0.5
    H100e a unit: 2 units), whose maker can deliver 50 units."""
    return dict(demand=[1000.0], pull=[[0.0, 0.0]], access_class=[0], allowed_by_class=[[True, False]],
                base=[0.0, 0.0], cost=[10.0, 5.0], perf=[1.0, 0.5], groups=[[False, True]], capacity=[50.0],
                maker_of_chip=[0, 1], ecosystem_of_chip=[0, 1], ecosystem_of_maker=[0, 1],
                is_us=[True, False], pairing=(1, 1.0))


def test_a_pairing_quota_bundles_domestic_chips_with_imports():
    """Round 1: 1000 USD order 100 units of chip 0, which need 200 units of chip 1 (its group has 50): fill
    0.25, so 25 units of chip 0 and 50 of chip 1 are sold and installed (25 H100e from each maker) for 250
    USD. Round 2: chip 1's supply is gone, so chip 0 can no longer be bought: 750 USD are unmet."""
    c = clear(paired_market())
    assert c.rounds == 2
    assert c.orders.tolist() == [100.0, 200.0]
    assert c.chips_sold.tolist() == [25.0, 50.0]
    assert c.purchases.tolist() == [[25.0, 25.0]]
    assert c.spent.tolist() == [250.0] and c.unmet.tolist() == [750.0]
    assert c.capacity_left.tolist() == [0.0]
    # with domestic supply to spare the whole budget buys the bundle
    c = clear(paired_market() | dict(capacity=[1000.0]))
    assert c.chips_sold.tolist() == [100.0, 200.0] and c.purchases.tolist() == [[100.0, 100.0]]
    assert c.capacity_left.tolist() == [800.0] and c.unmet.tolist() == [0.0]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("covers", ["every US chip", "one US chip"])
def test_a_pairing_quota_installs_what_it_takes_from_domestic_supply(seed, covers):
    """Random markets with a pairing quota on the first domestic chip (chip 2), covering both US chips or
    only chip 0 (as Beijing's own quota covers only the products it approves): no supply group delivers
    more than it has (bundled units counted on the paired chip), and every unit sold, bundled or not, is
    installed as H100e with its maker."""
    cover = [True, covers == "every US chip", False, False, False, False]
    market = random_market(np.random.default_rng(seed)) | dict(is_us=[True, True, False, False, False, False],
                                                              pairing=(2, 0.5 + seed / 4, cover))
    c = clear(market)
    assert ((market["groups"] * c.chips_sold).sum(axis=1) <= market["capacity"] * (1 + 1e-12)).all()
    by_maker = np.bincount(market["maker_of_chip"], weights=c.chips_sold * market["perf"], minlength=4)
    assert c.purchases.sum(axis=0) == pytest.approx(by_maker, rel=1e-12, abs=1e-9)
    covered_h100e = (c.chips_sold[:2] * market["perf"][:2] * cover[:2]).sum()
    bundled = market["pairing"][1] * covered_h100e / market["perf"][2]
    assert c.spent.sum() == pytest.approx((c.chips_sold * market["cost"]).sum() - bundled * market["cost"][2],
                                          rel=1e-12)


def random_market(rng: np.random.Generator, n: int = 40) -> dict:
    J, E, C = 6, 3, 3  # chips, ecosystems, access classes; four makers
    return dict(demand=rng.lognormal(10, 1, n), pull=rng.normal(0, 2, (n, E)),
                access_class=rng.integers(0, C, n),
                allowed_by_class=rng.random((C, J)) < 0.7, base=rng.normal(0, 1, J),
                cost=rng.uniform(5e3, 4e4, J), perf=rng.uniform(0.2, 3, J),
                groups=np.array([[1, 1, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0], [0, 0, 1, 1, 1, 0],
                                 [0, 0, 0, 0, 0, 1]], dtype=bool),
                capacity=np.array([rng.uniform(0, 30), rng.uniform(0, 20), rng.uniform(0, 40), np.inf]),
                maker_of_chip=np.array([0, 0, 1, 2, 3, 3]), ecosystem_of_chip=np.array([0, 0, 1, 2, 2, 2]),
                ecosystem_of_maker=np.array([0, 1, 2, 2]))


@pytest.mark.parametrize("seed", range(12))
def test_supply_and_budgets_are_never_exceeded(seed):
    market = random_market(np.random.default_rng(seed))
    c = clear(market)
    cap0 = market["capacity"]
    sold_by_group = (market["groups"] * c.chips_sold).sum(axis=1)
    assert (sold_by_group <= cap0 * (1 + 1e-12)).all()
    assert (c.chips_sold >= 0).all() and (c.purchases >= 0).all()
    assert (c.spent >= 0).all() and (c.spent <= market["demand"] * (1 + 1e-12)).all()
    assert np.array_equal(c.spent, market["demand"] - c.unmet)  # spent is defined as demand - unmet
    assert c.unmet == pytest.approx(market["demand"] - c.spent, rel=0, abs=1e-12 * market["demand"].max())
    # the two ledgers agree: USD and H100e bought by developers = chips sold x cost, x perf
    assert c.spent.sum() == pytest.approx((c.chips_sold * market["cost"]).sum(), rel=1e-12)
    by_maker = np.bincount(market["maker_of_chip"], weights=c.chips_sold * market["perf"], minlength=4)
    assert c.purchases.sum(axis=0) == pytest.approx(by_maker, rel=1e-12, abs=1e-9)
    # nobody buys a chip its class may not buy: a class with no allowed chip spends nothing
    none_allowed = ~market["allowed_by_class"].any(axis=1)
    assert (c.spent[none_allowed[market["access_class"]]] == 0).all()
