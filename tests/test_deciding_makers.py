"""Washington's licence pipeline and US makers deciding by margin and risk (issue 28 items 2-3; ODD 7.1,
7.5)."""

import numpy as np
import pytest

from model import ChipMarketModel

FORWARD = dict(realize_reversals=False, n_developers=200, china_import_policy="decides",
               us_licence_lead_quarters=2, makers_weigh_margin=True)


def run(seed=1, steps=20, **overrides):
    m = ChipMarketModel(rng=seed, **{**FORWARD, **overrides})
    m.run(steps)
    return m


def units(m, chip=None, maker=None) -> float:
    sales = m.datacollector.get_table_dataframe("chip_sales")
    if chip is not None:
        sales = sales[sales.chip == chip]
    if maker is not None:
        sales = sales[sales.maker == maker]
    return float(sales.units.sum())


@pytest.mark.parametrize("lead", [0, 1, 2, 3])
def test_a_licensed_product_reaches_china_lead_quarters_after_it_becomes_licensable(lead):
    m = ChipMarketModel(rng=1, **{**FORWARD, "china_import_policy": "open",
                                  "us_licence_lead_quarters": lead})
    h200 = m.catalogue.names.index("H200")
    first = None
    for k in range(6):
        m.step()
        _, to_licensed = m.us_government.deliverable()
        if to_licensed[h200] and first is None:
            first = k
        if k < lead:
            assert m.chips_sold[h200] == 0
    assert first == lead
    assert m.us_government.exportable()[1][h200]  # the rule licensed it from the start


def test_with_the_levy_raised_nvidia_supplies_china_less():
    """The levy falls on the seller: at 75% of the China price Nvidia's margin (75% gross) is gone, it makes
    nothing more for China and its licensed H200 stock goes to other buyers."""
    usual = [run(seed, us_revenue_share=0.25) for seed in (1, 2)]
    dear = [run(seed, us_revenue_share=0.8) for seed in (1, 2)]
    made = [sum(float(m.supply.production.sum()) for _ in [0]) for m in usual]
    assert np.mean([units(m, maker="Nvidia") for m in dear]) < 0.5 * np.mean(
        [units(m, maker="Nvidia") for m in usual])
    assert all(not mk.running.any() for m in dear for mk in m.chipmakers[:1])
    assert made  # the usual case ran lines
    # without the rule the levy does not reach supply (the old, inert levy)
    inert = [run(seed, us_revenue_share=0.8, makers_weigh_margin=False) for seed in (1, 2)]
    nvidia = [np.mean([units(m, maker="Nvidia") for m in runs]) for runs in (inert, dear)]
    assert nvidia[0] > nvidia[1]


def test_a_lost_year_leaves_a_mark_when_the_maker_halts():
    """A US ban through 2026, then the enacted rule: Nvidia halts the H200's China line (its stock goes to
    other buyers) and restarts it only maker_restart_quarters after it may sell again, so fewer H200 reach
    China by 2030 than without the lost year. With domestic prices at list (domestic_price_response 0) it is
    0.43-0.57 of them (seeds 1-4); without the halting rule more of them sell later (0.76-1.03: with the
    licences held by the largest private developers the lost year costs some sales even without a halt).
    With domestic prices that respond (the default) the mark is smaller, 0.58-0.84 against 0.88-1.0 without
    the rule: a year of a ban leaves domestic chips short and dear (their markups rise), so more of the H200
    sells once it returns. Washington's licence caps are off: at the default 1M total the cap, not the halt,
    decides how many H200 ever sell."""
    lost = "2026Q1:ban,2027Q1:threshold"
    kw = dict(design_to_rule=False, us_licence_total_cap_units=float("inf"),
              per_customer_cap_units=float("inf"))

    def share_sold(seed, **more):  # H200 units by 2030 after the lost year, over those without it
        return (units(run(seed, us_policy_schedule=lost, **kw, **more), "H200")
                / units(run(seed, **kw, **more), "H200"))

    for prices in ({"domestic_price_response": 0.0}, {}):
        with_rule = [share_sold(s, **prices) for s in (1, 2)]
        without = [share_sold(s, makers_weigh_margin=False, **prices) for s in (1, 2)]
        assert all(w < wo - 0.15 for w, wo in zip(with_rule, without)), (prices, with_rule, without)
        assert max(with_rule) < (0.8 if prices else 0.9), (prices, with_rule)


def test_beijing_s_guidance_halts_a_line_for_good():
    """In the replay with Beijing deciding, the H20 and MI308 lines stop when Beijing guides buyers away
    (2025Q3) and never restart (Beijing never lowers those levels)."""
    from model.validation.decisions import deciding_params
    from model.validation.replay import REPLAY_EXPERIMENT, replay_spec

    params, steps, _ = replay_spec(REPLAY_EXPERIMENT)
    m = ChipMarketModel(rng=1, **{**deciding_params(params), "n_developers": 200, "makers_weigh_margin": True,
                                  "us_licence_lead_quarters": 2})
    names = m.catalogue.names
    for _ in range(steps):
        m.step()
        if m.quarter_label >= "2025Q3":
            for mk in m.chipmakers[:2]:
                rows = np.flatnonzero(mk.products)
                for chip in ("H20", "MI308"):
                    j = names.index(chip)
                    if j in rows:
                        assert not mk.running[list(rows).index(j)], (m.quarter_label, chip)


def test_prepayment_moves_the_us_reversal_risk_to_the_buyer():
    """us_prepayment (Reuters, Jan 2026: full payment in advance, no cancellation): at a 35% chance a quarter
    of a US tightening, AMD (gross margin 0.49) finds a licensed unit not worth making when it bears that
    risk ((1 - 0.35) x margin < 0.35 x cost at the 25% levy), so the MI300X and MI325X never reach China;
    paid in advance, the risk is the buyer's and they do. Its China part (levied 15%, not prepaid) sells
    either way."""
    kw = dict(china_import_policy="open", us_reversal_prob=0.35, realize_reversals=False)
    for seed in (1, 2):
        prepaid, at_risk = (run(seed, us_prepayment=flag, **kw) for flag in (True, False))
        for chip in ("MI300X", "MI325X"):
            assert units(prepaid, chip) > 10_000 and units(at_risk, chip) == 0.0, (seed, chip)
        assert units(prepaid, "AMDDesign1") > 0 and units(at_risk, "AMDDesign1") > 0
