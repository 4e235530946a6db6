"""The fast model and the per-agent reference (benchmarks/reference.py) implement the same rules.

Same parameters, same seed, same initial state and random numbers -> the same reporters, step by
step, to round-off (rtol 1e-9). The settings cover rationing that binds (small domestic capacity
under a US ban), Beijing's restrict and discourage stances, lagged and open US regimes, reversals,
dated schedules, the adaptive Chinese rule and R&D-paced domestic roadmaps, and the rule as enacted
in Jan 2026 with its instruments: the threshold regime with a dated and an adaptive TPP cap, a
binding volume cap, a licence-count schedule with a per-customer cap, Beijing's import cap and
pairing quota, and a replay from 2023Q1 through the H20's end of production and stock sell-down;
and the market side: an HBM-bound Huawei, Nvidia stopping China production when orders stall, the US
offshore rule closing the channel abroad, a scarce and an ample grey market (lagged chips and the
newest: the grey chip and the frontier budget set aside for it), stockpiling ahead of a priced cut,
the levy passed on by scarcity, and carry-over of unspent budget under a ban; and the US roadmap after
Blackwell moved later and weaker, or earlier and stronger; and parts US makers design to the US rule: to
the default threshold under Beijing's restrict (a licensed product, and a China part to the h20-era caps
once the old ones are sold out), to a TPP cap raised by schedule (a second licensed product, with a
shorter lead and a wider margin; and again under a binding volume cap with the US roadmap late, where a
designed part is no product's next), to a TPP cap above the parents' (a second licensed product to the
same caps only once the best domestic chip passes the first), to the h20-era caps alone (China parts, a
longer lead), threshold designs dropped when a ban comes before their release (and answered again, in the
slots the dropped designs emptied, when the threshold returns), the licensed one dropped when the h20
regime comes (the China part goes on), and none with ``design_to_rule`` off; and Washington's licence
pipeline with US makers weighing margin and risk (halting, releasing and restarting China lines): with
Beijing deciding, with a levy above both makers' margins, after a lost year under a US ban, in the 2022Q4
history replay and under Beijing's restrict stance. The reporters include the
ledger of installed chips by channel (legacy, legal, grey, offshore; FLOP-based compute), which the
reference keeps per chip, and the replays from 2023Q1 draw budgets on the pre-2025 demand path
(``history_growth``).
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.reference import CAPACITY_PARAMETERS, DOMESTIC_MAKERS, ReferenceModel
from model import MODEL_REPORTERS, ChipMarketModel
from model.core.catalogue import NEVER
from model.core.parameters import PARAMS_BY_NAME
from model.core.policy import APPROVAL, H20_ERA_CAPS
from model.core.quarters import parse_quarter
from model.core.reporters import MAKER_COLUMNS, USD_PER_H100E
from model.validation.replay import REPLAY_EXPERIMENT, replay_spec

STEPS = 20


def domestic_capacities(value_of) -> dict:
    """Every domestic maker's capacity parameter (the catalogue's domestic makers, so a maker added
    later is included) set to ``value_of(its default)``."""
    return {param: value_of(PARAMS_BY_NAME[param].default) for param in CAPACITY_PARAMETERS.values()}


#: No domestic supply at all: every domestic maker's capacity is 0.
NO_DOMESTIC_SUPPLY = domestic_capacities(lambda default: 0)
#: Small domestic supply: every domestic maker at 1/15 of its default capacity (Huawei 40k, Cambricon 20k).
SMALL_DOMESTIC_SUPPLY = domestic_capacities(lambda default: default / 15)
#: The history replay's parameters (experiments/history_2022_2026.toml, read as ``chipstack validate``
#: reads it), its number of developers aside (each test sets its own).
HISTORY = {name: value for name, value in replay_spec(REPLAY_EXPERIMENT)[0].items() if name != "n_developers"}

#: Washington's licence pipeline (two quarters) and US makers weighing margin and risk.
LINES_AND_PIPELINE = {"us_licence_lead_quarters": 2, "makers_weigh_margin": True}

#: The defaults before Beijing decided and Washington and the makers had their pipelines and licence terms
#: (issue 28): the cases
#: written for those rules keep them, so each still exercises what it was written for; "defaults" is the
#: model's defaults as they are now.
OLD_DEFAULTS = {"china_import_policy": "restrict", "us_licence_lead_quarters": 0,
                "makers_weigh_margin": False, "us_licence_allocation": "random",
                "per_customer_cap_units": float("inf"), "us_licence_total_cap_units": float("inf")}
_CASES_ON_OLD_DEFAULTS = {
    "default_lagged_restrict": {},
    "rationing_us_ban": {"export_regime": "ban", **SMALL_DOMESTIC_SUPPLY},
    "rationing_h20_discourage": {"export_regime": "h20", "china_import_policy": "discourage",
                                 "huawei_capacity_2026": 100_000, "domestic_capacity_growth": 0.2},
    "china_restrict_lagged": {"export_regime": "lagged", "china_import_policy": "restrict",
                              "export_lag_months": 6, "approved_customer_share": 0.4},
    "open_open": {"export_regime": "open", "china_import_policy": "open", "us_reversal_prob": 0.0},
    "reversals_adaptive": {"export_regime": "open", "china_import_policy": "open",
                           "us_reversal_prob": 0.3, "china_adaptive": True,
                           "huawei_capacity_2026": 3_000_000},
    "schedules_rnd": {"us_policy_schedule": "2027Q1:open,2028Q3:ban",
                      "china_policy_schedule": "2026Q3:discourage,2029Q1:ban",
                      "rd_speedup_cost_usd": 5e7, "state_mandate": False},
    "replay_2023_priced_risk": {"start_quarter": "2023Q1", "realize_reversals": False,
                                "us_reversal_prob": 0.3, "rd_speedup_cost_usd": 5e7,
                                "state_domestic_preference": 4.0, "china_import_policy": "open"},
    "no_noise_no_domestic": {"demand_shock_sd": 0.0, "taste_sd": 0.0, **NO_DOMESTIC_SUPPLY},
    # the rule as enacted (threshold) and its instruments
    "threshold_dated_cap": {"realize_reversals": False, "export_tpp_cap": 16_000,
                            "us_policy_schedule": "2027Q1:threshold@30000", "china_import_policy": "open"},
    # ample HBM: Huawei earns above plan, R&D brings the Ascend960 forward and the adaptive cap follows it
    "threshold_adaptive": {"realize_reversals": False, "us_adaptive": True, "china_import_policy": "open",
                           "rd_speedup_cost_usd": 5e7, "hbm_stockpile_2026": 1e9},
    "volume_cap_binding": {"realize_reversals": False, "us_volume_cap_share": 0.05,
                           "china_import_policy": "open"},
    "licences_per_customer_cap": {"realize_reversals": False, "per_customer_cap_units": 20_000,
                                  "us_licence_schedule": "2026Q1:3,2026Q3:10", "china_import_policy": "open"},
    "import_cap": {"realize_reversals": False, "china_import_cap_units": 50_000,
                   "china_import_policy": "open"},
    "pairing_quota": {"realize_reversals": False, "domestic_pairing_ratio": 1.0,
                      "china_import_policy": "open"},
    # Beijing deciding sets its own pairing quota when domestic buyers leave output unsold (low demand)
    "beijing_pairs": {"realize_reversals": False, "demand_2026_usd": 5e9, "china_import_policy": "decides"},
    "replay_2023_h20_stock": {"start_quarter": "2023Q1", "export_regime": "h20", "realize_reversals": False,
                              "us_policy_schedule": "2025Q2:ban,2025Q3:h20,2026Q1:threshold",
                              "china_import_policy": "open",
                              "china_policy_schedule": "2025Q3:discourage,2026Q1:restrict"},
    # the market side (issue 13): makers' China supply, HBM-bound domestic output, where blocked budgets go
    "hbm_binding": {"hbm_stockpile_2026": 200_000, "domestic_hbm_2026": 400_000},
    # Beijing's ban comes once Nvidia makes H200s for China again (it sells its 700k stock first: with the
    # RTX Pro 6000D retired in 2025Q4 it makes nothing for China before 2027Q2)
    "stalled_orders_beijing_ban": {"realize_reversals": False, "china_import_policy": "open",
                                   "china_policy_schedule": "2027Q3:ban"},
    "offshore_rule_closes": {"export_regime": "ban", "offshore_open_after_rule": 0.0},
    # spending abroad all rented by the quarter, or all bought; and a dearer rent on a faster price trend in a
    # replay from 2023Q1 (the rent per chip before 2026 above its 2026 level)
    "offshore_rent_only_ban": {"export_regime": "ban", "offshore_owned_share": 0.0},
    "offshore_owned_only_ban": {"export_regime": "ban", "offshore_owned_share": 1.0},
    "offshore_rent_dear_replay": {"start_quarter": "2023Q1", "export_regime": "ban",
                                  "offshore_owned_share": 0.5, "offshore_rent_usd_per_h100e_hour": 4.0,
                                  "offshore_capacity_share": 0.5, "us_flop_per_usd_doubling_years": 1.6},
    # the grey market: scarce smuggling (the premium near its choke) and ample smuggling of the newest
    # chip (no lag: the grey chip is the frontier chip)
    "grey_binding": {"export_regime": "ban", "offshore_capacity_share": 0.05, "grey_supply_units": 10_000},
    "grey_ample_no_lag": {"export_regime": "ban", "grey_supply_units": 1_000_000, "grey_lag_quarters": 0,
                          "grey_frontier_share": 0.5, "grey_seizure_share": 0.3},
    # a $20B market: at the default $50B the main clearing takes all US supply (the H20's stock went in
    # the backcast), so nothing is left to stockpile; domestic prices stay at list (their markups would
    # draw budgets the case leaves to stockpiling)
    "stockpiling_priced_risk": {"us_reversal_prob": 0.3, "realize_reversals": False, "stockpile_share": 0.5,
                                "china_import_policy": "open", "demand_2026_usd": 20e9,
                                "domestic_price_response": 0.0},
    "scarcity_passthrough": {"revenue_passthrough": 1.0, "realize_reversals": False,
                             "china_import_policy": "open"},
    "carryover_ban": {"export_regime": "ban", "carryover_share": 0.9, "grey_supply_units": 0.0,
                      "offshore_capacity_share": 0.0},
    # the US roadmap after Blackwell as a scenario: late and weaker under the rolling lag, early and
    # stronger abroad and on the grey market under a ban
    "us_roadmap_late_weak_lagged": {"export_regime": "lagged", "china_import_policy": "open",
                                    "us_roadmap_delay_quarters": 3, "us_roadmap_perf_scale": 0.7},
    "us_roadmap_early_strong_ban": {"export_regime": "ban", "us_roadmap_delay_quarters": -2,
                                    "us_roadmap_perf_scale": 1.4},
    # the chips announced by name only on a faster trend, sold under 'open' and smuggled with no lag
    "trend_fast_open": {"export_regime": "open", "china_import_policy": "open", "grey_lag_quarters": 0,
                        "us_flop_per_usd_doubling_years": 1.6, "us_bandwidth_doubling_years": 3.0,
                        "us_roadmap_delay_quarters": -4},
    # parts designed to the US rule (design_to_rule), under Beijing's restrict: Nvidia answers the default
    # threshold with a licensed product cut from the B200 (AMD's would not beat its MI325X), and, the H20 and
    # MI308 stocks sold out and the RTX Pro 6000D retired, both makers bring out a China part to the h20-era
    # caps (still exportable to anyone under the threshold); two sets of caps answered
    "design_threshold_restrict": {"realize_reversals": False},
    # the TPP cap raised by schedule: a second licensed product to the new caps, in Nvidia's third slot
    # (after its first licensed product and its China part; a shorter lead and a wider margin than the
    # defaults)
    "design_cap_by_schedule": {"realize_reversals": False, "us_policy_schedule": "2027Q1:threshold@30000",
                               "china_import_policy": "open", "design_lead_quarters": 1,
                               "design_margin": 0.2},
    # the same under a binding volume cap with the US roadmap a year late: the second licensed product ships
    # before Rubin Ultra and is not the first one's next product (its volume-cap base keeps to the parent's
    # units); AMD answers the new caps too
    "design_volume_capped_late_roadmap": {"realize_reversals": False, "china_import_policy": "open",
                                          "us_policy_schedule": "2027Q1:threshold@30000",
                                          "design_lead_quarters": 1, "us_volume_cap_share": 0.05,
                                          "us_roadmap_delay_quarters": 4},
    # a US ban before the threshold's parts are released: the licensed product and the China parts are
    # dropped and nothing designed is ever sold
    "design_dropped_ban": {"realize_reversals": False, "us_policy_schedule": "2026Q2:ban",
                           "china_import_policy": "open"},
    # the same, and the threshold back a year later: the caps the dropped designs aimed at are answered again
    # (on both tracks, the slots the drops emptied taken again, the one emptied last first)
    "design_answered_again": {"realize_reversals": False, "us_policy_schedule": "2026Q2:ban,2027Q1:threshold",
                              "china_import_policy": "open"},
    # the h20 regime before the threshold's parts are released: the licensed product is dropped (its slot
    # stays empty), the China parts designed beside it go on (their caps are the h20 regime's too)
    "design_redesigned_h20": {"realize_reversals": False, "us_policy_schedule": "2026Q2:h20",
                              "china_import_policy": "open"},
    # the h20 regime throughout: with the H20 and the RTX Pro 6000D retired, both makers design China parts
    # to the h20-era caps (a longer lead than the default)
    "design_h20_era": {"export_regime": "h20", "realize_reversals": False, "china_import_policy": "open",
                       "design_lead_quarters": 3},
    # a TPP cap above its parents' TPP (the bandwidth cap binds): a licensed product cut from the B200, and
    # another to the same caps, from a newer parent, only once the best domestic chip passes the first
    # (not as soon as a newer parent would give a better part: the caps are answered on the licensed track,
    # whatever the China-part track last answered)
    "design_cap_above_parent": {"realize_reversals": False, "china_import_policy": "open",
                                "export_tpp_cap": 60_000},
    "design_off": {"design_to_rule": False, "realize_reversals": False, "china_import_policy": "open"},
}
CASES = {
    "defaults": {},
    **{case: {**OLD_DEFAULTS, **params} for case, params in _CASES_ON_OLD_DEFAULTS.items()},
    # Beijing decides ('decides', ODD 7.1b). The defaults from 2026Q1: its warm start over 2022Q4-2025Q4
    # (the h20 rule, the catalogue's chips) guides the H20 and MI308 once the Ascend 910C matches them, then
    # blocks them, the RTX Pro 6000D by precedent; the H200, MI300X and MI325X, new under the threshold, are
    # held, then need approval (the largest private developers); the parts designed to the rule are held
    # (the licensed one) or blocked by precedent (the China parts)
    "beijing_decides": {"china_import_policy": "decides"},
    # the history replay from 2022Q4 with Beijing deciding instead of its dated schedule: the same ladder
    # inside the run (guidance 2025Q3, customs 2025Q4, H200 held 2026Q1, approval 2026Q2)
    "beijing_decides_replay_2022": {**HISTORY, "china_policy_schedule": "", "china_import_policy": "decides"},
    # a two-quarter review (every step two quarters apart; the warm start's guidance is blocked in the run)
    # and no state mandate (no effect when Beijing decides: its rule never sets 'discouraged', the only
    # level the mandate changes)
    "beijing_decides_slow_review_no_mandate": {"china_import_policy": "decides", "state_mandate": False,
                                               "china_review_quarters": 2},
    # a looser match (half a product's performance): the H200 and MI300X are matched when first offered
    # (held, then guided, then blocked) and the MI325X and Nvidia's licensed part, approved first, are
    # guided and blocked once a domestic chip matches them; US licences to the ten largest developers (so
    # the approved ones hold licences too, and buy)
    "beijing_decides_domestic_matches": {"china_import_policy": "decides", "china_match_ratio": 0.5,
                                         "us_licence_schedule": "2026Q1:10"},
    # Washington's licence pipeline (two quarters) and US makers weighing margin and risk (halting and
    # restarting China lines), on with Beijing deciding: what the defaults are to become. The H200, MI300X and
    # MI325X reach licensed buyers two quarters after the threshold first licenses them (2026Q3), Nvidia's
    # licensed part two quarters after its release; a line stops when Beijing guides buyers away or blocks
    "lines_pipeline_decides": {**LINES_AND_PIPELINE, "china_import_policy": "decides"},
    # the same with a levy of 80%: above Nvidia's gross margin (75%) and AMD's (49%), no licensed line
    # pays; the H200's line halts at once and its 700k stock goes to other buyers, AMD's licensed products
    # never launch; the China parts, levied 15%, would pay, but Beijing blocks them by precedent
    "lines_pipeline_levy_80": {**LINES_AND_PIPELINE, "china_import_policy": "decides",
                               "us_revenue_share": 0.8},
    # a US ban through 2026, then the threshold: the H200's line halts (its stock goes) and restarts
    # maker_restart_quarters after the threshold returns, when the licensed products come through the pipeline
    "lines_pipeline_lost_year": {**LINES_AND_PIPELINE, "china_import_policy": "decides",
                                 "us_policy_schedule": "2026Q1:ban,2027Q1:threshold"},
    # the 2022Q4 history replay: the China parts' lines halt keeping their stock (the H20 planning 2025Q2, its
    # end of production, the catalogue's Apr 2025 licence requirement), the licensed products wait in the
    # pipeline under the 2026 threshold; products not yet released at the start (H20, MI308, H200, though
    # the catalogue gives them a stock) are idle lines that launch when they may be sold
    "lines_pipeline_replay_2022": {**HISTORY, **LINES_AND_PIPELINE},
    # under Beijing's restrict stance
    "lines_pipeline_restrict": {**LINES_AND_PIPELINE, "china_import_policy": "restrict"},
    # Washington's licence terms (the defaults: the largest private developers hold the licences, 75k units
    # each a year, 1M in all): a total cap that binds in the first licensed year (Beijing open, so that the
    # licensed products sell), with licences drawn at random; and the rolling lag, to which neither cap
    # applies
    "licence_total_cap_binding": {"china_import_policy": "open", "realize_reversals": False,
                                  "us_licence_total_cap_units": 150_000,
                                  "us_licence_allocation": "random", "per_customer_cap_units": float("inf")},
    "licence_terms_lagged_open": {"export_regime": "lagged", "china_import_policy": "open",
                                  "realize_reversals": False},
    # a 35% chance of a US tightening a quarter: AMD's licensed lines pay only when the buyer prepays
    "prepayment_risky": {"china_import_policy": "open", "us_reversal_prob": 0.35, "realize_reversals": False},
    "no_prepayment_risky": {"china_import_policy": "open", "us_reversal_prob": 0.35,
                            "realize_reversals": False, "us_prepayment": False},
}
#: The cases were written when US reversals happened by default (before issue 32): those that do not say
#: keep them, so each still exercises what it was written for ("defaults" is the defaults as they are now).
CASES = {case: (params if case == "defaults" or "realize_reversals" in params
                else {**params, "realize_reversals": True}) for case, params in CASES.items()}
#: The cases with the licence pipeline and US makers weighing margin and risk.
LINE_CASES = sorted(case for case, params in CASES.items() if params.get("makers_weigh_margin"))
#: The cases for Beijing's rule (it decides; the line cases aside).
#: Beijing deciding its pairing quota, not the product ladder (``test_beijing_sets_a_pairing_quota_...``)
PAIRING_CASES = ("beijing_pairs",)
BEIJING_CASES = sorted(case for case, params in CASES.items()
                       if params.get("china_import_policy") == "decides"
                       and case not in [*LINE_CASES, *PAIRING_CASES])


def both(seed: int, n: int, params: dict):
    fast = ChipMarketModel(rng=seed, n_developers=n, **params)
    ref = ReferenceModel(rng=seed, n_developers=n, **params)
    return fast, ref


def reporters(model) -> np.ndarray:
    return np.array([model.reported[name] for name in MODEL_REPORTERS], dtype=float)




def round_off_scale(fast) -> np.ndarray:
    """Per reporter, the size its round-off is relative to when that is not the reporter itself.

    The budget China's market did not take is a difference (budget - served): where it is ~0 it is a
    few ulps of the quarter's budget, and that residue flows on, abroad, to the grey market or unspent.
    So the unmet and unspent budget and the spending abroad and on the grey market are compared
    relative to the quarter's budget, and the compute bought abroad or smuggled (which accumulates
    that residue) relative to the compute installed."""
    scale = np.zeros(len(MODEL_REPORTERS))
    budget = float(fast.reported["budget_usd"])
    compute = float(fast.reported["china_compute_h100e"] + fast.reported["offshore_compute_h100e"])
    for name, size in (("unmet_demand_h100e", budget / USD_PER_H100E), ("unspent_usd", budget),
                       ("spent_offshore_usd", budget), ("spent_grey_usd", budget),
                       ("offshore_compute_h100e", compute), ("grey_compute_h100e", compute)):
        scale[MODEL_REPORTERS.index(name)] = size
    return scale


@pytest.mark.parametrize("seed,n", [(1, 50), (7, 200)])
@pytest.mark.parametrize("case", sorted(CASES))
def test_same_reporters_step_by_step(case, seed, n):
    fast, ref = both(seed, n, CASES[case])
    for step in range(STEPS):
        fast.step()
        ref.step()
        a, b = reporters(fast), reporters(ref)
        bad = np.abs(b - a) > 1e-9 * np.maximum(np.abs(a), round_off_scale(fast))
        assert not bad.any(), (
            f"{case} seed={seed} n={n} step={step}: "
            + "; ".join(f"{MODEL_REPORTERS[k]} model={a[k]!r} reference={b[k]!r}"
                        for k in np.flatnonzero(bad)))
    # the per-developer state agrees too (in China, owned abroad, rented abroad this quarter)
    for name in ("installed", "installed_offshore", "rented_offshore"):
        mine = getattr(fast.developers, name)
        np.testing.assert_allclose([getattr(d, name) for d in ref.developers], mine, rtol=1e-9,
                                   atol=1e-12 * (fast.developers.installed.sum() + mine.sum()), err_msg=name)
    # and so does the ledger, channel by channel, per chip
    for channel, units in fast.ledger.stock.items():
        np.testing.assert_allclose([c.units[channel] for c in ref.chips], units, rtol=1e-9,
                                   atol=1e-12 * sum(fast.ledger.stock[c].sum() for c in fast.ledger.stock),
                                   err_msg=channel)
    # both data collectors hold the same table
    df_fast, df_ref = fast.dataframe(), ref.datacollector.get_model_vars_dataframe()
    np.testing.assert_allclose(df_ref[list(MODEL_REPORTERS)].to_numpy(),
                               df_fast[list(MODEL_REPORTERS)].to_numpy(), rtol=1e-9,
                               atol=1e-9 * float(df_fast["china_compute_h100e"].max()))


def test_rationing_binds_in_the_rationing_cases():
    """The rationing cases really exercise re-offered rounds (otherwise they prove little)."""
    for case in ("rationing_us_ban", "rationing_h20_discourage", "default_lagged_restrict"):
        _, ref = both(1, 100, CASES[case])
        rounds = []
        for _ in range(8):
            ref.step()
            rounds.append((ref.rationed, ref.rounds))
        assert any(r for r, _ in rounds), case
        assert max(k for _, k in rounds) >= 2, case
    # and under a US ban with small domestic capacity, every domestic maker runs short and demand goes unmet
    _, ref = both(1, 100, CASES["rationing_us_ban"])
    ref.step()
    assert set(DOMESTIC_MAKERS) <= ref.short_groups, ref.short_groups
    assert ref.reported["unmet_demand_h100e"] > 0.05 * sum(d.demand for d in ref.developers) / USD_PER_H100E


def test_no_domestic_case_sells_no_domestic_chip():
    """``no_noise_no_domestic`` removes every domestic maker's supply (derived from the catalogue, so a
    maker added later cannot silently sell in it): the model sells no domestic chip in any quarter."""
    assert {CASES["no_noise_no_domestic"][p] for p in CAPACITY_PARAMETERS.values()} == {0}
    fast = ChipMarketModel(rng=1, n_developers=200, **CASES["no_noise_no_domestic"])
    for _ in range(STEPS):
        fast.step()
        sold = {name: fast.reported[MAKER_COLUMNS[name][0]] for name in DOMESTIC_MAKERS}
        assert not any(sold.values()), (fast.quarter_label, sold)
        assert fast.reported["domestic_revenue_usd"] == 0.0


def test_same_random_stream_after_a_run():
    """Both consumed exactly the same draws: their generators end in the same state."""
    fast, ref = both(11, 80, {"us_reversal_prob": 0.2, "realize_reversals": True})
    for _ in range(6):
        fast.step()
        ref.step()
    assert fast.rng.bit_generator.state == ref.rng.bit_generator.state


def test_the_new_instruments_bind_in_their_cases():
    """The cases for the rule as enacted really exercise its instruments (otherwise they prove little)."""
    expected = {
        "volume_cap_binding": {"H200 volume cap", "MI300X volume cap", "MI325X volume cap"},
        "licences_per_customer_cap": {"licence caps"},
        "licence_total_cap_binding": {"licence caps"},
        "import_cap": {"import cap"},
        "replay_2023_h20_stock": {"H20 stock"},
        # the licensed products (NvidiaDesign2 is Nvidia's China part, under no volume cap)
        "design_volume_capped_late_roadmap": {"NvidiaDesign1 volume cap", "NvidiaDesign3 volume cap",
                                              "AMDDesign2 volume cap"},
    }
    for case, groups in expected.items():
        _, ref = both(1, 100, CASES[case])
        short = set()
        for _ in range(STEPS):
            ref.step()
            short |= ref.short_groups
        assert groups <= short, (case, short)
    # the H20 is sold from its stock after its end of production, until the stock is gone
    _, ref = both(1, 100, CASES["replay_2023_h20_stock"])
    h20 = next(c for c in ref.chips if c.name == "H20")
    sold_from_stock = []
    for _ in range(STEPS):
        ref.step()
        if ref.quarter >= h20.end_of_production:
            sold_from_stock.append(h20.units_sold)
    assert sum(sold_from_stock) == pytest.approx(h20_stock_units()) and h20.china_stock == 0.0
    # a dated TPP cap and the adaptive cap change what a licensed customer may buy
    for case, quarter, before, after in (("threshold_dated_cap", "2027Q1", False, True),
                                         ("threshold_adaptive", "2027Q1", False, True)):
        _, ref = both(1, 50, CASES[case])
        allowed = {}
        for _ in range(STEPS):
            ref.step()
            allowed[ref.quarter] = {c.name: c.to_licensed for c in ref.chips}
        q = parse_quarter(quarter)
        chip = "MI325X" if case == "threshold_dated_cap" else "H200"
        assert allowed[q - 1][chip] is before and allowed[q][chip] is after, case
    # the pairing quota adds the cost of domestic compute to each US chip
    _, ref = both(1, 50, CASES["pairing_quota"])
    ref.step()
    h200 = next(c for c in ref.chips if c.name == "H200")
    assert h200.buyer_cost > 1.5 * h200.china_price


def h20_stock_units() -> float:
    from model.core.catalogue import CHIPS
    return next(c.stock_units for c in CHIPS if c.name == "H20")


def run_reference(case: str, record, steps: int = STEPS, n: int = 100, seed: int = 1, **overrides) -> list:
    """Run the reference for ``case`` and return ``record(ref)`` after each quarter."""
    _, ref = both(seed, n, {**CASES[case], **overrides})
    rows = []
    for _ in range(steps):
        ref.step()
        rows.append(record(ref))
    return rows


def maker(ref, name: str):
    return next(mk for mk in ref.makers if mk.name == name)


def ledger_compute(ref, channel: str) -> float:
    """FLOP-based H100e in one of the reference's ledger channels."""
    return sum(c.units[channel] * c.flop_h100e for c in ref.chips)


def test_the_market_side_instruments_bind_in_their_cases():
    """The cases for issue 13's market side really exercise their instruments (otherwise they prove
    little)."""
    # HBM binds: Huawei's output ceiling is its HBM share, below its foundry capacity, and its sales keep
    # to it
    rows = run_reference("hbm_binding", lambda r: (
        maker(r, "Huawei").foundry_capacity, maker(r, "Huawei").hbm_ceiling,
        r.reported["huawei_output_cap_units"],
        sum(c.units_sold for c in maker(r, "Huawei").chips), "Huawei" in r.short_groups))
    for foundry, ceiling, cap, sold, short in rows:
        assert ceiling < 0.5 * foundry and cap == ceiling and sold <= ceiling * (1 + 1e-9) and short

    # orders stall (Beijing bans US chips): Nvidia, making for China before the ban, plans no more
    ban = parse_quarter(CASES["stalled_orders_beijing_ban"]["china_policy_schedule"].split(":")[0])
    rows = run_reference("stalled_orders_beijing_ban", lambda r: (
        r.quarter, sum(c.china_production for c in maker(r, "Nvidia").chips),
        r.reported["nvidia_china_revenue_usd"]))
    assert all(revenue > 0 for q, _, revenue in rows if q < ban)
    assert [made > 0 for q, made, _ in rows if q == ban - 1] == [True]
    assert all(revenue == 0 for q, _, revenue in rows if q >= ban)
    stopped = [q for q, made, _ in rows if q >= ban and made == 0]
    assert stopped and stopped[0] <= ban + 4, stopped
    assert all(made == 0 for q, made, _ in rows if q >= stopped[0])

    # the US offshore rule closes the channel abroad (offshore_open_after_rule = 0): spending abroad stops,
    # the chips owned abroad depreciate and nothing is rented any more (the rented channel is a flow: with
    # no spending abroad it holds nothing); domestic makers, selling above plan, buy capacity
    rule = parse_quarter(CASES["offshore_rule_closes"].get("offshore_rule_quarter", "2026Q3"))
    rows = run_reference("offshore_rule_closes", lambda r: (
        r.quarter, r.reported["spent_offshore_usd"], r.reported["offshore_compute_h100e"], r.depreciation,
        ledger_compute(r, "offshore"), ledger_compute(r, "rented"),
        sum(sum(d.rented_offshore) for d in r.developers), maker(r, "Huawei").added_capacity))
    assert all(spent > 0 and rented > 0 for q, spent, _, _, _, rented, *_ in rows if q < rule)
    assert all(spent == 0 for q, spent, *_ in rows if q >= rule)
    for (_, _, _, _, owned_before, *_), (q, _, after, dep, owned, rented, pulled, _) in zip(rows, rows[1:]):
        if q >= rule:
            assert rented == 0 and pulled == 0 and after == owned
            assert owned == pytest.approx(owned_before * (1 - dep), rel=1e-12)
    assert rows[-1][-1] > 0

    # the grey market binds: every quarter the premium is where the smugglers' supply line (units =
    # supply x (1 - seizure) x premium) meets the developers' demand (spending = what they bring x
    # (1 - premium / choke)); scarce supply puts it near the choke, and most of what was brought is unspent
    def grey_market(r):
        brought = sum((0.0 if d.state_affiliated else d.rest - d.offshore) + d.frontier_budget
                      for d in r.developers)
        private_demand = sum(d.demand for d in r.developers if not d.state_affiliated)
        return (r.grey_premium, r.grey_units, r.grey_chip, r.frontier_chip, brought,
                sum(d.frontier_budget for d in r.developers), private_demand, dict(r.reported),
                (r.quarter, r.grey_supply_units, r.grey_seizure_share, r.grey_max_premium,
                 r.grey_frontier_share, r.grey_lag_quarters))

    scarce = run_reference("grey_binding", grey_market)
    ample = run_reference("grey_ample_no_lag", grey_market)
    for rows in (scarce, ample):
        for premium, units, chip, _, brought, set_aside, private_demand, rep, params in rows:
            quarter, supply, seizure, choke, share, lag = params
            assert 0 < premium < choke and quarter - chip.release >= lag
            assert units == pytest.approx(supply * (1 - seizure) * premium, rel=1e-12)
            assert rep["grey_units"] == pytest.approx(units, rel=1e-9)
            assert rep["spent_grey_usd"] == pytest.approx(units * chip.price_usd * (1 + premium), rel=1e-9)
            assert rep["spent_grey_usd"] == pytest.approx(brought * (1 - premium / choke), rel=1e-9)
            assert rep["unspent_usd"] >= brought * premium / choke * (1 - 1e-9)
            assert rep["grey_compute_h100e"] > 0
            # under a ban no private developer may buy the grey chip: each sets its share aside for it
            assert set_aside == pytest.approx(share * private_demand, rel=1e-12)
    assert all(row[0] > 0.75 * row[-1][3] for row in scarce)
    assert all(a[0] < 0.5 * s[0] for a, s in zip(ample, scarce))
    # smuggled chips lag the frontier (grey_lag_quarters), unless the lag is 0
    assert any(grey is not frontier for _, _, grey, frontier, *_ in scarce)
    assert all(grey is frontier for _, _, grey, frontier, *_ in ample)

    # stockpiling: developers with legal access bring budget forward and spend it on US chips, then repay it
    rows = run_reference("stockpiling_priced_risk", lambda r: (
        sum(d.stockpiled for d in r.developers), sum(d.advance for d in r.developers),
        r.reported["budget_usd"] - sum(d.demand for d in r.developers)))
    assert rows[0][0] > 1e8
    for stockpiled, _, extra in rows:
        assert extra == pytest.approx(stockpiled, rel=1e-9, abs=1e-3)
    # the advance is repaid: in every quarter with nothing new stockpiled it falls (there are such quarters)
    repaying = [(a[1], b[1]) for a, b in zip(rows, rows[1:]) if a[1] > 0 and b[0] == 0]
    assert rows[0][1] > 0 and len(repaying) >= 4 and all(after < before for before, after in repaying)

    # scarcity: orders above supply let the maker pass on the whole levy (revenue_passthrough = 1)
    rows = run_reference("scarcity_passthrough", lambda r: [
        (c.scarcity, c.china_price / c.price_usd - 1.0, r.us_government.levy(c)) for c in r.chips if c.is_us])
    passed_on = [(s, markup, levy) for row in rows for s, markup, levy in row if s > 0]
    assert passed_on and any(s == 1.0 and levy > 0 for s, _, levy in passed_on)
    for s, markup, levy in passed_on:
        assert markup == pytest.approx(s * levy, rel=1e-12)

    # carry-over: under a ban carryover_share of the unspent budget is next quarter's extra budget
    # (the same demand draws without carry-over: the budgets differ by exactly the carry)
    carried = run_reference("carryover_ban", lambda r: (r.reported["budget_usd"],
                                                        sum(d.carry for d in r.developers)))
    plain = run_reference("carryover_ban", lambda r: r.reported["budget_usd"], carryover_share=0.0)
    for (budget, _), (_, carry), budget0 in zip(carried[1:], carried, plain[1:]):
        assert carry > 0.2 * budget0 and budget - budget0 == pytest.approx(carry, rel=1e-9)


def test_parts_are_designed_to_the_rule_in_their_cases():
    """The cases for parts designed to the US rule really exercise it (otherwise the comparison of the
    generated columns is 0 = 0): in each, a part designed to each expected (track, caps (TPP, bandwidth))
    is released design_lead_quarters after it was designed, at (1 - design_margin) x the caps it answered
    (its parent, the B200 or the MI355X, is above both), a China part just when on the China-part track
    (always to the h20-era caps), and sold; under the threshold both a licensed product and a China part
    come out; a design the rule overtakes before its release is dropped (its slot is never released unless
    a later design takes it); and with design_to_rule off no slot is ever filled."""
    threshold = (float(PARAMS_BY_NAME["export_tpp_cap"].default),
                 float(PARAMS_BY_NAME["export_bw_cap_gbs"].default))
    licensed, china = ("licensed", threshold), ("china_part", H20_ERA_CAPS)
    raised = ("licensed", (30_000.0, threshold[1]))
    expected = {
        "design_threshold_restrict": {licensed, china},
        "design_cap_by_schedule": {licensed, raised, china},
        "design_volume_capped_late_roadmap": {licensed, raised, china},
        "design_redesigned_h20": {china},
        "design_answered_again": {licensed, china},
        "design_h20_era": {china},
    }

    def slots(r):
        return r.quarter, r.reported["us_share_designed"], [
            (c.name, c.track, c.designed_to, c.released, c.release, c.units_sold, c.tpp, c.mem_bw_gbs,
             c.china_part) for c in r.chips if c.generated]

    for case, answered in expected.items():
        lead = CASES[case].get("design_lead_quarters", PARAMS_BY_NAME["design_lead_quarters"].default)
        margin = CASES[case].get("design_margin", PARAMS_BY_NAME["design_margin"].default)
        rows = run_reference(case, slots)
        designed, sold = {}, set()  # (slot, track, caps) -> (quarter designed, release); (track, caps) sold
        for q, _, row in rows:
            for name, track, caps, released, release, units, tpp, bw, china_part in row:
                if caps is None:
                    continue
                designed.setdefault((name, track, caps), (q, release))
                if released:
                    assert tpp == pytest.approx(caps[0] * (1 - margin), rel=1e-12), (case, name)
                    assert bw == pytest.approx(caps[1] * (1 - margin), rel=1e-12), (case, name)
                    assert china_part == (track == "china_part"), (case, name)
                    assert track != "china_part" or caps == H20_ERA_CAPS, (case, name)
                    if units > 0:
                        sold.add((track, caps))
        assert all(release == q + lead for q, release in designed.values()), (case, designed)
        assert answered <= sold, (case, sold)
        assert rows[-1][1] > 0, case

    # under the threshold two sets of caps are answered at once: Nvidia's licensed product and both makers'
    # China parts (the old ones sold out) are designed in the first quarter and released together
    rows = run_reference("design_threshold_restrict", slots)
    lead = PARAMS_BY_NAME["design_lead_quarters"].default
    first = {(name, track, caps) for name, track, caps, *_ in rows[0][2] if caps is not None}
    assert first == {("NvidiaDesign1", *licensed), ("NvidiaDesign2", *china), ("AMDDesign1", *china)}, first
    out = {(name, track) for _, _, row in rows for name, track, _, is_out, *_ in row if is_out}
    assert out == {(name, track) for name, track, _ in first}, out
    assert {release for _, _, row in rows for _, _, caps, _, release, *_ in row if caps is not None} == {
        rows[0][0] + lead}

    # the h20 regime overtakes the threshold's parts: the licensed product is dropped and its slot stays
    # empty; the China parts designed beside it, to the h20 regime's caps too, are the ones released
    rows = run_reference("design_redesigned_h20", slots)
    first = {name: caps for name, _, caps, *_ in rows[0][2] if caps is not None}
    assert first == {"NvidiaDesign1": threshold, "NvidiaDesign2": H20_ERA_CAPS, "AMDDesign1": H20_ERA_CAPS}
    released = {(name, caps) for _, _, row in rows for name, _, caps, is_out, *_ in row if is_out}
    assert released == {("NvidiaDesign2", H20_ERA_CAPS), ("AMDDesign1", H20_ERA_CAPS)}, released
    dropped = next(row for row in rows[-1][2] if row[0] == "NvidiaDesign1")
    assert dropped[2] is None and dropped[4] == NEVER

    # a US ban before their release: the parts designed to the threshold (licensed and China parts) are
    # dropped and never released
    rows = run_reference("design_dropped_ban", slots)
    first = sorted(caps for _, _, caps, *_ in rows[0][2] if caps is not None)
    assert first == [H20_ERA_CAPS, H20_ERA_CAPS, threshold], first
    assert not any(is_out for _, _, row in rows for _, _, _, is_out, *_ in row)
    assert all(caps is None and release == NEVER for _, _, caps, _, release, *_ in rows[-1][2])
    assert all(share == 0 for _, share, _ in rows)

    # a TPP cap above its parents' (the bandwidth cap binds): Nvidia's first licensed product keeps the
    # B200's TPP; a newer parent would soon give a better part to the same caps, but the caps are answered on
    # the licensed track (whatever the China-part track answered since) and its part beats the best domestic
    # chip, so the second comes only once the best domestic chip has passed the first
    caps = (60_000.0, threshold[1])
    lead, margin = PARAMS_BY_NAME["design_lead_quarters"].default, PARAMS_BY_NAME["design_margin"].default

    def above(r):
        nvidia = maker(r, "Nvidia")
        better = nvidia.part_under_caps(caps, nvidia.parent_chip())[2]
        return r.quarter, nvidia.best_domestic_perf(), better, [
            (c.designed_to, c.track, c.release, c.perf, c.tpp, c.mem_bw_gbs)
            for c in nvidia.chips if c.generated and c.designed_to is not None]

    rows = run_reference("design_cap_above_parent", above)
    licensed = [row for row in rows[-1][3] if row[1] == "licensed"]
    assert [to for to, *_ in licensed] == [caps, caps], licensed
    parts = sorted((release, perf, tpp, bw) for _, _, release, perf, tpp, bw in licensed)
    (first_out, first_perf, first_tpp, _), (second_out, *_) = parts
    assert first_out == rows[0][0] + lead and first_tpp < caps[0] * (1 - margin)
    assert all(tpp <= caps[0] * (1 - margin) and bw == pytest.approx(caps[1] * (1 - margin), rel=1e-12)
               for _, _, tpp, bw in parts)
    designed = second_out - lead
    assert any(better > first_perf for q, _, better, _ in rows if first_out <= q < designed), rows
    assert all(domestic < first_perf for q, domestic, *_ in rows if q < designed)
    assert next(domestic for q, domestic, *_ in rows if q == designed) > first_perf

    # design_to_rule off: no slot is ever filled
    rows = run_reference("design_off", slots)
    assert all(caps is None and not is_out for _, _, row in rows for _, _, caps, is_out, *_ in row)
    assert all(share == 0 for _, share, _ in rows)


def test_every_ledger_channel_is_exercised():
    """The ledger's channels carry compute in the cases (otherwise the comparison of its reporters is
    0 = 0): bought before the start, sold legally, smuggled and bought abroad; and a replay from 2023Q1
    draws its first budgets on the pre-2025 path (history_growth), not the forward one."""
    # Beijing open to licensed H200s (by default, under restrict, no US chip sells legally in 2026)
    rows = run_reference("volume_cap_binding", lambda r: dict(r.reported), steps=4)
    for name in ("us_share_legal", "us_share_legacy", "us_share_grey", "us_share_new_grey", "grey_units",
                 "offshore_compute_h100e", "china_to_us_compute_ratio", "frontier_gap"):
        assert rows[0][name] > 0, name
    first = run_reference("replay_2023_h20_stock", lambda r: r.reported["budget_usd"], steps=1)[0]
    same_growth = run_reference("replay_2023_h20_stock", lambda r: r.reported["budget_usd"], steps=1,
                                history_growth=PARAMS_BY_NAME["demand_growth"].default)[0]
    assert first != pytest.approx(same_growth, rel=1e-3)


def test_renting_abroad_is_a_flow():
    """Spending abroad is split: ``offshore_owned_share`` buys the frontier chip (a stock), the rest rents
    it for the quarter at the 2026 price per H100e-hour x 2191.5 hours x its FLOP-based H100e, halving
    every ``us_flop_per_usd_doubling_years``. The rented channel holds only this quarter's units, and rented
    compute counts in the developers' own shares (their pull) the quarter after, as owned compute does."""
    def record(r):
        f = r.frontier_chip
        return {"quarter": r.quarter, "chip": f, "rep": dict(r.reported),
                "owned_units": sum(c.units["offshore"] for c in r.chips),
                "owned_compute": ledger_compute(r, "offshore"),
                "rented_units": sum(c.units["rented"] for c in r.chips),
                "rented_new": sum(c.new_units["rented"] for c in r.chips),
                "rented_elsewhere": sum(c.units["rented"] for c in r.chips if c is not f),
                "owned_h100e": sum(sum(d.installed_offshore) for d in r.developers),
                "rented_h100e": sum(sum(d.rented_offshore) for d in r.developers),
                "spent": sum(d.offshore for d in r.developers),
                "params": (r.offshore_rent_usd_per_h100e_hour, r.us_flop_per_usd_doubling_years,
                           r.offshore_owned_share, r.offshore_cost_premium)}

    for case in ("offshore_rent_only_ban", "offshore_owned_only_ban", "offshore_rent_dear_replay"):
        rows = run_reference(case, record, n=60)
        assert all(row["spent"] > 0 for row in rows), case
        for row in rows:
            f, rep = row["chip"], row["rep"]
            price, doubling, owned_share, _ = row["params"]
            years = (row["quarter"] - parse_quarter("2026Q1")) / 4.0
            rent = price * 2191.5 * f.flop_h100e * 2.0 ** (-years / doubling)
            rented_usd = row["spent"] * (1.0 - owned_share)
            # the rented channel is this quarter's rentals, all of the frontier chip; nothing carries over
            assert row["rented_units"] == row["rented_new"] and row["rented_elsewhere"] == 0.0, case
            assert row["rented_units"] == pytest.approx(rented_usd / rent, rel=1e-9, abs=1e-9), case
            assert row["rented_h100e"] == pytest.approx(rented_usd / rent * f.perf, rel=1e-9, abs=1e-9), case
            # compute abroad: owned (a stock of past frontier chips) plus this quarter's rentals
            assert rep["offshore_compute_h100e"] == pytest.approx(
                row["owned_compute"] + row["rented_units"] * f.flop_h100e, rel=1e-12), case
        if case == "offshore_rent_only_ban":
            assert all(row["owned_units"] == 0 and row["owned_h100e"] == 0 for row in rows)
            assert all(row["rented_units"] > 0 for row in rows)
        if case == "offshore_owned_only_ban":
            assert all(row["rented_units"] == 0 and row["rented_h100e"] == 0 for row in rows)
            first = rows[0]  # no stock before: the first quarter's chips at the price plus the premium
            assert first["owned_units"] == pytest.approx(
                first["spent"] / (first["chip"].price_usd * (1 + first["params"][3])), rel=1e-9)
        if case == "offshore_rent_dear_replay":  # both halves, from before 2026 (rent above its 2026 level)
            assert rows[0]["quarter"] < parse_quarter("2026Q1")
            assert all(row["owned_units"] > 0 and row["rented_units"] > 0 for row in rows)

    # renting only spends what owning only spends in the first quarter (the budget split is unchanged),
    # for other compute abroad
    rent_only = run_reference("offshore_rent_only_ban", record, n=60, steps=1)[0]
    owned_only = run_reference("offshore_owned_only_ban", record, n=60, steps=1)[0]
    assert rent_only["spent"] == pytest.approx(owned_only["spent"], rel=1e-12)
    assert rent_only["rep"]["offshore_compute_h100e"] != pytest.approx(
        owned_only["rep"]["offshore_compute_h100e"], rel=1e-3)

    # renting only, then the offshore rule closes the channel: while it is open each developer's own
    # shares (observed at the start of a quarter) count what it rented the quarter before; once spending
    # abroad stops the rented channel and the developers' rented compute are 0 (nothing carries over)
    def state(r):
        return (r.quarter, r.reported["spent_offshore_usd"], ledger_compute(r, "rented"),
                [(list(d.own), list(d.installed), list(d.installed_offshore), list(d.rented_offshore))
                 for d in r.developers])

    rule = parse_quarter("2026Q3")
    rows = run_reference("offshore_rent_only_ban", state, n=60, steps=5, offshore_rule_quarter="2026Q3",
                         offshore_open_after_rule=0.0)
    ecosystem = [mk.ecosystem for mk in ReferenceModel(rng=1, n_developers=2).makers]
    for q, spent, rented, devs in rows:
        pulled = sum(sum(rent) for *_, rent in devs)
        assert (spent > 0 and rented > 0 and pulled > 0) if q < rule else (spent == rented == pulled == 0), q
    counted = 0
    for (_, _, _, before), (_, _, _, after) in zip(rows, rows[1:]):
        for (_, here, owned, rent), (own, *_) in zip(before, after):
            by_eco = [0.0, 0.0, 0.0]
            for k, e in enumerate(ecosystem):
                by_eco[e] += here[k] + owned[k] + rent[k]
            total = sum(by_eco)
            assert own == pytest.approx([x / total for x in by_eco] if total else [0.0] * 3, rel=1e-12)
            counted += any(rent)
    assert counted > 0


def levels_by_quarter(m) -> dict:
    """{quarter label: {chip: level}} of a model's or the reference's Beijing decisions (warm start
    included): each product's level from the quarter of a decision on it until the next."""
    out: dict = {}
    for decision in m.china_government.decisions:
        quarter, chip, level = decision[:3]
        out.setdefault(quarter, {})[chip] = level
    return out


@pytest.mark.parametrize("case", BEIJING_CASES)
def test_beijing_decides_the_same_product_by_product(case):
    """Beijing's decisions in the reference and the model: the same (quarter, product, level), warm start
    included, the same approved developers and the same guidance, quarter by quarter."""
    fast, ref = both(3, 120, CASES[case])
    assert [d[:3] for d in fast.china_government.decisions] == ref.china_government.decisions
    dev = fast.developers
    for _ in range(STEPS):
        fast.step()
        ref.step()
        assert [d[:3] for d in fast.china_government.decisions] == ref.china_government.decisions
        assert fast.china_government.guidance_on == ref.china_government.guidance_on, fast.quarter_label
        approved = fast.china_government.approved(dev.base_demand, dev.state_affiliated, dev.licensed,
                                                  dev.china_approved)
        assert [d.beijing_approved for d in ref.developers] == approved.tolist(), fast.quarter_label


def test_beijing_decides_in_its_cases():
    """The cases for Beijing's rule really exercise it (otherwise the comparison proves little): the model's
    Beijing reaches each level by each way the rule has (guided when matched, guided or blocked by
    precedent, held, held then approval or guidance, approval then guidance, guided then blocked), each
    step from a hold or guidance exactly china_review_quarters after it; and in the reference only
    developers Beijing approved (the largest private ones, never state-affiliated) may buy a US product
    that needs approval, nobody one that is guided, held or blocked, and approved developers buy some."""
    expected = {
        "beijing_decides": {("open", "guided"), ("guided", "blocked"), ("precedent", "blocked"),
                            ("open", "held"), ("held", "approval")},
        "beijing_decides_replay_2022": {("open", "guided"), ("precedent", "guided"), ("guided", "blocked"),
                                        ("open", "held"), ("held", "approval")},
        "beijing_decides_slow_review_no_mandate": {("open", "guided"), ("precedent", "guided"),
                                                   ("guided", "blocked"), ("held", "approval")},
        "beijing_decides_domestic_matches": {("held", "guided"), ("approval", "guided"),
                                             ("guided", "blocked"), ("held", "approval")},
    }
    assert sorted(expected) == BEIJING_CASES
    seed, n = 7, 200  # the second setting of the comparison: one developer approved (the largest private)
    bought = {}  # case -> units of US products that need approval sold, over the run
    for case, ways in expected.items():
        fast = ChipMarketModel(rng=seed, n_developers=n, **CASES[case])
        for _ in range(STEPS):
            fast.step()
        k = CASES[case].get("china_review_quarters", 1)
        seen, level, since = set(), {}, {}
        for quarter, chip, new, reason in fast.china_government.decisions:
            old = "precedent" if reason.startswith("no better") else level.get(chip, "open")
            seen.add((old, new))
            if old in ("held", "guided"):
                assert parse_quarter(quarter) - since[chip] == k, (case, chip, quarter)
            level[chip], since[chip] = new, parse_quarter(quarter)
        assert ways <= seen, (case, seen)

        def record(r):
            us = [c for c in r.chips_on_sale if c.is_us]
            levels = {c.name: r.china_government.level.get(c, "open") for c in us}
            menus = [(d.state_affiliated, d.beijing_approved, [levels[c.name] for c in d.menu if c.is_us])
                     for d in r.developers]
            sold = {}
            for c in us:
                if c.units_sold > 0:
                    sold[levels[c.name]] = sold.get(levels[c.name], 0.0) + c.units_sold
            return menus, sold

        rows = run_reference(case, record, seed=seed, n=n)
        for menus, sold in rows:
            for state, approved, levels in menus:
                assert set(levels) <= ({"open", "approval"} if approved and not state else {"open"}), case
            assert set(sold) <= {"open", "approval"}, case
        assert any(not state and approved for state, approved, _ in rows[0][0]), case
        bought[case] = sum(sold.get("approval", 0.0) for _, sold in rows)
    assert bought["beijing_decides_replay_2022"] > 0 and bought["beijing_decides_domestic_matches"] > 0, (
        bought)


def line_states(model) -> dict:
    """{chip: (line, quarter it restarts or None, China stock, quarter it entered the licence pipeline or
    None)} of the model's US products, from its makers' and Washington's arrays."""
    cat, us = model.catalogue, model.us_government
    out = {}
    for mk in model.chipmakers:
        if mk.is_domestic:
            continue
        for k, j in enumerate(range(mk.rows.start, mk.rows.stop)):
            line = "running" if mk.running[k] else "halted" if mk.halted[k] else "idle"
            restart = int(mk.restart_at[k]) if line == "halted" and mk.restart_at[k] != NEVER else None
            since = int(us.licensable_since[j]) if us.licensable_since[j] != NEVER else None
            out[cat.names[j]] = (line, restart, float(model.supply.stock[j]), since)
    return out


def reference_line_states(ref) -> dict:
    """The same from the reference's chips and its US government's pipeline."""
    return {c.name: (c.line, c.restart_at if c.line == "halted" else None, c.china_stock,
                     ref.us_government.pipeline_since.get(c))
            for c in ref.chips if c.is_us}


@pytest.mark.parametrize("case", LINE_CASES)
def test_lines_and_pipeline_the_same_product_by_product(case):
    """US makers' China lines (running, halted with the quarter it restarts, idle), their China stocks and
    the quarter each product entered Washington's licence pipeline: the same in the reference and the
    model, at the start and after every quarter."""
    fast, ref = both(3, 120, CASES[case])
    assert reference_line_states(ref) == line_states(fast)
    for _ in range(STEPS):
        fast.step()
        ref.step()
        mine, theirs = reference_line_states(ref), line_states(fast)
        for chip, (line, restart, stock, since) in theirs.items():
            assert mine[chip][:2] == (line, restart) and mine[chip][3] == since, (
                case, fast.quarter_label, chip, mine[chip], theirs[chip])
            assert mine[chip][2] == pytest.approx(stock, rel=1e-9, abs=1e-6), (case, fast.quarter_label, chip)


def line_history(case: str, seed: int = 7, n: int = 100) -> list:
    """The reference's US products quarter by quarter, the state at the start first: (quarter, {chip:
    (line, China stock, made for China this quarter, units sold, licensed under the rule, reaches licensed
    buyers, quarter it entered the pipeline, China part, Beijing stops it)})."""
    _, ref = both(seed, n, CASES[case])
    us = ref.us_government

    def record():
        return ref.quarter, {c.name: (c.line, c.china_stock, c.china_production, c.units_sold,
                                      us.may_export(c, ref.quarter)[1], c.to_licensed,
                                      us.pipeline_since.get(c), c.china_part, ref.china_government.stops(c))
                             for c in ref.chips if c.is_us}

    rows = [record()]
    for _ in range(STEPS):
        ref.step()
        rows.append(record())
    return rows


def test_lines_and_pipeline_in_their_cases():
    """The cases for the licence pipeline and the makers' China lines really exercise them (otherwise the
    comparison proves little): products wait in the pipeline exactly us_licence_lead_quarters and sell
    nothing to licensed buyers meanwhile; lines halt (a licensed product's stock goes to other buyers, a
    China part's stays), one of them because Beijing stops the product; halted lines restart
    maker_restart_quarters after they may run again; and with the levy above both makers' gross margins (and
    the China parts blocked by Beijing) no line runs and no US chip sells."""
    lead = LINES_AND_PIPELINE["us_licence_lead_quarters"]
    wait = PARAMS_BY_NAME["maker_restart_quarters"].default
    history = {case: line_history(case) for case in LINE_CASES}
    halts, restarts, waited = [], [], set()
    for case, rows in history.items():
        for (_, before), (q, after) in zip(rows, rows[1:]):
            for chip, (line, stock, _, sold, by_rule, delivered, since, china_part, stops) in after.items():
                was, stock_before, made_before = before[chip][:3]
                # the pipeline: licensed by the rule, a product reaches licensed buyers lead quarters after
                # it entered, and no licensed buyer gets it before
                assert (since is not None) == by_rule, (case, q, chip)
                if by_rule:
                    assert delivered == (q - since >= lead), (case, q, chip)
                    if not delivered:
                        waited.add((case, chip))
                if was == "running" and line == "halted":
                    # released (a licensed product), or kept: what was there, what arrived, less what sold
                    kept = stock_before + made_before - sold
                    assert stock == (pytest.approx(kept, abs=1e-6) if china_part else 0.0), (case, q, chip)
                    halts.append((case, q, chip, china_part, stock_before + made_before, stops))
                if was == "halted" and line == "running":
                    restarts.append((case, q, chip))
        names = {chip for _, states in rows for chip, state in states.items()
                 if state[4] and not state[5] and state[3] > 0}
        assert not names, (case, names)  # nothing licensed sold while it waits
    assert {case for case, _ in waited} == set(LINE_CASES), waited
    assert {("lines_pipeline_decides", "H200"), ("lines_pipeline_restrict", "NvidiaDesign1"),
            ("lines_pipeline_replay_2022", "MI325X")} <= waited
    q = parse_quarter
    # a licensed product's stock goes: the H200's 700k when the levy eats the margin or the US bans it;
    # a China part's stays (the H20's and the MI308's, the A800's and H800's planning their last quarter)
    released = {(case, chip) for case, _, chip, part, stock, _ in halts if not part and stock > 0}
    assert {("lines_pipeline_levy_80", "H200"), ("lines_pipeline_lost_year", "H200")} <= released, halts
    kept = {(case, chip) for case, _, chip, part, stock, _ in halts if part and stock > 0}
    assert {("lines_pipeline_replay_2022", chip) for chip in ("H20", "MI308", "H800")} <= kept, halts
    # Beijing guides buyers away from or blocks a running product: its line halts
    assert any(stops for *_, stops in halts), halts
    # the H20's line halts in 2025Q1, planning 2025Q2 (its end of production: the Apr 2025 licence rule)
    assert ("lines_pipeline_replay_2022", q("2025Q1"), "H20") in {h[:3] for h in halts}, halts
    # restarts, maker_restart_quarters after the line may run again: the H200 after the lost year; in the
    # replay nothing restarts (unreleased products start idle and launch when they may be sold)
    assert ("lines_pipeline_lost_year", q("2027Q1") + wait, "H200") in set(restarts), restarts
    assert not [r for r in restarts if r[0] == "lines_pipeline_replay_2022"], restarts
    # no line pays at a levy of 80%: none runs after the first quarter, and no US chip sells
    rows = history["lines_pipeline_levy_80"]
    assert rows[0][1]["H200"][0] == "running" and rows[1][1]["H200"][0] == "halted"
    assert all(state[0] != "running" and state[3] == 0 for _, states in rows[1:] for state in states.values())


def test_beijing_sets_a_pairing_quota_when_domestic_buyers_leave_output_unsold():
    """The pairing case exercises Beijing's pairing rule in both models: a quota appears after the first
    quarter (domestic demand is low: buyers leave output unsold) and every quarter in which Beijing approves
    a US product it equals beijing_pairing_max x the share of the domestic makers' output not bought
    directly by domestic buyers the quarter before; the reference's quota is the model's."""
    fast, ref = both(1, 100, CASES["beijing_pairs"])
    ratios = []
    for _ in range(8):
        gov = fast.china_government
        makers = [mk for mk in fast.chipmakers if mk.is_domestic]
        capacity = sum(mk.capacity for mk in makers)
        bundled = 0.0 if gov.pairing is None else float((gov.pairing.units * fast.chips_sold).sum())
        direct = float(fast.chips_sold[~fast.catalogue.is_us].sum()) - bundled
        first = fast.steps == 0
        fast.step()
        ref.step()
        approving = bool((fast.catalogue.is_us & (gov.levels == APPROVAL)).any())  # this quarter's levels
        expected = (0.0 if first or not approving
                    else fast.p.beijing_pairing_max * max(0.0, 1.0 - direct / capacity))
        assert gov.pairing_ratio == pytest.approx(expected, rel=1e-9, abs=1e-12)
        assert ref.china_government.pairing_ratio == pytest.approx(gov.pairing_ratio, rel=1e-9, abs=1e-12)
        ratios.append(gov.pairing_ratio)
    assert ratios[0] == 0.0 and min(ratios[1:]) > 0.2
